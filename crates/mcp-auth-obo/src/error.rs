//! What can go wrong: configuring the client, and making an exchange.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use mcp_auth_core::{AuthError, Scopes};
use mcp_auth_fetch::FetchError;

/// How long a client is told to wait after a failure that is this server's own problem
/// (misconfiguration, an authorization server answering nonsense): long enough not to spin.
const SERVER_FAULT_RETRY: Duration = Duration::from_secs(30);

/// An OAuth error code from an authorization server's error response (RFC 6749 §5.2,
/// RFC 8693 §2.2.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`: the request is malformed (or uses something the server does not
    /// support, such as an actor token).
    InvalidRequest,
    /// `invalid_client`: client authentication failed.
    InvalidClient,
    /// `invalid_grant`: the subject token (the caller's token) is invalid, expired or revoked.
    InvalidGrant,
    /// `unauthorized_client`: this client may not use token exchange.
    UnauthorizedClient,
    /// `unsupported_grant_type`: the server does not support token exchange.
    UnsupportedGrantType,
    /// `invalid_scope`: a requested scope is not allowed.
    InvalidScope,
    /// `invalid_target`: the audience or resource is unknown or not allowed (RFC 8693).
    InvalidTarget,
    /// Any other code (sanitised to the RFC 6749 character set, at most 64 characters).
    Other(String),
}

