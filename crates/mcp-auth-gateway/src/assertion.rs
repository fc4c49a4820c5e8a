//! Identity assertions: short-lived JWTs the gateway signs so that a server behind it knows who
//! is calling without an authorization server of its own, verifying them with the gateway's
//! JWKS.
//!
//! Claims: `iss` (the gateway), `aud` (the upstream), `sub` (the caller's subject), `idp` (the
//! issuer that authenticated the caller; `sub` is unique only within it), `client_id`,
//! `scope` (granted scopes), `roles` (when the token had any), `iat`, `exp`, `jti`. Header:
//! `alg`, `kid`, `typ: JWT`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcp_auth::Principal;
use mcp_auth::core::Algorithm;
use mcp_auth::obo::PrivateKey;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::ConfigError;

/// `[identity_assertion]`: the key and issuer of the assertions routes send.
///
/// ```toml
/// [identity_assertion]
/// issuer = "https://gateway.example.com"
/// key_file = "gateway-key.pem"   # PEM (alg below) or a private JWK
/// alg = "ES256"
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityAssertionEntry {
    /// The assertions' `iss` (default: the origin of the first route's resource).
    #[serde(default)]
    pub issuer: Option<String>,
    /// The signing key, PEM or private JWK. Without it a fresh ES256 key is made at start: fine
    /// for one gateway, but replicas behind one name need the same key.
    #[serde(default)]
    pub key_file: Option<String>,
    /// The algorithm of a PEM key (default ES256).
    #[serde(default)]
    pub alg: Option<Algorithm>,
    /// The key id published and put in the header (default: the key's thumbprint).
    #[serde(default)]
    pub kid: Option<String>,
    /// Lifetime of an assertion in seconds (default 60, at most 600).
    #[serde(default)]
    pub lifetime_s: Option<u64>,
    /// Where the JWKS is served (default `/.well-known/jwks.json`).
    #[serde(default)]
    pub jwks_path: Option<String>,
}

/// Signs identity assertions and publishes the key that verifies them.
#[derive(Clone)]
pub struct IdentityAssertions {
    inner: Arc<Inner>,
}

struct Inner {
    key: PrivateKey,
    kid: String,
    issuer: String,
    lifetime: Duration,
    jwks: Value,
    jwks_path: String,
    /// Assertions already signed, per (token, audience): reused for half their lifetime, so a
    /// busy caller costs one signature per half-lifetime, not one per request.
    cache: quick_cache::sync::Cache<AssertionKey, SignedAssertion>,
}

/// (the caller's token, the audience).
type AssertionKey = (Arc<str>, Arc<str>);
/// (the JWT, when to sign a new one).
type SignedAssertion = (Arc<str>, SystemTime);

impl std::fmt::Debug for IdentityAssertions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityAssertions")
            .field("issuer", &self.inner.issuer)
            .field("kid", &self.inner.kid)
            .field("lifetime", &self.inner.lifetime)
            .finish_non_exhaustive()
    }
}

