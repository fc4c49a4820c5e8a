//! Asserting what a policy layer decides, in a few lines, against a mock MCP service.

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use mcp_auth_core::middleware::inspect::McpInspectLayer;
use mcp_auth_core::{AuthBody, BearerToken, Principal, Scopes};

use crate::{MockMcpService, TokenBuilder};
use serde_json::{Value, json};
use tower_layer::Layer;
use tower_service::Service;

/// Runs requests from a caller with chosen scopes through a layer in front of a
/// [`MockMcpService`], behind the request inspector as a stack places it.
///
/// Two kinds of caller:
/// - [`PolicyProbe::new`]: a verified [`Principal`] put straight into the request, for layers
///   that sit inside verification (a scope policy, a client policy);
/// - [`PolicyProbe::with_tokens`]: real tokens from a [`MockIssuer`](crate::MockIssuer) in the
///   `Authorization` header, for a whole stack such as `McpAuthLayer`.
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
    caller: Caller,
    server: MockMcpService,
}

#[derive(Clone, Debug)]
enum Caller {
    /// A principal inserted into the extensions.
    Principal {
        issuer: String,
        subject: String,
        roles: Vec<String>,
        claims: serde_json::Map<String, Value>,
    },
    /// Tokens minted from this template, sent as bearer tokens.
    Tokens(Box<TokenBuilder>),
}

impl<L> PolicyProbe<L> {
    /// Probes `layer` with a verified principal in every request (no token on the wire).
    pub fn new(layer: L) -> Self {
        Self {
            layer,
            caller: Caller::Principal {
                issuer: "https://issuer.test".into(),
                subject: "probe-user".into(),
                roles: Vec::new(),
                claims: serde_json::Map::new(),
            },
            server: MockMcpService::new(),
        }
    }

    /// Probes `layer` (a whole stack, verification included) with real bearer tokens minted
    /// from `template`, e.g. `issuer.token()` of a [`MockIssuer`](crate::MockIssuer) whose
    /// audience is the stack's resource; each request's token gets the requested scopes.
    ///
    /// ```
    /// use mcp_auth_core::ResourceId;
    /// use mcp_auth_jwt::{IssuerConfig, Verifier, VerifyLayer};
    /// use mcp_auth_testing::{MockIssuer, PolicyProbe};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let issuer = MockIssuer::builder().audience("https://mcp.example.com/mcp").start().await;
    /// let verifier = Verifier::builder(ResourceId::parse("https://mcp.example.com/mcp").unwrap())
    ///     .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
    ///     .build()
    ///     .unwrap();
    /// let probe = PolicyProbe::with_tokens(VerifyLayer::new(verifier), issuer.token());
    /// probe.call_tool("mcp:read", "anything").await.assert_allowed();
    /// probe.without_token().call_tool("", "anything").await.assert_unauthorized();
    /// # }
    /// ```
    pub fn with_tokens(layer: L, template: TokenBuilder) -> Self {
        Self {
            layer,
            caller: Caller::Tokens(Box::new(template)),
            server: MockMcpService::new(),
        }
    }

    /// Sets the principal's issuer and subject (for [`PolicyProbe::new`]).
    #[must_use]
    pub fn principal(mut self, issuer: &str, subject: &str) -> Self {
        if let Caller::Principal {
            issuer: i,
            subject: s,
            ..
        } = &mut self.caller
        {
            *i = issuer.into();
            *s = subject.into();
        }
        self
    }

