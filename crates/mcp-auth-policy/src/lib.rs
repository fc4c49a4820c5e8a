//! Authorization beyond scopes for MCP servers: who the user is, what the arguments say.
//!
//! [`PolicyLayer`] decides every call of a tool, read of a resource and use of a prompt after
//! verification, client identity and scopes, on the caller (issuer, subject, scopes, roles,
//! groups and permissions from its token, whether a user is behind it, its delegation chain),
//! its client (Client ID Metadata Document URL and host), the target and the call's arguments.
//! The engine is [Cedar](https://www.cedarpolicy.com), embedded: policies in `.cedar` files,
//! validated against the MCP schema ([`MCP_SCHEMA`]) when the stack is built, with errors that
//! name the file, the line and the fix (feature `cedar`, on by default). Or bring your own
//! decision point ([`Authorize`], [`authorize_fn`], [`CachedAuthorize`]).
//!
//! ```
//! # #[cfg(feature = "cedar")] {
//! use mcp_auth_core::ResourceId;
//! use mcp_auth_policy::{CedarAuthorizer, CedarPolicies, PolicyLayer};
//!
//! let policies = CedarPolicies::builder()
//!     .schema_source("expenses.cedarschema", "namespace Mcp { type Arguments = { amount?: Long }; }")
//!     .source(
//!         "expenses.cedar",
//!         r#"
//!         @id("managers-up-to-1000")
//!         permit(principal in Mcp::Role::"manager", action == Mcp::Action::"tools/call",
//!                resource == Mcp::Tool::"approve_expense")
//!         when { context.arguments has amount && context.arguments.amount <= 1000 };
//!         "#,
//!     )
//!     .build()?;
//! let resource = ResourceId::parse("https://mcp.example.com/mcp")?;
//! let layer = PolicyLayer::new(CedarAuthorizer::new(policies), &resource);
//! # let _ = layer;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod authorize;
mod call;
#[cfg(feature = "cedar")]
mod cedar;
#[cfg(feature = "cedar")]
mod cedar_authorizer;
mod claims;
#[cfg(feature = "cedar")]
mod config;
#[cfg(feature = "cedar")]
mod error;
pub mod layer;

pub use authorize::{
    Authorize, AuthorizeFn, CachedAuthorize, Decision, DefaultAuthorize, Denial, Verdict,
    authorize_fn,
};
pub use call::{Action, Call};
#[cfg(feature = "cedar")]
pub use cedar::{CedarPolicies, CedarPoliciesBuilder, MCP_SCHEMA};
#[cfg(feature = "cedar")]
pub use cedar_authorizer::CedarAuthorizer;
pub use claims::ClaimMap;
#[cfg(feature = "cedar")]
pub use config::{ClaimsEntry, PolicyEntry, Preset};
#[cfg(feature = "cedar")]
pub use error::{PolicyError, PolicyProblem};
pub use layer::{Policy, PolicyLayer};

#[cfg(all(test, feature = "cedar"))]
mod tests;
