//! The one error type for every denial, and how it renders as an HTTP or gRPC response.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

use bytes::Bytes;

use crate::{BearerChallenge, Scopes};

/// What kind of denial an [`AuthError`] is; decides status, challenge and gRPC code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No credentials: 401 with a challenge that carries no `error` (RFC 6750 §3.1).
    MissingToken,
    /// A token was presented and is not acceptable: 401 `invalid_token`.
    InvalidToken,
    /// The DPoP proof that came with the token is not acceptable (RFC 9449 §7.1): 401
    /// `invalid_dpop_proof`, in the DPoP challenge.
    InvalidDpopProof,
    /// The DPoP proof lacks the server's current nonce (RFC 9449 §9): 401 `use_dpop_nonce`, with a
    /// fresh nonce in `DPoP-Nonce`.
    UseDpopNonce,
    /// The request itself is malformed (two credentials, a token in the query, a bad body):
    /// 400 `invalid_request`.
    InvalidRequest,
    /// The token lacks scopes the operation needs: 403 `insufficient_scope`.
    InsufficientScope,
    /// The caller is known and refused by policy (e.g. a client that is not admitted): 403
    /// without a challenge, since no other token would help.
    AccessDenied,
    /// The request is malformed in a way unrelated to credentials (a body that is not
    /// JSON-RPC, a batch over the limit): 400 without a challenge.
    BadRequest,
    /// The 2026-07-28 mirrored headers (`Mcp-Method`, `Mcp-Name`) disagree with the body, or are
    /// missing: 400 with the JSON-RPC error `-32020` (`HeaderMismatch`) as the body.
    HeaderMismatch,
    /// The request body exceeds a configured limit: 413.
    PayloadTooLarge,
    /// The request body did not arrive in time: 408.
    RequestTimeout,
    /// The server cannot decide now (e.g. the issuer's keys are unobtainable): 503 with
    /// `Retry-After`. Clients must not discard their token for this.
    Unavailable,
}

impl AuthErrorKind {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::InvalidToken
            | Self::InvalidDpopProof
            | Self::UseDpopNonce => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest | Self::BadRequest | Self::HeaderMismatch => {
                StatusCode::BAD_REQUEST
            }
            Self::InsufficientScope | Self::AccessDenied => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The OAuth error code for the JSON body and, where RFC 6750 defines one, the challenge.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingToken => "unauthorized",
            Self::InvalidToken => "invalid_token",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidRequest | Self::BadRequest => "invalid_request",
            Self::HeaderMismatch => "header_mismatch",
            Self::InsufficientScope => "insufficient_scope",
            Self::AccessDenied => "access_denied",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::Unavailable => "temporarily_unavailable",
        }
    }

    /// The gRPC status code for trailers-only responses.
    pub fn grpc_status(self) -> u8 {
        match self {
            Self::MissingToken
            | Self::InvalidToken
            | Self::InvalidDpopProof
            | Self::UseDpopNonce => 16, // UNAUTHENTICATED
            Self::InsufficientScope | Self::AccessDenied => 7, // PERMISSION_DENIED
            Self::InvalidRequest
            | Self::BadRequest
            | Self::PayloadTooLarge
            | Self::HeaderMismatch => 3, // INVALID_ARGUMENT
            Self::Unavailable => 14,                           // UNAVAILABLE
            Self::RequestTimeout => 4,                         // DEADLINE_EXCEEDED
        }
    }

    fn challenge_error(self) -> Option<Option<&'static str>> {
        match self {
            Self::MissingToken => Some(None),
            Self::InvalidToken
            | Self::InvalidRequest
            | Self::InsufficientScope
            | Self::InvalidDpopProof
            | Self::UseDpopNonce => Some(Some(self.code())),
            Self::AccessDenied
            | Self::BadRequest
            | Self::HeaderMismatch
            | Self::PayloadTooLarge
            | Self::RequestTimeout
            | Self::Unavailable => None,
        }
    }
}

