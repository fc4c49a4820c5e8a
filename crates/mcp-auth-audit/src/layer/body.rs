use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body::{Body, Frame, SizeHint};
use mcp_auth_core::AuthError;
use mcp_auth_core::record::RequestRecord;
use pin_project_lite::pin_project;

use crate::event::Observed;
use crate::queue::{Shared, Waiting};

/// What the service saw when the request came in.
pub(crate) struct Pending {
    pub(crate) shared: Arc<Shared>,
    pub(crate) record: RequestRecord,
    pub(crate) request_id: String,
    pub(crate) trace: Option<crate::TraceInfo>,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) session_id: Option<String>,
    pub(crate) start: Instant,
    /// Under `Overflow::Wait`, whether this request may wait for room in the queue (false for
    /// the metadata document).
    pub(crate) may_wait: bool,
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
        self.emit_detached(false, true);
    }

    /// Emits without waiting: a wait for room, if any, continues on its own.
    fn emit_detached(&mut self, completed: bool, failed: bool) {
        if let Some((shared, observed, record, _)) = self.take(completed, failed) {
            shared.submit_detached(observed, record);
        }
    }

    /// Emits at the end of the body; returns the wait for room the caller must finish first.
    fn emit_at_end(&mut self) -> Option<Waiting> {
        let (shared, observed, record, may_wait) = self.take(true, false)?;
        shared.submit(observed, record, may_wait)
    }

    fn take(
        &mut self,
        completed: bool,
        failed: bool,
    ) -> Option<(Arc<Shared>, Observed, mcp_auth_core::record::Record, bool)> {
        let pending = self.pending.take()?;
        // mcp-auth's own answers (denials) never wait for the queue.
        let may_wait = pending.may_wait && self.denial.is_none();
        let observed = Observed {
            at: std::time::SystemTime::now(),
            request_id: pending.request_id,
            trace: pending.trace,
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
        Some((pending.shared, observed, pending.record.take(), may_wait))
    }
}

impl Drop for EventGuard {
    fn drop(&mut self) {
        self.emit_detached(false, false);
    }
}

pin_project! {
    /// The response body, watched for its end so the event can be emitted.
    ///
    /// When the audit queue is full under [`Overflow::Wait`](crate::Overflow::Wait), the body's
    /// last frame is held back until the event has found room.
    pub struct AuditBody<B: Body> {
        #[pin]
        inner: B,
        guard: Option<EventGuard>,
        waiting: Option<Waiting>,
        last: Option<Option<Result<Frame<B::Data>, B::Error>>>,
    }
}

impl<B: Body> AuditBody<B> {
    pub(crate) fn new(inner: B, guard: Option<EventGuard>) -> Self {
        Self {
            inner,
            guard,
            waiting: None,
            last: None,
        }
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
        if let Some(waiting) = this.waiting {
            std::task::ready!(Pin::new(waiting).poll(cx));
            *this.waiting = None;
            return Poll::Ready(this.last.take().expect("the held frame"));
        }
        let frame = std::task::ready!(this.inner.as_mut().poll_frame(cx));
        // The end is `None`, or a frame after which the body says it is done: callers may stop
        // polling at that point.
        let ended = match &frame {
            None => true,
            Some(Ok(_)) => this.inner.is_end_stream(),
            Some(Err(_)) => false,
        };
        if ended
            && let Some(mut guard) = this.guard.take()
            && let Some(mut waiting) = guard.emit_at_end()
            && Pin::new(&mut waiting).poll(cx).is_pending()
        {
            *this.waiting = Some(waiting);
            *this.last = Some(frame);
            return Poll::Pending;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.waiting.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
