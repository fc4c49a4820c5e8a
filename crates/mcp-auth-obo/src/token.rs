//! The exchanged token handed to handlers: usable, never printable.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use http::header::{AUTHORIZATION, HeaderName};
use http::{HeaderValue, Method};
use mcp_auth_core::{Scopes, TokenDigest};

use crate::error::{ExchangeError, ResponseProblem};
use crate::key::PrivateKey;

/// Longest access token accepted from the authorization server.
pub(crate) const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The `token_type` of an exchanged token (RFC 8693 §2.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// `Bearer`: an access token to send as `Authorization: Bearer`.
    Bearer,
    /// `N_A`: the issued token is not an access token (e.g. an ID token or a JWT meant as an
    /// assertion); send it the way the downstream protocol wants.
    NotApplicable,
    /// `DPoP`: an access token bound to this server's DPoP key (RFC 9449), sent as
    /// `Authorization: DPoP` with a fresh proof signed by that key on every request.
    Dpop,
}

impl TokenType {
    /// Reads a `token_type` (case-insensitive).
    pub fn parse(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("bearer") {
            Some(Self::Bearer)
        } else if value.eq_ignore_ascii_case("n_a") {
            Some(Self::NotApplicable)
        } else if value.eq_ignore_ascii_case("dpop") {
            Some(Self::Dpop)
        } else {
            None
        }
    }

    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::NotApplicable => "N_A",
            Self::Dpop => "DPoP",
        }
    }
}

/// A token obtained by exchange, for one downstream API.
///
/// It cannot be printed: there is no `Display`, and `Debug` shows a fingerprint and the
/// metadata only. Attach it to a request with [`ExchangedToken::apply_to`] or
/// [`ExchangedToken::bearer_header`]. Cloning is a reference-count increment.
///
/// The granted scope may be narrower than the one requested; [`ExchangedToken::narrowed`] says
/// so, and [`ExchangedToken::ensure_complete`] turns it into an error for handlers that need
/// everything they asked for.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use mcp_auth_core::Scopes;
/// use mcp_auth_obo::{ExchangedToken, TokenType, ACCESS_TOKEN_TYPE};
///
/// let token = ExchangedToken::new(
///     "downstream-token",
///     ACCESS_TOKEN_TYPE,
///     TokenType::Bearer,
///     SystemTime::now() + Duration::from_secs(300),
///     Scopes::parse("read write"),
///     Scopes::parse("read"),
/// )
/// .unwrap();
/// assert!(token.narrowed());
/// assert_eq!(token.missing_scope().to_string(), "write");
/// assert!(token.clone().ensure_complete().is_err());
/// assert!(!format!("{token:?}").contains("downstream-token"));
/// assert_eq!(token.bearer_header(), "Bearer downstream-token");
/// ```
#[derive(Clone)]
pub struct ExchangedToken {
    inner: Arc<Issued>,
    from_cache: bool,
}

struct Issued {
    access_token: Box<str>,
    header: HeaderValue,
    issued_token_type: Box<str>,
    token_type: TokenType,
    expires_at: SystemTime,
    requested: Scopes,
    granted: Scopes,
    /// The key the token is bound to (`token_type` DPoP), which signs its proofs.
    dpop_key: Option<PrivateKey>,
}

/// The `DPoP` request header (RFC 9449 §4.1).
pub const DPOP: HeaderName = HeaderName::from_static("dpop");

/// An outgoing request builder that can carry the exchanged token, for
/// [`ExchangedToken::apply_to`]. Implemented for `http::request::Builder` and (feature
/// `reqwest`, on by default) `reqwest::RequestBuilder`; implement it for the HTTP client you use.
pub trait AuthorizeRequest: Sized {
    /// Adds a header (`Authorization`, and `DPoP` for a DPoP-bound token); values that carry
    /// the token are marked sensitive.
    fn header(self, name: HeaderName, value: HeaderValue) -> Self;

    /// The request's method and URL, which a DPoP proof signs; `None` when the builder cannot
    /// tell (then a DPoP-bound token is sent without a proof, and the API refuses it).
    fn method_and_url(&self) -> Option<(Method, String)>;
}

impl AuthorizeRequest for http::request::Builder {
    fn header(self, name: HeaderName, value: HeaderValue) -> Self {
        self.header(name, value)
    }

    fn method_and_url(&self) -> Option<(Method, String)> {
        let uri = self.uri_ref()?;
        // A proof names an absolute URL; a builder holding only a path cannot say which.
        uri.scheme()?;
        Some((self.method_ref()?.clone(), uri.to_string()))
    }
}

#[cfg(feature = "reqwest")]
impl AuthorizeRequest for reqwest::RequestBuilder {
    fn header(self, name: HeaderName, value: HeaderValue) -> Self {
        self.header(name, value)
    }

