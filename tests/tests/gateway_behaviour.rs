//! The gateway's own behaviour, with the project's mock issuer and small servers made here:
//! forged tokens never reach the server, upstream failures are 502/504 JSON-RPC errors,
//! readiness follows the server, a session belongs to the caller that opened it (against the
//! real TypeScript SDK server in stateful mode), several routes each have their own resource
//! and metadata, and the server receives a static credential or an exchanged token instead of
//! the client's.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use mcp_auth_e2e::{Upstream, UpstreamOptions, UpstreamSdk, gateway_on};
use mcp_auth_gateway::Gateway;
use mcp_auth_testing::{Algorithm, MockIssuer};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// A server that answers every JSON-RPC POST with an empty result and records the headers it
/// received.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Recorder {
    async fn start(&self, status: u16) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = self.seen.clone();
        let app = Router::new().route(
            "/mcp",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(headers);
                    let id = serde_json::from_str::<Value>(&body)
                        .map(|v| v["id"].clone())
                        .unwrap_or(Value::Null);
                    let mut response = axum::response::Response::new(axum::body::Body::from(
                        json!({"jsonrpc":"2.0","id":id,"result":{}}).to_string(),
                    ));
                    *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
                    response.headers_mut().insert(
                        "www-authenticate",
                        "Bearer realm=\"upstream\"".parse().unwrap(),
                    );
                    response
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}/mcp")
    }

    fn requests(&self) -> Vec<HeaderMap> {
        self.seen.lock().unwrap().clone()
    }
}

/// A gateway and the mock issuer whose tokens it trusts; `routes` is TOML appended to a
/// configuration whose top-level route forwards to `upstream`.
struct Fixture {
    _gateway: Gateway,
    issuer: MockIssuer,
    addr: SocketAddr,
    mcp_url: String,
}

async fn fixture(upstream: &str, extra: &str) -> Fixture {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mcp_url = format!("http://{addr}/mcp");
    let issuer = MockIssuer::builder()
        .audience(&mcp_url)
        .key(Algorithm::RS256)
        .start()
        .await;
    let gateway = gateway_on(
        listener,
        &format!(
            r#"
resource = "{mcp_url}"
[[issuers]]
issuer = "{iss}"
jwks_uri = "{jwks}"
[fetch]
allow_loopback = true
[scopes]
required = ["mcp:read"]
[scopes.tools]
echo = []
[upstream]
url = "{upstream}"
{extra}
"#,
            iss = issuer.issuer(),
            jwks = issuer.jwks_uri(),
        ),
    )
    .await;
    Fixture {
        _gateway: gateway,
        issuer,
        addr,
        mcp_url,
    }
}

const CALL: &str =
    r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#;

async fn post(url: &str, token: Option<&str>, body: &str) -> (u16, HeaderMap, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_owned());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test]
async fn forged_tokens_are_refused_and_never_reach_the_server() {
    let recorder = Recorder::default();
    let upstream = recorder.start(200).await;
    let fx = fixture(&upstream, "").await;
    let stranger = MockIssuer::builder().audience(&fx.mcp_url).start().await;
    let valid = fx.issuer.token().scope("mcp:read").sign();
    let (status, _, _) = post(&fx.mcp_url, Some(&valid), CALL).await;
    assert_eq!(status, 200);
    assert_eq!(recorder.requests().len(), 1);

    let mut tampered = valid.clone();
    tampered.pop();
    tampered.push(if valid.ends_with('A') { 'B' } else { 'A' });
    let forged = [
        ("no token", None),
        ("tampered signature", Some(tampered)),
        (
            "unsigned (alg none)",
            Some(fx.issuer.token().scope("mcp:read").unsigned().sign()),
        ),
        (
            "signed by another key",
            Some(
                fx.issuer
                    .token()
                    .scope("mcp:read")
                    .signed_by(&stranger.current_key())
                    .sign(),
            ),
        ),
        (
            "another issuer",
            Some(stranger.token().scope("mcp:read").sign()),
        ),
        (
            "expired",
            Some(fx.issuer.token().scope("mcp:read").expired(600).sign()),
        ),
        (
            "another audience",
            Some(
                fx.issuer
                    .token()
                    .scope("mcp:read")
                    .audience("https://elsewhere.example.com/mcp")
                    .sign(),
            ),
        ),
        (
            "an ID token's typ",
            Some(fx.issuer.token().scope("mcp:read").typ(Some("JWT")).sign()),
        ),
    ];
    for (what, token) in &forged {
        let (status, headers, body) = post(&fx.mcp_url, token.as_deref(), CALL).await;
        assert_eq!(status, 401, "{what}: {body}");
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains(&format!(
                "resource_metadata=\"http://{}/.well-known/oauth-protected-resource/mcp\"",
                fx.addr
            )),
            "{what}: {challenge}"
        );
    }
    let (status, _, _) = post(&fx.mcp_url, Some(&fx.issuer.token().sign()), CALL).await;
    assert_eq!(status, 403, "a valid token without the scope");
    assert_eq!(
        recorder.requests().len(),
        1,
        "no refused request reached the server"
    );
}

