//! Client authentication at the token endpoint: `client_secret_basic`, `client_secret_post`
//! and `private_key_jwt` (RFC 7523).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;

use crate::error::{ConfigError, ExchangeError};
use crate::key::PrivateKey;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Lifetime of a client assertion: it is used once, right away.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// A client secret. It has no `Display`, and its `Debug` prints `<redacted>`.
#[derive(Clone)]
pub struct ClientSecret(Arc<str>);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<Arc<str>>) -> Self {
        Self(secret.into())
    }

    /// The secret. Call this only to send it to the token endpoint.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

impl From<&str> for ClientSecret {
    fn from(secret: &str) -> Self {
        Self::new(secret)
    }
}

impl From<String> for ClientSecret {
    fn from(secret: String) -> Self {
        Self::new(secret)
    }
}

/// How this server authenticates to the token endpoint.
///
/// ```
/// use mcp_auth_obo::ClientAuth;
///
/// let auth = ClientAuth::client_secret_basic("mcp-server", "s3cret");
/// assert_eq!(auth.client_id(), "mcp-server");
/// assert_eq!(auth.method(), "client_secret_basic");
/// assert!(!format!("{auth:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct ClientAuth {
    client_id: Arc<str>,
    method: Method,
}

#[derive(Clone)]
enum Method {
    /// The id and secret, form-urlencoded as RFC 6749 §2.3.1 requires before HTTP Basic.
    Basic {
        user: Arc<str>,
        password: Arc<str>,
        secret: ClientSecret,
    },
    Post(ClientSecret),
    PrivateKeyJwt(PrivateKey),
}

/// The credentials one token request carries.
pub(crate) struct Credentials {
    pub(crate) form: Vec<(&'static str, String)>,
    pub(crate) basic: Option<(Arc<str>, Arc<str>)>,
}

impl ClientAuth {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1; both are form-urlencoded
    /// before base64, as the RFC requires).
    pub fn client_secret_basic(client_id: &str, secret: impl Into<ClientSecret>) -> Self {
        let secret = secret.into();
        let (user, password) =
            mcp_auth_fetch::client_basic_credentials(client_id, secret.expose_secret());
        Self {
            client_id: client_id.into(),
            method: Method::Basic {
                user: user.into(),
                password: password.into(),
                secret,
            },
        }
    }

    /// The client id and secret as `client_id` and `client_secret` form parameters.
    pub fn client_secret_post(client_id: &str, secret: impl Into<ClientSecret>) -> Self {
        Self {
            client_id: client_id.into(),
            method: Method::Post(secret.into()),
        }
    }

