//! An inner service that checks the tower readiness contract.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tower_service::Service;

/// Wraps a service so that calling an instance that was not itself polled ready panics.
///
/// Middleware that decides asynchronously must call the very instance that `poll_ready`
/// reserved, not a clone of it (a clone has reserved nothing: a `ConcurrencyLimit` or a buffer
/// behind it would be overrun). Put this under a layer and drive it through its asynchronous
/// paths: a layer that calls a clone fails the test.
///
/// ```should_panic
/// use mcp_auth_testing::{MockMcpService, StrictReadiness};
/// use tower_service::Service;
///
/// let mut service = StrictReadiness::new(MockMcpService::new());
/// let mut clone = service.clone();
/// let _ = clone.call(http::Request::new(())); // never polled ready: panics
/// ```
#[derive(Debug)]
pub struct StrictReadiness<S> {
    inner: S,
    ready: bool,
    calls: Arc<AtomicUsize>,
}

impl<S> StrictReadiness<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            ready: false,
            calls: Arc::default(),
        }
    }

    /// Calls made so far, by this instance and its clones.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// A counter of the calls, to read after the service was moved into a stack.
    pub fn call_counter(&self) -> Arc<AtomicUsize> {
        self.calls.clone()
    }
}

impl<S: Clone> Clone for StrictReadiness<S> {
    fn clone(&self) -> Self {
        // A clone has reserved nothing.
        Self {
            inner: self.inner.clone(),
            ready: false,
            calls: self.calls.clone(),
        }
    }
}

impl<S, R> Service<R> for StrictReadiness<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let ready = self.inner.poll_ready(cx);
        if let Poll::Ready(Ok(())) = ready {
            self.ready = true;
        }
        ready
    }

    fn call(&mut self, request: R) -> Self::Future {
        assert!(
            std::mem::take(&mut self.ready),
            "called an instance that was not polled ready (a clone, or a second call)"
        );
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.call(request)
    }
}
