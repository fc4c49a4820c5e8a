use std::sync::Arc;

use http::{Request, Response};
use tower_service::Service;

use super::ResponseFuture;
use super::layer::Shared;
use mcp_auth_core::record::RequestRecord;
use mcp_auth_core::telemetry::{self, FutureExt as _};
use mcp_auth_core::{AuthError, Principal, take_ready};

use crate::bearer;
use crate::dpop::{Checked, PendingCheck, Presentation};
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
        let credentials = match bearer::extract(req.headers(), req.uri()) {
            Ok(credentials) => credentials,
            Err(error) => return ResponseFuture::reject(self.shared.reject(error, &req)),
        };
        let (token, dpop) = (credentials.token, credentials.dpop);
        match self
            .shared
            .verifier
            .try_verify(token, true, Some(bearer::check_syntax))
        {
            Attempt::Done(verified) => {
                match verified.and_then(|p| presented(&self.shared, &req, token, dpop, p)) {
                    Ok((principal, None)) => {
                        admit(&mut req, principal);
                        ResponseFuture::call(self.inner.call(req))
                    }
                    Ok((principal, Some(check))) => {
                        // A shared replay store answers later: wait for it, then admit.
                        let shared = self.shared.clone();
                        let checking = Box::pin(async move {
                            match check.await {
                                Ok(()) => {
                                    admit(&mut req, principal);
                                    Ok(req)
                                }
                                Err(error) => Err(shared.reject(error, &req)),
                            }
                        });
                        ResponseFuture::decide(checking, take_ready(&mut self.inner))
                    }
                    Err(error) => {
                        ResponseFuture::reject(self.shared.reject(scheme(error, dpop), &req))
                    }
                }
            }
            pending => {
                let token = token.to_owned();
                let shared = self.shared.clone();
                // The key fetch's span belongs to the trace of the request that waits for it.
                let trace = telemetry::request_context(req.headers());
                let verifying = Box::pin(
                    async move {
                        let verified = shared.verifier.complete(&token, pending).await;
                        let admitted = match verified
                            .and_then(|p| presented(&shared, &req, &token, dpop, p))
                        {
                            Ok((principal, None)) => Ok(principal),
                            Ok((principal, Some(check))) => check.await.map(|()| principal),
                            Err(error) => Err(error),
                        };
                        match admitted {
                            Ok(principal) => {
                                admit(&mut req, principal);
                                Ok(req)
                            }
                            Err(error) => Err(shared.reject(scheme(error, dpop), &req)),
                        }
                    }
                    .with_context(trace),
                );
                ResponseFuture::decide(verifying, take_ready(&mut self.inner))
            }
        }
    }
}

/// The principal, if its token may be used as it was presented (see
/// [`Verifier::check_presentation`](crate::Verifier)), with the check still to await when a
/// shared replay store answers later.
fn presented<B>(
    shared: &Shared,
    req: &Request<B>,
    token: &str,
    dpop: bool,
    principal: Principal,
) -> Result<(Principal, Option<PendingCheck>), AuthError> {
    let checked = shared.verifier.check_presentation(
        &principal,
        &Presentation {
            dpop,
            token,
            method: req.method().as_str(),
            headers: req.headers(),
        },
    )?;
    Ok(match checked {
        Checked::Accepted => (principal, None),
        Checked::Pending(check) => (principal, Some(check)),
    })
}

/// A token presented with the `DPoP` scheme is refused in the DPoP challenge.
fn scheme(error: AuthError, dpop: bool) -> AuthError {
    if dpop && error.kind() == mcp_auth_core::AuthErrorKind::InvalidToken {
        error.in_dpop_challenge()
    } else {
        error
    }
}

/// Puts the verified caller where inner layers, handlers and the audit layer look for it.
fn admit<B>(request: &mut Request<B>, principal: Principal) {
    RequestRecord::update_in(request.extensions(), |r| {
        r.principal = Some(principal.clone())
    });
    request.extensions_mut().insert(principal);
}
