//! Test kit for mcp-auth users.
//!
//! - [`MockIssuer`]: an OAuth issuer on 127.0.0.1 serving discovery and a JWKS, with keys of every
//!   algorithm, rotation, failure modes and fetch counters, and a token endpoint that performs
//!   RFC 8693 token exchange for the clients and targets you allow.
//! - [`TokenBuilder`]: tokens with any claims and headers, including deliberately broken ones.
//! - [`SigningKey`]: keys generated at run time.
//! - [`TestCa`]: a throwaway certificate authority, for `https` issuers ([`MockIssuerBuilder::tls`])
//!   and tests of extra trusted roots.
//! - [`PolicyProbe`]: asserts what a policy layer, or a whole stack with real tokens, decides for
//!   a caller with chosen scopes, against [`MockMcpService`] (which lists the tools, resources
//!   and prompts you give it).
//! - [`McpTestClient`]: an MCP client over Streamable HTTP (right headers, bearer token, JSON or
//!   SSE answers) for integration tests.
//! - [`vendors`]: identity providers as they really are (Auth0, Entra ID v1/v2 and
//!   multi-tenant, Okta, Keycloak, Cognito): their discovery documents, JWKS and token shapes.
//! - [`StrictReadiness`]: an inner service that fails a test when a layer calls an instance
//!   that was not polled ready.
//! - [`RedisServer`]: a real `redis-server` on 127.0.0.1 (the system's package), which a test
//!   can stop and start again, for shared state across replicas.
//!
//! # Example
//!
//! ```
//! use mcp_auth_testing::MockIssuer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let issuer = MockIssuer::builder().audience("https://mcp.example.com/mcp").start().await;
//! let token = issuer.token().subject("bob").scope("files:read").sign();
//! let expired = issuer.token().expired(60).sign();
//! let forged = issuer.token().unsigned().sign();
//! assert!(forged.ends_with('.'));
//! assert_ne!(token, expired);
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod client;
mod exchange;
mod issuer;
mod keys;
mod mock_service;
#[cfg(feature = "otlp")]
pub mod otlp;
mod probe;
mod ready;
mod redis_server;
mod tls;
mod token;
pub mod vendors;

pub use client::{McpReply, McpTestClient, PROTOCOL_VERSION};
pub use issuer::{JwksBehavior, MockIssuer, MockIssuerBuilder};
pub use keys::{SigningKey, alg_name};
pub use mcp_auth_core::Algorithm;
pub use mock_service::MockMcpService;
#[cfg(feature = "otlp")]
pub use otlp::OtlpReceiver;
pub use probe::{Outcome, PolicyProbe, challenge_param};
pub use ready::StrictReadiness;
pub use redis_server::RedisServer;
pub use tls::TestCa;
pub use token::{TokenBuilder, now};
