//! The verification layer: `Authorization: Bearer` → [`Principal`](mcp_auth_core::Principal) in
//! the request extensions, or a denial with the right challenge.
//!
//! Bodies: the request goes on as it came (`Request<B>` in, `Request<B>` to the inner service);
//! the response is `Response<AuthBody<ResBody>>`, the inner body untouched or a denial.
//!
//! | request | response |
//! |---|---|
//! | no token | 401, `WWW-Authenticate: Bearer resource_metadata="…", scope="…"` (no `error`) |
//! | a token that fails any rule | 401, `error="invalid_token"` with a precise `error_description` |
//! | token in the query string, two credentials | 400, `error="invalid_request"` |
//! | the issuer's keys cannot be obtained | 503 with `Retry-After` |
//! | a valid token | the inner service, with the `Principal` in the extensions |
//!
//! Requests with `content-type: application/grpc*` get trailers-only gRPC responses instead
//! (`grpc-status` 16, 3 or 14, with the same challenge in `www-authenticate`).
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Empty;
//! use mcp_auth_core::{Principal, ResourceId};
//! use mcp_auth_jwt::{IssuerConfig, Verifier, VerifyLayer};
//! use mcp_auth_testing::MockIssuer;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let issuer = MockIssuer::builder().audience("https://mcp.example.com/mcp").start().await;
//! let verifier = Verifier::builder(ResourceId::parse("https://mcp.example.com/mcp").unwrap())
//!     .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
//!     .build()
//!     .unwrap();
//!
//! let service = ServiceBuilder::new()
//!     .layer(VerifyLayer::new(verifier))
//!     .service_fn(|req: Request<Empty<Bytes>>| async move {
//!         let who = req.extensions().get::<Principal>().unwrap().subject().to_owned();
//!         Ok::<_, std::convert::Infallible>(Response::new(Empty::<Bytes>::new()))
//!     });
//!
//! let token = issuer.token().subject("alice").sign();
//! let request = Request::post("/mcp")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(Empty::new())
//!     .unwrap();
//! assert_eq!(service.clone().oneshot(request).await.unwrap().status(), 200);
//!
//! let request = Request::post("/mcp").body(Empty::new()).unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 401);
//! assert!(response.headers()["www-authenticate"].to_str().unwrap().contains("resource_metadata="));
//! # }
//! ```

mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use future::{ResponseFuture, Verifying};
pub use layer::VerifyLayer;
pub use service::Verify;
