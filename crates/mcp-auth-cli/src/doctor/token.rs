//! Reading a token's header and claims for display, without trusting or verifying them. The
//! token itself and its signature are never printed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The decoded, unverified parts of a JWT.
#[derive(Debug)]
pub(crate) struct Shown {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
}

/// Decodes the header and claims, or says why the token is not a JWT. Opaque tokens (no dots)
/// are named as such.
pub(crate) fn decode(token: &str) -> Result<Shown, String> {
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        1 => {
            return Err(format!(
                "the token is opaque ({} characters, not a JWT): only the issuer can tell what it \
                 means (token introspection); ask the issuer for a JWT access token, e.g. by \
                 requesting it for an API/audience",
                token.len()
            ));
        }
        5 => return Err("the token is encrypted (JWE); mcp-auth accepts signed JWTs".into()),
        n => {
            return Err(format!(
                "the token has {n} dot-separated parts; a JWT has 3"
            ));
        }
    }
    let object = |part: &str, what: &str| -> Result<Map<String, Value>, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| format!("the token's {what} is not base64url"))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(format!("the token's {what} is not a JSON object")),
        }
    };
    Ok(Shown {
        header: object(parts[0], "header")?,
        claims: object(parts[1], "claims")?,
    })
}

/// One value as a person reads it: strings sanitised, times with how far from now.
pub(crate) fn display(name: &str, value: &Value, now: u64) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = super::clean(&text);
    match (name, value.as_u64()) {
        ("exp" | "iat" | "nbf" | "auth_time", Some(t)) if t == now => format!("{text}  (now)"),
        ("exp" | "iat" | "nbf" | "auth_time", Some(t)) if t > now => {
            format!("{text}  (in {})", duration(t - now))
        }
        ("exp" | "iat" | "nbf" | "auth_time", Some(t)) => {
            format!("{text}  ({} ago)", duration(now - t))
        }
        _ => text,
    }
}

fn duration(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_names_what_is_not_a_jwt() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(r#"{"iss":"https://i","exp":100}"#);
        let shown = decode(&format!("{header}.{claims}.c2ln")).unwrap();
        assert_eq!(shown.header["typ"], "JWT");
        assert_eq!(shown.claims["iss"], "https://i");
        assert!(decode("opaque-token-value").unwrap_err().contains("opaque"));
        assert!(decode("a.b.c.d.e").unwrap_err().contains("JWE"));
        assert!(
            decode("!!.x.y")
                .unwrap_err()
                .contains("header is not base64url")
        );
    }

    #[test]
    fn times_read_relative_to_now_and_text_is_sanitised() {
        assert_eq!(
            display("exp", &Value::from(1_300), 1_000),
            "1300  (in 5 min)"
        );
        assert_eq!(display("iat", &Value::from(990), 1_000), "990  (10 s ago)");
        assert_eq!(
            display("sub", &Value::from("a\u{1b}[31m"), 0),
            "a\\u{001b}[31m"
        );
    }
}
