//! Sender-constrained tokens: DPoP (RFC 9449) at the resource server.
//!
//! A token whose `cnf` binds it to a key is accepted only with a proof of possession of that
//! key: `Authorization: DPoP <token>` and one `DPoP` header holding a proof signed by the key,
//! for this request's method and URL and this token, never seen before. Presented as `Bearer`,
//! such a token is refused, as a stolen bearer token would be used.

mod nonce;
mod proof;
mod replay;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use mcp_auth_core::{Algorithm, AuthError, KeyBinding, Principal};

pub use replay::{
    MemoryReplayStore, ProofId, ReplayAnswer, ReplayCheck, ReplayStore, ReplayUnavailable,
};

/// A presentation whose last check (a shared replay store) answers later.
pub(crate) type PendingCheck =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), AuthError>> + Send>>;

/// Whether a presentation is accepted now, or once its replay check answers.
pub(crate) enum Checked {
    Accepted,
    Pending(PendingCheck),
}

/// Whether an issuer's tokens may, or must, be presented with DPoP proofs (`dpop = "allowed"`,
/// `"required"` or `"disabled"` in the TOML).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DpopPolicy {
    /// Bearer tokens, and DPoP-bound tokens with their proofs. The default.
    #[default]
    Allowed,
    /// DPoP-bound tokens with their proofs only: an unbound token is refused.
    Required,
    /// Bearer tokens only: the `DPoP` scheme is refused for this issuer. A DPoP-bound token is
    /// still never accepted as a bearer token.
    Disabled,
}

/// The algorithms accepted for proofs by default.
pub const DEFAULT_PROOF_ALGORITHMS: &[Algorithm] = &[
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::RS256,
];

/// How DPoP proofs are checked: algorithms, how old a proof may be, and where used proofs are
/// remembered.
///
/// ```
/// use mcp_auth_jwt::{DpopConfig, MemoryReplayStore};
/// use std::time::Duration;
///
/// let dpop = DpopConfig::default()
///     .max_age(Duration::from_secs(30))
///     .replay_store(MemoryReplayStore::new(100_000));
/// assert_eq!(dpop.algorithm_names(), "ES256 ES384 EdDSA PS256 RS256");
/// ```
#[derive(Clone)]
#[must_use]
pub struct DpopConfig {
    algorithms: Vec<Algorithm>,
    max_age: Duration,
    max_skew: Duration,
    replay: Arc<dyn ReplayStore>,
    nonce_key: Arc<nonce::NonceKey>,
    nonce_lifetime: Duration,
    /// A nonce secret shorter than [`MIN_NONCE_SECRET`] was given (refused when the verifier is
    /// built).
    short_nonce_secret: bool,
}

/// The shortest nonce secret accepted, in bytes.
pub const MIN_NONCE_SECRET: usize = 32;

impl Default for DpopConfig {
    /// [`DEFAULT_PROOF_ALGORITHMS`], proofs at most 60 s old and 5 s in the future, an in-process
    /// [`MemoryReplayStore`].
    fn default() -> Self {
        Self {
            algorithms: DEFAULT_PROOF_ALGORITHMS.to_vec(),
            max_age: Duration::from_secs(60),
            max_skew: Duration::from_secs(5),
            replay: Arc::new(MemoryReplayStore::default()),
            nonce_key: Arc::new(nonce::NonceKey::random()),
            nonce_lifetime: Duration::from_secs(300),
            short_nonce_secret: false,
        }
    }
}

impl DpopConfig {
    /// The proof algorithms accepted (asymmetric only: HMAC and `none` are never accepted).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// How long after its `iat` a proof is accepted (and its `jti` remembered). Defaults to 60 s.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// How far in the future a proof's `iat` may be (clock skew). Defaults to 5 s.
    pub fn max_skew(mut self, skew: Duration) -> Self {
        self.max_skew = skew;
        self
    }