impl OAuthErrorCode {
    /// Reads an `error` value.
    pub fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "invalid_target" => Self::InvalidTarget,
            other => Self::Other(
                other
                    .chars()
                    .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
                    .take(64)
                    .collect(),
            ),
        }
    }

    /// The code as sent.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::Other(code) => code,
        }
    }

    /// `server_error` and `temporarily_unavailable`: the server is failing, not refusing.
    pub fn is_server_failure(&self) -> bool {
        matches!(self, Self::Other(c) if c == "server_error" || c == "temporarily_unavailable")
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a token-exchange response was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseProblem {
    /// The body is not a JSON object (or not labelled as JSON).
    #[error("the body is not a JSON object: {0}")]
    NotJson(String),
    /// A required member is absent.
    #[error("the required member `{0}` is missing")]
    MissingField(&'static str),
    /// A member has the wrong type or an unusable value.
    #[error("the member `{field}` {problem}")]
    InvalidField {
        /// The member.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// `token_type` is none of `Bearer`, `N_A` and `DPoP`.
    #[error("token_type `{0}` is not supported (Bearer, N_A or DPoP)")]
    UnsupportedTokenType(String),
    /// A status that is neither success nor an OAuth error document.
    #[error("unexpected status {0} without an OAuth error document")]
    UnexpectedStatus(u16),
    /// The body exceeded the fetch policy's size limit.
    #[error("the body exceeds {0} bytes")]
    TooLarge(usize),
    /// The token endpoint answered with a redirect (never followed).
    #[error("the token endpoint answered with a redirect ({0})")]
    Redirect(u16),
}

/// Why an exchange failed.
///
/// Messages are for operators' logs: they never contain a token or a client secret (the
/// authorization server's `error_description` is clipped, stripped of control characters, and
/// redacted if it echoes a credential). What the MCP client sees is
/// [`ExchangeError::to_auth_error`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The authorization server answered with an OAuth error.
    #[error("the authorization server refused the exchange with `{code}` (HTTP {status}){}", describe(.description))]
    Refused {
        /// The OAuth error code.
        code: OAuthErrorCode,
        /// The server's `error_description`, sanitised.
        description: Option<String>,
        /// The HTTP status it came with.
        status: u16,
    },
    /// The authorization server could not be reached, timed out, answered 5xx / 429 or
    /// `temporarily_unavailable`, or the client is backing off after such a failure.
    #[error("the authorization server is unavailable: {reason}")]
    Unavailable {
        /// What happened.
        reason: String,
        /// When it is worth trying again.
        retry_after: Duration,
    },
    /// The authorization server answered with something that is not a valid token-exchange
    /// response.
    #[error("invalid token-exchange response: {0}")]
    InvalidResponse(ResponseProblem),
    /// The exchange cannot be made as configured: discovery found no usable token endpoint, the
    /// fetch policy refuses the endpoint, or the client assertion could not be signed.
    #[error("token exchange is misconfigured: {0}")]
    Misconfigured(String),
    /// The request is unusable before anything is sent (no target, a bad resource URI, ...).
    #[error("invalid exchange request: {0}")]
    InvalidRequest(Cow<'static, str>),
    /// The exchange is outside what this server may reach for the tool that asked
    /// ([`ExchangeAllowlist`](crate::ExchangeAllowlist)); the authorization server was not
    /// contacted.
    #[error("the exchange for `{target}` is not allowed{}", tool.as_deref().map(|t| format!(" for tool `{t}`")).unwrap_or_default())]
    NotAllowed {
        /// The tool whose call asked, if the request called one.
        tool: Option<String>,
        /// What was asked for.
        target: String,
    },
    /// The granted scope lacks requested scopes and the caller asked for all of them
    /// ([`ExchangedToken::ensure_complete`](crate::ExchangedToken::ensure_complete)).
    #[error("the authorization server granted `{granted}` of the requested `{requested}`")]
    ScopeNarrowed {
        /// What was asked for.
        requested: Scopes,
        /// What was granted.
        granted: Scopes,
    },
}

fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

impl ExchangeError {
    /// A short machine-readable code for audit records: the OAuth error code for refusals,
    /// else `unavailable`, `invalid_response`, `misconfigured`, `bad_exchange_request`,
    /// `scope_narrowed` or `not_allowed`.
    pub fn code(&self) -> &str {
        match self {
            Self::Refused { code, .. } => code.as_str(),
            Self::Unavailable { .. } => "unavailable",
            Self::InvalidResponse(_) => "invalid_response",
            Self::Misconfigured(_) => "misconfigured",
            Self::InvalidRequest(_) => "bad_exchange_request",
            Self::ScopeNarrowed { .. } => "scope_narrowed",
            Self::NotAllowed { .. } => "not_allowed",
        }
    }

    /// The OAuth error code, for refusals.
    pub fn oauth_code(&self) -> Option<&OAuthErrorCode> {
        match self {
            Self::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// True when trying again later may succeed without any change (the server is failing or
    /// unreachable).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// What the MCP client should be told, as a denial the layers render:
    ///
    /// | failure | response |
    /// |---|---|
    /// | `invalid_grant`: the caller's token was refused by the authorization server | 401 `invalid_token` |
    /// | `invalid_target`, `invalid_scope`, or a narrowed grant the handler required in full | 403 (no challenge: no other token would help) |
    /// | the authorization server is unreachable or failing | 503 with `Retry-After` |
    /// | anything else (this server's client is misconfigured or the answer was invalid) | 503 with `Retry-After` |
    ///
    /// Descriptions are fixed texts: nothing the authorization server said reaches the client.
    pub fn to_auth_error(&self) -> AuthError {
        match self {
            Self::Refused {
                code: OAuthErrorCode::InvalidGrant,
                ..
            } => AuthError::invalid_token(
                "exchange_invalid_grant",
                "the authorization server refused to exchange this token; obtain a new one",
            ),
            Self::Refused {
                code: OAuthErrorCode::InvalidTarget,
                ..
            } => AuthError::access_denied(
                "exchange_invalid_target",
                "the authorization server refused a token for the downstream service",
            ),
            Self::Refused {
                code: OAuthErrorCode::InvalidScope,
                ..
            } => AuthError::access_denied(
                "exchange_invalid_scope",
                "the authorization server refused the scopes needed by the downstream service",
            ),
            Self::NotAllowed { .. } => AuthError::access_denied(
                "exchange_not_allowed",
                "this server may not obtain a token for that downstream service for this call",
            ),
            Self::ScopeNarrowed { .. } => AuthError::access_denied(
                "exchange_scope_narrowed",
                "the authorization server granted less than the downstream service needs",
            ),
            Self::Unavailable { retry_after, .. } => AuthError::unavailable(
                "exchange_unavailable",
                "the authorization server cannot be reached for token exchange; retry later",
                *retry_after,
            ),
            _ => AuthError::unavailable(
                "exchange_failed",
                "token exchange with the authorization server failed",
                SERVER_FAULT_RETRY,
            ),
        }
    }

    pub(crate) fn from_fetch(error: FetchError, retry_after: Duration) -> Self {
        match error {
            FetchError::TooLarge { limit, .. } => {
                Self::InvalidResponse(ResponseProblem::TooLarge(limit))
            }
            FetchError::Redirect { status, .. } => {
                Self::InvalidResponse(ResponseProblem::Redirect(status))
            }
            e if e.is_transient() => Self::Unavailable {
                reason: e.to_string(),
                retry_after,
            },
            e => Self::Misconfigured(e.to_string()),
        }
    }
}

impl From<ExchangeError> for AuthError {
    fn from(error: ExchangeError) -> Self {
        error.to_auth_error()
    }
}

/// Invalid configuration, reported by the builder. Each message names the setting and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither a token endpoint nor an issuer to discover it from.
    #[error("no token endpoint: set `token_endpoint(url)`, or `issuer(url)` to discover it")]
    NoEndpoint,
    /// Both a token endpoint and an issuer.
    #[error("both `token_endpoint` and `issuer` are set: set exactly one")]
    BothEndpoints,
    /// The configured token endpoint is refused by the fetch policy.
    #[error(
        "`token_endpoint`: {0} (for a loopback development server, allow loopback in the fetch policy)"
    )]
    Endpoint(FetchError),
    /// The issuer is not an absolute `http(s)` URL.
    #[error("`issuer` `{0}` is not an absolute http(s) URL")]
    Issuer(String),
    /// An empty client id.
    #[error("the client id is empty")]
    EmptyClientId,
    /// An empty client secret.
    #[error("the client secret is empty")]
    EmptySecret,
    /// The private key is unusable.
    #[error("private key: {0}")]
    Key(String),
    /// The HTTP client could not be built from the fetch policy.
    #[error("`fetch_policy`: {0}")]
    Fetch(FetchError),
    /// A numeric setting is out of range.
    #[error("`{setting}`: {problem}")]
    Invalid {
        /// The setting.
        setting: &'static str,
        /// What is wrong and what to do.
        problem: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_auth_core::AuthErrorKind;

    fn refused(code: &str) -> ExchangeError {
        ExchangeError::Refused {
            code: OAuthErrorCode::parse(code),
            description: Some("nope".into()),
            status: 400,
        }
    }

    #[test]
    fn codes_round_trip_and_others_are_sanitised() {
        for code in [
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
            "invalid_target",
        ] {
            let parsed = OAuthErrorCode::parse(code);
            assert!(!matches!(parsed, OAuthErrorCode::Other(_)), "{code}");
            assert_eq!(parsed.as_str(), code);
        }
        let other = OAuthErrorCode::parse("weird\n\"code\"\u{7f}");
        assert_eq!(other, OAuthErrorCode::Other("weirdcode".into()));
        assert!(OAuthErrorCode::parse("temporarily_unavailable").is_server_failure());
    }

    #[test]
    fn failures_map_to_the_documented_statuses() {
        let cases = [
            (refused("invalid_grant"), 401, AuthErrorKind::InvalidToken),
            (refused("invalid_target"), 403, AuthErrorKind::AccessDenied),
            (refused("invalid_scope"), 403, AuthErrorKind::AccessDenied),
            (
                ExchangeError::Unavailable {
                    reason: "down".into(),
                    retry_after: Duration::from_secs(3),
                },
                503,
                AuthErrorKind::Unavailable,
            ),
            (refused("invalid_client"), 503, AuthErrorKind::Unavailable),
            (
                ExchangeError::InvalidResponse(ResponseProblem::MissingField("access_token")),
                503,
                AuthErrorKind::Unavailable,
            ),
        ];
        for (error, status, kind) in cases {
            let auth = error.to_auth_error();
            assert_eq!(auth.status(), status, "{error}");
            assert_eq!(auth.kind(), kind, "{error}");
            assert!(!auth.description().contains("nope"), "AS text stays out");
        }
        let unavailable = ExchangeError::Unavailable {
            reason: "down".into(),
            retry_after: Duration::from_secs(3),
        };
        assert_eq!(
            unavailable.to_auth_error().retry_after(),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn messages_name_the_code_and_description() {
        let text = refused("invalid_scope").to_string();
        assert!(
            text.contains("invalid_scope") && text.contains("nope"),
            "{text}"
        );
        assert_eq!(refused("invalid_scope").code(), "invalid_scope");
    }
}