    fn method_and_url(&self) -> Option<(Method, String)> {
        // reqwest shows a request's target only once built; a streaming body cannot be copied.
        let request = self.try_clone()?.build().ok()?;
        Some((request.method().clone(), request.url().to_string()))
    }
}

impl ExchangedToken {
    /// Assembles a token (for [`ExchangeStore`](crate::ExchangeStore) implementations that
    /// persist tokens; the client builds them from responses).
    ///
    /// # Errors
    /// An empty or overlong token, or one with characters a header cannot carry.
    pub fn new(
        access_token: impl Into<String>,
        issued_token_type: impl Into<String>,
        token_type: TokenType,
        expires_at: SystemTime,
        requested: Scopes,
        granted: Scopes,
    ) -> Result<Self, ResponseProblem> {
        let access_token = access_token.into();
        let invalid = |problem| ResponseProblem::InvalidField {
            field: "access_token",
            problem,
        };
        if access_token.is_empty() {
            return Err(invalid("is empty"));
        }
        if access_token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("is longer than 16 KiB"));
        }
        if !access_token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("contains characters a bearer token cannot have"));
        }
        let scheme = match token_type {
            TokenType::Dpop => "DPoP",
            TokenType::Bearer | TokenType::NotApplicable => "Bearer",
        };
        let mut header = HeaderValue::try_from(format!("{scheme} {access_token}"))
            .map_err(|_| invalid("contains characters a bearer token cannot have"))?;
        header.set_sensitive(true);
        Ok(Self {
            inner: Arc::new(Issued {
                access_token: access_token.into(),
                header,
                issued_token_type: issued_token_type.into().into(),
                token_type,
                expires_at,
                requested,
                granted,
                dpop_key: None,
            }),
            from_cache: false,
        })
    }

    /// Binds a `DPoP` token to the key that signs its proofs: the key this server's token
    /// requests were signed with (for [`ExchangeStore`](crate::ExchangeStore) implementations
    /// that rebuild tokens; the client binds the tokens it obtains).
    ///
    /// # Errors
    /// The token is not of type `DPoP`.
    pub fn with_dpop_key(self, key: PrivateKey) -> Result<Self, ResponseProblem> {
        if self.inner.token_type != TokenType::Dpop {
            return Err(ResponseProblem::InvalidField {
                field: "token_type",
                problem: "is not DPoP: only a DPoP token is bound to a key",
            });
        }
        let i = &*self.inner;
        Ok(Self {
            inner: Arc::new(Issued {
                access_token: i.access_token.clone(),
                header: i.header.clone(),
                issued_token_type: i.issued_token_type.clone(),
                token_type: i.token_type,
                expires_at: i.expires_at,
                requested: i.requested.clone(),
                granted: i.granted.clone(),
                dpop_key: Some(key),
            }),
            from_cache: self.from_cache,
        })
    }

    pub(crate) fn served(&self, from_cache: bool) -> Self {
        Self {
            inner: self.inner.clone(),
            from_cache,
        }
    }

    /// The raw token. Call this only to send it to the downstream API it was issued for.
    pub fn expose_secret(&self) -> &str {
        &self.inner.access_token
    }

    /// `Authorization: Bearer …` (or `DPoP …` for a DPoP-bound token) as a header value, marked
    /// sensitive.
    pub fn bearer_header(&self) -> HeaderValue {
        self.inner.header.clone()
    }

    /// Authorises an outgoing request (an `http::request::Builder`, or with the default
    /// `reqwest` feature a `reqwest::RequestBuilder`): `Authorization: Bearer …`, or for a
    /// DPoP-bound token `Authorization: DPoP …` and a fresh `DPoP` proof for the request's
    /// method and URL, signed with this server's key.
    pub fn apply_to<R: AuthorizeRequest>(&self, request: R) -> R {
        let proof = match self.inner.token_type {
            TokenType::Dpop => match request.method_and_url() {
                Some((method, url)) => self.dpop_proof(&method, &url, None),
                None => {
                    tracing::warn!(
                        "a DPoP-bound token is sent without a proof: the request's method and URL \
                         cannot be read from the builder (use ExchangedToken::dpop_proof)"
                    );
                    None
                }
            },
            TokenType::Bearer | TokenType::NotApplicable => None,
        };
        let request = request.header(AUTHORIZATION, self.bearer_header());
        match proof {
            Some(proof) => request.header(DPOP, proof),
            None => request,
        }
    }

    /// A DPoP proof (RFC 9449 §4.2) for sending this token with `method` to `url` (its query
    /// and fragment are left out), carrying the API's `nonce` when it demanded one
    /// (`DPoP-Nonce`); `None` for a token that is not DPoP-bound, or when signing fails
    /// (logged).
    pub fn dpop_proof(
        &self,
        method: &Method,
        url: &str,
        nonce: Option<&str>,
    ) -> Option<HeaderValue> {
        let key = self.inner.dpop_key.as_ref()?;
        match crate::dpop::proof(
            key,
            method.as_str(),
            url,
            Some(&self.inner.access_token),
            nonce,
            SystemTime::now(),
        ) {
            Ok(proof) => Some(proof),
            Err(e) => {
                tracing::warn!(error = %e, "cannot sign a DPoP proof for an exchanged token");
                None
            }
        }
    }

    /// A short, non-reversible identifier of the token for logs (`sha256:…`).
    pub fn fingerprint(&self) -> String {
        TokenDigest::of(self.inner.access_token.as_bytes()).fingerprint()
    }

    /// `issued_token_type`.
    pub fn issued_token_type(&self) -> &str {
        &self.inner.issued_token_type
    }

    /// `token_type`.
    pub fn token_type(&self) -> TokenType {
        self.inner.token_type
    }

    /// When the token expires (from `expires_in`).
    pub fn expires_at(&self) -> SystemTime {
        self.inner.expires_at
    }

    /// The scopes requested.
    pub fn requested_scope(&self) -> &Scopes {
        &self.inner.requested
    }

    /// The scopes granted: the response's `scope`, or the requested scopes when the response
    /// omits it (RFC 8693 §2.2.1: omitted means identical).
    pub fn granted_scope(&self) -> &Scopes {
        &self.inner.granted
    }

    /// True when the grant lacks some requested scope.
    pub fn narrowed(&self) -> bool {
        !self.inner.granted.is_superset(&self.inner.requested)
    }

    /// The requested scopes that were not granted.
    pub fn missing_scope(&self) -> Scopes {
        self.inner.granted.missing(&self.inner.requested)
    }

    /// The token, or [`ExchangeError::ScopeNarrowed`] when some requested scope was not
    /// granted.
    ///
    /// # Errors
    /// A narrowed grant.
    pub fn ensure_complete(self) -> Result<Self, ExchangeError> {
        if self.narrowed() {
            return Err(ExchangeError::ScopeNarrowed {
                requested: self.inner.requested.clone(),
                granted: self.inner.granted.clone(),
            });
        }
        Ok(self)
    }

    /// True when this call was served without a request of its own to the authorization server
    /// (from the cache, or by joining an exchange already under way).
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }
}

