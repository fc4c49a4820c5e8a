//! Every rejection of the access-token rules, the JWKS cache and the verified-token cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use mcp_auth_core::{AuthBody, Principal, ResourceId};
use mcp_auth_fetch::FetchPolicy;
use mcp_auth_testing::{JwksBehavior, MockIssuer, SigningKey, TokenBuilder, now};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};

use super::*;
use crate::{RequiredClaims, VerifyLayer};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const METADATA: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";

fn resource() -> ResourceId {
    ResourceId::parse(RESOURCE).unwrap()
}

async fn issuer() -> MockIssuer {
    MockIssuer::builder().audience(RESOURCE).start().await
}

fn dev_policy() -> FetchPolicy {
    FetchPolicy::default()
        .allow_loopback(true)
        .timeout(Duration::from_millis(800))
}

/// A verifier trusting `issuer` by its JWKS URL.
fn remote(issuer: &MockIssuer) -> VerifierBuilder {
    Verifier::builder(resource())
        .issuer(IssuerConfig::jwks_uri(issuer.issuer(), &issuer.jwks_uri()))
        .fetch_policy(dev_policy())
}

/// A verifier fetching `issuer`'s keys whenever it may (no refresh interval), with the keys
/// already fetched by one verification.
async fn verifying_with_keys_cached(issuer: &MockIssuer) -> Verifier {
    let v = remote(issuer)
        .refresh_interval(Duration::ZERO)
        .build()
        .unwrap();
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    v
}

/// A verifier trusting `issuer`'s current keys statically.
fn fixed(issuer: &MockIssuer) -> Verifier {
    Verifier::builder(resource())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()
        .unwrap()
}

