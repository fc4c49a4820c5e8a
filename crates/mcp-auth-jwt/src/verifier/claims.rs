//! Checking the claims of a token whose signature verified, and building the principal.

use mcp_auth_core::{Actor, AuthError, BearerToken, Principal, ResourceId, Scopes, TokenDigest};
use serde_json::{Map, Value};

use crate::config::IssuerConfig;
use crate::token::{audiences, numeric_date, string_claim};

fn invalid(reason: &'static str, description: String) -> AuthError {
    AuthError::invalid_token(reason, description)
}

/// Applies the access-token rules to `claims` at time `now` and builds the principal.
pub(crate) fn check(
    claims: Map<String, Value>,
    config: &IssuerConfig,
    resource: &ResourceId,
    now: u64,
    token: &str,
    digest: TokenDigest,
) -> Result<Principal, AuthError> {
    let leeway = config.leeway.as_secs();
    let exp = numeric_date(&claims, "exp")?
        .ok_or_else(|| invalid("missing_claim", "token has no `exp` claim".into()))?;
    if now >= exp.saturating_add(leeway) {
        return Err(invalid(
            "expired",
            format!("token expired {} seconds ago", now - exp),
        ));
    }
    if let Some(nbf) = numeric_date(&claims, "nbf")?
        && nbf > now.saturating_add(leeway)
    {
        return Err(invalid(
            "not_yet_valid",
            format!("token is not valid for another {} seconds (nbf)", nbf - now),
        ));
    }
    let iat = numeric_date(&claims, "iat")?;
    if let Some(iat) = iat
        && iat > now.saturating_add(leeway)
    {
        return Err(invalid(
            "issued_in_future",
            format!("token was issued {} seconds in the future (iat)", iat - now),
        ));
    }
    let auds = audiences(&claims)?;
    if auds.is_empty() {
        return Err(invalid("missing_claim", "token has no `aud` claim".into()));
    }
    if !auds.iter().any(|aud| resource.matches(aud)) {
        return Err(invalid(
            "wrong_audience",
            format!("token audience does not include this resource ({resource})"),
        ));
    }
    for name in config.required.names() {
        if !claims.contains_key(name) {
            return Err(invalid(
                "missing_claim",
                format!("token has no `{name}` claim"),
            ));
        }
    }
    let issuer = string_claim(&claims, "iss")?.unwrap_or_default().to_owned();
    let subject = string_claim(&claims, "sub")?.unwrap_or_default().to_owned();
    let client_id = match string_claim(&claims, "client_id")? {
        Some(id) => Some(id.to_owned()),
        None => string_claim(&claims, "azp")?.map(str::to_owned),
    };
    let jti = string_claim(&claims, "jti")?.map(str::to_owned);
    let scopes = Scopes::from_claims(&claims);
    let actor = claims.get("act").and_then(Actor::from_claim);

    let mut builder = Principal::builder(issuer, subject, BearerToken::with_digest(token, digest))
        .scopes(scopes)
        .audiences(auds)
        .expires_at(exp);
    if let Some(id) = client_id {
        builder = builder.client_id(id);
    }
    if let Some(iat) = iat {
        builder = builder.issued_at(iat);
    }
    if let Some(jti) = jti {
        builder = builder.token_id(jti);
    }
    if let Some(actor) = actor {
        builder = builder.actor(actor);
    }
    Ok(builder.claims(claims).build())
}
