//! Per-issuer key state: discovery, JWKS fetches, single-flight and rate-limited refreshes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mcp_auth_fetch::{FetchError, Fetcher};
use serde_json::Value;

use crate::config::{IssuerConfig, KeySource};
use crate::jwks::{VerificationKey, parse_jwks};

/// Bounds on how long a fetched JWKS is considered fresh.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Freshness {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    pub(crate) default: Duration,
}

pub(crate) struct IssuerState {
    pub(crate) config: IssuerConfig,
    /// The JWKS URL, once known (configured, or found by discovery).
    jwks_uri: Mutex<Option<String>>,
    /// Serialises refreshes: one fetch at a time, later callers wait and reuse its result.
    pub(crate) refresh_gate: tokio::sync::Mutex<()>,
    /// Milliseconds since `epoch` of the last fetch attempt, plus one (0 = never).
    last_attempt: AtomicU64,
    epoch: Instant,
}

pub(crate) struct Fetched {
    pub(crate) keys: Vec<VerificationKey>,
    pub(crate) skipped: Vec<String>,
    pub(crate) fresh_for: Duration,
}

impl IssuerState {
    pub(crate) fn new(config: IssuerConfig, epoch: Instant) -> Self {
        let jwks_uri = match &config.keys {
            KeySource::JwksUri(uri) => Some(uri.clone()),
            _ => None,
        };
        Self {
            config,
            jwks_uri: Mutex::new(jwks_uri),
            refresh_gate: tokio::sync::Mutex::new(()),
            last_attempt: AtomicU64::new(0),
            epoch,
        }
    }

    /// True when the keys come from the network.
    pub(crate) fn is_remote(&self) -> bool {
        matches!(
            self.config.keys,
            KeySource::Discovery | KeySource::JwksUri(_)
        )
    }

    /// Time until another fetch is allowed (zero when it is allowed now).
    pub(crate) fn refresh_wait(&self, interval: Duration) -> Duration {
        if !self.is_remote() {
            return Duration::MAX;
        }
        let last = self.last_attempt.load(Ordering::Acquire);
        if last == 0 {
            return Duration::ZERO;
        }
        let since = self
            .epoch
            .elapsed()
            .saturating_sub(Duration::from_millis(last - 1));
        interval.saturating_sub(since)
    }

    /// True when waiting for keys is worth it: a fetch is allowed now, or one is under way.
    pub(crate) fn may_fetch_now(&self, interval: Duration) -> bool {
        self.refresh_wait(interval).is_zero() || self.refresh_gate.try_lock().is_err()
    }

    pub(crate) fn mark_attempt(&self) {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        self.last_attempt.store(now, Ordering::Release);
    }

    /// Fetches the issuer's JWKS (discovering its URL first if needed).
    pub(crate) async fn fetch(
        &self,
        fetcher: &Fetcher,
        freshness: Freshness,
    ) -> Result<Fetched, String> {
        let uri = match self.known_jwks_uri() {
            Some(uri) => uri,
            None => {
                let uri = discover(fetcher, &self.config.issuer).await?;
                *self.jwks_uri.lock().expect("jwks_uri") = Some(uri.clone());
                uri
            }
        };
        let result = fetcher.get_json::<Value>(&uri).await;
        let (document, response) = match result {
            Ok(ok) => ok,
            Err(e) => {
                if matches!(self.config.keys, KeySource::Discovery)
                    && matches!(
                        e,
                        FetchError::Status {
                            status: 404 | 410,
                            ..
                        }
                    )
                {
                    // The issuer may have moved its JWKS: discover again next time.
                    *self.jwks_uri.lock().expect("jwks_uri") = None;
                }
                return Err(e.to_string());
            }
        };
        let (keys, skipped) = parse_jwks(&document).map_err(|e| format!("`{uri}`: {e}"))?;
        if keys.is_empty() {
            return Err(format!(
                "`{uri}` holds no usable signing key ({})",
                skipped.join("; ")
            ));
        }
        let fresh_for = response.freshness(freshness.min, freshness.max, freshness.default);
        Ok(Fetched {
            keys,
            skipped,
            fresh_for,
        })
    }

    fn known_jwks_uri(&self) -> Option<String> {
        self.jwks_uri.lock().expect("jwks_uri").clone()
    }
}

/// Finds the issuer's `jwks_uri` in its metadata (the document's `issuer` must equal ours).
pub(crate) async fn discover(fetcher: &Fetcher, issuer: &str) -> Result<String, String> {
    let found = mcp_auth_fetch::discovery::discover(fetcher, issuer)
        .await
        .map_err(|e| e.to_string())?;
    match found.text("jwks_uri") {
        Some(uri) => Ok(uri.to_owned()),
        None => Err(format!("`{}` has no `jwks_uri`", found.url)),
    }
}
