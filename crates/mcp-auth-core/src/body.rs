//! The one body type mcp-auth layers produce.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// Either a body passed through untouched, or a complete body that mcp-auth built.
    ///
    /// Layers answer with [`AuthBody::full`] when they respond themselves (an error document, the
    /// metadata document) and wrap the inner service's body otherwise, so a layer stays generic
    /// over the bodies of the service it protects. The request inspector uses it the same way for
    /// request bodies: a buffered body is handed on as `Full`, identical to what arrived.
    #[project = AuthBodyProj]
    #[allow(missing_docs)] // variant fields; documented on the variants
    pub enum AuthBody<B> {
        /// The wrapped body.
        Inner { #[pin] body: B },
        /// A complete body, yielded as one frame (`data` is what has not been yielded yet).
        Full { data: Option<Bytes> },
    }
}

impl<B> AuthBody<B> {
    /// Wraps a body.
    pub fn inner(body: B) -> Self {
        Self::Inner { body }
    }

    /// A complete body.
    pub fn full(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        Self::Full {
            data: (!data.is_empty()).then_some(data),
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::Full { data: None }
    }
}

impl<B: Default> Default for AuthBody<B> {
    fn default() -> Self {
        Self::inner(B::default())
    }
}

impl<B> Body for AuthBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project() {
            AuthBodyProj::Inner { body } => body.poll_frame(cx),
            AuthBodyProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Inner { body } => body.is_end_stream(),
            Self::Full { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Inner { body } => body.size_hint(),
            Self::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};

    #[tokio::test]
    async fn full_yields_its_bytes_once() {
        let body: AuthBody<Full<Bytes>> = AuthBody::full("hello");
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!body.is_end_stream());
        assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
        assert!(AuthBody::<Full<Bytes>>::empty().is_end_stream());
    }

    #[tokio::test]
    async fn inner_passes_through() {
        let body = AuthBody::inner(Full::new(Bytes::from_static(b"inner")));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "inner");
    }
}
