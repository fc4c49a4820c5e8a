//! This server's DPoP key at the token endpoint (proofs, the nonce round) and downstream.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::mock::{Clock, MockAs, Reply, caller};
use crate::{ExchangeError, ExchangeRequest, PrivateKey, ResponseProblem, TokenType};

const HOUR: Duration = Duration::from_secs(3600);

fn key() -> PrivateKey {
    PrivateKey::from_jwk(&crate::key::tests::ec_jwk().0).unwrap()
}

/// Verifies a proof with the key in its own header (as a server does) and returns the key's
/// thumbprint and the claims.
fn open(proof: &str) -> (String, Value) {
    let header = jsonwebtoken::decode_header(proof).unwrap();
    assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
    let jwk = header.jwk.expect("the proof carries its key");
    let decoding = DecodingKey::from_jwk(&jwk).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(proof, &decoding, &validation)
        .expect("the proof verifies under its own key")
        .claims;
    let jwk = serde_json::to_value(jwk).unwrap();
    (
        mcp_auth_core::jwk_thumbprint(jwk.as_object().unwrap()).unwrap(),
        claims,
    )
}

fn dpop_token(n: usize) -> Reply {
    Reply::json(
        200,
        json!({
            "access_token": format!("bound-{n}"),
            "issued_token_type": crate::ACCESS_TOKEN_TYPE,
            "token_type": "DPoP",
            "expires_in": 300,
        }),
    )
}

fn nonce_please(nonce: &str) -> Reply {
    let mut reply = Reply::oauth_error(
        400,
        "use_dpop_nonce",
        "Authorization server requires nonce in DPoP proof",
    );
    reply.dpop_nonce = Some(nonce.to_owned());
    reply
}

#[tokio::test]
async fn token_requests_carry_proofs_and_honour_the_nonce_round() {
    let mock = MockAs::start().await;
    mock.script(|received, n| {
        let proof = received
            .dpop
            .as_deref()
            .expect("every token request has a proof");
        let (_, claims) = open(proof);
        match (n, claims.get("nonce")) {
            (1, None) => nonce_please("nonce-1"),
            (_, Some(nonce)) if nonce == "nonce-1" => dpop_token(n),
            _ => Reply::oauth_error(400, "invalid_dpop_proof", "unexpected"),
        }
    });
    let clock = Clock::new();
    let key = key();
    let client = mock
        .client_builder(&clock)
        .dpop_key(key.clone())
        .build()
        .unwrap();
    let alice = caller("alice-token", &clock, HOUR);
    let token = client
        .get_token_on_behalf_of(&alice, ExchangeRequest::audience("https://api.example"))
        .await
        .expect("the retry with the nonce is granted");
    assert_eq!(token.token_type(), TokenType::Dpop);
    assert_eq!(token.bearer_header(), "DPoP bound-2");

    let received = mock.received();
    assert_eq!(received.len(), 2, "one retry, with the nonce");
    let mut jtis = Vec::new();
    for request in &received {
        let (jkt, claims) = open(request.dpop.as_deref().unwrap());
        assert_eq!(jkt, key.thumbprint(), "signed with this server's key");
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], mock.token_endpoint());
        assert!(claims.get("ath").is_none(), "no access token is presented");
        assert!(
            request
                .authorization
                .as_deref()
                .is_some_and(|a| a.starts_with("Basic ")),
            "client authentication is made on every attempt"
        );
        jtis.push(claims["jti"].clone());
    }
    assert_ne!(jtis[0], jtis[1], "a fresh proof for the retry");

    // The next exchange uses the nonce it was given without being asked again.
    let bob = caller("bob-token", &clock, HOUR);
    client
        .get_token_on_behalf_of(&bob, ExchangeRequest::audience("https://api.example"))
        .await
        .unwrap();
    assert_eq!(mock.exchanges(), 3);

    // Downstream: `Authorization: DPoP` and a proof for this request, bound to the token.
    let request = token
        .apply_to(reqwest::Client::new().post("https://api.example/v1/orders?page=2"))
        .build()
        .unwrap();
    assert_eq!(request.headers()["authorization"], "DPoP bound-2");
    let (jkt, claims) = open(request.headers()["dpop"].to_str().unwrap());
    assert_eq!(jkt, key.thumbprint());
    assert_eq!(claims["htm"], "POST");
    assert_eq!(claims["htu"], "https://api.example/v1/orders");
    assert_eq!(
        claims["ath"],
        URL_SAFE_NO_PAD.encode(Sha256::digest(b"bound-2"))
    );
    let request = token
        .apply_to(http::Request::get("https://api.example/v1/x"))
        .body(())
        .unwrap();
    assert!(request.headers()["dpop"].is_sensitive());
    let proof = token
        .dpop_proof(
            &http::Method::GET,
            "https://api.example/v1/x",
            Some("api-nonce"),
        )
        .unwrap();
    assert_eq!(open(proof.to_str().unwrap()).1["nonce"], "api-nonce");
}

