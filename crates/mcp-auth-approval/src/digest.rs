//! What exactly is being approved: a digest of the call, and the short code a person compares.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Everything that makes one call the call it is. Two calls with the same digest are the same
/// call by the same caller through the same client at the same server; change any of them (the
/// amount, the recipient, the user) and the digest changes.
#[derive(Clone, Debug)]
pub struct CallFacts<'a> {
    /// The token's issuer.
    pub issuer: &'a str,
    /// The token's subject.
    pub subject: &'a str,
    /// The OAuth client acting, when the token names one.
    pub client: Option<&'a str>,
    /// This server's resource identifier.
    pub resource: &'a str,
    /// The tool.
    pub tool: &'a str,
    /// The tool's arguments (`null` when none were sent).
    pub arguments: &'a Value,
}

/// The SHA-256 of a call's canonical JSON, base64url without padding (43 characters).
///
/// ```
/// use mcp_auth_approval::{CallDigest, CallFacts};
/// use serde_json::json;
///
/// let facts = |amount| {
///     let arguments = json!({"to": "ACME", "amount": amount});
///     CallDigest::of(&CallFacts {
///         issuer: "https://id.example",
///         subject: "alice",
///         client: Some("agent"),
///         resource: "https://mcp.example/mcp",
///         tool: "transfer_funds",
///         arguments: &arguments,
///     })
/// };
/// assert_eq!(facts(100), facts(100));
/// assert_ne!(facts(100), facts(1_000_000));
/// assert!(facts(100).binding_code().starts_with("MCP-"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallDigest(String);

impl CallDigest {
    /// The digest of `facts`.
    pub fn of(facts: &CallFacts<'_>) -> Self {
        let mut text = String::with_capacity(256);
        // The members in the order canonical JSON sorts them, so no map is built.
        text.push_str("{\"arguments\":");
        canonical_json(facts.arguments, &mut text);
        text.push_str(",\"client\":");
        match facts.client {
            Some(client) => push_string(client, &mut text),
            None => text.push_str("null"),
        }
        for (name, value) in [
            ("issuer", facts.issuer),
            ("resource", facts.resource),
            ("subject", facts.subject),
            ("tool", facts.tool),
        ] {
            text.push_str(",\"");
            text.push_str(name);
            text.push_str("\":");
            push_string(value, &mut text);
        }
        text.push('}');
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes())))
    }

    /// A digest as it was written (read back from sealed state or an authorization server's
    /// answer).
    pub fn from_text(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The digest, base64url.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The short code the person sees both in the agent's prompt and on their device, so they
    /// know the request on the device is this call: `MCP-` and eight characters of the digest
    /// in an alphabet without look-alikes (no `0`/`O`, `1`/`I`/`L`).
    pub fn binding_code(&self) -> String {
        const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ_";
        let bytes = Sha256::digest(self.0.as_bytes());
        let mut bits: u64 = 0;
        for byte in &bytes[..5] {
            bits = (bits << 8) | u64::from(*byte);
        }
        let mut code = String::from("MCP-");
        for i in (0..8).rev() {
            // Five bits per character; `_` (index 31) is replaced so the code reads as a word.
            let index = ((bits >> (i * 5)) & 31) as usize;
            let c = ALPHABET[index];
            code.push(if c == b'_' { 'X' } else { char::from(c) });
        }
        code
    }
}

impl std::fmt::Display for CallDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Writes `value` as canonical JSON: no whitespace, object members sorted by the bytes of their
/// names, strings and numbers as serde_json writes them. The same value always gives the same
/// text, whatever order its members arrived in.
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => push_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (name, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_string(name, out);
                out.push(':');
                canonical_json(item, out);
            }
            out.push('}');
        }
    }
}

fn push_string(s: &str, out: &mut String) {
    // serde_json's string escaping cannot fail for a `&str`.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn digest(arguments: &Value, subject: &str) -> CallDigest {
        CallDigest::of(&CallFacts {
            issuer: "https://id.example",
            subject,
            client: Some("agent"),
            resource: "https://mcp.example/mcp",
            tool: "transfer_funds",
            arguments,
        })
    }

    #[test]
    fn member_order_does_not_matter_and_every_fact_does() {
        let a: Value =
            serde_json::from_str(r#"{"to":"ACME","amount":5,"memo":{"b":1,"a":2}}"#).expect("json");
        let b: Value =
            serde_json::from_str(r#"{"memo":{"a":2,"b":1},"amount":5,"to":"ACME"}"#).expect("json");
        assert_eq!(digest(&a, "alice"), digest(&b, "alice"));
        assert_ne!(digest(&a, "alice"), digest(&a, "bob"));
        assert_ne!(
            digest(&a, "alice"),
            digest(
                &json!({"to": "ACME", "amount": 50, "memo": {"a": 2, "b": 1}}),
                "alice"
            )
        );
        assert_eq!(digest(&a, "alice").as_str().len(), 43);
    }

    #[test]
    fn canonical_text_is_exact() {
        let mut out = String::new();
        canonical_json(
            &json!({"z": [1, true, null], "a": "é\"\n", "m": {"y": 1.5, "x": -2}}),
            &mut out,
        );
        assert_eq!(
            out,
            r#"{"a":"é\"\n","m":{"x":-2,"y":1.5},"z":[1,true,null]}"#
        );
    }

    #[test]
    fn binding_codes_are_short_unambiguous_and_follow_the_digest() {
        let one = digest(&json!({"amount": 1}), "alice").binding_code();
        let two = digest(&json!({"amount": 2}), "alice").binding_code();
        assert_ne!(one, two);
        for code in [&one, &two] {
            assert_eq!(code.len(), 12, "{code}");
            assert!(
                code[4..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() && !"01OIL".contains(c)),
                "{code}"
            );
        }
    }
}
