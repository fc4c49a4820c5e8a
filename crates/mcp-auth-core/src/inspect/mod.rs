//! Reads the MCP (JSON-RPC) content of a request once, for every layer that authorises by it.
//!
//! [`McpInspectLayer`] buffers the body of a `POST` (up to a limit), parses it as a single
//! JSON-RPC message or a batch, stores the resulting [`McpRequest`] in the request extensions and
//! hands the inner service a body with exactly the bytes that arrived. Other requests (`GET` for
//! an SSE stream, `DELETE` to end a session, gRPC calls) pass through without being read. A
//! request that already carries an [`McpRequest`] is not read again.
//!
//! Authorisation reads the body, never the `Mcp-Method` / `Mcp-Name` headers: a client can omit or
//! forge those.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use mcp_auth_core::inspect::{McpInspectLayer, McpRequest, Target};
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
mod message;
mod service;

pub use future::ResponseFuture;
pub use layer::{InspectLimits, McpInspectLayer};
pub use message::{McpMessage, McpRequest, MessageKind, Target};
pub use service::McpInspect;
