//! The client against the mock token endpoint: requests, client authentication, answers.

use std::time::Duration;

use aws_lc_rs::encoding::{AsBigEndian as _, AsDer as _};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, Validation};
use mcp_auth_core::Algorithm;
use mcp_auth_core::{BearerToken, Scopes};
use mcp_auth_fetch::FetchPolicy;
use serde_json::{Value, json};

use super::mock::{Clock, MockAs, Reply, caller};
use crate::{
    ACCESS_TOKEN_TYPE, ActorToken, ClientAuth, ConfigError, ExchangeError, ExchangeRequest,
    JWT_BEARER_ASSERTION, JWT_TOKEN_TYPE, OAuthErrorCode, PrivateKey, ResponseProblem,
    TOKEN_EXCHANGE_GRANT, TokenExchangeClient, TokenType,
};

const HOUR: Duration = Duration::from_secs(3600);

fn api() -> ExchangeRequest {
    ExchangeRequest::audience("https://api.example").scope("api:read")
}

#[tokio::test]
async fn sends_an_rfc8693_request_with_client_secret_basic() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let client = mock
        .client_builder_with(
            ClientAuth::client_secret_basic("mcp server", "p@ss:word"),
            &clock,
        )
        .build()
        .unwrap();
    let alice = caller("alice-token", &clock, HOUR);
    let token = client
        .get_token_on_behalf_of(&alice, api().scope("api:write api:read"))
        .await
        .unwrap();
    assert_eq!(token.expose_secret(), "exchanged-1");
    assert_eq!(token.token_type(), TokenType::Bearer);
    assert_eq!(token.issued_token_type(), ACCESS_TOKEN_TYPE);
    assert_eq!(token.expires_at(), clock.now() + Duration::from_secs(300));
    assert!(!token.from_cache());

    let got = mock.last();
    let form = &got.form;
    assert_eq!(form["grant_type"], TOKEN_EXCHANGE_GRANT);
    assert_eq!(form["subject_token"], "alice-token");
    assert_eq!(form["subject_token_type"], ACCESS_TOKEN_TYPE);
    assert_eq!(form["audience"], "https://api.example");
    assert_eq!(form["scope"], "api:read api:write", "normalised scope");
    for absent in [
        "resource",
        "requested_token_type",
        "actor_token",
        "client_secret",
        "client_assertion",
    ] {
        assert!(!form.contains_key(absent), "{absent}");
    }
    // RFC 6749 §2.3.1: form-urlencode id and secret, then base64 `id:secret`.
    let basic = got.authorization.unwrap();
    let decoded = STANDARD
        .decode(basic.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "mcp+server:p%40ss%3Aword"
    );
}

#[tokio::test]
async fn client_secret_post_sends_the_credentials_in_the_form() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let client = mock
        .client_builder_with(ClientAuth::client_secret_post("svc", "svc-secret"), &clock)
        .build()
        .unwrap();
    client
        .get_token_on_behalf_of(&caller("t", &clock, HOUR), api())
        .await
        .unwrap();
    let got = mock.last();
    assert_eq!(got.form["client_id"], "svc");
    assert_eq!(got.form["client_secret"], "svc-secret");
    assert!(got.authorization.is_none());
}

