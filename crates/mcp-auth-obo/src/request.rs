//! What to exchange for: the request a handler makes, and whose token it exchanges.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_auth_core::{BearerToken, Principal, Scopes};
use sha2::{Digest, Sha256};

use crate::error::ExchangeError;

/// The RFC 8693 grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of an OAuth access token (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The token type of a JWT (RFC 8693 §3).
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// Longest `audience`, `resource`, `scope` or token type accepted in a request.
const MAX_PARAMETER_BYTES: usize = 2048;

/// What to exchange the caller's token for, in the shape of Auth0's
/// `getTokenOnBehalfOf(token, { audience, scope })`.
///
/// Name the downstream API with `audience` (a logical name, Auth0 style), `resource` (its URI,
/// RFC 8707 style), or both; at least one is required. `scope` is what the downstream API needs;
/// the granted scope may be narrower (see [`ExchangedToken::narrowed`](crate::ExchangedToken::narrowed)).
///
/// ```
/// use mcp_auth_core::Scopes;
/// use mcp_auth_obo::ExchangeRequest;
///
/// let request = ExchangeRequest {
///     audience: Some("https://api.example.com".into()),
///     scope: Scopes::parse("orders:read"),
///     ..Default::default()
/// };
/// assert_eq!(request, ExchangeRequest::audience("https://api.example.com").scope("orders:read"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExchangeRequest {
    /// `audience`: the logical name of the downstream API.
    pub audience: Option<String>,
    /// `resource`: the URI of the downstream API (absolute, no fragment).
    pub resource: Option<String>,
    /// `scope`: what the downstream API needs. Empty: whatever the server grants by default.
    pub scope: Scopes,
    /// `requested_token_type`; the server's default when `None`.
    pub requested_token_type: Option<String>,
    /// An actor token (RFC 8693 §2.1), for delegation chains.
    pub actor: Option<ActorToken>,
}

impl ExchangeRequest {
    /// A request for a token whose `audience` is `audience`.
    pub fn audience(audience: impl Into<String>) -> Self {
        Self {
            audience: Some(audience.into()),
            ..Self::default()
        }
    }

    /// A request for a token for the resource `resource` (RFC 8707).
    pub fn resource(resource: impl Into<String>) -> Self {
        Self {
            resource: Some(resource.into()),
            ..Self::default()
        }
    }

    /// Sets the scope (space-separated).
    #[must_use]
    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = Scopes::parse(scope);
        self
    }

    /// Sets the requested token type.
    #[must_use]
    pub fn requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.requested_token_type = Some(token_type.into());
        self
    }

    /// Adds an actor token.
    #[must_use]
    pub fn actor(mut self, actor: ActorToken) -> Self {
        self.actor = Some(actor);
        self
    }

    /// The target for logs and audit records: the resource, the audience, or both.
    pub fn target(&self) -> String {
        match (&self.resource, &self.audience) {
            (Some(r), Some(a)) if r != a => format!("{r} (audience {a})"),
            (Some(r), _) => r.clone(),
            (None, Some(a)) => a.clone(),
            (None, None) => String::new(),
        }
    }

    /// Checks the request before anything is sent.
    pub(crate) fn validate(&self) -> Result<(), ExchangeError> {
        let invalid = |m: &'static str| Err(ExchangeError::InvalidRequest(Cow::Borrowed(m)));
        if self.audience.is_none() && self.resource.is_none() {
            return invalid("name the downstream API with `audience` or `resource`");
        }
        if let Some(audience) = &self.audience
            && (audience.is_empty() || audience.len() > MAX_PARAMETER_BYTES)
        {
            return invalid("`audience` must be 1 to 2048 bytes");
        }
        if let Some(resource) = &self.resource {
            if resource.len() > MAX_PARAMETER_BYTES {
                return invalid("`resource` must be at most 2048 bytes");
            }
            // RFC 8707 §2: an absolute URI without a fragment.
            match url::Url::parse(resource) {
                Ok(url) if url.fragment().is_none() && !resource.contains('#') => {}
                Ok(_) => return invalid("`resource` must not contain a fragment"),
                Err(_) => return invalid("`resource` must be an absolute URI"),
            }
        }
        let scope_len = self.scope.iter().map(|s| s.len() + 1).sum::<usize>();
        if scope_len > MAX_PARAMETER_BYTES + 1 {
            return invalid("`scope` must be at most 2048 bytes");
        }
        if let Some(t) = &self.requested_token_type
            && (t.is_empty() || t.len() > MAX_PARAMETER_BYTES)
        {
            return invalid("`requested_token_type` must be 1 to 2048 bytes");
        }
        if let Some(actor) = &self.actor
            && (actor.token_type.is_empty() || actor.token.expose_secret().is_empty())
        {
            return invalid("the actor token and its type must not be empty");
        }
        Ok(())
    }
}

