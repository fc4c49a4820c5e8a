//! The raw bearer token, held so that it cannot be printed by accident.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A raw bearer token.
///
/// The token is needed after verification in exactly one place: an on-behalf-of exchange, where it
/// is the `subject_token` sent to the authorization server. Everywhere else only its
/// [fingerprint](BearerToken::fingerprint) may appear. `BearerToken` has no `Display`, and its
/// `Debug` prints the fingerprint, so neither a log line nor a panic message can leak it.
#[derive(Clone)]
pub struct BearerToken {
    raw: Arc<str>,
    digest: TokenDigest,
    /// Computed once: verified tokens are remembered, and every audit event names one.
    fingerprint: Arc<str>,
}

impl PartialEq for BearerToken {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest
    }
}

impl Eq for BearerToken {}

impl BearerToken {
    /// Wraps a raw token string.
    pub fn new(raw: impl Into<Arc<str>>) -> Self {
        let raw = raw.into();
        let digest = TokenDigest::of(raw.as_bytes());
        Self::with_digest(raw, digest)
    }

    /// Wraps a raw token whose SHA-256 digest is already known (avoids hashing twice).
    ///
    /// The digest must be [`TokenDigest::of`] the same bytes; a mismatch makes the fingerprint lie.
    pub fn with_digest(raw: impl Into<Arc<str>>, digest: TokenDigest) -> Self {
        Self {
            raw: raw.into(),
            digest,
            fingerprint: digest.fingerprint().into(),
        }
    }

    /// The raw token. Call this only to hand the token to the party that issued it (token
    /// exchange); never log or forward it.
    pub fn expose_secret(&self) -> &str {
        &self.raw
    }

    /// The raw token, shared rather than copied: for a cache that must find it again by its
    /// exact bytes (the verified-token cache). The same rules as [`expose_secret`] apply.
    ///
    /// [`expose_secret`]: BearerToken::expose_secret
    pub fn shared_secret(&self) -> Arc<str> {
        self.raw.clone()
    }

    /// The SHA-256 digest of the token's bytes.
    pub fn digest(&self) -> &TokenDigest {
        &self.digest
    }

    /// A short, stable, non-reversible identifier of this token for logs and audit events.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BearerToken({})", self.fingerprint())
    }
}

/// The SHA-256 digest of a token's bytes: the key under which a verified token is remembered.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// Hashes the token bytes.
    pub fn of(token: &[u8]) -> Self {
        Self(Sha256::digest(token).into())
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `sha256:` followed by the first 96 bits of the digest in base64url: enough to tell tokens
    /// apart in an audit trail, far too little to be of use to anyone who reads it.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", URL_SAFE_NO_PAD.encode(&self.0[..12]))
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({})", self.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let token = BearerToken::new("eyJhbGciOiJSUzI1NiJ9.secret-marker.sig");
        let printed = format!("{token:?} {:?}", token.digest());
        assert!(!printed.contains("secret-marker"), "{printed}");
        assert!(printed.contains("sha256:"));
    }

    #[test]
    fn fingerprint_is_stable_and_distinguishes_tokens() {
        let a = BearerToken::new("token-a");
        assert_eq!(a.fingerprint(), BearerToken::new("token-a").fingerprint());
        assert_ne!(a.fingerprint(), BearerToken::new("token-b").fingerprint());
        assert_eq!(a.fingerprint().len(), "sha256:".len() + 16);
    }

    #[test]
    fn with_digest_keeps_the_given_digest() {
        let digest = TokenDigest::of(b"abc");
        let token = BearerToken::with_digest("abc", digest);
        assert_eq!(token.digest(), &digest);
        assert_eq!(token.expose_secret(), "abc");
    }
}
