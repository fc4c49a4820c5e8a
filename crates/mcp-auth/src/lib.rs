//! An identity layer for MCP servers.
//!
//! mcp-auth is a set of composable [`tower`](https://docs.rs/tower) layers that any
//! tower-compatible MCP transport can stack — rmcp's Streamable HTTP server, an axum router, a
//! tonic service — choosing only the layers it needs. This crate re-exports them behind cargo
//! features and offers [`McpAuth::builder`], which stacks them in the one correct order:
//!
//! ```text
//! MetadataLayer   GET /.well-known/oauth-protected-resource[/path] (RFC 9728), no token needed
//! VerifyLayer     Authorization: Bearer -> Principal in the extensions, or 401 + challenge
//!   your service
//! ```
//!
//! # Example
//!
//! ```no_run
//! use mcp_auth::{IssuerConfig, McpAuth};
//!
//! # fn router() -> axum::Router { axum::Router::new() }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = McpAuth::builder("https://mcp.example.com/mcp")
//!     .issuer(IssuerConfig::discover("https://auth.example.com"))
//!     .scopes_supported(["mcp:read", "mcp:write"])
//!     .challenge_scope("mcp:read")
//!     .build()?;
//! let app: axum::Router = router().layer(auth);
//! # let _ = app; Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! - `jwt` (default): token verification ([`jwt`], [`McpAuth`]).
//! - `rmcp`: the [`rmcp::Auth`] extractor for rmcp tool handlers.
//! - `full`: everything.
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

#[cfg(feature = "jwt")]
mod builder;
#[cfg(feature = "rmcp")]
pub mod rmcp;

pub use mcp_auth_core as core;
pub use mcp_auth_core::inspect::{McpInspectLayer, McpRequest};
pub use mcp_auth_core::metadata::{MetadataLayer, ProtectedResourceMetadata};
pub use mcp_auth_core::{AuthBody, AuthError, BearerToken, Principal, ResourceId, Scopes};

#[cfg(feature = "jwt")]
pub use builder::{BuildError, McpAuth, McpAuthBuilder, McpAuthLayer};
#[cfg(feature = "jwt")]
pub use mcp_auth_fetch::FetchPolicy;
#[cfg(feature = "jwt")]
pub use mcp_auth_jwt as jwt;
#[cfg(feature = "jwt")]
pub use mcp_auth_jwt::{IssuerConfig, RequiredClaims, TypPolicy, Verifier, VerifyLayer};
