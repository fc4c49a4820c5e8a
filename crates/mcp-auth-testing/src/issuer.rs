//! A mock OAuth issuer on 127.0.0.1: discovery, JWKS, keys and token minting.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Method;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use mcp_auth_core::Algorithm;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::exchange::{ExchangeConfig, GRANT};
use crate::keys::{SigningKey, alg_name};
use crate::token::TokenBuilder;

/// How the mock issuer answers JWKS requests.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum JwksBehavior {
    /// Serve the published keys.
    Serve,
    /// Answer with this status and an empty body.
    Fail(u16),
    /// Accept the request and never answer.
    Hang,
    /// Answer 200 with this body and content type.
    Body(String, String),
    /// Answer 200 and send the published JWKS one byte every 100 ms (a slowloris peer).
    Trickle,
    /// Answer with a redirect to this URL.
    Redirect(String),
}

/// A mock issuer serving discovery documents (RFC 8414 and OpenID Connect, every path placement)
/// and a JWKS on 127.0.0.1, with keys of any algorithm and tokens minted with any claims.
///
/// ```no_run
/// use mcp_auth_testing::MockIssuer;
///
/// # #[tokio::main] async fn main() {
/// let issuer = MockIssuer::builder().audience("http://127.0.0.1:8080/mcp").start().await;
/// let token = issuer.token().scope("files:read").sign();
/// assert_eq!(token.split('.').count(), 3);
/// assert_eq!(issuer.jwks_fetches(), 0);
/// # }
/// ```
pub struct MockIssuer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

struct Shared {
    issuer: String,
    audience: Option<String>,
    keys: Mutex<Keys>,
    jwks: Mutex<JwksBehavior>,
    cache_control: Mutex<Option<String>>,
    discovery_issuer: Mutex<Option<String>>,
    discovery_redirect: Mutex<Option<String>>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
    token_requests: AtomicUsize,
    exchange: Mutex<ExchangeConfig>,
    kid_counter: AtomicUsize,
}

struct Keys {
    /// Keys in the JWKS.
    published: Vec<SigningKey>,
    /// The key new tokens are signed with.
    current: SigningKey,
}

/// Configures a [`MockIssuer`].
#[derive(Debug, Default)]
#[must_use]
pub struct MockIssuerBuilder {
    path: String,
    algorithms: Vec<Algorithm>,
    audience: Option<String>,
    port: u16,
    tls: Option<crate::TestCa>,
}

impl MockIssuerBuilder {
    /// A path after the origin in the issuer identifier (e.g. `/tenant-a`).
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.trim_end_matches('/').to_owned();
        self
    }

    /// Publishes a key of `alg`. The first key added signs tokens; the default is one RS256 key.
    pub fn key(mut self, alg: Algorithm) -> Self {
        self.algorithms.push(alg);
        self
    }

    /// The audience minted tokens carry by default.
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Listens on this port of 127.0.0.1 instead of an ephemeral one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Serves over `https` with a certificate from `ca` (the issuer becomes
    /// `https://127.0.0.1:PORT`); clients must trust [`TestCa::ca_pem`](crate::TestCa::ca_pem).
    pub fn tls(mut self, ca: &crate::TestCa) -> Self {
        self.tls = Some(ca.clone());
        self
    }

    /// Starts serving.
    ///
    /// # Panics
    /// If 127.0.0.1 cannot be bound.
    pub async fn start(self) -> MockIssuer {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let issuer = format!("{scheme}://{addr}{}", self.path);
        let algorithms = if self.algorithms.is_empty() {
            vec![Algorithm::RS256]
        } else {
            self.algorithms
        };
        let published: Vec<SigningKey> = algorithms
            .iter()
            .enumerate()
            .map(|(i, alg)| SigningKey::generate(*alg, format!("key-{i}-{}", alg_name(*alg))))
            .collect();
        let shared = Arc::new(Shared {
            issuer,
            audience: self.audience,
            keys: Mutex::new(Keys {
                current: published[0].clone(),
                published,
            }),
            jwks: Mutex::new(JwksBehavior::Serve),
            cache_control: Mutex::new(None),
            discovery_issuer: Mutex::new(None),
            discovery_redirect: Mutex::new(None),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            token_requests: AtomicUsize::new(0),
            exchange: Mutex::new(ExchangeConfig::default()),
            kid_counter: AtomicUsize::new(algorithms.len()),
        });
        let app = Router::new().fallback(route).with_state(shared.clone());
        let task = match self.tls {
            None => tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            }),
            Some(ca) => {
                let listener = crate::tls::TlsListener {
                    tcp: listener,
                    acceptor: ca.acceptor(),
                };
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                })
            }
        };
        MockIssuer { shared, addr, task }
    }
}

