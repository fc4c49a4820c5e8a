//! On-behalf-of token exchange against a real authorization server (npm `oidc-provider` with
//! the RFC 8693 grant registered), with a downstream API protected by our own `VerifyLayer`.

use std::net::SocketAddr;
use std::time::Duration;

use aws_lc_rs::encoding::AsBigEndian as _;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_auth_core::{Principal, ResourceId};
use mcp_auth_e2e::{Provider, jwt_claims};
use mcp_auth_fetch::FetchPolicy;
use mcp_auth_jwt::{IssuerConfig, Verifier, VerifyLayer};
use mcp_auth_obo::{
    ClientAuth, ExchangeRequest, OAuthErrorCode, OboLayer, OnBehalfOf, PrivateKey,
    TOKEN_EXCHANGE_GRANT, TokenExchangeClient,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower::ServiceBuilder;

const USER_APP: (&str, &str) = ("alice-app", "alice-app-secret");
const SERVER: (&str, &str) = ("mcp-server", "mcp-server-secret");
const SERVER_POST: (&str, &str) = ("mcp-server-post", "mcp-server-post-secret");
const SERVER_JWT: &str = "mcp-server-jwt";

/// A port on 127.0.0.1, bound before the provider starts so its URL can be configured there.
struct Reserved {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Reserved {
    async fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        Self { listener, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn serve(self, app: Router) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let _ = axum::serve(self.listener, app).await;
        })
    }
}

struct Jwk {
    private: String,
    public: Value,
}

fn ec_key() -> Jwk {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let public = json!({
        "kty": "EC", "crv": "P-256", "kid": "server-key-1", "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
    });
    let mut private = public.clone();
    private["d"] = URL_SAFE_NO_PAD
        .encode(pair.private_key().as_be_bytes().unwrap().as_ref())
        .into();
    Jwk {
        private: private.to_string(),
        public,
    }
}

async fn provider(downstream: &str, server_key: &Value) -> Provider {
    let exchanging = |id: &str, secret: Option<&str>, method: &str| {
        let mut client = json!({
            "client_id": id,
            "grant_types": ["client_credentials", TOKEN_EXCHANGE_GRANT],
            "redirect_uris": [],
            "response_types": [],
            "scope": "api:read api:write",
            "token_endpoint_auth_method": method,
        });
        if let Some(secret) = secret {
            client["client_secret"] = secret.into();
        }
        client
    };
    let mut with_key = exchanging(SERVER_JWT, None, "private_key_jwt");
    with_key["jwks"] = json!({"keys": [server_key]});
    with_key["token_endpoint_auth_signing_alg"] = "ES256".into();
    Provider::start(json!({
        "scopes": ["mcp:read", "api:read", "api:write"],
        "clients": [
            {
                "client_id": USER_APP.0,
                "client_secret": USER_APP.1,
                "grant_types": ["client_credentials"],
                "redirect_uris": [],
                "response_types": [],
                "scope": "mcp:read",
            },
            exchanging(SERVER.0, Some(SERVER.1), "client_secret_basic"),
            exchanging(SERVER_POST.0, Some(SERVER_POST.1), "client_secret_post"),
            with_key,
        ],
        "tokenExchange": {"enabled": true, "targets": {downstream: ["api:read"]}},
    }))
    .await
}

fn exchange_client(provider: &Provider, auth: ClientAuth) -> TokenExchangeClient {
    TokenExchangeClient::builder(auth)
        .issuer(provider.issuer.clone())
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .build()
        .unwrap()
}

fn verifier(resource: &str, issuers: &[&str]) -> Verifier {
    let mut builder = Verifier::builder(ResourceId::parse(resource).unwrap())
        .fetch_policy(FetchPolicy::default().allow_loopback(true));
    for issuer in issuers {
        builder = builder.issuer(IssuerConfig::discover(issuer));
    }
    builder.build().unwrap()
}

/// The downstream API: answers with the caller as its own `VerifyLayer` sees it.
fn downstream_app(url: &str, issuer: &str) -> Router {
    async fn whoami(Extension(principal): Extension<Principal>) -> Json<Value> {
        let actors: Vec<&str> = principal
            .actor()
            .map(|a| a.chain().map(|a| a.subject.as_str()).collect())
            .unwrap_or_default();
        Json(json!({
            "sub": principal.subject(),
            "act": actors,
            "client_id": principal.client_id(),
            "aud": principal.audiences(),
            "scope": principal.scopes(),
            "token": principal.token().fingerprint(),
        }))
    }
    Router::new()
        .route("/api", get(whoami))
        .layer(VerifyLayer::new(verifier(url, &[issuer])))
}

