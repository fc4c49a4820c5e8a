//! How each trusted issuer is configured.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mcp_auth_core::Algorithm;

/// Where an issuer's verification keys come from.
#[derive(Clone)]
#[non_exhaustive]
pub enum KeySource {
    /// Discover the JWKS URL from the issuer's metadata (RFC 8414, then OpenID Connect
    /// discovery); the document's `issuer` must equal the configured issuer exactly.
    Discovery,
    /// Fetch the JWKS from this URL.
    JwksUri(String),
    /// Use these keys (a JWKS document); never fetched, never refreshed.
    Static(serde_json::Value),
    /// A shared HMAC secret (only ever used when configured explicitly).
    SharedSecret(Arc<[u8]>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Discovery => f.write_str("Discovery"),
            Self::JwksUri(uri) => f.debug_tuple("JwksUri").field(uri).finish(),
            Self::Static(_) => f.write_str("Static(..)"),
            Self::SharedSecret(_) => f.write_str("SharedSecret(<redacted>)"),
        }
    }
}

/// Which JOSE `typ` header values are accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TypPolicy {
    /// RFC 9068: `at+jwt` or `application/at+jwt` only. The default: it stops an ID token or
    /// any other JWT of the issuer from being used as an access token.
    #[default]
    AccessToken,
    /// Also `JWT` and a missing `typ`, for issuers that do not label access tokens.
    Lenient,
}

/// Claims a token must carry beyond `iss`, `exp` and `aud`, which are always required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredClaims(Vec<String>);

impl RequiredClaims {
    /// RFC 9068 §2.2: `sub`, `client_id`, `iat` and `jti` (with `iss`, `exp`, `aud`). The default.
    pub fn rfc9068() -> Self {
        Self::custom(["sub", "client_id", "iat", "jti"])
    }

    /// Only `sub` (with `iss`, `exp`, `aud`), for issuers that omit the rest.
    pub fn minimal() -> Self {
        Self::custom(["sub"])
    }

    /// An explicit list (with `iss`, `exp`, `aud` implied).
    pub fn custom<I, S>(claims: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(claims.into_iter().map(Into::into).collect())
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl Default for RequiredClaims {
    fn default() -> Self {
        Self::rfc9068()
    }
}

/// The algorithms accepted by default: every asymmetric algorithm jsonwebtoken implements.
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Longest clock leeway accepted in configuration.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// One trusted issuer: where its keys come from and which tokens of it are accepted.
///
/// ```
/// use mcp_auth_jwt::{IssuerConfig, RequiredClaims, TypPolicy};
/// use std::time::Duration;
///
/// let auth0 = IssuerConfig::discover("https://tenant.example.auth0.com/")
///     .typ(TypPolicy::Lenient)
///     .required_claims(RequiredClaims::minimal())
///     .leeway(Duration::from_secs(30));
/// assert_eq!(auth0.issuer(), "https://tenant.example.auth0.com/");
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct IssuerConfig {
    pub(crate) issuer: String,
    pub(crate) keys: KeySource,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) typ: TypPolicy,
    pub(crate) required: RequiredClaims,
    pub(crate) leeway: Duration,
}

impl IssuerConfig {
    fn with_source(issuer: &str, keys: KeySource) -> Self {
        Self {
            issuer: issuer.to_owned(),
            keys,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            typ: TypPolicy::default(),
            required: RequiredClaims::default(),
            leeway: Duration::from_secs(60),
        }
    }

    /// An issuer whose JWKS is found by discovery.
    pub fn discover(issuer: &str) -> Self {
        Self::with_source(issuer, KeySource::Discovery)
    }

    /// An issuer whose JWKS is at `jwks_uri`.
    pub fn jwks_uri(issuer: &str, jwks_uri: &str) -> Self {
        Self::with_source(issuer, KeySource::JwksUri(jwks_uri.to_owned()))
    }

    /// An issuer with fixed keys, given as a JWKS document (`{"keys": [...]}`).
    pub fn static_keys(issuer: &str, jwks: serde_json::Value) -> Self {
        Self::with_source(issuer, KeySource::Static(jwks))
    }

    /// An issuer that signs with a shared HMAC secret. HMAC is never accepted otherwise; this
    /// sets the algorithm allowlist to exactly `alg`.
    ///
    /// # Panics
    /// If `alg` is not HS256, HS384 or HS512.
    pub fn shared_secret(issuer: &str, secret: &[u8], alg: Algorithm) -> Self {
        assert!(
            matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512),
            "shared_secret needs an HMAC algorithm"
        );
        let mut config = Self::with_source(issuer, KeySource::SharedSecret(secret.into()));
        config.algorithms = vec![alg];
        config
    }

    /// Restricts the accepted algorithms (intersected with what the key source can verify).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Sets the `typ` policy. Defaults to [`TypPolicy::AccessToken`].
    pub fn typ(mut self, typ: TypPolicy) -> Self {
        self.typ = typ;
        self
    }

    /// Sets the required claims. Defaults to [`RequiredClaims::rfc9068`].
    pub fn required_claims(mut self, required: RequiredClaims) -> Self {
        self.required = required;
        self
    }

    /// Clock leeway for `exp`, `nbf` and `iat`. Defaults to 60 s; at most [`MAX_LEEWAY`].
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}
