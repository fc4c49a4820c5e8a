use std::sync::Arc;

use http::{Request, Response};
use mcp_auth_core::telemetry::{self, FutureExt as _};
use mcp_auth_core::{AuthBody, take_ready};
use tower_service::Service;

use super::ResponseFuture;
use super::layer::Shared;
use crate::admission::{Decision, admit, record_client};

/// Middleware that admits or refuses the verified token's client. See the
/// [module docs](crate::layer) for an example.
#[derive(Clone)]
pub struct Cimd<S> {
    pub(super) inner: S,
    pub(super) shared: Option<Arc<Shared>>,
}

mcp_auth_core::middleware_service!(Cimd);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cimd<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: Send + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    mcp_auth_core::forward_ready!();

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let Some(shared) = &self.shared else {
            return ResponseFuture::call(self.inner.call(req));
        };
        match shared.decide(req.extensions()) {
            Decision::Admit(admission) => {
                admit(&mut req, admission);
                ResponseFuture::call(self.inner.call(req))
            }
            Decision::Deny(error) => ResponseFuture::reject(shared.reject(error, req.headers())),
            Decision::Resolve(client_id) => {
                let shared = shared.clone();
                // The audit record names the client before the outcome is known; admission
                // replaces it with the full summary.
                record_client(req.extensions(), &client_id);
                // The document fetch's span belongs to the trace of the request waiting for it.
                let trace = telemetry::request_context(req.headers());
                let resolving = Box::pin(
                    async move {
                        let resolved = shared.resolver.resolve(&client_id).await;
                        match shared.policy.finish(resolved) {
                            Ok(admission) => {
                                admit(&mut req, admission);
                                Ok(req)
                            }
                            Err(error) => Err(shared.reject(error, req.headers())),
                        }
                    }
                    .with_context(trace),
                );
                ResponseFuture::decide(resolving, take_ready(&mut self.inner))
            }
        }
    }
}