    /// Where used proofs are remembered. Replicas that share a load balancer need one store.
    pub fn replay_store(mut self, store: impl ReplayStore) -> Self {
        self.replay = Arc::new(store);
        self
    }

    /// The secret server nonces are made with (RFC 9449 §8, for issuers configured with
    /// [`IssuerConfig::require_dpop_nonce`](crate::IssuerConfig::require_dpop_nonce)). Nonces
    /// are stateless: replicas that share this secret accept each other's. Defaults to a random
    /// secret per process (then a client that moves to another replica is asked for a new
    /// nonce once).
    /// At least [`MIN_NONCE_SECRET`] bytes: building the verifier fails otherwise.
    pub fn nonce_secret(mut self, secret: &[u8]) -> Self {
        self.nonce_key = Arc::new(nonce::NonceKey::from_secret(secret));
        self.short_nonce_secret = secret.len() < MIN_NONCE_SECRET;
        self
    }

    /// What is wrong with this configuration, if anything (checked when the verifier is built).
    pub(crate) fn problem(&self) -> Option<String> {
        if self.short_nonce_secret {
            return Some(format!(
                "the DPoP nonce secret must be at least {MIN_NONCE_SECRET} bytes"
            ));
        }
        if self.algorithms.is_empty() {
            return Some("the DPoP proof algorithm list is empty".into());
        }
        None
    }

    /// How long a server nonce stays valid. Defaults to 5 minutes.
    pub fn nonce_lifetime(mut self, lifetime: Duration) -> Self {
        self.nonce_lifetime = lifetime;
        self
    }

    /// The accepted algorithms as the challenge and the metadata name them, space-separated.
    pub fn algorithm_names(&self) -> String {
        self.algorithms
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub(crate) fn algorithm_list(&self) -> &[Algorithm] {
        &self.algorithms
    }
}

impl fmt::Debug for DpopConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopConfig")
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("max_skew", &self.max_skew)
            .finish_non_exhaustive()
    }
}

/// How the token came: its scheme, and what a DPoP presentation carries with it.
pub(crate) struct Presentation<'a> {
    pub(crate) dpop: bool,
    pub(crate) token: &'a str,
    pub(crate) method: &'a str,
    pub(crate) headers: &'a HeaderMap,
}

/// What an issuer asks of DPoP presentations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IssuerDpop {
    pub(crate) policy: DpopPolicy,
    pub(crate) require_nonce: bool,
}

