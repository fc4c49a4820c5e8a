//! Cost of client identity on the hot path: `CimdLayer` deciding a cached client, beside the
//! verification layer's cache hit, the two stacked, and a bare no-op service, in one run.
//!
//! Run: `cargo bench -p mcp-auth-cimd --bench cimd`

#[path = "../tests/support/mod.rs"]
mod support;

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Empty;
use mcp_auth_cimd::{CimdLayer, ClientPolicy, ClientResolver, Registry};
use mcp_auth_core::{BearerToken, Principal, ResourceId};
use mcp_auth_fetch::FetchPolicy;
use mcp_auth_jwt::{IssuerConfig, Verifier, VerifyLayer};
use mcp_auth_testing::MockIssuer;
use support::{DocServer, Reply, document, temp_dir};
use tower::{Service, ServiceBuilder};

const RESOURCE: &str = "https://mcp.example.com/mcp";

async fn noop(_req: Request<Empty<Bytes>>) -> Result<Response<Empty<Bytes>>, Infallible> {
    Ok(Response::new(Empty::new()))
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // A document server on loopback, resolved once so every benchmarked request is a cache hit.
    let server = rt.block_on(DocServer::http());
    let client_id = server.url("/client.json");
    server.set(
        "/client.json",
        Reply::json(&document(&client_id, "https://client.example/cb"))
            .header("cache-control", "max-age=86400"),
    );
    let resolver = ClientResolver::builder()
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .build()
        .unwrap();
    rt.block_on(resolver.resolve(&client_id)).unwrap();

    let registry_path = temp_dir("bench").join("mcp-clients.json");
    let registry = Registry::open_or_empty(&registry_path).unwrap();
    registry
        .approve(&resolver.cached(&client_id).unwrap())
        .unwrap();

    let issuer = rt.block_on(MockIssuer::builder().audience(RESOURCE).start());
    let token = issuer
        .token()
        .scope("mcp:read")
        .client_id(&client_id)
        .sign();
    let verifier = Verifier::builder(ResourceId::parse(RESOURCE).unwrap())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()
        .unwrap();
    let header = format!("Bearer {token}");
    let principal = Principal::builder(issuer.issuer(), "alice", BearerToken::new(token.clone()))
        .client_id(&client_id)
        .build();

    let with_principal = || {
        let mut request = Request::post("/mcp").body(Empty::new()).unwrap();
        request.extensions_mut().insert(principal.clone());
        request
    };
    let with_token = || {
        Request::post("/mcp")
            .header("authorization", &header)
            .body(Empty::new())
            .unwrap()
    };

    let mut group = c.benchmark_group("cache_hit");

    let mut bare = ServiceBuilder::new().service_fn(noop);
    group.bench_function("noop_service_alone", |b| {
        b.to_async(&rt).iter(|| {
            let future = bare.call(with_principal());
            async move { black_box(future.await.unwrap()) }
        })
    });

    let mut verify = ServiceBuilder::new()
        .layer(VerifyLayer::new(verifier.clone()))
        .service_fn(noop);
    group.bench_function("verify_layer_noop_service", |b| {
        b.to_async(&rt).iter(|| {
            let future = verify.call(with_token());
            async move { black_box(future.await.unwrap()) }
        })
    });

    let mut any_valid = ServiceBuilder::new()
        .layer(CimdLayer::new(
            resolver.clone(),
            ClientPolicy::any_valid_document(),
        ))
        .service_fn(noop);
    group.bench_function("cimd_layer_any_valid_noop_service", |b| {
        b.to_async(&rt).iter(|| {
            let future = any_valid.call(with_principal());
            async move { black_box(future.await.unwrap()) }
        })
    });

    let mut approved = ServiceBuilder::new()
        .layer(CimdLayer::new(
            resolver.clone(),
            ClientPolicy::registry(registry.clone()),
        ))
        .service_fn(noop);
    group.bench_function("cimd_layer_registry_noop_service", |b| {
        b.to_async(&rt).iter(|| {
            let future = approved.call(with_principal());
            async move { black_box(future.await.unwrap()) }
        })
    });

    let mut stacked = ServiceBuilder::new()
        .layer(VerifyLayer::new(verifier))
        .layer(CimdLayer::new(
            resolver.clone(),
            ClientPolicy::registry(registry),
        ))
        .service_fn(noop);
    group.bench_function("verify_then_cimd_registry_noop_service", |b| {
        b.to_async(&rt).iter(|| {
            let future = stacked.call(with_token());
            async move {
                let response = future.await.unwrap();
                assert_eq!(response.status(), 200);
                black_box(response)
            }
        })
    });
    group.finish();

    assert_eq!(
        server.requests(),
        1,
        "every benchmarked request was a cache hit"
    );
}

criterion_group! {
    name = cimd;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(50);
    targets = benches
}
criterion_main!(cimd);
