use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use mcp_auth_core::mcp::McpRequest;
use mcp_auth_core::middleware::inspect::awaits_inspection;
use mcp_auth_core::record::RequestRecord;
use mcp_auth_core::{AuthError, BoxError, Principal, Rejector};
use tower_service::Service;

use super::ResponseFuture;
use super::listing::ScopeKeeps;
use crate::ScopePolicy;
use mcp_auth_core::listing::ListFilter;

/// Middleware that enforces a scope policy. Built by [`ScopeLayer`](super::ScopeLayer).
#[derive(Clone)]
pub struct Scope<S> {
    pub(super) inner: S,
    pub(super) policy: ScopePolicy,
    pub(super) rejector: Rejector,
    pub(super) max_listing_bytes: usize,
}

mcp_auth_core::middleware_service!(Scope);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Scope<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    type Response =
        Response<mcp_auth_core::AuthBody<mcp_auth_core::listing::ListFilterBody<ResBody>>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    mcp_auth_core::forward_ready!();

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let Some(principal) = req.extensions().get::<Principal>() else {
            let error = AuthError::access_denied(
                "no_principal",
                "no verified caller: the scope layer must be placed inside the verification layer",
            );
            return ResponseFuture::rejected(self.rejector.reject(error, req.headers()));
        };
        if awaits_inspection(&req) {
            let error = AuthError::access_denied(
                "not_inspected",
                "the request body was not inspected: place McpInspectLayer outside the scope layer",
            );
            return ResponseFuture::rejected(self.rejector.reject(error, req.headers()));
        }
        let mcp = req.extensions().get::<McpRequest>();
        let verdict = self.policy.decide_for(principal, mcp);
        let (check, denial) = verdict.into_parts();
        RequestRecord::update_in(req.extensions(), |r| r.scope = Some(check));
        if let Some(error) = denial {
            return ResponseFuture::rejected(self.rejector.reject(error, req.headers()));
        }
        let filter = match mcp {
            Some(mcp) if self.policy.filters_lists() => ListFilter::for_request(
                mcp,
                || Box::new(ScopeKeeps::new(&self.policy, principal)),
                self.max_listing_bytes,
            ),
            _ => None,
        };
        ResponseFuture::inner(self.inner.call(req), filter)
    }
}
