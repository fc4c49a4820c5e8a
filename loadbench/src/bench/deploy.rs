//! What one configuration runs on the server core: a `loadbench-server`, or for the proxy
//! comparison the upstream (`loadbench-server --config upstream-direct`) and a proxy in front of
//! it (the gateway in process in another `loadbench-server`, or nginx), both pinned to core 0.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::BoxError;
use super::nginx::NginxProcess;
use super::server_proc::{ServerProcess, ServerSpec};
use crate::{Config, Proxy, ServerStats};

/// The processes serving one configuration.
pub(crate) struct Deployment {
    /// The process whose handler answers and counts every request (`/stats`).
    pub(crate) server: ServerProcess,
    /// The proxy wrk loads instead, when the configuration has one.
    front: Option<Front>,
}

enum Front {
    /// A `loadbench-server` proxying (the gateway, hyper-proxy).
    InProcess(ServerProcess),
    Nginx(NginxProcess),
}

impl Deployment {
    /// Starts `spec.config`: its server, or the upstream then the proxy in front of it (which
    /// gets `spec`'s audit file and wrapper, so a profiler wraps the proxy).
    pub(crate) async fn start(ctx: &super::Context, spec: &ServerSpec) -> Result<Self, BoxError> {
        let Some(proxy) = spec.config.proxy() else {
            let server = ServerProcess::start(&ctx.server_binary, spec).await?;
            return Ok(Self {
                server,
                front: None,
            });
        };
        let upstream = ServerSpec {
            config: Config::UpstreamDirect,
            audit_file: None,
            upstream: None,
            wrapper: Vec::new(),
            ..spec.clone()
        };
        let server = ServerProcess::start(&ctx.server_binary, &upstream).await?;
        let front = match proxy {
            Proxy::Gateway | Proxy::Hyper => {
                let gateway = ServerSpec {
                    upstream: Some(server.mcp_url()),
                    ..spec.clone()
                };
                ServerProcess::start(&ctx.server_binary, &gateway)
                    .await
                    .map(Front::InProcess)
            }
            Proxy::Nginx => {
                let n = NGINX_DIRS.fetch_add(1, Ordering::Relaxed);
                let dir = ctx.tmp.join(format!("nginx-{n}"));
                NginxProcess::start(&dir, server.addr)
                    .await
                    .map(Front::Nginx)
            }
        };
        match front {
            Ok(front) => Ok(Self {
                server,
                front: Some(front),
            }),
            Err(e) => {
                server.stop().await;
                Err(e)
            }
        }
    }

    /// The MCP endpoint wrk loads: the proxy's, or the server's.
    pub(crate) fn mcp_url(&self) -> String {
        match &self.front {
            None => self.server.mcp_url(),
            Some(Front::InProcess(gateway)) => gateway.mcp_url(),
            Some(Front::Nginx(nginx)) => nginx.mcp_url(),
        }
    }

    /// Every process on the server core (server, proxy and its workers).
    pub(crate) fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.server.pid];
        pids.extend(self.proxy_pids());
        pids
    }

    /// The proxy's processes (none without a proxy).
    pub(crate) fn proxy_pids(&self) -> Vec<u32> {
        match &self.front {
            None => Vec::new(),
            Some(Front::InProcess(gateway)) => vec![gateway.pid],
            Some(Front::Nginx(nginx)) => nginx.pids(),
        }
    }

    /// The processes a profiler looks at: the proxy's when there is one, else the server.
    pub(crate) fn profiled_pids(&self) -> Vec<u32> {
        match &self.front {
            None => vec![self.server.pid],
            Some(_) => self.proxy_pids(),
        }
    }

    /// The handler's counters (the upstream's, behind a proxy).
    pub(crate) async fn stats(&self, client: &reqwest::Client) -> Result<ServerStats, BoxError> {
        self.server.stats(client).await
    }

    /// Stops everything: the proxy first, then the server.
    pub(crate) async fn stop(self) {
        match self.front {
            None => {}
            Some(Front::InProcess(gateway)) => gateway.stop().await,
            Some(Front::Nginx(nginx)) => nginx.stop().await,
        }
        self.server.stop().await;
    }

    /// Asks the process wrapped by the profiler to end (SIGTERM) and waits for it (at most
    /// `timeout`); stops the rest.
    pub(crate) async fn terminate(self, timeout: Duration) {
        match self.front {
            None => self.server.terminate(timeout).await,
            Some(Front::InProcess(gateway)) => {
                gateway.terminate(timeout).await;
                self.server.stop().await;
            }
            Some(Front::Nginx(nginx)) => {
                nginx.stop().await;
                self.server.stop().await;
            }
        }
    }
}

/// Numbers nginx's scratch directories, one per start.
static NGINX_DIRS: AtomicU64 = AtomicU64::new(0);
