//! Cost of verification: first sight per algorithm, cache hit, and the whole layer — each beside
//! a bare `jsonwebtoken::decode` of the same token measured in the same run.
//!
//! Run: `cargo bench -p mcp-auth-jwt --bench verify`

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Empty;
use jsonwebtoken::{DecodingKey, Validation, decode};
use mcp_auth_core::ResourceId;
use mcp_auth_jwt::{Algorithm, IssuerConfig, Verifier, VerifyLayer};
use mcp_auth_testing::{MockIssuer, SigningKey};
use tower::{Service, ServiceBuilder};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const DISTINCT: usize = 400;

fn bare_decoding_key(key: &SigningKey) -> DecodingKey {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk().clone()).unwrap();
    DecodingKey::from_jwk(&jwk).unwrap()
}

fn bare_validation(alg: Algorithm, issuer: &str) -> Validation {
    let mut v = Validation::new(alg.name().parse().unwrap());
    v.set_audience(&[RESOURCE]);
    v.set_issuer(&[issuer]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("first_sight");
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let issuer = rt.block_on(MockIssuer::builder().audience(RESOURCE).key(alg).start());
        // Distinct tokens cycled through a cache far smaller than their number: every
        // verification is a first sight (signature check, claims, cache insertion).
        let tokens: Vec<String> = (0..DISTINCT)
            .map(|_| issuer.token().scope("mcp:read").sign())
            .collect();
        let verifier = Verifier::builder(ResourceId::parse(RESOURCE).unwrap())
            .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
            .token_cache_capacity(16)
            .build()
            .unwrap();
        let key = bare_decoding_key(&issuer.current_key());
        let validation = bare_validation(alg, issuer.issuer());
        let name = format!("{alg:?}");
        let mut i = 0;
        group.bench_function(BenchmarkId::new("jsonwebtoken_decode", &name), |b| {
            b.iter(|| {
                i = (i + 1) % DISTINCT;
                black_box(decode::<serde_json::Value>(&tokens[i], &key, &validation).unwrap())
            })
        });
        let mut i = 0;
        group.bench_function(BenchmarkId::new("mcp_auth_verify", &name), |b| {
            b.to_async(&rt).iter(|| {
                i = (i + 1) % DISTINCT;
                let token = &tokens[i];
                let verifier = &verifier;
                async move { black_box(verifier.verify(token).await.unwrap()) }
            })
        });
    }
    group.finish();

    let issuer = rt.block_on(MockIssuer::builder().audience(RESOURCE).start());
    let token = issuer.token().scope("mcp:read").sign();
    let verifier = Verifier::builder(ResourceId::parse(RESOURCE).unwrap())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()
        .unwrap();
    let key = bare_decoding_key(&issuer.current_key());
    let validation = bare_validation(Algorithm::RS256, issuer.issuer());

    let mut group = c.benchmark_group("repeat_token");
    group.bench_function("jsonwebtoken_decode_RS256", |b| {
        b.iter(|| black_box(decode::<serde_json::Value>(&token, &key, &validation).unwrap()))
    });
    group.bench_function("mcp_auth_verify_cache_hit", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(verifier.verify(&token).await.unwrap()) })
    });

    let mut service = ServiceBuilder::new()
        .layer(VerifyLayer::new(verifier.clone()))
        .service_fn(|_req: Request<Empty<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        });
    let header = format!("Bearer {token}");
    group.bench_function("verify_layer_cache_hit_noop_service", |b| {
        b.to_async(&rt).iter(|| {
            let request = Request::post("/mcp")
                .header("authorization", &header)
                .body(Empty::new())
                .unwrap();
            let future = service.call(request);
            async move { black_box(future.await.unwrap()) }
        })
    });
    let mut bare = ServiceBuilder::new().service_fn(|_req: Request<Empty<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
    });
    group.bench_function("noop_service_alone", |b| {
        b.to_async(&rt).iter(|| {
            let request = Request::post("/mcp")
                .header("authorization", &header)
                .body(Empty::new())
                .unwrap();
            let future = bare.call(request);
            async move { black_box(future.await.unwrap()) }
        })
    });
    group.finish();
    dpop(c, &rt);
}

/// A DPoP presentation of a cached bound token (the proof checked in full, its `jti` recorded)
/// beside a bare `jsonwebtoken::decode` of an ES256 JWT of the same size, and beside the same
/// token's cache hit as a bearer token. Proofs are made outside the timing, one per request.
fn dpop(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let mut group = c.benchmark_group("dpop");
    let issuer = rt.block_on(MockIssuer::builder().audience(RESOURCE).start());
    let client = SigningKey::generate(Algorithm::ES256, "client");
    let bound = issuer
        .token()
        .claim(
            "cnf",
            serde_json::json!({"jkt": client.thumbprint().unwrap()}),
        )
        .sign();
    let verifier = Verifier::builder(ResourceId::parse(RESOURCE).unwrap())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()
        .unwrap();
    let mut service = ServiceBuilder::new()
        .layer(VerifyLayer::new(verifier))
        .service_fn(|_req: Request<Empty<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        });
    let header = format!("DPoP {bound}");
    group.bench_function("verify_layer_dpop_proof_cached_token", |b| {
        b.to_async(rt).iter_batched(
            || client.dpop_proof("POST", RESOURCE, &bound).sign(),
            |proof| {
                let request = Request::post(RESOURCE)
                    .header("authorization", &header)
                    .header("dpop", proof)
                    .body(Empty::new())
                    .unwrap();
                let future = service.call(request);
                async move {
                    let response = future.await.unwrap();
                    assert_eq!(response.status(), 200, "the proof was accepted");
                    black_box(response)
                }
            },
            criterion::BatchSize::SmallInput,
        )
    });
    // The baseline: one ES256 signature check of a JWT of the proof's size.
    let proof = client.dpop_proof("POST", RESOURCE, &bound).sign();
    let key = bare_decoding_key(&client);
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    group.bench_function("jsonwebtoken_decode_es256", |b| {
        b.iter(|| {
            black_box(decode::<serde_json::Value>(&proof, &key, &validation).unwrap());
        })
    });
    group.finish();
}

criterion_group! {
    name = verify;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(50);
    targets = benches
}
criterion_main!(verify);
