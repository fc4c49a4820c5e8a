//! The test kit against the whole stack: real tokens, listings filtered, every asynchronous path
//! calling the inner service that was polled ready.

use std::time::Duration;

use mcp_auth::{FetchPolicy, IssuerConfig, McpAuth, McpAuthLayer, Requirement, ScopePolicy};
use mcp_auth_testing::{MockIssuer, MockMcpService, PolicyProbe, StrictReadiness};
use tower::{Layer, Service, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";

fn policy() -> ScopePolicy {
    ScopePolicy::builder()
        .required(Requirement::all("files:read"))
        .tool("read_file", Requirement::none())
        .tool("write_file", Requirement::all("files:write"))
        .build()
        .unwrap()
}

/// A stack that must fetch the issuer's keys (discovery, then JWKS) on first sight.
fn stack(issuer: &MockIssuer) -> McpAuthLayer {
    McpAuth::builder(RESOURCE)
        .issuer(IssuerConfig::discover(issuer.issuer()))
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .scopes(policy())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_whole_stack_with_real_tokens() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let probe = PolicyProbe::with_tokens(stack(&issuer), issuer.token())
        .server(MockMcpService::new().tool("read_file").tool("write_file"));
    probe
        .call_tool("files:read", "read_file")
        .await
        .assert_allowed();
    probe
        .call_tool("files:read", "write_file")
        .await
        .assert_step_up("files:read files:write");
    assert_eq!(probe.list_tools("files:read").await.listed(), ["read_file"]);
    assert_eq!(
        probe.list_tools("files:read files:write").await.listed(),
        ["read_file", "write_file"]
    );
    probe
        .without_token()
        .call_tool("", "read_file")
        .await
        .assert_unauthorized();
}

#[tokio::test]
async fn every_asynchronous_path_calls_the_instance_polled_ready() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let inner = StrictReadiness::new(MockMcpService::new());
    let calls = inner.call_counter();
    let mut service = stack(&issuer).layer(inner);
    let token = issuer.token().scope("files:read").sign();
    // The first request reads its body and fetches the keys; the second reads its body and
    // hits the verified-token cache.
    for _ in 0..2 {
        let request = http::Request::post("/mcp")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file"}}"#,
            )))
            .unwrap();
        let ready =
            ServiceExt::<http::Request<http_body_util::Full<bytes::Bytes>>>::ready(&mut service)
                .await
                .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(10), ready.call(request))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(issuer.jwks_fetches(), 1);
}
