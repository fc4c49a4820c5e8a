//! Whether a `client_id` names a Client ID Metadata Document, and if not, exactly why.

use std::fmt;

use url::{Host, Url};

/// Longest client id accepted as a document URL, in bytes. Longer ids are refused before any
/// parsing or caching, so a hostile token cannot make the server hold arbitrarily long keys.
pub const MAX_CLIENT_ID_LEN: usize = 2048;

/// A `client_id` that passed the URL rules: it names a Client ID Metadata Document.
///
/// ```
/// use mcp_auth_cimd::CimdUrl;
///
/// let url = CimdUrl::parse("https://app.example.com/oauth/client.json", false).unwrap();
/// assert_eq!(url.host(), "app.example.com");
/// assert!(!url.has_query());
///
/// let err = CimdUrl::parse("https://app.example.com/", false).unwrap_err();
/// assert_eq!(err.to_string(), "the URL has no path (the document must live at a path such as /oauth/client.json)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CimdUrl {
    raw: String,
    url: Url,
    host: String,
}

impl CimdUrl {
    /// Applies the rules: `https`, a host, a path other than `/`, no fragment, no userinfo, no
    /// `.` or `..` segments (also percent-encoded), no whitespace, control characters or
    /// backslashes, at most [`MAX_CLIENT_ID_LEN`] bytes. A query string is allowed (and warned
    /// about by [`ClientInfo::warnings`](crate::ClientInfo::warnings)).
    ///
    /// `allow_loopback_http` is the development switch: it admits `http://` for loopback hosts
    /// (`localhost`, `127.0.0.0/8`, `[::1]`) and nothing else.
    ///
    /// # Errors
    /// The first rule the id breaks.
    pub fn parse(client_id: &str, allow_loopback_http: bool) -> Result<Self, UrlRuleError> {
        if client_id.len() > MAX_CLIENT_ID_LEN {
            return Err(UrlRuleError::TooLong);
        }
        // The URL parser silently drops tabs and newlines and turns `\` into `/`, so the URL
        // fetched would differ from the id the document must repeat: refuse them outright.
        if client_id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return Err(UrlRuleError::InvalidCharacter);
        }
        let (scheme, rest) = client_id.split_once("://").ok_or(UrlRuleError::NotAUrl)?;
        if scheme != "https" && scheme != "http" {
            return Err(UrlRuleError::Scheme);
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_end);
        if authority.is_empty() {
            return Err(UrlRuleError::NoHost);
        }
        if authority.contains('@') {
            return Err(UrlRuleError::UserInfo);
        }
        if after.contains('#') {
            return Err(UrlRuleError::Fragment);
        }
        let path = after.split('?').next().unwrap_or("");
        if path.is_empty() || path == "/" {
            return Err(UrlRuleError::NoPath);
        }
        if path.split('/').any(is_dot_segment) {
            return Err(UrlRuleError::DotSegment);
        }
        let url = Url::parse(client_id).map_err(|_| UrlRuleError::NotAUrl)?;
        let host = match url.host() {
            Some(Host::Domain(d)) if !d.is_empty() => d.to_ascii_lowercase(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(UrlRuleError::NoHost),
        };
        if scheme == "http" && !(allow_loopback_http && is_loopback_host(&url)) {
            return Err(UrlRuleError::Scheme);
        }
        Ok(Self {
            raw: client_id.to_owned(),
            url,
            host,
        })
    }

    /// Quick test for "this id is meant as a URL" (it starts with `https:` or `http:`, in any
    /// case). Ids that are not are pre-registered client ids, judged by a different rule.
    pub fn looks_like_url(client_id: &str) -> bool {
        let lower = |n: usize| client_id.get(..n).map(str::to_ascii_lowercase);
        lower(6).as_deref() == Some("https:") || lower(5).as_deref() == Some("http:")
    }

    /// The client id, exactly as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The host, lower-cased (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// True when the id carries a query string (allowed, but discouraged by the draft).
    pub fn has_query(&self) -> bool {
        self.url.query().is_some()
    }
}

impl fmt::Debug for CimdUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CimdUrl").field(&self.raw).finish()
    }
}

impl fmt::Display for CimdUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// True for `.` and `..`, also when spelled with percent-encoded dots (`%2e`, `.%2E`, ...).
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
}

/// `localhost`, `*.localhost`, 127.0.0.0/8 and `::1`.
pub(crate) fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

/// Why a `client_id` is not a Client ID Metadata Document URL. The messages describe the rule,
/// never the id, so they are safe to send to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlRuleError {
    /// Longer than [`MAX_CLIENT_ID_LEN`].
    #[error("the URL is longer than {MAX_CLIENT_ID_LEN} bytes")]
    TooLong,
    /// Whitespace, a control character or a backslash.
    #[error("the URL contains whitespace, a control character or a backslash")]
    InvalidCharacter,
    /// Not an absolute URL.
    #[error("the client id is not an absolute URL")]
    NotAUrl,
    /// Not `https` (or `http` to a loopback host under the development switch).
    #[error("the URL must use the https scheme")]
    Scheme,
    /// No host.
    #[error("the URL has no host")]
    NoHost,
    /// An empty path or just `/`.
    #[error("the URL has no path (the document must live at a path such as /oauth/client.json)")]
    NoPath,
    /// A `#fragment`.
    #[error("the URL has a fragment")]
    Fragment,
    /// A username or password.
    #[error("the URL contains a username or password")]
    UserInfo,
    /// A `.` or `..` path segment.
    #[error("the URL has a `.` or `..` path segment")]
    DotSegment,
}

