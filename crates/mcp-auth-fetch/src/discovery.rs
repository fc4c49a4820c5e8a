//! Authorization-server metadata discovery (RFC 8414, then OpenID Connect Discovery), shared by
//! every crate that needs an issuer's endpoints.

use serde_json::{Map, Value};

use crate::Fetcher;

/// The metadata locations of an issuer, in the order tried: RFC 8414 (well-known segment
/// inserted before the path), OpenID Connect with the segment inserted, and OpenID Connect
/// appended to the issuer.
///
/// ```
/// assert_eq!(
///     mcp_auth_fetch::discovery::metadata_urls("https://as.example.com/tenant"),
///     [
///         "https://as.example.com/.well-known/oauth-authorization-server/tenant",
///         "https://as.example.com/.well-known/openid-configuration/tenant",
///         "https://as.example.com/tenant/.well-known/openid-configuration",
///     ]
/// );
/// ```
pub fn metadata_urls(issuer: &str) -> Vec<String> {
    let trimmed = issuer.trim_end_matches('/');
    let (origin, path) = match trimmed.find("://").map(|i| i + 3) {
        Some(start) => match trimmed[start..].find('/') {
            Some(slash) => trimmed.split_at(start + slash),
            None => (trimmed, ""),
        },
        None => (trimmed, ""),
    };
    let mut urls = vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}/.well-known/openid-configuration{path}"),
    ];
    if !path.is_empty() {
        urls.push(format!("{trimmed}/.well-known/openid-configuration"));
    }
    urls
}

/// An issuer's metadata document, and where it was found.
#[derive(Clone, Debug)]
pub struct Discovered {
    /// The URL the document came from.
    pub url: String,
    /// The document (its `issuer` equals the configured issuer exactly).
    pub document: Map<String, Value>,
}

impl Discovered {
    /// A string member of the document.
    pub fn text(&self, member: &str) -> Option<&str> {
        self.document.get(member).and_then(Value::as_str)
    }
}

/// Why discovery failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("discovery for `{issuer}` failed: {}", problems.join("; "))]
pub struct DiscoveryError {
    /// The issuer.
    pub issuer: String,
    /// What went wrong at each location.
    pub problems: Vec<String>,
    /// True when a location failed in a way that may pass later (timeout, 5xx).
    pub transient: bool,
}

/// Fetches the issuer's metadata, accepting only a document whose `issuer` is exactly the
/// configured one (a mismatch at one location moves on to the next).
///
/// # Errors
/// No location gave an acceptable document.
pub async fn discover(fetcher: &Fetcher, issuer: &str) -> Result<Discovered, DiscoveryError> {
    discover_from(fetcher, issuer, issuer).await
}

/// Fetches the metadata found under `base` (its well-known locations, as for an issuer) and
/// accepts only a document whose `issuer` is exactly `issuer`.
///
/// For issuers whose identifier cannot be fetched itself: a multi-tenant issuer's metadata is
/// published under a shared endpoint (`…/organizations/v2.0`) and names a template
/// (`…/{tenantid}/v2.0`) as its issuer.
///
/// # Errors
/// No location gave an acceptable document.
pub async fn discover_from(
    fetcher: &Fetcher,
    base: &str,
    issuer: &str,
) -> Result<Discovered, DiscoveryError> {
    let mut problems = Vec::new();
    let mut transient = false;
    for url in metadata_urls(base) {
        match fetcher.get_json::<Value>(&url).await {
            Ok((Value::Object(document), _)) => {
                let claimed = document.get("issuer").and_then(Value::as_str);
                if claimed == Some(issuer) {
                    return Ok(Discovered { url, document });
                }
                let claimed: Option<String> = claimed.map(|c| c.chars().take(80).collect());
                problems.push(format!("`{url}` names issuer {claimed:?}, not `{issuer}`"));
            }
            Ok(_) => problems.push(format!("`{url}` is not a JSON object")),
            Err(e) => {
                transient |= e.is_transient();
                problems.push(e.to_string());
            }
        }
    }
    Err(DiscoveryError {
        issuer: issuer.to_owned(),
        problems,
        transient,
    })
}
