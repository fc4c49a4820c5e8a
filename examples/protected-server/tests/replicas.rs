//! Two replicas of the example behind one public URL, sharing state through a real
//! redis-server with `--redis`: a DPoP proof accepted by one is refused by the other.

use mcp_auth_testing::{McpTestClient, MockIssuer, RedisServer, SigningKey};
use protected_server::{Options, Server, start};
use serde_json::json;

const PUBLIC: &str = "https://notes.example.com/mcp";

/// The replica's MCP endpoint on the address it listens on.
fn endpoint(server: &Server) -> String {
    format!("http://{}/mcp", server.addr)
}

#[tokio::test]
async fn a_proof_used_on_one_replica_is_refused_by_the_other() {
    let redis = RedisServer::start().await;
    let issuer = MockIssuer::builder().audience(PUBLIC).start().await;
    let replica = || {
        start(Options {
            listen: ([127, 0, 0, 1], 0).into(),
            resource: Some(PUBLIC.to_owned()),
            issuer: Some(issuer.issuer().to_owned()),
            redis: Some(redis.url()),
            ..Options::default()
        })
    };
    let (a, b) = (replica().await.unwrap(), replica().await.unwrap());
    let key = SigningKey::generate(mcp_auth_testing::Algorithm::ES256, "agent");
    let token = issuer
        .token()
        .scope("mcp:read")
        .claim("cnf", json!({"jkt": key.thumbprint().unwrap()}))
        .sign();
    let proof = key.dpop_proof("POST", PUBLIC, &token).sign();

    let on_a = McpTestClient::new(endpoint(&a)).dpop(&token, &proof);
    let reply = on_a.call_tool("whoami", json!({})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let on_b = McpTestClient::new(endpoint(&b)).dpop(&token, &proof);
    let reply = on_b.call_tool("whoami", json!({})).await;
    assert_eq!(
        reply.status, 401,
        "replayed on the other replica: {reply:?}"
    );
    assert_eq!(reply.body["error"], "invalid_dpop_proof", "{reply:?}");
    assert_eq!(
        reply.body["error_description"],
        "the DPoP proof was used before"
    );

    // A fresh proof passes on either.
    let fresh = key.dpop_proof("POST", PUBLIC, &token).sign();
    let reply = McpTestClient::new(endpoint(&b))
        .dpop(&token, &fresh)
        .call_tool("whoami", json!({}))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
}
