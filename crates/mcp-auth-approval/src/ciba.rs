//! OpenID Client-Initiated Backchannel Authentication (CIBA Core 1.0, poll mode) as this
//! server's confidential client: start a request at the token's issuer, then ask its token
//! endpoint how it went.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mcp_auth_core::Principal;
use mcp_auth_fetch::{FetchPolicy, Fetcher};
use mcp_auth_obo::{ClientAuth, ExchangeError};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The grant type of a poll at the token endpoint (CIBA Core §10.1).
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// How the person is named to the issuer in `login_hint`: issuers accept different forms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LoginHint {
    /// The token's `sub` as it is (oidc-provider, Keycloak with a subject-based hint).
    #[default]
    Subject,
    /// A JSON object `{"format":"iss_sub","iss":…,"sub":…}`, the form Auth0's CIBA expects.
    IssSub,
    /// The value of one of the token's claims (an `email`, a `preferred_username`).
    Claim(String),
}

impl LoginHint {
    /// The hint for `principal`, or `None` when the token lacks the claim it needs.
    pub fn for_principal(&self, principal: &Principal) -> Option<String> {
        match self {
            Self::Subject => Some(principal.subject().to_owned()),
            Self::IssSub => Some(
                serde_json::json!({
                    "format": "iss_sub",
                    "iss": principal.issuer(),
                    "sub": principal.subject(),
                })
                .to_string(),
            ),
            Self::Claim(name) => principal.claim_strings(name).next().map(str::to_owned),
        }
    }
}

/// What one backchannel authentication request asks.
#[derive(Clone, Debug)]
pub(crate) struct Backchannel<'a> {
    pub login_hint: &'a str,
    pub binding_message: &'a str,
    pub authorization_details: &'a Value,
    pub requested_expiry: Duration,
    pub resource: &'a str,
    pub acr_values: Option<&'a str>,
}

/// A request the issuer accepted.
#[derive(Clone, Debug)]
pub(crate) struct Started {
    pub auth_req_id: String,
    pub expires_in: Duration,
    pub interval: Duration,
}

/// What a poll of the token endpoint answered.
#[derive(Clone, Debug)]
pub(crate) enum Poll {
    /// Not decided yet.
    Pending,
    /// Not decided yet, and polling too fast: wait five seconds more from now on.
    SlowDown,
    /// The person refused.
    Denied,
    /// Nobody answered in time.
    Expired,
    /// The person approved: the details the issuer granted, and how they authenticated.
    Approved(Grant),
}

/// What an approval carried.
#[derive(Clone, Debug, Default)]
pub(crate) struct Grant {
    pub authorization_details: Vec<Value>,
    /// Who approved: the ID token's `sub`.
    pub subject: Option<String>,
    pub acr: Option<String>,
    pub amr: Vec<String>,
}

/// Why the issuer could not be asked or did not answer usefully.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CibaError {
    /// The issuer cannot be reached or failed (retry later).
    #[error("the authorization server is unavailable: {0}")]
    Unavailable(String),
    /// The issuer refused the request itself (an OAuth error other than the polling ones).
    #[error("the authorization server refused the approval request: {0}")]
    Refused(String),
    /// The issuer does not offer CIBA, or its metadata is unusable.
    #[error("the authorization server cannot take approval requests: {0}")]
    Misconfigured(String),
}

impl CibaError {
    /// What the caller is told: the kind of failure, never the issuer's URLs or hosts (the
    /// server's log has those).
    pub fn for_caller(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "the authorization server is unavailable; try again later.",
            Self::Refused(_) => "the authorization server refused the request.",
            Self::Misconfigured(_) => {
                "this server cannot ask its authorization server for approvals."
            }
        }
    }
}

impl From<ExchangeError> for CibaError {
    fn from(e: ExchangeError) -> Self {
        match e {
            ExchangeError::Unavailable { reason, .. } => Self::Unavailable(reason),
            other => Self::Misconfigured(other.to_string()),
        }
    }
}

#[derive(Clone, Debug)]
struct Endpoints {
    backchannel: String,
    token: String,
}

/// This server's CIBA client at the issuers it trusts.
#[derive(Clone)]
pub struct CibaClient {
    inner: Arc<Inner>,
}

struct Inner {
    auth: ClientAuth,
    fetcher: Fetcher,
    endpoints: Mutex<HashMap<String, Endpoints>>,
    /// Endpoints named in configuration, for every issuer (instead of discovery).
    fixed: Option<Endpoints>,
    clock: Box<dyn Fn() -> SystemTime + Send + Sync>,
}

impl std::fmt::Debug for CibaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CibaClient")
            .field("auth", &self.inner.auth)
            .field("fixed", &self.inner.fixed)
            .finish_non_exhaustive()
    }
}