#[tokio::test]
async fn private_key_jwt_sends_a_signed_rfc7523_assertion() {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..]),
    );
    let d = URL_SAFE_NO_PAD.encode(pair.private_key().as_be_bytes().unwrap().as_ref());
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "d": d, "kid": "k1"});
    let key = PrivateKey::from_jwk(&jwk.to_string()).unwrap();

    let mock = MockAs::start().await;
    let clock = Clock::new();
    let client = mock
        .client_builder_with(ClientAuth::private_key_jwt("svc", key), &clock)
        .build()
        .unwrap();
    let alice = caller("t", &clock, HOUR);
    client.get_token_on_behalf_of(&alice, api()).await.unwrap();
    client
        .get_token_on_behalf_of(&alice, api().scope("other"))
        .await
        .unwrap();

    let decoding = DecodingKey::from_ec_components(&x, &y).unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[mock.token_endpoint()]);
    validation.set_issuer(&["svc"]);
    validation.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
    let mut jtis = Vec::new();
    for got in mock.received() {
        assert_eq!(got.form["client_id"], "svc");
        assert_eq!(got.form["client_assertion_type"], JWT_BEARER_ASSERTION);
        assert!(got.authorization.is_none());
        let data =
            jsonwebtoken::decode::<Value>(&got.form["client_assertion"], &decoding, &validation)
                .expect("signature, iss, aud and exp check out");
        assert_eq!(data.header.kid.as_deref(), Some("k1"));
        let claims = data.claims;
        assert_eq!(claims["sub"], "svc");
        assert_eq!(claims["aud"], mock.token_endpoint().as_str());
        let iat = claims["iat"].as_u64().unwrap();
        assert_eq!(iat, clock.unix());
        assert_eq!(claims["exp"].as_u64().unwrap(), iat + 60, "short-lived");
        jtis.push(claims["jti"].as_str().unwrap().to_owned());
    }
    assert_eq!(jtis.len(), 2);
    assert_ne!(jtis[0], jtis[1], "jti is unique per assertion");
    assert!(jtis[0].len() >= 20);

    // A signature by another key does not verify.
    let other = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let p = other.public_key().as_ref().to_vec();
    let wrong = DecodingKey::from_ec_components(
        &URL_SAFE_NO_PAD.encode(&p[1..33]),
        &URL_SAFE_NO_PAD.encode(&p[33..]),
    )
    .unwrap();
    assert!(
        jsonwebtoken::decode::<Value>(&mock.last().form["client_assertion"], &wrong, &validation)
            .is_err()
    );
}

#[tokio::test]
async fn private_key_jwt_from_an_rsa_pem() {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = pair.as_der().unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(der.as_ref())
    );
    let key = PrivateKey::from_pem(pem.as_bytes(), Algorithm::RS256)
        .unwrap()
        .kid("rsa-1");
    let public = pair.public_key();
    let decoding = DecodingKey::from_rsa_raw_components(
        public.modulus().big_endian_without_leading_zero(),
        public.exponent().big_endian_without_leading_zero(),
    );
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let client = mock
        .client_builder_with(ClientAuth::private_key_jwt("svc", key), &clock)
        .build()
        .unwrap();
    client
        .get_token_on_behalf_of(&caller("t", &clock, HOUR), api())
        .await
        .unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[mock.token_endpoint()]);
    let data = jsonwebtoken::decode::<Value>(
        &mock.last().form["client_assertion"],
        &decoding,
        &validation,
    )
    .unwrap();
    assert_eq!(data.header.kid.as_deref(), Some("rsa-1"));
    assert_eq!(data.claims["iss"], "svc");
}

#[tokio::test]
async fn optional_parameters_are_sent_when_given() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let client = mock.client(&clock);
    let request = ExchangeRequest {
        audience: Some("orders".into()),
        resource: Some("https://orders.example/api".into()),
        scope: Scopes::empty(),
        requested_token_type: Some(JWT_TOKEN_TYPE.into()),
        actor: Some(ActorToken::new(
            BearerToken::new("actor-token"),
            ACCESS_TOKEN_TYPE,
        )),
    };
    client
        .get_token_on_behalf_of(&caller("t", &clock, HOUR), request)
        .await
        .unwrap();
    let form = mock.last().form;
    assert_eq!(form["audience"], "orders");
    assert_eq!(form["resource"], "https://orders.example/api");
    assert_eq!(form["requested_token_type"], JWT_TOKEN_TYPE);
    assert_eq!(form["actor_token"], "actor-token");
    assert_eq!(form["actor_token_type"], ACCESS_TOKEN_TYPE);
    assert!(!form.contains_key("scope"), "empty scope is not sent");
}

#[tokio::test]
async fn a_request_without_a_target_is_refused_before_sending() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let err = mock
        .client(&clock)
        .get_token_on_behalf_of(&caller("t", &clock, HOUR), ExchangeRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ExchangeError::InvalidRequest(_)), "{err}");
    assert_eq!(mock.exchanges(), 0);
}

