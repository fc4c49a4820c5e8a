//! Reading the request body: the inspector's asynchronous decision.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, request};
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pin_project_lite::pin_project;

use crate::mcp::{InspectLimits, McpRequest};
use crate::record::RequestRecord;
use crate::{AuthBody, AuthError, AuthFuture, BoxError, Rejection, Rejector};

/// Response future of [`McpInspect`](super::McpInspect).
pub type ResponseFuture<S, ReqBody> = AuthFuture<S, Request<AuthBody<ReqBody>>, ReadBody<ReqBody>>;

pin_project! {
    /// Reads a request body within the limits and parses it, yielding the request with its
    /// [`McpRequest`] and the identical bytes, or the rejection.
    pub struct ReadBody<B>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        #[pin]
        collect: Collect<Limited<B>>,
        // Armed only when the body is not all there at the first poll: most are, and they
        // cost no timer.
        deadline: Option<Pin<Box<tokio::time::Sleep>>>,
        parts: Option<request::Parts>,
        limits: InspectLimits,
        // Failures hand the request on uninspected (verification answers it 401).
        credential_less: bool,
        rejector: Rejector,
    }
}

impl<B> ReadBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    pub(super) fn new(
        request: Request<B>,
        limit: usize,
        limits: InspectLimits,
        credential_less: bool,
        rejector: Rejector,
    ) -> Self {
        let (parts, body) = request.into_parts();
        Self {
            collect: Limited::new(body, limit).collect(),
            deadline: None,
            parts: Some(parts),
            limits,
            credential_less,
            rejector,
        }
    }
}

impl<B> Future for ReadBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Output = Result<Request<AuthBody<B>>, Rejection>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let collected = match this.collect.poll(cx) {
            Poll::Ready(collected) => Some(collected),
            Poll::Pending => {
                let limits = *this.limits;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limits.read_timeout)));
                std::task::ready!(deadline.as_mut().poll(cx));
                None
            }
        };
        let mut parts = this.parts.take().expect("ReadBody polled after completion");
        let mut read_whole = None;
        let outcome = match collected {
            None => Err(AuthError::new(
                crate::AuthErrorKind::RequestTimeout,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    this.limits.read_timeout.as_secs_f32()
                ),
            )),
            Some(Ok(collected)) => {
                let bytes = collected.to_bytes();
                read_whole = Some(bytes.clone());
                McpRequest::parse_bytes(bytes.clone(), this.limits)
                    .and_then(|mcp| {
                        crate::mcp::check_mirrored_headers(&parts.headers, &mcp).map(|()| mcp)
                    })
                    .map(|mcp| (mcp, bytes))
            }
            Some(Err(e)) if e.is::<LengthLimitError>() => {
                Err(AuthError::payload_too_large(this.limits.max_body_bytes))
            }
            Some(Err(e)) => Err(AuthError::bad_request(
                "body_unreadable",
                format!("failed to read the request body: {e}"),
            )),
        };
        let body = match outcome {
            Ok((mcp, bytes)) => {
                RequestRecord::update_in(&parts.extensions, |r| r.mcp = Some(mcp.clone()));
                parts.extensions.insert(mcp);
                AuthBody::full(bytes)
            }
            Err(_) if *this.credential_less => {
                read_whole.map_or_else(AuthBody::empty, AuthBody::full)
            }
            Err(error) => return Poll::Ready(Err(this.rejector.reject(error, &parts.headers))),
        };
        Poll::Ready(Ok(Request::from_parts(parts, body)))
    }
}