    /// A JWT client assertion signed with `key` (RFC 7523): `iss` = `sub` = the client id,
    /// `aud` = the token endpoint, a unique `jti`, `iat`, and `exp` a minute later.
    pub fn private_key_jwt(client_id: &str, key: PrivateKey) -> Self {
        Self {
            client_id: client_id.into(),
            method: Method::PrivateKeyJwt(key),
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The `token_endpoint_auth_method` name.
    pub fn method(&self) -> &'static str {
        match self.method {
            Method::Basic { .. } => "client_secret_basic",
            Method::Post(_) => "client_secret_post",
            Method::PrivateKeyJwt(_) => "private_key_jwt",
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.client_id.is_empty() {
            return Err(ConfigError::EmptyClientId);
        }
        match &self.method {
            Method::Basic { secret, .. } | Method::Post(secret)
                if secret.expose_secret().is_empty() =>
            {
                Err(ConfigError::EmptySecret)
            }
            _ => Ok(()),
        }
    }

    /// Posts `form` to `endpoint`, an endpoint of the authorization server that authenticates
    /// clients (the token endpoint, CIBA's backchannel authentication endpoint), with this
    /// client's credentials added: fresh for every call, as an assertion's `jti` is single-use.
    ///
    /// # Errors
    /// The assertion cannot be signed, or the endpoint cannot be reached (a status other than
    /// 2xx is an answer, not an error: OAuth errors come as 400 with a JSON body).
    pub async fn post_form(
        &self,
        fetcher: &mcp_auth_fetch::Fetcher,
        endpoint: &str,
        form: &[(&str, &str)],
        now: SystemTime,
    ) -> Result<mcp_auth_fetch::FetchResponse, ExchangeError> {
        let credentials = self.credentials(endpoint, now)?;
        let mut pairs: Vec<(&str, &str)> = form.to_vec();
        pairs.extend(credentials.form.iter().map(|(k, v)| (*k, v.as_str())));
        let basic = credentials.basic.as_ref().map(|(u, p)| (&**u, &**p));
        fetcher
            .post_form(endpoint, &pairs, basic, &[])
            .await
            .map_err(|e| ExchangeError::from_fetch(e, Duration::ZERO))
    }

    /// The secret, if any: the parser redacts it should the server echo it.
    pub(crate) fn secret(&self) -> Option<&str> {
        match &self.method {
            Method::Basic { secret, .. } | Method::Post(secret) => Some(secret.expose_secret()),
            Method::PrivateKeyJwt(_) => None,
        }
    }

    /// The credentials for one request to `endpoint`.
    pub(crate) fn credentials(
        &self,
        endpoint: &str,
        now: SystemTime,
    ) -> Result<Credentials, ExchangeError> {
        Ok(match &self.method {
            Method::Basic { user, password, .. } => Credentials {
                form: Vec::new(),
                basic: Some((user.clone(), password.clone())),
            },
            Method::Post(secret) => Credentials {
                form: vec![
                    ("client_id", self.client_id.to_string()),
                    ("client_secret", secret.expose_secret().to_owned()),
                ],
                basic: None,
            },
            Method::PrivateKeyJwt(key) => Credentials {
                form: vec![
                    ("client_id", self.client_id.to_string()),
                    ("client_assertion_type", JWT_BEARER_ASSERTION.to_owned()),
                    (
                        "client_assertion",
                        assertion(&self.client_id, key, endpoint, now)?,
                    ),
                ],
                basic: None,
            },
        })
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("ClientAuth");
        s.field("client_id", &self.client_id)
            .field("method", &self.method());
        if let Method::PrivateKeyJwt(key) = &self.method {
            s.field("key", key);
        }
        s.finish_non_exhaustive()
    }
}

#[derive(serde::Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

fn assertion(
    client_id: &str,
    key: &PrivateKey,
    endpoint: &str,
    now: SystemTime,
) -> Result<String, ExchangeError> {
    let iat = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut jti = [0u8; 16];
    aws_lc_rs::rand::fill(&mut jti)
        .map_err(|_| ExchangeError::Misconfigured("no randomness for the assertion jti".into()))?;
    let claims = AssertionClaims {
        iss: client_id,
        sub: client_id,
        aud: endpoint,
        jti: URL_SAFE_NO_PAD.encode(jti),
        iat,
        exp: iat + ASSERTION_LIFETIME.as_secs(),
    };
    let mut header = Header::new(key.jose);
    header.kid = key.kid.clone();
    jsonwebtoken::encode(&header, &claims, &key.key)
        .map_err(|e| ExchangeError::Misconfigured(format!("cannot sign the client assertion: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::tests::ec_jwk;
    use jsonwebtoken::{DecodingKey, Validation};
    use mcp_auth_core::Algorithm;
    use serde_json::Value;

    #[test]
    fn basic_credentials_are_form_encoded_before_base64() {
        let auth = ClientAuth::client_secret_basic("my client:1", "p@ss word/+");
        let creds = auth
            .credentials("https://as/token", SystemTime::now())
            .unwrap();
        let (user, password) = creds.basic.unwrap();
        assert_eq!(&*user, "my+client%3A1");
        assert_eq!(&*password, "p%40ss+word%2F%2B");
        assert!(creds.form.is_empty());
    }

    #[test]
    fn post_credentials_are_form_parameters() {
        let auth = ClientAuth::client_secret_post("c", "s");
        let creds = auth
            .credentials("https://as/token", SystemTime::now())
            .unwrap();
        assert_eq!(
            creds.form,
            [("client_id", "c".into()), ("client_secret", "s".into())]
        );
        assert!(creds.basic.is_none());
    }

    #[test]
    fn secrets_and_keys_never_print() {
        let basic = ClientAuth::client_secret_basic("c", "top-secret-value");
        let post = ClientAuth::client_secret_post("c", "top-secret-value");
        let (jwk, _) = ec_jwk();
        let key = PrivateKey::from_jwk(&jwk).unwrap();
        let printed = format!(
            "{basic:?} {post:?} {key:?} {:?}",
            ClientSecret::new("top-secret-value")
        );
        assert!(!printed.contains("top-secret"), "{printed}");
        assert!(printed.contains("ec-1"));
    }

    #[test]
    fn ec_jwk_assertion_verifies_with_the_public_key() {
        let (jwk, decoding) = ec_jwk();
        let key = PrivateKey::from_jwk(&jwk).unwrap();
        assert_eq!(key.algorithm(), Algorithm::ES256);
        let jwt = assertion("cid", &key, "https://as/token", SystemTime::now()).unwrap();
        let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["https://as/token"]);
        let data = jsonwebtoken::decode::<Value>(&jwt, &decoding, &validation).unwrap();
        assert_eq!(data.header.kid.as_deref(), Some("ec-1"));
        assert_eq!(data.claims["iss"], "cid");
        assert_eq!(data.claims["sub"], "cid");
        let lifetime = data.claims["exp"].as_u64().unwrap() - data.claims["iat"].as_u64().unwrap();
        assert_eq!(lifetime, 60);
    }

    #[test]
    fn rsa_jwk_assertion_verifies_and_inconsistent_keys_are_refused() {
        let jwk = include_str!("tests/rsa_test_key.jwk.json");
        let key = PrivateKey::from_jwk(jwk).unwrap();
        assert_eq!(key.algorithm(), Algorithm::RS256);
        assert_eq!(key.key_id(), Some("rsa-test"));
        let value: Value = serde_json::from_str(jwk).unwrap();
        let decoding = DecodingKey::from_rsa_components(
            value["n"].as_str().unwrap(),
            value["e"].as_str().unwrap(),
        )
        .unwrap();
        let jwt = assertion("cid", &key, "https://as/token", SystemTime::now()).unwrap();
        let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&["https://as/token"]);
        assert!(jsonwebtoken::decode::<Value>(&jwt, &decoding, &validation).is_ok());

        let mut ps = value.clone();
        ps["alg"] = "PS384".into();
        assert_eq!(
            PrivateKey::from_jwk(&ps.to_string()).unwrap().algorithm(),
            Algorithm::PS384
        );
        let mut broken = value.clone();
        broken["d"] = broken["dp"].clone();
        let err = PrivateKey::from_jwk(&broken.to_string())
            .unwrap_err()
            .to_string();
        assert!(err.contains("rejected"), "{err}");
        let mut missing = value;
        missing.as_object_mut().unwrap().remove("qi");
        let err = PrivateKey::from_jwk(&missing.to_string())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`qi`"), "{err}");
    }

    #[test]
    fn empty_ids_and_secrets_are_configuration_errors() {
        assert!(matches!(
            ClientAuth::client_secret_basic("", "s").validate(),
            Err(ConfigError::EmptyClientId)
        ));
        assert!(matches!(
            ClientAuth::client_secret_post("c", "").validate(),
            Err(ConfigError::EmptySecret)
        ));
    }
}
