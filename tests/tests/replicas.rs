//! Two replicas of the example server (`protected_server::start`) sharing one real
//! `redis-server`, in front of the real oidc-provider, prove what the shared state promises:
//!
//! - a Client ID Metadata Document client approved once with the operator's command
//!   (`mcp-auth clients approve URL --registry redis://…`) is admitted by BOTH replicas within
//!   one second of the command's exit, and refused by both within one second of
//!   `mcp-auth clients revoke`; the client's token comes from oidc-provider's own
//!   authorization-code flow, having fetched the client's document over HTTPS (test CA) itself;
//! - a DPoP proof used with an oidc-provider token bound to the caller's key on one replica is
//!   refused when replayed on the other (401 `invalid_dpop_proof`, "the DPoP proof was used
//!   before"), while a fresh proof passes there;
//! - 50 concurrent `call_downstream` calls spread over both replicas (one shared downstream
//!   API, exchanged tokens sealed in Redis with one key) make exactly one token exchange, as
//!   oidc-provider itself counts them.
//!
//! Replicas share one public resource identifier, as behind a load balancer, and are reached on
//! their own ephemeral ports. The approval test runs the example from a configuration file
//! (`[redis]` with the default key prefix, the command's, and `[clients] registry = "redis"`). Nothing sleeps for a fixed time: changes are polled for, with deadlines.

#[path = "../../crates/mcp-auth-cimd/tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use mcp_auth_e2e::{Provider, client_credentials_client, jwt_claims, mcp_auth_cli};
use mcp_auth_testing::{Algorithm, McpReply, McpTestClient, RedisServer, SigningKey};
use protected_server::{Options, Server};
use serde_json::{Value, json};
use support::{DocServer, Reply, TestCa, temp_dir};

/// The replicas' one public resource identifier (the token audience, the DPoP `htu`).
const PUBLIC: &str = "https://notes.example.com/mcp";
const REDIRECT_URI: &str = "http://127.0.0.1:8976/callback";
const DOCUMENT_PATH: &str = "/oauth/client.json";
/// How soon every replica must follow an approval or a revocation.
const FOLLOW_WITHIN: Duration = Duration::from_secs(1);
const NOT_APPROVED: &str = "this client has not been approved by the server's operator";

/// A replica's MCP endpoint on the address it listens on.
fn endpoint(server: &Server) -> String {
    format!("http://{}/mcp", server.addr)
}

/// Calls `whoami` on `server` with `token` as a bearer token.
async fn whoami(server: &Server, token: &str) -> McpReply {
    McpTestClient::new(endpoint(server))
        .bearer(token)
        .call_tool("whoami", json!({}))
        .await
}

