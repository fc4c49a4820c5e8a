//! The cache: hits, keys, expiry, single-flight, remembered failures and back-off.

use std::sync::Arc;
use std::time::Duration;

use mcp_auth_core::BearerToken;
use serde_json::json;

use super::mock::{Clock, MockAs, Reply, caller, eventually, grant_all};
use crate::{ExchangeError, ExchangeRequest, OAuthErrorCode, Subject};

const HOUR: Duration = Duration::from_secs(3600);

fn api() -> ExchangeRequest {
    ExchangeRequest::audience("https://api.example").scope("api:read")
}

#[tokio::test]
async fn a_second_call_is_served_from_the_cache() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let client = mock.client(&clock);
    let alice = caller("alice", &clock, HOUR);
    let first = client.get_token_on_behalf_of(&alice, api()).await.unwrap();
    let second = client.get_token_on_behalf_of(&alice, api()).await.unwrap();
    assert_eq!(mock.exchanges(), 1);
    assert!(!first.from_cache());
    assert!(second.from_cache());
    assert_eq!(first.expose_secret(), second.expose_secret());
    // Same scope set, written differently: the same key.
    let reordered = ExchangeRequest::audience("https://api.example").scope(" api:read  api:read");
    assert!(
        client
            .get_token_on_behalf_of(&alice, reordered)
            .await
            .unwrap()
            .from_cache()
    );
    assert_eq!(mock.exchanges(), 1);
}

#[tokio::test]
async fn another_subject_target_or_scope_is_another_exchange() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let client = mock.client(&clock);
    let alice = caller("alice", &clock, HOUR);
    let bob = caller("bob", &clock, HOUR);
    client.get_token_on_behalf_of(&alice, api()).await.unwrap();
    client.get_token_on_behalf_of(&bob, api()).await.unwrap();
    client
        .get_token_on_behalf_of(&alice, api().scope("api:read api:write"))
        .await
        .unwrap();
    client
        .get_token_on_behalf_of(&alice, ExchangeRequest::audience("https://other.example"))
        .await
        .unwrap();
    client
        .get_token_on_behalf_of(
            &alice,
            ExchangeRequest::resource("https://api.example").scope("api:read"),
        )
        .await
        .unwrap();
    assert_eq!(mock.exchanges(), 5);
}

#[tokio::test]
async fn a_cached_token_is_dropped_at_its_expiry_minus_the_skew() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    // Tokens live 300 s; the skew is 30 s.
    let client = mock
        .client_builder(&clock)
        .expiry_skew(Duration::from_secs(30))
        .build()
        .unwrap();
    let alice = caller("alice", &clock, HOUR);
    client.get_token_on_behalf_of(&alice, api()).await.unwrap();
    clock.advance(Duration::from_secs(269));
    assert!(
        client
            .get_token_on_behalf_of(&alice, api())
            .await
            .unwrap()
            .from_cache()
    );
    assert_eq!(mock.exchanges(), 1);
    clock.advance(Duration::from_secs(1));
    let renewed = client.get_token_on_behalf_of(&alice, api()).await.unwrap();
    assert!(!renewed.from_cache());
    assert_eq!(renewed.expose_secret(), "exchanged-2");
    assert_eq!(mock.exchanges(), 2);
}

#[tokio::test]
async fn a_cached_token_never_outlives_the_subject_token() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let client = mock.client(&clock);
    // The caller's token expires in 100 s; the exchanged one would be good for 270 s.
    let alice = caller("alice", &clock, Duration::from_secs(100));
    client.get_token_on_behalf_of(&alice, api()).await.unwrap();
    clock.advance(Duration::from_secs(99));
    assert!(
        client
            .get_token_on_behalf_of(&alice, api())
            .await
            .unwrap()
            .from_cache()
    );
    clock.advance(Duration::from_secs(1));
    assert!(
        !client
            .get_token_on_behalf_of(&alice, api())
            .await
            .unwrap()
            .from_cache()
    );
    assert_eq!(mock.exchanges(), 2);
}

