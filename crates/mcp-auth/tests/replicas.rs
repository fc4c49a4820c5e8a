//! The `[redis]` table: two stacks built from one file (which also follows the client approvals
//! in Redis) share DPoP proofs through a real redis-server.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use mcp_auth::McpAuth;
use mcp_auth_testing::MockIssuer;
use serde_json::json;
use tower::{Layer, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";

fn base(issuer: &MockIssuer) -> String {
    format!(
        "resource = \"{RESOURCE}\"\n[[issuers]]\nissuer = \"{}\"\njwks_uri = \"{}\"\n[fetch]\nallow_loopback = true\n",
        issuer.issuer(),
        issuer.jwks_uri()
    )
}

fn call(tool: &str) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}})
}

/// Sends one DPoP-presented request through a stack built from `toml`.
async fn send_dpop(auth: &mcp_auth::McpAuthLayer, token: &str, proof: &str) -> u16 {
    let inner = tower::service_fn(|_req: Request<_>| async move {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let request = Request::post(RESOURCE)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(call("t").to_string())))
        .unwrap();
    auth.layer(inner)
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_redis_table_shares_dpop_proofs_between_replicas_built_from_one_file() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let redis = mcp_auth_testing::RedisServer::start().await;
    let toml = format!(
        "{}[redis]\nurl = \"{}\"\nkey_prefix = \"config-test\"\n[clients]\npolicy = \"registry\"\nregistry = \"redis\"\npre_registered = \"all\"\n",
        base(&issuer),
        redis.url()
    );
    // A later adjustment of the verifier keeps the file's replay store.
    let replica = || {
        McpAuth::from_toml(&toml)
            .unwrap()
            .verifier(|v| v.token_cache_capacity(1_000))
            .build()
            .unwrap()
    };
    let (a, b) = (replica(), replica());
    let key = mcp_auth_testing::SigningKey::generate(mcp_auth::jwt::Algorithm::ES256, "client");
    let token = issuer
        .token()
        .claim("cnf", json!({"jkt": key.thumbprint().unwrap()}))
        .sign();
    let proof = key.dpop_proof("POST", RESOURCE, &token).sign();
    assert_eq!(send_dpop(&a, &token, &proof).await, 200);
    assert_eq!(
        send_dpop(&b, &token, &proof).await,
        401,
        "replayed on the other replica"
    );
    let keys = redis.command(&["KEYS", "config-test:dpop:*"]).await;
    assert!(keys.contains("config-test:dpop:"), "{keys}");

    // `registry = "redis"` without a [redis] table names the key and the fix.
    let err = match McpAuth::from_toml(&format!(
        "{}[clients]\npolicy = \"registry\"\nregistry = \"redis\"\n",
        base(&issuer)
    )) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("clients.registry") && err.contains("[redis]"),
        "{err}"
    );
}

#[tokio::test]
async fn what_the_replay_store_does_while_redis_is_away_is_the_files_choice() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let redis = mcp_auth_testing::RedisServer::start().await;
    let stack = |choice: &str| {
        McpAuth::from_toml(&format!(
            "{}[redis]\nurl = \"{}\"\n{choice}",
            base(&issuer),
            redis.url()
        ))
        .and_then(|b| b.build())
    };
    let (strict, serving) = (
        stack("").unwrap(),
        stack("replay_while_away = \"local\"\n").unwrap(),
    );
    let key = mcp_auth_testing::SigningKey::generate(mcp_auth::jwt::Algorithm::ES256, "client");
    let token = issuer
        .token()
        .claim("cnf", json!({"jkt": key.thumbprint().unwrap()}))
        .sign();
    redis.stop().await;
    let proof = || key.dpop_proof("POST", RESOURCE, &token).sign();
    assert_eq!(send_dpop(&strict, &token, &proof()).await, 503, "refuse");
    let used = proof();
    assert_eq!(send_dpop(&serving, &token, &used).await, 200, "local");
    assert_eq!(
        send_dpop(&serving, &token, &used).await,
        401,
        "still no replay on the replica that saw it"
    );

    let err = match stack("replay_while_away = \"open\"\n") {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("refuse") && err.contains("local"),
        "names the choices: {err}"
    );
}
