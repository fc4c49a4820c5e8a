//! The scope layer: enforces a [`ScopePolicy`](crate::ScopePolicy) after verification, and
//! filters listings. See the [crate docs](crate) for the behaviour and an example.
//!
//! The layer reads the MCP content of the request through the inspector (it is stacked as
//! `McpInspect<Scope<S>>`, and inspects only when no outer layer already did), and the caller
//! from the [`Principal`](mcp_auth_core::Principal) the verification layer put in the
//! extensions. A request without a principal is refused (403): the scope layer must sit inside
//! the verification layer.

mod body;
mod filter;
mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use body::ListFilterBody;
pub use future::ResponseFuture;
pub use layer::ScopeLayer;
pub use service::Scope;

#[cfg(test)]
mod tests;
