//! The approval layer: holds each call of a gated tool until the person behind the token has
//! approved that exact call on their own device.
//!
//! Place it inside verification (it needs the [`Principal`](mcp_auth_core::Principal)) and the
//! inspector (it reads the [`McpRequest`](mcp_auth_core::mcp::McpRequest)); the facade's builder
//! puts it after the policy layer, so a policy can ask for approval
//! ([`ApprovalRequired`](mcp_auth_core::record::ApprovalRequired)).
//!
//! Rounds, all answered `200` with a JSON-RPC result:
//! - first call: a CIBA request at the token's issuer, then `input_required` (an elicitation for
//!   clients that declared they can show one, and the sealed `requestState`);
//! - retry while undecided: the token endpoint is asked (at most at its interval, waiting at
//!   most [`round_wait`](ApprovalLayer::round_wait)), then a fresh `input_required`;
//! - refused, expired, a state that does not belong to this caller and call: a tool error;
//! - approved for this call's digest, first use: the call goes to the inner service, without
//!   the retry fields, once.
//!
//! A client on a protocol version before 2026-07-28 gets a tool error saying it cannot take
//! part; a batch holding a gated call is refused (400) before anything starts.

#[allow(clippy::module_inception)]
mod layer;
mod service;

pub(crate) use layer::Gate;
pub use layer::{ApprovalLayer, DETAIL_TYPE};
pub(crate) use service::Approved;
pub use service::{Approval, Deciding, ResponseFuture};