async fn call(verifier: Verifier, token: &str) -> Response<AuthBody<Empty<Bytes>>> {
    let svc = ServiceBuilder::new()
        .layer(VerifyLayer::new(verifier))
        .service_fn(|req: Request<Empty<Bytes>>| async move {
            assert!(req.extensions().get::<Principal>().is_some());
            Ok::<_, std::convert::Infallible>(Response::new(Empty::new()))
        });
    let req = Request::post("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .body(Empty::new());
    svc.oneshot(req.unwrap()).await.unwrap()
}

/// Asserts a 401 `invalid_token` with exactly this description.
async fn assert_rejected(verifier: Verifier, token: &str, description: &str) {
    let response = call(verifier, token).await;
    assert_eq!(response.status(), 401, "{description}");
    assert_eq!(
        response.headers()["www-authenticate"],
        format!(
            r#"Bearer error="invalid_token", resource_metadata="{METADATA}", error_description="{description}""#
        ),
    );
}

#[tokio::test]
async fn a_valid_token_yields_its_principal() {
    let issuer = issuer().await;
    let token = issuer
        .token()
        .subject("alice")
        .scope("files:read files:write")
        .claim("act", json!({"sub": "agent"}))
        .sign();
    let p = fixed(&issuer).verify(&token).await.unwrap();
    assert_eq!(p.issuer(), issuer.issuer());
    assert_eq!(p.subject(), "alice");
    assert_eq!(p.client_id(), Some("test-client"));
    assert_eq!(p.scopes().to_string(), "files:read files:write");
    assert_eq!(p.audiences(), [RESOURCE]);
    assert_eq!(p.actor().unwrap().subject, "agent");
    assert_eq!(p.token().expose_secret(), token);
    assert_eq!(call(fixed(&issuer), &token).await.status(), 200);
}

#[tokio::test]
async fn every_algorithm_of_the_allowlist_verifies() {
    for alg in [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
        Algorithm::RS512,
    ] {
        let issuer = MockIssuer::builder()
            .audience(RESOURCE)
            .key(alg)
            .start()
            .await;
        let token = issuer.token().sign();
        assert!(fixed(&issuer).verify(&token).await.is_ok(), "{alg:?}");
    }
}

#[tokio::test]
async fn alg_none_is_never_accepted() {
    let issuer = issuer().await;
    let token = issuer.token().unsigned().sign();
    assert_rejected(
        fixed(&issuer),
        &token,
        "unsecured tokens (alg `none`) are never accepted",
    )
    .await;
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let issuer = issuer().await;
    let public = issuer.current_key().public_jwk().to_string();
    let forger = SigningKey::hmac(
        Algorithm::HS256,
        issuer.current_key().kid(),
        public.as_bytes(),
    );
    let token = issuer.token().signed_by(&forger).sign();
    assert_rejected(
        fixed(&issuer),
        &token,
        &format!(
            "algorithm HS256 is not accepted for issuer `{}`",
            issuer.issuer()
        ),
    )
    .await;
}

#[tokio::test]
async fn a_key_of_another_issuer_does_not_verify() {
    let ours = issuer().await;
    let theirs = issuer().await;
    // Same kid as our key, signed by theirs.
    let token = ours
        .token()
        .signed_by(&theirs.current_key())
        .kid(Some(ours.current_key().kid()))
        .sign();
    assert_rejected(
        fixed(&ours),
        &token,
        "token signature does not verify with the issuer's keys",
    )
    .await;
}

#[tokio::test]
async fn embedded_keys_and_key_urls_are_ignored() {
    let issuer = issuer().await;
    let attacker = SigningKey::generate(Algorithm::RS256, "attacker");
    for (name, value) in [
        ("jwk", attacker.public_jwk().clone()),
        ("jku", json!("https://attacker.example/jwks")),
        ("x5u", json!("https://attacker.example/cert.pem")),
    ] {
        let token = issuer
            .token()
            .signed_by(&attacker)
            .header(name, value)
            .sign();
        assert_rejected(
            fixed(&issuer),
            &token,
            "issuer publishes no key with kid `attacker`",
        )
        .await;
        // Even with our kid, the attacker's signature fails.
        let token = issuer
            .token()
            .signed_by(&attacker)
            .kid(Some(issuer.current_key().kid()))
            .header(name, attacker.public_jwk().clone())
            .sign();
        assert_rejected(
            fixed(&issuer),
            &token,
            "token signature does not verify with the issuer's keys",
        )
        .await;
    }
}

#[tokio::test]
async fn an_embedded_certificate_chain_is_ignored() {
    let issuer = issuer().await;
    for alg in [Algorithm::ES256, Algorithm::RS256] {
        let attacker = SigningKey::generate(alg, "attacker");
        // A chain whose certificate holds the very key that signed the token: a verifier that
        // trusted `x5c` would accept it.
        let chain = json!([attacker.self_signed_certificate().expect("a certificate")]);
        for kid in [Some("attacker"), Some(issuer.current_key().kid()), None] {
            let token = issuer
                .token()
                .signed_by(&attacker)
                .kid(kid)
                .header("x5c", chain.clone())
                .sign();
            let error = fixed(&issuer).verify(&token).await.unwrap_err();
            assert_eq!(
                error.kind(),
                mcp_auth_core::AuthErrorKind::InvalidToken,
                "{alg:?} {kid:?}"
            );
        }
    }
}

#[tokio::test]
async fn unknown_kid() {
    let issuer = issuer().await;
    let token = issuer.token().kid(Some("no-such-key")).sign();
    assert_rejected(
        fixed(&issuer),
        &token,
        "issuer publishes no key with kid `no-such-key`",
    )
    .await;
}

#[tokio::test]
async fn time_claims() {
    let issuer = issuer().await;
    // A frozen clock: the figures in the messages cannot drift across a second boundary.
    let at = now();
    let v = Verifier::builder(resource())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .clock(move || at)
        .build()
        .unwrap();
    let expired = |ago: u64| issuer.token().claim("exp", at - ago).sign();
    assert_rejected(v.clone(), &expired(120), "token expired 120 seconds ago").await;
    // Within the 60 s leeway, an expired token still passes.
    assert_eq!(call(v.clone(), &expired(30)).await.status(), 200);
    let nbf = issuer.token().claim("nbf", at + 600).sign();
    assert_rejected(
        v.clone(),
        &nbf,
        "token is not valid for another 600 seconds (nbf)",
    )
    .await;
    let iat = issuer.token().claim("iat", at + 600).sign();
    assert_rejected(
        v.clone(),
        &iat,
        "token was issued 600 seconds in the future (iat)",
    )
    .await;
    assert_rejected(
        v.clone(),
        &issuer.token().without_claim("exp").sign(),
        "token has no `exp` claim",
    )
    .await;
    assert_rejected(
        v,
        &issuer.token().claim("exp", "soon").sign(),
        "claim `exp` must be a number",
    )
    .await;
}

#[tokio::test]
async fn audience_must_name_this_resource() {
    let issuer = issuer().await;
    let v = fixed(&issuer);
    let wrong = "token audience does not include this resource (https://mcp.example.com/mcp)";
    assert_rejected(
        v.clone(),
        &issuer
            .token()
            .audience("https://other.example.com/mcp")
            .sign(),
        &format!("{wrong}; the token names `https://other.example.com/mcp`"),
    )
    .await;
    assert_rejected(
        v.clone(),
        &issuer
            .token()
            .audience("https://mcp.example.com/mcp/admin")
            .sign(),
        &format!("{wrong}; the token names `https://mcp.example.com/mcp/admin`"),
    )
    .await;
    assert_rejected(
        v.clone(),
        &issuer.token().without_claim("aud").sign(),
        "token has no `aud` claim",
    )
    .await;
    // Canonically equal audiences and lists containing ours pass.
    for token in [
        issuer
            .token()
            .audience("https://MCP.example.com:443/mcp/")
            .sign(),
        issuer
            .token()
            .audiences(&["https://api.example.com", RESOURCE])
            .sign(),
    ] {
        assert_eq!(call(v.clone(), &token).await.status(), 200);
    }
}

#[tokio::test]
async fn issuer_must_be_trusted_exactly() {
    let issuer = issuer().await;
    let v = fixed(&issuer);
    let other = format!("{}/", issuer.issuer());
    assert_rejected(
        v.clone(),
        &issuer.token().claim("iss", other.as_str()).sign(),
        &format!("token issuer `{other}` is not trusted by this resource"),
    )
    .await;
    assert_rejected(
        v,
        &issuer.token().without_claim("iss").sign(),
        "token has no `iss` claim",
    )
    .await;
}

#[tokio::test]
async fn typ_must_be_at_jwt_unless_relaxed() {
    let issuer = issuer().await;
    let jwt = issuer.token().typ(Some("JWT")).sign();
    assert_rejected(
        fixed(&issuer),
        &jwt,
        "token `typ` is `JWT`; access tokens must be typed `at+jwt` (RFC 9068)",
    )
    .await;
    let untyped = issuer.token().typ(None).sign();
    assert_rejected(
        fixed(&issuer),
        &untyped,
        "token has no `typ`; access tokens must be typed `at+jwt` (RFC 9068)",
    )
    .await;
    let lenient = Verifier::builder(resource())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()).typ(TypPolicy::Lenient))
        .build()
        .unwrap();
    assert!(lenient.verify(&jwt).await.is_ok());
    assert!(lenient.verify(&untyped).await.is_ok());
    assert!(
        lenient
            .verify(&issuer.token().typ(Some("application/at+jwt")).sign())
            .await
            .is_ok()
    );
    assert!(
        lenient
            .verify(&issuer.token().typ(Some("id+jwt")).sign())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn required_claims_profile() {
    let issuer = issuer().await;
    let bare = issuer
        .token()
        .without_claim("client_id")
        .without_claim("jti")
        .sign();
    assert_rejected(fixed(&issuer), &bare, "token has no `client_id` claim").await;
    let minimal = Verifier::builder(resource())
        .issuer(
            IssuerConfig::static_keys(issuer.issuer(), issuer.jwks())
                .required_claims(RequiredClaims::minimal()),
        )
        .build()
        .unwrap();
    assert!(minimal.verify(&bare).await.is_ok());
    let azp = issuer
        .token()
        .without_claim("client_id")
        .claim("azp", "from-azp")
        .sign();
    assert_eq!(
        minimal.verify(&azp).await.unwrap().client_id(),
        Some("from-azp")
    );
}

#[tokio::test]
async fn malformed_tokens() {
    let issuer = issuer().await;
    let v = fixed(&issuer);
    let good = issuer.token().sign();
    let (_, rest) = good.split_once('.').unwrap();
    assert_rejected(
        v.clone(),
        &format!("e3+0.{rest}"),
        "token header is not base64url",
    )
    .await;
    let not_json = URL_SAFE_NO_PAD.encode("not json");
    assert_rejected(
        v.clone(),
        &format!("{not_json}.{rest}"),
        "token header is not a JSON object",
    )
    .await;
    assert_rejected(
        v.clone(),
        "abc.def",
        "token is not a JWT: expected 3 dot-separated segments, found 2",
    )
    .await;
    let huge = issuer.token().claim("pad", "x".repeat(20_000)).sign();
    assert_rejected(v, &huge, "token is longer than 16384 bytes").await;
}

#[tokio::test]
async fn missing_token_challenge_has_no_error_and_carries_scope() {
    let issuer = issuer().await;
    let layer =
        VerifyLayer::new(fixed(&issuer)).challenge_scope(mcp_auth_core::Scopes::parse("mcp:read"));
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service_fn(|_req: Request<Empty<Bytes>>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Empty::<Bytes>::new()))
        });
    let response = svc
        .clone()
        .oneshot(Request::get("/mcp").body(Empty::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        format!(r#"Bearer scope="mcp:read", resource_metadata="{METADATA}""#)
    );
    let query = Request::get("/mcp?access_token=abc")
        .body(Empty::new())
        .unwrap();
    let response = svc.clone().oneshot(query).await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with(r#"Bearer error="invalid_request""#)
    );
    let grpc = Request::post("/pkg.Svc/Call")
        .header("content-type", "application/grpc")
        .body(Empty::new())
        .unwrap();
    let response = svc.oneshot(grpc).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "16");
}

