use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::Response;
use mcp_auth_core::AuthBody;
use pin_project_lite::pin_project;

use super::layer::Shared;
use crate::handle::HandleState;

pin_project! {
    /// Response future of [`Obo`](super::Obo): the inner response, or the denial a handler
    /// propagated through its [`OnBehalfOf`](crate::OnBehalfOf) handle.
    pub struct ResponseFuture<F> {
        #[pin]
        future: F,
        state: Option<Arc<HandleState>>,
        grpc: bool,
        shared: Option<Arc<Shared>>,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(
        future: F,
        state: Option<Arc<HandleState>>,
        grpc: bool,
        shared: Option<Arc<Shared>>,
    ) -> Self {
        Self {
            future,
            state,
            grpc,
            shared,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<AuthBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.future.poll(cx))?;
        let denial = this.state.as_ref().and_then(|s| s.take_denial());
        Poll::Ready(Ok(match (denial, this.shared.as_ref()) {
            // The handler's own answer is dropped: the failure it propagated is the outcome.
            (Some(error), Some(shared)) => {
                shared.rejector.reject_as(error, *this.grpc).into_response()
            }
            _ => response.map(AuthBody::inner),
        }))
    }
}
