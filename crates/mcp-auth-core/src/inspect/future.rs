use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, request};
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{LengthLimitError, Limited};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::{InspectLimits, McpRequest};
use crate::record::RequestRecord;
use crate::{AuthBody, AuthError, BoxError};

pin_project! {
    /// Response future of [`McpInspect`](super::McpInspect).
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<AuthBody<ReqBody>>>,
        ReqBody: Body,
        ReqBody::Error: Into<BoxError>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<AuthBody<ReqBody>>>,
        ReqBody: Body,
        ReqBody::Error: Into<BoxError>,
    {
        Collecting {
            #[pin]
            collect: Collect<Limited<ReqBody>>,
            // Armed only when the body is not all there at the first poll: most are, and they
            // cost no timer.
            deadline: Option<Pin<Box<tokio::time::Sleep>>>,
            parts: Option<request::Parts>,
            service: Option<S>,
            limits: InspectLimits,
            // Failures hand the request on uninspected (verification answers it 401).
            credential_less: bool,
        },
        Inner { #[pin] future: S::Future },
        Rejected { error: Option<AuthError>, grpc: bool },
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<AuthBody<ReqBody>>>,
    ReqBody: Body,
    ReqBody::Error: Into<BoxError>,
{
    pub(super) fn inner(future: S::Future) -> Self {
        Self {
            state: State::Inner { future },
        }
    }

    pub(super) fn rejected(error: AuthError, headers: &HeaderMap) -> Self {
        Self {
            state: State::Rejected {
                error: Some(error),
                grpc: crate::is_grpc(headers),
            },
        }
    }

    pub(super) fn collecting(
        collect: Collect<Limited<ReqBody>>,
        parts: request::Parts,
        service: S,
        limits: InspectLimits,
        credential_less: bool,
    ) -> Self {
        Self {
            state: State::Collecting {
                deadline: None,
                collect,
                parts: Some(parts),
                service: Some(service),
                limits,
                credential_less,
            },
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<AuthBody<ReqBody>>, Response = Response<ResBody>>,
    ReqBody: Body<Data = Bytes>,
    ReqBody::Error: Into<BoxError>,
{
    type Output = Result<Response<AuthBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Inner { future } => {
                    return Poll::Ready(ready!(future.poll(cx)).map(|r| r.map(AuthBody::inner)));
                }
                StateProj::Rejected { error, grpc } => {
                    let error = error
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let response = if *grpc {
                        error.to_grpc_response("")
                    } else {
                        error.to_http_response("")
                    };
                    return Poll::Ready(Ok(response));
                }
                StateProj::Collecting {
                    collect,
                    deadline,
                    parts,
                    service,
                    limits,
                    credential_less,
                } => {
                    let collected = match collect.poll(cx) {
                        Poll::Ready(collected) => Some(collected),
                        Poll::Pending => {
                            let deadline = deadline.get_or_insert_with(|| {
                                Box::pin(tokio::time::sleep(limits.read_timeout))
                            });
                            ready!(deadline.as_mut().poll(cx));
                            None
                        }
                    };
                    let mut parts = parts
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let mut read_whole = None;
                    let outcome = match collected {
                        None => Err(AuthError::new(
                            crate::AuthErrorKind::RequestTimeout,
                            "body_timeout",
                            format!(
                                "the request body did not arrive within {} s",
                                limits.read_timeout.as_secs_f32()
                            ),
                        )),
                        Some(Ok(collected)) => {
                            let bytes = collected.to_bytes();
                            read_whole = Some(bytes.clone());
                            McpRequest::parse(&bytes, limits).map(|mcp| (mcp, bytes))
                        }
                        Some(Err(e)) if e.is::<LengthLimitError>() => {
                            Err(AuthError::payload_too_large(limits.max_body_bytes))
                        }
                        Some(Err(e)) => Err(AuthError::bad_request(
                            "body_unreadable",
                            format!("failed to read the request body: {e}"),
                        )),
                    };
                    let body = match outcome {
                        Ok((mcp, bytes)) => {
                            RequestRecord::update_in(&parts.extensions, |r| {
                                r.mcp = Some(mcp.clone())
                            });
                            parts.extensions.insert(mcp);
                            Ok(AuthBody::full(bytes))
                        }
                        Err(_) if *credential_less => {
                            Ok(read_whole.map_or_else(AuthBody::empty, AuthBody::full))
                        }
                        Err(error) => Err(error),
                    };
                    match body {
                        Ok(body) => {
                            let mut service = service
                                .take()
                                .expect("ResponseFuture polled after completion");
                            State::Inner {
                                future: service.call(Request::from_parts(parts, body)),
                            }
                        }
                        Err(error) => State::Rejected {
                            grpc: crate::is_grpc(&parts.headers),
                            error: Some(error),
                        },
                    }
                }
            };
            this.state.set(next);
        }
    }
}
