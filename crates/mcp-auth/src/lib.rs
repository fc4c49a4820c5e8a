//! An identity layer for MCP servers.
//!
//! mcp-auth is a set of composable [`tower`](https://docs.rs/tower) layers that any
//! tower-compatible MCP transport can stack — rmcp's Streamable HTTP server, an axum router, a
//! tonic service — choosing only the layers it needs. This crate re-exports them behind cargo
//! features and offers [`McpAuth::builder`] (or one TOML file, [`McpAuth::from_config_file`]),
//! which stacks them in the one correct order:
//!
//! ```text
//! AuditLayer      one event per request and per token exchange, after the response
//! MetadataLayer   GET /.well-known/oauth-protected-resource[/path] (RFC 9728), no token needed
//! McpInspectLayer reads the JSON-RPC body once (size, batch, nesting and time limits)
//! VerifyLayer     Authorization: Bearer -> Principal in the extensions, or 401 + challenge
//! CimdLayer       the token's client (a Client ID Metadata Document URL) admitted, or 403
//! ScopeLayer      per method / tool / resource / prompt scopes, or 403 insufficient_scope
//! OboLayer        an OnBehalfOf handle for handlers to exchange the caller's token
//!   your service
//! ```
//!
//! # Example
//!
//! ```no_run
//! use mcp_auth::{IssuerConfig, McpAuth, Requirement, ScopePolicy};
//!
//! # fn router() -> axum::Router { axum::Router::new() }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = ScopePolicy::builder()
//!     .required(Requirement::all("mcp:read"))
//!     .tool("add_note", Requirement::all("mcp:write"))
//!     .build()?;
//! let auth = McpAuth::builder("https://mcp.example.com/mcp")
//!     .issuer(IssuerConfig::discover("https://auth.example.com"))
//!     .scopes(policy)
//!     .build()?;
//! let app: axum::Router = router().layer(auth);
//! # let _ = app; Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! - `jwt`, `scope`, `cimd`, `obo`, `audit`: each layer's crate, re-exported as a module.
//! - `stack` (default): all of them and [`McpAuth`].
//! - `config` (default): the TOML configuration file ([`Config`]).
//! - `rmcp`: the [`rmcp::Auth`] and [`rmcp::Obo`] extractors for rmcp tool handlers.
//! - `axum`: [`McpAuthLayer::protect`] and [`McpAuthLayer::metadata_router`], which serve the
//!   metadata document as real routes so that discovery survives `merge`, `nest` and
//!   `route_layer`.
//! - `policy`: Cedar policies over roles, claims and arguments (`policy::CedarAuthorizer`,
//!   [`McpAuthBuilder::cedar`], the `[policy]` table); without it the stack still takes a
//!   decision point of your own ([`McpAuthBuilder::authorize`]).
//! - `redis`: shared state for replicas on Redis (`mcp_auth::redis`, the `[redis]` table).
//! - `otlp`: audit events, metrics and spans to an OpenTelemetry collector
//!   (`audit::OtlpSink`, `telemetry::OtlpTelemetry`).
//! - `full`: everything.
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

#[cfg(feature = "stack")]
mod builder;

/// The README's Rust snippets, compiled and run as doctests.
#[cfg(all(doctest, feature = "full"))]
#[doc = include_str!("../../../README.md")]
mod readme {}
#[cfg(feature = "config")]
mod config;
#[cfg(feature = "rmcp")]
pub mod rmcp;
#[cfg(feature = "axum")]
mod router;
#[cfg(feature = "otlp")]
pub mod telemetry;

pub use mcp_auth_core as core;
pub use mcp_auth_core::mcp::{InspectLimits, McpRequest};
pub use mcp_auth_core::metadata::ProtectedResourceMetadata;
pub use mcp_auth_core::middleware::inspect::McpInspectLayer;
pub use mcp_auth_core::middleware::metadata::MetadataLayer;
pub use mcp_auth_core::{
    AuthBody, AuthError, BearerToken, ConfigValueError, Principal, ResourceId, Scopes,
};

#[cfg(feature = "stack")]
pub use builder::{BuildError, McpAuth, McpAuthBuilder, McpAuthLayer, McpAuthService};
#[cfg(feature = "config")]
pub use config::Config;
#[cfg(feature = "stack")]
pub use mcp_auth_approval as approval;
#[cfg(feature = "stack")]
pub use mcp_auth_approval::ApprovalLayer;
#[cfg(feature = "audit")]
pub use mcp_auth_audit as audit;
#[cfg(feature = "audit")]
pub use mcp_auth_audit::{
    AuditLayer, AuditSink, Auditor, ChannelSink, FlushPolicy, JsonLinesFile, Overflow, TracingSink,
};
#[cfg(feature = "cimd")]
pub use mcp_auth_cimd as cimd;
#[cfg(feature = "cimd")]
pub use mcp_auth_cimd::{
    CimdLayer, ClientAllowList, ClientInfo, ClientPolicy, ClientResolver, PreRegisteredClients,
    Registry,
};
#[cfg(any(feature = "jwt", feature = "cimd"))]
pub use mcp_auth_fetch::FetchPolicy;
#[cfg(feature = "jwt")]
pub use mcp_auth_jwt as jwt;
#[cfg(feature = "jwt")]
pub use mcp_auth_jwt::{
    DpopConfig, DpopPolicy, Introspection, IssuerConfig, Profile, RequiredClaims, Tenants,
    TypPolicy, Verifier, VerifyLayer,
};
#[cfg(feature = "obo")]
pub use mcp_auth_obo as obo;
#[cfg(feature = "obo")]
pub use mcp_auth_obo::{
    ClientAuth, ExchangeAllowlist, ExchangeRequest, ExchangedToken, OboLayer, OnBehalfOf,
    TokenExchangeClient,
};
#[cfg(feature = "stack")]
pub use mcp_auth_policy as policy;
#[cfg(feature = "stack")]
pub use mcp_auth_policy::{Authorize, PolicyLayer};
#[cfg(feature = "redis")]
pub use mcp_auth_redis as redis;
#[cfg(feature = "scope")]
pub use mcp_auth_scope as scope;
#[cfg(feature = "scope")]
pub use mcp_auth_scope::{Requirement, ScopeHierarchy, ScopeLayer, ScopePolicy, Undeclared};

/// The names most servers need, in one import: `use mcp_auth::prelude::*;`.
pub mod prelude {
    #[cfg(any(feature = "jwt", feature = "cimd"))]
    pub use crate::FetchPolicy;
    #[cfg(feature = "rmcp")]
    pub use crate::rmcp::{Auth, Obo};
    #[cfg(feature = "audit")]
    pub use crate::{AuditLayer, Auditor, JsonLinesFile, TracingSink};
    pub use crate::{
        AuthBody, AuthError, McpInspectLayer, MetadataLayer, Principal, ResourceId, Scopes,
    };
    #[cfg(feature = "cimd")]
    pub use crate::{CimdLayer, ClientPolicy, ClientResolver, PreRegisteredClients, Registry};
    #[cfg(feature = "obo")]
    pub use crate::{ClientAuth, ExchangeRequest, OboLayer, OnBehalfOf, TokenExchangeClient};
    #[cfg(feature = "jwt")]
    pub use crate::{DpopPolicy, IssuerConfig, Profile, Tenants, Verifier, VerifyLayer};
    #[cfg(feature = "stack")]
    pub use crate::{McpAuth, McpAuthLayer};
    #[cfg(feature = "scope")]
    pub use crate::{Requirement, ScopeHierarchy, ScopeLayer, ScopePolicy};
}
