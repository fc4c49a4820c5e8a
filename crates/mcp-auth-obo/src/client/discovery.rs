//! Finding the token endpoint in the issuer's metadata (RFC 8414, then OpenID Connect).

use std::time::Duration;

use mcp_auth_fetch::Fetcher;
use serde_json::Value;

use crate::error::ExchangeError;

/// The metadata locations of an issuer, in the order tried: RFC 8414 (well-known segment
/// inserted before the path), OpenID Connect with the segment inserted, and OpenID Connect
/// appended to the issuer.
pub(crate) fn metadata_urls(issuer: &str) -> Vec<String> {
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

/// Finds the issuer's `token_endpoint`, accepting only a document whose `issuer` is exactly
/// the configured one and an endpoint the fetch policy allows.
pub(crate) async fn token_endpoint(
    fetcher: &Fetcher,
    issuer: &str,
) -> Result<String, ExchangeError> {
    let mut problems = Vec::new();
    let mut transient = false;
    for url in metadata_urls(issuer) {
        let doc = match fetcher.get_json::<Value>(&url).await {
            Ok((doc, _)) => doc,
            Err(e) => {
                transient |= e.is_transient();
                problems.push(e.to_string());
                continue;
            }
        };
        let claimed = doc.get("issuer").and_then(Value::as_str);
        if claimed != Some(issuer) {
            problems.push(format!(
                "`{url}` names issuer {:?}, not `{issuer}`",
                claimed.map(|c| c.chars().take(80).collect::<String>())
            ));
            continue;
        }
        let Some(endpoint) = doc.get("token_endpoint").and_then(Value::as_str) else {
            return Err(ExchangeError::Misconfigured(format!(
                "`{url}` has no `token_endpoint`"
            )));
        };
        if let Some(grants) = doc.get("grant_types_supported").and_then(Value::as_array)
            && !grants.iter().any(|g| g == crate::TOKEN_EXCHANGE_GRANT)
        {
            // Advisory only: some servers support grants they do not advertise.
            tracing::warn!(%issuer, "the issuer does not advertise the token-exchange grant");
        }
        fetcher.check_url(endpoint).map_err(|e| {
            ExchangeError::Misconfigured(format!("the discovered token endpoint is refused: {e}"))
        })?;
        return Ok(endpoint.to_owned());
    }
    let reason = format!("discovery for `{issuer}` failed: {}", problems.join("; "));
    Err(if transient {
        ExchangeError::Unavailable {
            reason,
            retry_after: Duration::ZERO,
        }
    } else {
        ExchangeError::Misconfigured(reason)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_locations() {
        assert_eq!(
            metadata_urls("https://as.example.com"),
            [
                "https://as.example.com/.well-known/oauth-authorization-server",
                "https://as.example.com/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            metadata_urls("https://as.example.com/tenant/"),
            [
                "https://as.example.com/.well-known/oauth-authorization-server/tenant",
                "https://as.example.com/.well-known/openid-configuration/tenant",
                "https://as.example.com/tenant/.well-known/openid-configuration",
            ]
        );
    }
}