/// Polls `whoami` on every replica until each answers `status`, for at most [`FOLLOW_WITHIN`]
/// from `since`. Returns, per replica, when its first answer with that status had arrived and
/// that answer; panics naming the replicas that did not answer so in time, with their last
/// answer.
async fn until_every_replica_answers(
    replicas: &[&Server],
    token: &str,
    status: u16,
    since: Instant,
) -> Vec<(Duration, McpReply)> {
    let mut done: Vec<Option<(Duration, McpReply)>> = vec![None; replicas.len()];
    let mut last: Vec<Option<McpReply>> = vec![None; replicas.len()];
    while done.iter().any(Option::is_none) && since.elapsed() <= FOLLOW_WITHIN {
        for (i, replica) in replicas.iter().enumerate() {
            if done[i].is_none() {
                let reply = whoami(replica, token).await;
                if reply.status == status {
                    done[i] = Some((since.elapsed(), reply));
                } else {
                    last[i] = Some(reply);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let late: Vec<String> = done
        .iter()
        .zip(&last)
        .enumerate()
        .filter_map(|(i, (done, last))| match done {
            Some((after, _)) if *after <= FOLLOW_WITHIN => None,
            Some((after, _)) => Some(format!("replica {i}: only after {after:?}")),
            None => Some(format!("replica {i}: last answer {last:?}")),
        })
        .collect();
    assert!(
        late.is_empty(),
        "not every replica answered {status} within {FOLLOW_WITHIN:?}: {}",
        late.join("; ")
    );
    done.into_iter().flatten().collect()
}

/// A Client ID Metadata Document served over HTTPS on 127.0.0.1 (certificate from a test CA
/// made here), and oidc-provider fetching it as the client's identity.
struct CimdClient {
    dir: std::path::PathBuf,
    ca_file: std::path::PathBuf,
    client_id: String,
    provider: Provider,
    _documents: DocServer,
    _ca: TestCa,
}

impl CimdClient {
    async fn start(name: &str) -> Self {
        let dir = temp_dir(name);
        let ca = TestCa::new();
        let ca_file = ca.write_ca_file(&dir).unwrap();
        let documents = DocServer::https(&ca).await;
        let client_id = documents.url(DOCUMENT_PATH);
        documents.set(
            DOCUMENT_PATH,
            Reply::json(&json!({
                "client_id": client_id,
                "client_name": "Replicated CIMD client",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            })),
        );
        let provider = Provider::start(json!({
            "scopes": ["mcp:read", "mcp:write"],
            "resources": {PUBLIC: ["mcp:read", "mcp:write"]},
            "clientIdMetadataDocument": {
                "enabled": true,
                "allowLoopback": true,
                "caFile": ca_file,
            },
        }))
        .await;
        Self {
            dir,
            ca_file,
            client_id,
            provider,
            _documents: documents,
            _ca: ca,
        }
    }

    /// `mcp-auth clients VERB URL --registry REDIS` (approve fetches the document, so it gets
    /// the development switches), asserting success.
    async fn cli(&self, verb: &str, registry: &str) -> String {
        let ca_file = self.ca_file.to_str().unwrap();
        let mut args = vec!["clients", verb, &self.client_id, "--registry", registry];
        if verb == "approve" {
            args.extend(["--allow-loopback", "--ca-file", ca_file]);
        }
        let run = mcp_auth_cli(&args, &self.dir).await;
        assert_eq!(run.code, 0, "mcp-auth clients {verb}: {run:?}");
        run.stdout
    }
}

/// A replica of the example run from a configuration file: oidc-provider found by discovery,
/// client approvals followed in Redis (under the default key prefix, the one
/// `mcp-auth clients … --registry redis://…` writes), client documents fetched trusting the
/// test CA.
async fn replica_from_file(fx: &CimdClient, redis: &RedisServer) -> Server {
    let config = fx.dir.join("replica.toml");
    std::fs::write(
        &config,
        format!(
            "resource = \"{PUBLIC}\"\nchallenge_scope = \"mcp:read\"\n\
             [[issuers]]\nissuer = \"{}\"\n\
             [fetch]\nallow_loopback = true\n\
             [redis]\nurl = \"{}\"\n\
             [clients]\npolicy = \"registry\"\nregistry = \"redis\"\n",
            fx.provider.issuer,
            redis.url()
        ),
    )
    .unwrap();
    protected_server::start(Options {
        listen: ([127, 0, 0, 1], 0).into(),
        config: Some(config),
        ca_file: Some(fx.ca_file.clone()),
        ..Options::default()
    })
    .await
    .expect("replica starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_approved_with_the_cli_is_admitted_by_both_replicas_and_refused_once_revoked() {
    let fx = CimdClient::start("replicas-approvals").await;
    let redis = RedisServer::start().await;
    let (a, b) = (
        replica_from_file(&fx, &redis).await,
        replica_from_file(&fx, &redis).await,
    );
    let replicas = [&a, &b];

    // oidc-provider issues the CIMD client a token for the replicas' resource.
    let token = fx
        .provider
        .authorization_code(&fx.client_id, REDIRECT_URI, PUBLIC, "mcp:read")
        .await;
    let claims = jwt_claims(&token);
    assert_eq!(claims["client_id"], fx.client_id.as_str(), "{claims}");
    assert_eq!(claims["aud"], PUBLIC, "{claims}");

    // Not approved yet: a valid token of an unapproved client is refused by both.
    for replica in replicas {
        let reply = whoami(replica, &token).await;
        assert_eq!(reply.status, 403, "{reply:?}");
        assert_eq!(reply.body["error_description"], NOT_APPROVED, "{reply:?}");
    }

    // The operator approves it once, in Redis.
    let stdout = fx.cli("approve", &redis.url()).await;
    assert!(stdout.contains("approved in redis 127.0.0.1:"), "{stdout}");
    let approved = Instant::now();
    let admitted = until_every_replica_answers(&replicas, &token, 200, approved).await;
    for (i, (after, reply)) in admitted.iter().enumerate() {
        eprintln!("replica {i} admitted the approved client {after:?} after the command exited");
        let who: Value = serde_json::from_str(reply.text()).unwrap();
        assert_eq!(who["client_id"], fx.client_id.as_str(), "{who}");
        assert_eq!(who["subject"], "alice", "{who}");
    }

    // Revoked once: refused by both.
    let stdout = fx.cli("revoke", &redis.url()).await;
    assert!(stdout.contains("revoked"), "{stdout}");
    let revoked = Instant::now();
    let refused = until_every_replica_answers(&replicas, &token, 403, revoked).await;
    for (i, (after, reply)) in refused.iter().enumerate() {
        eprintln!("replica {i} refused the revoked client {after:?} after the command exited");
        assert_eq!(reply.body["error_description"], NOT_APPROVED, "{reply:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_proof_used_on_one_replica_is_refused_by_the_other() {
    const AGENT: (&str, &str) = ("agent", "agent-secret");
    let provider = Provider::start(json!({
        "scopes": ["mcp:read"],
        "resources": {PUBLIC: ["mcp:read"]},
        "clients": [client_credentials_client(AGENT, "mcp:read")],
    }))
    .await;
    let redis = RedisServer::start().await;
    let replica = || {
        protected_server::start(Options {
            listen: ([127, 0, 0, 1], 0).into(),
            resource: Some(PUBLIC.to_owned()),
            issuer: Some(provider.issuer.clone()),
            redis: Some(redis.url()),
            ..Options::default()
        })
    };
    let (a, b) = (
        replica().await.expect("replica A starts"),
        replica().await.expect("replica B starts"),
    );

    // oidc-provider binds the token to the agent's key (a proof on the token request).
    let key = SigningKey::generate(Algorithm::ES256, "agent-key");
    let proof = key
        .dpop_proof("POST", &provider.token_endpoint(), "")
        .sign();
    let issued = provider
        .token_request_with_proof(
            AGENT,
            &[
                ("grant_type", "client_credentials"),
                ("resource", PUBLIC),
                ("scope", "mcp:read"),
            ],
            Some(&proof),
        )
        .await;
    assert_eq!(
        issued["token_type"], "DPoP",
        "error: {} {}",
        issued["error"], issued["error_description"]
    );
    let token = issued["access_token"].as_str().expect("a token").to_owned();
    let thumbprint = key.thumbprint().unwrap();
    assert_eq!(jwt_claims(&token)["cnf"]["jkt"], thumbprint.as_str());

    let proof = key.dpop_proof("POST", PUBLIC, &token).sign();
    let on = |server: &Server, proof: &str| {
        let client = McpTestClient::new(endpoint(server)).dpop(&token, proof);
        async move { client.call_tool("whoami", json!({})).await }
    };
    let reply = on(&a, &proof).await;
    assert_eq!(reply.status, 200, "replica A accepts the proof: {reply:?}");

    let reply = on(&b, &proof).await;
    assert_eq!(reply.status, 401, "replayed on replica B: {reply:?}");
    assert_eq!(reply.body["error"], "invalid_dpop_proof", "{reply:?}");
    assert_eq!(
        reply.body["error_description"], "the DPoP proof was used before",
        "{reply:?}"
    );

    // The token itself is good on B: a fresh proof passes there.
    let fresh = key.dpop_proof("POST", PUBLIC, &token).sign();
    let reply = on(&b, &fresh).await;
    assert_eq!(reply.status, 200, "a fresh proof on replica B: {reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_calls_over_both_replicas_make_one_exchange_at_the_provider() {
    use base64::Engine as _;
    const USER: (&str, &str) = ("alice-app", "alice-secret");
    const SERVER: (&str, &str) = ("mcp-server", "mcp-server-secret");
    let provider = Provider::start(json!({
        "scopes": ["mcp:read", "api:read"],
        "clients": [
            client_credentials_client(USER, "mcp:read"),
            {"client_id": SERVER.0, "client_secret": SERVER.1,
             "grant_types": ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
             "redirect_uris": [], "response_types": [], "scope": "api:read"},
        ],
        "tokenExchange": {"enabled": true},
    }))
    .await;
    let redis = RedisServer::start().await;
    // Both replicas seal exchanged tokens in Redis with the same key.
    let sealing = format!(
        "k1={}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 32])
    );
    let options = Options {
        listen: ([127, 0, 0, 1], 0).into(),
        issuer: Some(provider.issuer.clone()),
        exchange_client: Some((SERVER.0.into(), SERVER.1.into())),
        redis: Some(redis.url()),
        exchange_keys: Some(sealing),
        ..Options::default()
    };
    let a = protected_server::start(options.clone())
        .await
        .expect("replica A starts");
    // B serves A's resource identifier and calls A's downstream API: one public URL, one
    // downstream target, so both replicas need the same exchanged token.
    let b = protected_server::start(Options {
        resource: Some(a.mcp_url.clone()),
        downstream_url: a.downstream_url.clone(),
        ..options
    })
    .await
    .expect("replica B starts");
    let token = provider
        .client_credentials(USER, &a.mcp_url, "mcp:read")
        .await;
    assert_eq!(provider.token_exchanges().await, (0, 0));

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..50 {
        let client = McpTestClient::new(endpoint(if i % 2 == 0 { &a } else { &b })).bearer(&token);
        calls.spawn(async move { (i, client.call_tool("call_downstream", json!({})).await) });
    }
    while let Some(joined) = calls.join_next().await {
        let (i, reply) = joined.expect("the call's task");
        assert_eq!(reply.status, 200, "call {i}: {reply:?}");
        let seen: Value = serde_json::from_str(reply.text())
            .unwrap_or_else(|_| panic!("call {i}: no answer from the downstream API: {reply:?}"));
        assert_eq!(seen["sub"], USER.0, "call {i}: {seen}");
        assert_eq!(seen["act"], json!([SERVER.0]), "call {i}: {seen}");
    }
    assert_eq!(
        provider.token_exchanges().await,
        (1, 1),
        "oidc-provider saw (token-exchange requests, tokens issued) for 50 calls over two replicas"
    );
}
