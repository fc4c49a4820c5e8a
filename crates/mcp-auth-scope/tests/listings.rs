//! Listings of every kind are filtered, alone and inside batches; undeclared resources and
//! prompts fail closed; `Mcp-Method` / `Mcp-Name` headers never decide; gRPC callers are refused
//! in gRPC.

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use mcp_auth_core::middleware::inspect::McpInspectLayer;
use mcp_auth_core::{BearerToken, Principal, ResourceId, Scopes};
use mcp_auth_scope::{Requirement, ScopeLayer, ScopePolicy};
use mcp_auth_testing::{MockMcpService, PolicyProbe};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt};

fn policy() -> ScopePolicy {
    ScopePolicy::builder()
        .method("tools/list", Requirement::none())
        .method("resources/list", Requirement::none())
        .method("prompts/list", Requirement::none())
        .tool("read_file", Requirement::all("files:read"))
        .tool("delete_file", Requirement::all("files:admin"))
        .resource("file:///public/{name}", Requirement::none())
        .resource("prefix:file:///secret/", Requirement::all("secrets:read"))
        .prompt("summarise", Requirement::none())
        .prompt("audit_report", Requirement::all("audit:read"))
        .build()
        .unwrap()
}

fn resource() -> ResourceId {
    ResourceId::parse("https://mcp.example.com/mcp").unwrap()
}

fn probe() -> PolicyProbe<ScopeLayer> {
    PolicyProbe::new(ScopeLayer::new(policy(), &resource())).server(
        MockMcpService::new()
            .tool("read_file")
            .tool("delete_file")
            .tool("undeclared_tool")
            .resource("file:///public/readme")
            .resource("file:///secret/keys")
            .resource("file:///elsewhere/undeclared")
            .prompt("summarise")
            .prompt("audit_report")
            .prompt("undeclared_prompt"),
    )
}

fn request(method: &str, id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method})
}

#[tokio::test]
async fn resource_and_prompt_listings_show_only_what_the_caller_may_use() {
    let probe = probe();
    let outcome = probe.send("", request("resources/list", 1)).await;
    outcome.assert_allowed();
    assert_eq!(outcome.listed(), ["file:///public/readme"]);
    let outcome = probe
        .send("secrets:read", request("resources/list", 1))
        .await;
    assert_eq!(
        outcome.listed(),
        ["file:///public/readme", "file:///secret/keys"]
    );
    assert_eq!(
        probe.send("", request("prompts/list", 1)).await.listed(),
        ["summarise"]
    );
    assert_eq!(
        probe
            .send("audit:read", request("prompts/list", 1))
            .await
            .listed(),
        ["summarise", "audit_report"]
    );
    assert_eq!(probe.list_tools("files:read").await.listed(), ["read_file"]);
}

#[tokio::test]
async fn undeclared_resources_and_prompts_fail_closed() {
    let probe = probe();
    let read = json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read",
                      "params": {"uri": "file:///elsewhere/undeclared"}});
    probe
        .send("secrets:read files:admin", read)
        .await
        .assert_forbidden();
    let get = json!({"jsonrpc": "2.0", "id": 1, "method": "prompts/get",
                     "params": {"name": "undeclared_prompt"}});
    probe
        .send("audit:read files:admin", get)
        .await
        .assert_forbidden();
    probe
        .call_tool("files:read files:admin", "undeclared_tool")
        .await
        .assert_forbidden();
}

/// Sends one JSON-RPC body through the inspector and the scope layer as `scopes`, with extra
/// request headers; the mock server answers listings with everything it has.
async fn send_raw(scopes: &str, body: String, headers: &[(&str, &str)]) -> (u16, Value) {
    let service = ServiceBuilder::new()
        .layer(McpInspectLayer::new())
        .layer(ScopeLayer::new(policy(), &resource()))
        .service(MockMcpService::new().tool("read_file").tool("delete_file"));
    let mut request = Request::post("/mcp");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Full::new(Bytes::from(body))).unwrap();
    request.extensions_mut().insert(
        Principal::builder("https://issuer.test", "alice", BearerToken::new("t"))
            .scopes(Scopes::parse(scopes))
            .build(),
    );
    let response = service.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        json!({"grpc-status": headers.get("grpc-status").map(|v| v.to_str().unwrap().to_owned())})
    });
    (status, body)
}

#[tokio::test]
async fn mcp_method_and_name_headers_never_decide() {
    let forbidden = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                           "params": {"name": "delete_file"}})
    .to_string();
    // The headers name a permitted tool; the body calls a forbidden one.
    let (status, body) = send_raw(
        "files:read",
        forbidden,
        &[("mcp-method", "tools/call"), ("mcp-name", "read_file")],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "insufficient_scope");
    // And the other way round: headers naming a forbidden tool do not refuse a permitted call.
    let permitted = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                           "params": {"name": "read_file"}})
    .to_string();
    let (status, _) = send_raw(
        "files:read",
        permitted,
        &[("mcp-method", "tools/call"), ("mcp-name", "delete_file")],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_batch_is_refused_whole_when_one_message_is_not_allowed() {
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "delete_file"}},
    ]);
    probe()
        .send("files:read", batch)
        .await
        .assert_step_up("files:admin files:read");
}

#[tokio::test]
async fn listings_inside_a_batch_are_filtered_each() {
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 2, "method": "prompts/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "resources/list"},
    ]);
    let outcome = probe().send("files:read", batch).await;
    outcome.assert_allowed();
    let answers = outcome.body.as_array().expect("a batch answer");
    let names = |i: usize, list: &str, key: &str| -> Vec<String> {
        answers[i]["result"][list]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item[key].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(0, "tools", "name"), ["read_file"]);
    assert_eq!(names(1, "prompts", "name"), ["summarise"]);
    assert_eq!(names(2, "resources", "uri"), ["file:///public/readme"]);
}

#[tokio::test]
async fn a_grpc_caller_is_refused_with_permission_denied() {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "delete_file"}})
    .to_string();
    // gRPC requests are not JSON-RPC: the scope layer decides them by the base rule and refuses
    // in gRPC, with status 7 (permission denied) and the challenge in the metadata.
    let strict = ScopePolicy::builder()
        .required(Requirement::all("grpc:call"))
        .build()
        .unwrap();
    let service = ServiceBuilder::new()
        .layer(McpInspectLayer::new())
        .layer(ScopeLayer::new(strict, &resource()))
        .service(MockMcpService::new());
    let mut request = Request::post("/grpc.health.v1.Health/Check")
        .header("content-type", "application/grpc")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    request
        .extensions_mut()
        .insert(Principal::builder("https://issuer.test", "alice", BearerToken::new("t")).build());
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "7");
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"scope="grpc:call""#)
    );
}
