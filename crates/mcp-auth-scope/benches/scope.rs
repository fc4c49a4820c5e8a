//! Cost of scope decisions and listing filters, each beside plain serde_json work on the same
//! bytes in the same run.
//!
//! Run: `cargo bench -p mcp-auth-scope --bench scope`

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth_core::mcp::{InspectLimits, McpRequest};
use mcp_auth_core::middleware::inspect::McpInspectLayer;
use mcp_auth_core::{AuthBody, BearerToken, Principal, ResourceId, Scopes};
use mcp_auth_scope::{Requirement, ScopeHierarchy, ScopeLayer, ScopePolicy};
use serde_json::json;
use tower::{Service, ServiceBuilder};

fn policy() -> ScopePolicy {
    let mut b = ScopePolicy::builder()
        .required(Requirement::all("mcp:read"))
        .tool("admin_*", Requirement::all("mcp:admin"))
        .hierarchy(
            ScopeHierarchy::new([("mcp:admin", ["mcp:write"]), ("mcp:write", ["mcp:read"])])
                .unwrap(),
        );
    for i in 0..200 {
        let need = if i % 2 == 0 { "mcp:read" } else { "mcp:write" };
        b = b.tool(&format!("tool_{i}"), Requirement::all(need));
    }
    b.build().unwrap()
}

fn call(i: usize) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
           "params": {"name": format!("tool_{}", i * 2), "arguments": {"query": "weather in Lisbon", "limit": 10}}})
}

fn benches(c: &mut Criterion) {
    let policy = policy();
    let granted = Scopes::parse("mcp:read");
    let single = Bytes::from(call(1).to_string());
    let batch = Bytes::from(serde_json::Value::Array((0..10).map(call).collect()).to_string());
    let limits = InspectLimits::default();

    let mut group = c.benchmark_group("decision");
    group.bench_function("serde_json_parse_single", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(&single).unwrap()))
    });
    group.bench_function("inspect_and_decide_single", |b| {
        b.iter(|| {
            let mcp = McpRequest::parse(&single, &limits).unwrap();
            black_box(policy.decide(&granted, Some(&mcp)).is_allowed())
        })
    });
    group.bench_function("serde_json_parse_batch10", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(&batch).unwrap()))
    });
    group.bench_function("inspect_and_decide_batch10", |b| {
        b.iter(|| {
            let mcp = McpRequest::parse(&batch, &limits).unwrap();
            black_box(policy.decide(&granted, Some(&mcp)).is_allowed())
        })
    });
    group.finish();

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let tools: Vec<_> = (0..200)
        .map(|i| json!({"name": format!("tool_{i}"), "description": "Does one thing well, with a fairly long description as real servers write them.",
                        "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}}}))
        .collect();
    let listing =
        Bytes::from(json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": tools}}).to_string());
    let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
    let answer = listing.clone();
    let mut svc = ServiceBuilder::new()
        .layer(McpInspectLayer::new())
        .layer(ScopeLayer::new(policy.clone(), &resource))
        .service_fn(move |_req: Request<AuthBody<Full<Bytes>>>| {
            let body = answer.clone();
            async move {
                let mut r = Response::new(Full::new(body));
                r.headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
                Ok::<_, Infallible>(r)
            }
        });
    let principal = Principal::builder("i", "s", BearerToken::new("t"))
        .scopes(granted.clone())
        .build();
    let list_request = Bytes::from_static(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);

    // What is measured is a listing actually filtered: an unfiltered pass-through would look fast.
    let filtered = rt.block_on(async {
        let mut request = Request::post("/mcp")
            .body(Full::new(list_request.clone()))
            .unwrap();
        request.extensions_mut().insert(principal.clone());
        let body = svc.call(request).await.unwrap().into_body();
        body.collect().await.unwrap().to_bytes()
    });
    let filtered: serde_json::Value = serde_json::from_slice(&filtered).unwrap();
    let kept = filtered["result"]["tools"].as_array().unwrap().len();
    assert!(
        kept > 0 && kept < 200,
        "the listing was not filtered ({kept} of 200 kept)"
    );

    let mut group = c.benchmark_group("listing_200_tools");
    group.bench_function("serde_json_parse_and_serialise", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(&listing).unwrap();
            black_box(serde_json::to_vec(&v).unwrap())
        })
    });
    group.bench_function("scope_layer_filtered_listing", |b| {
        b.to_async(&rt).iter(|| {
            let mut request = Request::post("/mcp")
                .body(Full::new(list_request.clone()))
                .unwrap();
            request.extensions_mut().insert(principal.clone());
            let future = svc.call(request);
            async move {
                black_box(
                    future
                        .await
                        .unwrap()
                        .into_body()
                        .collect()
                        .await
                        .unwrap()
                        .to_bytes(),
                )
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = scope;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(50);
    targets = benches
}
criterion_main!(scope);
