//! The repeated-token hot path's pieces, timed natively in process, beside the alternatives
//! proposed in the report. Run pinned to one core:
//!
//!   taskset -c 1 cargo run --release --example hotpath
//!
//! - the verified-token cache key: SHA-256 of the whole token (today) against a seeded fast hash
//!   of it (quick_cache's own default, foldhash) plus a full comparison on a hit, plain or in
//!   constant time;
//! - `Verifier::verify` of a cached token, `McpRequest::parse` of the benchmark's body and
//!   `ScopePolicy::decide` for it.
#![forbid(unsafe_code)]

use std::hash::{BuildHasher, Hasher};
use std::hint::black_box;
use std::time::Instant;

use mcp_auth::{
    InspectLimits, IssuerConfig, McpRequest, Requirement, ResourceId, ScopePolicy, Scopes, Verifier,
};
use mcp_auth_loadbench::{CLIENT_ID, REQUEST_BODY, RESOURCE, SCOPE, TOOL};
use mcp_auth_testing::MockIssuer;
use sha2::{Digest, Sha256};

/// Nanoseconds per call of `f`, median of 7 trials of `n` calls.
fn time(n: u32, mut f: impl FnMut()) -> f64 {
    let mut trials: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .collect();
    trials.sort_by(f64::total_cmp);
    trials[3]
}

/// Equality whose time does not depend on where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let token = issuer
        .token()
        .client_id(CLIENT_ID)
        .scope(SCOPE)
        .claim("nbf", mcp_auth_testing::now())
        .sign();
    println!("token: {} bytes (RS256)", token.len());
    let n = 200_000;

    let sha = time(n, || {
        black_box(Sha256::digest(black_box(token.as_bytes())));
    });
    let seeded = foldhash::quality::RandomState::default();
    let stored = token.clone();
    let fast = time(n, || {
        let mut h = seeded.build_hasher();
        h.write(black_box(token.as_bytes()));
        black_box(h.finish());
        black_box(black_box(stored.as_bytes()) == black_box(token.as_bytes()));
    });
    let fast_ct = time(n, || {
        let mut h = seeded.build_hasher();
        h.write(black_box(token.as_bytes()));
        black_box(h.finish());
        black_box(constant_time_eq(
            black_box(stored.as_bytes()),
            black_box(token.as_bytes()),
        ));
    });
    println!("cache key   SHA-256 of the token (today)          {sha:>8.1} ns");
    println!("cache key   foldhash + memcmp on hit              {fast:>8.1} ns");
    println!("cache key   foldhash + constant-time compare      {fast_ct:>8.1} ns");

    let verifier = Verifier::builder(ResourceId::parse(RESOURCE).unwrap())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()
        .unwrap();
    verifier.verify(&token).await.unwrap();
    let start = Instant::now();
    let hits = 200_000;
    for _ in 0..hits {
        black_box(verifier.verify(black_box(&token)).await.unwrap());
    }
    let hit = start.elapsed().as_nanos() as f64 / f64::from(hits);
    println!("verify      cache hit (SHA-256 included)          {hit:>8.1} ns");

    let limits = InspectLimits::default();
    let parse = time(n, || {
        black_box(McpRequest::parse(black_box(REQUEST_BODY.as_bytes()), &limits).unwrap());
    });
    println!("inspect     McpRequest::parse                     {parse:>8.1} ns");
    let policy = ScopePolicy::builder()
        .required(Requirement::all(SCOPE))
        .tool(TOOL, Requirement::all(SCOPE))
        .build()
        .unwrap();
    let request = McpRequest::parse(REQUEST_BODY.as_bytes(), &limits).unwrap();
    let granted = Scopes::parse(SCOPE);
    let decide = time(n, || {
        black_box(policy.decide(black_box(&granted), Some(black_box(&request))));
    });
    println!("scopes      ScopePolicy::decide                   {decide:>8.1} ns");
}
