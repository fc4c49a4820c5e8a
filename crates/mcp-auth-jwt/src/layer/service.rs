use std::sync::Arc;

use http::{Request, Response};
use tower_service::Service;

use super::ResponseFuture;
use super::layer::Shared;
use mcp_auth_core::record::RequestRecord;
use mcp_auth_core::{Principal, take_ready};

use crate::bearer;
use crate::verifier::Attempt;

/// Middleware that verifies the bearer token of every request. See the
/// [module docs](crate::layer) for an example.
#[derive(Clone)]
pub struct Verify<S> {
    pub(super) inner: S,
    pub(super) shared: Arc<Shared>,
}

mcp_auth_core::middleware_service!(Verify);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Verify<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: Send + 'static,
{
    type Response = Response<mcp_auth_core::AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    mcp_auth_core::forward_ready!();

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let token = match bearer::extract(req.headers(), req.uri()) {
            Ok(token) => token,
            Err(error) => return ResponseFuture::reject(self.shared.reject(error, &req)),
        };
        match self
            .shared
            .verifier
            .try_verify(token, true, Some(bearer::check_syntax))
        {
            Attempt::Done(Ok(principal)) => {
                admit(&mut req, principal);
                ResponseFuture::call(self.inner.call(req))
            }
            Attempt::Done(Err(error)) => ResponseFuture::reject(self.shared.reject(error, &req)),
            pending => {
                let token = token.to_owned();
                let shared = self.shared.clone();
                let verifying = Box::pin(async move {
                    match shared.verifier.complete(&token, pending).await {
                        Ok(principal) => {
                            admit(&mut req, principal);
                            Ok(req)
                        }
                        Err(error) => Err(shared.reject(error, &req)),
                    }
                });
                ResponseFuture::decide(verifying, take_ready(&mut self.inner))
            }
        }
    }
}

/// Puts the verified caller where inner layers, handlers and the audit layer look for it.
fn admit<B>(request: &mut Request<B>, principal: Principal) {
    RequestRecord::update_in(request.extensions(), |r| {
        r.principal = Some(principal.clone())
    });
    request.extensions_mut().insert(principal);
}
