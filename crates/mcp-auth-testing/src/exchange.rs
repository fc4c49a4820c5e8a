//! A token endpoint for the mock issuer that performs RFC 8693 token exchange, so on-behalf-of
//! flows can be tried and tested without a real authorization server.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use crate::keys::SigningKey;
use crate::token::{TokenBuilder, now};

pub(crate) const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Who may exchange, and for what.
#[derive(Default)]
pub(crate) struct ExchangeConfig {
    /// client id → secret.
    pub(crate) clients: HashMap<String, String>,
    /// target (audience or resource) → scopes it may carry.
    pub(crate) targets: HashMap<String, Vec<String>>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, "Basic".parse().expect("static"));
    }
    response
}

fn form_decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn parse_form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// The client credentials: HTTP Basic (RFC 6749 §2.3.1, form-encoded inside) or the form.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = String::from_utf8(STANDARD.decode(basic.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        return Some((form_decode(id), form_decode(secret)));
    }
    Some((
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
    ))
}

/// Handles `POST /token`.
pub(crate) fn handle(
    issuer: &str,
    keys: &[SigningKey],
    signer: &SigningKey,
    config: &ExchangeConfig,
    headers: &HeaderMap,
    body: &str,
) -> Response {
    let form = parse_form(body);
    let Some((client_id, secret)) = client_credentials(headers, &form) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication is required",
        );
    };
    if config.clients.get(&client_id) != Some(&secret) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some(GRANT) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only token exchange is served here",
        );
    }
    if form.get("subject_token_type").map(String::as_str) != Some(ACCESS_TOKEN) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "subject_token_type must be an access token",
        );
    }
    if form
        .get("requested_token_type")
        .is_some_and(|t| t != ACCESS_TOKEN)
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "only access tokens are issued",
        );
    }
    let Some(subject) = form
        .get("subject_token")
        .and_then(|t| verify_own(issuer, keys, t))
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the subject token is not a valid token of this issuer",
        );
    };
    let targets: Vec<&String> = ["audience", "resource"]
        .iter()
        .filter_map(|k| form.get(*k))
        .collect();
    let target = match targets.as_slice() {
        [one] => (*one).clone(),
        [a, b] if a == b => (*a).clone(),
        [] => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_target",
                "name an audience or a resource",
            );
        }
        _ => return oauth_error(StatusCode::BAD_REQUEST, "invalid_target", "name one target"),
    };
    let Some(allowed) = config.targets.get(&target) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_target", "unknown target");
    };
    let scope: Vec<String> = match form.get("scope") {
        Some(s) => s.split_ascii_whitespace().map(str::to_owned).collect(),
        None => allowed.clone(),
    };
    if let Some(bad) = scope.iter().find(|s| !allowed.contains(s)) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("`{bad}` is not allowed for this target"),
        );
    }
    let mut act = json!({"sub": client_id});
    if let Some(previous) = subject.get("act") {
        act["act"] = previous.clone();
    }
    let lifetime = 300;
    let token = TokenBuilder::with_defaults(signer, issuer, Some(&target))
        .claim("sub", subject.get("sub").cloned().unwrap_or(Value::Null))
        .claim("client_id", client_id.as_str())
        .claim("scope", scope.join(" "))
        .claim("act", act)
        .claim("exp", now() + lifetime)
        .sign();
    let body = json!({
        "access_token": token,
        "issued_token_type": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": scope.join(" "),
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// The claims of a token this issuer signed and that has not expired.
fn verify_own(issuer: &str, keys: &[SigningKey], token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (header, claims, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let kid = header.get("kid")?.as_str()?;
    let key = keys.iter().find(|k| k.kid() == kid)?;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk().clone()).ok()?;
    let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).ok()?;
    let message = format!("{}.{}", token.split('.').next()?, claims);
    if !jsonwebtoken::crypto::verify(
        signature,
        message.as_bytes(),
        &decoding,
        crate::keys::jose(key.alg()),
    )
    .ok()?
    {
        return None;
    }
    let claims: Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
    let fresh = claims
        .get("exp")
        .and_then(Value::as_u64)
        .is_some_and(|exp| exp > now());
    let ours = claims.get("iss").and_then(Value::as_str) == Some(issuer);
    (fresh && ours).then_some(claims)
}
