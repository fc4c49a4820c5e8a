//! A person approves the exact high-risk call: out-of-band approval for MCP tool calls.
//!
//! Scopes and policies decide what an agent may do in general. For the few calls that move
//! money or delete data, [`ApprovalLayer`] asks the person behind the token to confirm *this*
//! call, on their own device, before it runs:
//!
//! - the call's [`CallDigest`] (canonical JSON of issuer, subject, client, resource, tool and
//!   arguments) goes to the token's issuer in an OpenID CIBA request ([`CibaClient`], poll mode)
//!   as RFC 9396 `authorization_details`, with a short binding code derived from it;
//! - the client is answered with the 2026-07-28 protocol's `input_required`: an elicitation
//!   ("Approve on your device: code MCP-7F3K9QX2 …") for clients that can show one, and a
//!   `requestState` sealed with AES-256-GCM ([`SecretKeys`], key ids for rotation) holding the
//!   digest, the issuer's request id (never visible to the client), the caller and the timing;
//! - on each retry the issuer's token endpoint is asked, never faster than it allows; the call
//!   runs once, only when the issuer's answer carries the same digest. The client's "accept"
//!   of the prompt is never the approval.
//!
//! # Example
//!
//! ```
//! use mcp_auth_approval::{ApprovalLayer, CibaClient, LoginHint, SecretKeys};
//! use mcp_auth_core::ResourceId;
//! use mcp_auth_fetch::FetchPolicy;
//! use mcp_auth_obo::ClientAuth;
//! use tower::ServiceBuilder;
//!
//! let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
//! // This server's confidential client at the issuer, as for token exchange.
//! let ciba = CibaClient::new(
//!     ClientAuth::client_secret_basic("mcp-server", "s3cret"),
//!     FetchPolicy::default(),
//! )
//! .unwrap();
//! // Replicas share the keys (from a secret store), so any of them opens any state.
//! let keys = SecretKeys::new("2026-11", &[0x42; 32]).unwrap();
//! let approval = ApprovalLayer::new(ciba, keys, &resource)
//!     .tool("transfer_funds")
//!     .tool("delete_*")
//!     .login_hint(LoginHint::Subject);
//!
//! // Inside verification and the inspector (the facade's builder puts it after policies).
//! let service = ServiceBuilder::new()
//!     .layer(approval)
//!     .service(tower::service_fn(|_req: http::Request<mcp_auth_core::AuthBody<String>>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//! # let _ = service;
//! ```

mod ciba;
mod config;
mod digest;
pub mod layer;
mod mrtr;
mod round;
mod state;

pub use ciba::{CIBA_GRANT, CibaClient, CibaError, LoginHint};
pub use config::{ApprovalEntry, random_keys};
pub use digest::{CallDigest, CallFacts, canonical_json};
pub use layer::{Approval, ApprovalLayer, DETAIL_TYPE};
pub use mcp_auth_obo::SecretKeys;
pub use mrtr::MRTR_SINCE;
pub use state::StateRefused;