impl MockIssuer {
    /// A builder.
    pub fn builder() -> MockIssuerBuilder {
        MockIssuerBuilder::default()
    }

    /// Starts an issuer with one RS256 key and no default audience.
    pub async fn start() -> MockIssuer {
        Self::builder().start().await
    }

    /// `http://127.0.0.1:PORT`, or `https://…` when serving TLS.
    fn origin(&self) -> String {
        let scheme = self.shared.issuer.split("://").next().unwrap_or("http");
        format!("{scheme}://{}", self.addr)
    }

    /// The issuer identifier (`http://127.0.0.1:PORT[/path]`, `https` with
    /// [`MockIssuerBuilder::tls`]).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The JWKS URL.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.origin())
    }

    /// A token with this issuer's defaults, signed by its current key.
    pub fn token(&self) -> TokenBuilder {
        let keys = self.shared.keys.lock().expect("keys");
        TokenBuilder::with_defaults(
            &keys.current,
            &self.shared.issuer,
            self.shared.audience.as_deref(),
        )
    }

    /// The key that signs new tokens.
    pub fn current_key(&self) -> SigningKey {
        self.shared.keys.lock().expect("keys").current.clone()
    }

    /// The first published key of `alg`, if any.
    pub fn key_for(&self, alg: Algorithm) -> Option<SigningKey> {
        self.shared
            .keys
            .lock()
            .expect("keys")
            .published
            .iter()
            .find(|k| k.alg() == alg)
            .cloned()
    }

    /// Publishes a new key of `alg` (it does not sign until [`MockIssuer::rotate`]).
    pub fn add_key(&self, alg: Algorithm) -> SigningKey {
        let n = self.shared.kid_counter.fetch_add(1, Ordering::SeqCst);
        let key = SigningKey::generate(alg, format!("key-{n}-{}", alg_name(alg)));
        self.shared
            .keys
            .lock()
            .expect("keys")
            .published
            .push(key.clone());
        key
    }

    /// Rotates: a new key of `alg` signs from now on, and the previous signing key is withdrawn
    /// from the JWKS.
    pub fn rotate(&self, alg: Algorithm) -> SigningKey {
        let key = self.add_key(alg);
        let mut keys = self.shared.keys.lock().expect("keys");
        let old = keys.current.kid().to_owned();
        keys.published.retain(|k| k.kid() != old);
        keys.current = key.clone();
        key
    }

    /// Withdraws a key from the JWKS.
    pub fn remove_key(&self, kid: &str) {
        self.shared
            .keys
            .lock()
            .expect("keys")
            .published
            .retain(|k| k.kid() != kid);
    }

    /// Changes how JWKS requests are answered.
    pub fn set_jwks_behavior(&self, behavior: JwksBehavior) {
        *self.shared.jwks.lock().expect("jwks") = behavior;
    }

    /// Sets the `Cache-Control` header of JWKS responses.
    pub fn set_cache_control(&self, value: Option<&str>) {
        *self.shared.cache_control.lock().expect("cache-control") = value.map(str::to_owned);
    }

    /// Makes discovery documents claim another `issuer` (to test the exact-match rule).
    pub fn set_discovery_issuer(&self, issuer: Option<&str>) {
        *self.shared.discovery_issuer.lock().expect("issuer") = issuer.map(str::to_owned);
    }

    /// Makes discovery documents answer with a redirect to `url` (`None` restores them).
    pub fn set_discovery_redirect(&self, url: Option<&str>) {
        *self.shared.discovery_redirect.lock().expect("redirect") = url.map(str::to_owned);
    }

    /// Lets `client_id` (authenticating with `secret`, by HTTP Basic or in the form) exchange
    /// tokens at `/token` (RFC 8693).
    pub fn allow_exchange_client(&self, client_id: &str, secret: &str) {
        self.shared
            .exchange
            .lock()
            .expect("exchange")
            .clients
            .insert(client_id.into(), secret.into());
    }

    /// Declares an exchange target (an `audience` or `resource` value) and the scopes tokens
    /// for it may carry. The exchanged token has `aud` = the target, the subject's `sub`, the
    /// exchanging client in `client_id` and `act`.
    pub fn allow_exchange_target(&self, target: &str, scopes: &[&str]) {
        self.shared
            .exchange
            .lock()
            .expect("exchange")
            .targets
            .insert(
                target.into(),
                scopes.iter().map(|s| (*s).to_owned()).collect(),
            );
    }

    /// The token endpoint URL.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.origin())
    }

    /// Token requests served so far.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// JWKS requests served so far.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Discovery requests served so far.
    pub fn discovery_fetches(&self) -> usize {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// The published JWKS as JSON.
    pub fn jwks(&self) -> Value {
        jwks_of(&self.shared)
    }
}

