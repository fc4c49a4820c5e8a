//! Minting JWTs with any claims and headers, including deliberately broken ones.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::keys::{SigningKey, alg_name, random_bytes};

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Builds one JWT. Start from [`MockIssuer::token`](crate::MockIssuer::token) (an issuer's
/// defaults) or [`TokenBuilder::new`] (nothing preset).
///
/// Defaults from an issuer: header `{"alg", "typ": "at+jwt", "kid"}` of its current key; claims
/// `iss`, `sub: "alice"`, `aud` (the issuer's default audience, if set), `client_id:
/// "test-client"`, `iat` now, `exp` in 5 minutes, a random `jti`.
#[derive(Clone, Debug)]
#[must_use]
pub struct TokenBuilder {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    key: Option<SigningKey>,
    signature: Signature,
}

#[derive(Clone, Debug)]
enum Signature {
    Real,
    None,
    Raw(String),
}

impl TokenBuilder {
    /// An empty token signed by `key`: header `alg` and `kid` from the key, no claims.
    pub fn new(key: &SigningKey) -> Self {
        let mut header = Map::new();
        header.insert("alg".into(), alg_name(key.alg()).into());
        header.insert("typ".into(), "at+jwt".into());
        header.insert("kid".into(), key.kid().into());
        Self {
            header,
            claims: Map::new(),
            key: Some(key.clone()),
            signature: Signature::Real,
        }
    }

    /// A builder that stands for "no token at all" in [`PolicyProbe`](crate::PolicyProbe).
    pub(crate) fn none() -> Self {
        Self {
            header: Map::new(),
            claims: Map::new(),
            key: None,
            signature: Signature::None,
        }
    }

    /// True for [`TokenBuilder::none`].
    pub(crate) fn is_none(&self) -> bool {
        self.key.is_none() && self.header.is_empty() && self.claims.is_empty()
    }

    pub(crate) fn with_defaults(key: &SigningKey, issuer: &str, audience: Option<&str>) -> Self {
        let now = now();
        let mut b = Self::new(key)
            .claim("iss", issuer)
            .claim("sub", "alice")
            .claim("client_id", "test-client")
            .claim("iat", now)
            .claim("exp", now + 300)
            .claim("jti", URL_SAFE_NO_PAD.encode(random_bytes::<12>()));
        if let Some(aud) = audience {
            b = b.claim("aud", aud);
        }
        b
    }

    /// Sets a claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets a header parameter (e.g. `jku`, `jwk`, `crit`).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.into(), value.into());
        self
    }

    /// Removes a header parameter.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Sets `sub`.
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// Sets `aud` to one audience.
    pub fn audience(self, aud: &str) -> Self {
        self.claim("aud", aud)
    }

    /// Sets `aud` to several audiences.
    pub fn audiences(self, auds: &[&str]) -> Self {
        self.claim("aud", json!(auds))
    }

    /// Sets `scope` (space-separated).
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", scope)
    }

    /// Sets `client_id`.
    pub fn client_id(self, client_id: &str) -> Self {
        self.claim("client_id", client_id)
    }

    /// Sets `exp` to now plus `lifetime`.
    pub fn expires_in(self, lifetime: Duration) -> Self {
        self.claim("exp", now() + lifetime.as_secs())
    }

    /// Sets `exp` to `seconds_ago` in the past.
    pub fn expired(self, seconds_ago: u64) -> Self {
        self.claim("exp", now().saturating_sub(seconds_ago))
    }

    /// Sets `typ` in the header (`None` removes it).
    pub fn typ(self, typ: Option<&str>) -> Self {
        match typ {
            Some(t) => self.header("typ", t),
            None => self.without_header("typ"),
        }
    }

    /// Sets `kid` in the header (`None` removes it).
    pub fn kid(self, kid: Option<&str>) -> Self {
        match kid {
            Some(k) => self.header("kid", k),
            None => self.without_header("kid"),
        }
    }

    /// Signs with another key (header `alg` and `kid` follow it).
    pub fn signed_by(mut self, key: &SigningKey) -> Self {
        self.header.insert("alg".into(), alg_name(key.alg()).into());
        self.header.insert("kid".into(), key.kid().into());
        self.key = Some(key.clone());
        self
    }

    /// Produces an unsecured JWT: `alg: none` and an empty signature.
    pub fn unsigned(mut self) -> Self {
        self.header.insert("alg".into(), "none".into());
        self.signature = Signature::None;
        self
    }

    /// Uses `signature` (base64url text) instead of signing.
    pub fn raw_signature(mut self, signature: &str) -> Self {
        self.signature = Signature::Raw(signature.into());
        self
    }

    /// The claims as they stand.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Encodes and signs the token.
    pub fn sign(self) -> String {
        let header = URL_SAFE_NO_PAD.encode(Value::Object(self.header).to_string());
        let claims = URL_SAFE_NO_PAD.encode(Value::Object(self.claims).to_string());
        let message = format!("{header}.{claims}");
        let signature = match (self.signature, &self.key) {
            (Signature::None, _) => String::new(),
            (Signature::Raw(s), _) => s,
            (Signature::Real, Some(key)) => key.sign(message.as_bytes()),
            (Signature::Real, None) => String::new(),
        };
        format!("{message}.{signature}")
    }
}
