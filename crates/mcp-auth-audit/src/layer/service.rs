use mcp_auth_core::telemetry::TraceParent;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderName, Request, Response};

// Parsed once, not on every lookup.
static MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
use mcp_auth_core::metadata::WELL_KNOWN_PATH;
use mcp_auth_core::record::RequestRecord;
use tower_service::Service;

use super::ResponseFuture;
use super::body::Pending;
use crate::queue::Shared;
use crate::request_id::{RequestId, header_text, request_id, trace_context};

/// Middleware that records one audit event per request. See the [module docs](crate::layer).
#[derive(Clone)]
pub struct Audit<S> {
    pub(super) inner: S,
    pub(super) shared: Option<Arc<Shared>>,
}

mcp_auth_core::middleware_service!(Audit);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Audit<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<super::AuditBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    mcp_auth_core::forward_ready!();

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let Some(shared) = &self.shared else {
            return ResponseFuture::new(self.inner.call(req), None);
        };
        let path = req.uri().path().to_owned();
        let metadata = path.starts_with(WELL_KNOWN_PATH)
            && matches!(
                path.as_bytes().get(WELL_KNOWN_PATH.len()),
                None | Some(b'/')
            );
        if metadata && !shared.include_metadata {
            return ResponseFuture::new(self.inner.call(req), None);
        }
        let start = Instant::now();
        // Read once: it names the request (without an X-Request-Id) and its trace.
        let parent = TraceParent::from_headers(req.headers());
        let request_id = request_id(req.headers(), parent.as_ref());
        let record = RequestRecord::default();
        req.extensions_mut().insert(record.clone());
        req.extensions_mut().insert(RequestId(request_id.clone()));
        let pending = Pending {
            shared: shared.clone(),
            record,
            request_id,
            trace: parent.as_ref().map(trace_context),
            method: req.method().to_string(),
            path,
            session_id: header_text(req.headers(), &MCP_SESSION_ID, 256),
            start,
            may_wait: !metadata,
        };
        ResponseFuture::new(self.inner.call(req), Some(pending))
    }
}
