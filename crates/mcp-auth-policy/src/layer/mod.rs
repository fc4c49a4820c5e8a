//! The policy layer: decides every call of a tool, read of a resource and use of a prompt with
//! an [`Authorize`](crate::Authorize), and filters listings to what the caller could use.
//!
//! Place it inside verification (it needs the [`Principal`](mcp_auth_core::Principal)),
//! client identity (it reads the admitted client) and the inspector (it reads the
//! [`McpRequest`](mcp_auth_core::mcp::McpRequest)); the facade's builder puts it after the
//! scope layer. A batch goes on only if every call in it is allowed.
//!
//! Outcomes: allowed; refused where more scope would help: 403 `insufficient_scope` with the
//! scopes to ask for (step-up); refused otherwise: 403 `policy_denied` with the decision's
//! message and no challenge scope, so that clients do not re-authorise in a loop for what no
//! scope grants.
//!
//! Bodies: the request goes on as it came; the response is
//! `Response<AuthBody<ListFilterBody<ResBody>>>` (listings filtered as they stream).

#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use layer::PolicyLayer;
pub use service::{Deciding, Policy, ResponseFuture};
