use bytes::Bytes;
use http::{Method, Request, Response, header};
use http_body::Body;
use tower_service::Service;

use super::McpInspectLayer;
use super::future::{ReadBody, ResponseFuture};
use crate::mcp::{InspectLimits, McpRequest};
use crate::{AuthBody, AuthError, BoxError, Rejector, is_grpc, take_ready};

/// Middleware that parses the MCP content of a request into an [`McpRequest`] extension.
///
/// See the [module docs](crate::middleware::inspect) for an example.
#[derive(Clone)]
pub struct McpInspect<S> {
    pub(super) inner: S,
    pub(super) limits: InspectLimits,
    pub(super) in_front_of_verification: bool,
    pub(super) rejector: Rejector,
}

crate::middleware_service!(McpInspect);

impl<S> McpInspect<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, limits: InspectLimits) -> Self {
        Self {
            inner,
            limits,
            in_front_of_verification: false,
            rejector: Rejector::default(),
        }
    }

    /// A layer with the given limits.
    pub fn layer(limits: InspectLimits) -> McpInspectLayer {
        McpInspectLayer::with_limits(limits)
    }
}

/// True when the request is a JSON-RPC `POST` whose body has not been inspected yet: a layer that
/// authorises by MCP content and sees such a request has no inspector outside it, and must refuse
/// rather than decide without the content.
pub fn awaits_inspection<B>(req: &Request<B>) -> bool {
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

    crate::forward_ready!();

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if !awaits_inspection(&req) {
            return ResponseFuture::call(self.inner.call(req.map(AuthBody::inner)));
        }
        // Without credentials the outcome is a 401 whatever the body says: read only enough to
        // choose the challenge's scope, and let verification answer.
        let credential_less =
            self.in_front_of_verification && !req.headers().contains_key(header::AUTHORIZATION);
        let limit = if credential_less {
            self.limits
                .max_credential_less_bytes
                .min(self.limits.max_body_bytes)
        } else {
            self.limits.max_body_bytes
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            if credential_less {
                let (parts, _) = req.into_parts();
                let req = Request::from_parts(parts, AuthBody::empty());
                return ResponseFuture::call(self.inner.call(req));
            }
            let error = AuthError::payload_too_large(limit);
            return ResponseFuture::reject(self.rejector.reject(error, req.headers()));
        }
        let reading = ReadBody::new(
            req,
            limit,
            self.limits,
            credential_less,
            self.rejector.clone(),
        );
        ResponseFuture::decide(reading, take_ready(&mut self.inner))
    }
}
