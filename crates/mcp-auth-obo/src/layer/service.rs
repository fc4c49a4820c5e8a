use std::sync::Arc;

use http::{Request, Response};
use mcp_auth_core::mcp::{McpRequest, Target};
use mcp_auth_core::record::RequestRecord;
use mcp_auth_core::telemetry::TraceParent;
use mcp_auth_core::{AuthBody, Principal, is_grpc};
use tower_service::Service;

use super::ResponseFuture;
use super::layer::Shared;
use crate::OnBehalfOf;

/// Middleware that gives handlers an [`OnBehalfOf`] handle for the verified caller, and
/// renders the failures they propagate. See the [module docs](crate::layer) for an example.
#[derive(Clone)]
pub struct Obo<S> {
    pub(super) inner: S,
    pub(super) shared: Option<Arc<Shared>>,
}

mcp_auth_core::middleware_service!(Obo);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Obo<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    mcp_auth_core::forward_ready!();

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let grpc = is_grpc(req.headers());
        let Some(shared) = &self.shared else {
            return ResponseFuture::new(self.inner.call(req), None, grpc, None);
        };
        // No verified caller, no handle: a handler that needs one finds none and says so.
        let state = match req.extensions().get::<Principal>() {
            Some(principal) => {
                let record = req.extensions().get::<RequestRecord>().cloned();
                let mut handle = OnBehalfOf::new(shared.client.clone(), principal.clone(), record);
                if let Some(parent) = TraceParent::from_headers(req.headers()) {
                    handle = handle.within_trace(parent);
                }
                if let Some(allowlist) = &shared.allowlist {
                    handle = handle.limited_to(called_tool(req.extensions()), allowlist.clone());
                }
                let state = handle.state().clone();
                req.extensions_mut().insert(handle);
                Some(state)
            }
            None => {
                req.extensions_mut().remove::<OnBehalfOf>();
                None
            }
        };
        let shared = shared.clone();
        ResponseFuture::new(self.inner.call(req), state, grpc, Some(shared))
    }
}

/// The tool the request calls, when it calls exactly one.
fn called_tool(extensions: &http::Extensions) -> Option<&str> {
    let mcp = extensions.get::<McpRequest>()?;
    let mut tools = mcp.messages().iter().filter_map(|m| match m.target() {
        Some(Target::Tool(name)) => Some(name.as_str()),
        _ => None,
    });
    let tool = tools.next()?;
    tools.next().is_none().then_some(tool)
}
