//! The innermost service of a route: sends the request, as the stack let it through, to the MCP
//! server behind the gateway and streams the answer back.
//!
//! Built on hyper's pooled client (hyper-util's), so connections to the server are reused.
//! Request bodies arrive already read by the stack's inspector and go on unchanged; response
//! bodies are never buffered here, so an SSE stream reaches the client event by event.

mod error;
mod headers;
mod sessions;
mod telemetry;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Version, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mcp_auth::obo::{ExchangeRequest, OnBehalfOf};
use mcp_auth::{McpRequest, Principal};

use crate::assertion::IdentityAssertions;
use crate::upstream::Target;
pub(crate) use error::UpstreamFailure;
pub(crate) use headers::Forwarding;
use sessions::Sessions;
use telemetry::Telemetry;

/// What the gateway presents to the server for a request.
#[derive(Clone, Debug)]
pub(crate) enum Credentials {
    None,
    Static(HeaderName, HeaderValue),
    Exchange(ExchangeRequest),
    Assertion {
        assertions: IdentityAssertions,
        audience: Arc<str>,
        header: HeaderName,
    },
}

/// Sends requests to one route's server.
#[derive(Clone)]
pub(crate) struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    target: Target,
    client: Client<HttpConnector, Body>,
    credentials: Credentials,
    forwarding: Forwarding,
    sessions: Sessions,
    route: Arc<str>,
    telemetry: Telemetry,
}

const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");

impl Proxy {
    pub(crate) fn new(
        target: Target,
        credentials: Credentials,
        forwarding: Forwarding,
        route: &str,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(target.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(target.max_idle)
            .build(connector);
        Self {
            inner: Arc::new(Inner {
                target,
                client,
                credentials,
                forwarding,
                sessions: Sessions::new(100_000),
                route: route.into(),
                telemetry: Telemetry::new(route.into()),
            }),
        }
    }
}

impl tower::Service<Request<Body>> for Proxy {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The pool waits for a connection inside `call`; the proxy itself is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { Ok(inner.forward(request).await) })
    }
}

impl Inner {
    async fn forward(&self, request: Request<Body>) -> Response<Body> {
        let started = Instant::now();
        let (mut parts, body) = request.into_parts();
        // What the answer needs once the request has gone (reference-counted, not copied).
        let mcp = parts.extensions.remove::<McpRequest>();
        let mcp = mcp.as_ref();
        let principal = parts.extensions.remove::<Principal>();
        let principal = principal.as_ref();
        let fail = |failure: UpstreamFailure| {
            if failure != UpstreamFailure::ForeignSession {
                self.telemetry.failed(started.elapsed(), failure);
            }
            tracing::warn!(
                target: "mcp_auth_gateway::upstream",
                route = %self.route,
                failure = failure.as_str(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "answered for the MCP server"
            );
            failure.response(mcp)
        };
        let session = parts.headers.get(SESSION_ID).cloned();
        if let (Some(id), Some(principal)) = (&session, principal)
            && !self.sessions.permits(id, principal)
        {
            return fail(UpstreamFailure::ForeignSession);
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let Ok(uri) = self.target.uri(parts.uri.query()) else {
            return fail(UpstreamFailure::Unreachable);
        };
        let mut headers = headers::upstream_request(
            std::mem::take(&mut parts.headers),
            &self.target.host_header,
            peer,
            &self.forwarding,
        );
        if let Err(failure) = self
            .credentials(&mut headers, &parts, &uri, principal)
            .await
        {
            return fail(failure);
        }
        // The request goes on as it came, re-addressed: its method, and the body the
        // inspector read.
        let deleting = parts.method == Method::DELETE;
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        parts.headers = headers;
        let upstream = Request::from_parts(parts, body);
        let answer = match tokio::time::timeout(
            self.target.response_timeout,
            self.client.request(upstream),
        )
        .await
        {
            Err(_) => return fail(UpstreamFailure::TimedOut),
            Ok(Err(error)) => {
                tracing::debug!(target: "mcp_auth_gateway::upstream", %error, "upstream request failed");
                return fail(UpstreamFailure::Unreachable);
            }
            Ok(Ok(answer)) => answer,
        };
        if answer.status() == StatusCode::UNAUTHORIZED {
            return fail(UpstreamFailure::RefusedCredentials);
        }
        self.telemetry
            .answered(started.elapsed(), answer.status().as_u16());
        let (mut head, incoming) = answer.into_parts();
        headers::client_response(&mut head.headers);
        if let Some(principal) = principal {
            if let Some(opened) = head.headers.get(SESSION_ID) {
                self.sessions.opened(opened, principal);
            }
            if deleting
                && head.status.is_success()
                && let Some(id) = &session
            {
                self.sessions.ended(id);
            }
        }
        tracing::debug!(
            target: "mcp_auth_gateway::upstream",
            route = %self.route,
            status = head.status.as_u16(),
            headers_ms = started.elapsed().as_millis() as u64,
            "forwarded"
        );
        Response::from_parts(head, Body::new(incoming))
    }

    /// Adds what the gateway presents to the server. The client's own credentials were
    /// removed with the other headers that never cross.
    async fn credentials(
        &self,
        headers: &mut http::HeaderMap,
        request: &http::request::Parts,
        uri: &http::Uri,
        principal: Option<&Principal>,
    ) -> Result<(), UpstreamFailure> {
        match &self.credentials {
            Credentials::None => Ok(()),
            Credentials::Static(name, value) => {
                headers.insert(name, value.clone());
                Ok(())
            }
            Credentials::Exchange(exchange) => {
                let handle = OnBehalfOf::from_extensions(&request.extensions)
                    .ok_or(UpstreamFailure::NoCredentials)?;
                // A refusal is the client's to hear (401/403 through the exchange layer).
                let token = handle
                    .get_token_or_deny(exchange.clone())
                    .await
                    .map_err(|_| UpstreamFailure::NoCredentials)?;
                // A DPoP-bound token signs a proof of this method and URL.
                let addressed = Request::builder()
                    .method(request.method.clone())
                    .uri(uri.clone());
                let addressed = token.apply_to(addressed);
                if let Some(added) = addressed.headers_ref() {
                    for (name, value) in added {
                        headers.insert(name, value.clone());
                    }
                }
                Ok(())
            }
            Credentials::Assertion {
                assertions,
                audience,
                header: name,
            } => {
                let principal = principal.ok_or(UpstreamFailure::NoCredentials)?;
                let jwt = assertions.assert(principal, audience).map_err(|error| {
                    tracing::error!(target: "mcp_auth_gateway::upstream", %error, "cannot sign an identity assertion");
                    UpstreamFailure::NoCredentials
                })?;
                let value = if name == header::AUTHORIZATION {
                    format!("Bearer {jwt}")
                } else {
                    jwt.to_string()
                };
                let mut value =
                    HeaderValue::try_from(value).map_err(|_| UpstreamFailure::NoCredentials)?;
                value.set_sensitive(true);
                headers.insert(name, value);
                Ok(())
            }
        }
    }
}
