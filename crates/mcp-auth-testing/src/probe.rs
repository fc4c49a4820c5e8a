//! Asserting what a policy layer decides, in a few lines, against a mock MCP service.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use mcp_auth_core::inspect::McpInspectLayer;
use mcp_auth_core::{AuthBody, BearerToken, Principal, Scopes};
use serde_json::{Value, json};
use tower_layer::Layer;
use tower_service::Service;

/// A stand-in MCP server: answers every request with `200` and a JSON-RPC result, and counts
/// nothing. What reaches it was allowed.
#[derive(Clone, Copy, Debug, Default)]
pub struct MockMcpService;

impl<B> Service<Request<B>> for MockMcpService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<B>) -> Self::Future {
        let mut response = Response::new(Full::new(Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        )));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        ready(Ok(response))
    }
}

/// Runs requests from a principal with chosen scopes through a layer (a scope policy, a client
/// policy, a whole stack minus verification) in front of [`MockMcpService`], behind the request
/// inspector as a stack places it.
///
/// ```
/// use mcp_auth_core::ResourceId;
/// use mcp_auth_scope::{Requirement, ScopeLayer, ScopePolicy};
/// use mcp_auth_testing::PolicyProbe;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let policy = ScopePolicy::builder()
///     .tool("read_file", Requirement::all("files:read"))
///     .tool("write_file", Requirement::all("files:write"))
///     .build()
///     .unwrap();
/// let probe = PolicyProbe::new(ScopeLayer::new(policy, &ResourceId::parse("https://mcp.example.com/mcp").unwrap()));
///
/// probe.call_tool("files:write", "write_file").await.assert_allowed();
/// // The challenge keeps the caller's relevant scopes, for clients that replace their set.
/// probe.call_tool("files:read openid", "write_file").await.assert_step_up("files:read files:write");
/// probe.call_tool("files:write", "unknown").await.assert_forbidden();
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PolicyProbe<L> {
    layer: L,
    issuer: String,
    subject: String,
}

impl<L> PolicyProbe<L> {
    /// Probes `layer`.
    pub fn new(layer: L) -> Self {
        Self {
            layer,
            issuer: "https://issuer.test".into(),
            subject: "probe-user".into(),
        }
    }

    /// Sets the principal's issuer and subject.
    #[must_use]
    pub fn principal(mut self, issuer: &str, subject: &str) -> Self {
        self.issuer = issuer.into();
        self.subject = subject.into();
        self
    }

    /// `tools/call` of `tool` by a caller granted `scopes` (space-separated).
    pub async fn call_tool<B>(&self, scopes: &str, tool: &str) -> Outcome
    where
        L: Layer<MockMcpService>,
        L::Service: Service<Request<AuthBody<Full<Bytes>>>, Response = Response<B>> + Clone,
        <L::Service as Service<Request<AuthBody<Full<Bytes>>>>>::Error: std::fmt::Debug,
        B: Body<Data = Bytes>,
        B::Error: std::fmt::Debug,
    {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}});
        self.send(scopes, body).await
    }

    /// Any JSON-RPC body (a request, a notification, a batch) from a caller granted `scopes`.
    pub async fn send<B>(&self, scopes: &str, body: Value) -> Outcome
    where
        L: Layer<MockMcpService>,
        L::Service: Service<Request<AuthBody<Full<Bytes>>>, Response = Response<B>> + Clone,
        <L::Service as Service<Request<AuthBody<Full<Bytes>>>>>::Error: std::fmt::Debug,
        B: Body<Data = Bytes>,
        B::Error: std::fmt::Debug,
    {
        // The one inspector of a stack stands outside every policy layer.
        let mut service = McpInspectLayer::new().layer(self.layer.layer(MockMcpService));
        let principal =
            Principal::builder(&self.issuer, &self.subject, BearerToken::new("probe-token"))
                .scopes(Scopes::parse(scopes))
                .build();
        let mut request = Request::post("/mcp")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        request.extensions_mut().insert(principal);
        std::future::poll_fn(|cx| service.poll_ready(cx))
            .await
            .expect("service ready");
        let response = service.call(request).await.expect("service answered");
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        Outcome {
            status,
            challenge,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }
}

/// What the probed layer answered.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The HTTP status.
    pub status: u16,
    /// The `WWW-Authenticate` value, if any.
    pub challenge: Option<String>,
    /// The JSON body (`Null` if it was not JSON).
    pub body: Value,
}

impl Outcome {
    /// The challenge's `scope` parameter.
    pub fn challenge_scope(&self) -> Option<String> {
        challenge_param(self.challenge.as_deref()?, "scope")
    }

    /// The challenge's `error` parameter.
    pub fn challenge_error(&self) -> Option<String> {
        challenge_param(self.challenge.as_deref()?, "error")
    }

    /// Asserts the request reached the service.
    ///
    /// # Panics
    /// When it did not.
    #[track_caller]
    pub fn assert_allowed(&self) {
        assert_eq!(
            self.status, 200,
            "expected the call to be allowed, got {self:?}"
        );
    }

    /// Asserts a `403 insufficient_scope` whose challenge asks for exactly `scope`.
    ///
    /// # Panics
    /// When it is anything else.
    #[track_caller]
    pub fn assert_step_up(&self, scope: &str) {
        assert_eq!(self.status, 403, "expected 403, got {self:?}");
        assert_eq!(
            self.challenge_error().as_deref(),
            Some("insufficient_scope"),
            "{self:?}"
        );
        assert_eq!(self.challenge_scope().as_deref(), Some(scope), "{self:?}");
    }

    /// Asserts a `403` with no challenge: refused whatever the scopes.
    ///
    /// # Panics
    /// When it is anything else.
    #[track_caller]
    pub fn assert_forbidden(&self) {
        assert_eq!(self.status, 403, "expected 403, got {self:?}");
        assert!(
            self.challenge.is_none(),
            "expected no challenge, got {self:?}"
        );
    }
}

/// Reads `name="value"` from a challenge, as MCP clients do.
pub fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let mut rest = challenge;
    while let Some(i) = rest.find(&needle) {
        let preceded_ok = i == 0 || matches!(rest.as_bytes()[i - 1], b' ' | b',');
        let after = &rest[i + needle.len()..];
        if preceded_ok {
            return after.find('"').map(|end| after[..end].to_owned());
        }
        rest = after;
    }
    None
}
