//! The stores against a real `redis-server` started on 127.0.0.1, stopped and started again
//! mid-test: two handles stand for two replicas.

use std::future::Future;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use mcp_auth_core::{Algorithm, AuthBody, BearerToken, Principal, ResourceId, Scopes};
use mcp_auth_jwt::{
    DpopConfig, IssuerConfig, ProofId, ReplayAnswer, ReplayCheck, ReplayStore, Verifier,
    VerifyLayer,
};
use mcp_auth_obo::{
    ClientAuth, ExchangeKey, ExchangeRequest, ExchangeStore, ExchangedToken, StoredExchange,
    TokenExchangeClient, TokenType,
};
use mcp_auth_redis::{Redis, RedisExchangeStore, RedisReplayStore, SecretKeys, WhileAway};
use mcp_auth_testing::{MockIssuer, RedisServer, SigningKey};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";
/// Only a guard against a hang: every store call is bounded far below it by its own timeout.
const HANG_GUARD: Duration = Duration::from_secs(10);

fn handle(server: &RedisServer) -> Redis {
    Redis::builder(server.url())
        .call_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

async fn answer(check: ReplayCheck) -> ReplayAnswer {
    match check {
        ReplayCheck::Ready(answer) => answer,
        ReplayCheck::Pending(future) => bounded("the replay store", future).await,
    }
}

fn unix_now() -> u64 {
    mcp_auth_testing::now()
}

/// Polls `attempt` until it gives `Some`, for what takes a reconnection to become true.
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, attempt: impl Fn() -> F) -> T {
    bounded(what, async {
        loop {
            if let Some(value) = attempt().await {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

#[tokio::test]
async fn a_proof_used_on_one_replica_is_refused_on_another_and_none_pass_while_redis_is_away() {
    let server = RedisServer::start().await;
    let (a, b) = (
        RedisReplayStore::new(handle(&server)),
        RedisReplayStore::new(handle(&server)),
    );
    let now = unix_now();
    let proof = ProofId::new("thumbprint", "jti-1");
    assert_eq!(answer(a.first_use(proof, now + 60, now)).await, Ok(true));
    assert_eq!(
        answer(b.first_use(proof, now + 60, now)).await,
        Ok(false),
        "replayed on B"
    );
    assert_eq!(
        answer(a.first_use(proof, now + 60, now)).await,
        Ok(false),
        "and on A"
    );
    let other = ProofId::new("thumbprint", "jti-2");
    assert_eq!(answer(b.first_use(other, now + 60, now)).await, Ok(true));

    // Remembered for the proof's window, not forever.
    let key = format!("mcp-auth:dpop:{}", URL_SAFE_NO_PAD.encode(proof.as_bytes()));
    let ttl = server.command(&["PTTL", &key]).await;
    let ttl: i64 = ttl.trim_start_matches(':').trim().parse().unwrap();
    assert!((1..=60_000).contains(&ttl), "{ttl}");

    // Redis away: no answer is an answer of its own (503), never a pass.
    server.stop().await;
    let third = ProofId::new("thumbprint", "jti-3");
    let down = answer(a.first_use(third, now + 60, now)).await;
    assert!(down.is_err(), "{down:?}");
    assert!(
        !down.unwrap_err().0.contains("redis://"),
        "names the address, not the URL"
    );

    // Back (empty, as after a failover without persistence): the handle reconnects.
    server.restart().await;
    let fourth = ProofId::new("thumbprint", "jti-4");
    let fresh = eventually("the reconnection", || async {
        answer(b.first_use(fourth, now + 60, now)).await.ok()
    })
    .await;
    assert!(fresh);
    assert_eq!(answer(a.first_use(fourth, now + 60, now)).await, Ok(false));
}

#[tokio::test]
async fn a_store_told_to_serve_while_away_decides_with_its_own_memory() {
    let server = RedisServer::start().await;
    let (a, b) = (
        RedisReplayStore::new(handle(&server)).while_away(WhileAway::Local),
        RedisReplayStore::new(handle(&server)).while_away(WhileAway::Local),
    );
    let now = unix_now();
    let seen_by_a = ProofId::new("thumbprint", "local-1");
    assert_eq!(
        answer(a.first_use(seen_by_a, now + 60, now)).await,
        Ok(true)
    );
    assert_eq!(
        answer(b.first_use(seen_by_a, now + 60, now)).await,
        Ok(false)
    );

    server.stop().await;
    // Served, not 503: a new proof passes once, and A still knows what it saw before.
    let fresh = ProofId::new("thumbprint", "local-2");
    assert_eq!(answer(a.first_use(fresh, now + 60, now)).await, Ok(true));
    assert_eq!(
        answer(a.first_use(fresh, now + 60, now)).await,
        Ok(false),
        "replayed on the replica that saw it"
    );
    assert_eq!(
        answer(a.first_use(seen_by_a, now + 60, now)).await,
        Ok(false),
        "seen before the outage"
    );
    // The price of serving: B never saw `fresh`, and cannot ask Redis.
    assert_eq!(answer(b.first_use(fresh, now + 60, now)).await, Ok(true));
    server.restart().await;
}

async fn send(verifier: &Verifier, token: &str, proof: &str) -> (u16, String, Option<String>) {
    let svc = ServiceBuilder::new()
        .layer(VerifyLayer::new(verifier.clone()))
        .service_fn(|_req: Request<Empty<Bytes>>| async move {
            Ok::<_, std::convert::Infallible>(Response::new(Empty::new()))
        });
    let request = Request::post(RESOURCE)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .body(Empty::new())
        .unwrap();
    let response: Response<AuthBody<Empty<Bytes>>> =
        bounded("a request", svc.oneshot(request)).await.unwrap();
    let reason = response
        .extensions()
        .get::<mcp_auth_core::AuthError>()
        .map(|e| e.reason().to_owned())
        .unwrap_or_default();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), reason, retry_after)
}

#[tokio::test]
async fn two_verifying_replicas_share_the_replay_store() {
    let server = RedisServer::start().await;
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let client_key = SigningKey::generate(Algorithm::ES256, "client");
    let replica = || {
        Verifier::builder(ResourceId::parse(RESOURCE).unwrap())
            .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
            .dpop(DpopConfig::default().replay_store(RedisReplayStore::new(handle(&server))))
            .build()
            .unwrap()
    };
    let (a, b) = (replica(), replica());
    let token = issuer
        .token()
        .claim("cnf", json!({"jkt": client_key.thumbprint().unwrap()}))
        .sign();
    let proof = client_key.dpop_proof("POST", RESOURCE, &token).sign();
    assert_eq!(send(&a, &token, &proof).await.0, 200);
    let (status, reason, _) = send(&b, &token, &proof).await;
    assert_eq!((status, reason.as_str()), (401, "replayed_proof"));

    server.stop().await;
    let fresh = client_key.dpop_proof("POST", RESOURCE, &token).sign();
    let (status, _, retry_after) = send(&a, &token, &fresh).await;
    assert_eq!(status, 503, "fail closed while the replay store is away");
    assert!(retry_after.is_some());
}

fn token(secret: &str, kind: TokenType) -> StoredExchange {
    let token = ExchangedToken::new(
        secret,
        mcp_auth_obo::ACCESS_TOKEN_TYPE,
        kind,
        SystemTime::now() + Duration::from_secs(300),
        Scopes::parse("api:read"),
        Scopes::parse("api:read"),
    )
    .unwrap();
    StoredExchange::Token {
        token,
        fresh_until: SystemTime::now() + Duration::from_secs(240),
    }
}

fn secret_of(entry: Option<StoredExchange>) -> Option<String> {
    match entry? {
        StoredExchange::Token { token, .. } => Some(token.expose_secret().to_owned()),
        _ => None,
    }
}

fn keys() -> SecretKeys {
    SecretKeys::new("k1", &[7; 32]).unwrap()
}

#[tokio::test]
async fn exchanged_tokens_are_shared_sealed_and_bound_to_their_key() {
    let server = RedisServer::start().await;
    let a = RedisExchangeStore::new(handle(&server), keys());
    let b = RedisExchangeStore::new(handle(&server), keys());
    let alice = ExchangeKey::from_bytes([1; 32]);
    let bob = ExchangeKey::from_bytes([2; 32]);

    a.put(alice, token("alice-downstream-token", TokenType::Bearer))
        .await;
    assert_eq!(
        secret_of(bounded("get", b.get(&alice)).await).as_deref(),
        Some("alice-downstream-token"),
        "replica B reads what A stored"
    );
    assert_eq!(secret_of(b.get(&bob).await), None);

    // Sealed at rest, with an expiry.
    let name =
        |key: &ExchangeKey| format!("mcp-auth:obo:{}", URL_SAFE_NO_PAD.encode(key.as_bytes()));
    let raw = server.command(&["GET", &name(&alice)]).await;
    assert!(raw.contains("k1."), "{raw}");
    assert!(!raw.contains("alice-downstream-token"), "{raw}");
    let ttl = server.command(&["PTTL", &name(&alice)]).await;
    let ttl: i64 = ttl.trim_start_matches(':').trim().parse().unwrap();
    assert!((1..=240_000).contains(&ttl), "{ttl}");

    // Alice's value copied under Bob's key does not open as Bob's.
    let sealed = raw.lines().nth(1).unwrap().to_owned();
    server.command(&["SET", &name(&bob), &sealed]).await;
    assert_eq!(server.command(&["GET", &name(&bob)]).await, raw, "copied");
    let fresh_b = RedisExchangeStore::new(handle(&server), keys());
    assert_eq!(secret_of(fresh_b.get(&bob).await), None);
    // Another key set opens nothing.
    let stranger =
        RedisExchangeStore::new(handle(&server), SecretKeys::new("k1", &[8; 32]).unwrap());
    assert_eq!(secret_of(stranger.get(&alice).await), None);

    // A DPoP-bound token is bound again on read, only by a store that has the key.
    let dpop_key = mcp_auth_obo::PrivateKey::from_jwk(&ec_jwk()).unwrap();
    let carol = ExchangeKey::from_bytes([3; 32]);
    let bound = match token("carol-bound-token", TokenType::Dpop) {
        StoredExchange::Token { token, fresh_until } => StoredExchange::Token {
            token: token.with_dpop_key(dpop_key.clone()).unwrap(),
            fresh_until,
        },
        other => other,
    };
    a.put(carol, bound).await;
    let with_key = RedisExchangeStore::new(handle(&server), keys()).dpop_key(dpop_key);
    match with_key.get(&carol).await {
        Some(StoredExchange::Token { token, .. }) => {
            let request = token
                .apply_to(http::Request::get("https://api.example/"))
                .body(())
                .unwrap();
            assert!(
                request.headers().contains_key("dpop"),
                "it signs proofs again"
            );
        }
        other => panic!("{other:?}"),
    }
    let without_key = RedisExchangeStore::new(handle(&server), keys());
    assert_eq!(secret_of(without_key.get(&carol).await), None);

    // Redis away: the local cache carries on; nothing hangs, nothing fails.
    server.stop().await;
    let dave = ExchangeKey::from_bytes([4; 32]);
    bounded("put", a.put(dave, token("dave-token", TokenType::Bearer))).await;
    assert_eq!(
        secret_of(bounded("get", a.get(&dave)).await).as_deref(),
        Some("dave-token")
    );
    assert_eq!(secret_of(bounded("get", b.get(&dave)).await), None);
    assert_eq!(
        secret_of(bounded("get", b.get(&alice)).await).as_deref(),
        Some("alice-downstream-token"),
        "what B read before stays in its local cache"
    );
}

fn ec_jwk() -> String {
    // A fixed P-256 test key (RFC 7517 appendix A.2's example key).
    json!({
        "kty": "EC", "crv": "P-256",
        "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        "d": "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE",
    })
    .to_string()
}

/// An issuer that exchanges tokens for `mcp-server` toward `https://api.example`.
async fn exchanging_issuer() -> MockIssuer {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    issuer.allow_exchange_client("mcp-server", "server-secret");
    issuer.allow_exchange_target("https://api.example", &["api:read"]);
    issuer
}

/// One replica's token-exchange client, its tokens shared through `server`.
fn exchange_replica(issuer: &MockIssuer, server: &RedisServer) -> TokenExchangeClient {
    TokenExchangeClient::builder(ClientAuth::client_secret_basic(
        "mcp-server",
        "server-secret",
    ))
    .token_endpoint(issuer.token_endpoint())
    .fetch_policy(mcp_auth_fetch::FetchPolicy::default().allow_loopback(true))
    .store(RedisExchangeStore::new(handle(server), keys()))
    .build()
    .unwrap()
}

/// Alice, calling with a token of `issuer` for an hour.
fn alice(issuer: &MockIssuer) -> Principal {
    let subject = issuer.token().subject("alice").sign();
    Principal::builder(issuer.issuer(), "alice", BearerToken::new(subject))
        .expires_at(unix_now() + 3600)
        .build()
}

#[tokio::test]
async fn two_exchanging_replicas_make_one_exchange() {
    let server = RedisServer::start().await;
    let issuer = exchanging_issuer().await;
    let replica = || exchange_replica(&issuer, &server);
    let (a, b) = (replica(), replica());
    let caller = alice(&issuer);
    let request = || ExchangeRequest::audience("https://api.example").scope("api:read");
    let first = bounded("exchange", a.get_token_on_behalf_of(&caller, request()))
        .await
        .unwrap();
    assert!(!first.from_cache());
    let second = bounded("exchange", b.get_token_on_behalf_of(&caller, request()))
        .await
        .unwrap();
    assert!(second.from_cache(), "replica B served it from Redis");
    assert_eq!(first.expose_secret(), second.expose_secret());
    assert_eq!(issuer.token_requests(), 1, "one exchange for both replicas");
}

fn client_info(id: &str, redirect: &str) -> mcp_auth_cimd::ClientInfo {
    let url = mcp_auth_cimd::CimdUrl::parse(id, false).unwrap();
    mcp_auth_cimd::ClientInfo::from_document(
        &url,
        &json!({"client_id": id, "client_name": "App", "redirect_uris": [redirect]}),
    )
    .unwrap()
}

#[tokio::test]
async fn approvals_reach_every_replica_and_outlive_an_outage() {
    use mcp_auth_cimd::Approval;
    let server = RedisServer::start().await;
    let operator = mcp_auth_redis::RedisRegistry::new(handle(&server));
    let replicas = [
        mcp_auth_redis::RedisRegistry::new(handle(&server)).follow(),
        mcp_auth_redis::RedisRegistry::new(handle(&server)).follow(),
    ];
    let app = client_info("https://app.example/client.json", "https://app.example/cb");
    let approval = |registry: &mcp_auth_cimd::Registry| registry.approval(app.id(), app.digest());
    let all_say = |want: Approval| {
        let replicas = &replicas;
        move || {
            let all = replicas.iter().all(|r| approval(r) == want);
            async move { all.then_some(()) }
        }
    };
    for replica in &replicas {
        assert_eq!(approval(replica), Approval::NotApproved);
    }

    let started = std::time::Instant::now();
    let entry = bounded("approve", operator.approve(&app)).await.unwrap();
    assert_eq!(entry.client_id, app.id());
    eventually(
        "both replicas admit the client",
        all_say(Approval::Approved),
    )
    .await;
    eprintln!(
        "approval propagated to both replicas in {:?}",
        started.elapsed()
    );
    assert_eq!(operator.approval(&app).await.unwrap(), Approval::Approved);
    assert_eq!(operator.clients().await.unwrap().len(), 1);

    let started = std::time::Instant::now();
    let revoked = operator.revoke(app.id()).await.unwrap();
    assert_eq!(revoked.map(|e| e.client_id).as_deref(), Some(app.id()));
    eventually(
        "both replicas refuse the client",
        all_say(Approval::NotApproved),
    )
    .await;
    eprintln!(
        "revocation propagated to both replicas in {:?}",
        started.elapsed()
    );
    assert_eq!(operator.revoke(app.id()).await.unwrap(), None);

    // Redis away: the replicas keep what they knew; the operator is told it failed.
    operator.approve(&app).await.unwrap();
    eventually(
        "both replicas admit the client",
        all_say(Approval::Approved),
    )
    .await;
    server.stop().await;
    assert!(bounded("approve", operator.approve(&app)).await.is_err());
    for replica in &replicas {
        assert_eq!(
            approval(replica),
            Approval::Approved,
            "last known approvals kept"
        );
    }

    // Back (empty): the replicas subscribe again and follow the new contents.
    server.restart().await;
    let other = client_info(
        "https://other.example/client.json",
        "https://other.example/cb",
    );
    eventually("the operator reaches Redis again", || async {
        operator.approve(&other).await.ok()
    })
    .await;
    eventually("both replicas follow again", || {
        let all = replicas.iter().all(|r| {
            r.approval(other.id(), other.digest()) == Approval::Approved
                && approval(r) == Approval::NotApproved
        });
        async move { all.then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_calls_over_two_replicas_make_one_exchange() {
    let server = RedisServer::start().await;
    let issuer = exchanging_issuer().await;
    let replica = || exchange_replica(&issuer, &server);
    let replicas = [replica(), replica()];
    let caller = alice(&issuer);
    let calls = (0..50).map(|i| {
        let client = replicas[i % 2].clone();
        let caller = caller.clone();
        tokio::spawn(async move {
            client
                .get_token_on_behalf_of(
                    &caller,
                    ExchangeRequest::audience("https://api.example").scope("api:read"),
                )
                .await
                .map(|t| t.expose_secret().to_owned())
        })
    });
    let tokens: Vec<String> = bounded("50 calls", futures_util::future::join_all(calls))
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    assert!(tokens.iter().all(|t| *t == tokens[0]), "one token for all");
    assert_eq!(
        issuer.token_requests(),
        1,
        "one exchange across both replicas"
    );
}

#[tokio::test]
async fn a_change_that_was_never_announced_is_picked_up_at_the_next_resync() {
    use mcp_auth_cimd::Approval;
    let server = RedisServer::start().await;
    let replica = mcp_auth_redis::RedisRegistry::new(handle(&server))
        .resync(Duration::from_millis(100))
        .follow();
    let app = client_info("https://app.example/client.json", "https://app.example/cb");
    // Written straight into the hash, with no message on the channel (as after a lost
    // announcement).
    let entry = serde_json::to_string(&mcp_auth_cimd::ApprovedClient::approving(&app)).unwrap();
    server
        .command(&["HSET", "mcp-auth:clients:approved", app.id(), &entry])
        .await;
    eventually("the replica resyncs", || {
        let approved = replica.approval(app.id(), app.digest()) == Approval::Approved;
        async move { approved.then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn only_the_holder_gives_a_claim_up() {
    use mcp_auth_obo::Claim;
    let server = RedisServer::start().await;
    let a = RedisExchangeStore::new(handle(&server), keys());
    let b = RedisExchangeStore::new(handle(&server), keys());
    let key = ExchangeKey::from_bytes([9; 32]);
    let ttl = Duration::from_secs(30);
    assert_eq!(a.claim(&key, ttl).await, Claim::Granted);
    assert_eq!(b.claim(&key, ttl).await, Claim::Held);
    let name = format!(
        "mcp-auth:obo-claim:{}",
        URL_SAFE_NO_PAD.encode(key.as_bytes())
    );
    b.release(&key).await;
    assert_ne!(
        server.command(&["EXISTS", &name]).await,
        ":0\r\n",
        "B cannot release A's claim"
    );
    a.release(&key).await;
    assert_eq!(server.command(&["EXISTS", &name]).await, ":0\r\n");
    assert_eq!(b.claim(&key, ttl).await, Claim::Granted);
}
