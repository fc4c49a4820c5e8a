//! The whole stack as deployed (audit to a file, metadata, inspection, verification, client
//! identity, scopes) around a no-op service, beside the no-op service alone, in one run.
//!
//! Run: `cargo bench -p mcp-auth --bench stack`

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth::audit::{Auditor, JsonLinesFile};
use mcp_auth::cimd::{ClientPolicy, ClientResolver, PreRegisteredClients};
use mcp_auth::{IssuerConfig, McpAuth, Requirement, ScopePolicy};
use mcp_auth_testing::MockIssuer;
use tower::{Layer, Service};

const RESOURCE: &str = "https://mcp.example.com/mcp";

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let issuer = rt.block_on(MockIssuer::builder().audience(RESOURCE).start());
    let dir = std::env::temp_dir().join(format!("mcp-auth-stack-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let auditor = Auditor::builder()
        .sink(JsonLinesFile::open(dir.join("audit.jsonl")).unwrap())
        .start();
    let auth = McpAuth::builder(RESOURCE)
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .scopes(
            ScopePolicy::builder()
                .required(Requirement::all("mcp:read"))
                .tool("search", Requirement::all("mcp:read"))
                .build()
                .unwrap(),
        )
        .clients(
            ClientResolver::builder().build().unwrap(),
            ClientPolicy::any_valid_document().pre_registered(PreRegisteredClients::all()),
        )
        .audit(auditor.clone())
        .build()
        .unwrap();
    let handler = tower::service_fn(|_req: Request<_>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        ))))
    });
    let mut bare = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        ))))
    });
    let mut stack = auth.layer(handler);
    let token = issuer.token().scope("mcp:read").sign();
    let header = format!("Bearer {token}");
    let body = Bytes::from_static(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"q":"x"}}}"#);
    let request = || {
        Request::post("/mcp")
            .header("authorization", &header)
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .unwrap()
    };

    // What is measured is an allowed call: a refusal would be cheaper and look fast.
    let first = rt.block_on(stack.call(request())).unwrap();
    assert_eq!(
        first.status(),
        200,
        "the benchmarked request must be allowed"
    );

    let mut group = c.benchmark_group("stack");
    group.bench_function("noop_service_alone", |b| {
        b.to_async(&rt).iter(|| {
            let future = bare.call(request());
            async move { black_box(future.await.unwrap().into_body().collect().await.unwrap()) }
        })
    });
    group.bench_function("full_stack_repeated_token", |b| {
        b.to_async(&rt).iter(|| {
            let future = stack.call(request());
            async move { black_box(future.await.unwrap().into_body().collect().await.unwrap()) }
        })
    });
    group.finish();
    auditor.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = stack;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(50);
    targets = benches
}
criterion_main!(stack);