/// A denial by any mcp-auth layer.
///
/// It carries a precise, safe description (never a token, never internal addresses), a short
/// machine-readable reason for audit (`"expired"`, `"bad_signature"`, ...), and what the client
/// needs to recover: the scopes for the challenge, or when to retry. Layers render it through a
/// [`Rejector`](crate::Rejector), which attaches it to the response extensions so outer layers
/// (audit) can see why a request was refused.
///
/// ```
/// use mcp_auth_core::{AuthError, Scopes};
/// use http::StatusCode;
///
/// let err = AuthError::insufficient_scope(Scopes::parse("files:read files:write"), "tool `write_file` needs files:write");
/// let rejector = mcp_auth_core::Rejector::new(
///     "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
/// );
/// let response = rejector
///     .reject(err, &http::HeaderMap::new())
///     .into_response::<http_body_util::Empty<bytes::Bytes>>();
/// assert_eq!(response.status(), StatusCode::FORBIDDEN);
/// assert!(response.headers()["www-authenticate"].to_str().unwrap().contains(r#"scope="files:read files:write""#));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: AuthErrorKind,
    reason: &'static str,
    description: Cow<'static, str>,
    scope: Option<Scopes>,
    retry_after: Option<Duration>,
    /// The error concerns a DPoP presentation: its code goes in the DPoP challenge.
    dpop: bool,
    /// What few errors carry (boxed: most errors carry none of it).
    extra: Option<Box<Extra>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Extra {
    /// A fresh DPoP nonce for the client's next proof (`DPoP-Nonce`).
    dpop_nonce: Option<String>,
    /// The JSON-RPC id of the request, for errors answered as JSON-RPC errors.
    rpc_id: Option<serde_json::Value>,
}

