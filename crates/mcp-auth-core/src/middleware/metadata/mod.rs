//! RFC 9728 protected-resource metadata, served unauthenticated.
//!
//! [`MetadataLayer`] answers `GET` (and `HEAD`, and CORS preflight `OPTIONS`) at the resource's
//! path-suffixed well-known URL — for `https://host/mcp`, that is
//! `/.well-known/oauth-protected-resource/mcp` — and at the root
//! `/.well-known/oauth-protected-resource`, with `Access-Control-Allow-Origin: *` so browser
//! clients can read it. Other paths under the well-known prefix get 404 (clients fall back on 4xx);
//! everything else goes to the inner service. Place it outside the verification layer: clients
//! fetch the document before they have a token.
//!
//! Every URL in the document comes from configuration, never from the `Host` header.
//!
//! A router that decides what reaches middleware (axum's `route_layer`, a `merge` after `layer`,
//! `nest`) may never hand the well-known paths to this layer. Mount the document as routes of
//! their own there: [`MetadataLayer::service`] at each of [`MetadataLayer::paths`] (the facade's
//! `McpAuthLayer::metadata_router` does it for axum).
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Empty;
//! use mcp_auth_core::metadata::ProtectedResourceMetadata;
//! use mcp_auth_core::middleware::metadata::MetadataLayer;
//! use mcp_auth_core::ResourceId;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
//! let metadata = ProtectedResourceMetadata::builder(&resource)
//!     .authorization_server("https://auth.example.com")
//!     .scopes_supported(["files:read", "files:write"])
//!     .build()
//!     .unwrap();
//!
//! let service = ServiceBuilder::new()
//!     .layer(MetadataLayer::new(metadata))
//!     .service_fn(|_req: Request<Empty<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Empty::<Bytes>::new()))
//!     });
//!
//! let request = Request::get("/.well-known/oauth-protected-resource/mcp")
//!     .body(Empty::new())
//!     .unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["access-control-allow-origin"], "*");
//! # }
//! ```

mod layer;
mod service;

pub use layer::MetadataLayer;
pub use service::{Metadata, MetadataService};

/// The response future of [`Metadata`].
pub type ResponseFuture<S, R> = crate::AuthFuture<S, R>;