#[tokio::test]
async fn shared_secret_only_when_configured() {
    let secret = b"0123456789abcdef0123456789abcdef";
    let key = SigningKey::hmac(Algorithm::HS256, "h", secret);
    let token = TokenBuilder::new(&key)
        .claim("iss", "https://hmac.example")
        .claim("aud", RESOURCE)
        .claim("sub", "svc")
        .claim("exp", now() + 60)
        .without_header("kid")
        .sign();
    let v = Verifier::builder(resource())
        .issuer(
            IssuerConfig::shared_secret("https://hmac.example", secret, Algorithm::HS256)
                .required_claims(RequiredClaims::minimal()),
        )
        .build()
        .unwrap();
    assert_eq!(v.verify(&token).await.unwrap().subject(), "svc");
    let short = Verifier::builder(resource())
        .issuer(IssuerConfig::shared_secret(
            "https://hmac.example",
            b"short",
            Algorithm::HS256,
        ))
        .build();
    assert!(short.unwrap_err().to_string().contains("at least 32 bytes"));
    let sneaky = Verifier::builder(resource())
        .issuer(IssuerConfig::discover("https://a.example").algorithms(&[Algorithm::HS256]))
        .build();
    assert!(sneaky.unwrap_err().to_string().contains("HMAC"));
}

