//! A real `redis-server` (from the system's packages) on 127.0.0.1, for tests of shared state.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long a starting server may take to say it is ready.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A `redis-server` process on 127.0.0.1 with nothing persisted, stopped when dropped. It can be
/// stopped and started again on the same port, to test what replicas do while Redis is away.
///
/// ```no_run
/// # async fn demo() {
/// let redis = mcp_auth_testing::RedisServer::start().await;
/// let url = redis.url(); // redis://127.0.0.1:PORT/
/// redis.stop().await;     // Redis is away ...
/// redis.restart().await;  // ... and back, empty.
/// # let _ = url;
/// # }
/// ```
pub struct RedisServer {
    port: u16,
    child: tokio::sync::Mutex<Option<Child>>,
}

impl RedisServer {
    /// Starts `redis-server` on a free port of 127.0.0.1 and waits until it accepts commands.
    ///
    /// # Panics
    /// When `redis-server` is not installed (the test command installs it) or does not start.
    pub async fn start() -> Self {
        // redis-server has no "any free port" option: a port the kernel just handed out and
        // released is used; if another process takes it first, the next one is tried.
        let mut last = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            match spawn(port).await {
                Ok(child) => {
                    return Self {
                        port,
                        child: tokio::sync::Mutex::new(Some(child)),
                    };
                }
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (SIGKILL: an outage, not a shutdown) and waits until it is gone.
    pub async fn stop(&self) {
        if let Some(mut child) = self.child.lock().await.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port, empty, and waits until it accepts commands.
    ///
    /// # Panics
    /// When it does not start.
    pub async fn restart(&self) {
        self.stop().await;
        let child = spawn(self.port)
            .await
            .unwrap_or_else(|e| panic!("redis-server did not restart: {e}"));
        *self.child.lock().await = Some(child);
    }

    /// Sends one command (inline protocol) and returns the raw reply, for assertions on what
    /// is stored without a client library.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn command(&self, words: &[&str]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("redis-server is reachable");
        let mut request = format!("*{}\r\n", words.len());
        for word in words {
            request.push_str(&format!("${}\r\n{word}\r\n", word.len()));
        }
        request.push_str("*1\r\n$4\r\nQUIT\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.expect("read");
        reply
            .strip_suffix("+OK\r\n")
            .map(str::to_owned)
            .unwrap_or(reply)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.get_mut().as_mut() {
            let _ = child.start_kill();
        }
    }
}

async fn spawn(port: u16) -> Result<Child, String> {
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run redis-server (install the redis-server package): {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(READY_WITHIN, async {
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("Ready to accept connections") {
                return Ok(());
            }
            seen.push(line);
        }
        Err(seen.join("\n"))
    })
    .await;
    match ready {
        Ok(Ok(())) => {
            // Keep draining its log so that the server never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            Ok(child)
        }
        Ok(Err(log)) => {
            let _ = child.kill().await;
            Err(format!("redis-server exited on port {port}: {log}"))
        }
        Err(_) => {
            let _ = child.kill().await;
            Err(format!(
                "redis-server was not ready within {READY_WITHIN:?}"
            ))
        }
    }
}
