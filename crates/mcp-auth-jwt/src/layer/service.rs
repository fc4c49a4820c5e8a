use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::ResponseFuture;
use super::layer::Shared;
use mcp_auth_core::record::RequestRecord;

use crate::bearer;
use crate::verifier::Attempt;

/// Middleware that verifies the bearer token of every request. See the
/// [module docs](crate::layer) for an example.
#[derive(Clone)]
pub struct Verify<S> {
    pub(super) inner: S,
    pub(super) shared: Arc<Shared>,
}

impl<S> Verify<S> {
    mcp_auth_core::define_inner_service_accessors!();
}

impl<S: fmt::Debug> fmt::Debug for Verify<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verify")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Verify<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
{
    type Response = Response<mcp_auth_core::AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let token = match bearer::extract(req.headers(), req.uri()) {
            Ok(token) => token,
            Err(error) => return ResponseFuture::rejected(error, &req, self.shared.clone()),
        };
        match self
            .shared
            .verifier
            .try_verify(token, true, Some(bearer::check_syntax))
        {
            Attempt::Done(Ok(principal)) => {
                RequestRecord::update_in(req.extensions(), |r| {
                    r.principal = Some(principal.clone())
                });
                req.extensions_mut().insert(principal);
                ResponseFuture::call(self.inner.call(req))
            }
            Attempt::Done(Err(error)) => ResponseFuture::rejected(error, &req, self.shared.clone()),
            Attempt::NeedKeys { issuer, seen } => {
                let token = token.to_owned();
                let verifier = self.shared.verifier.clone();
                let verifying =
                    Box::pin(
                        async move { verifier.verify_after_refresh(&token, issuer, seen).await },
                    );
                // The clone stays behind; the instance that was polled ready is the one called.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::verifying(verifying, req, ready, self.shared.clone())
            }
        }
    }
}