#[tokio::test]
async fn every_oauth_error_code_becomes_a_typed_refusal() {
    let cases = [
        ("invalid_request", 400, OAuthErrorCode::InvalidRequest),
        ("invalid_client", 401, OAuthErrorCode::InvalidClient),
        ("invalid_grant", 400, OAuthErrorCode::InvalidGrant),
        (
            "unauthorized_client",
            400,
            OAuthErrorCode::UnauthorizedClient,
        ),
        (
            "unsupported_grant_type",
            400,
            OAuthErrorCode::UnsupportedGrantType,
        ),
        ("invalid_scope", 400, OAuthErrorCode::InvalidScope),
        ("invalid_target", 400, OAuthErrorCode::InvalidTarget),
        (
            "consent_required",
            400,
            OAuthErrorCode::Other("consent_required".into()),
        ),
    ];
    let mock = MockAs::start().await;
    let clock = Clock::new();
    for (i, (code, status, expected)) in cases.into_iter().enumerate() {
        mock.always(Reply::oauth_error(status, code, &format!("because {code}")));
        // A fresh subject per case, so no remembered failure answers instead.
        let subject = caller(&format!("subject-{i}"), &clock, HOUR);
        let err = mock
            .client(&clock)
            .get_token_on_behalf_of(&subject, api())
            .await
            .unwrap_err();
        match &err {
            ExchangeError::Refused {
                code: got,
                description,
                status: got_status,
            } => {
                assert_eq!(got, &expected);
                assert_eq!(
                    description.as_deref(),
                    Some(format!("because {code}").as_str())
                );
                assert_eq!(*got_status, status);
            }
            other => panic!("{code}: {other:?}"),
        }
        assert_eq!(err.code(), code);
        assert_eq!(err.oauth_code(), Some(&expected));
    }
    assert_eq!(mock.exchanges(), 8);
}

#[tokio::test]
async fn server_failures_are_unavailable_with_the_servers_retry_after() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let mut with_retry = Reply::raw(429, "text/plain", "slow down");
    with_retry.retry_after = Some("7");
    let cases = [
        (Reply::raw(500, "text/html", "<h1>oops</h1>"), None),
        (
            Reply::oauth_error(503, "temporarily_unavailable", "maintenance"),
            None,
        ),
        (Reply::oauth_error(400, "server_error", "bug"), None),
        (with_retry, Some(Duration::from_secs(7))),
    ];
    for (reply, hint) in cases {
        mock.always(reply.clone());
        let client = mock
            .client_builder(&clock)
            .backoff(Duration::from_secs(1), Duration::from_secs(60))
            .build()
            .unwrap();
        let err = client
            .get_token_on_behalf_of(&caller("t", &clock, HOUR), api())
            .await
            .unwrap_err();
        match err {
            ExchangeError::Unavailable { retry_after, .. } => {
                assert_eq!(
                    retry_after,
                    hint.unwrap_or(Duration::from_secs(1)),
                    "{reply:?}"
                );
            }
            other => panic!("{reply:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn malformed_responses_are_typed_errors() {
    let good = json!({
        "access_token": "tok", "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer", "expires_in": 60,
    });
    type Check = fn(&ResponseProblem) -> bool;
    let cases: Vec<(Reply, Check)> = vec![
        (Reply::raw(200, "text/html", "<html>login</html>"), |p| {
            matches!(p, ResponseProblem::NotJson(_))
        }),
        (Reply::raw(200, "application/json", "{not json"), |p| {
            matches!(p, ResponseProblem::NotJson(_))
        }),
        (Reply::json(200, json!(["a"])), |p| {
            matches!(p, ResponseProblem::NotJson(_))
        }),
        (Reply::json(200, json!({"error": "invalid_grant"})), |p| {
            *p == ResponseProblem::MissingField("access_token")
        }),
        (
            Reply::json(200, {
                let mut v = good.clone();
                v["token_type"] = "MAC".into();
                v
            }),
            |p| matches!(p, ResponseProblem::UnsupportedTokenType(t) if t == "MAC"),
        ),
        (
            Reply::json(200, {
                let mut v = good.clone();
                v["expires_in"] = "60".into();
                v
            }),
            |p| {
                matches!(
                    p,
                    ResponseProblem::InvalidField {
                        field: "expires_in",
                        ..
                    }
                )
            },
        ),
        (
            Reply::json(200, {
                let mut v = good.clone();
                v["access_token"] = "a b".into();
                v
            }),
            |p| {
                matches!(
                    p,
                    ResponseProblem::InvalidField {
                        field: "access_token",
                        ..
                    }
                )
            },
        ),
        (Reply::raw(404, "text/plain", "not found"), |p| {
            *p == ResponseProblem::UnexpectedStatus(404)
        }),
        (Reply::raw(401, "application/json", "{}"), |p| {
            *p == ResponseProblem::UnexpectedStatus(401)
        }),
    ];
    let mock = MockAs::start().await;
    let clock = Clock::new();
    for (i, (reply, check)) in cases.into_iter().enumerate() {
        mock.always(reply.clone());
        let err = mock
            .client(&clock)
            .get_token_on_behalf_of(&caller(&format!("s{i}"), &clock, HOUR), api())
            .await
            .unwrap_err();
        match &err {
            ExchangeError::InvalidResponse(problem) => {
                assert!(check(problem), "{reply:?}: {problem}")
            }
            other => panic!("{reply:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn partial_responses_name_the_missing_member() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    for (i, field) in [
        "access_token",
        "issued_token_type",
        "token_type",
        "expires_in",
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = json!({
            "access_token": "tok", "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "bearer", "expires_in": 60,
        });
        body.as_object_mut().unwrap().remove(field);
        mock.always(Reply::json(200, body));
        let err = mock
            .client(&clock)
            .get_token_on_behalf_of(&caller(&format!("p{i}"), &clock, HOUR), api())
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ExchangeError::InvalidResponse(ResponseProblem::MissingField(field))
        );
    }
}

#[tokio::test]
async fn n_a_token_types_are_accepted() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    mock.always(Reply::json(
        200,
        json!({"access_token": "id.token.jwt", "issued_token_type": "urn:ietf:params:oauth:token-type:id_token",
               "token_type": "n_a", "expires_in": 60}),
    ));
    let token = mock
        .client(&clock)
        .get_token_on_behalf_of(&caller("t", &clock, HOUR), api())
        .await
        .unwrap();
    assert_eq!(token.token_type(), TokenType::NotApplicable);
}

#[tokio::test]
async fn credentials_echoed_by_the_server_are_redacted() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    mock.always(Reply::oauth_error(
        400,
        "invalid_grant",
        "subject_token secret-subject-token is revoked (client secret server-secret)",
    ));
    let err = mock
        .client(&clock)
        .get_token_on_behalf_of(&caller("secret-subject-token", &clock, HOUR), api())
        .await
        .unwrap_err();
    let printed = format!("{err} {err:?}");
    assert!(!printed.contains("secret-subject-token"), "{printed}");
    assert!(!printed.contains("server-secret"), "{printed}");
    assert!(printed.contains("<redacted>"));
}

/// Found by fuzzing: a server echoing the subject token in the `error` code itself.
#[tokio::test]
async fn credentials_echoed_in_the_error_code_are_redacted() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    for (code, description) in [
        ("bad secret-subject-token here", "no"),
        // Characters a code may not contain, splitting the echoed secret.
        ("bad secret\\-subject-\"token", "no"),
        ("invalid_grant", "secret\u{1}-subject\u{7f}-token"),
    ] {
        mock.always(Reply::oauth_error(400, code, description));
        let err = mock
            .client(&clock)
            .get_token_on_behalf_of(&caller("secret-subject-token", &clock, HOUR), api())
            .await
            .unwrap_err();
        let printed = format!("{err} {err:?}");
        assert!(!printed.contains("secret-subject-token"), "{printed}");
        clock.advance(Duration::from_secs(3600));
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    let clock = Clock::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = format!("http://{}/token", listener.local_addr().unwrap());
    drop(listener);
    let client = TokenExchangeClient::builder(ClientAuth::client_secret_basic("c", "s"))
        .token_endpoint(closed)
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .build()
        .unwrap();
    let err = client
        .get_token_on_behalf_of(&caller("t", &clock, HOUR), api())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.to_auth_error().status(), 503);
}

