//! `WWW-Authenticate` challenges: Bearer (RFC 6750 §3, RFC 9728 §5.1) and DPoP (RFC 9449 §7.1).

use std::fmt::Write as _;

use http::HeaderValue;

/// The scope that asks for a refresh token; never in a resource's challenge or metadata.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// A Bearer challenge, rendered as one `WWW-Authenticate` header value.
///
/// Every parameter value is quoted. MCP clients parse the header with simple regular expressions
/// (`name="value"`), so values are sanitised rather than escaped: `"` and `\` become `'`, and
/// anything outside printable ASCII becomes a space. Scope values never contain those characters
/// (RFC 6749 §3.3); descriptions are ours and lose nothing of substance.
///
/// ```
/// use mcp_auth_core::BearerChallenge;
///
/// let header = BearerChallenge::new("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
///     .scope("files:read")
///     .to_header_value();
/// assert_eq!(
///     header,
///     r#"Bearer scope="files:read", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct BearerChallenge {
    error: Option<&'static str>,
    error_description: Option<String>,
    scope: Option<String>,
    resource_metadata: Option<String>,
}

impl BearerChallenge {
    /// A challenge pointing at the resource's metadata document.
    pub fn new(resource_metadata: impl Into<String>) -> Self {
        Self {
            resource_metadata: Some(resource_metadata.into()),
            ..Self::default()
        }
    }

    /// Sets the `error` code (`invalid_request`, `invalid_token`, `insufficient_scope`).
    pub fn error(mut self, code: &'static str) -> Self {
        self.error = Some(code);
        self
    }

    /// Sets the human-readable `error_description`.
    pub fn error_description(mut self, description: impl Into<String>) -> Self {
        self.error_description = Some(description.into());
        self
    }

    /// Sets the `scope` parameter (space-separated). An empty string leaves it out, and so is
    /// `offline_access`: a refresh token is the client's business with its authorization server,
    /// never something a resource asks for (MCP 2026-07-28).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        let scope = if scope.split(' ').any(|s| s == OFFLINE_ACCESS) {
            scope
                .split(' ')
                .filter(|s| *s != OFFLINE_ACCESS)
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            scope
        };
        self.scope = (!scope.is_empty()).then_some(scope);
        self
    }

    /// Renders the header value.
    pub fn to_header_value(&self) -> HeaderValue {
        render(
            "Bearer",
            &[
                ("error", self.error),
                ("scope", self.scope.as_deref()),
                ("resource_metadata", self.resource_metadata.as_deref()),
                ("error_description", self.error_description.as_deref()),
            ],
        )
    }
}

/// A DPoP challenge (RFC 9449 §7.1), rendered as its own `WWW-Authenticate` header value beside
/// the Bearer one: the proof algorithms accepted and, when the failure concerns DPoP, the error.
///
/// ```
/// use mcp_auth_core::DpopChallenge;
///
/// let header = DpopChallenge::new("ES256 EdDSA")
///     .error("invalid_dpop_proof")
///     .error_description("the proof was used before")
///     .to_header_value();
/// assert_eq!(
///     header,
///     r#"DPoP algs="ES256 EdDSA", error="invalid_dpop_proof", error_description="the proof was used before""#
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct DpopChallenge {
    algs: String,
    error: Option<&'static str>,
    error_description: Option<String>,
}

impl DpopChallenge {
    /// A challenge naming the proof algorithms accepted (space-separated JOSE names).
    pub fn new(algs: impl Into<String>) -> Self {
        Self {
            algs: algs.into(),
            ..Self::default()
        }
    }

    /// Sets the `error` code (`invalid_token`, `invalid_dpop_proof`, `use_dpop_nonce`).
    pub fn error(mut self, code: &'static str) -> Self {
        self.error = Some(code);
        self
    }

    /// Sets the human-readable `error_description`.
    pub fn error_description(mut self, description: impl Into<String>) -> Self {
        self.error_description = Some(description.into());
        self
    }

    /// Renders the header value.
    pub fn to_header_value(&self) -> HeaderValue {
        render(
            "DPoP",
            &[
                ("algs", Some(self.algs.as_str())),
                ("error", self.error),
                ("error_description", self.error_description.as_deref()),
            ],
        )
    }
}

/// `SCHEME name="value", ...` with every value sanitised (see [`BearerChallenge`]).
fn render(scheme: &str, params: &[(&str, Option<&str>)]) -> HeaderValue {
    let mut out = String::from(scheme);
    let mut first = true;
    for (name, value) in params {
        let Some(value) = value else { continue };
        out.push_str(if first { " " } else { ", " });
        first = false;
        let _ = write!(out, "{name}=\"");
        out.extend(value.chars().map(sanitize));
        out.push('"');
    }
    HeaderValue::from_str(&out).expect("sanitised challenge is visible ASCII")
}

fn sanitize(c: char) -> char {
    match c {
        '"' | '\\' => '\'',
        ' '..='~' => c,
        _ => ' ',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameter pattern the MCP TypeScript and Python SDKs use.
    fn params(header: &HeaderValue) -> Vec<(String, String)> {
        let s = header.to_str().unwrap();
        let s = s.strip_prefix("Bearer ").unwrap();
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(eq) = rest.find("=\"") {
            let name = rest[..eq].trim_start_matches([',', ' ']).to_string();
            let after = &rest[eq + 2..];
            let end = after.find('"').unwrap();
            out.push((name, after[..end].to_string()));
            rest = &after[end + 1..];
        }
        out
    }

    #[test]
    fn renders_insufficient_scope() {
        let h = BearerChallenge::new("https://r/.well-known/oauth-protected-resource")
            .error("insufficient_scope")
            .scope("a b")
            .error_description("needs b")
            .to_header_value();
        assert_eq!(
            h,
            r#"Bearer error="insufficient_scope", scope="a b", resource_metadata="https://r/.well-known/oauth-protected-resource", error_description="needs b""#
        );
    }

    #[test]
    fn hostile_descriptions_stay_parseable() {
        let nasty = "a \"quoted\", back\\slash,\r\nnew line, caf\u{e9}, x=\"y\"";
        let h = BearerChallenge::new("https://r/m")
            .error("invalid_token")
            .error_description(nasty)
            .to_header_value();
        let p = params(&h);
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!(p[0], ("error".into(), "invalid_token".into()));
        assert_eq!(p[1], ("resource_metadata".into(), "https://r/m".into()));
        assert_eq!(p[2].0, "error_description");
        assert!(!p[2].1.contains('"') && !p[2].1.contains('\\'));
    }

    #[test]
    fn empty_scope_is_omitted() {
        let h = BearerChallenge::new("m").scope("").to_header_value();
        assert_eq!(h, r#"Bearer resource_metadata="m""#);
        assert_eq!(BearerChallenge::default().to_header_value(), "Bearer");
    }

    #[test]
    fn offline_access_is_never_asked_for() {
        let h = BearerChallenge::new("https://r/m")
            .scope("offline_access mcp:read offline_access")
            .to_header_value();
        assert_eq!(
            h,
            r#"Bearer scope="mcp:read", resource_metadata="https://r/m""#
        );
        let only = BearerChallenge::new("https://r/m")
            .scope("offline_access")
            .to_header_value();
        assert_eq!(only, r#"Bearer resource_metadata="https://r/m""#);
    }
}
