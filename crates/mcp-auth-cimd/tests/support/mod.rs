//! Test kit: a document server on 127.0.0.1 (plain http, or https with a test CA made at run
//! time), counting requests and answering per path. Shared with the CLI crate's tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

pub use mcp_auth_testing::TestCa;

/// A fresh directory under the system temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mcp-auth-cimd-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Holds responses back until opened.
#[derive(Clone)]
pub struct Gate(Arc<watch::Sender<bool>>);

impl Gate {
    pub fn new() -> Gate {
        Gate(Arc::new(watch::channel(false).0))
    }

    pub fn open(&self) {
        self.0.send_replace(true);
    }

    async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }
}

/// One canned response.
#[derive(Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    hang: bool,
    gate: Option<Gate>,
}

impl Reply {
    /// 200 with `application/json`.
    pub fn json(body: &serde_json::Value) -> Reply {
        Reply::raw("application/json", body.to_string().into_bytes())
    }

    /// 200 with any media type.
    pub fn raw(content_type: &str, body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body,
            hang: false,
            gate: None,
        }
    }

    pub fn status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Never answers (the connection stays open).
    pub fn hang(mut self) -> Reply {
        self.hang = true;
        self
    }

    /// Answers once `gate` is open.
    pub fn held(mut self, gate: &Gate) -> Reply {
        self.gate = Some(gate.clone());
        self
    }
}

/// A document server on 127.0.0.1.
#[derive(Clone)]
pub struct DocServer {
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub base: String,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    total: Arc<AtomicUsize>,
}

impl DocServer {
    pub async fn http() -> DocServer {
        Self::start(None).await
    }

    pub async fn https(ca: &TestCa) -> DocServer {
        Self::start(Some(ca.acceptor())).await
    }

    async fn start(tls: Option<TlsAcceptor>) -> DocServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = DocServer {
            base: format!("{scheme}://{addr}"),
            routes: Arc::default(),
            counts: Arc::default(),
            total: Arc::default(),
        };
        let shared = server.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let server = shared.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(socket).await {
                                server.serve(stream).await;
                            }
                        }
                        None => server.serve(socket).await,
                    }
                });
            }
        });
        server
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers `path` with `reply` from now on.
    pub fn set(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_owned(), reply);
    }

    /// Requests received so far, all paths.
    pub fn requests(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    /// Requests received so far for `path`.
    pub fn requests_to(&self, path: &str) -> usize {
        self.counts.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Waits (bounded) until at least `n` requests arrived.
    pub async fn wait_for_requests(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.requests() < n {
            assert!(
                Instant::now() < deadline,
                "expected {n} requests, got {}",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(&self, mut stream: S) {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            if seen.len() > 64 * 1024 {
                return;
            }
        }
        let head = String::from_utf8_lossy(&seen);
        let path = head
            .lines()
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("/")
            .to_owned();
        *self.counts.lock().unwrap().entry(path.clone()).or_default() += 1;
        self.total.fetch_add(1, Ordering::SeqCst);
        let reply = self.routes.lock().unwrap().get(&path).cloned();
        let reply =
            reply.unwrap_or_else(|| Reply::raw("text/plain", b"not found".to_vec()).status(404));
        if reply.hang {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        if let Some(gate) = &reply.gate {
            gate.wait().await;
        }
        let mut out = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
            reply.status,
            reply.body.len()
        );
        for (k, v) in &reply.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&reply.body);
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
    }
}

/// A valid client metadata document for `client_id`.
pub fn document(client_id: &str, redirect_uri: &str) -> serde_json::Value {
    serde_json::json!({
        "client_id": client_id,
        "client_name": "Test Client",
        "client_uri": "https://client.example/",
        "logo_uri": "https://client.example/logo.png",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}