#[tokio::test]
async fn discovery_finds_the_token_endpoint_once() {
    let mock = MockAs::start().await;
    let clock = Clock::new();
    let c = clock.clone();
    let client = TokenExchangeClient::builder(ClientAuth::client_secret_basic("c", "s"))
        .issuer(mock.issuer())
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .clock(move || c.now())
        .build()
        .unwrap();
    assert_eq!(client.token_endpoint(), None);
    client
        .get_token_on_behalf_of(&caller("a", &clock, HOUR), api())
        .await
        .unwrap();
    client
        .get_token_on_behalf_of(&caller("b", &clock, HOUR), api())
        .await
        .unwrap();
    assert_eq!(
        client.token_endpoint(),
        Some(mock.token_endpoint().as_str())
    );
    assert_eq!(mock.discoveries(), 1);
    assert_eq!(mock.exchanges(), 2);
}

#[tokio::test]
async fn discovery_refuses_metadata_naming_another_issuer() {
    let mock = MockAs::start().await;
    mock.set_discovery_issuer("https://evil.example");
    let clock = Clock::new();
    let client = TokenExchangeClient::builder(ClientAuth::client_secret_basic("c", "s"))
        .issuer(mock.issuer())
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .build()
        .unwrap();
    let err = client
        .get_token_on_behalf_of(&caller("a", &clock, HOUR), api())
        .await
        .unwrap_err();
    match &err {
        ExchangeError::Misconfigured(reason) => {
            assert!(reason.contains("evil.example"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.exchanges(), 0);
}

#[test]
fn configuration_errors_name_the_setting() {
    let auth = || ClientAuth::client_secret_basic("c", "s");
    assert!(matches!(
        TokenExchangeClient::builder(auth()).build(),
        Err(ConfigError::NoEndpoint)
    ));
    assert!(matches!(
        TokenExchangeClient::builder(auth())
            .token_endpoint("https://as/token")
            .issuer("https://as")
            .build(),
        Err(ConfigError::BothEndpoints)
    ));
    let err = TokenExchangeClient::builder(auth())
        .token_endpoint("http://127.0.0.1:9/token")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("token_endpoint"), "{err}");
    assert!(matches!(
        TokenExchangeClient::builder(auth())
            .issuer("not a url")
            .build(),
        Err(ConfigError::Issuer(_))
    ));
    assert!(matches!(
        TokenExchangeClient::builder(ClientAuth::client_secret_post("c", ""))
            .token_endpoint("https://as/token")
            .build(),
        Err(ConfigError::EmptySecret)
    ));
    assert!(matches!(
        TokenExchangeClient::builder(auth())
            .token_endpoint("https://as/token")
            .backoff(Duration::from_secs(10), Duration::from_secs(1))
            .build(),
        Err(ConfigError::Invalid {
            setting: "backoff",
            ..
        })
    ));
    let client =
        TokenExchangeClient::builder(ClientAuth::client_secret_basic("c", "hidden-secret"))
            .token_endpoint("https://as/token")
            .build()
            .unwrap();
    assert!(!format!("{client:?}").contains("hidden-secret"));
}

/// A raw token endpoint on 127.0.0.1: `respond` decides what bytes go back (or none).
async fn raw_endpoint(respond: fn() -> Option<Vec<u8>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let _ = socket.read(&mut buf).await;
                match respond() {
                    Some(bytes) => {
                        let _ = socket.write_all(&bytes).await;
                        let _ = socket.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(60)).await,
                }
            });
        }
    });
    url
}