impl CibaClient {
    /// A client authenticating as `auth`, finding each issuer's endpoints in its metadata
    /// (`backchannel_authentication_endpoint`, `token_endpoint`).
    ///
    /// # Errors
    /// The fetch policy cannot build an HTTP client.
    pub fn new(auth: ClientAuth, fetch: FetchPolicy) -> Result<Self, CibaError> {
        let fetcher = Fetcher::new(fetch).map_err(|e| CibaError::Misconfigured(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                auth,
                fetcher,
                endpoints: Mutex::new(HashMap::new()),
                fixed: None,
                clock: Box::new(SystemTime::now),
            }),
        })
    }

    /// Uses these endpoints for every issuer instead of discovering them.
    ///
    /// # Errors
    /// An endpoint the fetch policy refuses.
    pub fn with_endpoints(self, backchannel: &str, token: &str) -> Result<Self, CibaError> {
        let inner = Arc::into_inner(self.inner)
            .ok_or_else(|| CibaError::Misconfigured("the client is already shared".into()))?;
        for url in [backchannel, token] {
            inner
                .fetcher
                .check_url(url)
                .map_err(|e| CibaError::Misconfigured(format!("`{url}`: {e}")))?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                fixed: Some(Endpoints {
                    backchannel: backchannel.to_owned(),
                    token: token.to_owned(),
                }),
                ..inner
            }),
        })
    }

    /// This server's client id at the issuer.
    pub fn client_id(&self) -> &str {
        self.inner.auth.client_id()
    }

    async fn endpoints(&self, issuer: &str) -> Result<Endpoints, CibaError> {
        if let Some(fixed) = &self.inner.fixed {
            return Ok(fixed.clone());
        }
        if let Some(known) = lock(&self.inner.endpoints).get(issuer) {
            return Ok(known.clone());
        }
        let found = mcp_auth_fetch::discovery::discover(&self.inner.fetcher, issuer)
            .await
            .map_err(|e| {
                if e.transient {
                    CibaError::Unavailable(e.to_string())
                } else {
                    CibaError::Misconfigured(e.to_string())
                }
            })?;
        let member = |name: &str| {
            let url = found.text(name).ok_or_else(|| {
                CibaError::Misconfigured(format!("`{}` has no `{name}`", found.url))
            })?;
            self.inner
                .fetcher
                .check_url(url)
                .map_err(|e| CibaError::Misconfigured(format!("`{name}` is refused: {e}")))?;
            Ok::<_, CibaError>(url.to_owned())
        };
        let endpoints = Endpoints {
            backchannel: member("backchannel_authentication_endpoint")?,
            token: member("token_endpoint")?,
        };
        let mut known = lock(&self.inner.endpoints);
        // Bounded by the issuers the verifier trusts; a cap guards against a template issuer.
        if known.len() >= 1024 {
            known.clear();
        }
        known.insert(issuer.to_owned(), endpoints.clone());
        Ok(endpoints)
    }

    /// An authenticated form post to an endpoint of the issuer, and its JSON answer.
    async fn post(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Result<(http::StatusCode, Map<String, Value>), CibaError> {
        let inner = &self.inner;
        let answer = inner
            .auth
            .post_form(&inner.fetcher, endpoint, form, (inner.clock)())
            .await?;
        Ok((answer.status(), json_object(&answer)?))
    }

    /// Starts a backchannel authentication request at `issuer` (CIBA Core §7.1).
    pub(crate) async fn start(
        &self,
        issuer: &str,
        request: &Backchannel<'_>,
    ) -> Result<Started, CibaError> {
        let endpoints = self.endpoints(issuer).await?;
        let details = Value::Array(vec![request.authorization_details.clone()]).to_string();
        let expiry = request.requested_expiry.as_secs().to_string();
        let mut form = vec![
            ("scope", "openid"),
            ("login_hint", request.login_hint),
            ("binding_message", request.binding_message),
            ("authorization_details", details.as_str()),
            ("requested_expiry", expiry.as_str()),
            // RFC 8707: the tokens the approval yields are for this server.
            ("resource", request.resource),
        ];
        if let Some(acr_values) = request.acr_values {
            form.push(("acr_values", acr_values));
        }
        let (status, body) = self.post(&endpoints.backchannel, &form).await?;
        if !status.is_success() {
            return Err(refusal(status, &body));
        }
        let auth_req_id = body
            .get("auth_req_id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty() && id.len() <= 1024)
            .ok_or_else(|| CibaError::Misconfigured("the answer has no `auth_req_id`".into()))?;
        let expires_in = body
            .get("expires_in")
            .and_then(Value::as_u64)
            .ok_or_else(|| CibaError::Misconfigured("the answer has no `expires_in`".into()))?;
        // CIBA Core §7.3: without `interval`, the client waits 5 seconds between polls.
        let interval = body.get("interval").and_then(Value::as_u64).unwrap_or(5);
        Ok(Started {
            auth_req_id: auth_req_id.to_owned(),
            expires_in: Duration::from_secs(
                expires_in.min(request.requested_expiry.as_secs().max(1)),
            ),
            interval: Duration::from_secs(interval.clamp(1, 3600)),
        })
    }

    /// Asks the token endpoint how the request `auth_req_id` went (CIBA Core §10.1, §11).
    pub(crate) async fn poll(&self, issuer: &str, auth_req_id: &str) -> Result<Poll, CibaError> {
        let endpoints = self.endpoints(issuer).await?;
        let form = [("grant_type", CIBA_GRANT), ("auth_req_id", auth_req_id)];
        let (status, body) = self.post(&endpoints.token, &form).await?;
        if status.is_success() {
            return Ok(Poll::Approved(grant(&body)));
        }
        match body.get("error").and_then(Value::as_str) {
            Some("authorization_pending") => Ok(Poll::Pending),
            Some("slow_down") => Ok(Poll::SlowDown),
            Some("access_denied") => Ok(Poll::Denied),
            Some("expired_token") => Ok(Poll::Expired),
            _ => Err(refusal(status, &body)),
        }
    }
}

/// Reads what an approval carried: the granted `authorization_details` (RFC 9396 §7), and
/// `acr`/`amr` from the ID token. The ID token came straight from the token endpoint over the
/// connection this client opened, so its claims are read without a signature check (OpenID
/// Connect Core §3.1.3.7); they are recorded, never used to decide.
fn grant(body: &Map<String, Value>) -> Grant {
    let authorization_details = body
        .get("authorization_details")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let claims = body
        .get("id_token")
        .and_then(Value::as_str)
        .and_then(jwt_payload)
        .unwrap_or_default();
    let acr = claims
        .get("acr")
        .and_then(Value::as_str)
        .map(|acr| mcp_auth_core::untrusted_text(acr, 200));
    let amr = claims
        .get("amr")
        .and_then(Value::as_array)
        .map(|methods| {
            methods
                .iter()
                .filter_map(Value::as_str)
                .take(8)
                .map(|method| mcp_auth_core::untrusted_text(method, 64))
                .collect()
        })
        .unwrap_or_default();
    let subject = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
    Grant {
        authorization_details,
        subject,
        acr,
        amr,
    }
}

fn jwt_payload(jwt: &str) -> Option<Map<String, Value>> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn json_object(answer: &mcp_auth_fetch::FetchResponse) -> Result<Map<String, Value>, CibaError> {
    if answer.status().is_server_error() {
        return Err(CibaError::Unavailable(format!(
            "status {}",
            answer.status().as_u16()
        )));
    }
    serde_json::from_slice(answer.body()).map_err(|_| {
        CibaError::Misconfigured(format!(
            "status {} without a JSON object",
            answer.status().as_u16()
        ))
    })
}

/// An OAuth error answer, by its code only: a description could echo what was sent.
fn refusal(status: http::StatusCode, body: &Map<String, Value>) -> CibaError {
    let code = body.get("error").and_then(Value::as_str).map_or_else(
        || format!("status {}", status.as_u16()),
        |code| mcp_auth_core::untrusted_text(code, 64),
    );
    CibaError::Refused(code)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_approval_carries_its_details_and_how_the_person_authenticated() {
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!({"acr": "urn:mfa", "amr": ["pwd", "otp"]}).to_string());
        let body = json!({
            "access_token": "x",
            "id_token": format!("e30.{payload}.sig"),
            "authorization_details": [{"type": "mcp_tool_call", "digest": "D"}],
        });
        let grant = grant(body.as_object().expect("object"));
        assert_eq!(grant.acr.as_deref(), Some("urn:mfa"));
        assert_eq!(grant.amr, ["pwd", "otp"]);
        assert_eq!(grant.authorization_details[0]["digest"], "D");
        let bare = grant_of(json!({"access_token": "x"}));
        assert!(bare.authorization_details.is_empty() && bare.acr.is_none());
    }

    fn grant_of(body: Value) -> Grant {
        grant(body.as_object().expect("object"))
    }

    #[test]
    fn login_hints_take_the_form_the_issuer_accepts() {
        let mut claims = Map::new();
        claims.insert("email".into(), json!("alice@example.com"));
        let principal = Principal::builder(
            "https://id.example",
            "auth0|alice",
            mcp_auth_core::BearerToken::new("t"),
        )
        .claims(claims)
        .build();
        assert_eq!(
            LoginHint::Subject.for_principal(&principal).as_deref(),
            Some("auth0|alice")
        );
        let iss_sub: Value =
            serde_json::from_str(&LoginHint::IssSub.for_principal(&principal).expect("hint"))
                .expect("json");
        assert_eq!(iss_sub["format"], "iss_sub");
        assert_eq!(iss_sub["sub"], "auth0|alice");
        assert_eq!(
            LoginHint::Claim("email".into())
                .for_principal(&principal)
                .as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(
            LoginHint::Claim("phone".into()).for_principal(&principal),
            None
        );
    }
}
