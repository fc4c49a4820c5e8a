//! `cargo bench -p mcp-auth-obo --bench obo`
//!
//! - `exchange/cache_hit`: `get_token_on_behalf_of` for a key already in the cache (the cost a
//!   handler pays on every call after the first).
//! - `exchange/first_call`: a cache miss that makes one real exchange with a local token
//!   endpoint (HTTP on loopback), for comparison.
//! - `exchange/100_concurrent_one_key`: a fresh client, 100 concurrent calls for one key; each
//!   iteration asserts the token endpoint saw exactly one exchange.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use mcp_auth_core::{BearerToken, Principal};
use mcp_auth_fetch::FetchPolicy;
use mcp_auth_obo::{ClientAuth, ExchangeRequest, TokenExchangeClient};
use tokio::runtime::Runtime;

struct TokenEndpoint {
    url: String,
    exchanges: Arc<AtomicUsize>,
}

async fn token(State(count): State<Arc<AtomicUsize>>) -> impl IntoResponse {
    let n = count.fetch_add(1, Ordering::SeqCst);
    let body = format!(
        r#"{{"access_token":"downstream-{n}","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3600,"scope":"api:read"}}"#
    );
    ([(header::CONTENT_TYPE, "application/json")], body)
}

fn start(rt: &Runtime) -> TokenEndpoint {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let exchanges = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/token", post(token))
            .with_state(exchanges.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TokenEndpoint { url, exchanges }
    })
}

fn client(endpoint: &TokenEndpoint) -> TokenExchangeClient {
    TokenExchangeClient::builder(ClientAuth::client_secret_basic("mcp-server", "secret"))
        .token_endpoint(endpoint.url.clone())
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .build()
        .unwrap()
}

fn caller(token: String) -> Principal {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    Principal::builder("https://as.example", "alice", BearerToken::new(token))
        .expires_at(exp)
        .build()
}

fn request() -> ExchangeRequest {
    ExchangeRequest::audience("https://api.example").scope("api:read")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let endpoint = start(&rt);
    let mut group = c.benchmark_group("exchange");

    let cached_client = client(&endpoint);
    let alice = caller("alice-token".into());
    rt.block_on(cached_client.get_token_on_behalf_of(&alice, request()))
        .unwrap();
    let before = endpoint.exchanges.load(Ordering::SeqCst);
    group.bench_function("cache_hit", |b| {
        b.to_async(&rt).iter(|| async {
            let token = cached_client
                .get_token_on_behalf_of(&alice, request())
                .await
                .unwrap();
            assert!(token.from_cache());
        })
    });
    assert_eq!(endpoint.exchanges.load(Ordering::SeqCst), before);

    let miss_client = client(&endpoint);
    let counter = AtomicUsize::new(0);
    group.bench_function("first_call", |b| {
        b.to_async(&rt).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let who = caller(format!("user-{n}"));
            let token = miss_client
                .get_token_on_behalf_of(&who, request())
                .await
                .unwrap();
            assert!(!token.from_cache());
        })
    });

    group.sample_size(30);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("100_concurrent_one_key", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for i in 0..iterations {
                let client = client(&endpoint);
                let who = caller(format!("concurrent-{i}"));
                let before = endpoint.exchanges.load(Ordering::SeqCst);
                let started = Instant::now();
                rt.block_on(async {
                    let calls: Vec<_> = (0..100)
                        .map(|_| {
                            let (client, who) = (client.clone(), who.clone());
                            tokio::spawn(async move {
                                client.get_token_on_behalf_of(&who, request()).await
                            })
                        })
                        .collect();
                    for call in calls {
                        call.await.unwrap().unwrap();
                    }
                });
                total += started.elapsed();
                let made = endpoint.exchanges.load(Ordering::SeqCst) - before;
                assert_eq!(
                    made, 1,
                    "100 concurrent calls for one key made {made} exchanges"
                );
            }
            total
        })
    });
    group.finish();
    println!(
        "100 concurrent calls per iteration, one key: exactly 1 exchange each (asserted); \
         {} exchanges in total during this run",
        endpoint.exchanges.load(Ordering::SeqCst)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
