//! Scope enforcement for MCP servers.
//!
//! A [`ScopePolicy`] says which scopes each operation needs: every request, each JSON-RPC method,
//! each tool, resource (exact URI, prefix, URI template or glob) and prompt, with alternatives
//! ([`Requirement::any_of`]) and an operator-declared [`ScopeHierarchy`] honoured wherever scopes
//! are compared. Undeclared tools, resources and prompts are refused unless a fallback is set.
//!
//! [`ScopeLayer`] enforces it after the verification layer, reading the MCP content an outer
//! [`McpInspectLayer`](mcp_auth_core::middleware::inspect::McpInspectLayer) parsed:
//!
//! - a request whose token lacks scopes gets `403` with
//!   `WWW-Authenticate: Bearer error="insufficient_scope", scope="…", resource_metadata="…",
//!   error_description="…"`, where `scope` is everything the operation needs plus the caller's
//!   relevant granted scopes, in one challenge (clients that replace their scope set with the
//!   challenged one still succeed);
//! - a JSON-RPC batch passes only when every message passes, and its challenge covers the batch;
//! - answers to `tools/list`, `resources/list`, `resources/templates/list` and `prompts/list` are
//!   filtered down to what the caller may use, for JSON and SSE bodies alike, streaming preserved;
//! - every decision (allowed, required, granted, missing) goes into the
//!   [`RequestRecord`](mcp_auth_core::record::RequestRecord) for the audit layer.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use mcp_auth_core::middleware::inspect::McpInspectLayer;
//! use mcp_auth_core::{BearerToken, Principal, ResourceId, Scopes};
//! use mcp_auth_scope::{Requirement, ScopeLayer, ScopePolicy};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let policy = ScopePolicy::builder()
//!     .tool("read_file", Requirement::all("files:read"))
//!     .tool("write_file", Requirement::all("files:write"))
//!     .build()
//!     .unwrap();
//! let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
//! let service = ServiceBuilder::new()
//!     .layer(McpInspectLayer::new()) // reads the JSON-RPC body once, for every layer
//!     .layer(ScopeLayer::new(policy, &resource))
//!     .service_fn(|_req| async { Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::default())) });
//!
//! let reader = Principal::builder("https://issuer", "alice", BearerToken::new("t"))
//!     .scopes(Scopes::parse("files:read"))
//!     .build();
//! let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file"}}"#;
//! let mut request = Request::post("/mcp").body(Full::new(Bytes::from(call))).unwrap();
//! request.extensions_mut().insert(reader);
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), 403);
//! assert!(response.headers()["www-authenticate"]
//!     .to_str().unwrap()
//!     .contains(r#"scope="files:read files:write""#));
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod config;
mod error;
mod hierarchy;
pub mod layer;
mod pattern;
mod policy;
mod requirement;

#[cfg(test)]
mod proptests;

pub use config::ScopeConfig;
pub use error::PolicyError;
pub use hierarchy::ScopeHierarchy;
pub use layer::{Scope, ScopeLayer};
pub use policy::{ScopePolicy, ScopePolicyBuilder, TargetKind, Undeclared, Verdict};
pub use requirement::Requirement;
