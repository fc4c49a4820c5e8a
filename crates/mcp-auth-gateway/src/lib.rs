//! `mcp-auth-gateway`: the mcp-auth layers in front of an MCP server written in any language.
//!
//! A reverse proxy whose every route is the facade's whole stack (verification, client
//! identity, scopes, policies, token exchange, audit) around a hyper client that forwards to
//! the server behind it: Streamable HTTP in both directions (JSON answers, SSE streamed event by
//! event, the GET stream, `DELETE` of a session, the `Mcp-*` headers), with the client's token
//! never passed on. What the server receives instead is chosen per route: nothing, a static
//! header, a token exchanged for the server's own audience, or a short-lived identity assertion
//! the gateway signs and publishes the key for.
//!
//! The binary (`mcp-auth-gateway --listen ADDR --upstream URL --issuer URL [--config FILE]`)
//! is a thin wrapper over [`Gateway::start`]:
//!
//! ```no_run
//! use mcp_auth_gateway::{Gateway, GatewayOptions, Overrides};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let gateway = Gateway::start(GatewayOptions {
//!     listen: "127.0.0.1:8080".parse()?,
//!     config: None,
//!     overrides: Overrides {
//!         upstream: Some("http://127.0.0.1:3000/mcp".into()),
//!         issuer: Some("https://auth.example.com".into()),
//!         ..Overrides::default()
//!     },
//! })
//! .await?;
//! println!("protecting {:?} at http://{}", gateway.resources(), gateway.addr());
//! gateway.wait().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms)]

mod assertion;
mod config;
mod health;
mod proxy;
mod routes;
mod upstream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;

pub use assertion::{IdentityAssertionEntry, IdentityAssertions};
pub use config::{ConfigError, GatewayConfig, GatewayEntry, Overrides, RouteConfig};
pub use upstream::{CredentialsEntry, UpstreamEntry};

use crate::health::Readiness;
use crate::routes::Shared;

/// How to start a gateway.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// The configuration file (the stack's TOML plus `[upstream]`, `[[routes]]`,
    /// `[identity_assertion]`, `[gateway]`). Read again on [`Gateway::reload`].
    pub config: Option<PathBuf>,
    /// What flags set on top of the file. Without a top-level `resource` from either, a given
    /// `--upstream` is served at `http://<listen address>/mcp`.
    pub overrides: Overrides,
}

/// Why a gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The system's reason.
        source: std::io::Error,
    },
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A running gateway. Dropping it stops serving at once; [`shutdown`](Self::shutdown) lets
/// in-flight requests finish first.
pub struct Gateway {
    addr: SocketAddr,
    state: Arc<State>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// What requests and reloads share.
struct State {
    router: RwLock<Router>,
    resources: RwLock<Vec<String>>,
    options: GatewayOptions,
    auditor: Option<mcp_auth::Auditor>,
    assertions: Option<IdentityAssertions>,
    readiness: Readiness,
}

impl Gateway {
    /// Binds, builds every route and starts serving.
    ///
    /// # Errors
    /// The address cannot be bound, or the configuration does not build (the error names the
    /// key and the fix).
    pub async fn start(options: GatewayOptions) -> Result<Self, StartError> {
        let listener =
            TcpListener::bind(options.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: options.listen,
                    source,
                })?;
        Self::start_on(listener, options).await
    }

