//! Finding the bearer token in a request (RFC 6750 §2.1), and refusing every other placement.

use http::{HeaderMap, Uri, header};
use mcp_auth_core::AuthError;

/// A token as presented: `Bearer` or `DPoP` (RFC 9449 §7.1).
pub(crate) struct Credentials<'a> {
    pub(crate) token: &'a str,
    pub(crate) dpop: bool,
}

/// Returns the token from the one `Authorization: Bearer` (or `DPoP`) header.
///
/// - no `Authorization` header: 401 without `error` (or 400 if the query string carries an
///   `access_token`: tokens in URLs leak into logs and are never accepted);
/// - several `Authorization` headers, a header that is not visible ASCII, a token that is not
///   `token68`, or a header token together with a query token: 400 `invalid_request`;
/// - another scheme (`Basic`, ...): 401 without `error`, as if no token were sent;
/// - an empty token: 401 `invalid_token`.
///
/// The `token68` syntax is checked by [`check_syntax`], which the verification layer runs only
/// for tokens it has not verified before (a remembered token was checked on first sight).
pub(crate) fn extract<'a>(headers: &'a HeaderMap, uri: &Uri) -> Result<Credentials<'a>, AuthError> {
    let query_token = uri.query().is_some_and(has_access_token_param);
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        if query_token {
            return Err(query_refused());
        }
        return Err(AuthError::missing_token());
    };
    if values.next().is_some() {
        return Err(AuthError::invalid_request(
            "multiple_credentials",
            "the request has more than one Authorization header",
        ));
    }
    if query_token {
        return Err(AuthError::invalid_request(
            "multiple_credentials",
            "the request carries a token in both the Authorization header and the query string",
        ));
    }
    let value = value.to_str().map_err(|_| {
        AuthError::invalid_request(
            "malformed_header",
            "the Authorization header is not visible ASCII",
        )
    })?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    if !dpop && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::missing_token());
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(AuthError::invalid_token(
            "malformed",
            "the bearer token is empty",
        ));
    }
    Ok(Credentials { token, dpop })
}

/// 400 `invalid_request` unless the token is `token68` (RFC 6750 §2.1). The verification layer
/// runs it only for tokens it has not verified before: a remembered token passed it already.
pub(crate) fn check_syntax(token: &str) -> Result<(), AuthError> {
    if is_token68(token) {
        Ok(())
    } else {
        Err(AuthError::invalid_request(
            "malformed_header",
            "the bearer token contains characters not allowed by RFC 6750",
        ))
    }
}

fn query_refused() -> AuthError {
    AuthError::invalid_request(
        "token_in_query",
        "tokens in the query string are not accepted; send an Authorization: Bearer header",
    )
}

fn has_access_token_param(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("");
        name == "access_token"
    })
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
fn is_token68(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use mcp_auth_core::AuthErrorKind;

    fn run(auth: &[&[u8]], uri: &str) -> Result<String, (AuthErrorKind, &'static str)> {
        let mut headers = HeaderMap::new();
        for value in auth {
            headers.append(
                header::AUTHORIZATION,
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        extract(&headers, &uri.parse().unwrap())
            .and_then(|c| check_syntax(c.token).map(|()| c))
            .map(|c| format!("{}{}", if c.dpop { "dpop:" } else { "" }, c.token))
            .map_err(|e| (e.kind(), e.reason()))
    }

    #[test]
    fn accepts_one_bearer_header() {
        assert_eq!(
            run(&[b"Bearer abc.def.ghi"], "/mcp").unwrap(),
            "abc.def.ghi"
        );
        assert_eq!(run(&[b"bearer  abc=="], "/mcp").unwrap(), "abc==");
        assert_eq!(
            run(&[b"BEARER a-b_c~d+e/f"], "/mcp?x=1").unwrap(),
            "a-b_c~d+e/f"
        );
    }

    #[test]
    fn refuses_everything_else_precisely() {
        use AuthErrorKind::*;
        assert_eq!(run(&[], "/mcp"), Err((MissingToken, "missing_token")));
        assert_eq!(
            run(&[b"Basic dXNlcjpwYXNz"], "/mcp"),
            Err((MissingToken, "missing_token"))
        );
        assert_eq!(run(&[b"DPoP abc"], "/mcp").unwrap(), "dpop:abc");
        assert_eq!(run(&[b"Bearer"], "/mcp"), Err((InvalidToken, "malformed")));
        assert_eq!(
            run(&[b"Bearer    "], "/mcp"),
            Err((InvalidToken, "malformed"))
        );
        assert_eq!(
            run(&[], "/mcp?access_token=abc"),
            Err((InvalidRequest, "token_in_query"))
        );
        assert_eq!(
            run(&[b"Bearer a"], "/mcp?a=1&access_token=abc"),
            Err((InvalidRequest, "multiple_credentials"))
        );
        assert_eq!(
            run(&[b"Bearer a", b"Bearer b"], "/mcp"),
            Err((InvalidRequest, "multiple_credentials"))
        );
        assert_eq!(
            run(&[b"Bearer a b"], "/mcp"),
            Err((InvalidRequest, "malformed_header"))
        );
        assert_eq!(
            run(&[b"Bearer a,b"], "/mcp"),
            Err((InvalidRequest, "malformed_header"))
        );
        assert_eq!(
            run(&[b"Bearer ==="], "/mcp"),
            Err((InvalidRequest, "malformed_header"))
        );
        assert_eq!(
            run(&[b"Bearer \xff\xfe"], "/mcp"),
            Err((InvalidRequest, "malformed_header"))
        );
        // a query parameter merely named like it is not a token
        assert_eq!(run(&[b"Bearer a"], "/mcp?not_access_token=1").unwrap(), "a");
    }
}
