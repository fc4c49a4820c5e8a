//! Strict reading of token-endpoint answers (RFC 8693 §2.2, RFC 6749 §5.2).

use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use mcp_auth_core::Scopes;
use mcp_auth_fetch::FetchResponse;
use serde_json::{Map, Value};

use crate::error::{ExchangeError, OAuthErrorCode, ResponseProblem};
use crate::key::PrivateKey;
use crate::token::{ExchangedToken, TokenType};

/// Longest `error_description` kept.
const MAX_DESCRIPTION_CHARS: usize = 256;
/// Bounds on a server's `Retry-After`.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Reads a token-endpoint answer: a token, or the failure it stands for.
///
/// `redact` lists credentials sent with the request; a server that echoes one in its error
/// description has it replaced before the text goes anywhere. `dpop_key` is the key the
/// request's DPoP proof was signed with, if it carried one: a `DPoP` token is bound to it, and
/// is refused when the request carried no proof.
pub(crate) fn read(
    response: &FetchResponse,
    requested: &Scopes,
    now: SystemTime,
    default_retry: Duration,
    redact: &[&str],
    dpop_key: Option<&PrivateKey>,
) -> Result<ExchangedToken, ExchangeError> {
    let status = response.status();
    if status.is_success() {
        let object = json_object(response).map_err(ExchangeError::InvalidResponse)?;
        let token = success(&object, requested, now).map_err(ExchangeError::InvalidResponse)?;
        return match (token.token_type(), dpop_key) {
            (TokenType::Dpop, Some(key)) => token
                .with_dpop_key(key.clone())
                .map_err(ExchangeError::InvalidResponse),
            (TokenType::Dpop, None) => Err(ExchangeError::InvalidResponse(
                ResponseProblem::InvalidField {
                    field: "token_type",
                    problem: "is DPoP, but the request carried no proof: no key to use it with",
                },
            )),
            _ => Ok(token),
        };
    }
    let oauth = json_object(response)
        .ok()
        .and_then(|o| oauth_error(&o, redact));
    let code = status.as_u16();
    if code == 429
        || status.is_server_error()
        || oauth.as_ref().is_some_and(|(c, _)| c.is_server_failure())
    {
        let retry_after = retry_after(response).unwrap_or(default_retry);
        let reason = match &oauth {
            Some((c, _)) => format!("the token endpoint answered {code} `{c}`"),
            None => format!("the token endpoint answered {code}"),
        };
        return Err(ExchangeError::Unavailable {
            reason,
            retry_after,
        });
    }
    Err(match oauth {
        Some((code, description)) => ExchangeError::Refused {
            code,
            description,
            status: status.as_u16(),
        },
        None => ExchangeError::InvalidResponse(ResponseProblem::UnexpectedStatus(code)),
    })
}

fn json_object(response: &FetchResponse) -> Result<Map<String, Value>, ResponseProblem> {
    match response.json::<Value>() {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ResponseProblem::NotJson("not an object".into())),
        Err(e) => Err(ResponseProblem::NotJson(e.to_string())),
    }
}

fn success(
    object: &Map<String, Value>,
    requested: &Scopes,
    now: SystemTime,
) -> Result<ExchangedToken, ResponseProblem> {
    let string = |field: &'static str| -> Result<&str, ResponseProblem> {
        match object.get(field) {
            None | Some(Value::Null) => Err(ResponseProblem::MissingField(field)),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(ResponseProblem::InvalidField {
                field,
                problem: "is not a string",
            }),
        }
    };
    let access_token = string("access_token")?;
    let issued_token_type = string("issued_token_type")?;
    if issued_token_type.is_empty() || issued_token_type.len() > 2048 {
        return Err(ResponseProblem::InvalidField {
            field: "issued_token_type",
            problem: "must be 1 to 2048 bytes",
        });
    }
    let token_type = string("token_type")?;
    let token_type = TokenType::parse(token_type).ok_or_else(|| {
        // Named only when it looks like a token type: a server may echo anything here, and
        // even a fragment of a credential must not reach an error message.
        let plausible = token_type.len() <= 16
            && token_type
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ResponseProblem::UnsupportedTokenType(if plausible {
            token_type.to_owned()
        } else {
            "<not a token type>".to_owned()
        })
    })?;
    let expires_in = match object.get("expires_in") {
        None | Some(Value::Null) => return Err(ResponseProblem::MissingField("expires_in")),
        Some(Value::Number(n)) => {
            n.as_u64()
                .filter(|s| *s > 0)
                .ok_or(ResponseProblem::InvalidField {
                    field: "expires_in",
                    problem: "is not a positive whole number of seconds",
                })?
        }
        Some(_) => {
            return Err(ResponseProblem::InvalidField {
                field: "expires_in",
                problem: "is not a number",
            });
        }
    };
    // RFC 8693 §2.2.1: `scope` may be omitted only when it equals the requested scope.
    let granted = match object.get("scope") {
        None | Some(Value::Null) => requested.clone(),
        Some(Value::String(s)) => Scopes::parse(s),
        Some(_) => {
            return Err(ResponseProblem::InvalidField {
                field: "scope",
                problem: "is not a string",
            });
        }
    };
    let expires_at =
        now.checked_add(Duration::from_secs(expires_in))
            .ok_or(ResponseProblem::InvalidField {
                field: "expires_in",
                problem: "is out of range",
            })?;
    ExchangedToken::new(
        access_token,
        issued_token_type,
        token_type,
        expires_at,
        requested.clone(),
        granted,
    )
}

