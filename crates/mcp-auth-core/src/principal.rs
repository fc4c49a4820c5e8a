//! The verified caller of a request.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::{BearerToken, Scopes};

/// Who is calling: the result of verifying a bearer token, placed in the request extensions by
/// the verification layer and read by every later layer and by handlers.
///
/// Cloning is a reference-count increment. `Debug` never prints the raw token, only its
/// fingerprint.
///
/// ```
/// use mcp_auth_core::{BearerToken, Principal, Scopes};
///
/// let principal = Principal::builder("https://issuer.example", "alice", BearerToken::new("t"))
///     .client_id("https://client.example/metadata.json")
///     .scopes(Scopes::parse("files:read"))
///     .expires_at(4_102_444_800)
///     .build();
/// assert_eq!(principal.subject(), "alice");
/// assert!(!principal.acts_for_itself());
/// assert!(principal.scopes().contains("files:read"));
/// assert!(!format!("{principal:?}").contains("\"t\""));
/// ```
#[derive(Clone)]
pub struct Principal(Arc<Inner>);

struct Inner {
    issuer: String,
    subject: String,
    client_id: Option<String>,
    /// Set by an issuer's rules for telling client-credentials tokens apart; `None`: compare
    /// the subject with the client id.
    client_itself: Option<bool>,
    scopes: Scopes,
    audiences: Vec<String>,
    audience: Option<String>,
    roles: Vec<String>,
    key_binding: Option<KeyBinding>,
    expires_at: u64,
    issued_at: Option<u64>,
    token_id: Option<String>,
    actor: Option<Actor>,
    claims: Map<String, Value>,
    token: BearerToken,
}

impl Principal {
    /// Starts a principal for `subject` at `issuer`, authenticated by `token`.
    pub fn builder(
        issuer: impl Into<String>,
        subject: impl Into<String>,
        token: BearerToken,
    ) -> PrincipalBuilder {
        PrincipalBuilder(Inner {
            issuer: issuer.into(),
            subject: subject.into(),
            client_id: None,
            client_itself: None,
            scopes: Scopes::empty(),
            audiences: Vec::new(),
            audience: None,
            roles: Vec::new(),
            key_binding: None,
            expires_at: 0,
            issued_at: None,
            token_id: None,
            actor: None,
            claims: Map::new(),
            token,
        })
    }

    /// The token's `iss`.
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The token's `sub`: the user (or, for client-credentials tokens, the client).
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The OAuth client the token was issued to (by default from `client_id`, else `azp`; an
    /// issuer's profile may name another claim, such as Okta's `cid` or Entra's `appid`).
    pub fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }

    /// True when the token acts for the client itself, with no end user behind it (the client
    /// credentials grant). By default its subject is its own client id, as RFC 9068 §2.2 has
    /// it; identity providers that write another subject into such tokens (Auth0
    /// `<client>@clients`, Entra's service principal, Keycloak's service-account user) are
    /// recognised by their issuer's profile, which sets this through
    /// [`PrincipalBuilder::acts_for_itself`]. Policies that need a person, and audit, tell the
    /// two apart with this.
    pub fn acts_for_itself(&self) -> bool {
        self.0
            .client_itself
            .unwrap_or_else(|| self.0.client_id.as_deref() == Some(self.0.subject.as_str()))
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &Scopes {
        &self.0.scopes
    }

    /// The token's audiences (`aud`).
    pub fn audiences(&self) -> &[String] {
        &self.0.audiences
    }

    /// The audience value that admitted the token: this server's resource identifier, or one
    /// of the issuer's accepted audiences. `None` when the issuer is configured to accept
    /// tokens without `aud` and this one had none.
    pub fn audience(&self) -> Option<&str> {
        self.0.audience.as_deref()
    }

    /// Roles, groups or permissions the token carries, from the claims the issuer's profile
    /// names (`permissions`, `roles`, `groups`, `realm_access.roles`, `cognito:groups`, ...).
    /// Empty when none are configured or present.
    pub fn roles(&self) -> &[String] {
        &self.0.roles
    }

    /// The key the token is bound to (its `cnf` claim), when it is sender-constrained. Such a
    /// token was accepted only with a proof of possession of that key.
    pub fn key_binding(&self) -> Option<&KeyBinding> {
        self.0.key_binding.as_ref()
    }

    /// Expiry (`exp`), seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.0.expires_at
    }

    /// Issue time (`iat`), seconds since the Unix epoch, when present.
    pub fn issued_at(&self) -> Option<u64> {
        self.0.issued_at
    }