#[tokio::test]
async fn the_nonce_round_is_tried_once() {
    let mock = MockAs::start().await;
    mock.script(|_, n| nonce_please(&format!("nonce-{n}")));
    let clock = Clock::new();
    let client = mock.client_builder(&clock).dpop_key(key()).build().unwrap();
    let alice = caller("alice-token", &clock, HOUR);
    let err = client
        .get_token_on_behalf_of(&alice, ExchangeRequest::audience("https://api.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, ExchangeError::Refused { .. }), "{err:?}");
    assert_eq!(mock.exchanges(), 2, "no loop on a server that keeps asking");
}

#[tokio::test]
async fn a_bound_token_without_a_key_is_an_invalid_answer() {
    let mock = MockAs::start().await;
    mock.script(|received, n| {
        assert!(received.dpop.is_none(), "no key, no proof");
        dpop_token(n)
    });
    let clock = Clock::new();
    let client = mock.client(&clock);
    let alice = caller("alice-token", &clock, HOUR);
    let err = client
        .get_token_on_behalf_of(&alice, ExchangeRequest::audience("https://api.example"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ExchangeError::InvalidResponse(ResponseProblem::InvalidField {
                field: "token_type",
                ..
            })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_bearer_answer_to_a_proof_stays_a_bearer_token() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let client = mock.client_builder(&clock).dpop_key(key()).build().unwrap();
    let alice = caller("alice-token", &clock, HOUR);
    let token = client
        .get_token_on_behalf_of(&alice, ExchangeRequest::audience("https://api.example"))
        .await
        .unwrap();
    assert!(mock.last().dpop.is_some());
    assert_eq!(token.token_type(), TokenType::Bearer);
    let request = token
        .apply_to(http::Request::get("https://api.example/"))
        .body(())
        .unwrap();
    assert!(request.headers().get("dpop").is_none());
    assert_eq!(request.headers()["authorization"], "Bearer exchanged-1");
}

#[test]
fn keys_from_pem_have_their_public_half() {
    use aws_lc_rs::encoding::AsDer as _;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = pair.as_der().unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    let key = PrivateKey::from_pem(pem.as_bytes(), crate::Algorithm::PS256).unwrap();
    assert_eq!(key.thumbprint().len(), 43);
    let ec = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(ec.to_pkcs8v1().unwrap().as_ref())
    );
    let key = PrivateKey::from_pem(pem.as_bytes(), crate::Algorithm::ES256).unwrap();
    let proof = crate::dpop::proof(
        &key,
        "GET",
        "https://a.example/",
        None,
        None,
        std::time::SystemTime::now(),
    )
    .unwrap();
    assert_eq!(open(proof.to_str().unwrap()).0, key.thumbprint());
}

#[tokio::test]
async fn concurrent_exchanges_each_retry_with_the_nonce_they_did_not_carry() {
    let mock = MockAs::start().await;
    mock.script(|received, n| {
        let (_, claims) = open(received.dpop.as_deref().unwrap());
        match claims.get("nonce") {
            Some(nonce) if nonce == "nonce-1" => dpop_token(n),
            _ => nonce_please("nonce-1"),
        }
    });
    let gate = mock.hold();
    let clock = Clock::new();
    let client = mock.client_builder(&clock).dpop_key(key()).build().unwrap();
    let (alice, bob) = (
        caller("alice-token", &clock, HOUR),
        caller("bob-token", &clock, HOUR),
    );
    let request = || ExchangeRequest::audience("https://api.example");
    let (a, b) = (client.clone(), client.clone());
    let first = tokio::spawn(async move { a.get_token_on_behalf_of(&alice, request()).await });
    let second = tokio::spawn(async move { b.get_token_on_behalf_of(&bob, request()).await });
    // Both first attempts are in flight without a nonce before either answer arrives.
    super::mock::eventually("two requests in flight", || mock.exchanges() == 2).await;
    gate.add_permits(100);
    assert!(
        first.await.unwrap().is_ok(),
        "alice's exchange retried with the nonce"
    );
    assert!(
        second.await.unwrap().is_ok(),
        "and bob's, though the nonce was known by then"
    );
    assert_eq!(mock.exchanges(), 4);
}
