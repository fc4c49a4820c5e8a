//! A service that filters its inner service's listings when the request asks for it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::{ListFilter, ListFilterBody};

/// Put in a request's extensions by a layer that decided which listed items the caller sees;
/// [`ListFiltered`] takes it out and filters the response.
#[derive(Clone, Debug)]
pub struct PendingListing(pub Arc<ListFilter>);

/// Wraps an inner service so that the listings in its responses are filtered by the
/// [`PendingListing`] of their request (responses of other requests pass untouched).
#[derive(Clone)]
pub struct ListFiltered<S> {
    inner: S,
}

impl<S> ListFiltered<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

crate::middleware_service!(ListFiltered);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ListFiltered<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ListFilterBody<ResBody>>;
    type Error = S::Error;
    type Future = ListFilteredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let filter = req.extensions_mut().remove::<PendingListing>().map(|p| p.0);
        ListFilteredFuture {
            future: self.inner.call(req),
            filter,
        }
    }
}

pin_project! {
    /// Response future of [`ListFiltered`].
    pub struct ListFilteredFuture<F> {
        #[pin]
        future: F,
        filter: Option<Arc<ListFilter>>,
    }
}

impl<F, B, E> Future for ListFilteredFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ListFilterBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.future.poll(cx))?;
        Poll::Ready(Ok(ListFilterBody::wrap(response, this.filter.take())))
    }
}