#[tokio::test]
async fn an_opaque_subject_of_unknown_expiry_is_not_cached() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let client = mock.client(&clock);
    let opaque = BearerToken::new("opaque-reference-token");
    client.get_token_on_behalf_of(&opaque, api()).await.unwrap();
    client.get_token_on_behalf_of(&opaque, api()).await.unwrap();
    assert_eq!(mock.exchanges(), 2);
    // With its expiry given, it is.
    let known = Subject::token(&opaque).expires_at(clock.unix() + 3600);
    client.get_token_on_behalf_of(known, api()).await.unwrap();
    assert!(
        client
            .get_token_on_behalf_of(known, api())
            .await
            .unwrap()
            .from_cache()
    );
    assert_eq!(mock.exchanges(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_concurrent_calls_for_one_key_make_exactly_one_exchange() {
    let mock = MockAs::start().await;
    let gate = mock.hold();
    let clock = Clock::new();
    let client = mock.client(&clock);
    let alice = caller("alice", &clock, HOUR);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (client, alice) = (client.clone(), alice.clone());
        tasks.push(tokio::spawn(async move {
            client.get_token_on_behalf_of(&alice, api()).await
        }));
    }
    // Every call is waiting on the one flight before the server answers.
    eventually("100 callers on the flight", || {
        client.flights().participants() == 100
    })
    .await;
    eventually("the exchange to arrive", || mock.exchanges() == 1).await;
    gate.add_permits(1000);
    let mut from_cache = 0;
    for task in tasks {
        let token = task.await.unwrap().unwrap();
        assert_eq!(token.expose_secret(), "exchanged-1");
        from_cache += usize::from(token.from_cache());
    }
    assert_eq!(mock.exchanges(), 1);
    assert_eq!(from_cache, 99, "all but the leader shared its exchange");
    assert_eq!(client.flights().len(), 0, "no flight outlives its callers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_hands_the_exchange_over() {
    let mock = MockAs::start().await;
    let gate = mock.hold();
    let clock = Clock::new();
    let client = mock.client(&clock);
    let alice = caller("alice", &clock, HOUR);
    let leader = {
        let (client, alice) = (client.clone(), alice.clone());
        tokio::spawn(async move { client.get_token_on_behalf_of(&alice, api()).await })
    };
    eventually("the leader's request", || mock.exchanges() == 1).await;
    let follower = {
        let (client, alice) = (client.clone(), alice.clone());
        tokio::spawn(async move { client.get_token_on_behalf_of(&alice, api()).await })
    };
    eventually("the follower to join", || {
        client.flights().participants() == 2
    })
    .await;
    leader.abort();
    eventually("the follower to take over", || mock.exchanges() == 2).await;
    gate.add_permits(10);
    let token = follower.await.unwrap().unwrap();
    assert!(!token.from_cache());
    assert_eq!(client.flights().len(), 0);
}

#[tokio::test]
async fn a_refusal_is_remembered_briefly() {
    let mock = MockAs::start().await;
    mock.always(Reply::oauth_error(400, "invalid_grant", "revoked"));
    let clock = Clock::new();
    let client = mock
        .client_builder(&clock)
        .failure_ttl(Duration::from_secs(5))
        .build()
        .unwrap();
    let alice = caller("alice", &clock, HOUR);
    for _ in 0..10 {
        let err = client
            .get_token_on_behalf_of(&alice, api())
            .await
            .unwrap_err();
        assert_eq!(err.oauth_code(), Some(&OAuthErrorCode::InvalidGrant));
    }
    assert_eq!(mock.exchanges(), 1);
    clock.advance(Duration::from_secs(5));
    mock.script(grant_all);
    client.get_token_on_behalf_of(&alice, api()).await.unwrap();
    assert_eq!(mock.exchanges(), 2);
}

#[tokio::test]
async fn a_failing_server_is_backed_off_for_every_key() {
    let mock = MockAs::start().await;
    mock.always(Reply::raw(500, "text/plain", "down"));
    let clock = Clock::new();
    let client = mock
        .client_builder(&clock)
        .backoff(Duration::from_secs(2), Duration::from_secs(10))
        .build()
        .unwrap();
    // Twenty different callers while the server is failing: it is asked once.
    for i in 0..20 {
        let err = client
            .get_token_on_behalf_of(&caller(&format!("u{i}"), &clock, HOUR), api())
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
        let ExchangeError::Unavailable { retry_after, .. } = err else {
            panic!("a failing server is `Unavailable`, got {err}");
        };
        assert!(retry_after <= Duration::from_secs(2));
    }
    assert_eq!(mock.exchanges(), 1);
    // After the delay one attempt goes through, fails, and the delay doubles.
    clock.advance(Duration::from_secs(2));
    for i in 0..20 {
        let _ = client
            .get_token_on_behalf_of(&caller(&format!("v{i}"), &clock, HOUR), api())
            .await;
    }
    assert_eq!(mock.exchanges(), 2);
    clock.advance(Duration::from_secs(2));
    let _ = client
        .get_token_on_behalf_of(&caller("w", &clock, HOUR), api())
        .await;
    assert_eq!(mock.exchanges(), 2, "the second delay is 4 s");
    clock.advance(Duration::from_secs(2));
    mock.script(grant_all);
    client
        .get_token_on_behalf_of(&caller("x", &clock, HOUR), api())
        .await
        .unwrap();
    assert_eq!(mock.exchanges(), 3);
    // Recovered: the next failure starts again from the minimum.
    client
        .get_token_on_behalf_of(&caller("y", &clock, HOUR), api())
        .await
        .unwrap();
    assert_eq!(mock.exchanges(), 4);
}

#[tokio::test]
async fn a_narrowed_grant_is_reported() {
    let mock = MockAs::start().await;
    mock.always(Reply::json(
        200,
        json!({"access_token": "t", "issued_token_type": crate::ACCESS_TOKEN_TYPE,
               "token_type": "Bearer", "expires_in": 300, "scope": "api:read"}),
    ));
    let clock = Clock::new();
    let client = mock.client(&clock);
    let alice = caller("alice", &clock, HOUR);
    let token = client
        .get_token_on_behalf_of(&alice, api().scope("api:read api:write"))
        .await
        .unwrap();
    assert!(token.narrowed());
    assert_eq!(token.granted_scope().to_string(), "api:read");
    assert_eq!(token.requested_scope().to_string(), "api:read api:write");
    assert_eq!(token.missing_scope().to_string(), "api:write");
    let err = token.ensure_complete().unwrap_err();
    assert!(matches!(err, ExchangeError::ScopeNarrowed { .. }), "{err}");
    assert_eq!(err.to_auth_error().status(), 403);
    // The cached copy says the same.
    let again = client
        .get_token_on_behalf_of(&alice, api().scope("api:read api:write"))
        .await
        .unwrap();
    assert!(again.from_cache() && again.narrowed());
}

#[tokio::test]
async fn a_shared_store_can_be_plugged_in() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let store = Arc::new(crate::MemoryStore::new(100));
    struct Shared(Arc<crate::MemoryStore>);
    impl crate::ExchangeStore for Shared {
        fn get<'a>(
            &'a self,
            key: &'a crate::ExchangeKey,
        ) -> crate::StoreFuture<'a, Option<crate::StoredExchange>> {
            self.0.get(key)
        }
        fn put(
            &self,
            key: crate::ExchangeKey,
            entry: crate::StoredExchange,
        ) -> crate::StoreFuture<'_, ()> {
            self.0.put(key, entry)
        }
        fn remove<'a>(&'a self, key: &'a crate::ExchangeKey) -> crate::StoreFuture<'a, ()> {
            self.0.remove(key)
        }
    }
    // Two replicas (two clients) with one store: the second is served by the first's exchange.
    let a = mock
        .client_builder(&clock)
        .store(Shared(store.clone()))
        .build()
        .unwrap();
    let b = mock
        .client_builder(&clock)
        .store(Shared(store.clone()))
        .build()
        .unwrap();
    let alice = caller("alice", &clock, HOUR);
    a.get_token_on_behalf_of(&alice, api()).await.unwrap();
    assert!(
        b.get_token_on_behalf_of(&alice, api())
            .await
            .unwrap()
            .from_cache()
    );
    assert_eq!(mock.exchanges(), 1);
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn a_failure_of_this_client_backs_off_for_every_caller() {
    let mock = MockAs::start().await;
    mock.always(Reply::oauth_error(401, "invalid_client", "bad credentials"));
    let clock = Clock::new();
    let client = mock
        .client_builder(&clock)
        .backoff(Duration::from_secs(1), Duration::from_secs(30))
        .build()
        .unwrap();
    let err = client
        .get_token_on_behalf_of(&caller("a", &clock, HOUR), api())
        .await
        .unwrap_err();
    assert_eq!(err.oauth_code(), Some(&OAuthErrorCode::InvalidClient));
    // Another caller would fail the same way: the server is not asked.
    let err = client
        .get_token_on_behalf_of(&caller("b", &clock, HOUR), api())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.to_auth_error().status(), 503);
    assert_eq!(mock.exchanges(), 1);
    clock.advance(Duration::from_secs(1));
    let _ = client
        .get_token_on_behalf_of(&caller("c", &clock, HOUR), api())
        .await;
    assert_eq!(mock.exchanges(), 2);
}