impl AuthError {
    /// A denial of `kind` with a reason code and description.
    pub fn new(
        kind: AuthErrorKind,
        reason: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            kind,
            reason,
            description: description.into(),
            scope: None,
            retry_after: None,
            dpop: matches!(
                kind,
                AuthErrorKind::InvalidDpopProof | AuthErrorKind::UseDpopNonce
            ),
            extra: None,
        }
    }

    /// 401 without `error`: the request carried no token.
    pub fn missing_token() -> Self {
        Self::new(
            AuthErrorKind::MissingToken,
            "missing_token",
            "this resource needs a bearer token in the Authorization header",
        )
    }

    /// 401 `invalid_token` with a reason code and description.
    pub fn invalid_token(reason: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(AuthErrorKind::InvalidToken, reason, description)
    }

    /// 401 `invalid_dpop_proof`: the DPoP proof is not acceptable.
    pub fn invalid_dpop_proof(
        reason: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(AuthErrorKind::InvalidDpopProof, reason, description)
    }

    /// 401 `use_dpop_nonce`: the proof must carry `nonce`, the server's current one (RFC 9449
    /// §9), sent back in the `DPoP-Nonce` header.
    pub fn use_dpop_nonce(description: impl Into<Cow<'static, str>>, nonce: String) -> Self {
        let mut e = Self::new(AuthErrorKind::UseDpopNonce, "use_dpop_nonce", description);
        e.extra = Some(Box::new(Extra {
            dpop_nonce: Some(nonce),
            ..Extra::default()
        }));
        e
    }

    /// 400 with the JSON-RPC error `-32020` (`HeaderMismatch`) for the request `id`: the
    /// 2026-07-28 mirrored headers disagree with the body.
    pub fn header_mismatch(
        description: impl Into<Cow<'static, str>>,
        id: Option<serde_json::Value>,
    ) -> Self {
        let mut e = Self::new(
            AuthErrorKind::HeaderMismatch,
            "header_mismatch",
            description,
        );
        e.extra = Some(Box::new(Extra {
            rpc_id: id,
            ..Extra::default()
        }));
        e
    }

    /// The DPoP nonce the response carries, if any.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.extra.as_ref()?.dpop_nonce.as_deref()
    }

    /// Marks the error as concerning a DPoP presentation (a DPoP-bound token presented as
    /// `DPoP`): a server that accepts DPoP puts its code in the DPoP challenge, not the Bearer
    /// one.
    #[must_use]
    pub fn in_dpop_challenge(mut self) -> Self {
        self.dpop = true;
        self
    }

    /// True when the error's code belongs in the DPoP challenge.
    pub fn concerns_dpop(&self) -> bool {
        self.dpop
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(
        reason: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(AuthErrorKind::InvalidRequest, reason, description)
    }

    /// 400 without a challenge: the request (not its credentials) is malformed.
    pub fn bad_request(reason: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(AuthErrorKind::BadRequest, reason, description)
    }

    /// 403 `insufficient_scope`; `scope` is what the challenge asks for.
    pub fn insufficient_scope(scope: Scopes, description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            AuthErrorKind::InsufficientScope,
            "insufficient_scope",
            description,
        )
        .with_scope(scope)
    }

    /// 403 without a challenge: refused by policy.
    pub fn access_denied(reason: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(AuthErrorKind::AccessDenied, reason, description)
    }

    /// 413: the body is larger than `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            AuthErrorKind::PayloadTooLarge,
            "body_too_large",
            format!("request body exceeds the limit of {limit} bytes"),
        )
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(
        reason: &'static str,
        description: impl Into<Cow<'static, str>>,
        retry_after: Duration,
    ) -> Self {
        let mut e = Self::new(AuthErrorKind::Unavailable, reason, description);
        e.retry_after = Some(retry_after);
        e
    }

    /// Sets the scopes the challenge advertises.
    #[must_use]
    pub fn with_scope(mut self, scope: Scopes) -> Self {
        self.scope = (!scope.is_empty()).then_some(scope);
        self
    }

    /// The kind.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// Short machine-readable reason, for audit events and metrics.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// Human-readable description, safe to show to the client.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The scopes the challenge advertises.
    pub fn scope(&self) -> Option<&Scopes> {
        self.scope.as_ref()
    }

    /// When the client should retry (503 only).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The `WWW-Authenticate` challenge, if this kind has one.
    pub fn challenge(&self, resource_metadata: &str) -> Option<BearerChallenge> {
        let error = self.kind.challenge_error()?;
        let mut challenge = BearerChallenge::new(resource_metadata);
        if let Some(scope) = &self.scope {
            challenge = challenge.scope(scope.to_string());
        }
        if let Some(code) = error {
            challenge = challenge
                .error(code)
                .error_description(self.description.clone());
        }
        Some(challenge)
    }

    /// The Bearer challenge without an error: where to find the metadata, and the scopes.
    fn bare_challenge(&self, resource_metadata: &str) -> BearerChallenge {
        let mut challenge = BearerChallenge::new(resource_metadata);
        if let Some(scope) = &self.scope {
            challenge = challenge.scope(scope.to_string());
        }
        challenge
    }

    /// Renders as an HTTP response with a `{"error", "error_description"}` JSON body; the error
    /// itself is put in the response extensions. Layers render through a
    /// [`Rejector`](crate::Rejector), which also answers gRPC callers in gRPC.
    pub fn to_http_response(&self, resource_metadata: &str) -> Response<Bytes> {
        self.http_response(resource_metadata, None)
    }

    /// Like [`to_http_response`](Self::to_http_response), for a server that also accepts DPoP
    /// proofs signed with `dpop_algs` (space-separated): a 401 carries a DPoP challenge beside the
    /// Bearer one, and an error that concerns DPoP is named there.
    pub(crate) fn http_response(
        &self,
        resource_metadata: &str,
        dpop_algs: Option<&str>,
    ) -> Response<Bytes> {
        let body = if self.kind == AuthErrorKind::HeaderMismatch {
            serde_json::json!({
                "jsonrpc": "2.0",
                "id": self.extra.as_ref().and_then(|e| e.rpc_id.clone()),
                "error": {"code": -32020, "message": self.description},
            })
        } else {
            serde_json::json!({
                "error": self.kind.code(),
                "error_description": self.description,
            })
        };
        let mut response = Response::new(Bytes::from(body.to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        self.common_headers(headers, resource_metadata, dpop_algs);
        response.extensions_mut().insert(self.clone());
        response
    }

    /// Renders as a gRPC trailers-only response: HTTP 200, `grpc-status`, `grpc-message`, and the
    /// challenge in `www-authenticate` metadata.
    pub fn to_grpc_response(&self, resource_metadata: &str) -> Response<Bytes> {
        self.grpc_response(resource_metadata, None)
    }

    /// Like [`to_grpc_response`](Self::to_grpc_response), with the DPoP challenge of
    /// [`http_response`](Self::http_response) in the metadata.
    pub(crate) fn grpc_response(
        &self,
        resource_metadata: &str,
        dpop_algs: Option<&str>,
    ) -> Response<Bytes> {
        let mut response = Response::new(Bytes::new());
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(
            "grpc-status",
            HeaderValue::from(u16::from(self.kind.grpc_status())),
        );
        headers.insert(
            "grpc-message",
            HeaderValue::from_str(&grpc_percent_encode(&self.description))
                .expect("percent-encoded message is visible ASCII"),
        );
        self.common_headers(headers, resource_metadata, dpop_algs);
        response.extensions_mut().insert(self.clone());
        response
    }

    fn common_headers(
        &self,
        headers: &mut HeaderMap,
        resource_metadata: &str,
        dpop_algs: Option<&str>,
    ) {
        let dpop = dpop_algs.filter(|_| self.status() == StatusCode::UNAUTHORIZED);
        if let Some(mut challenge) = self.challenge(resource_metadata) {
            if let Some(algs) = dpop {
                let mut dpop_challenge = crate::DpopChallenge::new(algs);
                if self.dpop {
                    // The Bearer challenge still points at the metadata; the error is DPoP's.
                    challenge = self.bare_challenge(resource_metadata);
                    dpop_challenge = dpop_challenge
                        .error(self.kind.code())
                        .error_description(self.description.clone());
                }
                headers.insert(header::WWW_AUTHENTICATE, challenge.to_header_value());
                headers.append(header::WWW_AUTHENTICATE, dpop_challenge.to_header_value());
            } else {
                headers.insert(header::WWW_AUTHENTICATE, challenge.to_header_value());
            }
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("WWW-Authenticate"),
            );
        }
        if let Some(nonce) = self.dpop_nonce()
            && let Ok(value) = HeaderValue::from_str(nonce)
        {
            headers.insert("dpop-nonce", value);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("WWW-Authenticate, DPoP-Nonce"),
            );
        }
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("description", &self.description)
            .field("scope", &self.scope)
            .field("retry_after", &self.retry_after)
            .field("dpop", &self.dpop)
            .field("dpop_nonce", &self.dpop_nonce().is_some())
            .finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.description)
    }
}

