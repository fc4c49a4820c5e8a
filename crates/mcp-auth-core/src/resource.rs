//! Resource identifiers (RFC 8707): the URL that names this server as an audience.

use std::fmt;
use std::sync::Arc;

use url::Url;

/// The resource identifier of a protected MCP server, e.g. `https://mcp.example.com/mcp`.
///
/// It is the audience that access tokens must carry (RFC 8707) and the `resource` of the server's
/// protected-resource metadata (RFC 9728). The identifier is kept exactly as configured — the
/// metadata must repeat it byte for byte — and compared with token audiences in a canonical form:
/// scheme and host lower-cased, default port dropped, one trailing slash ignored.
///
/// ```
/// use mcp_auth_core::ResourceId;
///
/// let id = ResourceId::parse("https://MCP.example.com:443/mcp/").unwrap();
/// assert_eq!(id.as_str(), "https://MCP.example.com:443/mcp/");
/// assert_eq!(id.canonical(), "https://mcp.example.com/mcp");
/// assert!(id.matches("https://mcp.example.com/mcp"));
/// assert!(!id.matches("https://mcp.example.com/other"));
/// assert_eq!(
///     id.metadata_url(),
///     "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
/// );
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResourceId {
    original: Arc<str>,
    canonical: Arc<str>,
    metadata_path: Arc<str>,
    origin: Arc<str>,
}

/// Why a string is not a usable resource identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceIdError {
    /// Not an absolute URL.
    #[error("resource identifier `{0}` is not an absolute URL: {1}")]
    NotAUrl(String, String),
    /// Scheme other than `https` or `http`.
    #[error("resource identifier `{0}` must use https (or http during development)")]
    Scheme(String),
    /// RFC 8707 forbids fragments in resource indicators.
    #[error("resource identifier `{0}` must not contain a fragment (`#...`)")]
    Fragment(String),
    /// Userinfo in a public identifier is a mistake or an attack.
    #[error("resource identifier `{0}` must not contain a user name or password")]
    UserInfo(String),
}

impl ResourceId {
    /// Parses and validates a resource identifier.
    ///
    /// # Errors
    /// The string is not an absolute `http`/`https` URL, or has a fragment or userinfo.
    pub fn parse(s: &str) -> Result<Self, ResourceIdError> {
        let url = Url::parse(s).map_err(|e| ResourceIdError::NotAUrl(s.into(), e.to_string()))?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(ResourceIdError::Scheme(s.into()));
        }
        if url.fragment().is_some() || s.contains('#') {
            return Err(ResourceIdError::Fragment(s.into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ResourceIdError::UserInfo(s.into()));
        }
        let origin = url.origin().ascii_serialization();
        let path = url.path().strip_suffix('/').unwrap_or(url.path());
        let canonical = match url.query() {
            Some(q) => format!("{origin}{path}?{q}"),
            None => format!("{origin}{path}"),
        };
        Ok(Self {
            original: s.into(),
            canonical: canonical.into(),
            metadata_path: format!("/.well-known/oauth-protected-resource{path}").into(),
            origin: origin.into(),
        })
    }

    /// The identifier exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The canonical form used for comparisons.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// True if `audience` names this resource: equal after canonicalisation. An audience that is
    /// not a URL matches only if it is byte-identical to the configured identifier.
    pub fn matches(&self, audience: &str) -> bool {
        if audience == &*self.original || audience == &*self.canonical {
            return true;
        }
        match ResourceId::parse(audience) {
            Ok(other) => other.canonical == self.canonical,
            Err(_) => false,
        }
    }

    /// The path of the RFC 9728 metadata document for this resource:
    /// `/.well-known/oauth-protected-resource` followed by the resource's path.
    pub fn metadata_path(&self) -> &str {
        &self.metadata_path
    }

    /// The absolute URL of the RFC 9728 metadata document for this resource (the value of
    /// `resource_metadata` in challenges).
    pub fn metadata_url(&self) -> String {
        format!("{}{}", self.origin, self.metadata_path)
    }

    /// `scheme://host[:port]` of the identifier.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl fmt::Debug for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResourceId").field(&&*self.original).finish()
    }
}

impl std::str::FromStr for ResourceId {
    type Err = ResourceIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let cases = [
            ("https://Example.COM/mcp", "https://example.com/mcp"),
            ("https://example.com:443/mcp/", "https://example.com/mcp"),
            ("http://example.com:80/", "http://example.com"),
            ("http://127.0.0.1:8080/mcp", "http://127.0.0.1:8080/mcp"),
            ("HTTPS://example.com", "https://example.com"),
            ("https://example.com/a/b?x=1", "https://example.com/a/b?x=1"),
        ];
        for (input, canonical) in cases {
            assert_eq!(
                ResourceId::parse(input).unwrap().canonical(),
                canonical,
                "{input}"
            );
        }
    }

    #[test]
    fn matches_equivalent_audiences_only() {
        let id = ResourceId::parse("https://example.com/mcp").unwrap();
        for aud in [
            "https://example.com/mcp",
            "https://EXAMPLE.com:443/mcp/",
            "HTTPS://example.com/mcp",
        ] {
            assert!(id.matches(aud), "{aud}");
        }
        for aud in [
            "https://example.com/mcp2",
            "https://example.com/",
            "http://example.com/mcp",
            "https://example.com:8443/mcp",
            "https://evil.example.com/mcp",
            "https://example.com/mcp/tools",
            "example.com/mcp",
            "",
        ] {
            assert!(!id.matches(aud), "{aud}");
        }
    }

    #[test]
    fn non_url_identifier_matches_itself_only() {
        let id = ResourceId::parse("https://example.com/mcp").unwrap();
        assert!(!id.matches("urn:example:mcp"));
    }

    #[test]
    fn rejects_bad_identifiers() {
        assert!(matches!(
            ResourceId::parse("/mcp"),
            Err(ResourceIdError::NotAUrl(..))
        ));
        assert!(matches!(
            ResourceId::parse("ftp://x/y"),
            Err(ResourceIdError::Scheme(_))
        ));
        assert!(matches!(
            ResourceId::parse("https://x/y#f"),
            Err(ResourceIdError::Fragment(_))
        ));
        assert!(matches!(
            ResourceId::parse("https://x/y#"),
            Err(ResourceIdError::Fragment(_))
        ));
        assert!(matches!(
            ResourceId::parse("https://u:p@x/y"),
            Err(ResourceIdError::UserInfo(_))
        ));
    }

    #[test]
    fn metadata_urls_insert_the_well_known_segment() {
        let cases = [
            (
                "https://example.com/mcp",
                "https://example.com/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "https://example.com/",
                "https://example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://example.com",
                "https://example.com/.well-known/oauth-protected-resource",
            ),
            (
                "http://127.0.0.1:9/a/b/",
                "http://127.0.0.1:9/.well-known/oauth-protected-resource/a/b",
            ),
        ];
        for (input, url) in cases {
            assert_eq!(
                ResourceId::parse(input).unwrap().metadata_url(),
                url,
                "{input}"
            );
        }
    }

    #[test]
    fn keeps_the_original_bytes() {
        let id = ResourceId::parse("https://Example.com/mcp/").unwrap();
        assert_eq!(id.as_str(), "https://Example.com/mcp/");
        assert_eq!(id.to_string(), "https://Example.com/mcp/");
    }
}