    /// The token's `jti`, when present.
    pub fn token_id(&self) -> Option<&str> {
        self.0.token_id.as_deref()
    }

    /// The acting party (`act`, RFC 8693 §4.1) when the token was obtained by delegation.
    pub fn actor(&self) -> Option<&Actor> {
        self.0.actor.as_ref()
    }

    /// Every claim of the token, for handlers that need more than the fields above.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.0.claims
    }

    /// One claim by name.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.0.claims.get(name)
    }

    /// The strings a claim path leads to (see [`claim_strings`]).
    pub fn claim_strings(&self, path: &str) -> impl Iterator<Item = &str> {
        claim_strings(&self.0.claims, path)
    }

    /// The bearer token the caller presented. See [`BearerToken`] for when exposing it is right.
    pub fn token(&self) -> &BearerToken {
        &self.0.token
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.0;
        f.debug_struct("Principal")
            .field("issuer", &p.issuer)
            .field("subject", &p.subject)
            .field("client_id", &p.client_id)
            .field("scopes", &p.scopes)
            .field("audiences", &p.audiences)
            .field("audience", &p.audience)
            .field("roles", &p.roles)
            .field("key_binding", &p.key_binding)
            .field("expires_at", &p.expires_at)
            .field("actor", &p.actor)
            .field("token", &p.token)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Principal`]; see [`Principal::builder`].
#[must_use]
pub struct PrincipalBuilder(Inner);

impl PrincipalBuilder {
    /// Sets the client id.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.0.client_id = Some(client_id.into());
        self
    }

    /// Says whether the token acts for the client itself (no end user), overriding the default
    /// rule of [`Principal::acts_for_itself`].
    pub fn acts_for_itself(mut self, itself: bool) -> Self {
        self.0.client_itself = Some(itself);
        self
    }

    /// Sets the granted scopes.
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.0.scopes = scopes;
        self
    }

    /// Sets the audiences.
    pub fn audiences(mut self, audiences: Vec<String>) -> Self {
        self.0.audiences = audiences;
        self
    }

    /// Sets the audience that admitted the token.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.0.audience = Some(audience.into());
        self
    }

    /// Sets the roles, groups or permissions.
    pub fn roles(mut self, roles: Vec<String>) -> Self {
        self.0.roles = roles;
        self
    }

    /// Sets the key the token is bound to.
    pub fn key_binding(mut self, binding: KeyBinding) -> Self {
        self.0.key_binding = Some(binding);
        self
    }

    /// Sets the expiry (seconds since the Unix epoch).
    pub fn expires_at(mut self, exp: u64) -> Self {
        self.0.expires_at = exp;
        self
    }

    /// Sets the issue time (seconds since the Unix epoch).
    pub fn issued_at(mut self, iat: u64) -> Self {
        self.0.issued_at = Some(iat);
        self
    }

    /// Sets the token id (`jti`).
    pub fn token_id(mut self, jti: impl Into<String>) -> Self {
        self.0.token_id = Some(jti.into());
        self
    }

    /// Sets the acting party.
    pub fn actor(mut self, actor: Actor) -> Self {
        self.0.actor = Some(actor);
        self
    }

    /// Sets all claims.
    pub fn claims(mut self, claims: Map<String, Value>) -> Self {
        self.0.claims = claims;
        self
    }

    /// Finishes the principal.
    pub fn build(self) -> Principal {
        Principal(Arc::new(self.0))
    }
}

/// An acting party from an `act` claim (RFC 8693 §4.1): who is acting on the subject's behalf.
/// Nested actors form the delegation chain, most recent first.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Actor {
    /// The actor's `sub`.
    pub subject: String,
    /// The actor's `iss`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The actor's `client_id`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The party that acted before this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Box<Actor>>,
}

impl Actor {
    /// Deepest nesting read from a claim; a longer chain is cut here rather than recursing
    /// without bound on hostile input.
    pub const MAX_DEPTH: usize = 16;

    /// Reads an `act` claim value. Returns `None` when it is not an object with a string `sub`.
    pub fn from_claim(value: &Value) -> Option<Actor> {
        Self::from_claim_at(value, 0)
    }

    fn from_claim_at(value: &Value, depth: usize) -> Option<Actor> {
        let object = value.as_object()?;
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let actor = if depth + 1 < Self::MAX_DEPTH {
            object
                .get("act")
                .and_then(|v| Self::from_claim_at(v, depth + 1))
                .map(Box::new)
        } else {
            None
        };
        Some(Actor {
            subject: text("sub")?,
            issuer: text("iss"),
            client_id: text("client_id"),
            actor,
        })
    }

    /// The chain of actors, this one first.
    pub fn chain(&self) -> impl Iterator<Item = &Actor> {
        std::iter::successors(Some(self), |a| a.actor.as_deref())
    }
}

/// The strings at `path` in `claims`: one string, or the strings of an array (other values are
/// skipped). `path` is a JSON pointer (`/realm_access/roles`, `/resource_access/my-api/roles`),
/// or a claim name matched whole first (a namespaced claim such as `https://example.com/roles`
/// holds dots and slashes) and otherwise read as a dotted path (`realm_access.roles`).
///
/// ```
/// use mcp_auth_core::claim_strings;
///
/// let claims = serde_json::json!({
///     "realm_access": {"roles": ["manager", 7]},
///     "https://example.com/roles": "cfo",
/// });
/// let claims = claims.as_object().unwrap();
/// assert_eq!(claim_strings(claims, "/realm_access/roles").collect::<Vec<_>>(), ["manager"]);
/// assert_eq!(claim_strings(claims, "realm_access.roles").collect::<Vec<_>>(), ["manager"]);
/// assert_eq!(claim_strings(claims, "https://example.com/roles").collect::<Vec<_>>(), ["cfo"]);
/// ```
pub fn claim_strings<'a>(
    claims: &'a Map<String, Value>,
    path: &str,
) -> impl Iterator<Item = &'a str> + use<'a> {
    let value = if let Some(pointer) = path.strip_prefix('/') {
        let mut parts = pointer
            .split('/')
            .map(|p| p.replace("~1", "/").replace("~0", "~"));
        parts
            .next()
            .and_then(|first| claims.get(&first))
            .and_then(|first| parts.try_fold(first, |value, part| value.get(&part)))
    } else {
        claims.get(path).or_else(|| {
            let mut parts = path.split('.');
            let first = claims.get(parts.next()?)?;
            parts.try_fold(first, |value, part| value.get(part))
        })
    };
    let (one, many) = match value {
        Some(Value::String(s)) => (Some(s.as_str()), None),
        Some(Value::Array(items)) => (None, Some(items.iter().filter_map(Value::as_str))),
        _ => (None, None),
    };
    one.into_iter().chain(many.into_iter().flatten())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_prints_the_fingerprint_not_the_token() {
        let p = Principal::builder("iss", "sub", BearerToken::new("raw-secret-value")).build();
        let printed = format!("{p:?}");
        assert!(!printed.contains("raw-secret-value"), "{printed}");
        assert!(printed.contains("sha256:"));
    }

    #[test]
    fn reads_nested_actor_chains() {
        let act = json!({"sub": "svc-b", "act": {"sub": "svc-a", "iss": "https://as"}});
        let actor = Actor::from_claim(&act).unwrap();
        let chain: Vec<_> = actor.chain().map(|a| a.subject.as_str()).collect();
        assert_eq!(chain, ["svc-b", "svc-a"]);
        assert_eq!(
            actor.actor.as_ref().unwrap().issuer.as_deref(),
            Some("https://as")
        );
    }

    #[test]
    fn rejects_actor_without_subject() {
        assert!(Actor::from_claim(&json!({"iss": "x"})).is_none());
        assert!(Actor::from_claim(&json!("svc")).is_none());
    }

    #[test]
    fn deep_actor_chains_are_cut() {
        let mut v = json!({"sub": "leaf"});
        for i in 0..1000 {
            v = json!({"sub": format!("a{i}"), "act": v});
        }
        let actor = Actor::from_claim(&v).unwrap();
        assert_eq!(actor.chain().count(), Actor::MAX_DEPTH);
    }
}

/// How a sender-constrained token is bound to a key (its `cnf` claim, RFC 7800).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyBinding {
    /// DPoP (RFC 9449 §6): `cnf.jkt`, the base64url SHA-256 JWK thumbprint (RFC 7638) of the key
    /// every proof must be signed with.
    Dpop {
        /// The thumbprint.
        jkt: String,
    },
    /// Mutual TLS (RFC 8705 §3.1): `cnf.x5t#S256`, the base64url SHA-256 thumbprint of the
    /// client certificate.
    Certificate {
        /// The thumbprint.
        x5t_s256: String,
    },
}

impl fmt::Display for KeyBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dpop { jkt } => write!(f, "dpop:{jkt}"),
            Self::Certificate { x5t_s256 } => write!(f, "mtls:{x5t_s256}"),
        }
    }
}
