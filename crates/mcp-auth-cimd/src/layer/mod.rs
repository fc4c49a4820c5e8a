//! The client identity layer: the verified token's client id → [`ClientInfo`](crate::ClientInfo)
//! in the request extensions, or a denial.
//!
//! Bodies: the request goes on as it came (`Request<B>` in, `Request<B>` to the inner service);
//! the response is `Response<AuthBody<ResBody>>`, the inner body untouched or a denial.
//!
//! It sits inside the verification layer (`VerifyLayer`), which puts the
//! [`Principal`](mcp_auth_core::Principal) it reads in the extensions. The client id is the
//! token's `client_id`, else its `azp`.
//!
//! | request | response |
//! |---|---|
//! | a document client the [`ClientPolicy`](crate::ClientPolicy) admits | the inner service, with [`ClientInfo`](crate::ClientInfo) in the extensions |
//! | an admitted pre-registered (non-URL) client | the inner service |
//! | a client the policy refuses, an invalid client id URL, an invalid document, a document behind a refused address or a redirect | 403 `access_denied` with a precise description |
//! | a document that cannot be fetched now (timeout, connection failure, 5xx) | 503 with `Retry-After`, never a silent allow |
//! | no `Principal` (the layer is misplaced) or a token naming no client | 403 `access_denied` |
//!
//! Place it inside the verification layer and outside scope enforcement, so a refused client
//! is refused whatever it asks for, and handlers below see the admitted [`ClientInfo`](crate::ClientInfo).
//!
//! A cached client is decided synchronously in `call`; only a cache miss fetches, and
//! concurrent requests of one client share that fetch. Admitted requests also fill the
//! [`RequestRecord`](mcp_auth_core::record::RequestRecord), when an audit layer put one there.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Empty;
//! use mcp_auth_cimd::{CimdLayer, ClientAllowList, ClientPolicy, ClientResolver, PreRegisteredClients};
//! use mcp_auth_core::{BearerToken, Principal, Rejector};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let policy = ClientPolicy::allow_list(ClientAllowList::new().host("app.example.com"))
//!     .pre_registered(PreRegisteredClients::only(["batch-job"]));
//! let layer = CimdLayer::new(ClientResolver::builder().build().unwrap(), policy)
//!     .rejector(Rejector::new("https://mcp.example.com/.well-known/oauth-protected-resource/mcp"));
//! let service = ServiceBuilder::new()
//!     .layer(layer)
//!     .service_fn(|_req: Request<Empty<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Empty::<Bytes>::new()))
//!     });
//!
//! // What the verification layer would have put in the extensions.
//! let request = |client_id: &str| {
//!     let principal = Principal::builder("https://auth.example.com", "alice", BearerToken::new("t"))
//!         .client_id(client_id)
//!         .build();
//!     let mut request = Request::post("/mcp").body(Empty::new()).unwrap();
//!     request.extensions_mut().insert(principal);
//!     request
//! };
//!
//! let response = service.clone().oneshot(request("batch-job")).await.unwrap();
//! assert_eq!(response.status(), 200);
//!
//! let response = service.clone().oneshot(request("someone-else")).await.unwrap();
//! assert_eq!(response.status(), 403);
//!
//! // Not on the list: refused before its document is fetched.
//! let response = service.oneshot(request("https://elsewhere.example/client.json")).await.unwrap();
//! assert_eq!(response.status(), 403);
//! # }
//! ```

mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use future::{Resolving, ResponseFuture};
pub use layer::CimdLayer;
pub use service::Cimd;
