use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use mcp_auth_core::AuthError;
use pin_project_lite::pin_project;

use super::AuditBody;
use super::body::{EventGuard, Pending};

pin_project! {
    /// Response future of [`Audit`](super::Audit).
    pub struct ResponseFuture<F> {
        #[pin]
        future: F,
        pending: Option<Pending>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // The client went away before the response: the request is still recorded, with
            // no status and not completed.
            if let Some(pending) = this.project().pending.take() {
                drop(EventGuard::new(pending, 0, None));
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(future: F, pending: Option<Pending>) -> Self {
        Self { future, pending }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<AuditBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.future.poll(cx));
        let Some(pending) = this.pending.take() else {
            return Poll::Ready(result.map(|r| r.map(|body| AuditBody::new(body, None))));
        };
        match result {
            Ok(mut response) => {
                if !response.headers().contains_key("x-request-id")
                    && let Ok(value) = http::HeaderValue::from_str(&pending.request_id)
                {
                    response.headers_mut().insert("x-request-id", value);
                }
                let denial = response.extensions().get::<AuthError>().cloned();
                let guard = EventGuard::new(pending, response.status().as_u16(), denial);
                Poll::Ready(Ok(response.map(|body| AuditBody::new(body, Some(guard)))))
            }
            Err(e) => {
                EventGuard::new(pending, 0, None).fail();
                Poll::Ready(Err(e))
            }
        }
    }
}
