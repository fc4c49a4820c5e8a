//! Readiness: whether this gateway should receive traffic. Not while shutting down, and not
//! while a route's server refuses connections (a load balancer then sends clients elsewhere).

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use http::StatusCode;
use serde_json::{Value, json};

use crate::upstream::Target;

/// How long a readiness probe waits for each server's connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) struct Readiness {
    upstreams: RwLock<Vec<Target>>,
    stopping: AtomicBool,
}

impl Readiness {
    pub(crate) fn new(upstreams: Vec<Target>) -> Self {
        Self {
            upstreams: RwLock::new(upstreams),
            stopping: AtomicBool::new(false),
        }
    }

    pub(crate) fn set_upstreams(&self, upstreams: Vec<Target>) {
        *self.upstreams.write().unwrap_or_else(|p| p.into_inner()) = upstreams;
    }

    pub(crate) fn shutting_down(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// 200 when every server accepts a connection, else 503 naming the ones that do not.
    pub(crate) async fn report(&self) -> (StatusCode, Json<Value>) {
        if self.stopping.load(Ordering::Relaxed) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "ready": false, "reason": "shutting down" })),
            );
        }
        let targets = self
            .upstreams
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut unreachable = Vec::new();
        for target in targets {
            let connect = tokio::net::TcpStream::connect(target.authority.as_str());
            if !matches!(
                tokio::time::timeout(PROBE_TIMEOUT, connect).await,
                Ok(Ok(_))
            ) {
                unreachable.push(target.url);
            }
        }
        if unreachable.is_empty() {
            (StatusCode::OK, Json(json!({ "ready": true })))
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "ready": false, "unreachable": unreachable })),
            )
        }
    }
}
