//! Checking the claims of a token whose signature verified, and building the principal.

use mcp_auth_core::{
    Actor, AuthError, BearerToken, KeyBinding, Principal, ResourceId, Scopes, TokenDigest,
};
use serde_json::{Map, Value};

use crate::config::IssuerConfig;
use crate::jwks::clip;
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
    tenant: Option<&str>,
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
    if let Some(tenant) = tenant {
        match string_claim(&claims, "tid")? {
            Some(tid) if tid == tenant => {}
            Some(tid) => {
                return Err(invalid(
                    "wrong_tenant",
                    format!(
                        "token `tid` `{}` does not match the tenant its issuer names (`{tenant}`)",
                        clip(tid)
                    ),
                ));
            }
            None => {
                return Err(invalid(
                    "missing_claim",
                    "token has no `tid` claim; a multi-tenant issuer needs it".into(),
                ));
            }
        }
    }
    let auds = audiences(&claims)?;
    let matched = matched_audience(&auds, config, resource)?;
    for name in config.required.names() {
        if !claims.contains_key(name) {
            return Err(invalid(
                "missing_claim",
                format!("token has no `{name}` claim"),
            ));
        }
    }
    for (name, want) in &config.claim_values {
        let got = claims.get(name.as_str()).and_then(Value::as_str);
        if got != Some(want.as_str()) {
            return Err(invalid(
                "wrong_token_kind",
                match got {
                    Some(got) => format!(
                        "token claim `{name}` is `{}`; access tokens of this issuer have `{want}`",
                        clip(got)
                    ),
                    None => format!(
                        "token has no `{name}` claim; access tokens of this issuer have `{name}` = `{want}`"
                    ),
                },
            ));
        }
    }
    let issuer = string_claim(&claims, "iss")?.unwrap_or_default().to_owned();
    let subject = string_claim(&claims, "sub")?.unwrap_or_default().to_owned();
    let mut client_id = None;
    for name in &config.client_id_claims {
        if let Some(Value::String(id)) = claims.get(name.as_str()) {
            client_id = Some(id.clone());
            break;
        }
    }
    if !config.client_ids.is_empty() {
        match &client_id {
            Some(id) if config.client_ids.contains(id) => {}
            Some(id) => {
                return Err(invalid(
                    "client_not_allowed",
                    format!(
                        "token was issued to client `{}`, which this resource does not admit",
                        clip(id)
                    ),
                ));
            }
            None => {
                return Err(invalid(
                    "missing_claim",
                    format!(
                        "token names no client (`{}`); this issuer admits listed clients only",
                        config.client_id_claims.join("`, `")
                    ),
                ));
            }
        }
    }
    let jti = string_claim(&claims, "jti")?.map(str::to_owned);
    let scopes = match &config.scope_prefix {
        None => Scopes::from_claims(&claims),
        Some(prefix) => Scopes::from_claims(&claims)
            .iter()
            .map(|scope| scope.strip_prefix(prefix.as_str()).unwrap_or(scope))
            .collect(),
    };
    let roles = roles(&claims, &config.role_claims);
    let binding = key_binding(&claims)?;
    let actor = claims.get("act").and_then(Actor::from_claim);

    let itself = config
        .profile
        .acts_for_itself(&claims, &subject, client_id.as_deref());
    let mut builder = Principal::builder(issuer, subject, BearerToken::with_digest(token, digest))
        .acts_for_itself(itself)
        .scopes(scopes)
        .audiences(auds)
        .roles(roles)
        .expires_at(exp);
    if let Some(audience) = matched {
        builder = builder.audience(audience);
    }
    if let Some(binding) = binding {
        builder = builder.key_binding(binding);
    }
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

/// The audience that admits the token: the resource first, then the issuer's accepted
/// audiences; `None` for a token without `aud` from an issuer that accepts those.
fn matched_audience(
    auds: &[String],
    config: &IssuerConfig,
    resource: &ResourceId,
) -> Result<Option<String>, AuthError> {
    if auds.is_empty() {
        if config.accept_missing_audience {
            return Ok(None);
        }
        return Err(invalid("missing_claim", "token has no `aud` claim".into()));
    }
    if let Some(aud) = auds.iter().find(|aud| resource.matches(aud)) {
        return Ok(Some(aud.clone()));
    }
    if let Some(aud) = auds.iter().find(|aud| config.audiences.contains(aud)) {
        return Ok(Some(aud.clone()));
    }
    let shown: Vec<String> = auds
        .iter()
        .take(3)
        .map(|a| format!("`{}`", clip(a)))
        .collect();
    Err(invalid(
        "wrong_audience",
        format!(
            "token audience does not include this resource ({resource}){}; the token names {}",
            if config.audiences.is_empty() {
                ""
            } else {
                " or an audience accepted for its issuer"
            },
            shown.join(", "),
        ),
    ))
}

/// Strings found at the configured claim paths (see `mcp_auth_core::claim_strings`).
/// Bounded: at most 256 roles of at most 256 bytes are kept.
fn roles(claims: &Map<String, Value>, paths: &[String]) -> Vec<String> {
    const MAX_ROLES: usize = 256;
    let mut roles = Vec::new();
    for path in paths {
        for role in mcp_auth_core::claim_strings(claims, path).filter(|r| r.len() <= 256) {
            if roles.len() == MAX_ROLES {
                return roles;
            }
            if !roles.iter().any(|r| r == role) {
                roles.push(role.to_owned());
            }
        }
    }
    roles
}

/// The key a token is bound to (`cnf`, RFC 7800): a DPoP key thumbprint (`jkt`, RFC 9449 §6)
/// or a certificate thumbprint (`x5t#S256`, RFC 8705 §3.1). A confirmation this server cannot
/// check refuses the token: accepting it as a bearer token is what the binding forbids.
fn key_binding(claims: &Map<String, Value>) -> Result<Option<KeyBinding>, AuthError> {
    let Some(cnf) = claims.get("cnf") else {
        return Ok(None);
    };
    let Value::Object(cnf) = cnf else {
        return Err(invalid("malformed", "claim `cnf` must be an object".into()));
    };
    if let Some(Value::String(jkt)) = cnf.get("jkt") {
        return Ok(Some(KeyBinding::Dpop { jkt: jkt.clone() }));
    }
    if let Some(Value::String(x5t)) = cnf.get("x5t#S256") {
        return Ok(Some(KeyBinding::Certificate {
            x5t_s256: x5t.clone(),
        }));
    }
    Err(invalid(
        "unsupported_binding",
        "the token is bound to a key in a way this server cannot check (`cnf` has neither `jkt` nor `x5t#S256`)".into(),
    ))
}
