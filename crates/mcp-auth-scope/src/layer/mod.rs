//! The scope layer: enforces a [`ScopePolicy`](crate::ScopePolicy) after verification, and
//! filters listings. See the [crate docs](crate) for the behaviour and an example.
//!
//! The layer reads the MCP content of the request from the
//! [`McpRequest`](mcp_auth_core::mcp::McpRequest) an outer
//! [`McpInspectLayer`](mcp_auth_core::middleware::inspect::McpInspectLayer) put in the extensions (one
//! inspector serves the whole stack, so the body is read and wrapped once: the inner service
//! receives `Request<AuthBody<B>>`), and the caller from the
//! [`Principal`](mcp_auth_core::Principal) the verification layer put there. A request without a
//! principal, or a JSON-RPC `POST` nothing inspected, is refused (403) rather than decided
//! without what the decision needs.
//!
//! Bodies: the request goes on as it came; the response is
//! `Response<AuthBody<ListFilterBody<ResBody>>>` (listings filtered as they stream).

mod future;
#[allow(clippy::module_inception)]
mod layer;
mod listing;
mod service;

pub use future::ResponseFuture;
pub use layer::ScopeLayer;
pub use mcp_auth_core::listing::ListFilterBody;
pub use service::Scope;

#[cfg(test)]
mod tests;
