//! Reads the MCP (JSON-RPC) content of a request once, for every layer that authorises by it.
//!
//! [`McpInspectLayer`] buffers the body of a `POST` (up to a limit), parses it as a single
//! JSON-RPC message or a batch, stores the resulting [`McpRequest`](crate::mcp::McpRequest) in the request extensions and
//! hands the inner service a body with exactly the bytes that arrived. Other requests (`GET` for
//! an SSE stream, `DELETE` to end a session, gRPC calls) pass through without being read. A
//! request that already carries an [`McpRequest`](crate::mcp::McpRequest) is not read again.
//!
//! Bodies: for a server whose requests are `Request<B>`, the inner service receives
//! `Request<AuthBody<B>>` (the buffered bytes, or `B` untouched when nothing was read). It is the
//! one place a stack changes the request body type, so behind a whole stack it is the same.
//!
//! Authorisation reads the body, never the `Mcp-Method` / `Mcp-Name` headers: a client can omit or
//! forge those. On protocol versions that mirror them (`MCP-Protocol-Version` 2026-07-28 and later)
//! the inspector checks them against the body, so that anything routing by them sees the truth: a
//! missing or different header is `400` with the JSON-RPC error `-32020` (`HeaderMismatch`), see
//! [`check_mirrored_headers`](crate::mcp::check_mirrored_headers).
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use mcp_auth_core::mcp::{McpRequest, Target};
//! use mcp_auth_core::middleware::inspect::McpInspectLayer;
//! use mcp_auth_core::AuthBody;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let service = ServiceBuilder::new()
//!     .layer(McpInspectLayer::new())
//!     .service_fn(|req: Request<AuthBody<Full<Bytes>>>| async move {
//!         let mcp = req.extensions().get::<McpRequest>().unwrap();
//!         let tool = mcp.messages()[0].target().map(Target::name).unwrap_or("-").to_owned();
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(tool))))
//!     });
//!
//! let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}"#;
//! let request = Request::post("/mcp").body(Full::new(Bytes::from(body))).unwrap();
//! let response = service.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//!
//! let request = Request::post("/mcp").body(Full::new(Bytes::from("not json"))).unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 400);
//! # }
//! ```

mod future;
mod layer;
mod service;

pub use future::{ReadBody, ResponseFuture};
pub use layer::McpInspectLayer;
pub use service::{McpInspect, awaits_inspection};

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use bytes::Bytes;
    use http::{Request, Response};
    use http_body::{Body, Frame};
    use http_body_util::{BodyExt, Full};
    use tower::{ServiceBuilder, ServiceExt};

    use super::*;
    use crate::AuthBody;
    use crate::mcp::{InspectLimits, McpRequest};

    /// A body that sends a few bytes and then never ends.
    struct Endless(bool);

    impl Body for Endless {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            if self.0 {
                return Poll::Pending;
            }
            self.0 = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"{\"jsonrpc\":")))))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_never_ends_gets_408() {
        let svc = ServiceBuilder::new()
            .layer(McpInspectLayer::with_limits(
                InspectLimits::default().read_timeout(Duration::from_secs(5)),
            ))
            .service_fn(|_req: Request<AuthBody<Endless>>| async {
                Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
            });
        let response = svc
            .oneshot(Request::post("/mcp").body(Endless(false)).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 408);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(
            std::str::from_utf8(&body)
                .unwrap()
                .contains("did not arrive within 5 s")
        );
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_before_reading() {
        let svc = ServiceBuilder::new()
            .layer(McpInspectLayer::with_limits(
                InspectLimits::default().max_body_bytes(10),
            ))
            .service_fn(|_req: Request<AuthBody<Endless>>| async {
                Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
            });
        let request = Request::post("/mcp")
            .header("content-length", "1000000")
            .body(Endless(false))
            .unwrap();
        assert_eq!(svc.oneshot(request).await.unwrap().status(), 413);
    }

    /// The inner service answers with whether it saw an `McpRequest` and the body it received.
    async fn in_front_of_verification(
        request: Request<Full<Bytes>>,
    ) -> Response<AuthBody<Full<Bytes>>> {
        let svc = ServiceBuilder::new()
            .layer(
                McpInspectLayer::with_limits(
                    InspectLimits::default().max_credential_less_bytes(48),
                )
                .in_front_of_verification(),
            )
            .service_fn(|req: Request<AuthBody<Full<Bytes>>>| async move {
                let inspected = req.extensions().get::<McpRequest>().is_some();
                let body = req.into_body().collect().await.unwrap().to_bytes();
                let text = format!("{inspected} {}", String::from_utf8_lossy(&body));
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
            });
        svc.oneshot(request).await.unwrap()
    }

    async fn text(response: Response<AuthBody<Full<Bytes>>>) -> String {
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn without_credentials_a_bad_body_is_handed_on_for_verification_to_answer() {
        for (body, expected) in [
            ("{}", "false {}"),
            ("not json", "false not json"),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
                r#"true {"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            ),
            // Over the credential-less bound: not read on, handed on empty.
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"long"}}"#,
                "false ",
            ),
        ] {
            let request = Request::post("/mcp")
                .body(Full::new(Bytes::from(body)))
                .unwrap();
            let response = in_front_of_verification(request).await;
            assert_eq!(response.status(), 200, "{body}");
            assert_eq!(text(response).await, expected);
        }
    }

    #[tokio::test]
    async fn with_credentials_a_bad_body_is_still_refused() {
        let request = Request::post("/mcp")
            .header("authorization", "Bearer abc")
            .body(Full::new(Bytes::from("{}")))
            .unwrap();
        assert_eq!(in_front_of_verification(request).await.status(), 400);
        let request = Request::post("/mcp")
            .header("authorization", "Bearer abc")
            .body(Full::new(Bytes::from(
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"long"}}"#,
            )))
            .unwrap();
        let response = in_front_of_verification(request).await;
        assert_eq!(response.status(), 200);
        assert!(text(response).await.starts_with("true "));
    }

    #[tokio::test]
    async fn the_inner_service_receives_the_identical_body() {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"é":"\u00e9"}}}"#;
        let svc = ServiceBuilder::new()
            .layer(McpInspectLayer::new())
            .service_fn(|req: Request<AuthBody<Full<Bytes>>>| async move {
                let bytes = req.into_body().collect().await.unwrap().to_bytes();
                Ok::<_, Infallible>(Response::new(Full::new(bytes)))
            });
        let response = svc
            .oneshot(
                Request::post("/mcp")
                    .body(Full::new(Bytes::from(body)))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            response.into_body().collect().await.unwrap().to_bytes(),
            body
        );
    }
}
