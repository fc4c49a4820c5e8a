//! The shared vocabulary of mcp-auth.
//!
//! Every mcp-auth layer speaks in these types, and none of them does I/O:
//!
//! - [`Principal`]: who is calling, as the verification layer established it; [`BearerToken`], the
//!   raw token, held so that it cannot be printed.
//! - [`Scopes`]: scope sets parsed from `scope` strings and `scp` claims.
//! - [`ResourceId`]: this server's RFC 8707 resource identifier, compared in canonical form.
//! - [`BearerChallenge`] and [`AuthError`]: every denial, rendered as an HTTP response with an
//!   RFC 6750 challenge and a small JSON body, or as a trailers-only gRPC response.
//! - [`mcp`]: what a request asks of the MCP server ([`mcp::McpRequest`]: methods, tools,
//!   resources, prompts), parsed within [`mcp::InspectLimits`].
//! - [`metadata`]: the RFC 9728 protected-resource metadata document.
//! - [`middleware`]: the two middleware every stack shares, the request inspector
//!   ([`middleware::inspect`]) and the metadata document's server ([`middleware::metadata`]).
//! - [`record`]: the per-request record layers fill for the audit layer.
//! - [`Rejector`] and [`Rejection`]: the one rejection path every layer uses, with a hook
//!   ([`RenderRejection`]) to change how denials look.
//! - [`AuthBody`] and [`AuthFuture`]: the body and response future every layer shares.
//!
//! # Example
//!
//! A denial renders itself, with the challenge MCP clients follow:
//!
//! ```
//! use mcp_auth_core::{AuthError, ResourceId};
//!
//! let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
//! let response = AuthError::missing_token().to_http_response(&resource.metadata_url());
//! assert_eq!(response.status(), 401);
//! assert_eq!(
//!     response.headers()["www-authenticate"],
//!     r#"Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#
//! );
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod algorithm;
mod body;
mod challenge;
mod config;
mod error;
mod future;
pub mod listing;
mod macros;
pub mod mcp;
pub mod metadata;
pub mod middleware;
mod principal;
pub mod record;
mod reject;
mod resource;
mod scopes;
pub mod telemetry;
mod text;
mod thumbprint;
mod token;

#[cfg(test)]
mod proptests;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use body::AuthBody;
pub use challenge::{BearerChallenge, DpopChallenge, OFFLINE_ACCESS};
pub use config::ConfigValueError;
pub use error::{AuthError, AuthErrorKind, is_grpc};
pub use future::{AuthFuture, Undecided, take_ready};
pub use principal::{Actor, KeyBinding, Principal, PrincipalBuilder, claim_strings};
pub use reject::{Rejection, Rejector, RenderRejection};
pub use resource::{ResourceId, ResourceIdError};
pub use scopes::Scopes;
pub use text::untrusted_text;
pub use thumbprint::jwk_thumbprint;
pub use token::{BearerToken, TokenDigest};

/// Boxed error type for body failures.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