/// An actor token and its type (RFC 8693 §2.1): who acts, when that is not the client itself.
/// Its `Debug` prints a fingerprint only.
#[derive(Clone, PartialEq, Eq)]
pub struct ActorToken {
    /// The token.
    pub token: BearerToken,
    /// Its type, e.g. [`ACCESS_TOKEN_TYPE`] or [`JWT_TOKEN_TYPE`].
    pub token_type: String,
}

impl ActorToken {
    /// An actor token of `token_type`.
    pub fn new(token: BearerToken, token_type: impl Into<String>) -> Self {
        Self {
            token,
            token_type: token_type.into(),
        }
    }
}

impl fmt::Debug for ActorToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorToken")
            .field("token", &self.token)
            .field("token_type", &self.token_type)
            .finish()
    }
}

/// Whose token is exchanged: a verified [`Principal`] (its token and expiry), or a bare
/// [`BearerToken`].
///
/// The subject token's expiry bounds how long an exchanged token is cached, so that no
/// exchanged token outlives the token it was obtained with. A bare token's expiry is read from
/// its `exp` claim when it is a JWT (the authorization server verifies it during the exchange;
/// the claim only ever shortens caching); an opaque token without
/// [`Subject::expires_at`] is exchanged every time.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub(crate) token: &'a BearerToken,
    pub(crate) expires_at: Option<u64>,
}

impl<'a> Subject<'a> {
    /// A bare token; its expiry is read from its `exp` claim if it is a JWT.
    pub fn token(token: &'a BearerToken) -> Self {
        Self {
            token,
            expires_at: jwt_expiry(token.expose_secret()),
        }
    }

    /// Sets the token's expiry (seconds since the Unix epoch).
    #[must_use]
    pub fn expires_at(mut self, exp: u64) -> Self {
        self.expires_at = Some(exp);
        self
    }
}

impl<'a> From<&'a Principal> for Subject<'a> {
    fn from(principal: &'a Principal) -> Self {
        Self {
            token: principal.token(),
            expires_at: (principal.expires_at() > 0).then_some(principal.expires_at()),
        }
    }
}

impl<'a> From<&'a BearerToken> for Subject<'a> {
    fn from(token: &'a BearerToken) -> Self {
        Self::token(token)
    }
}

/// The `exp` of a compact JWS, unverified.
fn jwt_expiry(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (_, payload) = (parts.next()?, parts.next()?);
    if parts.count() != 1 || payload.len() > 64 * 1024 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_u64()
}

/// The cache key of one exchange: a SHA-256 over the subject token's digest, the client and
/// endpoint, the target, the normalised scope set, the requested token type and the actor
/// token's digest. It reveals none of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExchangeKey([u8; 32]);

