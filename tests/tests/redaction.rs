//! Redaction across the whole stack: a token carrying a unique marker goes through every layer
//! (audit with the tracing and file sinks, metadata, inspection, verification, client identity,
//! scopes, token exchange) on allowed, denied, malformed and exchanging requests, a client
//! identified by its metadata document (admitted, and refused), and a token exchange the issuer
//! refuses; neither the marker, nor the raw token, nor the exchange client's secret, nor the
//! Authorization header appears in any audit event, log line, error response or `Debug` output.

use std::io::Write;
use std::sync::{Arc, Mutex};

use mcp_auth_testing::MockIssuer;
use serde_json::json;

const MARKER: &str = "MARKER-7f3a9c2e-redaction";
const SECRET: &str = "exchange-secret-4b1d8e";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn post(url: &str, token: Option<&str>, body: serde_json::Value) -> String {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let headers = format!("{:?}", response.headers());
    format!(
        "{} {headers} {}",
        response.status(),
        response.text().await.unwrap()
    )
}

/// Serves two client metadata documents on 127.0.0.1: `/good.json` names itself, `/liar.json`
/// claims to be the other one. Returns the server's base URL.
async fn documents() -> String {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let document = |client_id: String| {
        json!({
            "client_id": client_id,
            "client_name": "Doc Client",
            "redirect_uris": ["http://127.0.0.1:9/callback"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })
    };
    let good = document(format!("{base}/good.json"));
    let liar = document(format!("{base}/good.json"));
    let app = axum::Router::new()
        .route("/good.json", get(move || async move { axum::Json(good) }))
        .route("/liar.json", get(move || async move { axum::Json(liar) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn call(tool: &str) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {"text": "x"}}})
}

#[tokio::test]
async fn no_secret_reaches_any_log_event_error_or_debug_output() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let dir = std::env::temp_dir().join(format!("mcp-auth-redaction-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let audit_file = dir.join("audit.jsonl");
    let server = protected_server::start(protected_server::Options {
        listen: ([127, 0, 0, 1], 0).into(),
        audit_file: Some(audit_file.clone()),
        exchange_client: Some(("protected-server".into(), SECRET.into())),
        ..Default::default()
    })
    .await
    .unwrap();
    let dev: &MockIssuer = server.dev_issuer.as_ref().unwrap();

    let reader = dev
        .token()
        .subject("reader")
        .scope("mcp:read")
        .claim("marker", MARKER)
        .sign();
    let expired = dev
        .token()
        .scope("mcp:read")
        .claim("marker", MARKER)
        .expired(3600)
        .sign();
    let foreign = dev
        .token()
        .audience("https://elsewhere.example/mcp")
        .claim("marker", MARKER)
        .sign();
    let mut tampered = reader.clone();
    tampered.insert(tampered.len() - 5, 'A');
    let docs = documents().await;
    let documented = dev
        .token()
        .subject("doc-user")
        .scope("mcp:read")
        .client_id(&format!("{docs}/good.json"))
        .claim("marker", MARKER)
        .sign();
    let impostor = dev
        .token()
        .subject("doc-user")
        .scope("mcp:read")
        .client_id(&format!("{docs}/liar.json"))
        .claim("marker", MARKER)
        .sign();
    let refused_exchange = dev
        .token()
        .subject("writer")
        .scope("mcp:read")
        .claim("marker", MARKER)
        .sign();
    let tokens = [
        &reader,
        &expired,
        &foreign,
        &tampered,
        &documented,
        &impostor,
        &refused_exchange,
    ];

    let mut seen = Vec::new();
    seen.push(post(&server.mcp_url, Some(&reader), call("whoami")).await);
    seen.push(post(&server.mcp_url, Some(&reader), call("call_downstream")).await);
    seen.push(post(&server.mcp_url, Some(&reader), call("add_note")).await);
    seen.push(post(&server.mcp_url, Some(&reader), call("not_a_tool")).await);
    seen.push(post(&server.mcp_url, Some(&expired), call("whoami")).await);
    seen.push(post(&server.mcp_url, Some(&foreign), call("whoami")).await);
    seen.push(post(&server.mcp_url, Some(&tampered), call("whoami")).await);
    seen.push(
        post(
            &format!("{}?access_token={reader}", server.mcp_url),
            None,
            call("whoami"),
        )
        .await,
    );
    seen.push(post(&server.mcp_url, None, call("whoami")).await);
    // A client document fetched and admitted, and one refused for naming another client.
    seen.push(post(&server.mcp_url, Some(&documented), call("whoami")).await);
    seen.push(post(&server.mcp_url, Some(&impostor), call("whoami")).await);
    // The issuer stops accepting this server's secret: the exchange fails.
    dev.allow_exchange_client("protected-server", "rotated-elsewhere");
    seen.push(
        post(
            &server.mcp_url,
            Some(&refused_exchange),
            call("call_downstream"),
        )
        .await,
    );
    assert!(
        seen[9].starts_with("200") && seen[9].contains("good.json") && seen[10].starts_with("403"),
        "{seen:#?}"
    );
    assert!(
        seen[11].contains("invalid_client") || seen[11].starts_with("503"),
        "the exchange was refused: {}",
        seen[11]
    );
    assert!(
        seen[0].starts_with("200") && seen[1].starts_with("200"),
        "{seen:#?}"
    );
    assert!(
        seen[2].starts_with("403") && seen[4].starts_with("401") && seen[7].starts_with("400"),
        "{seen:#?}"
    );

    // Debug output of everything a user might print.
    seen.push(format!("{:?}", server.auth));
    seen.push(format!("{:?}", server.auth.verifier()));
    let principal = server.auth.verifier().verify(&reader).await.unwrap();
    seen.push(format!("{principal:?} {:?}", principal.token()));
    seen.push(format!(
        "{:?}",
        server.auth.verifier().verify(&tampered).await.unwrap_err()
    ));

    server.shutdown_audit().await;
    let audit = std::fs::read_to_string(&audit_file).unwrap();
    let log = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        audit.lines().count() >= 9,
        "every request was audited:\n{audit}"
    );
    assert!(
        log.contains("mcp_auth::audit"),
        "the tracing sink wrote events"
    );

    let everything = format!("{audit}\n{log}\n{}", seen.join("\n"));
    assert!(!everything.contains(MARKER), "the marker leaked");
    assert!(
        !everything.contains(SECRET),
        "the exchange client's secret leaked"
    );
    for token in tokens {
        assert!(!everything.contains(token.as_str()), "a raw token leaked");
        // Not even a token's signature, or its claims segment.
        for segment in token.split('.').skip(1) {
            assert!(!everything.contains(segment), "a token segment leaked");
        }
        assert!(
            !everything.contains(&format!("Bearer {token}")),
            "an Authorization header leaked"
        );
    }
    assert!(
        everything.contains("sha256:"),
        "fingerprints stand in for tokens"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
