//! The 2026-07-28 protocol's mirrored headers: `Mcp-Method` and `Mcp-Name` must say what the body
//! says, so that intermediaries that route or limit by them cannot be fooled.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;

use super::McpRequest;
use crate::AuthError;

/// The first protocol version whose requests carry the mirrored headers.
pub const MIRRORED_HEADERS_SINCE: &str = "2026-07-28";

/// The methods whose target is mirrored in `Mcp-Name`.
const NAMED: [&str; 3] = ["tools/call", "resources/read", "prompts/get"];

/// Checks the mirrored headers of a request against its parsed body, on protocol versions that
/// have them (`MCP-Protocol-Version` of 2026-07-28 or later; versions are dates, so they compare
/// as text). Earlier versions pass unchecked. A batch on those versions is refused: its messages
/// cannot all be mirrored in one pair of headers (and batches left the protocol in 2025-06-18).
///
/// # Errors
/// 400 with JSON-RPC error `-32020` (`HeaderMismatch`): a header missing, undecodable, or
/// different from the body.
pub fn check_mirrored_headers(headers: &HeaderMap, mcp: &McpRequest) -> Result<(), AuthError> {
    // The version is compared as sent (no `=?base64?` decoding: the server reads it raw).
    let version = match raw_header(headers, "mcp-protocol-version") {
        Ok(version) => version.unwrap_or_default().to_owned(),
        Err(why) => return Err(AuthError::header_mismatch(why, None)),
    };
    if let Some(message) = mcp.messages().iter().find(|m| m.meta_is_malformed()) {
        return Err(AuthError::header_mismatch(
            "the body's `params._meta` is malformed (not an object, a protocol version that is not \
             a string, or a key given twice)",
            message.id().cloned(),
        ));
    }
    // The body's `_meta` names its version too; a body that claims a version with mirrored
    // headers under a header that names another (or none) would slip past the checks below.
    for message in mcp.messages() {
        match message.protocol_version() {
            Some(named)
                if named != version && named.max(version.as_str()) >= MIRRORED_HEADERS_SINCE =>
            {
                return Err(AuthError::header_mismatch(
                    format!(
                        "MCP-Protocol-Version `{}` does not match the body's _meta protocol \
                         version `{}`",
                        crate::untrusted_text(&version, 32),
                        crate::untrusted_text(named, 32)
                    ),
                    message.id().cloned(),
                ));
            }
            _ => {}
        }
    }
    if version.as_str() < MIRRORED_HEADERS_SINCE {
        return Ok(());
    }
    if mcp.is_batch() {
        return Err(AuthError::header_mismatch(
            format!(
                "a batch cannot be mirrored in Mcp-Method / Mcp-Name, and {version} has no batches"
            ),
            None,
        ));
    }
    let [message] = mcp.messages() else {
        return Ok(());
    };
    let Some(method) = message.method() else {
        return Ok(());
    };
    let id = message.id().cloned();
    let mismatch = |description: String| Err(AuthError::header_mismatch(description, id.clone()));
    match header(headers, "mcp-method") {
        Ok(Some(value)) if value == method => {}
        Ok(Some(value)) => {
            return mismatch(format!(
                "Mcp-Method `{}` does not match the body's method `{method}`",
                crate::untrusted_text(&value, 64)
            ));
        }
        Ok(None) => return mismatch(format!("Mcp-Method is required on {version}")),
        Err(why) => return mismatch(why),
    }
    if !NAMED.contains(&method) {
        return Ok(());
    }
    let Some(target) = message.target() else {
        return Ok(());
    };
    match header(headers, "mcp-name") {
        Ok(Some(value)) if value == target.name() => Ok(()),
        Ok(Some(value)) => mismatch(format!(
            "Mcp-Name `{}` does not match the body's `{}`",
            crate::untrusted_text(&value, 64),
            crate::untrusted_text(target.name(), 64)
        )),
        Ok(None) => mismatch(format!("Mcp-Name is required for `{method}` on {version}")),
        Err(why) => mismatch(why),
    }
}

/// A header's one value, visible ASCII, without the optional whitespace around it (RFC 9110
/// §5.5; hyper strips it when parsing, but a header set by an in-process caller may carry it).
fn raw_header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, String> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(format!("{name} is repeated"));
    }
    value
        .to_str()
        .map(|text| Some(text.trim_matches([' ', '\t'])))
        .map_err(|_| format!("{name} is not visible ASCII"))
}

