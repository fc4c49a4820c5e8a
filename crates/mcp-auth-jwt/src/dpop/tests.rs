//! DPoP presentations through `VerifyLayer`: tokens bound to a key, proofs made with
//! `mcp-auth-testing` keys, every way a proof can be wrong.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use mcp_auth_core::{Algorithm, AuthBody, ResourceId};
use mcp_auth_testing::{MockIssuer, SigningKey, TokenBuilder, now};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::{ServiceBuilder, ServiceExt};

use crate::{DpopPolicy, IssuerConfig, Verifier, VerifyLayer};

const RESOURCE: &str = "https://mcp.example.com/mcp";

struct Fixture {
    issuer: MockIssuer,
    client_key: SigningKey,
}

impl Fixture {
    async fn new() -> Self {
        Self {
            issuer: MockIssuer::builder().audience(RESOURCE).start().await,
            client_key: SigningKey::generate(Algorithm::ES256, "client"),
        }
    }

    fn verifier(&self, policy: DpopPolicy) -> Verifier {
        self.verifier_with(
            IssuerConfig::static_keys(self.issuer.issuer(), self.issuer.jwks()).dpop(policy),
        )
    }

    fn verifier_with(&self, issuer: IssuerConfig) -> Verifier {
        Verifier::builder(ResourceId::parse(RESOURCE).unwrap())
            .issuer(issuer)
            .build()
            .unwrap()
    }

    /// A token bound to the client's key.
    fn bound_token(&self) -> String {
        self.issuer
            .token()
            .claim("cnf", json!({"jkt": jkt(&self.client_key)}))
            .sign()
    }
}

fn jkt(key: &SigningKey) -> String {
    key.thumbprint().unwrap()
}

fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A proof by `key` for `POST RESOURCE` and `token`, made now.
fn proof(key: &SigningKey, token: &str) -> TokenBuilder {
    key.dpop_proof("POST", RESOURCE, token)
}

/// Status, reason and the `WWW-Authenticate` values of `POST RESOURCE` with these headers.
async fn send(verifier: &Verifier, headers: &[(&str, String)]) -> (u16, String, Vec<String>) {
    let (status, reason, challenges, _) = send_for_nonce(verifier, headers).await;
    (status, reason, challenges)
}

/// As [`send`], with the `DPoP-Nonce` the response carries.
async fn send_for_nonce(
    verifier: &Verifier,
    headers: &[(&str, String)],
) -> (u16, String, Vec<String>, Option<String>) {
    let svc = ServiceBuilder::new()
        .layer(VerifyLayer::new(verifier.clone()))
        .service_fn(|_req: Request<Empty<Bytes>>| async move {
            Ok::<_, std::convert::Infallible>(Response::new(Empty::new()))
        });
    let mut request = Request::post(RESOURCE);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response: Response<AuthBody<Empty<Bytes>>> = svc
        .oneshot(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let reason = response
        .extensions()
        .get::<mcp_auth_core::AuthError>()
        .map(|e| e.reason().to_owned())
        .unwrap_or_default();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), reason, challenges, nonce)
}

fn dpop(token: &str, proof: &str) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("DPoP {token}")),
        ("dpop", proof.to_owned()),
    ]
}

#[tokio::test]
async fn a_bound_token_needs_its_proof_and_is_never_a_bearer_token() {
    let fx = Fixture::new().await;
    let v = fx.verifier(DpopPolicy::Allowed);
    let token = fx.bound_token();

    let (status, reason, challenges) =
        send(&v, &[("authorization", format!("Bearer {token}"))]).await;
    assert_eq!((status, reason.as_str()), (401, "dpop_bound_as_bearer"));
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(
        challenges[0].starts_with("Bearer error=\"invalid_token\""),
        "{challenges:?}"
    );
    assert_eq!(challenges[1], "DPoP algs=\"ES256 ES384 EdDSA PS256 RS256\"");
    // A gRPC caller gets the same two challenges in a trailers-only answer's metadata.
    let (status, reason, grpc_challenges) = send(
        &v,
        &[
            ("authorization", format!("Bearer {token}")),
            ("content-type", "application/grpc".into()),
        ],
    )
    .await;
    assert_eq!((status, reason.as_str()), (200, "dpop_bound_as_bearer"));
    assert_eq!(grpc_challenges, challenges);

    let good = proof(&fx.client_key, &token).sign();
    assert_eq!(send(&v, &dpop(&token, &good)).await.0, 200);
    // The same proof again: replayed.
    let (status, reason, challenges) = send(&v, &dpop(&token, &good)).await;
    assert_eq!((status, reason.as_str()), (401, "replayed_proof"));
    assert!(!challenges[0].contains("error="), "{challenges:?}");
    assert!(
        challenges[1].starts_with(
            "DPoP algs=\"ES256 ES384 EdDSA PS256 RS256\", error=\"invalid_dpop_proof\""
        ),
        "{challenges:?}"
    );
    // A fresh proof for the same (now cached) token passes.
    let again = proof(&fx.client_key, &token).sign();
    assert_eq!(send(&v, &dpop(&token, &again)).await.0, 200);
}

