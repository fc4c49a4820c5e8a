//! A mock authorization server on 127.0.0.1: a token endpoint with scripted answers, and
//! RFC 8414 discovery.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use mcp_auth_core::{BearerToken, Principal};
use mcp_auth_fetch::FetchPolicy;

use crate::{ClientAuth, TokenExchangeClient, TokenExchangeClientBuilder};

/// One request the token endpoint received.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    pub(crate) form: HashMap<String, String>,
    pub(crate) authorization: Option<String>,
    /// The `DPoP` proof header.
    pub(crate) dpop: Option<String>,
}

/// A scripted answer.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
    pub(crate) retry_after: Option<&'static str>,
    pub(crate) dpop_nonce: Option<String>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self::raw(status, "application/json", body.to_string())
    }

    pub(crate) fn raw(status: u16, content_type: &'static str, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type,
            body: body.into(),
            retry_after: None,
            dpop_nonce: None,
        }
    }

    pub(crate) fn oauth_error(status: u16, code: &str, description: &str) -> Self {
        Self::json(
            status,
            json!({"error": code, "error_description": description}),
        )
    }
}

type Script = Arc<dyn Fn(&Received, usize) -> Reply + Send + Sync>;

struct Shared {
    issuer: String,
    exchanges: AtomicUsize,
    discoveries: AtomicUsize,
    received: Mutex<Vec<Received>>,
    script: Mutex<Script>,
    discovery_issuer: Mutex<Option<String>>,
    /// When set, every exchange waits for a permit before answering.
    gate: Mutex<Option<Arc<Semaphore>>>,
}

/// The mock server. Dropping it stops it.
pub(crate) struct MockAs {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

/// The default answer: a token named after the request count, granting what was asked.
pub(crate) fn grant_all(received: &Received, n: usize) -> Reply {
    let mut body = json!({
        "access_token": format!("exchanged-{n}"),
        "issued_token_type": crate::ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": 300,
    });
    if let Some(scope) = received.form.get("scope") {
        body["scope"] = scope.clone().into();
    }
    Reply::json(200, body)
}

impl MockAs {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            issuer: format!("http://{addr}"),
            exchanges: AtomicUsize::new(0),
            discoveries: AtomicUsize::new(0),
            received: Mutex::default(),
            script: Mutex::new(Arc::new(grant_all)),
            discovery_issuer: Mutex::default(),
            gate: Mutex::default(),
        });
        let app = Router::new()
            .route("/token", post(token))
            .fallback(discovery)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { shared, task }
    }

    pub(crate) fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    pub(crate) fn token_endpoint(&self) -> String {
        format!("{}/token", self.shared.issuer)
    }

    pub(crate) fn script(
        &self,
        script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static,
    ) {
        *self.shared.script.lock().unwrap() = Arc::new(script);
    }

    /// Answers every exchange with `reply`.
    pub(crate) fn always(&self, reply: Reply) {
        self.script(move |_, _| reply.clone());
    }

    pub(crate) fn set_discovery_issuer(&self, issuer: &str) {
        *self.shared.discovery_issuer.lock().unwrap() = Some(issuer.to_owned());
    }

    /// Holds every exchange until permits are added to the returned semaphore.
    pub(crate) fn hold(&self) -> Arc<Semaphore> {
        let gate = Arc::new(Semaphore::new(0));
        *self.shared.gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    /// Exchange requests received so far.
    pub(crate) fn exchanges(&self) -> usize {
        self.shared.exchanges.load(Ordering::SeqCst)
    }

    pub(crate) fn discoveries(&self) -> usize {
        self.shared.discoveries.load(Ordering::SeqCst)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    pub(crate) fn last(&self) -> Received {
        self.received().pop().expect("a request was received")
    }

    /// A builder for a client of this server: `client_secret_basic`, loopback allowed, the
    /// token endpoint configured, and `clock`.
    pub(crate) fn client_builder(&self, clock: &Clock) -> TokenExchangeClientBuilder {
        self.client_builder_with(
            ClientAuth::client_secret_basic("mcp-server", "server-secret"),
            clock,
        )
    }

    pub(crate) fn client_builder_with(
        &self,
        auth: ClientAuth,
        clock: &Clock,
    ) -> TokenExchangeClientBuilder {
        let clock = clock.clone();
        TokenExchangeClient::builder(auth)
            .token_endpoint(self.token_endpoint())
            .fetch_policy(FetchPolicy::default().allow_loopback(true))
            .clock(move || clock.now())
    }

    pub(crate) fn client(&self, clock: &Clock) -> TokenExchangeClient {
        self.client_builder(clock).build().unwrap()
    }
}

impl Drop for MockAs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let received = Received {
        form,
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        dpop: headers
            .get("dpop")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let n = shared.exchanges.fetch_add(1, Ordering::SeqCst) + 1;
    shared.received.lock().unwrap().push(received.clone());
    let gate = shared.gate.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.acquire().await.unwrap().forget();
    }
    let script = shared.script.lock().unwrap().clone();
    let reply = script(&received, n);
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap(),
        [(header::CONTENT_TYPE, reply.content_type)],
        reply.body,
    )
        .into_response();
    if let Some(after) = reply.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, after.parse().unwrap());
    }
    if let Some(nonce) = reply.dpop_nonce {
        response
            .headers_mut()
            .insert("dpop-nonce", nonce.parse().unwrap());
    }
    response
}

async fn discovery(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    if uri.path() != "/.well-known/oauth-authorization-server" {
        return StatusCode::NOT_FOUND.into_response();
    }
    shared.discoveries.fetch_add(1, Ordering::SeqCst);
    let issuer = shared
        .discovery_issuer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| shared.issuer.clone());
    let doc = json!({
        "issuer": issuer,
        "token_endpoint": format!("{}/token", shared.issuer),
        "grant_types_supported": [crate::TOKEN_EXCHANGE_GRANT],
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
        .into_response()
}

/// A clock the test moves.
#[derive(Clone)]
pub(crate) struct Clock(Arc<Mutex<SystemTime>>);

impl Clock {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Mutex::new(SystemTime::now())))
    }

    pub(crate) fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }

    pub(crate) fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    /// Seconds since the Unix epoch.
    pub(crate) fn unix(&self) -> u64 {
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
}

/// A verified caller whose token expires `lifetime` after the clock's now.
pub(crate) fn caller(token: &str, clock: &Clock, lifetime: Duration) -> Principal {
    Principal::builder("https://as.example", "alice", BearerToken::new(token))
        .expires_at(clock.unix() + lifetime.as_secs())
        .build()
}

/// Polls `condition` until it holds, for at most five seconds.
pub(crate) async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