/// Decides whether `principal` may be used as presented: the binding, the issuer's policy, and
/// for DPoP the proof. `htu` is the resource identifier, normalised.
pub(crate) fn check(
    config: &DpopConfig,
    issuer: IssuerDpop,
    principal: &Principal,
    presented: &Presentation<'_>,
    htu: &str,
    now: u64,
) -> Result<Checked, AuthError> {
    let policy = issuer.policy;
    let binding = principal.key_binding();
    if !presented.dpop {
        return match (binding, policy) {
            (Some(KeyBinding::Dpop { .. }), _) => Err(AuthError::invalid_token(
                "dpop_bound_as_bearer",
                "the token is bound to a key (DPoP): present it with `Authorization: DPoP` and a DPoP proof",
            )),
            (Some(_), _) => Err(AuthError::invalid_token(
                "certificate_bound",
                "the token is bound to a client certificate (mutual TLS), which this server does not check",
            )),
            (None, DpopPolicy::Required) => Err(AuthError::invalid_token(
                "dpop_required",
                "this issuer's tokens are accepted only DPoP-bound, with a DPoP proof",
            )),
            (None, _) => Ok(Checked::Accepted),
        };
    }
    if policy == DpopPolicy::Disabled {
        return Err(AuthError::invalid_token(
            "dpop_disabled",
            "this server does not accept DPoP presentations of this issuer's tokens",
        )
        .in_dpop_challenge());
    }
    let mut proofs = presented.headers.get_all("dpop").iter();
    let (Some(proof), None) = (proofs.next(), proofs.next()) else {
        return Err(AuthError::invalid_dpop_proof(
            "proof_count",
            "a DPoP presentation needs exactly one DPoP header",
        ));
    };
    let proof = proof.to_str().map_err(|_| {
        AuthError::invalid_dpop_proof("malformed_proof", "the DPoP header is not visible ASCII")
    })?;
    let verified = proof::verify(
        proof,
        &proof::Expected {
            method: presented.method,
            htu,
            token: presented.token,
            algorithms: config.algorithm_list(),
            now,
            max_age: config.max_age.as_secs(),
            max_skew: config.max_skew.as_secs(),
        },
    )?;
    match binding {
        Some(KeyBinding::Dpop { jkt }) if *jkt == verified.jkt => {}
        Some(KeyBinding::Dpop { .. }) => {
            return Err(AuthError::invalid_token(
                "wrong_proof_key",
                "the DPoP proof is signed by another key than the one the token is bound to",
            )
            .in_dpop_challenge());
        }
        _ => {
            return Err(AuthError::invalid_token(
                "not_dpop_bound",
                "the token is not bound to a DPoP key (`cnf.jkt`); present it as a Bearer token",
            )
            .in_dpop_challenge());
        }
    }
    if issuer.require_nonce {
        let lifetime = config.nonce_lifetime.as_secs();
        let fresh = verified.nonce.as_deref().is_some_and(|n| {
            config
                .nonce_key
                .accepts(n, now, lifetime, config.max_skew.as_secs())
        });
        if !fresh {
            return Err(AuthError::use_dpop_nonce(
                match verified.nonce {
                    None => {
                        "this server requires a nonce in DPoP proofs: use the one in DPoP-Nonce"
                    }
                    Some(_) => {
                        "the DPoP proof's nonce is not a current one of this server: use the one in DPoP-Nonce"
                    }
                },
                config.nonce_key.issue(now),
            ));
        }
    }
    let until = verified.iat.saturating_add(config.max_age.as_secs()) + 1;
    match config.replay.first_use(verified.id, until, now) {
        ReplayCheck::Ready(answer) => replay_verdict(answer).map(|()| Checked::Accepted),
        ReplayCheck::Pending(answer) => Ok(Checked::Pending(Box::pin(async move {
            replay_verdict(answer.await)
        }))),
    }
}

/// A replay store's answer as the request's fate.
fn replay_verdict(answer: ReplayAnswer) -> Result<(), AuthError> {
    match answer {
        Ok(true) => Ok(()),
        Ok(false) => Err(AuthError::invalid_dpop_proof(
            "replayed_proof",
            "the DPoP proof was used before",
        )),
        Err(e) => {
            tracing::warn!(target: "mcp_auth::jwt", error = %e, "DPoP replay store unavailable");
            Err(AuthError::unavailable(
                "replay_store_unavailable",
                "DPoP proofs cannot be checked right now; retry later",
                Duration::from_secs(1),
            ))
        }
    }
}

pub(crate) use proof::normalise_htu;

/// Entry points for the fuzz targets (feature `fuzzing`); not a public API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Checks `proof` as a DPoP proof for `POST https://mcp.example.com/mcp` and `token` at time
    /// `now`, with the default algorithms and a one-minute window.
    pub fn verify_proof(
        proof: &str,
        token: &str,
        now: u64,
    ) -> Result<String, mcp_auth_core::AuthError> {
        super::proof::verify(
            proof,
            &super::proof::Expected {
                method: "POST",
                htu: "https://mcp.example.com/mcp",
                token,
                algorithms: super::DEFAULT_PROOF_ALGORITHMS,
                now,
                max_age: 60,
                max_skew: 5,
            },
        )
        .map(|verified| verified.jkt)
    }

    /// The normal form `htu` is compared in.
    pub fn normalise_htu(htu: &str) -> Option<String> {
        super::proof::normalise_htu(htu)
    }
}

#[cfg(test)]
mod tests;