/// A mirrored header's value: plain visible ASCII, or `=?base64?…?=` for anything else.
fn header(headers: &HeaderMap, name: &str) -> Result<Option<String>, String> {
    let Some(text) = raw_header(headers, name)? else {
        return Ok(None);
    };
    match text
        .strip_prefix("=?base64?")
        .and_then(|t| t.strip_suffix("?="))
    {
        None => Ok(Some(text.to_owned())),
        Some(encoded) => STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Some)
            .ok_or_else(|| format!("{name} is not valid base64-encoded UTF-8")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::InspectLimits;
    use http::HeaderValue;

    fn request(body: &str) -> McpRequest {
        McpRequest::parse(body.as_bytes(), &InspectLimits::default()).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const CALL: &str =
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"délai"}}"#;

    #[test]
    fn new_versions_must_mirror_the_body() {
        let v = ("mcp-protocol-version", "2026-07-28");
        let encoded = format!("=?base64?{}?=", STANDARD.encode("délai"));
        assert!(
            check_mirrored_headers(
                &headers(&[v, ("mcp-method", "tools/call"), ("mcp-name", &encoded)]),
                &request(CALL)
            )
            .is_ok()
        );
        for (case, pairs) in [
            ("no headers", vec![v]),
            ("no name", vec![v, ("mcp-method", "tools/call")]),
            (
                "other method",
                vec![v, ("mcp-method", "tools/list"), ("mcp-name", &encoded)],
            ),
            (
                "other name",
                vec![v, ("mcp-method", "tools/call"), ("mcp-name", "delete")],
            ),
            (
                "bad base64",
                vec![
                    v,
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "=?base64?%%%?="),
                ],
            ),
            (
                "twice",
                vec![
                    v,
                    ("mcp-method", "tools/call"),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", &encoded),
                ],
            ),
        ] {
            let error = check_mirrored_headers(&headers(&pairs), &request(CALL)).unwrap_err();
            assert_eq!(error.status(), 400, "{case}");
            assert_eq!(error.reason(), "header_mismatch", "{case}");
        }
        // A batch cannot be mirrored.
        let batch = format!("[{CALL}]");
        let error = check_mirrored_headers(
            &headers(&[v, ("mcp-method", "tools/call"), ("mcp-name", &encoded)]),
            &request(&batch),
        )
        .unwrap_err();
        assert_eq!(error.reason(), "header_mismatch");
        // A method without a name needs only Mcp-Method.
        let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        assert!(
            check_mirrored_headers(&headers(&[v, ("mcp-method", "tools/list")]), &request(list))
                .is_ok()
        );
    }

    #[test]
    fn the_body_version_must_be_the_header_version() {
        let call = |version: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{{"_meta":{{"io.modelcontextprotocol/protocolVersion":"{version}"}}}}}}"#
            )
        };
        let method = ("mcp-method", "tools/list");
        let ok = |pairs: &[(&'static str, &str)], body: &str| {
            check_mirrored_headers(&headers(pairs), &request(body))
        };
        // Same version, with whitespace around the header values.
        assert!(
            ok(
                &[
                    ("mcp-protocol-version", " 2026-07-28 "),
                    ("mcp-method", "\ttools/list ")
                ],
                &call("2026-07-28")
            )
            .is_ok()
        );
        // A body that claims the new version under an older header, or none, is refused: the
        // mirrored headers would otherwise go unchecked for it.
        for pairs in [
            vec![("mcp-protocol-version", "2025-11-25"), method],
            vec![method],
        ] {
            let error = ok(&pairs, &call("2026-07-28")).unwrap_err();
            assert_eq!(error.reason(), "header_mismatch", "{pairs:?}");
            assert!(
                error.description().contains("_meta"),
                "{}",
                error.description()
            );
        }
        // A new header with an older body version is refused too.
        let error = ok(
            &[("mcp-protocol-version", "2026-07-28"), method],
            &call("2025-11-25"),
        )
        .unwrap_err();
        assert_eq!(error.status(), 400);
        // A `_meta` that parsers could read differently is refused whatever the header says.
        for body in [
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":20260728}}}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":"2026-07-28"}}"#,
        ] {
            let error = ok(&[], body).unwrap_err();
            assert_eq!(error.reason(), "header_mismatch", "{body}");
            assert!(error.description().contains("_meta"), "{body}");
        }
        // Array params have no `_meta` to read.
        assert!(
            ok(
                &[],
                r#"{"jsonrpc":"2.0","id":3,"method":"x/y","params":[1,2]}"#
            )
            .is_ok()
        );
        // The version header is compared raw: an encoded form is not the version.
        let encoded = format!("=?base64?{}?=", STANDARD.encode("2026-07-28"));
        assert!(
            ok(
                &[("mcp-protocol-version", &encoded), method],
                &call("2026-07-28")
            )
            .is_err()
        );
        // Two old versions that differ are not this crate's business.
        assert!(
            ok(
                &[("mcp-protocol-version", "2025-06-18")],
                &call("2025-11-25")
            )
            .is_ok()
        );
    }

    #[test]
    fn earlier_versions_are_not_checked() {
        for version in [None, Some("2025-06-18"), Some("2025-11-25")] {
            let mut pairs = vec![("mcp-method", "tools/list")];
            if let Some(v) = version {
                pairs.push(("mcp-protocol-version", v));
            }
            assert!(
                check_mirrored_headers(&headers(&pairs), &request(CALL)).is_ok(),
                "{version:?}"
            );
        }
    }
}