#[tokio::test]
async fn configuration_errors_name_the_issuer_and_fix() {
    let e = Verifier::builder(resource()).build().unwrap_err();
    assert!(e.to_string().contains("no issuer configured"));
    let e = Verifier::builder(resource())
        .issuer(IssuerConfig::discover("https://a.example"))
        .issuer(IssuerConfig::discover("https://a.example"))
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("`https://a.example` is configured twice")
    );
    let e = Verifier::builder(resource())
        .issuer(IssuerConfig::discover("https://a.example").leeway(Duration::from_secs(3600)))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("leeway"));
    let e = Verifier::builder(resource())
        .issuer(IssuerConfig::static_keys(
            "https://a.example",
            json!({"keys": [{"kty": "oct", "k": "AA"}]}),
        ))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("no usable key"), "{e}");
}

#[tokio::test]
async fn several_issuers_each_with_their_own_keys() {
    let a = issuer().await;
    let b = MockIssuer::builder()
        .audience(RESOURCE)
        .key(Algorithm::ES256)
        .start()
        .await;
    let v = Verifier::builder(resource())
        .issuer(IssuerConfig::static_keys(a.issuer(), a.jwks()))
        .issuer(IssuerConfig::static_keys(b.issuer(), b.jwks()))
        .build()
        .unwrap();
    assert_eq!(
        v.verify(&a.token().sign()).await.unwrap().issuer(),
        a.issuer()
    );
    assert_eq!(
        v.verify(&b.token().sign()).await.unwrap().issuer(),
        b.issuer()
    );
    // b's iss with a's signature: only b's keys are tried.
    let crossed = a.token().claim("iss", b.issuer()).sign();
    assert!(v.verify(&crossed).await.is_err());
}

// --- JWKS: discovery, rotation, failures, floods, freshness ---

#[tokio::test]
async fn discovery_finds_the_jwks_and_requires_the_exact_issuer() {
    let issuer = MockIssuer::builder()
        .audience(RESOURCE)
        .path("/tenant")
        .start()
        .await;
    let v = Verifier::builder(resource())
        .issuer(IssuerConfig::discover(issuer.issuer()))
        .fetch_policy(dev_policy())
        .build()
        .unwrap();
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    assert_eq!(issuer.discovery_fetches(), 1);

    let liar = issuer_with_discovery_mismatch().await;
    let v = Verifier::builder(resource())
        .issuer(IssuerConfig::discover(liar.issuer()))
        .fetch_policy(dev_policy())
        .build()
        .unwrap();
    let failures = v.warm_up().await;
    assert_eq!(failures.len(), 1);
    assert!(failures[0].1.contains("names issuer"), "{failures:?}");
    let response = call(v, &liar.token().sign()).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
}