impl std::error::Error for AuthError {}

/// True when the request's `content-type` is `application/grpc` or a subtype of it.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.trim_start();
            ct.len() >= 16 && ct[..16].eq_ignore_ascii_case("application/grpc")
        })
}

/// gRPC's `grpc-message` encoding: percent-encode everything outside printable ASCII, and `%`.
fn grpc_percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const MD: &str = "https://r.example/.well-known/oauth-protected-resource/mcp";

    async fn body_json(response: Response<Bytes>) -> serde_json::Value {
        serde_json::from_slice(response.body()).unwrap()
    }

    #[tokio::test]
    async fn missing_token_has_no_error_param() {
        let r = AuthError::missing_token()
            .with_scope(Scopes::parse("mcp:read"))
            .to_http_response(MD);
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()["www-authenticate"],
            format!(r#"Bearer scope="mcp:read", resource_metadata="{MD}""#)
        );
        assert_eq!(
            r.headers()["access-control-expose-headers"],
            "WWW-Authenticate"
        );
        assert!(r.extensions().get::<AuthError>().is_some());
        assert_eq!(body_json(r).await["error"], "unauthorized");
    }

    #[tokio::test]
    async fn invalid_token_carries_error_and_description() {
        let r = AuthError::invalid_token("expired", "token expired at 2026-01-01T00:00:00Z")
            .to_http_response(MD);
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()["www-authenticate"],
            format!(
                r#"Bearer error="invalid_token", resource_metadata="{MD}", error_description="token expired at 2026-01-01T00:00:00Z""#
            )
        );
        let body = body_json(r).await;
        assert_eq!(body["error"], "invalid_token");
        assert_eq!(
            body["error_description"],
            "token expired at 2026-01-01T00:00:00Z"
        );
    }

    #[test]
    fn statuses_per_kind() {
        let cases = [
            (AuthError::invalid_request("x", "d"), 400),
            (AuthError::insufficient_scope(Scopes::parse("a"), "d"), 403),
            (AuthError::access_denied("x", "d"), 403),
            (AuthError::payload_too_large(10), 413),
            (
                AuthError::unavailable("x", "d", Duration::from_millis(1500)),
                503,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(err.to_http_response(MD).status(), status, "{err:?}");
        }
    }

    #[test]
    fn unavailable_has_retry_after_and_no_challenge() {
        let r = AuthError::unavailable("jwks_unavailable", "d", Duration::from_millis(1500))
            .to_http_response(MD);
        assert_eq!(r.headers()["retry-after"], "2");
        assert!(r.headers().get("www-authenticate").is_none());
    }

    #[test]
    fn access_denied_has_no_challenge() {
        let r = AuthError::access_denied("client_not_allowed", "d").to_http_response(MD);
        assert!(r.headers().get("www-authenticate").is_none());
    }

    #[test]
    fn grpc_requests_get_trailers_only_responses() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/grpc+proto"),
        );
        let rejector = crate::Rejector::new(MD);
        let r: Response<Bytes> = rejector
            .reject(
                AuthError::invalid_token("expired", "token expired, 100% sure\n"),
                &headers,
            )
            .into();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["grpc-status"], "16");
        assert_eq!(r.headers()["grpc-message"], "token expired, 100%25 sure%0A");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer error=\"invalid_token\"")
        );
        let codes = [
            (AuthError::insufficient_scope(Scopes::parse("a"), "d"), "7"),
            (AuthError::invalid_request("x", "d"), "3"),
            (
                AuthError::unavailable("x", "d", Duration::from_secs(1)),
                "14",
            ),
        ];
        for (err, code) in codes {
            let r: Response<Bytes> = rejector.reject(err, &headers).into();
            assert_eq!(r.headers()["grpc-status"], code);
        }
    }

    #[test]
    fn grpc_detection() {
        let mut h = HeaderMap::new();
        assert!(!is_grpc(&h));
        h.insert("content-type", HeaderValue::from_static("application/json"));
        assert!(!is_grpc(&h));
        h.insert("content-type", HeaderValue::from_static("Application/GRPC"));
        assert!(is_grpc(&h));
    }
}
