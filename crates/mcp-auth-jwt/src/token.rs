//! The untrusted front end: splitting a compact JWS and reading its header and claims.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_auth_core::Algorithm;
use mcp_auth_core::AuthError;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::jwks::clip;

/// A JWS whose header and claims have been read but whose signature has not been checked.
pub(crate) struct UnverifiedToken<'a> {
    /// `header.claims`, the signed bytes.
    pub(crate) signing_input: &'a str,
    /// The base64url signature.
    pub(crate) signature: &'a str,
    pub(crate) alg: Algorithm,
    pub(crate) typ: Option<String>,
    pub(crate) kid: Option<String>,
    pub(crate) claims: Map<String, Value>,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<Value>,
    #[serde(default)]
    crit: Option<Value>,
    // `jku`, `x5u`, `jwk`, `x5c` and the rest are ignored: keys come only from the issuer's own
    // configured source.
}

fn invalid(reason: &'static str, description: impl Into<String>) -> AuthError {
    AuthError::invalid_token(reason, description.into())
}

/// Splits and decodes a compact JWS.
pub(crate) fn parse(token: &str, max_len: usize) -> Result<UnverifiedToken<'_>, AuthError> {
    if token.len() > max_len {
        return Err(invalid(
            "token_too_large",
            format!("token is longer than {max_len} bytes"),
        ));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        let segments = token.split('.').count();
        return Err(if segments == 5 {
            invalid(
                "unsupported_token",
                "encrypted tokens (JWE) are not accepted",
            )
        } else {
            invalid(
                "malformed",
                format!("token is not a JWT: expected 3 dot-separated segments, found {segments}"),
            )
        });
    };
    let signing_input = &token[..header.len() + 1 + claims.len()];

    let header_bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| invalid("malformed", "token header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|_| invalid("malformed", "token header is not a JSON object"))?;
    let alg_name = header
        .alg
        .ok_or_else(|| invalid("malformed", "token header has no `alg`"))?;
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(invalid(
            "alg_none",
            "unsecured tokens (alg `none`) are never accepted",
        ));
    }
    let alg = alg_name.parse::<Algorithm>().map_err(|_| {
        invalid(
            "alg_unsupported",
            format!("unsupported algorithm `{}`", clip(&alg_name)),
        )
    })?;
    if let Some(crit) = header.crit {
        return Err(invalid(
            "crit_unsupported",
            format!(
                "critical header parameters are not supported: {}",
                clip(&crit.to_string())
            ),
        ));
    }
    let kid = match header.kid {
        None => None,
        Some(Value::String(kid)) if kid.len() <= 256 => Some(kid),
        Some(_) => {
            return Err(invalid(
                "malformed",
                "token `kid` is not a string of at most 256 bytes",
            ));
        }
    };
    if signature.is_empty() {
        return Err(invalid("malformed", "token has an empty signature"));
    }

    let claims_bytes = URL_SAFE_NO_PAD
        .decode(claims)
        .map_err(|_| invalid("malformed", "token claims are not base64url"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&claims_bytes)
        .map_err(|_| invalid("malformed", "token claims are not a JSON object"))?;

    Ok(UnverifiedToken {
        signing_input,
        signature,
        alg,
        typ: header.typ,
        kid,
        claims,
    })
}

/// Reads a NumericDate claim (seconds, possibly fractional).
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<u64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            let secs = n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.is_finite())
                    .map(|f| f as u64)
            });
            secs.map(Some)
                .ok_or_else(|| invalid("malformed", format!("claim `{name}` is not a valid date")))
        }
        Some(_) => Err(invalid(
            "malformed",
            format!("claim `{name}` must be a number"),
        )),
    }
}

/// Reads a string claim.
pub(crate) fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(
            "malformed",
            format!("claim `{name}` must be a string"),
        )),
    }
}

