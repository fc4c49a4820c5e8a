//! The on-behalf-of layer: an [`OnBehalfOf`](crate::OnBehalfOf) handle in the extensions of
//! every request with a verified caller, and the failures handlers propagate rendered as the
//! right status.
//!
//! Bodies: the request goes on as it came (`Request<B>` in, `Request<B>` to the inner service);
//! the response is `Response<AuthBody<ResBody>>`, the inner body untouched or a denial.
//!
//! Place it inside the verification layer (it needs the [`Principal`](mcp_auth_core::Principal)
//! that layer puts in the extensions). It exchanges nothing by itself; a handler that calls a
//! downstream API asks the handle for a token.
//!
//! | what the handler does | response |
//! |---|---|
//! | nothing with the handle, or handles failures itself | the handler's response |
//! | propagates a failure (`get_token_or_deny`, or `deny`) whose cause is the caller's token refused by the authorization server (`invalid_grant`) | 401, `WWW-Authenticate: Bearer error="invalid_token", resource_metadata="…"` |
//! | … the target or scopes refused (`invalid_target`, `invalid_scope`), or a narrowed grant required in full | 403 (no challenge) |
//! | … the authorization server unreachable, failing, or being backed off from | 503 with `Retry-After` |
//! | … this server's own client misconfigured, or an invalid answer | 503 with `Retry-After` |
//!
//! A request without a verified caller gets no handle (and loses any it arrived with), so a
//! handler finds `None` and can say so; nothing panics. gRPC requests get trailers-only
//! responses (`grpc-status` 16, 7 or 14).
//!
//! The layer replaces the response after the inner service answers, so the handler must have
//! propagated before the response is produced: true for axum handlers and for rmcp's
//! Streamable HTTP service in JSON-response mode. With a streamed (SSE) response the status is
//! already sent when the tool runs; report the failure inside the stream instead.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use mcp_auth_core::{BearerToken, Principal, ResourceId};
//! use mcp_auth_fetch::FetchPolicy;
//! use mcp_auth_obo::{ClientAuth, ExchangeRequest, OboLayer, OnBehalfOf, TokenExchangeClient};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Nothing listens on port 1: the authorization server is unreachable.
//! let client = TokenExchangeClient::builder(ClientAuth::client_secret_basic("mcp", "secret"))
//!     .token_endpoint("http://127.0.0.1:1/token")
//!     .fetch_policy(FetchPolicy::default().allow_loopback(true))
//!     .build()
//!     .unwrap();
//! let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
//!
//! let service = ServiceBuilder::new()
//!     .layer(OboLayer::new(client, &resource))
//!     .service_fn(|req: Request<Full<Bytes>>| async move {
//!         let Some(obo) = OnBehalfOf::from_extensions(req.extensions()) else {
//!             return Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::from("no caller")));
//!         };
//!         let request = ExchangeRequest::audience("https://api.example.com").scope("orders:read");
//!         match obo.get_token_or_deny(request).await {
//!             Ok(_token) => Ok(Response::new(Full::<Bytes>::from("called the API"))),
//!             // The layer turns the propagated failure into the response.
//!             Err(_) => Ok(Response::new(Full::default())),
//!         }
//!     });
//!
//! let caller = Principal::builder("https://as.example.com", "alice", BearerToken::new("t"))
//!     .expires_at(4_102_444_800)
//!     .build();
//! let mut request = Request::new(Full::default());
//! request.extensions_mut().insert(caller);
//! let response = service.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 503);
//! assert!(response.headers().contains_key("retry-after"));
//!
//! let response = service.oneshot(Request::new(Full::default())).await.unwrap();
//! assert_eq!(response.status(), 200); // "no caller": no handle without a verified principal
//! # }
//! ```

mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::OboLayer;
pub use service::Obo;
