//! A `loadbench-server` child process pinned to the server core.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use super::BoxError;
use crate::{Config, MCP_PATH, ServerStats};

/// The core the server runs on.
pub(crate) const SERVER_CORE: &str = "0";

/// How to start one server.
#[derive(Clone, Debug)]
pub(crate) struct ServerSpec {
    pub(crate) config: Config,
    pub(crate) issuer: String,
    pub(crate) jwks_uri: String,
    pub(crate) audit_file: Option<PathBuf>,
    pub(crate) token_cache: Option<usize>,
    pub(crate) refresh_interval: Option<Duration>,
    pub(crate) observe_cache: bool,
    /// The Redis URL, for `stack-redis`.
    pub(crate) redis: Option<String>,
    /// The MCP endpoint the gateway forwards to, for `gateway`.
    pub(crate) upstream: Option<String>,
    /// A command the server runs under (e.g. valgrind), between taskset and the binary.
    pub(crate) wrapper: Vec<String>,
}

/// A running server.
pub(crate) struct ServerProcess {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub(crate) pid: u32,
    pub(crate) addr: SocketAddr,
}

impl ServerProcess {
    /// Starts the server binary under `taskset -c 0` and waits for its `listening` line.
    pub(crate) async fn start(binary: &Path, spec: &ServerSpec) -> Result<Self, BoxError> {
        let mut command = Command::new("taskset");
        command
            .args(["-c", SERVER_CORE])
            .args(&spec.wrapper)
            .arg(binary)
            .args(["--config", spec.config.name()])
            .args(["--listen", "127.0.0.1:0"])
            .args(["--issuer", &spec.issuer])
            .args(["--jwks-uri", &spec.jwks_uri]);
        if let Some(path) = &spec.audit_file {
            command.arg("--audit-file").arg(path);
        }
        if let Some(n) = spec.token_cache {
            command.args(["--token-cache", &n.to_string()]);
        }
        if let Some(d) = spec.refresh_interval {
            command.args(["--refresh-interval-ms", &d.as_millis().to_string()]);
        }
        if spec.observe_cache {
            command.arg("--observe-cache");
        }
        if let Some(url) = &spec.redis {
            command.args(["--redis", url]);
        }
        if let Some(url) = &spec.upstream {
            command.args(["--upstream", url]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        // taskset execs the server, so the child's pid is the server's.
        let pid = child.id().ok_or("server exited at once")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(120), stdout.read_line(&mut line))
            .await
            .map_err(|_| format!("{} did not start within 120 s", spec.config.name()))??;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .filter(|_| read > 0)
            .ok_or_else(|| format!("{} failed to start: {line:?}", spec.config.name()))?
            .parse()?;
        Ok(Self {
            child,
            _stdout: stdout,
            pid,
            addr,
        })
    }

    /// The MCP endpoint.
    pub(crate) fn mcp_url(&self) -> String {
        format!("http://{}{MCP_PATH}", self.addr)
    }

    /// The handler's counters.
    pub(crate) async fn stats(&self, client: &reqwest::Client) -> Result<ServerStats, BoxError> {
        let url = format!("http://{}/stats", self.addr);
        let body = client
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// Kills the server and reaps it.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    /// Asks the server to end (SIGTERM) and waits for it (at most `timeout`, then kills it).
    pub(crate) async fn terminate(mut self, timeout: Duration) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        if tokio::time::timeout(timeout, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
