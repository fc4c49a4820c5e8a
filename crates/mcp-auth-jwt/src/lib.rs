//! Bearer JWT verification for MCP servers.
//!
//! - [`Verifier`]: trusted issuers ([`IssuerConfig`]: by discovery, by JWKS URL, by static keys,
//!   or — only when explicitly configured — by shared secret), the RFC 9068 / RFC 8725
//!   access-token rules, a JWKS cache with single-flight, rate-limited refreshes, and a bounded
//!   cache of verified tokens keyed by the SHA-256 of their bytes.
//! - [`VerifyLayer`]: the tower layer that puts a [`Principal`](mcp_auth_core::Principal) in
//!   the request extensions or answers with the right status and challenge (see [`layer`]).
//!
//! The rules, all strict by default:
//!
//! - algorithms from an allowlist per issuer (asymmetric only unless a shared secret is
//!   configured); `none` never; each key verifies only its own algorithm;
//! - keys only from the issuer's configured source: `jku`, `x5u`, `jwk` and `x5c` headers are
//!   ignored, and `crit` headers are refused;
//! - `iss` selects the issuer exactly; `aud` must contain this server's resource identifier
//!   (compared canonically); `exp` is required; `nbf` and `iat` are honoured with a bounded leeway;
//! - `typ` must be `at+jwt` ([`TypPolicy`] relaxes it per issuer), and the RFC 9068 claims
//!   must be present ([`RequiredClaims`] relaxes them per issuer).
//!
//! # Example
//!
//! ```no_run
//! use mcp_auth_core::ResourceId;
//! use mcp_auth_jwt::{IssuerConfig, Verifier, VerifyLayer};
//!
//! let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
//! let verifier = Verifier::builder(resource)
//!     .issuer(IssuerConfig::discover("https://auth.example.com"))
//!     .build()
//!     .expect("valid configuration");
//! let layer = VerifyLayer::new(verifier);
//! // router.layer(layer) ...
//! # let _ = layer;
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod bearer;
mod config;
mod config_file;
pub mod dpop;
mod introspection;
mod jwks;
pub mod layer;
mod profile;
mod telemetry;
mod token;
mod verifier;

pub use config::{
    DEFAULT_ALGORITHMS, IssuerConfig, KeySource, MAX_LEEWAY, RequiredClaims, Tenants, TypPolicy,
};
pub use config_file::{
    AnyTenant, ClaimsProfile, IssuerEntry, RequiredClaimsEntry, TenantsEntry, TypEntry,
};
pub use dpop::{
    DEFAULT_PROOF_ALGORITHMS, DpopConfig, DpopPolicy, MemoryReplayStore, ProofId, ReplayAnswer,
    ReplayCheck, ReplayStore, ReplayUnavailable,
};
pub use introspection::Introspection;
pub use layer::{Verify, VerifyLayer};
pub use mcp_auth_core::Algorithm;
pub use profile::{Profile, TENANT_PLACEHOLDER, UnknownProfile};
pub use verifier::{ConfigError, Verifier, VerifierBuilder};

/// The signature library's name for `alg`; `None` for an algorithm it does not implement.
pub(crate) fn jose(alg: Algorithm) -> Option<jsonwebtoken::Algorithm> {
    alg.name().parse().ok()
}
