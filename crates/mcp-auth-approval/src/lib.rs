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

/// What a round does locally, for benchmarks and fuzzing: not a stable API.
#[doc(hidden)]
pub mod internals {
    use std::time::{Duration, SystemTime};

    use crate::state::{self, PendingApproval};
    use crate::{CallDigest, CallFacts, SecretKeys, StateRefused};

    /// The state a first round hands out for `facts`.
    pub fn first_state(keys: &SecretKeys, facts: &CallFacts<'_>) -> Option<String> {
        let now = SystemTime::now();
        state::seal(
            keys,
            &PendingApproval {
                digest: CallDigest::of(facts).as_str().to_owned(),
                auth_req_id: "a".repeat(43),
                issuer: facts.issuer.to_owned(),
                principal: state::principal_key(facts.issuer, facts.subject),
                tool: facts.tool.to_owned(),
                expires_at: state::unix_seconds(now + Duration::from_secs(300)),
                next_poll_ms: state::unix_millis(now),
                interval: 5,
            },
        )
    }

    /// A retry's local work: the call's digest, opening the state it carries for this caller
    /// and call, and sealing the next one.
    pub fn next_state(
        keys: &SecretKeys,
        facts: &CallFacts<'_>,
        sealed: &str,
    ) -> Result<String, StateRefused> {
        let digest = CallDigest::of(facts);
        let principal = state::principal_key(facts.issuer, facts.subject);
        let mut pending = state::open(keys, sealed, &principal, &digest, SystemTime::now())?;
        pending.next_poll_ms += 5000;
        state::seal(keys, &pending).ok_or(StateRefused::Unreadable)
    }
}
