//! The one response future of mcp-auth's layers.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::{AuthBody, Rejection};

pin_project! {
    /// Response future of every mcp-auth layer that decides before calling its inner service.
    ///
    /// It calls the inner service (`call`), answers with a response mcp-auth produced (`reject`,
    /// `respond`), or first awaits an asynchronous decision `D` (keys being fetched, a client
    /// document, a request body being read) that yields the request to pass on or a rejection.
    /// While deciding it holds the inner service that was polled ready (the clone-and-swap
    /// idiom) and calls it exactly once.
    pub struct AuthFuture<S, R, D = Undecided<R>>
    where
        S: Service<R>,
    {
        #[pin]
        state: State<S, R, D>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, R, D>
    where
        S: Service<R>,
    {
        Deciding { #[pin] decision: D, service: Option<S> },
        Calling { #[pin] future: S::Future },
        Answered { response: Option<Response<Bytes>> },
    }
}

impl<S, R, D> AuthFuture<S, R, D>
where
    S: Service<R>,
{
    /// Waits for the inner service's response.
    pub fn call(future: S::Future) -> Self {
        Self {
            state: State::Calling { future },
        }
    }

    /// Answers with `rejection` without calling the inner service.
    pub fn reject(rejection: Rejection) -> Self {
        Self::respond(rejection.into())
    }

    /// Answers with a response mcp-auth built (e.g. the metadata document).
    pub fn respond(response: Response<Bytes>) -> Self {
        Self {
            state: State::Answered {
                response: Some(response),
            },
        }
    }

    /// Awaits `decision`, then calls `ready` (the instance of the inner service that was polled
    /// ready) with the request it yields, or answers with its rejection.
    pub fn decide(decision: D, ready: S) -> Self {
        Self {
            state: State::Deciding {
                decision,
                service: Some(ready),
            },
        }
    }
}

impl<S, R, D, B> Future for AuthFuture<S, R, D>
where
    S: Service<R, Response = Response<B>>,
    D: Future<Output = Result<R, Rejection>>,
{
    type Output = Result<Response<AuthBody<B>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    return Poll::Ready(ready!(future.poll(cx)).map(|r| r.map(AuthBody::inner)));
                }
                StateProj::Answered { response } => {
                    let response = response.take().expect("AuthFuture polled after completion");
                    return Poll::Ready(Ok(response.map(AuthBody::full)));
                }
                StateProj::Deciding { decision, service } => match ready!(decision.poll(cx)) {
                    Ok(request) => {
                        let mut service =
                            service.take().expect("AuthFuture polled after completion");
                        State::Calling {
                            future: service.call(request),
                        }
                    }
                    Err(rejection) => State::Answered {
                        response: Some(rejection.into()),
                    },
                },
            };
            this.state.set(next);
        }
    }
}

/// The decision of a layer that always decides synchronously: never constructed.
pub struct Undecided<R> {
    never: Infallible,
    _request: PhantomData<fn() -> R>,
}

impl<R> Future for Undecided<R> {
    type Output = Result<R, Rejection>;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.never {}
    }
}

impl<R> std::fmt::Debug for Undecided<R> {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.never {}
    }
}

/// Takes the inner service that was polled ready out of a middleware, leaving a clone behind
/// (tower's clone-and-swap idiom): the returned instance is the one to call.
pub fn take_ready<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}