async fn issuer_with_discovery_mismatch() -> MockIssuer {
    let issuer = issuer().await;
    issuer.set_discovery_issuer(Some("https://someone-else.example"));
    issuer
}

#[tokio::test]
async fn rotation_is_picked_up() {
    let issuer = issuer().await;
    let v = remote(&issuer)
        .refresh_interval(Duration::ZERO)
        .build()
        .unwrap();
    let old = issuer.token().sign();
    assert!(v.verify(&old).await.is_ok());
    issuer.rotate(Algorithm::ES256);
    let new = issuer.token().sign();
    assert!(v.verify(&new).await.is_ok(), "new kid triggers a refresh");
    assert_eq!(issuer.jwks_fetches(), 2);
    // The old key was withdrawn: its cached token no longer stands.
    let err = v.verify(&old).await.unwrap_err();
    assert_eq!(err.reason(), "unknown_key", "{err:?}");
}

#[tokio::test]
async fn issuer_down_keeps_serving_with_the_last_good_keys() {
    let issuer = issuer().await;
    let v = remote(&issuer)
        .refresh_interval(Duration::ZERO)
        .jwks_freshness(Duration::ZERO, Duration::ZERO, Duration::ZERO)
        .build()
        .unwrap();
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    for failure in [JwksBehavior::Fail(500), JwksBehavior::Hang] {
        issuer.set_jwks_behavior(failure);
        // A refresh really happens, and really fails...
        let fetches = issuer.jwks_fetches();
        let failures = v.warm_up().await;
        assert_eq!(failures.len(), 1, "the refresh failed");
        assert!(issuer.jwks_fetches() > fetches, "the refresh was attempted");
        // ...and tokens never seen before still verify with the last good keys.
        for _ in 0..3 {
            assert!(
                v.verify(&issuer.token().sign()).await.is_ok(),
                "stale keys still verify"
            );
        }
    }
}

#[tokio::test]
async fn no_keys_at_all_is_503_with_retry_after_not_401() {
    let issuer = issuer().await;
    issuer.set_jwks_behavior(JwksBehavior::Fail(500));
    let v = remote(&issuer)
        .refresh_interval(Duration::from_secs(30))
        .build()
        .unwrap();
    let response = call(v.clone(), &issuer.token().sign()).await;
    assert_eq!(response.status(), 503);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // Keys were never obtained: the first retry comes after a second, not the whole interval.
    assert_eq!(retry, 1);
    assert!(response.headers().get("www-authenticate").is_none());
    // Within the back-off nothing is fetched again.
    assert_eq!(call(v, &issuer.token().sign()).await.status(), 503);
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn an_issuer_not_up_at_start_is_retried_with_back_off_not_after_the_interval() {
    let issuer = issuer().await;
    issuer.set_jwks_behavior(JwksBehavior::Fail(503));
    let v = remote(&issuer)
        .refresh_interval(Duration::from_secs(30))
        .build()
        .unwrap();
    let token = issuer.token().sign();
    let wait = |e: AuthError| e.retry_after().expect("503 carries Retry-After");
    let first = wait(v.verify(&token).await.unwrap_err());
    assert!(first <= Duration::from_secs(1), "{first:?}");
    // Waiting as told, the next attempt is made and fails again; the wait doubles.
    tokio::time::sleep(first).await;
    let second = wait(v.verify(&token).await.unwrap_err());
    assert_eq!(issuer.jwks_fetches(), 2);
    assert!(
        second > Duration::from_secs(1) && second <= Duration::from_secs(2),
        "{second:?}"
    );
    // The issuer comes up; after the second wait the keys are fetched and the token verifies,
    // some 3 s after start instead of 30.
    issuer.set_jwks_behavior(JwksBehavior::Serve);
    tokio::time::sleep(second).await;
    assert!(v.verify(&token).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 3);
}

#[test]
fn an_opaque_token_is_never_offered_to_two_issuers() {
    let introspecting = |issuer: &str| {
        IssuerConfig::discover(issuer)
            .introspection(crate::Introspection::client_secret_basic("rs", "secret"))
    };
    let err = Verifier::builder(resource())
        .issuer(introspecting("https://a.example"))
        .issuer(introspecting("https://b.example"))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("only one issuer may introspect"), "{err}");
    // JWTs are still verified locally, and never introspected.
    let v = Verifier::builder(resource())
        .issuer(introspecting("https://a.example"))
        .build()
        .unwrap();
    let jwt_shaped = "a.b.c";
    assert!(matches!(
        v.try_verify(jwt_shaped, true, None),
        Attempt::Done(Err(_))
    ));
    assert!(matches!(
        v.try_verify("opaque", true, None),
        Attempt::Introspect { issuer: 0 }
    ));
}