    /// Like [`start`](Self::start), on a listener bound already (`options.listen` is then
    /// ignored): for a socket handed over by a supervisor, or when the gateway's own URL must
    /// be known before it starts (a server behind it that fetches its JWKS).
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub async fn start_on(
        listener: TcpListener,
        mut options: GatewayOptions,
    ) -> Result<Self, StartError> {
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: options.listen,
            source,
        })?;
        options.listen = addr;
        options.overrides.default_resource = Some(format!("http://{addr}/mcp"));
        let config = GatewayConfig::load(options.config.as_deref(), &options.overrides)?;
        let auditor = match config.audit.clone() {
            Some(entry) => Some(
                entry
                    .start()
                    .map_err(|e| ConfigError::value("audit", e.to_string()))?,
            ),
            None => None,
        };
        let assertions = match &config.identity_assertion {
            Some(entry) => Some(IdentityAssertions::from_entry(
                entry,
                &origin(&config.routes[0].auth.resource),
                &config.base,
            )?),
            None => None,
        };
        let built = routes::build(
            &config,
            &Shared {
                auditor: auditor.as_ref(),
                assertions: assertions.as_ref(),
            },
        )?;
        for layer in &built.layers {
            for (issuer, error) in layer.verifier().warm_up().await {
                tracing::warn!(%issuer, %error, "could not fetch the issuer's keys yet; will retry on demand");
            }
        }
        let resources = resources(&config);
        let readiness = Readiness::new(built.upstreams);
        let state = Arc::new(State {
            router: RwLock::new(built.router),
            resources: RwLock::new(resources),
            options,
            auditor,
            assertions,
            readiness,
        });
        let grace = Duration::from_millis(config.gateway.shutdown_grace_ms.unwrap_or(30_000));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, state.clone(), stopped, grace));
        Ok(Self {
            addr,
            state,
            stop,
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The resource identifiers of its routes (their public URLs), in configuration order.
    pub fn resources(&self) -> Vec<String> {
        self.state
            .resources
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the configuration again and serves it from the next request on: policies,
    /// approvals, scopes, routes. Requests and streams already under way finish with what they
    /// started with; no connection is dropped. A configuration that does not build changes
    /// nothing. `[audit]`, `[identity_assertion]` and `[gateway]` are read at start only.
    ///
    /// # Errors
    /// The new configuration, with the key at fault.
    pub async fn reload(&self) -> Result<(), ConfigError> {
        let state = &self.state;
        let config =
            GatewayConfig::load(state.options.config.as_deref(), &state.options.overrides)?;
        let built = routes::build(
            &config,
            &Shared {
                auditor: state.auditor.as_ref(),
                assertions: state.assertions.as_ref(),
            },
        )?;
        for layer in &built.layers {
            let _ = layer.verifier().warm_up().await;
        }
        state.readiness.set_upstreams(built.upstreams);
        *state.resources.write().unwrap_or_else(|p| p.into_inner()) = resources(&config);
        *state.router.write().unwrap_or_else(|p| p.into_inner()) = built.router;
        tracing::info!(routes = config.routes.len(), "configuration reloaded");
        Ok(())
    }

    /// Stops accepting connections and reports not ready; requests and streams under way may
    /// finish within the grace period (`[gateway] shutdown_grace_ms`). Wait with
    /// [`wait`](Self::wait).
    pub fn shutdown(&self) {
        self.state.readiness.shutting_down();
        let _ = self.stop.send(true);
    }

    /// Waits until the gateway has stopped, then writes the queued audit events.
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(auditor) = self.state.auditor.clone() {
            let _ = tokio::task::spawn_blocking(move || auditor.shutdown()).await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("addr", &self.addr)
            .field("resources", &self.resources())
            .finish_non_exhaustive()
    }
}

fn resources(config: &GatewayConfig) -> Vec<String> {
    config
        .routes
        .iter()
        .map(|r| r.auth.resource.clone())
        .collect()
}

/// `scheme://host[:port]` of a URL (the default issuer of identity assertions).
fn origin(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_owned())
}

async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    mut stopped: watch::Receiver<bool>,
    grace: Duration,
) {
    let health = state.clone();
    // Every request is answered by the router current when it arrives: a reload swaps it for
    // the next requests while those under way keep theirs.
    let dispatch = state.clone();
    let app = Router::new()
        .route(routes::HEALTH, axum::routing::get(|| async { "ok" }))
        .route(
            routes::READY,
            axum::routing::get(move || {
                let health = health.clone();
                async move { health.readiness.report().await }
            }),
        )
        .fallback_service(tower::service_fn(move |request: Request| {
            let router = dispatch
                .router
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            router.oneshot(request)
        }));
    let mut until_stopped = stopped.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = until_stopped.wait_for(|stop| *stop).await;
    });
    tokio::select! {
        result = server => {
            if let Err(error) = result {
                tracing::error!(%error, "the gateway stopped");
            }
        }
        () = async {
            let _ = stopped.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "closing the connections still open after the grace period");
        }
    }
}
