//! What approval costs: an ungated call through the enabled layer beside the disabled layer
//! (the stack's default), and a gated round's local work (the digest, one AEAD open, one seal)
//! beside parsing the same request, all in the same run. A round's one token-endpoint call is
//! the authorization server's time, not measured here.
//!
//! Run: `cargo bench -p mcp-auth-approval --bench round`

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use mcp_auth_approval::internals::{first_state, next_state};
use mcp_auth_approval::{ApprovalLayer, CallFacts, CibaClient, SecretKeys};
use mcp_auth_core::mcp::McpRequest;
use mcp_auth_core::{AuthBody, BearerToken, Principal, ResourceId};
use mcp_auth_fetch::FetchPolicy;
use mcp_auth_obo::ClientAuth;
use serde_json::json;
use tower::{Service, ServiceExt as _};

fn request(body: &Bytes, principal: &Principal, mcp: &McpRequest) -> Request<AuthBody<String>> {
    let mut req = Request::post("/mcp")
        .header("mcp-protocol-version", "2026-07-28")
        .body(AuthBody::full(body.clone()))
        .unwrap();
    req.extensions_mut().insert(mcp.clone());
    req.extensions_mut().insert(principal.clone());
    req
}

fn benches(c: &mut Criterion) {
    let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
    let keys = SecretKeys::new("k1", &[7; 32]).unwrap();
    let ciba = CibaClient::new(
        ClientAuth::client_secret_basic("mcp-server", "s3cret"),
        FetchPolicy::default(),
    )
    .unwrap();
    let enabled = ApprovalLayer::new(ciba, keys.clone(), &resource)
        .tool("transfer_funds")
        .tool("delete_*");
    let disabled = ApprovalLayer::disabled();
    let principal =
        Principal::builder("https://issuer.example", "alice", BearerToken::new("t")).build();
    let body = Bytes::from(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "search", "arguments": {"query": "quarterly report", "limit": 10}}})
        .to_string(),
    );
    let mcp = McpRequest::parse(&body, &Default::default()).unwrap();
    let inner = tower::service_fn(|_req: Request<AuthBody<String>>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("approval/ungated call");
    for (name, layer) in [("layer disabled", &disabled), ("layer enabled", &enabled)] {
        let service = tower_layer::Layer::layer(layer, inner);
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut service = service.clone();
                runtime.block_on(async {
                    let service = service.ready().await.unwrap();
                    black_box(
                        service
                            .call(request(&body, &principal, &mcp))
                            .await
                            .unwrap(),
                    )
                })
            });
        });
    }
    group.finish();

    let arguments = json!({"amount": 2500, "to": "ACME-7", "memo": "invoice 2026-114"});
    let facts = CallFacts {
        issuer: "https://issuer.example",
        subject: "alice",
        client: Some("https://app.example/client.json"),
        resource: resource.as_str(),
        tool: "transfer_funds",
        arguments: &arguments,
    };
    let sealed = first_state(&keys, &facts).unwrap();
    let gated = Bytes::from(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "transfer_funds", "arguments": arguments, "requestState": sealed}})
        .to_string(),
    );
    let mut group = c.benchmark_group("approval/gated round, local work");
    group.bench_function("parse the retry (baseline)", |b| {
        b.iter(|| black_box(McpRequest::parse(black_box(&gated), &Default::default()).unwrap()));
    });
    group.bench_function("digest + open + seal", |b| {
        b.iter(|| black_box(next_state(&keys, black_box(&facts), black_box(&sealed)).unwrap()));
    });
    group.finish();
}

criterion_group!(round, benches);
criterion_main!(round);