#[tokio::test]
async fn every_wrong_proof_is_refused_for_what_is_wrong() {
    let fx = Fixture::new().await;
    let v = fx.verifier(DpopPolicy::Allowed);
    let token = fx.bound_token();
    let other_key = SigningKey::generate(Algorithm::ES256, "thief");
    let hmac = SigningKey::hmac(Algorithm::HS256, "h", &[7; 32]);
    let mut private_jwk = fx.client_key.public_jwk().clone();
    private_jwk["d"] = Value::from("c2VjcmV0");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "another key",
            proof(&other_key, &token).sign(),
            "wrong_proof_key",
        ),
        (
            "another method",
            proof(&fx.client_key, &token).claim("htm", "GET").sign(),
            "wrong_htm",
        ),
        (
            "another URL",
            proof(&fx.client_key, &token)
                .claim("htu", "https://mcp.example.com/other")
                .sign(),
            "wrong_htu",
        ),
        (
            "another token",
            proof(&fx.client_key, &token)
                .claim("ath", ath("some-other-token"))
                .sign(),
            "wrong_ath",
        ),
        (
            "stale",
            proof(&fx.client_key, &token)
                .claim("iat", now() - 120)
                .sign(),
            "stale_proof",
        ),
        (
            "from the future",
            proof(&fx.client_key, &token)
                .claim("iat", now() + 120)
                .sign(),
            "proof_from_the_future",
        ),
        (
            "alg none",
            proof(&fx.client_key, &token).unsigned().sign(),
            "alg_not_allowed",
        ),
        (
            "HMAC",
            proof(&fx.client_key, &token).signed_by(&hmac).sign(),
            "alg_not_allowed",
        ),
        (
            "private key in jwk",
            proof(&fx.client_key, &token)
                .header("jwk", private_jwk)
                .sign(),
            "private_jwk",
        ),
        (
            "typ at+jwt",
            proof(&fx.client_key, &token).typ(Some("at+jwt")).sign(),
            "wrong_typ",
        ),
        (
            "no jwk",
            proof(&fx.client_key, &token).without_header("jwk").sign(),
            "missing_jwk",
        ),
        (
            "no ath",
            proof(&fx.client_key, &token).without_claim("ath").sign(),
            "missing_claim",
        ),
        (
            "bad signature",
            proof(&fx.client_key, &token).raw_signature("AAAA").sign(),
            "bad_proof_signature",
        ),
    ];
    for (case, proof, want) in cases {
        let (status, reason, challenges) = send(&v, &dpop(&token, &proof)).await;
        assert_eq!((status, reason.as_str()), (401, want), "{case}");
        assert!(challenges[1].contains("error="), "{case}: {challenges:?}");
    }
    // No proof, or two.
    let one = proof(&fx.client_key, &token).sign();
    let (_, reason, _) = send(&v, &[("authorization", format!("DPoP {token}"))]).await;
    assert_eq!(reason, "proof_count");
    let mut two = dpop(&token, &one);
    two.push(("dpop", one.clone()));
    assert_eq!(send(&v, &two).await.1, "proof_count");
}

#[tokio::test]
async fn policies_and_unbound_tokens() {
    let fx = Fixture::new().await;
    let unbound = fx.issuer.token().sign();
    let bearer = [("authorization", format!("Bearer {unbound}"))];
    // Allowed: an unbound token as Bearer passes; presented as DPoP it is refused.
    let allowed = fx.verifier(DpopPolicy::Allowed);
    assert_eq!(send(&allowed, &bearer).await.0, 200);
    let as_dpop = dpop(&unbound, &proof(&fx.client_key, &unbound).sign());
    assert_eq!(send(&allowed, &as_dpop).await.1, "not_dpop_bound");
    // Required: an unbound token is refused; a bound one with its proof passes.
    let required = fx.verifier(DpopPolicy::Required);
    assert_eq!(send(&required, &bearer).await.1, "dpop_required");
    let token = fx.bound_token();
    let good = dpop(&token, &proof(&fx.client_key, &token).sign());
    assert_eq!(send(&required, &good).await.0, 200);
    // Disabled: the DPoP scheme is refused, and a bound token still is not a bearer token.
    let disabled = fx.verifier(DpopPolicy::Disabled);
    let good = dpop(&token, &proof(&fx.client_key, &token).sign());
    assert_eq!(send(&disabled, &good).await.1, "dpop_disabled");
    let as_bearer = [("authorization", format!("Bearer {token}"))];
    assert_eq!(send(&disabled, &as_bearer).await.1, "dpop_bound_as_bearer");
    // A certificate-bound (mTLS) token is never accepted as a bearer token.
    let mtls = fx
        .issuer
        .token()
        .claim(
            "cnf",
            json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        )
        .sign();
    let as_bearer = [("authorization", format!("Bearer {mtls}"))];
    assert_eq!(send(&allowed, &as_bearer).await.1, "certificate_bound");
}