fn oauth_error(
    object: &Map<String, Value>,
    redact: &[&str],
) -> Option<(OAuthErrorCode, Option<String>)> {
    let code = object.get("error")?.as_str().filter(|c| !c.is_empty())?;
    let description = object
        .get("error_description")
        .and_then(Value::as_str)
        .map(|d| sanitise(d, redact))
        .filter(|d| !d.is_empty());
    // A server may echo anything, even into the code: keep only what a code may contain
    // (RFC 6749 §5.2), then redact.
    let code: String = code
        .chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .collect();
    Some((OAuthErrorCode::parse(&sanitise(&code, redact)), description))
}

/// Control characters out, then credentials redacted (in that order, so a control character
/// inside an echoed secret cannot split it past the redaction), then length clipped.
fn sanitise(text: &str, redact: &[&str]) -> String {
    let mut text: String = text.chars().filter(|c| !c.is_control()).collect();
    for secret in redact.iter().filter(|s| s.len() >= 4) {
        if text.contains(secret) {
            text = text.replace(secret, "<redacted>");
        }
    }
    mcp_auth_core::untrusted_text(&text, MAX_DESCRIPTION_CHARS)
}

fn retry_after(response: &FetchResponse) -> Option<Duration> {
    let secs: u64 = response
        .headers()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).clamp(Duration::from_secs(1), MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    /// Found by fuzzing: server values echoed into error messages, even partly.
    #[test]
    fn no_server_value_can_carry_a_credential_into_an_error() {
        let mut answer = good();
        answer["token_type"] = json!("B____ad subject-secret ___________d");
        let err =
            success(&object(answer), &Scopes::parse("a"), SystemTime::UNIX_EPOCH).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("subject"), "{err:?}");
        let mut answer = good();
        answer["token_type"] = json!("PoP");
        let err =
            success(&object(answer), &Scopes::parse("a"), SystemTime::UNIX_EPOCH).unwrap_err();
        assert!(
            format!("{err}").contains("PoP"),
            "plausible token types are named: {err}"
        );
        let echoed = object(
            json!({"error": "bad subj\\\\ect-secret t", "error_description": "sub\u{1}ject-secret"}),
        );
        let (code, description) = oauth_error(&echoed, &["subject-secret"]).unwrap();
        assert!(
            !code.as_str().contains("subject-secret")
                && !description.unwrap().contains("subject-secret")
        );
    }

    fn good() -> Value {
        json!({
            "access_token": "tok",
            "issued_token_type": crate::ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": 300,
        })
    }

    #[test]
    fn a_complete_response_is_read() {
        let now = SystemTime::now();
        let t = success(&object(good()), &Scopes::parse("a"), now).unwrap();
        assert_eq!(t.expose_secret(), "tok");
        assert_eq!(t.expires_at(), now + Duration::from_secs(300));
        assert_eq!(
            t.granted_scope().to_string(),
            "a",
            "omitted scope = requested"
        );
        assert_eq!(t.token_type(), TokenType::Bearer);
    }

    #[test]
    fn every_missing_member_is_named() {
        for field in [
            "access_token",
            "issued_token_type",
            "token_type",
            "expires_in",
        ] {
            let mut v = good();
            v.as_object_mut().unwrap().remove(field);
            let err = success(&object(v), &Scopes::empty(), SystemTime::now()).unwrap_err();
            assert_eq!(err, ResponseProblem::MissingField(field));
        }
    }

    #[test]
    fn malformed_members_are_refused() {
        let cases = [
            ("access_token", json!(5)),
            ("access_token", json!("")),
            ("access_token", json!("two words")),
            ("issued_token_type", json!(["x"])),
            ("token_type", json!("MAC")),
            ("expires_in", json!("300")),
            ("expires_in", json!(-1)),
            ("expires_in", json!(0)),
            ("expires_in", json!(1.5)),
            ("scope", json!(["a"])),
        ];
        for (field, value) in cases {
            let mut v = good();
            v[field] = value.clone();
            assert!(
                success(&object(v), &Scopes::empty(), SystemTime::now()).is_err(),
                "{field}: {value}"
            );
        }
    }

    #[test]
    fn descriptions_are_cleaned_and_credentials_redacted() {
        let o = object(json!({
            "error": "invalid_grant",
            "error_description": "token eyJ.secret.x\nis bad".to_owned() + &"!".repeat(400),
        }));
        let (code, description) = oauth_error(&o, &["eyJ.secret.x"]).unwrap();
        assert_eq!(code, OAuthErrorCode::InvalidGrant);
        let d = description.unwrap();
        assert!(d.starts_with("token <redacted>is bad"), "{d}");
        // The kept characters, and the ellipsis that marks the cut.
        assert_eq!(d.chars().count(), MAX_DESCRIPTION_CHARS + 1);
        assert!(d.ends_with('…'));
        assert!(oauth_error(&object(json!({"error": 5})), &[]).is_none());
    }
}
