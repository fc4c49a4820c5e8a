//! Opaque access tokens of a real authorization server (npm `oidc-provider`, which issues an
//! opaque token when a token request names no resource) verified by RFC 7662 introspection at
//! its `/token/introspection` endpoint, found by discovery.

use std::time::Duration;

use mcp_auth::ResourceId;
use mcp_auth::jwt::Introspection;
use mcp_auth::{FetchPolicy, IssuerConfig, RequiredClaims, Verifier};
use mcp_auth_e2e::{Provider, client_credentials_client};
use serde_json::json;

const CLIENT: (&str, &str) = ("svc", "svc-secret");
/// This server's own client at the provider, used to introspect.
const RESOURCE_SERVER: (&str, &str) = ("mcp-server", "mcp-server-secret");

async fn provider() -> Provider {
    Provider::start(json!({
        "scopes": ["mcp:read", "mcp:write"],
        "clients": [
            client_credentials_client(CLIENT, "mcp:read mcp:write"),
            client_credentials_client(RESOURCE_SERVER, "mcp:read mcp:write"),
        ],
    }))
    .await
}

/// An opaque token: a client-credentials request without `resource`.
async fn opaque_token(provider: &Provider) -> String {
    let answer = provider
        .token_request(
            CLIENT,
            &[("grant_type", "client_credentials"), ("scope", "mcp:read")],
        )
        .await;
    let token = answer["access_token"].as_str().expect("a token").to_owned();
    assert_eq!(
        token.split('.').count(),
        1,
        "oidc-provider issued an opaque token"
    );
    token
}

fn verifier(provider: &Provider, introspection: Introspection) -> Verifier {
    // oidc-provider's opaque tokens carry no audience: they are bound to the client instead.
    let issuer = IssuerConfig::discover(&provider.issuer)
        .introspection(introspection)
        .accept_missing_audience()
        .client_ids([CLIENT.0])
        .required_claims(RequiredClaims::custom(["client_id"]));
    Verifier::builder(ResourceId::parse("https://mcp.example.com/mcp").unwrap())
        .issuer(issuer)
        .fetch_policy(
            FetchPolicy::default()
                .allow_loopback(true)
                .timeout(Duration::from_secs(3)),
        )
        .build()
        .unwrap()
}

async fn revoke(provider: &Provider, token: &str) {
    let status = reqwest::Client::new()
        .post(format!("{}/token/revocation", provider.issuer))
        .basic_auth(CLIENT.0, Some(CLIENT.1))
        .form(&[("token", token), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "revocation answered {status}");
}

#[tokio::test]
async fn an_opaque_token_is_introspected_mapped_and_refused_once_revoked() {
    let provider = provider().await;
    let token = opaque_token(&provider).await;
    let v = verifier(
        &provider,
        Introspection::client_secret_basic(RESOURCE_SERVER.0, RESOURCE_SERVER.1)
            .cache_for(Duration::ZERO),
    );
    let principal = v
        .verify(&token)
        .await
        .expect("the issuer says it is active");
    assert_eq!(principal.issuer(), provider.issuer);
    assert_eq!(principal.client_id(), Some(CLIENT.0));
    assert_eq!(
        principal.subject(),
        CLIENT.0,
        "a client's own token: the client is the subject"
    );
    assert!(
        principal.acts_for_itself(),
        "no end user behind a client-credentials token"
    );
    assert!(principal.scopes().contains("mcp:read"));
    assert!(!principal.scopes().contains("mcp:write"));
    assert_eq!(principal.audience(), None);

    // Revoked at the issuer: with no caching, the next request sees it.
    revoke(&provider, &token).await;
    let error = v.verify(&token).await.unwrap_err();
    assert_eq!(error.status(), 401);
    assert_eq!(error.reason(), "inactive", "{}", error.description());

    // A token the issuer never issued.
    let error = v.verify("not-a-token-of-this-issuer").await.unwrap_err();
    assert_eq!(error.reason(), "inactive");
}

#[tokio::test]
async fn answers_are_cached_until_the_token_expires() {
    let provider = provider().await;
    let token = opaque_token(&provider).await;
    let v = verifier(
        &provider,
        Introspection::client_secret_post(RESOURCE_SERVER.0, RESOURCE_SERVER.1),
    );
    assert!(v.verify(&token).await.is_ok());
    revoke(&provider, &token).await;
    // Cached: the revocation is not seen (the documented trade-off `cache_for` shortens).
    assert!(v.verify(&token).await.is_ok());
    // A verifier that has not seen the token asks, and is told.
    let fresh = verifier(
        &provider,
        Introspection::client_secret_post(RESOURCE_SERVER.0, RESOURCE_SERVER.1),
    );
    assert_eq!(fresh.verify(&token).await.unwrap_err().reason(), "inactive");
}

#[tokio::test]
async fn an_issuer_that_cannot_answer_is_503_not_401() {
    let provider = provider().await;
    let token = opaque_token(&provider).await;
    // Wrong credentials for this server: the issuer refuses to answer.
    let v = verifier(
        &provider,
        Introspection::client_secret_basic(RESOURCE_SERVER.0, "wrong"),
    );
    let error = v.verify(&token).await.unwrap_err();
    assert_eq!(error.status(), 503, "{}", error.description());
    assert!(error.retry_after().is_some());
    // An endpoint nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!(
        "http://{}/token/introspection",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let v = verifier(
        &provider,
        Introspection::client_secret_basic(RESOURCE_SERVER.0, RESOURCE_SERVER.1).endpoint(endpoint),
    );
    assert_eq!(v.verify(&token).await.unwrap_err().status(), 503);
}
