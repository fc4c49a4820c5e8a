use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::BoxError;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Response, header};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::ListFilter;

pin_project! {
    /// A response body that filters list answers as they stream, or passes the body through.
    ///
    /// JSON bodies are collected (up to the listing limit) and filtered once complete; SSE bodies
    /// are filtered event by event as each event completes, so streaming is preserved.
    pub struct ListFilterBody<B> {
        #[pin]
        inner: B,
        state: State,
    }
}

enum State {
    Pass,
    Json(Box<Collecting>),
    Sse(Box<Collecting>),
}

struct Collecting {
    filter: Arc<ListFilter>,
    buffer: BytesMut,
    trailers: Option<HeaderMap>,
    inner_done: bool,
    flushed: bool,
}

impl<B> ListFilterBody<B> {
    /// Wraps `response`'s body, filtering when `filter` is set and the body is a successful JSON
    /// or SSE answer.
    pub fn wrap(response: Response<B>, filter: Option<Arc<ListFilter>>) -> Response<Self> {
        let (mut parts, inner) = response.into_parts();
        let media = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let state = match filter {
            Some(filter) if parts.status.is_success() => {
                let collecting = || {
                    Box::new(Collecting {
                        filter,
                        buffer: BytesMut::new(),
                        trailers: None,
                        inner_done: false,
                        flushed: false,
                    })
                };
                if media == "application/json" {
                    parts.headers.remove(header::CONTENT_LENGTH);
                    State::Json(collecting())
                } else if media == "text/event-stream" {
                    parts.headers.remove(header::CONTENT_LENGTH);
                    State::Sse(collecting())
                } else {
                    State::Pass
                }
            }
            _ => State::Pass,
        };
        Response::from_parts(parts, Self { inner, state })
    }
}

impl<B> Body for ListFilterBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let mut inner = this.inner;
        let (collecting, sse) = match this.state {
            State::Pass => {
                return inner
                    .poll_frame(cx)
                    .map(|f| f.map(|r| r.map_err(Into::into)));
            }
            State::Json(c) => (c, false),
            State::Sse(c) => (c, true),
        };
        loop {
            if sse && let Some(events) = take_complete_events(collecting) {
                return Poll::Ready(Some(Ok(Frame::data(events))));
            }
            if collecting.inner_done {
                if !collecting.flushed {
                    collecting.flushed = true;
                    let rest = collecting.buffer.split().freeze();
                    let out = if sse || rest.is_empty() {
                        rest
                    } else {
                        collecting
                            .filter
                            .filter_json(&rest)
                            .map(Bytes::from)
                            .unwrap_or(rest)
                    };
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(out))));
                    }
                }
                return Poll::Ready(collecting.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            match inner.as_mut().poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => collecting.inner_done = true,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        collecting.buffer.extend_from_slice(&data);
                        if collecting.buffer.len() > collecting.filter.max_bytes()
                            && (!sse || find_boundary(&collecting.buffer).is_none())
                        {
                            return Poll::Ready(Some(Err(format!(
                                "listing larger than {} bytes: refusing to pass it on unfiltered",
                                collecting.filter.max_bytes()
                            )
                            .into())));
                        }
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            collecting.trailers = Some(trailers);
                        }
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Pass => self.inner.is_end_stream(),
            State::Json(c) | State::Sse(c) => c.inner_done && c.flushed && c.trailers.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            State::Pass => self.inner.size_hint(),
            _ => SizeHint::default(),
        }
    }
}

/// Removes every complete SSE event from the buffer, filters each, and returns them together.
fn take_complete_events(collecting: &mut Collecting) -> Option<Bytes> {
    let mut out = BytesMut::new();
    while let Some((end, separator)) = find_boundary(&collecting.buffer) {
        let event = collecting.buffer.split_to(end + separator);
        let body = &event[..end];
        match collecting.filter.filter_event(body) {
            Some(filtered) => {
                out.extend_from_slice(&filtered);
                out.extend_from_slice(b"\n");
            }
            None => out.extend_from_slice(&event),
        }
    }
    (!out.is_empty()).then(|| out.freeze())
}

/// Where the first event ends, and the length of the blank-line separator after it.
fn find_boundary(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i + 1, 1));
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i + 2, 2));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}
