/// Why a fetch failed. Messages name the URL and the rule; they are for operators' logs, not
/// for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL is unusable.
    #[error("invalid URL {0}")]
    Url(String),
    /// The scheme is not allowed.
    #[error(
        "`{url}`: scheme `{scheme}` is not allowed (https only; http only to loopback under the development switch)"
    )]
    Scheme {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// The host is, or resolves only to, a refused address.
    #[error("refusing to connect to {host}: {reason}")]
    ForbiddenAddress {
        /// The host or address.
        host: String,
        /// The range it falls in.
        reason: &'static str,
    },
    /// The fetch took longer than the policy allows.
    #[error("`{0}` timed out")]
    Timeout(String),
    /// The connection could not be made or broke.
    #[error("`{url}`: {message}")]
    Connect {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The server answered with a redirect, which is never followed.
    #[error("`{url}` answered with a redirect ({status}); redirects are not followed")]
    Redirect {
        /// The URL.
        url: String,
        /// The 3xx status.
        status: u16,
    },
    /// The server answered with an unexpected status.
    #[error("`{url}` answered with status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The body is larger than the limit.
    #[error("`{url}`: response body exceeds {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON by its media type.
    #[error("`{url}`: expected a JSON media type, got `{content_type}`")]
    ContentType {
        /// The URL.
        url: String,
        /// What it sent.
        content_type: String,
    },
    /// The body is not the expected JSON.
    #[error("`{url}`: invalid JSON: {message}")]
    Json {
        /// The URL.
        url: String,
        /// The parser's message.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl FetchError {
    pub(crate) fn from_reqwest(url: &str, e: reqwest::Error) -> Self {
        if e.is_timeout() {
            return Self::Timeout(url.into());
        }
        // The resolver's refusal arrives somewhere in the error's source chain.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            // Some layers wrap it in an io::Error, whose `source` skips the wrapped error.
            let refused = s
                .downcast_ref::<crate::resolver::RefusedName>()
                .or_else(|| {
                    s.downcast_ref::<std::io::Error>()
                        .and_then(|io| io.get_ref())
                        .and_then(|inner| inner.downcast_ref::<crate::resolver::RefusedName>())
                });
            if let Some(refused) = refused {
                return Self::ForbiddenAddress {
                    host: refused.host.clone(),
                    reason: refused.reason,
                };
            }
            message = format!("{message}: {s}");
            source = s.source();
        }
        Self::Connect {
            url: url.into(),
            message,
        }
    }

    /// True for failures that say nothing about the document (timeouts, connection failures,
    /// 5xx): worth retrying later, and a reason to keep using what was fetched before.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Connect { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}