async fn call(url: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_exchanged_token_names_the_user_and_our_server_and_only_it_opens_the_downstream_api() {
    let downstream = Reserved::new().await;
    let mcp = Reserved::new().await;
    let api_url = downstream.url("/api");
    let mcp_url = mcp.url("/mcp");
    let key = ec_key();
    let provider = provider(&api_url, &key.public).await;
    let _api = downstream.serve(downstream_app(&api_url, &provider.issuer));

    // The caller's token, issued for the MCP server.
    let user_token = provider
        .client_credentials(USER_APP, &mcp_url, "mcp:read")
        .await;
    assert_eq!(jwt_claims(&user_token)["aud"], mcp_url.as_str());

    let client = exchange_client(
        &provider,
        ClientAuth::client_secret_basic(SERVER.0, SERVER.1),
    );
    let caller = verifier(&mcp_url, &[&provider.issuer])
        .verify(&user_token)
        .await
        .expect("the MCP server accepts the user token");
    let token = client
        .get_token_on_behalf_of(
            &caller,
            ExchangeRequest::resource(&api_url).scope("api:read"),
        )
        .await
        .expect("oidc-provider exchanges the token");
    assert_eq!(
        client.token_endpoint(),
        Some(format!("{}/token", provider.issuer).as_str()),
        "found by discovery"
    );
    assert_eq!(token.granted_scope().to_string(), "api:read");
    assert!(!token.narrowed());
    let remaining = token
        .expires_at()
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(remaining > Duration::from_secs(200) && remaining <= Duration::from_secs(300));

    let claims = jwt_claims(token.expose_secret());
    assert_eq!(claims["aud"], api_url.as_str(), "{claims}");
    assert_eq!(
        claims["sub"], USER_APP.0,
        "the user stays the subject: {claims}"
    );
    assert_eq!(claims["act"]["sub"], SERVER.0, "our server acts: {claims}");
    assert_eq!(claims["iss"], provider.issuer.as_str());

    // The downstream API accepts the exchanged token and sees the user and the actor.
    let answer = token
        .apply_to(reqwest::Client::new().get(&api_url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let seen: Value = answer.json().await.unwrap();
    assert_eq!(seen["sub"], USER_APP.0);
    assert_eq!(seen["act"], json!([SERVER.0]));
    assert_eq!(seen["aud"], json!([api_url]));

    // The user's own token is refused there: wrong audience.
    let refused = call(&api_url, &user_token).await;
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(
        challenge.contains("token audience does not include this resource"),
        "{challenge}"
    );

    // A second call is served from the cache.
    let again = client
        .get_token_on_behalf_of(
            &caller,
            ExchangeRequest::resource(&api_url).scope("api:read"),
        )
        .await
        .unwrap();
    assert!(again.from_cache());
    assert_eq!(again.expose_secret(), token.expose_secret());

    // Refusals arrive as typed errors with the OAuth code.
    let err = client
        .get_token_on_behalf_of(
            &caller,
            ExchangeRequest::resource(&api_url).scope("api:write"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidScope),
        "{err}"
    );
    let err = client
        .get_token_on_behalf_of(
            &caller,
            ExchangeRequest::audience("http://127.0.0.1:1/unknown"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidTarget),
        "{err}"
    );
}

#[tokio::test]
async fn every_client_authentication_method_is_accepted_by_oidc_provider() {
    let downstream = Reserved::new().await;
    let api_url = downstream.url("/api");
    let key = ec_key();
    let provider = provider(&api_url, &key.public).await;
    let user_token = provider
        .client_credentials(USER_APP, &downstream.url("/mcp"), "mcp:read")
        .await;
    let subject = mcp_auth_core::BearerToken::new(user_token);
    let methods = [
        (
            SERVER.0,
            ClientAuth::client_secret_basic(SERVER.0, SERVER.1),
        ),
        (
            SERVER_POST.0,
            ClientAuth::client_secret_post(SERVER_POST.0, SERVER_POST.1),
        ),
        (
            SERVER_JWT,
            ClientAuth::private_key_jwt(SERVER_JWT, PrivateKey::from_jwk(&key.private).unwrap()),
        ),
    ];
    for (client_id, auth) in methods {
        let method = auth.method();
        let client = exchange_client(&provider, auth);
        let token = client
            .get_token_on_behalf_of(&subject, ExchangeRequest::audience(&api_url))
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        let claims = jwt_claims(token.expose_secret());
        assert_eq!(claims["act"]["sub"], client_id, "{method}: {claims}");
        assert_eq!(claims["sub"], USER_APP.0, "{method}");
    }

    // Wrong credentials: invalid_client.
    let client = exchange_client(
        &provider,
        ClientAuth::client_secret_basic(SERVER.0, "wrong-secret"),
    );
    let err = client
        .get_token_on_behalf_of(&subject, ExchangeRequest::audience(&api_url))
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth_code(),
        Some(&OAuthErrorCode::InvalidClient),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains("wrong-secret"));
}

#[tokio::test]
async fn the_obo_layer_calls_the_downstream_api_on_behalf_of_the_caller() {
    let downstream = Reserved::new().await;
    let mcp = Reserved::new().await;
    let api_url = downstream.url("/api");
    let mcp_url = mcp.url("/mcp");
    let key = ec_key();
    let provider = provider(&api_url, &key.public).await;
    // A second issuer the MCP server also trusts, but whose tokens the exchanging authorization
    // server cannot accept: its exchanges end in invalid_grant.
    let other = Provider::start(json!({
        "scopes": ["mcp:read"],
        "clients": [{
            "client_id": USER_APP.0, "client_secret": USER_APP.1,
            "grant_types": ["client_credentials"], "redirect_uris": [], "response_types": [],
            "scope": "mcp:read",
        }],
    }))
    .await;
    let _api = downstream.serve(downstream_app(&api_url, &provider.issuer));

    let client = exchange_client(
        &provider,
        ClientAuth::client_secret_basic(SERVER.0, SERVER.1),
    );
    let resource = ResourceId::parse(&mcp_url).unwrap();
    let target = api_url.clone();
    // The tool: exchange for the downstream API with the scope in the body, call it, and return
    // what it answered. A failed exchange is propagated; the layer renders it.
    let tool = post(
        move |Extension(obo): Extension<OnBehalfOf>, scope: String| async move {
            let request = ExchangeRequest::resource(&target).scope(&scope);
            let token = match obo.get_token_or_deny(request).await {
                Ok(token) => token,
                Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            };
            let answer = token
                .apply_to(reqwest::Client::new().get(&target))
                .send()
                .await
                .unwrap();
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            (status, answer.text().await.unwrap()).into_response()
        },
    );
    let app = Router::new().route("/mcp", tool).layer(
        ServiceBuilder::new()
            .layer(VerifyLayer::new(verifier(
                &mcp_url,
                &[&provider.issuer, &other.issuer],
            )))
            .layer(OboLayer::new(client, &resource)),
    );
    let _mcp = mcp.serve(app);

    let user_token = provider
        .client_credentials(USER_APP, &mcp_url, "mcp:read")
        .await;
    let post_scope = |token: String, scope: &'static str| {
        let url = mcp_url.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .body(scope)
                .send()
                .await
                .unwrap()
        }
    };

    let answer = post_scope(user_token.clone(), "api:read").await;
    assert_eq!(answer.status(), 200);
    let seen: Value = answer.json().await.unwrap();
    assert_eq!(seen["sub"], USER_APP.0, "{seen}");
    assert_eq!(seen["act"], json!([SERVER.0]), "{seen}");
    assert_eq!(seen["scope"], json!(["api:read"]));
    let user_fingerprint = mcp_auth_core::BearerToken::new(user_token.as_str())
        .fingerprint()
        .to_owned();
    assert_ne!(
        seen["token"],
        user_fingerprint.as_str(),
        "the user's token never went downstream"
    );

    // A scope the target does not allow: invalid_scope -> 403.
    let refused = post_scope(user_token.clone(), "api:write").await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "access_denied"
    );

    // A token the exchanging authorization server did not issue: invalid_grant -> 401.
    let foreign = other
        .client_credentials(USER_APP, &mcp_url, "mcp:read")
        .await;
    let refused = post_scope(foreign, "api:read").await;
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains(&resource.metadata_url()), "{challenge}");

    // No token at all never reaches the tool.
    let anonymous = reqwest::Client::new().post(&mcp_url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}