#[tokio::test]
async fn hostile_jwks_documents_give_503_not_a_crash() {
    for (body, content_type) in [
        ("not json", "application/json"),
        ("{\"keys\": 5}", "application/json"),
        (
            "{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", \"x\": \"AA\", \"y\": \"AA\"}]}",
            "application/json",
        ),
        ("<html>", "text/html"),
    ] {
        let issuer = issuer().await;
        issuer.set_jwks_behavior(JwksBehavior::Body(body.into(), content_type.into()));
        let v = remote(&issuer).build().unwrap();
        assert_eq!(
            call(v, &issuer.token().sign()).await.status(),
            503,
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_flood_of_random_kids_fetches_at_most_once_per_interval() {
    let issuer = issuer().await;
    let v = remote(&issuer)
        .refresh_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 1);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let v = v.clone();
        let token = issuer.token().kid(Some(&format!("random-{i}"))).sign();
        tasks.push(tokio::spawn(async move { v.verify(&token).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap_err().reason(), "unknown_key");
    }
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_a_rotated_kid_shares_one_fetch_across_threads() {
    let issuer = issuer().await;
    let v = verifying_with_keys_cached(&issuer).await;
    assert_eq!(issuer.jwks_fetches(), 1);
    // The issuer rotates: every token now names a kid the verifier has never seen.
    issuer.rotate(Algorithm::RS256);
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let v = v.clone();
        let barrier = barrier.clone();
        let token = issuer.token().sign();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            v.verify(&token).await
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(issuer.jwks_fetches(), 2, "one fetch shared by every waiter");
}

#[tokio::test]
async fn concurrent_first_requests_share_one_fetch() {
    let issuer = issuer().await;
    let v = remote(&issuer).build().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let v = v.clone();
        let token = issuer.token().sign();
        tasks.push(tokio::spawn(async move { v.verify(&token).await }));
    }
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn cache_control_max_age_is_honoured_within_bounds() {
    for (header, expected) in [
        (Some("public, max-age=120"), 120),
        (Some("max-age=5"), 60),
        (Some("max-age=999999"), 3600),
        (None, 600),
        (Some("no-store"), 60),
    ] {
        let issuer = issuer().await;
        issuer.set_cache_control(header);
        let v = remote(&issuer)
            .jwks_freshness(
                Duration::from_secs(60),
                Duration::from_secs(3600),
                Duration::from_secs(600),
            )
            .build()
            .unwrap();
        assert!(v.verify(&issuer.token().sign()).await.is_ok());
        let keys = v.inner.keys.get(&0).unwrap();
        let fresh_for = keys
            .fresh_until
            .unwrap()
            .saturating_duration_since(std::time::Instant::now());
        let secs = fresh_for.as_secs_f64();
        assert!(
            secs <= expected as f64 && secs > expected as f64 - 5.0,
            "{header:?}: {secs}"
        );
    }
}

// --- the verified-token cache ---

#[tokio::test]
async fn cache_hits_recheck_expiry() {
    let issuer = issuer().await;
    let clock = Arc::new(AtomicU64::new(now()));
    let c = clock.clone();
    let v = Verifier::builder(resource())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()).leeway(Duration::ZERO))
        .clock(move || c.load(Ordering::SeqCst))
        .build()
        .unwrap();
    let token = issuer.token().expires_in(Duration::from_secs(100)).sign();
    assert!(v.verify(&token).await.is_ok());
    assert!(v.inner.tokens.get(token.as_str()).is_some(), "cached");
    clock.fetch_add(99, Ordering::SeqCst);
    assert!(v.verify(&token).await.is_ok());
    clock.fetch_add(1, Ordering::SeqCst);
    let err = v.verify(&token).await.unwrap_err();
    assert_eq!(err.reason(), "expired");
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let issuer = issuer().await;
    let v = Verifier::builder(resource())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .token_cache_capacity(10)
        .build()
        .unwrap();
    for _ in 0..100 {
        assert!(v.verify(&issuer.token().sign()).await.is_ok());
    }
    assert!(v.inner.tokens.len() <= 10, "{}", v.inner.tokens.len());
}

#[tokio::test]
async fn tampered_tokens_never_hit_the_cache() {
    let issuer = issuer().await;
    let v = fixed(&issuer);
    let token = issuer.token().scope("read").sign();
    assert!(v.verify(&token).await.is_ok());
    let (head, rest) = token.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let claims = issuer.token().scope("read admin").claims().clone();
    let forged = format!(
        "{head}.{}.{sig}",
        URL_SAFE_NO_PAD.encode(serde_json::Value::Object(claims).to_string())
    );
    assert_eq!(
        v.verify(&forged).await.unwrap_err().reason(),
        "bad_signature"
    );
}

// --- hostile issuers: bounded time and memory, the right status, cached keys keep working ---

fn elapsed_below(start: std::time::Instant, limit: Duration) {
    assert!(start.elapsed() < limit, "took {:?}", start.elapsed());
}

#[tokio::test]
async fn a_huge_jwks_is_refused_and_cached_keys_keep_working() {
    let issuer = issuer().await;
    let v = verifying_with_keys_cached(&issuer).await;
    let huge = format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    issuer.set_jwks_behavior(JwksBehavior::Body(huge, "application/json".into()));
    let start = std::time::Instant::now();
    // An unknown kid forces a refresh, which fails on the size cap: 401 for that token...
    let err = v
        .verify(&issuer.token().kid(Some("rotated?")).sign())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "unknown_key");
    elapsed_below(start, Duration::from_secs(3));
    // ...and tokens signed by the cached key still verify.
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    // Without cached keys, the same issuer gives 503.
    let fresh = remote(&issuer).build().unwrap();
    assert_eq!(call(fresh, &issuer.token().sign()).await.status(), 503);
}

#[tokio::test]
async fn a_slowloris_jwks_times_out() {
    let issuer = issuer().await;
    issuer.set_jwks_behavior(JwksBehavior::Trickle);
    let v = remote(&issuer).build().unwrap();
    let start = std::time::Instant::now();
    assert_eq!(call(v, &issuer.token().sign()).await.status(), 503);
    elapsed_below(start, Duration::from_secs(3));
}

#[tokio::test]
async fn a_hanging_issuer_never_hangs_requests() {
    let issuer = issuer().await;
    let v = verifying_with_keys_cached(&issuer).await;
    issuer.set_jwks_behavior(JwksBehavior::Hang);
    let start = std::time::Instant::now();
    let err = v
        .verify(&issuer.token().kid(Some("new-kid")).sign())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "unknown_key");
    elapsed_below(start, Duration::from_secs(3));
    assert!(
        v.verify(&issuer.token().sign()).await.is_ok(),
        "cached keys keep working"
    );
}

