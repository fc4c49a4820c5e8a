use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response, header};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use tower_service::Service;

use super::future::ResponseFuture;
use super::{InspectLimits, McpInspectLayer, McpRequest};
use crate::{AuthBody, AuthError, BoxError, is_grpc};

/// Middleware that parses the MCP content of a request into an [`McpRequest`] extension.
///
/// See the [module docs](crate::inspect) for an example.
#[derive(Clone, Debug)]
pub struct McpInspect<S> {
    inner: S,
    limits: InspectLimits,
}

impl<S> McpInspect<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, limits: InspectLimits) -> Self {
        Self { inner, limits }
    }

    /// A layer with the given limits.
    pub fn layer(limits: InspectLimits) -> McpInspectLayer {
        McpInspectLayer::with_limits(limits)
    }

    crate::define_inner_service_accessors!();
}

/// True when the request is a JSON-RPC `POST` whose body has not been inspected yet.
pub(crate) fn needs_inspection<B>(req: &Request<B>) -> bool {
    req.method() == Method::POST
        && !is_grpc(req.headers())
        && req.extensions().get::<McpRequest>().is_none()
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for McpInspect<S>
where
    S: Service<Request<AuthBody<ReqBody>>, Response = Response<ResBody>> + Clone,
    ReqBody: Body<Data = Bytes>,
    ReqBody::Error: Into<BoxError>,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if !needs_inspection(&req) {
            return ResponseFuture::inner(self.inner.call(req.map(AuthBody::inner)));
        }
        let limit = self.limits.max_body_bytes;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return ResponseFuture::rejected(AuthError::payload_too_large(limit), req.headers());
        }
        // The clone stays behind; the instance that was polled ready is the one called.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let (parts, body) = req.into_parts();
        ResponseFuture::collecting(
            Limited::new(body, limit).collect(),
            parts,
            ready,
            self.limits,
        )
    }
}
