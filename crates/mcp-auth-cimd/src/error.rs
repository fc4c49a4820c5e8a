//! Why a client could not be resolved, and how that becomes a response.

use std::time::Duration;

use mcp_auth_core::AuthError;
use mcp_auth_fetch::FetchError;

use crate::{DocumentError, MAX_DOCUMENT_BYTES, UrlRuleError};

/// How long a client is told to wait after a 503 from this crate.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why [`ClientResolver`](crate::ClientResolver) could not produce a [`ClientInfo`](crate::ClientInfo).
///
/// `Display` is for operators: it names the URL and the underlying failure. What a client is
/// told comes from [`ResolveError::to_auth_error`], which says what was wrong with its document
/// and nothing about this server's network.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The client id is not a Client ID Metadata Document URL.
    #[error("not a Client ID Metadata Document URL: {0}")]
    InvalidClientId(#[from] UrlRuleError),
    /// The URL may not be fetched: a refused address (private, loopback, link-local, cloud
    /// metadata, also after DNS resolution), a refused scheme, or a redirect.
    #[error("refused to fetch the client metadata document: {0}")]
    Refused(FetchError),
    /// The server answered, but not with a usable document: a 4xx status, more than
    /// [`MAX_DOCUMENT_BYTES`], not a JSON media type, not JSON.
    #[error("unusable client metadata document: {0}")]
    BadResponse(FetchError),
    /// The document could not be obtained now: timeout, connection failure, 5xx or 429.
    #[error("client metadata document unavailable: {0}")]
    Unavailable(FetchError),
    /// The document breaks a rule.
    #[error("invalid client metadata document: {0}")]
    InvalidDocument(#[from] DocumentError),
    /// Too many different documents are being fetched at once.
    #[error("too many client metadata documents are being fetched at once")]
    Busy,
}

impl ResolveError {
    pub(crate) fn from_fetch(error: FetchError) -> Self {
        match &error {
            FetchError::Url(_)
            | FetchError::Scheme { .. }
            | FetchError::ForbiddenAddress { .. }
            | FetchError::Redirect { .. } => Self::Refused(error),
            FetchError::TooLarge { .. }
            | FetchError::ContentType { .. }
            | FetchError::Json { .. } => Self::BadResponse(error),
            FetchError::Status { status, .. } if *status < 500 && *status != 429 => {
                Self::BadResponse(error)
            }
            _ => Self::Unavailable(error),
        }
    }

    /// True when trying again later may succeed (the document was unreachable, or the server
    /// was busy); such failures become 503, every other one 403.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Busy)
    }

    /// Short machine-readable reason, for audit records and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidClientId(e) => e.reason(),
            Self::Refused(FetchError::Redirect { .. }) => "client_document_redirect",
            Self::Refused(_) => "client_document_refused_address",
            Self::BadResponse(FetchError::TooLarge { .. }) => "client_document_too_large",
            Self::BadResponse(FetchError::Status { .. }) => "client_document_status",
            Self::BadResponse(_) => "client_document_not_json",
            Self::Unavailable(FetchError::Timeout(_)) => "client_document_timeout",
            Self::Unavailable(_) => "client_document_unavailable",
            Self::InvalidDocument(e) => e.reason(),
            Self::Busy => "client_lookups_busy",
        }
    }

    /// What the client is told: precise about its own document, silent about this server's
    /// network (no addresses, no resolver or connection messages).
    pub fn public_description(&self) -> String {
        match self {
            Self::InvalidClientId(e) => {
                format!("the client id is not a valid Client ID Metadata Document URL: {e}")
            }
            Self::Refused(FetchError::Redirect { .. }) => {
                "the client id URL answered with a redirect; redirects are not followed".into()
            }
            Self::Refused(_) => {
                "the client id URL points to an address this server does not fetch from".into()
            }
            Self::BadResponse(FetchError::TooLarge { .. }) => {
                format!("the client metadata document is larger than {MAX_DOCUMENT_BYTES} bytes")
            }
            Self::BadResponse(FetchError::Status { status, .. }) => {
                format!("the client id URL answered with status {status}")
            }
            Self::BadResponse(FetchError::ContentType { .. }) => {
                "the client metadata document is not served with a JSON media type".into()
            }
            Self::BadResponse(_) => "the client metadata document is not valid JSON".into(),
            Self::Unavailable(_) => {
                "the client metadata document could not be fetched; try again later".into()
            }
            Self::InvalidDocument(e) => format!("invalid client metadata document: {e}"),
            Self::Busy => "too many client lookups are in progress; try again later".into(),
        }
    }

    /// The denial: 503 with `Retry-After` when [transient](Self::is_transient), else 403
    /// `access_denied`.
    pub fn to_auth_error(&self) -> AuthError {
        if self.is_transient() {
            AuthError::unavailable(self.reason(), self.public_description(), RETRY_AFTER)
        } else {
            AuthError::access_denied(self.reason(), self.public_description())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_failures_are_sorted_by_whose_fault_they_are() {
        let url = || "https://app.example.com/c.json".to_owned();
        let cases = [
            (
                FetchError::ForbiddenAddress {
                    host: "10.0.0.1".into(),
                    reason: "private network",
                },
                false,
                "client_document_refused_address",
            ),
            (
                FetchError::Redirect {
                    url: url(),
                    status: 302,
                },
                false,
                "client_document_redirect",
            ),
            (
                FetchError::ForbiddenAddress {
                    host: "internal.example".into(),
                    reason: "private network",
                },
                false,
                "client_document_refused_address",
            ),
            (
                FetchError::Connect {
                    url: url(),
                    message: "connection refused".into(),
                },
                true,
                "client_document_unavailable",
            ),
            (FetchError::Timeout(url()), true, "client_document_timeout"),
            (
                FetchError::Status {
                    url: url(),
                    status: 404,
                },
                false,
                "client_document_status",
            ),
            (
                FetchError::Status {
                    url: url(),
                    status: 503,
                },
                true,
                "client_document_unavailable",
            ),
            (
                FetchError::Status {
                    url: url(),
                    status: 429,
                },
                true,
                "client_document_unavailable",
            ),
            (
                FetchError::TooLarge {
                    url: url(),
                    limit: 5120,
                },
                false,
                "client_document_too_large",
            ),
            (
                FetchError::ContentType {
                    url: url(),
                    content_type: "text/html".into(),
                },
                false,
                "client_document_not_json",
            ),
        ];
        for (fetch, transient, reason) in cases {
            let e = ResolveError::from_fetch(fetch.clone());
            assert_eq!(e.is_transient(), transient, "{fetch}");
            assert_eq!(e.reason(), reason, "{fetch}");
            let auth = e.to_auth_error();
            assert_eq!(auth.status(), if transient { 503 } else { 403 }, "{fetch}");
            assert!(!auth.description().contains("10.0.0.1"));
            assert!(!auth.description().contains("internal.example"));
            assert!(!auth.description().contains("connection refused"));
        }
    }
}
