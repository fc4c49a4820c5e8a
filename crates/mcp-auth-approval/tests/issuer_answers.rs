//! What the layer does with each answer an issuer may give, against a stand-in issuer whose
//! answers the test sets (oidc-provider, in the end-to-end tests, gives only the usual ones):
//! an approval by someone else, or at a lower authentication level than asked, does not run
//! the call.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use mcp_auth_approval::{ApprovalLayer, CibaClient, SecretKeys};
use mcp_auth_core::mcp::McpRequest;
use mcp_auth_core::record::RequestRecord;
use mcp_auth_core::{AuthBody, BearerToken, Principal, ResourceId};
use mcp_auth_fetch::FetchPolicy;
use mcp_auth_obo::ClientAuth;
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// A stand-in CIBA issuer: accepts every backchannel request (remembering its
/// `authorization_details`) and answers every poll with `approve(details)`.
async fn issuer(approve: impl Fn(&Value) -> Value + Send + Sync + 'static) -> (String, String) {
    let requested = Arc::new(Mutex::new(Value::Null));
    let kept = requested.clone();
    let approve = Arc::new(approve);
    let app = axum::Router::new()
        .route(
            "/bc",
            axum::routing::post(
                move |axum::Form(form): axum::Form<std::collections::HashMap<String, String>>| {
                    let details: Value =
                        serde_json::from_str(&form["authorization_details"]).unwrap();
                    *kept.lock().unwrap() = details;
                    async {
                        axum::Json(json!({"auth_req_id": "r-1", "expires_in": 120, "interval": 1}))
                    }
                },
            ),
        )
        .route(
            "/token",
            axum::routing::post(move || {
                let answer = approve(&requested.lock().unwrap());
                async move { axum::Json(answer) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("{base}/bc"), format!("{base}/token"))
}

fn id_token(claims: Value) -> String {
    let part = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.sig", part(&json!({"alg": "RS256"})), part(&claims))
}

struct Outcome {
    text: String,
    ran: usize,
    reason: Option<String>,
}

/// Two rounds of one call (start, then a retry with the state) through a layer asking for
/// `acr`; what the second answered.
async fn approve_with(answer: impl Fn(&Value) -> Value + Send + Sync + 'static) -> Outcome {
    let (bc, token) = issuer(answer).await;
    let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
    let ciba = CibaClient::new(
        ClientAuth::client_secret_basic("mcp-server", "s3cret"),
        FetchPolicy::default().allow_loopback(true),
    )
    .unwrap()
    .with_endpoints(&bc, &token)
    .unwrap();
    let layer = ApprovalLayer::new(ciba, SecretKeys::new("k", &[1; 32]).unwrap(), &resource)
        .tool("transfer_funds")
        .acr_values("urn:strong");
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = ran.clone();
    let inner = tower::service_fn(move |_req: Request<AuthBody<String>>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            Ok::<_, Infallible>(Response::new(http_body_util::Full::new(
                Bytes::from_static(b"{}"),
            )))
        }
    });
    let service = tower_layer::Layer::layer(&layer, inner);
    let alice = Principal::builder("https://idp.example", "alice", BearerToken::new("t")).build();
    let round = |state: Option<String>| {
        let mut params = json!({"name": "transfer_funds", "arguments": {"amount": 5},
            "_meta": {"io.modelcontextprotocol/clientCapabilities": {}}});
        if let Some(state) = state {
            params["requestState"] = json!(state);
        }
        let text = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
            .to_string();
        let mut req = Request::post("/mcp")
            .header("mcp-protocol-version", "2026-07-28")
            .body(AuthBody::full(text.clone()))
            .unwrap();
        req.extensions_mut()
            .insert(McpRequest::parse(text.as_bytes(), &Default::default()).unwrap());
        req.extensions_mut().insert(alice.clone());
        let record = RequestRecord::default();
        req.extensions_mut().insert(record.clone());
        let service = service.clone();
        async move {
            let response = service.oneshot(req).await.unwrap();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (serde_json::from_slice::<Value>(&bytes).unwrap(), record)
        }
    };
    let (first, _) = round(None).await;
    let state = first["result"]["requestState"]
        .as_str()
        .expect("a state")
        .to_owned();
    let (second, record) = round(Some(state)).await;
    Outcome {
        text: second["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        ran: ran.load(Ordering::SeqCst),
        reason: record.snapshot().approval.and_then(|a| a.reason),
    }
}

fn approval(details: &Value, sub: &str, acr: &str) -> Value {
    json!({
        "access_token": "at", "token_type": "Bearer", "expires_in": 60,
        "authorization_details": details,
        "id_token": id_token(json!({"sub": sub, "acr": acr})),
    })
}

#[tokio::test]
async fn only_the_person_at_the_level_asked_for_approves() {
    let good = approve_with(|details| approval(details, "alice", "urn:strong")).await;
    assert_eq!(
        (good.ran, good.reason.as_deref()),
        (1, None),
        "{}",
        good.text
    );

    let someone_else = approve_with(|details| approval(details, "mallory", "urn:strong")).await;
    assert_eq!(someone_else.ran, 0, "{}", someone_else.text);
    assert_eq!(someone_else.reason.as_deref(), Some("other_approver"));
    assert!(
        someone_else.text.contains("someone other"),
        "{}",
        someone_else.text
    );

    let weaker = approve_with(|details| approval(details, "alice", "urn:weak")).await;
    assert_eq!(weaker.ran, 0, "{}", weaker.text);
    assert_eq!(weaker.reason.as_deref(), Some("acr_not_met"));
}