impl IdentityAssertions {
    /// Reads the key (or makes one) as `entry` says. `default_issuer` is used when the entry
    /// names none; `base` is the directory `key_file` is relative to.
    ///
    /// # Errors
    /// A key that cannot be read or cannot sign, a lifetime out of bounds.
    pub fn from_entry(
        entry: &IdentityAssertionEntry,
        default_issuer: &str,
        base: &Path,
    ) -> Result<Self, ConfigError> {
        let key = match &entry.key_file {
            Some(file) => {
                let path = base.join(file);
                let contents = std::fs::read(&path).map_err(|e| {
                    ConfigError::value(
                        "identity_assertion.key_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                PrivateKey::from_pem_or_jwk(&contents, entry.alg.unwrap_or(Algorithm::ES256))
                    .map_err(|e| ConfigError::value("identity_assertion.key_file", e))?
            }
            None => {
                tracing::warn!(
                    "no [identity_assertion] key_file: signing with a key made now; replicas \
                     of this gateway will not verify each other's assertions"
                );
                PrivateKey::generate_es256()
                    .map_err(|e| ConfigError::value("identity_assertion", e))?
            }
        };
        let lifetime = entry.lifetime_s.unwrap_or(60);
        if !(1..=600).contains(&lifetime) {
            return Err(ConfigError::value(
                "identity_assertion.lifetime_s",
                "must be between 1 and 600 seconds",
            ));
        }
        let jwks_path = entry
            .jwks_path
            .clone()
            .unwrap_or_else(|| "/.well-known/jwks.json".into());
        if !jwks_path.starts_with('/') {
            return Err(ConfigError::value(
                "identity_assertion.jwks_path",
                "must be a path starting with `/`",
            ));
        }
        let issuer = entry
            .issuer
            .clone()
            .unwrap_or_else(|| default_issuer.to_owned());
        Ok(Self::new(
            key,
            entry.kid.clone(),
            issuer,
            lifetime,
            jwks_path,
        ))
    }

    fn new(
        key: PrivateKey,
        kid: Option<String>,
        issuer: String,
        lifetime_s: u64,
        jwks_path: String,
    ) -> Self {
        let kid = kid
            .or_else(|| key.key_id().map(str::to_owned))
            .unwrap_or_else(|| key.thumbprint());
        let mut public = key.public_jwk().clone();
        public.insert("kid".into(), Value::String(kid.clone()));
        public.insert("alg".into(), Value::String(key.algorithm().name().into()));
        public.insert("use".into(), Value::String("sig".into()));
        Self {
            inner: Arc::new(Inner {
                key,
                kid,
                issuer,
                lifetime: Duration::from_secs(lifetime_s),
                jwks: json!({ "keys": [public] }),
                jwks_path,
                cache: quick_cache::sync::Cache::new(10_000),
            }),
        }
    }

    /// The JWKS document that verifies the assertions.
    pub fn jwks(&self) -> &Value {
        &self.inner.jwks
    }

    /// Where the gateway serves [`jwks`](Self::jwks).
    pub fn jwks_path(&self) -> &str {
        &self.inner.jwks_path
    }

    /// The assertions' issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// An assertion about `principal` for `audience`: a recent one when still fresh, else a
    /// new one.
    ///
    /// # Errors
    /// The key refused to sign (a broken key is found at start, so practically never).
    pub fn assert(&self, principal: &Principal, audience: &Arc<str>) -> Result<Arc<str>, String> {
        let now = SystemTime::now();
        let key = (principal.token().shared_secret(), audience.clone());
        if let Some((jwt, renew_at)) = self.inner.cache.get(&key)
            && now < renew_at
        {
            return Ok(jwt);
        }
        let iat = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        // Never outlive the token it stands for.
        let exp = (iat + self.inner.lifetime.as_secs()).min(principal.expires_at());
        let mut claims = json!({
            "iss": self.inner.issuer,
            "aud": audience.as_ref(),
            "sub": principal.subject(),
            "idp": principal.issuer(),
            "scope": principal.scopes().to_string(),
            "iat": iat,
            "exp": exp,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(client) = principal.client_id() {
            claims["client_id"] = Value::String(client.to_owned());
        }
        if !principal.roles().is_empty() {
            claims["roles"] = json!(principal.roles());
        }
        let header = json!({
            "alg": self.inner.key.algorithm().name(),
            "kid": self.inner.kid,
            "typ": "JWT",
        });
        let jwt: Arc<str> = self
            .inner
            .key
            .sign_jws(&header, &claims)
            .map_err(|e| e.to_string())?
            .into();
        let renew_at = now + Duration::from_secs(exp.saturating_sub(iat) / 2);
        self.inner.cache.insert(key, (jwt.clone(), renew_at));
        Ok(jwt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_auth::BearerToken;

    /// Verifies with the published JWK alone, as a server behind the gateway would.
    fn verify(jwt: &str, jwks: &Value, issuer: &str, audience: &str) -> Value {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        jsonwebtoken::decode::<Value>(jwt, &key, &validation)
            .expect("the assertion verifies with the published key")
            .claims
    }

    fn principal(token: &str, exp: u64) -> Principal {
        Principal::builder("https://idp.example.com", "alice", BearerToken::new(token))
            .client_id("https://client.example.com/cimd.json")
            .scopes(mcp_auth::Scopes::parse("mcp:read mcp:write"))
            .expires_at(exp)
            .build()
    }

    fn assertions(kid: Option<&str>, lifetime: u64) -> IdentityAssertions {
        IdentityAssertions::new(
            PrivateKey::generate_es256().unwrap(),
            kid.map(str::to_owned),
            "https://gw.example.com".into(),
            lifetime,
            "/.well-known/jwks.json".into(),
        )
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn an_assertion_names_the_caller_and_verifies_with_the_jwks() {
        let assertions = assertions(None, 60);
        let audience: Arc<str> = "http://127.0.0.1:3000/mcp".into();
        let jwt = assertions
            .assert(&principal("raw token 1", now() + 3600), &audience)
            .unwrap();
        let claims = verify(&jwt, assertions.jwks(), "https://gw.example.com", &audience);
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["idp"], "https://idp.example.com");
        assert_eq!(claims["client_id"], "https://client.example.com/cimd.json");
        assert_eq!(claims["scope"], "mcp:read mcp:write");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            60
        );
        // Spaces never occur in a JWT: the raw token is nowhere in it.
        assert!(!jwt.contains("raw token"));
        // Reused while fresh; another token gets its own.
        let again = assertions
            .assert(&principal("raw token 1", now() + 3600), &audience)
            .unwrap();
        assert_eq!(again, jwt);
        let other = assertions
            .assert(&principal("raw token 2", now() + 3600), &audience)
            .unwrap();
        assert_ne!(other, jwt);
        // A key that did not sign it does not verify it.
        let stranger = self::assertions(None, 60);
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(stranger.jwks()["keys"][0].clone()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&[audience.as_ref()]);
        assert!(
            jsonwebtoken::decode::<Value>(
                jwt.as_bytes(),
                &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
                &validation
            )
            .is_err()
        );
    }

    #[test]
    fn an_assertion_never_outlives_its_token() {
        let assertions = assertions(Some("k1"), 600);
        let exp = now() + 10;
        let jwt = assertions
            .assert(&principal("t", exp), &"aud".into())
            .unwrap();
        let claims = verify(&jwt, assertions.jwks(), "https://gw.example.com", "aud");
        assert!(claims["exp"].as_u64().unwrap() <= exp);
        assert_eq!(assertions.jwks()["keys"][0]["kid"], "k1");
    }
}
