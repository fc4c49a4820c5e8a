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

/// Which tenants a multi-tenant issuer admits.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tenants {
    /// Every tenant. Only ever set explicitly: any organisation with an account at the
    /// provider can then obtain tokens this server accepts.
    Any,
    /// These tenant ids only.
    Only(Vec<String>),
}

impl Tenants {
    /// An allow list of tenant ids.
    pub fn only<I, S>(tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::Only(tenants.into_iter().map(Into::into).collect())
    }

    pub(crate) fn admits(&self, tenant: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(ids) => ids.iter().any(|id| id == tenant),
        }
    }
}

/// One trusted issuer: where its keys come from and which tokens of it are accepted.
///
/// The defaults are RFC 9068's; an identity provider that issues other shapes gets a
/// [`Profile`](crate::Profile) (or one of the vendor constructors such as
/// [`IssuerConfig::okta`]), and each relaxation applies to this issuer alone.
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
///
/// let okta = IssuerConfig::okta("https://example.okta.com", "default")
///     .audience("api://default");
/// assert_eq!(okta.issuer(), "https://example.okta.com/oauth2/default");
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
    pub(crate) audiences: Vec<String>,
    pub(crate) accept_missing_audience: bool,
    pub(crate) client_ids: Vec<String>,
    pub(crate) claim_values: Vec<(String, String)>,
    pub(crate) client_id_claims: Vec<String>,
    pub(crate) scope_prefix: Option<String>,
    pub(crate) role_claims: Vec<String>,
    pub(crate) tenants: Option<Tenants>,
    pub(crate) metadata_base: Option<String>,
    pub(crate) profile: crate::Profile,
    pub(crate) introspection: Option<crate::Introspection>,
    pub(crate) dpop: crate::DpopPolicy,
    pub(crate) dpop_nonce: bool,
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
            audiences: Vec::new(),
            accept_missing_audience: false,
            client_ids: Vec::new(),
            claim_values: Vec::new(),
            client_id_claims: vec!["client_id".into(), "azp".into()],
            scope_prefix: None,
            role_claims: Vec::new(),
            tenants: None,
            metadata_base: None,
            profile: crate::Profile::Rfc9068,
            introspection: None,
            dpop: crate::DpopPolicy::default(),
            dpop_nonce: false,
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

    /// Accepts tokens whose `aud` holds `audience`, besides this server's resource identifier:
    /// an Entra App ID URI (`api://…`) or application id, Okta's `api://default`, an Auth0 API
    /// identifier. The protected-resource metadata keeps advertising the resource URL; the
    /// principal (and so the audit record) names the audience that matched.
    ///
    /// Any token of this issuer for that audience is accepted here, so use a value that names
    /// this server alone where the provider allows it.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accepts tokens without any `aud` claim (Amazon Cognito's access tokens). Such tokens
    /// are bound by the client-id allow list instead ([`IssuerConfig::client_ids`], required:
    /// building fails without it) and by the profile's claim checks (`token_use` is `access`).
    pub fn accept_missing_audience(mut self) -> Self {
        self.accept_missing_audience = true;
        self
    }

    /// Admits only tokens issued to these OAuth clients (read from the profile's client-id
    /// claim).
    pub fn client_ids<I, S>(mut self, client_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client_ids
            .extend(client_ids.into_iter().map(Into::into));
        self
    }

    /// Requires the string claim `name` to equal `value` (e.g. Cognito's `token_use` =
    /// `access`, Keycloak's payload `typ` = `Bearer`), which tells access tokens from ID tokens
    /// where the header does not.
    pub fn require_claim_value(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.claim_values.push((name.into(), value.into()));
        self
    }

    /// The claims naming the OAuth client, first present wins. Defaults to `client_id`, then
    /// `azp`.
    pub fn client_id_claims(mut self, claims: &[&str]) -> Self {
        self.client_id_claims = claims.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// Strips this prefix from granted scopes (Cognito spells custom scopes
    /// `<resource-server-id>/<scope>`; give the resource-server id, the `/` is implied), so
    /// policies name `tools:read` whatever the provider calls it. Scopes without the prefix
    /// are kept as they are.
    pub fn scope_prefix(mut self, prefix: impl Into<String>) -> Self {
        let mut prefix = prefix.into();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        self.scope_prefix = Some(prefix);
        self
    }

    /// Claims holding roles, groups or permissions (strings or arrays of strings; a dotted
    /// path such as `realm_access.roles` reaches into objects), collected into
    /// [`Principal::roles`](mcp_auth_core::Principal::roles).
    pub fn role_claims(mut self, claims: &[&str]) -> Self {
        self.role_claims = claims.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// Makes this a multi-tenant issuer: the issuer identifier is a template holding
    /// `{tenantid}`, a token's `iss` must be the template filled with the token's own `tid`,
    /// and that tenant must be admitted. See [`IssuerConfig::multi_tenant`].
    pub fn tenants(mut self, tenants: Tenants) -> Self {
        self.tenants = Some(tenants);
        self
    }

    /// Verifies this issuer's opaque (non-JWT) access tokens by introspection (RFC 7662). At
    /// most one issuer of a verifier may have it: an opaque token names no issuer, and is
    /// never sent to more than one. JWTs of the issuer are still verified locally.
    pub fn introspection(mut self, introspection: crate::Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// Whether this issuer's tokens may, or must, come with DPoP proofs. Defaults to
    /// [`DpopPolicy::Allowed`](crate::DpopPolicy::Allowed). A DPoP-bound token is never accepted
    /// as a bearer token, whatever this says.
    pub fn dpop(mut self, policy: crate::DpopPolicy) -> Self {
        self.dpop = policy;
        self
    }

    /// Requires DPoP proofs for this issuer's tokens to carry a current server nonce (RFC 9449
    /// §8): a proof without one is answered 401 `use_dpop_nonce` with a fresh nonce in
    /// `DPoP-Nonce`, and the client retries. Limits how long a proof made in advance stays
    /// usable. Off by default.
    pub fn require_dpop_nonce(mut self) -> Self {
        self.dpop_nonce = true;
        self
    }

    /// Reads the issuer's metadata from under `base` instead of under the issuer identifier;
    /// the document's `issuer` must still equal the configured issuer exactly.
    pub fn metadata_from(mut self, base: impl Into<String>) -> Self {
        self.metadata_base = Some(base.into());
        self
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where the keys come from.
    pub fn key_source(&self) -> &KeySource {
        &self.keys
    }

    /// Where the issuer's metadata is discovered: the configured base, else the issuer.
    pub fn metadata_location(&self) -> &str {
        self.metadata_base.as_deref().unwrap_or(&self.issuer)
    }

    /// The audiences accepted besides the resource identifier.
    pub fn accepted_audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The profile applied (RFC 9068 unless one was chosen).
    pub fn profile_name(&self) -> crate::Profile {
        self.profile
    }
}
