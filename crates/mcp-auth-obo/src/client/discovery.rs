//! Finding the token endpoint in the issuer's metadata (RFC 8414, then OpenID Connect).

use std::time::Duration;

use mcp_auth_fetch::Fetcher;
use serde_json::Value;

use crate::error::ExchangeError;

/// Finds the issuer's `token_endpoint`, accepting only a document whose `issuer` is exactly
/// the configured one and an endpoint the fetch policy allows.
pub(crate) async fn token_endpoint(
    fetcher: &Fetcher,
    issuer: &str,
) -> Result<String, ExchangeError> {
    let found = match mcp_auth_fetch::discovery::discover(fetcher, issuer).await {
        Ok(found) => found,
        Err(e) if e.transient => {
            return Err(ExchangeError::Unavailable {
                reason: e.to_string(),
                retry_after: Duration::ZERO,
            });
        }
        Err(e) => return Err(ExchangeError::Misconfigured(e.to_string())),
    };
    let Some(endpoint) = found.text("token_endpoint") else {
        return Err(ExchangeError::Misconfigured(format!(
            "`{}` has no `token_endpoint`",
            found.url
        )));
    };
    if let Some(grants) = found
        .document
        .get("grant_types_supported")
        .and_then(Value::as_array)
        && !grants.iter().any(|g| g == crate::TOKEN_EXCHANGE_GRANT)
    {
        // Advisory only: some servers support grants they do not advertise.
        tracing::warn!(%issuer, "the issuer does not advertise the token-exchange grant");
    }
    fetcher.check_url(endpoint).map_err(|e| {
        ExchangeError::Misconfigured(format!("the discovered token endpoint is refused: {e}"))
    })?;
    Ok(endpoint.to_owned())
}