    /// Gives the principal these roles (as a verification profile maps them; for
    /// [`PolicyProbe::new`]).
    #[must_use]
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        if let Caller::Principal { roles: r, .. } = &mut self.caller {
            *r = roles.into_iter().map(Into::into).collect();
        }
        self
    }

    /// Gives the principal these token claims (a JSON object; for [`PolicyProbe::new`]).
    ///
    /// # Panics
    /// When `claims` is not a JSON object.
    #[must_use]
    pub fn claims(mut self, claims: Value) -> Self {
        if let Caller::Principal { claims: c, .. } = &mut self.caller {
            *c = claims
                .as_object()
                .expect("claims are a JSON object")
                .clone();
        }
        self
    }

    /// Sends the following requests with no credentials at all.
    #[must_use]
    pub fn without_token(mut self) -> Self {
        self.caller = Caller::Tokens(Box::new(TokenBuilder::none()));
        self
    }

    /// The mock server behind the layer (to give it tools, resources and prompts to list).
    #[must_use]
    pub fn server(mut self, server: MockMcpService) -> Self {
        self.server = server;
        self
    }

    /// `tools/list` by a caller granted `scopes`; see [`Outcome::listed`].
    pub async fn list_tools<B>(&self, scopes: &str) -> Outcome
    where
        L: Layer<MockMcpService>,
        L::Service: Service<Request<AuthBody<Full<Bytes>>>, Response = Response<B>> + Clone,
        <L::Service as Service<Request<AuthBody<Full<Bytes>>>>>::Error: std::fmt::Debug,
        B: Body<Data = Bytes>,
        B::Error: std::fmt::Debug,
    {
        self.send(
            scopes,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .await
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
        self.call_tool_with(scopes, tool, json!({})).await
    }

    /// `tools/call` of `tool` with `arguments`, by a caller granted `scopes`.
    pub async fn call_tool_with<B>(&self, scopes: &str, tool: &str, arguments: Value) -> Outcome
    where
        L: Layer<MockMcpService>,
        L::Service: Service<Request<AuthBody<Full<Bytes>>>, Response = Response<B>> + Clone,
        <L::Service as Service<Request<AuthBody<Full<Bytes>>>>>::Error: std::fmt::Debug,
        B: Body<Data = Bytes>,
        B::Error: std::fmt::Debug,
    {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}});
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
        let mut service = McpInspectLayer::new()
            .in_front_of_verification()
            .layer(self.layer.layer(self.server.clone()));
        let mut request = Request::post("/mcp")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        match &self.caller {
            Caller::Principal {
                issuer,
                subject,
                roles,
                claims,
            } => {
                // One token per distinct caller, as in life: layers may remember what a token
                // says.
                let token = format!(
                    "probe:{issuer}:{subject}:{scopes}:{}:{}",
                    roles.join(","),
                    Value::Object(claims.clone())
                );
                let principal = Principal::builder(issuer, subject, BearerToken::new(token))
                    .scopes(Scopes::parse(scopes))
                    .roles(roles.clone())
                    .claims(claims.clone())
                    .build();
                request.extensions_mut().insert(principal);
            }
            Caller::Tokens(template) if template.is_none() => {}
            Caller::Tokens(template) => {
                let token = template.as_ref().clone().scope(scopes).sign();
                request.headers_mut().insert(
                    http::header::AUTHORIZATION,
                    http::HeaderValue::from_str(&format!("Bearer {token}")).expect("token"),
                );
            }
        }
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

    /// Asserts a `401` with a challenge: the caller must (re)authenticate.
    ///
    /// # Panics
    /// When it is anything else.
    #[track_caller]
    pub fn assert_unauthorized(&self) {
        assert_eq!(self.status, 401, "expected 401, got {self:?}");
        assert!(
            self.challenge
                .as_deref()
                .is_some_and(|c| c.contains("resource_metadata=")),
            "expected a challenge naming the metadata, got {self:?}"
        );
    }

    /// The names a listing answer carried (`tools` and `prompts` by `name`, `resources` by
    /// `uri`), in order; empty for anything else.
    pub fn listed(&self) -> Vec<String> {
        let result = &self.body["result"];
        [("tools", "name"), ("prompts", "name"), ("resources", "uri")]
            .iter()
            .filter_map(|(list, key)| Some((result.get(list)?.as_array()?, key)))
            .flat_map(|(items, key)| {
                items
                    .iter()
                    .filter_map(move |item| item.get(*key)?.as_str().map(str::to_owned))
            })
            .collect()
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