fn client_for(url: &str) -> TokenExchangeClient {
    TokenExchangeClient::builder(ClientAuth::client_secret_basic("c", "s"))
        .token_endpoint(url)
        .fetch_policy(
            FetchPolicy::default()
                .allow_loopback(true)
                .timeout(Duration::from_millis(500)),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn hostile_token_endpoints_fail_fast_with_the_right_kind() {
    let clock = Clock::new();
    let subject = caller("subject-token", &clock, HOUR);
    // Hangs: unavailable (503 through the layer) within the fetch timeout.
    let hanging = raw_endpoint(|| None).await;
    let start = std::time::Instant::now();
    let err = client_for(&hanging)
        .get_token_on_behalf_of(&subject, api())
        .await
        .unwrap_err();
    assert!(matches!(err, ExchangeError::Unavailable { .. }), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
    // Huge: refused on the size cap, never buffered whole.
    let huge = raw_endpoint(|| {
        let body = format!(r#"{{"access_token":"{}"}}"#, "x".repeat(4 * 1024 * 1024));
        Some(format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len()).into_bytes())
    })
    .await;
    let err = client_for(&huge)
        .get_token_on_behalf_of(&subject, api())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ExchangeError::InvalidResponse(ResponseProblem::TooLarge(_))
        ),
        "{err:?}"
    );
    // Redirecting: not followed.
    let redirecting = raw_endpoint(|| {
        Some(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://169.254.169.254/token\r\ncontent-length: 0\r\n\r\n".to_vec())
    })
    .await;
    let err = client_for(&redirecting)
        .get_token_on_behalf_of(&subject, api())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ExchangeError::InvalidResponse(ResponseProblem::Redirect(_))
        ),
        "{err:?}"
    );
    // Malformed HTTP: a transport failure, unavailable.
    let garbage = raw_endpoint(|| Some(b"NOT HTTP AT ALL\r\n\r\n".to_vec())).await;
    let err = client_for(&garbage)
        .get_token_on_behalf_of(&subject, api())
        .await
        .unwrap_err();
    assert!(matches!(err, ExchangeError::Unavailable { .. }), "{err:?}");
}
