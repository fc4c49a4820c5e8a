//! Hostile clients against a server protected by the whole stack, over real TCP: header floods,
//! huge headers, giant batches, deep nesting, bodies shorter than declared, bodies that never
//! end. Each gets a precise 4xx in bounded time; the server keeps serving. Every test runs twice:
//! against the stack in the server's own process, and against `mcp-auth-gateway` in front of a
//! server with no auth of its own.

use std::time::{Duration, Instant};

use mcp_auth::{FetchPolicy, IssuerConfig, McpAuth, Requirement, ScopePolicy};
use mcp_auth_testing::MockIssuer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Target {
    name: &'static str,
    addr: std::net::SocketAddr,
    token: String,
    _issuer: MockIssuer,
    _gateway: Option<mcp_auth_gateway::Gateway>,
}

/// The same policy in the server's process and in the gateway.
async fn targets() -> [Target; 2] {
    [in_process().await, gateway().await]
}

async fn gateway() -> Target {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let resource = format!("http://{addr}/mcp");
    let issuer = MockIssuer::builder().audience(&resource).start().await;
    let gateway = mcp_auth_e2e::gateway_on(
        listener,
        &format!(
            "resource = \"{resource}\"\n[[issuers]]\nissuer = \"{}\"\njwks_uri = \"{}\"\n\
             [fetch]\nallow_loopback = true\n[limits]\nread_timeout_ms = 1000\n\
             [scopes]\n[scopes.tools]\necho = [\"mcp:read\"]\n\
             [upstream]\nurl = \"{}\"\n",
            issuer.issuer(),
            issuer.jwks_uri(),
            mcp_auth_e2e::json_rpc_upstream().await
        ),
    )
    .await;
    let token = issuer.token().scope("mcp:read").sign();
    Target {
        name: "gateway",
        addr,
        token,
        _issuer: issuer,
        _gateway: Some(gateway),
    }
}

async fn in_process() -> Target {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let resource = format!("http://{addr}/mcp");
    let issuer = MockIssuer::builder().audience(&resource).start().await;
    let auth = McpAuth::builder(&resource)
        .issuer(IssuerConfig::jwks_uri(issuer.issuer(), &issuer.jwks_uri()))
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .scopes(
            ScopePolicy::builder()
                .tool("echo", Requirement::all("mcp:read"))
                .build()
                .unwrap(),
        )
        .inspect_limits(mcp_auth::InspectLimits::default().read_timeout(Duration::from_secs(1)))
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/mcp",
            axum::routing::post(|| async { r#"{"jsonrpc":"2.0","id":1,"result":{}}"# }),
        )
        .layer(auth);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let token = issuer.token().scope("mcp:read").sign();
    Target {
        name: "in process",
        addr,
        token,
        _issuer: issuer,
        _gateway: None,
    }
}

/// Sends raw bytes, optionally keeping the connection open, and returns the status line's code
/// (0 when the server closed without answering) and the response text.
async fn raw(addr: std::net::SocketAddr, request: &[u8], close_write: bool) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    if close_write {
        stream.shutdown().await.unwrap();
    }
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    response.extend_from_slice(&buf[..n]);
                    if response.windows(4).any(|w| w == b"\r\n\r\n") && response.ends_with(b"}") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server did not answer within 10 s");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn request(target: &Target, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /mcp HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n{body}",
        target.addr,
        target.token,
        body.len()
    )
    .into_bytes()
}

const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#;

#[tokio::test]
async fn a_normal_call_passes() {
    for t in targets().await {
        assert_eq!(
            raw(t.addr, &request(&t, "", CALL), false).await.0,
            200,
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn header_floods_and_huge_headers_get_431() {
    for t in targets().await {
        let flood: String = (0..500).map(|i| format!("x-flood-{i}: y\r\n")).collect();
        assert_eq!(
            raw(t.addr, &request(&t, &flood, CALL), false).await.0,
            431,
            "{}",
            t.name
        );
        let huge = format!("x-huge: {}\r\n", "y".repeat(1024 * 1024));
        let (status, _) = raw(t.addr, &request(&t, &huge, CALL), false).await;
        assert!(
            status == 431 || status == 0,
            "{}: huge header: {status}",
            t.name
        );
        assert_eq!(
            raw(t.addr, &request(&t, "", CALL), false).await.0,
            200,
            "{}: still serving",
            t.name
        );
    }
}

#[tokio::test]
async fn a_batch_of_ten_thousand_calls_is_refused_precisely() {
    for t in targets().await {
        let batch = format!("[{}]", vec![CALL; 10_000].join(","));
        let (status, text) = raw(t.addr, &request(&t, "", &batch), false).await;
        assert_eq!(status, 400, "{}: {text}", t.name);
        assert!(
            text.contains("batch of 10000 messages exceeds the limit of 100"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn deep_nesting_is_refused_precisely() {
    for t in targets().await {
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{}{}}}}}"#,
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        let (status, text) = raw(t.addr, &request(&t, "", &deep), false).await;
        assert_eq!(status, 400, "{}: {text}", t.name);
        assert!(
            text.contains("nesting deeper than 64"),
            "{}: {text}",
            t.name
        );
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_reading_it() {
    for t in targets().await {
        let head = format!(
            "POST /mcp HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            t.addr,
            t.token,
            64 * 1024 * 1024
        );
        let (status, text) = raw(t.addr, head.as_bytes(), false).await;
        assert_eq!(status, 413, "{}: {text}", t.name);
    }
}

#[tokio::test]
async fn a_body_shorter_than_declared_is_a_clean_4xx_or_close() {
    for t in targets().await {
        let mut bytes = request(&t, "", CALL);
        let declared = format!("content-length: {}", CALL.len());
        let text = String::from_utf8(bytes.clone())
            .unwrap()
            .replace(&declared, "content-length: 100000");
        bytes = text.into_bytes();
        let (status, _) = raw(t.addr, &bytes, true).await;
        assert!(
            status == 400 || status == 0,
            "{}: truncated body: {status}",
            t.name
        );
        assert_eq!(
            raw(t.addr, &request(&t, "", CALL), false).await.0,
            200,
            "{}: still serving",
            t.name
        );
    }
}

#[tokio::test]
async fn a_body_that_never_ends_gets_408_in_bounded_time() {
    for t in targets().await {
        let mut bytes = request(&t, "", "");
        let text = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("content-length: 0", "content-length: 100000");
        bytes = text.into_bytes();
        bytes.extend_from_slice(br#"{"jsonrpc":"2.0","#);
        let start = Instant::now();
        let (status, text) = raw(t.addr, &bytes, false).await;
        assert_eq!(status, 408, "{}: {text}", t.name);
        assert!(text.contains("did not arrive within 1 s"), "{text}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
