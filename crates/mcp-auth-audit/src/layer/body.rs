use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body::{Body, Frame, SizeHint};
use mcp_auth_core::AuthError;
use mcp_auth_core::record::RequestRecord;
use pin_project_lite::pin_project;

use crate::auditor::Shared;
use crate::event::Observed;

/// What the service saw when the request came in.
pub(crate) struct Pending {
    pub(crate) shared: Arc<Shared>,
    pub(crate) record: RequestRecord,
    pub(crate) request_id: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) session_id: Option<String>,
    pub(crate) start: Instant,
}

/// Emits the event exactly once: when the body ends, or when it is dropped before (the client
/// went away), or at once when the service failed.
pub(crate) struct EventGuard {
    pending: Option<Pending>,
    status: u16,
    headers: Duration,
    denial: Option<AuthError>,
}

impl EventGuard {
    pub(crate) fn new(pending: Pending, status: u16, denial: Option<AuthError>) -> Self {
        let headers = pending.start.elapsed();
        Self {
            pending: Some(pending),
            status,
            headers,
            denial,
        }
    }

    pub(crate) fn fail(mut self) {
        self.emit(false, true);
    }

    fn emit(&mut self, completed: bool, failed: bool) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let observed = Observed {
            at: std::time::SystemTime::now(),
            request_id: pending.request_id,
            method: pending.method,
            path: pending.path,
            session_id: pending.session_id,
            status: self.status,
            headers: self.headers,
            total: pending.start.elapsed(),
            completed,
            denial: self.denial.take(),
            failed,
        };
        pending.shared.submit(observed, pending.record.take());
    }
}

impl Drop for EventGuard {
    fn drop(&mut self) {
        self.emit(false, false);
    }
}

pin_project! {
    /// The response body, watched for its end so the event can be emitted.
    pub struct AuditBody<B> {
        #[pin]
        inner: B,
        guard: Option<EventGuard>,
    }
}

impl<B> AuditBody<B> {
    pub(crate) fn new(inner: B, guard: Option<EventGuard>) -> Self {
        Self { inner, guard }
    }
}

impl<B: Body> Body for AuditBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = std::task::ready!(this.inner.as_mut().poll_frame(cx));
        // The end is `None`, or a frame after which the body says it is done: callers may stop
        // polling at that point.
        let ended = match &frame {
            None => true,
            Some(Ok(_)) => this.inner.is_end_stream(),
            Some(Err(_)) => false,
        };
        if ended && let Some(mut guard) = this.guard.take() {
            guard.emit(true, false);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
