//! The approval layer's decisions that need no authorization server: what passes untouched,
//! what is refused before anything starts, and a policy's mark.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use mcp_auth_approval::{ApprovalLayer, CibaClient, SecretKeys};
use mcp_auth_core::mcp::McpRequest;
use mcp_auth_core::record::{ApprovalRequired, RequestRecord};
use mcp_auth_core::{AuthBody, BearerToken, Principal, ResourceId};
use mcp_auth_fetch::FetchPolicy;
use mcp_auth_obo::ClientAuth;
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// A layer whose issuer endpoints are a closed loopback port: nothing can be requested.
fn layer() -> ApprovalLayer {
    let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
    let ciba = CibaClient::new(
        ClientAuth::client_secret_basic("mcp-server", "s3cret"),
        FetchPolicy::default().allow_loopback(true),
    )
    .unwrap()
    .with_endpoints("http://127.0.0.1:9/bc", "http://127.0.0.1:9/token")
    .unwrap();
    ApprovalLayer::new(ciba, SecretKeys::new("k", &[1; 32]).unwrap(), &resource).tool("transfer_*")
}

struct Answer {
    status: u16,
    body: Value,
    inner_calls: usize,
    record: RequestRecord,
}

async fn send(body: Value, version: &str, marked: bool) -> Answer {
    let alice = Principal::builder("https://idp.example", "alice", BearerToken::new("t")).build();
    send_as(alice, body, version, marked).await
}

async fn send_as(principal: Principal, body: Value, version: &str, marked: bool) -> Answer {
    send_through(&layer(), principal, body, version, marked).await
}

async fn send_through(
    layer: &ApprovalLayer,
    principal: Principal,
    body: Value,
    version: &str,
    marked: bool,
) -> Answer {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let inner = tower::service_fn(move |_req: Request<AuthBody<String>>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            Ok::<_, Infallible>(Response::new(http_body_util::Full::new(
                Bytes::from_static(b"{\"ran\":true}"),
            )))
        }
    });
    let service = tower_layer::Layer::layer(layer, inner);
    let text = body.to_string();
    let mut req = Request::post("/mcp")
        .header("mcp-protocol-version", version)
        .body(AuthBody::full(text.clone()))
        .unwrap();
    req.extensions_mut()
        .insert(McpRequest::parse(text.as_bytes(), &Default::default()).unwrap());
    req.extensions_mut().insert(principal);
    let record = RequestRecord::default();
    req.extensions_mut().insert(record.clone());
    if marked {
        req.extensions_mut().insert(ApprovalRequired {
            by: "policy-1".into(),
        });
    }
    let response = service.oneshot(req).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap(),
        inner_calls: calls.load(Ordering::SeqCst),
        record,
    }
}

fn call(tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
           "params": {"name": tool, "arguments": {"amount": 5}}})
}

#[tokio::test]
async fn ungated_calls_pass_untouched() {
    let answer = send(call("balance"), "2026-07-28", false).await;
    assert_eq!((answer.status, answer.inner_calls), (200, 1));
    assert_eq!(answer.body, json!({"ran": true}));
    assert!(answer.record.snapshot().approval.is_none());
}

#[tokio::test]
async fn an_older_client_is_told_it_cannot_take_part_and_nothing_runs() {
    for (tool, marked) in [("transfer_funds", false), ("balance", true)] {
        let answer = send(call(tool), "2025-11-25", marked).await;
        assert_eq!((answer.status, answer.inner_calls), (200, 0), "{tool}");
        assert_eq!(answer.body["id"], 9);
        assert_eq!(answer.body["result"]["isError"], true);
        let text = answer.body["result"]["content"][0]["text"]
            .as_str()
            .unwrap();
        assert!(text.contains("cannot take part"), "{text}");
        let check = answer.record.snapshot().approval.expect("recorded");
        assert_eq!(check.reason.as_deref(), Some("client_cannot_take_part"));
        assert_eq!(check.tool, tool);
    }
}

#[tokio::test]
async fn a_batch_with_a_gated_call_is_refused_whole() {
    let batch = json!([call("balance"), call("transfer_funds")]);
    let answer = send(batch, "2025-03-26", false).await;
    assert_eq!((answer.status, answer.inner_calls), (400, 0));
    assert!(
        answer.body["error_description"]
            .as_str()
            .unwrap()
            .contains("batch")
    );
}

#[tokio::test]
async fn an_issuer_that_cannot_be_reached_is_a_clear_tool_error() {
    let answer = send(call("transfer_funds"), "2026-07-28", false).await;
    assert_eq!((answer.status, answer.inner_calls), (200, 0));
    let text = answer.body["result"]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains("could not be requested"), "{text}");
    let check = answer.record.snapshot().approval.expect("recorded");
    assert_eq!(check.reason.as_deref(), Some("request_failed"));
    assert_eq!(check.digest.len(), 43);
}

#[tokio::test]
async fn a_client_acting_for_itself_has_nobody_to_ask() {
    let service = Principal::builder("https://idp.example", "svc", BearerToken::new("t"))
        .client_id("svc")
        .build();
    assert!(service.acts_for_itself());
    let answer = send_as(service, call("transfer_funds"), "2026-07-28", false).await;
    assert_eq!((answer.status, answer.inner_calls), (200, 0));
    let text = answer.body["result"]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains("nobody to ask"), "{text}");
    let check = answer.record.snapshot().approval.expect("recorded");
    assert_eq!(check.reason.as_deref(), Some("no_person"));
}

#[tokio::test]
async fn a_person_is_not_flooded_with_approval_requests() {
    // The issuer cannot be reached, but every first call counts as one request sent: the sixth
    // in a minute is refused before any attempt.
    let noon = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
    let layer = layer().clock(move || noon);
    let alice = Principal::builder("https://idp.example", "alice", BearerToken::new("t")).build();
    let mut reasons = Vec::new();
    for _ in 0..6 {
        let body = call("transfer_funds");
        let answer = send_through(&layer, alice.clone(), body, "2026-07-28", false).await;
        let check = answer.record.snapshot().approval.expect("recorded");
        reasons.push(check.reason.unwrap_or_default());
    }
    assert_eq!(reasons[..5], ["request_failed"; 5]);
    assert_eq!(reasons[5], "too_many_requests");
}

#[tokio::test]
async fn arguments_too_long_to_show_whole_are_refused_not_clipped() {
    let padded = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "transfer_funds",
                   "arguments": {"a_padding": "x".repeat(2000), "amount": 1_000_000}}});
    let answer = send(padded, "2026-07-28", false).await;
    assert_eq!((answer.status, answer.inner_calls), (200, 0));
    let check = answer.record.snapshot().approval.expect("recorded");
    assert_eq!(check.reason.as_deref(), Some("arguments_too_long"));
}

#[tokio::test]
async fn a_policys_demand_for_approval_without_an_approval_layer_is_refused() {
    let inner = tower::service_fn(|_req: Request<AuthBody<String>>| async {
        Ok::<_, Infallible>(Response::new(http_body_util::Full::new(Bytes::new())))
    });
    let service = tower_layer::Layer::layer(&ApprovalLayer::disabled(), inner);
    let text = call("balance").to_string();
    let mut req = Request::post("/mcp")
        .body(AuthBody::full(text.clone()))
        .unwrap();
    req.extensions_mut()
        .insert(McpRequest::parse(text.as_bytes(), &Default::default()).unwrap());
    req.extensions_mut().insert(ApprovalRequired {
        by: "policy-1".into(),
    });
    let response = service.oneshot(req).await.unwrap();
    assert_eq!(response.status(), 403);
}