impl Drop for MockIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for MockIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockIssuer")
            .field("issuer", &self.shared.issuer)
            .finish_non_exhaustive()
    }
}

fn jwks_of(shared: &Shared) -> Value {
    let keys = shared.keys.lock().expect("keys");
    let published: Vec<Value> = keys
        .published
        .iter()
        .filter(|k| {
            !matches!(
                k.alg(),
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            )
        })
        .map(|k| k.public_jwk().clone())
        .collect();
    json!({ "keys": published })
}

async fn route(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if path == "/token" && method == Method::POST {
        shared.token_requests.fetch_add(1, Ordering::SeqCst);
        let keys = shared.keys.lock().expect("keys");
        let exchange = shared.exchange.lock().expect("exchange");
        let body = String::from_utf8_lossy(&body);
        return crate::exchange::handle(
            &shared.issuer,
            &keys.published,
            &keys.current,
            &exchange,
            &headers,
            &body,
        );
    }
    if path == "/jwks" {
        return jwks_response(&shared).await;
    }
    let issuer_path = shared
        .issuer
        .splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_default();
    let discovery_paths = [
        format!("/.well-known/oauth-authorization-server{issuer_path}"),
        format!("/.well-known/openid-configuration{issuer_path}"),
        format!("{issuer_path}/.well-known/openid-configuration"),
    ];
    if discovery_paths.iter().any(|p| p == path) {
        shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
        if let Some(target) = shared.discovery_redirect.lock().expect("redirect").clone() {
            return (StatusCode::FOUND, [(header::LOCATION, target)]).into_response();
        }
        let issuer = shared
            .discovery_issuer
            .lock()
            .expect("issuer")
            .clone()
            .unwrap_or_else(|| shared.issuer.clone());
        let origin = shared
            .issuer
            .splitn(4, '/')
            .take(3)
            .collect::<Vec<_>>()
            .join("/");
        let doc = json!({
            "issuer": issuer,
            "jwks_uri": format!("{origin}/jwks"),
            "token_endpoint": format!("{origin}/token"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["client_credentials", GRANT],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        return (
            [(header::CONTENT_TYPE, "application/json")],
            doc.to_string(),
        )
            .into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}

async fn jwks_response(shared: &Arc<Shared>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let behavior = shared.jwks.lock().expect("jwks").clone();
    let mut headers = HeaderMap::new();
    if let Some(cc) = shared.cache_control.lock().expect("cache-control").clone()
        && let Ok(v) = HeaderValue::from_str(&cc)
    {
        headers.insert(header::CACHE_CONTROL, v);
    }
    match behavior {
        JwksBehavior::Serve => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            (headers, jwks_of(shared).to_string()).into_response()
        }
        JwksBehavior::Fail(status) => StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        JwksBehavior::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        JwksBehavior::Trickle => {
            let bytes = jwks_of(shared).to_string().into_bytes();
            let stream = futures_util::stream::unfold(bytes.into_iter(), |mut rest| async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let byte = rest.next()?;
                Some((
                    Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(vec![byte])),
                    rest,
                ))
            });
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            (headers, axum::body::Body::from_stream(stream)).into_response()
        }
        JwksBehavior::Redirect(target) => {
            (StatusCode::FOUND, [(header::LOCATION, target)]).into_response()
        }
        JwksBehavior::Body(body, content_type) => {
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                headers.insert(header::CONTENT_TYPE, v);
            }
            (headers, body).into_response()
        }
    }
}