#[tokio::test]
async fn an_issuer_can_require_server_nonces() {
    let fx = Fixture::new().await;
    let v = fx.verifier_with(
        IssuerConfig::static_keys(fx.issuer.issuer(), fx.issuer.jwks()).require_dpop_nonce(),
    );
    let token = fx.bound_token();
    // No nonce: 401 use_dpop_nonce, with one to use.
    let first = dpop(&token, &proof(&fx.client_key, &token).sign());
    let (status, reason, challenges, nonce) = send_for_nonce(&v, &first).await;
    assert_eq!((status, reason.as_str()), (401, "use_dpop_nonce"));
    assert!(
        challenges[1].contains("error=\"use_dpop_nonce\""),
        "{challenges:?}"
    );
    let nonce = nonce.expect("a DPoP-Nonce header");
    // With it: accepted.
    let retry = proof(&fx.client_key, &token)
        .claim("nonce", nonce.clone())
        .sign();
    assert_eq!(send(&v, &dpop(&token, &retry)).await.0, 200);
    // A nonce this server did not make: asked again.
    let forged = proof(&fx.client_key, &token)
        .claim("nonce", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .sign();
    let (_, reason, _, again) = send_for_nonce(&v, &dpop(&token, &forged)).await;
    assert_eq!(reason, "use_dpop_nonce");
    assert!(again.is_some());
    // Issuers that do not require nonces ignore them.
    let plain = fx.verifier(DpopPolicy::Allowed);
    let unasked = proof(&fx.client_key, &token)
        .claim("nonce", "whatever")
        .sign();
    assert_eq!(send(&plain, &dpop(&token, &unasked)).await.0, 200);
}

/// A replay store across the network, as replicas would share: it answers later.
#[derive(Default)]
struct RemoteStore {
    seen: std::sync::Mutex<std::collections::HashSet<super::ProofId>>,
    down: std::sync::atomic::AtomicBool,
}

impl super::ReplayStore for std::sync::Arc<RemoteStore> {
    fn first_use(&self, proof: super::ProofId, _until: u64, _now: u64) -> super::ReplayCheck {
        let store = self.clone();
        super::ReplayCheck::Pending(Box::pin(async move {
            tokio::task::yield_now().await;
            if store.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(super::ReplayUnavailable("connection refused".into()));
            }
            Ok(store.seen.lock().unwrap().insert(proof))
        }))
    }
}

#[tokio::test]
async fn a_replay_store_that_answers_later_is_waited_for() {
    let fx = Fixture::new().await;
    let store = std::sync::Arc::new(RemoteStore::default());
    let v = Verifier::builder(ResourceId::parse(RESOURCE).unwrap())
        .issuer(IssuerConfig::static_keys(
            fx.issuer.issuer(),
            fx.issuer.jwks(),
        ))
        .dpop(crate::DpopConfig::default().replay_store(store.clone()))
        .build()
        .unwrap();
    let token = fx.bound_token();
    let once = proof(&fx.client_key, &token).sign();
    assert_eq!(send(&v, &dpop(&token, &once)).await.0, 200);
    // The token is cached now; the replay is still caught, by the store's later answer.
    let (status, reason, _) = send(&v, &dpop(&token, &once)).await;
    assert_eq!((status, reason.as_str()), (401, "replayed_proof"));
    // A store that cannot answer: 503, never an accepted proof.
    store.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let fresh = proof(&fx.client_key, &token).sign();
    let (status, reason, _) = send(&v, &dpop(&token, &fresh)).await;
    assert_eq!((status, reason.as_str()), (503, "replay_store_unavailable"));
}

#[tokio::test]
async fn verify_alone_never_accepts_a_bound_token_and_bad_settings_do_not_build() {
    let fx = Fixture::new().await;
    let v = fx.verifier(DpopPolicy::Allowed);
    // Without the request, no proof can be checked: the bound token is refused.
    let e = v.verify(&fx.bound_token()).await.unwrap_err();
    assert_eq!(e.reason(), "dpop_bound_as_bearer");
    assert!(v.verify(&fx.issuer.token().sign()).await.is_ok());

    let build = |dpop: crate::DpopConfig| {
        Verifier::builder(ResourceId::parse(RESOURCE).unwrap())
            .issuer(IssuerConfig::static_keys(
                fx.issuer.issuer(),
                fx.issuer.jwks(),
            ))
            .dpop(dpop)
            .build()
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let short = build(crate::DpopConfig::default().nonce_secret(b"short")).unwrap_err();
    assert!(short.contains("at least 32 bytes"), "{short}");
    assert!(build(crate::DpopConfig::default().nonce_secret(&[7; 32])).is_ok());
    let none = build(crate::DpopConfig::default().algorithms(&[])).unwrap_err();
    assert!(none.contains("algorithm list is empty"), "{none}");
}