impl fmt::Debug for ExchangedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("ExchangedToken")
            .field("token", &self.fingerprint())
            .field("token_type", &i.token_type)
            .field("issued_token_type", &i.issued_token_type)
            .field("expires_at", &i.expires_at)
            .field("requested", &i.requested)
            .field("granted", &i.granted)
            .field("from_cache", &self.from_cache)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn token(raw: &str) -> Result<ExchangedToken, ResponseProblem> {
        ExchangedToken::new(
            raw,
            crate::ACCESS_TOKEN_TYPE,
            TokenType::Bearer,
            SystemTime::now() + Duration::from_secs(60),
            Scopes::parse("a"),
            Scopes::parse("a b"),
        )
    }

    #[test]
    fn wider_grants_are_not_narrowed() {
        let t = token("abc").unwrap();
        assert!(!t.narrowed());
        assert!(t.missing_scope().is_empty());
        assert!(t.ensure_complete().is_ok());
    }

    #[test]
    fn unusable_tokens_are_refused() {
        assert!(token("").is_err());
        assert!(token("has space").is_err());
        assert!(token("line\nbreak").is_err());
        assert!(token(&"x".repeat(MAX_TOKEN_BYTES + 1)).is_err());
    }

    #[test]
    fn the_header_is_sensitive_and_the_debug_output_safe() {
        let t = token("very-secret-token").unwrap();
        assert!(t.bearer_header().is_sensitive());
        let printed = format!("{t:?}");
        assert!(!printed.contains("very-secret-token"), "{printed}");
        assert!(printed.contains("sha256:"));
    }

    #[test]
    fn apply_to_sets_the_authorization_header() {
        let t = token("tok").unwrap();
        let request = t
            .apply_to(reqwest::Client::new().get("http://127.0.0.1:1/"))
            .build()
            .unwrap();
        assert_eq!(request.headers()["authorization"], "Bearer tok");
        let request = t
            .apply_to(http::Request::get("http://127.0.0.1:1/"))
            .body(())
            .unwrap();
        assert_eq!(request.headers()["authorization"], "Bearer tok");
        assert!(request.headers()["authorization"].is_sensitive());
    }

    #[test]
    fn token_types_are_case_insensitive() {
        assert_eq!(TokenType::parse("bearer"), Some(TokenType::Bearer));
        assert_eq!(TokenType::parse("BEARER"), Some(TokenType::Bearer));
        assert_eq!(TokenType::parse("n_a"), Some(TokenType::NotApplicable));
        assert_eq!(TokenType::parse("DPoP"), Some(TokenType::Dpop));
        assert_eq!(TokenType::parse("pop"), None);
    }
}
