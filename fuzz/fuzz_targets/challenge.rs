//! The `WWW-Authenticate` renderer: for any scope and description text, the header parses back
//! with the simple `name="value"` pattern MCP SDKs use, into exactly the parameters rendered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_auth_core::BearerChallenge;

/// What the TypeScript and Python SDKs do: find `name="value"` pairs, values without quotes.
fn sdk_params(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = header.strip_prefix("Bearer ").unwrap_or(header);
    while let Some(eq) = rest.find("=\"") {
        let name: String = rest[..eq]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let after = &rest[eq + 2..];
        let Some(end) = after.find('"') else { break };
        out.push((name, after[..end].to_owned()));
        rest = &after[end + 1..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut middle = text.len() / 2;
    while !text.is_char_boundary(middle) {
        middle -= 1;
    }
    let (scope, description) = text.split_at(middle);
    let header =
        BearerChallenge::new("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
            .error("insufficient_scope")
            .scope(scope)
            .error_description(description)
            .to_header_value();
    let header = header.to_str().expect("visible ASCII");
    let params = sdk_params(header);
    let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    let expected: &[&str] = if scope.is_empty() {
        &["error", "resource_metadata", "error_description"]
    } else {
        &["error", "scope", "resource_metadata", "error_description"]
    };
    assert_eq!(names, expected, "{header}");
    assert_eq!(params[0].1, "insufficient_scope");
});
