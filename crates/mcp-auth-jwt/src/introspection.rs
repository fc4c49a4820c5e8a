//! Token introspection (RFC 7662): how a resource server learns what an opaque access token
//! means, by asking the issuer.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mcp_auth_core::AuthError;
use mcp_auth_fetch::{FetchError, Fetcher};
use serde_json::{Map, Value};

use crate::jwks::clip;

/// Introspection of an issuer's opaque access tokens (RFC 7662), as a confidential client of
/// that issuer.
///
/// Tokens that are not JWTs go to the one issuer configured with introspection (never to more
/// than one: a token is never shown to a server that did not issue it). The answer's `aud`,
/// `scope`, `client_id`, `sub` and `exp` go through the same checks and mappings as a JWT's
/// claims; `active: false` is 401, an endpoint that cannot answer is 503. Answers are cached
/// until the token's `exp` (or [`Introspection::cache_for`], if shorter), keyed like verified
/// JWTs, in the same bounded cache.
///
/// ```
/// use mcp_auth_jwt::{Introspection, IssuerConfig};
///
/// let issuer = IssuerConfig::discover("https://example.okta.com")
///     .introspection(Introspection::client_secret_basic("mcp-server", "s3cret"));
/// assert!(!format!("{issuer:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
#[must_use]
pub struct Introspection {
    pub(crate) endpoint: Option<String>,
    client_id: String,
    secret: Arc<str>,
    basic: bool,
    pub(crate) cache_for: Option<Duration>,
}

impl Introspection {
    /// Authenticates with HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1).
    pub fn client_secret_basic(client_id: &str, secret: &str) -> Self {
        Self::new(client_id, secret, true)
    }

    /// Authenticates with `client_id` and `client_secret` in the form (`client_secret_post`).
    pub fn client_secret_post(client_id: &str, secret: &str) -> Self {
        Self::new(client_id, secret, false)
    }

    fn new(client_id: &str, secret: &str, basic: bool) -> Self {
        Self {
            endpoint: None,
            client_id: client_id.to_owned(),
            secret: secret.into(),
            basic,
            cache_for: None,
        }
    }

    /// The introspection endpoint. Without it, the issuer's metadata names it
    /// (`introspection_endpoint`).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Caches an answer for at most this long (default: until the token expires). Shorter
    /// means revocations are seen sooner, at the price of more requests to the issuer.
    pub fn cache_for(mut self, longest: Duration) -> Self {
        self.cache_for = Some(longest);
        self
    }

    /// Asks `endpoint` about `token`.
    pub(crate) async fn ask(
        &self,
        fetcher: &Fetcher,
        endpoint: &str,
        token: &str,
    ) -> Result<Map<String, Value>, IntrospectionFailure> {
        let mut form = vec![("token", token), ("token_type_hint", "access_token")];
        let basic = self
            .basic
            .then(|| mcp_auth_fetch::client_basic_credentials(&self.client_id, &self.secret));
        if !self.basic {
            form.push(("client_id", &self.client_id));
            form.push(("client_secret", &self.secret));
        }
        let response = fetcher
            .post_form(
                endpoint,
                &form,
                basic.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
                &[],
            )
            .await
            .map_err(IntrospectionFailure::Fetch)?;
        if !response.status().is_success() {
            return Err(IntrospectionFailure::Status(response.status().as_u16()));
        }
        match response.json::<Value>() {
            Ok(Value::Object(answer)) => Ok(answer),
            Ok(_) => Err(IntrospectionFailure::Answer(
                "the answer is not a JSON object".into(),
            )),
            Err(e) => Err(IntrospectionFailure::Answer(e.to_string())),
        }
    }
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field(
                "auth",
                &if self.basic {
                    "client_secret_basic"
                } else {
                    "client_secret_post"
                },
            )
            .field("cache_for", &self.cache_for)
            .finish_non_exhaustive()
    }
}

/// Why the issuer could not say what a token means (always the server's problem, never the
/// client's: answered with 503).
#[derive(Debug)]
pub(crate) enum IntrospectionFailure {
    Fetch(FetchError),
    Status(u16),
    Answer(String),
}

impl fmt::Display for IntrospectionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fetch(e) => write!(f, "{e}"),
            Self::Status(401 | 403) => {
                f.write_str("the introspection endpoint refused this server's client credentials")
            }
            Self::Status(status) => write!(f, "the introspection endpoint answered {status}"),
            Self::Answer(why) => write!(f, "the introspection answer is unusable: {why}"),
        }
    }
}

/// The claims an active token's introspection answer stands for, or why the token is refused.
///
/// `iss`, when the answer names one, must be the issuer asked; without one, it is that issuer.
/// Without `sub`, the client is the subject.
pub(crate) fn claims_of(
    mut answer: Map<String, Value>,
    issuer: &str,
) -> Result<Map<String, Value>, AuthError> {
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(AuthError::invalid_token(
            "inactive",
            "token is not active (the issuer's introspection says so: revoked, expired or unknown)"
                .to_owned(),
        ));
    }
    match answer.get("iss") {
        None => {
            answer.insert("iss".into(), issuer.into());
        }
        Some(Value::String(iss)) if iss == issuer => {}
        Some(other) => {
            return Err(AuthError::invalid_token(
                "untrusted_issuer",
                format!(
                    "the introspection answer names issuer `{}`, not `{issuer}`",
                    clip(&other.to_string())
                ),
            ));
        }
    }
    if let Some(kind) = answer.get("token_type").and_then(Value::as_str)
        && !(kind.eq_ignore_ascii_case("bearer") || kind.eq_ignore_ascii_case("access_token"))
    {
        return Err(AuthError::invalid_token(
            "wrong_token_kind",
            format!(
                "the issuer says this is a `{}` token, not a bearer access token",
                clip(kind)
            ),
        ));
    }
    // A client's own token (client credentials) names no `sub`; the client is the subject,
    // as RFC 9068 §2.2 has it for JWTs.
    if !answer.contains_key("sub")
        && let Some(client) = answer.get("client_id").cloned()
    {
        answer.insert("sub".into(), client);
    }
    answer.remove("active");
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn only_active_answers_from_the_issuer_stand_for_claims() {
        let issuer = "https://as.example";
        let claims = claims_of(answer(json!({"active": true, "sub": "a"})), issuer).unwrap();
        assert_eq!(claims["iss"], issuer);
        assert!(!claims.contains_key("active"));
        for (bad, reason) in [
            (json!({"active": false}), "inactive"),
            (json!({}), "inactive"),
            (json!({"active": "true"}), "inactive"),
            (
                json!({"active": true, "iss": "https://other.example"}),
                "untrusted_issuer",
            ),
            (
                json!({"active": true, "token_type": "refresh_token"}),
                "wrong_token_kind",
            ),
        ] {
            assert_eq!(
                claims_of(answer(bad.clone()), issuer).unwrap_err().reason(),
                reason,
                "{bad}"
            );
        }
    }

    #[test]
    fn the_secret_never_prints() {
        let i = Introspection::client_secret_post("rs", "hunter2").endpoint("https://as/i");
        let shown = format!("{i:?}");
        assert!(shown.contains("client_secret_post") && !shown.contains("hunter2"));
    }
}
