//! The one rejection path: every layer turns an [`AuthError`] into a [`Rejection`] through a
//! [`Rejector`], which knows the metadata URL the challenges point at, answers gRPC callers in
//! gRPC, and lets the application replace how denials look.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Response};

use crate::{AuthBody, AuthError, ResourceId, is_grpc};

/// Replaces how a denial is rendered. The default rendering (an RFC 6750 challenge and a small
/// JSON body, or a trailers-only gRPC response) is passed in; return it changed, or a response
/// of your own. The typed [`AuthError`] is put back into the response's extensions afterwards,
/// so the audit layer still sees why the request was refused.
///
/// Closures implement it:
///
/// ```
/// use bytes::Bytes;
/// use mcp_auth_core::{AuthError, Rejector};
///
/// let rejector = Rejector::new("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
///     .render_with(|error: &AuthError, mut response: http::Response<Bytes>| {
///         response.headers_mut().insert("x-denied-because", error.reason().parse().unwrap());
///         response
///     });
/// let rejection = rejector.reject(AuthError::missing_token(), &http::HeaderMap::new());
/// let response = rejection.into_response::<http_body_util::Empty<Bytes>>();
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.headers()["x-denied-because"], "missing_token");
/// assert!(response.extensions().get::<AuthError>().is_some());
/// ```
pub trait RenderRejection: Send + Sync + 'static {
    /// Renders `error`, given its `default` rendering.
    fn render(&self, error: &AuthError, default: Response<Bytes>) -> Response<Bytes>;
}

impl<F> RenderRejection for F
where
    F: Fn(&AuthError, Response<Bytes>) -> Response<Bytes> + Send + Sync + 'static,
{
    fn render(&self, error: &AuthError, default: Response<Bytes>) -> Response<Bytes> {
        self(error, default)
    }
}

/// Renders every denial of a stack. Cheap to clone; build one per protected resource and give it
/// to every layer (the facade's builder does).
#[derive(Clone)]
#[must_use]
pub struct Rejector {
    resource_metadata: Arc<str>,
    custom: Option<Arc<dyn RenderRejection>>,
    dpop_algs: Option<Arc<str>>,
}

impl Rejector {
    /// Challenges point at `resource_metadata`, the RFC 9728 document's URL.
    pub fn new(resource_metadata: impl Into<Arc<str>>) -> Self {
        Self {
            resource_metadata: resource_metadata.into(),
            custom: None,
            dpop_algs: None,
        }
    }

    /// This server also accepts DPoP proofs signed with `algs` (space-separated JOSE names): every
    /// 401 carries a `DPoP algs="…"` challenge beside the Bearer one (RFC 9449 §7.1).
    pub fn accept_dpop(mut self, algs: impl Into<Arc<str>>) -> Self {
        self.dpop_algs = Some(algs.into());
        self
    }

    /// The DPoP proof algorithms challenges name, if DPoP is accepted.
    pub fn dpop_algs(&self) -> Option<&str> {
        self.dpop_algs.as_deref()
    }

    /// Challenges point at the metadata URL derived from `resource`.
    pub fn for_resource(resource: &ResourceId) -> Self {
        Self::new(resource.metadata_url())
    }

    /// Renders denials with `render` instead of the default (see [`RenderRejection`]).
    pub fn render_with(mut self, render: impl RenderRejection) -> Self {
        self.custom = Some(Arc::new(render));
        self
    }

    /// The metadata URL challenges point at.
    pub fn resource_metadata(&self) -> &str {
        &self.resource_metadata
    }

    /// Turns `error` into the response for a request with `request_headers`: trailers-only
    /// gRPC for `application/grpc*` requests, HTTP otherwise.
    pub fn reject(&self, error: AuthError, request_headers: &HeaderMap) -> Rejection {
        self.reject_as(error, is_grpc(request_headers))
    }

    /// Like [`reject`](Self::reject), for a layer that no longer holds the request's headers
    /// and noted whether it came from a gRPC caller.
    pub fn reject_as(&self, error: AuthError, grpc: bool) -> Rejection {
        let mut response = if grpc {
            error.grpc_response(&self.resource_metadata, self.dpop_algs.as_deref())
        } else {
            error.http_response(&self.resource_metadata, self.dpop_algs.as_deref())
        };
        if let Some(custom) = &self.custom {
            response = custom.render(&error, response);
        }
        response.extensions_mut().insert(error);
        Rejection { response }
    }
}

impl Default for Rejector {
    /// A rejector without a metadata URL, for layers whose denials carry no challenge (the
    /// request inspector's 400, 408 and 413) when used on their own.
    fn default() -> Self {
        Self::new("")
    }
}

impl fmt::Debug for Rejector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejector")
            .field("resource_metadata", &self.resource_metadata)
            .field("custom", &self.custom.is_some())
            .field("dpop_algs", &self.dpop_algs)
            .finish()
    }
}

/// A denial ready to send, whatever the body type of the service it stands in front of. The
/// [`AuthError`] it renders is in its extensions.
#[derive(Debug)]
pub struct Rejection {
    response: Response<Bytes>,
}

impl Rejection {
    /// A complete answer a layer gives in place of the inner service's (an MCP result of its
    /// own, such as "not yet: input required"): it goes back as it is, through the same path
    /// as a denial, and carries no [`AuthError`].
    pub fn answer(response: Response<Bytes>) -> Self {
        Self { response }
    }

    /// Why the request was refused.
    pub fn error(&self) -> Option<&AuthError> {
        self.response.extensions().get::<AuthError>()
    }

    /// The response, with the body type of the service being protected.
    pub fn into_response<B>(self) -> Response<AuthBody<B>> {
        self.response.map(AuthBody::full)
    }
}

impl From<Rejection> for Response<Bytes> {
    fn from(rejection: Rejection) -> Self {
        rejection.response
    }
}