#[tokio::test]
async fn server_failures_are_502_and_504_json_rpc_errors_and_readiness_follows() {
    // Nothing listens: connection refused.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/mcp", listener.local_addr().unwrap())
    };
    let fx = fixture(&closed, "").await;
    let token = fx.issuer.token().scope("mcp:read").sign();
    let (status, headers, body) = post(&fx.mcp_url, Some(&token), CALL).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["jsonrpc"], "2.0");
    assert_eq!(error["id"], 42, "the error answers the request: {error}");
    assert_eq!(error["error"]["code"], -32000);
    let ready = reqwest::get(format!("http://{}/readyz", fx.addr))
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let report: Value = ready.json().await.unwrap();
    assert_eq!(report["unreachable"][0], closed.as_str(), "{report}");
    let health = reqwest::get(format!("http://{}/healthz", fx.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "alive, though not ready");

    // Accepts, never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/mcp", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let fx = fixture(
        &silent_url,
        "response_timeout_ms = 300\n", // appended to [upstream]
    )
    .await;
    let token = fx.issuer.token().scope("mcp:read").sign();
    let (status, _, body) = post(&fx.mcp_url, Some(&token), CALL).await;
    assert_eq!(status, 504, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (error["id"].clone(), error["error"]["code"].clone()),
        (json!(42), json!(-32001))
    );
    let ready = reqwest::get(format!("http://{}/readyz", fx.addr))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "it accepts connections");
    held.abort();

    // Refuses the gateway's credentials: the client can do nothing about it, and must not be
    // sent to authenticate elsewhere.
    let recorder = Recorder::default();
    let refusing = recorder.start(401).await;
    let fx = fixture(&refusing, "").await;
    let token = fx.issuer.token().scope("mcp:read").sign();
    let (status, headers, body) = post(&fx.mcp_url, Some(&token), CALL).await;
    assert_eq!(status, 502, "{body}");
    assert!(!headers.contains_key("www-authenticate"), "{headers:?}");
    // Any other answer passes, without the server's challenge.
    let recorder = Recorder::default();
    let forbidding = recorder.start(403).await;
    let fx = fixture(&forbidding, "").await;
    let token = fx.issuer.token().scope("mcp:read").sign();
    let (status, headers, _) = post(&fx.mcp_url, Some(&token), CALL).await;
    assert_eq!(status, 403);
    assert!(!headers.contains_key("www-authenticate"), "{headers:?}");
}

#[tokio::test]
async fn a_session_belongs_to_the_caller_that_opened_it() {
    let upstream = Upstream::start(
        UpstreamSdk::TypeScript,
        UpstreamOptions {
            stateful: true,
            ..Default::default()
        },
    )
    .await;
    let fx = fixture(&upstream.url, "").await;
    let alice = fx.issuer.token().subject("alice").scope("mcp:read").sign();
    let mallory = fx
        .issuer
        .token()
        .subject("mallory")
        .scope("mcp:read")
        .sign();
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "session-test", "version": "1"},
        },
    })
    .to_string();
    let (status, headers, body) = post(&fx.mcp_url, Some(&alice), &initialize).await;
    assert_eq!(status, 200, "{body}");
    let session = headers["mcp-session-id"].to_str().unwrap().to_owned();

    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let in_session = |token: String| {
        let (url, session) = (fx.mcp_url.clone(), session.clone());
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-06-18")
                .body(list)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, body) = in_session(mallory.clone()).await;
    assert_eq!(status, 404, "another caller's session is not found: {body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], -32001);
    let (status, body) = in_session(alice.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("echo"), "{body}");
    let recorded = upstream.requests().await;
    assert!(
        recorded
            .iter()
            .filter(|r| r["headers"]["mcp-session-id"] == session.as_str())
            .count()
            == 1,
        "only alice's request in her session reached the server: {recorded:?}"
    );
}