#[tokio::test]
async fn duplicate_kids_still_find_the_right_key() {
    let issuer = issuer().await;
    let impostor = SigningKey::generate(Algorithm::RS256, issuer.current_key().kid());
    let mut jwks = issuer.jwks();
    jwks["keys"]
        .as_array_mut()
        .unwrap()
        .insert(0, impostor.public_jwk().clone());
    issuer.set_jwks_behavior(JwksBehavior::Body(
        jwks.to_string(),
        "application/json".into(),
    ));
    let v = remote(&issuer).build().unwrap();
    assert!(v.verify(&issuer.token().sign()).await.is_ok());
    // At most four keys are tried per token. With the real key behind four impostors that
    // share its kid, the token is refused; with it fourth, it verifies: the cap is exactly four.
    let impostors: Vec<_> = (0..4)
        .map(|_| SigningKey::generate(Algorithm::RS256, issuer.current_key().kid()))
        .collect();
    let real = issuer.current_key().public_jwk().clone();
    let published = |before: usize| {
        let mut keys: Vec<_> = impostors[..before]
            .iter()
            .map(|k| k.public_jwk().clone())
            .collect();
        keys.push(real.clone());
        JwksBehavior::Body(json!({"keys": keys}).to_string(), "application/json".into())
    };
    issuer.set_jwks_behavior(published(4));
    let v = remote(&issuer).build().unwrap();
    let err = v.verify(&issuer.token().sign()).await.unwrap_err();
    assert_eq!(
        err.reason(),
        "bad_signature",
        "the fifth candidate is never tried"
    );
    issuer.set_jwks_behavior(published(3));
    let v = remote(&issuer).build().unwrap();
    assert!(
        v.verify(&issuer.token().sign()).await.is_ok(),
        "the fourth candidate is tried"
    );
}