impl UrlRuleError {
    /// Short machine-readable reason, for audit records and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TooLong => "client_id_too_long",
            Self::InvalidCharacter => "client_id_invalid_character",
            Self::NotAUrl => "client_id_not_a_url",
            Self::Scheme => "client_id_scheme",
            Self::NoHost => "client_id_no_host",
            Self::NoPath => "client_id_no_path",
            Self::Fragment => "client_id_fragment",
            Self::UserInfo => "client_id_userinfo",
            Self::DotSegment => "client_id_dot_segment",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use UrlRuleError::*;

    #[test]
    fn rules_table() {
        // (client id, development switch, expected outcome)
        let cases: &[(&str, bool, Result<(), UrlRuleError>)] = &[
            ("https://app.example.com/client.json", false, Ok(())),
            (
                "https://app.example.com/oauth/client-metadata",
                false,
                Ok(()),
            ),
            ("https://app.example.com:8443/c.json", false, Ok(())),
            ("https://app.example.com/c.json?v=2", false, Ok(())),
            ("https://[2001:db8::1]/c.json", false, Ok(())),
            ("https://app.example.com/a/.well-known/c", false, Ok(())),
            ("https://app.example.com/a..b/c", false, Ok(())),
            ("https://app.example.com", false, Err(NoPath)),
            ("https://app.example.com/", false, Err(NoPath)),
            ("https://app.example.com?x=1", false, Err(NoPath)),
            ("https://app.example.com/?x=1", false, Err(NoPath)),
            ("https://app.example.com/c.json#frag", false, Err(Fragment)),
            ("https://app.example.com/c.json#", false, Err(Fragment)),
            ("https://user@app.example.com/c.json", false, Err(UserInfo)),
            (
                "https://user:pw@app.example.com/c.json",
                false,
                Err(UserInfo),
            ),
            ("https://@app.example.com/c.json", false, Err(UserInfo)),
            ("https://app.example.com/a/./c.json", false, Err(DotSegment)),
            (
                "https://app.example.com/a/../c.json",
                false,
                Err(DotSegment),
            ),
            ("https://app.example.com/..", false, Err(DotSegment)),
            (
                "https://app.example.com/a/%2e%2E/c.json",
                false,
                Err(DotSegment),
            ),
            (
                "https://app.example.com/a/.%2e/c.json",
                false,
                Err(DotSegment),
            ),
            (
                "https://app.example.com/a/%2E/c.json",
                false,
                Err(DotSegment),
            ),
            (
                "https://app.example.com/a\\..\\c.json",
                false,
                Err(InvalidCharacter),
            ),
            (
                "https://app.exa\tmple.com/c.json",
                false,
                Err(InvalidCharacter),
            ),
            (
                "https://app.example.com/c.json\n",
                false,
                Err(InvalidCharacter),
            ),
            (
                " https://app.example.com/c.json",
                false,
                Err(InvalidCharacter),
            ),
            ("http://app.example.com/c.json", false, Err(Scheme)),
            ("http://app.example.com/c.json", true, Err(Scheme)),
            ("http://127.0.0.1:8080/c.json", false, Err(Scheme)),
            ("http://127.0.0.1:8080/c.json", true, Ok(())),
            ("http://localhost/c.json", true, Ok(())),
            ("http://[::1]/c.json", true, Ok(())),
            ("HTTPS://app.example.com/c.json", false, Err(Scheme)),
            ("ftp://app.example.com/c.json", false, Err(Scheme)),
            ("https:app.example.com/c.json", false, Err(NotAUrl)),
            ("app-client", false, Err(NotAUrl)),
            ("", false, Err(NotAUrl)),
            ("https:///c.json", false, Err(NoHost)),
        ];
        for (id, dev, expected) in cases {
            let got = CimdUrl::parse(id, *dev).map(|_| ());
            assert_eq!(&got, expected, "{id:?} (development switch {dev})");
        }
        let long = format!("https://app.example.com/{}", "a".repeat(MAX_CLIENT_ID_LEN));
        assert_eq!(CimdUrl::parse(&long, false), Err(TooLong));
    }

    #[test]
    fn accessors() {
        let url = CimdUrl::parse("https://App.Example.com/c.json?v=1", false).unwrap();
        assert_eq!(url.as_str(), "https://App.Example.com/c.json?v=1");
        assert_eq!(url.host(), "app.example.com");
        assert!(url.has_query());
        assert_eq!(url.to_string(), url.as_str());
    }

    #[test]
    fn what_looks_like_a_url() {
        for id in [
            "https://a/b",
            "HTTPS://a/b",
            "http://a/b",
            "https:x",
            "Http:",
        ] {
            assert!(CimdUrl::looks_like_url(id), "{id}");
        }
        for id in [
            "svc",
            "urn:client:1",
            "",
            "htt",
            "app.example.com/c.json",
            "é",
        ] {
            assert!(!CimdUrl::looks_like_url(id), "{id}");
        }
    }

    #[test]
    fn messages_name_the_rule_not_the_id() {
        let err = CimdUrl::parse("https://secret-host.internal/#x", false).unwrap_err();
        assert!(!err.to_string().contains("secret-host"));
        assert_eq!(err.reason(), "client_id_fragment");
    }
}
