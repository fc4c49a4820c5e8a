use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use mcp_auth_core::{AuthBody, AuthError, LayerFuture};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::layer::{Shared, admit};
use crate::Admission;

type Resolving = Pin<Box<dyn Future<Output = Result<Admission, AuthError>> + Send>>;

pin_project! {
    /// Response future of [`Cimd`](super::Cimd).
    pub struct ResponseFuture<S, ReqBody, ResBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody, ResBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, ResBody>
    where
        S: Service<Request<ReqBody>>,
    {
        // Decided: the inner service's future, or a ready denial.
        Decided { #[pin] future: LayerFuture<S::Future, ResBody> },
        // The network path: the document is being fetched.
        Resolving {
            resolving: Resolving,
            request: Option<Request<ReqBody>>,
            service: Option<S>,
            shared: Arc<Shared>,
        },
    }
}

impl<S, ReqBody, ResBody> ResponseFuture<S, ReqBody, ResBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(super) fn decided(future: LayerFuture<S::Future, ResBody>) -> Self {
        Self {
            state: State::Decided { future },
        }
    }

    pub(super) fn resolving(
        resolving: Resolving,
        request: Request<ReqBody>,
        service: S,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            state: State::Resolving {
                resolving,
                request: Some(request),
                service: Some(service),
                shared,
            },
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody, ResBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<AuthBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Decided { future } => return future.poll(cx),
                StateProj::Resolving {
                    resolving,
                    request,
                    service,
                    shared,
                } => {
                    let outcome = ready!(resolving.as_mut().poll(cx));
                    let mut request = request
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let future = match outcome {
                        Ok(admission) => {
                            admit(&mut request, admission);
                            let mut service = service
                                .take()
                                .expect("ResponseFuture polled after completion");
                            LayerFuture::inner(service.call(request))
                        }
                        Err(error) => LayerFuture::ready(shared.render(&error, request.headers())),
                    };
                    State::Decided { future }
                }
            };
            this.state.set(next);
        }
    }
}