#[tokio::test]
async fn redirecting_discovery_or_jwks_is_not_followed() {
    let issuer = issuer().await;
    let elsewhere = MockIssuer::builder().audience(RESOURCE).start().await;
    issuer.set_discovery_redirect(Some(&format!(
        "{}/.well-known/openid-configuration",
        elsewhere.issuer()
    )));
    let v = Verifier::builder(resource())
        .issuer(IssuerConfig::discover(issuer.issuer()))
        .fetch_policy(dev_policy())
        .build()
        .unwrap();
    let failures = v.warm_up().await;
    assert!(failures[0].1.contains("redirect"), "{failures:?}");
    assert_eq!(elsewhere.discovery_fetches(), 0);
    assert_eq!(call(v, &issuer.token().sign()).await.status(), 503);

    issuer.set_discovery_redirect(None);
    issuer.set_jwks_behavior(JwksBehavior::Redirect(elsewhere.jwks_uri()));
    let v = remote(&issuer).build().unwrap();
    assert_eq!(call(v, &issuer.token().sign()).await.status(), 503);
    assert_eq!(elsewhere.jwks_fetches(), 0);
}

// --- expiry arithmetic: first sight and cache hits agree, at every instant ---

mod expiry {
    use super::*;
    use proptest::prelude::*;

    const ISSUER: &str = "https://issuer.example";

    fn key() -> &'static SigningKey {
        static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
        KEY.get_or_init(|| SigningKey::generate(Algorithm::ES256, "k"))
    }

    fn verifier_at(clock: Arc<AtomicU64>, leeway: u64) -> Verifier {
        let jwks = json!({"keys": [key().public_jwk()]});
        Verifier::builder(resource())
            .issuer(IssuerConfig::static_keys(ISSUER, jwks).leeway(Duration::from_secs(leeway)))
            .clock(move || clock.load(Ordering::SeqCst))
            .build()
            .unwrap()
    }

    proptest! {
        #[test]
        fn accepted_exactly_while_now_is_before_exp_plus_leeway(
            exp in 1_000u64..u64::MAX / 2,
            offset in -200i64..200,
            later in 0u64..400,
            leeway in 0u64..=300,
        ) {
            let now = exp.saturating_add_signed(offset);
            let clock = Arc::new(AtomicU64::new(now));
            let v = verifier_at(clock.clone(), leeway);
            let token = TokenBuilder::new(key())
                .claim("iss", ISSUER)
                .claim("aud", RESOURCE)
                .claim("sub", "s")
                .claim("client_id", "c")
                .claim("jti", "j")
                .claim("iat", 0)
                .claim("exp", exp)
                .sign();
            let check = |v: &Verifier| match v.try_verify(&token, false, None) {
                Attempt::Done(result) => result.is_ok(),
                _ => panic!("static keys never need the network"),
            };
            prop_assert_eq!(check(&v), now < exp.saturating_add(leeway), "first sight at {}", now);
            // Later, from the cache or not, the same rule holds.
            clock.store(now + later, Ordering::SeqCst);
            prop_assert_eq!(check(&v), now + later < exp.saturating_add(leeway), "later at {}", now + later);
        }
    }
}

#[test]
fn an_issuer_the_fetch_policy_refuses_fails_the_build_naming_the_switch() {
    for (issuer, config, fix) in [
        (
            "http://127.0.0.1:9/",
            IssuerConfig::discover("http://127.0.0.1:9/"),
            "FetchPolicy::allow_loopback(true)",
        ),
        (
            "https://localhost/realms/dev",
            IssuerConfig::jwks_uri("https://localhost/realms/dev", "https://localhost/jwks"),
            "FetchPolicy::allow_loopback(true)",
        ),
        (
            "https://10.1.2.3/",
            IssuerConfig::discover("https://10.1.2.3/"),
            "FetchPolicy::allow_private_networks(true)",
        ),
        (
            "http://auth.example.com/",
            IssuerConfig::discover("http://auth.example.com/"),
            "over https",
        ),
    ] {
        let error = Verifier::builder(resource())
            .issuer(config)
            .build()
            .err()
            .unwrap_or_else(|| panic!("{issuer} was accepted"))
            .to_string();
        assert!(error.contains(issuer), "{error}");
        assert!(error.contains(fix), "{error}");
    }
    // The same issuers are fine with the switch that admits them.
    Verifier::builder(resource())
        .issuer(IssuerConfig::discover("http://127.0.0.1:9/"))
        .fetch_policy(dev_policy())
        .build()
        .unwrap();
    Verifier::builder(resource())
        .issuer(IssuerConfig::discover("https://10.1.2.3/"))
        .fetch_policy(FetchPolicy::default().allow_private_networks(true))
        .build()
        .unwrap();
}