#[tokio::test]
async fn each_route_has_its_own_resource_metadata_and_policy() {
    let (a, b) = (Recorder::default(), Recorder::default());
    let (a_url, b_url) = (a.start(200).await, b.start(200).await);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let notes = format!("http://{addr}/notes/mcp");
    let billing = format!("http://{addr}/billing/mcp");
    let issuer = MockIssuer::builder().audience(&notes).start().await;
    let gateway = gateway_on(
        listener,
        &format!(
            r#"
[[issuers]]
issuer = "{iss}"
jwks_uri = "{jwks}"
[fetch]
allow_loopback = true
[scopes]
required = ["notes:read"]
[scopes.tools]
echo = []

[[routes]]
resource = "{notes}"
[routes.upstream]
url = "{a_url}"

[[routes]]
resource = "{billing}"
[routes.upstream]
url = "{b_url}"
[routes.scopes]
required = ["billing:read"]
[routes.scopes.tools]
echo = []
"#,
            iss = issuer.issuer(),
            jwks = issuer.jwks_uri(),
        ),
    )
    .await;
    assert_eq!(gateway.resources(), [notes.clone(), billing.clone()]);
    for (resource, path, scope) in [
        (&notes, "/notes/mcp", "notes:read"),
        (&billing, "/billing/mcp", "billing:read"),
    ] {
        let document: Value = reqwest::get(format!(
            "http://{addr}/.well-known/oauth-protected-resource{path}"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(document["resource"], resource.as_str());
        let (status, headers, _) = post(resource, None, CALL).await;
        assert_eq!(status, 401);
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains(&format!("scope=\"{scope}\"")),
            "{challenge}"
        );
    }
    let root = reqwest::get(format!(
        "http://{addr}/.well-known/oauth-protected-resource"
    ))
    .await
    .unwrap();
    assert_eq!(
        root.status(),
        404,
        "no root document names one of several routes"
    );

    let notes_token = issuer.token().scope("notes:read").sign();
    assert_eq!(post(&notes, Some(&notes_token), CALL).await.0, 200);
    assert_eq!(
        post(&billing, Some(&notes_token), CALL).await.0,
        401,
        "a token for one route's resource is no token for another's"
    );
    let billing_token = |scope: &str| issuer.token().audience(&billing).scope(scope).sign();
    assert_eq!(
        post(&billing, Some(&billing_token("notes:read")), CALL)
            .await
            .0,
        403,
        "the billing route's own policy"
    );
    assert_eq!(
        post(&billing, Some(&billing_token("billing:read")), CALL)
            .await
            .0,
        200
    );
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
}

#[tokio::test]
async fn the_server_receives_a_static_credential_or_an_exchanged_token_never_the_clients() {
    // A static header from the environment.
    let recorder = Recorder::default();
    let upstream = recorder.start(200).await;
    // SAFETY of the test: a variable only this test reads.
    unsafe { std::env::set_var("GATEWAY_TEST_UPSTREAM_KEY", "k-123") };
    let fx = fixture(
        &upstream,
        "credentials = { kind = \"static_header\", header = \"x-api-key\", value_env = \"GATEWAY_TEST_UPSTREAM_KEY\" }\n",
    )
    .await;
    let token = fx.issuer.token().scope("mcp:read").sign();
    assert_eq!(post(&fx.mcp_url, Some(&token), CALL).await.0, 200);
    let seen = recorder.requests();
    assert_eq!(seen[0]["x-api-key"], "k-123");
    assert!(!seen[0].contains_key("authorization"));

    // A token exchanged for the server's own audience (RFC 8693).
    let recorder = Recorder::default();
    let upstream = recorder.start(200).await;
    unsafe { std::env::set_var("GATEWAY_TEST_EXCHANGE_SECRET", "gw-secret") };
    let fx = fixture(
        &upstream,
        "credentials = { kind = \"token_exchange\", audience = \"urn:notes-api\", scope = \"notes:read\" }\n\
         [token_exchange]\nclient_id = \"gateway\"\nclient_secret_env = \"GATEWAY_TEST_EXCHANGE_SECRET\"\n",
    )
    .await;
    fx.issuer.allow_exchange_client("gateway", "gw-secret");
    fx.issuer
        .allow_exchange_target("urn:notes-api", &["notes:read"]);
    let token = fx.issuer.token().subject("alice").scope("mcp:read").sign();
    for _ in 0..2 {
        let (status, _, body) = post(&fx.mcp_url, Some(&token), CALL).await;
        assert_eq!(status, 200, "{body}");
    }
    let seen = recorder.requests();
    let exchanged = seen[0]["authorization"]
        .to_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_owned();
    assert_ne!(exchanged, token);
    let claims = mcp_auth_e2e::jwt_claims(&exchanged);
    assert_eq!(claims["aud"], "urn:notes-api");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(seen[1]["authorization"], seen[0]["authorization"], "cached");
    assert_eq!(fx.issuer.token_requests(), 1, "one exchange for two calls");

    // The gateway's own client is refused: the client hears that the service is unavailable,
    // the server hears nothing.
    let other = fx.issuer.token().subject("bob").scope("mcp:read").sign();
    fx.issuer.allow_exchange_client("gateway", "rotated");
    let (status, _, body) = post(&fx.mcp_url, Some(&other), CALL).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("temporarily_unavailable"), "{body}");
    assert_eq!(recorder.requests().len(), 2);
}
