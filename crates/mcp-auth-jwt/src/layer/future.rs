use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use mcp_auth_core::record::RequestRecord;
use mcp_auth_core::{AuthBody, AuthError, Principal};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::layer::Shared;

type Verifying = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send>>;

pin_project! {
    /// Response future of [`Verify`](super::Verify).
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Verifying {
            verifying: Verifying,
            request: Option<Request<ReqBody>>,
            service: Option<S>,
            shared: Arc<Shared>,
        },
        Calling { #[pin] future: S::Future },
        Rejected { response: Option<(AuthError, http::HeaderMap, http::Extensions)>, shared: Arc<Shared> },
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(super) fn call(future: S::Future) -> Self {
        Self {
            state: State::Calling { future },
        }
    }

    pub(super) fn rejected(
        error: AuthError,
        request: &Request<ReqBody>,
        shared: Arc<Shared>,
    ) -> Self {
        let parts = (
            error,
            request.headers().clone(),
            request.extensions().clone(),
        );
        Self {
            state: State::Rejected {
                response: Some(parts),
                shared,
            },
        }
    }

    pub(super) fn verifying(
        verifying: Verifying,
        request: Request<ReqBody>,
        service: S,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            state: State::Verifying {
                verifying,
                request: Some(request),
                service: Some(service),
                shared,
            },
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<AuthBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    return Poll::Ready(ready!(future.poll(cx)).map(|r| r.map(AuthBody::inner)));
                }
                StateProj::Rejected { response, shared } => {
                    let (error, headers, extensions) = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(shared.render(error, &headers, &extensions)));
                }
                StateProj::Verifying {
                    verifying,
                    request,
                    service,
                    shared,
                } => {
                    let outcome = ready!(verifying.as_mut().poll(cx));
                    let mut request = request
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match outcome {
                        Ok(principal) => {
                            RequestRecord::update_in(request.extensions(), |r| {
                                r.principal = Some(principal.clone());
                            });
                            request.extensions_mut().insert(principal);
                            let mut service = service
                                .take()
                                .expect("ResponseFuture polled after completion");
                            State::Calling {
                                future: service.call(request),
                            }
                        }
                        Err(error) => State::Rejected {
                            response: Some((
                                error,
                                request.headers().clone(),
                                request.extensions().clone(),
                            )),
                            shared: shared.clone(),
                        },
                    }
                }
            };
            this.state.set(next);
        }
    }
}