impl ExchangeKey {
    pub(crate) fn new(
        namespace: &[u8; 32],
        subject: &BearerToken,
        request: &ExchangeRequest,
    ) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"mcp-auth-obo/v1");
        hash.update(namespace);
        hash.update(subject.digest().as_bytes());
        fn field(hash: &mut Sha256, tag: u8, value: Option<&[u8]>) {
            hash.update([tag]);
            match value {
                Some(v) => {
                    hash.update((v.len() as u64).to_be_bytes());
                    hash.update(v);
                }
                None => hash.update(u64::MAX.to_be_bytes()),
            }
        }
        field(&mut hash, 1, request.audience.as_deref().map(str::as_bytes));
        field(&mut hash, 2, request.resource.as_deref().map(str::as_bytes));
        // The scope set is sorted and deduplicated, so equal sets hash equally.
        hash.update([3]);
        hash.update((request.scope.len() as u64).to_be_bytes());
        for scope in request.scope.iter() {
            field(&mut hash, 0, Some(scope.as_bytes()));
        }
        let token_type = request.requested_token_type.as_deref();
        field(&mut hash, 4, token_type.map(str::as_bytes));
        if let Some(actor) = &request.actor {
            field(&mut hash, 5, Some(actor.token.digest().as_bytes()));
            field(&mut hash, 6, Some(actor.token_type.as_bytes()));
        } else {
            field(&mut hash, 5, None);
        }
        Self(hash.finalize().into())
    }

    /// Wraps key bytes (for stores that persist keys).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for ExchangeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExchangeKey({})", URL_SAFE_NO_PAD.encode(&self.0[..9]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: [u8; 32] = [0; 32];

    #[test]
    fn a_target_is_required_and_resources_are_absolute_uris() {
        assert!(ExchangeRequest::default().validate().is_err());
        assert!(ExchangeRequest::audience("api").validate().is_ok());
        assert!(
            ExchangeRequest::resource("https://api/x")
                .validate()
                .is_ok()
        );
        assert!(
            ExchangeRequest::resource("relative/path")
                .validate()
                .is_err()
        );
        assert!(
            ExchangeRequest::resource("https://api/x#frag")
                .validate()
                .is_err()
        );
        assert!(ExchangeRequest::audience("").validate().is_err());
        assert!(
            ExchangeRequest::audience("x".repeat(3000))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn keys_depend_on_subject_target_and_normalised_scope() {
        let t = BearerToken::new("t1");
        let a = ExchangeKey::new(&NS, &t, &ExchangeRequest::audience("api").scope("b a"));
        let same = ExchangeKey::new(&NS, &t, &ExchangeRequest::audience("api").scope("a  b a"));
        assert_eq!(a, same, "scope order and duplicates do not matter");
        let other_scope = ExchangeKey::new(&NS, &t, &ExchangeRequest::audience("api").scope("a"));
        let other_target =
            ExchangeKey::new(&NS, &t, &ExchangeRequest::audience("api2").scope("a b"));
        let as_resource = ExchangeKey::new(&NS, &t, &ExchangeRequest::resource("api").scope("a b"));
        let other_subject = ExchangeKey::new(
            &NS,
            &BearerToken::new("t2"),
            &ExchangeRequest::audience("api").scope("a b"),
        );
        let other_client =
            ExchangeKey::new(&[1; 32], &t, &ExchangeRequest::audience("api").scope("a b"));
        for k in [
            other_scope,
            other_target,
            as_resource,
            other_subject,
            other_client,
        ] {
            assert_ne!(a, k);
        }
        assert!(!format!("{a:?}").contains("t1"));
    }

    #[test]
    fn bare_jwt_subjects_carry_their_expiry() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"exp":1234,"sub":"x"}"#);
        let token = BearerToken::new(format!("e30.{payload}.sig"));
        assert_eq!(Subject::token(&token).expires_at, Some(1234));
        let opaque = BearerToken::new("opaque-token");
        assert_eq!(Subject::token(&opaque).expires_at, None);
        assert_eq!(Subject::token(&opaque).expires_at(9).expires_at, Some(9));
    }

    #[test]
    fn actor_tokens_print_a_fingerprint() {
        let actor = ActorToken::new(BearerToken::new("actor-secret"), ACCESS_TOKEN_TYPE);
        assert!(!format!("{actor:?}").contains("actor-secret"));
    }
}