/// Reads `aud`: a string or an array of strings.
pub(crate) fn audiences(claims: &Map<String, Value>) -> Result<Vec<String>, AuthError> {
    match claims.get("aud") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                invalid(
                    "malformed",
                    "claim `aud` must be a string or an array of strings",
                )
            }),
        Some(_) => Err(invalid(
            "malformed",
            "claim `aud` must be a string or an array of strings",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn reason(token: &str) -> (&'static str, String) {
        match parse(token, 4096) {
            Ok(_) => panic!("accepted {token}"),
            Err(e) => (e.reason(), e.description().to_owned()),
        }
    }

    #[test]
    fn reads_a_well_formed_token() {
        let token = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256","typ":"at+jwt","kid":"k1","jku":"https://evil"}"#),
            b64(r#"{"iss":"i"}"#)
        );
        let t = parse(&token, 4096).unwrap();
        assert_eq!(t.alg, Algorithm::RS256);
        assert_eq!(t.kid.as_deref(), Some("k1"));
        assert_eq!(t.typ.as_deref(), Some("at+jwt"));
        assert_eq!(t.signature, "c2ln");
        assert_eq!(t.signing_input, &token[..token.rfind('.').unwrap()]);
    }

    #[test]
    fn precise_rejections() {
        let claims = b64(r#"{"iss":"i"}"#);
        let cases = [
            ("abc".to_string(), "malformed", "expected 3"),
            ("a.b.c.d.e".to_string(), "unsupported_token", "JWE"),
            (
                format!("!!.{claims}.sig"),
                "malformed",
                "header is not base64url",
            ),
            (
                format!("{}.{claims}.sig", b64("[1]")),
                "malformed",
                "header is not a JSON object",
            ),
            (
                format!("{}.{claims}.sig", b64("{}")),
                "malformed",
                "no `alg`",
            ),
            (
                format!("{}.{claims}.", b64(r#"{"alg":"none"}"#)),
                "alg_none",
                "never accepted",
            ),
            (
                format!("{}.{claims}.sig", b64(r#"{"alg":"NONE"}"#)),
                "alg_none",
                "never accepted",
            ),
            (
                format!("{}.{claims}.sig", b64(r#"{"alg":"XX999"}"#)),
                "alg_unsupported",
                "XX999",
            ),
            (
                format!("{}.{claims}.sig", b64(r#"{"alg":"RS256","crit":["exp"]}"#)),
                "crit_unsupported",
                "critical",
            ),
            (
                format!("{}.{claims}.sig", b64(r#"{"alg":"RS256","kid":5}"#)),
                "malformed",
                "kid",
            ),
            (
                format!("{}.{claims}.", b64(r#"{"alg":"RS256"}"#)),
                "malformed",
                "empty signature",
            ),
            (
                format!("{}.%%%.sig", b64(r#"{"alg":"RS256"}"#)),
                "malformed",
                "claims are not base64url",
            ),
            (
                format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64("nope")),
                "malformed",
                "claims are not a JSON object",
            ),
            ("x".repeat(5000), "token_too_large", "longer than 4096"),
        ];
        for (token, want_reason, want_text) in cases {
            let (reason, text) = reason(&token);
            assert_eq!(reason, want_reason, "{token}: {text}");
            assert!(text.contains(want_text), "{token}: {text}");
        }
    }

    #[test]
    fn claim_readers() {
        let claims: Map<String, Value> = serde_json::from_str(
            r#"{"exp": 10, "nbf": 1.5, "iat": -3, "aud": ["a", "b"], "sub": 5, "s": "x"}"#,
        )
        .unwrap();
        assert_eq!(numeric_date(&claims, "exp").unwrap(), Some(10));
        assert_eq!(numeric_date(&claims, "nbf").unwrap(), Some(1));
        assert!(numeric_date(&claims, "iat").is_err());
        assert_eq!(numeric_date(&claims, "missing").unwrap(), None);
        assert_eq!(audiences(&claims).unwrap(), ["a", "b"]);
        assert!(string_claim(&claims, "sub").is_err());
        assert_eq!(string_claim(&claims, "s").unwrap(), Some("x"));
    }
}
