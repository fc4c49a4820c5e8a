use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::Response;
use http_body::Body;
use mcp_auth_core::{AuthBody, BoxError, Rejection};
use pin_project_lite::pin_project;

use mcp_auth_core::listing::{ListFilter, ListFilterBody};

type Output<B> = Response<AuthBody<ListFilterBody<B>>>;

pin_project! {
    /// Response future of [`Scope`](super::Scope).
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] future: F, filter: Option<Box<ListFilter>> },
        Rejected { rejection: Option<Rejection> },
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn inner(future: F, filter: Option<Box<ListFilter>>) -> Self {
        Self {
            kind: Kind::Inner { future, filter },
        }
    }

    pub(super) fn rejected(rejection: Rejection) -> Self {
        Self {
            kind: Kind::Rejected {
                rejection: Some(rejection),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Output = Result<Output<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, filter } => {
                let response = ready!(future.poll(cx))?;
                let filter = filter.take();
                Poll::Ready(Ok(
                    ListFilterBody::wrap(response, filter.map(Into::into)).map(AuthBody::inner)
                ))
            }
            KindProj::Rejected { rejection } => Poll::Ready(Ok(rejection
                .take()
                .expect("ResponseFuture polled after completion")
                .into_response())),
        }
    }
}
