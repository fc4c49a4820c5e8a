//! Validation of a client metadata document, its digest and its warnings.

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::client_info::{ClientInfo, ClientInfoInner, ClientWarning};
use crate::url_rules::{CimdUrl, is_loopback_host};

/// Token endpoint authentication methods that rest on a shared secret, which a document anyone
/// can read must never use.
const SHARED_SECRET_METHODS: [&str; 3] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
];

/// Members that would carry or imply a shared secret.
const SECRET_MEMBERS: [&str; 2] = ["client_secret", "client_secret_expires_at"];

/// Redirect URI schemes that are never a place to send an authorization code.
const FORBIDDEN_REDIRECT_SCHEMES: [&str; 5] = ["javascript", "data", "file", "vbscript", "blob"];

/// Members naming web pages shown to people: `http` or `https` only.
const WEB_URI_MEMBERS: [&str; 4] = ["client_uri", "logo_uri", "tos_uri", "policy_uri"];

/// Why a client metadata document is invalid. Messages name the member and the rule; they are
/// safe to send to the client whose document it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The document is not a JSON object.
    #[error("the document is not a JSON object")]
    NotAnObject,
    /// A required member is missing.
    #[error("the document has no `{0}`")]
    Missing(&'static str),
    /// A member has the wrong JSON type.
    #[error("`{member}` must be {expected}")]
    WrongType {
        /// The member.
        member: String,
        /// What it must be.
        expected: &'static str,
    },
    /// `client_id` differs from the URL the document was fetched from.
    #[error("the document's `client_id` is not the URL it was fetched from")]
    ClientIdMismatch,
    /// `client_name` is empty or contains control characters.
    #[error("`client_name` must be a non-empty name without control characters")]
    BadClientName,
    /// `redirect_uris` is empty.
    #[error("`redirect_uris` must list at least one URI")]
    NoRedirectUris,
    /// A URL member is malformed or breaks a rule.
    #[error("`{member}` is not acceptable: {reason}")]
    BadUrl {
        /// The member (with an index for arrays, e.g. `redirect_uris[1]`).
        member: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// A shared-secret token endpoint authentication method.
    #[error(
        "`token_endpoint_auth_method` `{0}` needs a shared secret, which a public document cannot hold"
    )]
    SharedSecretMethod(&'static str),
    /// `client_secret` or `client_secret_expires_at` is present.
    #[error("the document contains `{0}`; a public document cannot hold a secret")]
    ContainsSecret(&'static str),
    /// Both `jwks` and `jwks_uri`.
    #[error("the document has both `jwks` and `jwks_uri`")]
    JwksAndJwksUri,
}

impl DocumentError {
    /// Short machine-readable reason, for audit records and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotAnObject | Self::Missing(_) | Self::WrongType { .. } => {
                "client_document_malformed"
            }
            Self::ClientIdMismatch => "client_id_mismatch",
            Self::BadClientName => "client_name_invalid",
            Self::NoRedirectUris => "client_no_redirect_uris",
            Self::BadUrl { .. } => "client_document_bad_url",
            Self::SharedSecretMethod(_) | Self::ContainsSecret(_) => "client_document_secret",
            Self::JwksAndJwksUri => "client_document_malformed",
        }
    }
}

impl ClientInfo {
    /// Validates the document fetched from `url`:
    ///
    /// - a JSON object whose `client_id` is string-equal to the URL;
    /// - a non-empty `client_name` without control characters;
    /// - a non-empty `redirect_uris` array of absolute URIs without fragments, userinfo or a
    ///   script-like scheme (`javascript:`, `data:`, ...);
    /// - no shared-secret `token_endpoint_auth_method` (`client_secret_basic`,
    ///   `client_secret_post`, `client_secret_jwt`), no `client_secret`, no
    ///   `client_secret_expires_at`;
    /// - every URL member well-formed: `client_uri`, `logo_uri`, `tos_uri`, `policy_uri` are
    ///   `http(s)`, `jwks_uri` is `https`, any other `*_uri` / `*_uris` member is absolute;
    /// - `jwks` (an object with a `keys` array) and `jwks_uri` not both; `grant_types`,
    ///   `response_types` arrays of strings; `scope` a string.
    ///
    /// # Errors
    /// The first rule the document breaks.
    pub fn from_document(url: &CimdUrl, document: &Value) -> Result<ClientInfo, DocumentError> {
        let doc = document.as_object().ok_or(DocumentError::NotAnObject)?;
        let client_id = required_str(doc, "client_id")?;
        if client_id != url.as_str() {
            return Err(DocumentError::ClientIdMismatch);
        }
        for member in SECRET_MEMBERS {
            if doc.contains_key(member) {
                return Err(DocumentError::ContainsSecret(member));
            }
        }
        let method = optional_str(doc, "token_endpoint_auth_method")?;
        if let Some(shared) = method.and_then(|m| SHARED_SECRET_METHODS.iter().find(|s| **s == m)) {
            return Err(DocumentError::SharedSecretMethod(shared));
        }
        let name = required_str(doc, "client_name")?;
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(DocumentError::BadClientName);
        }
        let redirect_uris =
            string_array(doc, "redirect_uris")?.ok_or(DocumentError::Missing("redirect_uris"))?;
        if redirect_uris.is_empty() {
            return Err(DocumentError::NoRedirectUris);
        }
        let mut parsed_redirects = Vec::with_capacity(redirect_uris.len());
        for (i, uri) in redirect_uris.iter().enumerate() {
            parsed_redirects.push(check_redirect_uri(&format!("redirect_uris[{i}]"), uri)?);
        }
        check_url_members(doc)?;
        let jwks = doc.get("jwks");
        let jwks_uri = optional_str(doc, "jwks_uri")?;
        if let Some(jwks) = jwks {
            if jwks_uri.is_some() {
                return Err(DocumentError::JwksAndJwksUri);
            }
            if !jwks.get("keys").is_some_and(Value::is_array) {
                return Err(wrong_type("jwks", "an object with a `keys` array"));
            }
        }
        let grant_types = string_array(doc, "grant_types")?.unwrap_or_default();
        string_array(doc, "response_types")?;
        optional_str(doc, "scope")?;

        let digest = digest(&redirect_uris, method, jwks, jwks_uri, &grant_types);
        let warnings = warnings(url, &parsed_redirects);
        let mut redirect_hosts: Vec<String> = Vec::new();
        for uri in &parsed_redirects {
            let host = match uri.host_str() {
                Some(h) if !h.is_empty() => h
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase(),
                _ => format!("{}:", uri.scheme()),
            };
            if !redirect_hosts.contains(&host) {
                redirect_hosts.push(host);
            }
        }
        Ok(ClientInfo(Arc::new(ClientInfoInner {
            id: client_id.to_owned(),
            host: url.host().to_owned(),
            name: name.to_owned(),
            client_uri: optional_str(doc, "client_uri")?.map(str::to_owned),
            logo_uri: optional_str(doc, "logo_uri")?.map(str::to_owned),
            redirect_uris,
            redirect_hosts,
            token_endpoint_auth_method: method.map(str::to_owned),
            grant_types,
            has_keys: jwks.is_some() || jwks_uri.is_some(),
            digest,
            warnings,
        })))
    }
}

fn wrong_type(member: &str, expected: &'static str) -> DocumentError {
    DocumentError::WrongType {
        member: truncate(member),
        expected,
    }
}

/// Member names come from the document; keep what is echoed short and harmless.
fn truncate(member: &str) -> String {
    mcp_auth_core::untrusted_text(member, 64)
}

fn required_str<'a>(
    doc: &'a Map<String, Value>,
    member: &'static str,
) -> Result<&'a str, DocumentError> {
    optional_str(doc, member)?.ok_or(DocumentError::Missing(member))
}

fn optional_str<'a>(
    doc: &'a Map<String, Value>,
    member: &str,
) -> Result<Option<&'a str>, DocumentError> {
    match doc.get(member) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(member, "a string")),
    }
}

fn string_array(
    doc: &Map<String, Value>,
    member: &str,
) -> Result<Option<Vec<String>>, DocumentError> {
    match doc.get(member) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| wrong_type(member, "an array of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong_type(member, "an array of strings")),
    }
}

/// Parses an absolute URL with the rules every URL member shares.
fn parse_url(member: &str, value: &str) -> Result<Url, DocumentError> {
    let bad = |reason| DocumentError::BadUrl {
        member: truncate(member),
        reason,
    };
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(bad(
            "it contains whitespace, a control character or a backslash",
        ));
    }
    let url = Url::parse(value).map_err(|_| bad("it is not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it contains a username or password"));
    }
    if matches!(url.scheme(), "http" | "https") && url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    Ok(url)
}

fn check_redirect_uri(member: &str, value: &str) -> Result<Url, DocumentError> {
    let url = parse_url(member, value)?;
    let bad = |reason| DocumentError::BadUrl {
        member: member.to_owned(),
        reason,
    };
    if url.fragment().is_some() {
        return Err(bad("a redirect URI must not have a fragment"));
    }
    if FORBIDDEN_REDIRECT_SCHEMES.contains(&url.scheme()) {
        return Err(bad("its scheme cannot receive an authorization code"));
    }
    Ok(url)
}

/// Every URL member other than `redirect_uris`.
fn check_url_members(doc: &Map<String, Value>) -> Result<(), DocumentError> {
    for (member, value) in doc {
        if member == "redirect_uris" {
            continue;
        }
        if member.ends_with("_uris") {
            for (i, uri) in string_array(doc, member)?
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                parse_url(&format!("{}[{i}]", truncate(member)), uri)?;
            }
        } else if member.ends_with("_uri") {
            let uri = value
                .as_str()
                .ok_or_else(|| wrong_type(member, "a string"))?;
            let url = parse_url(member, uri)?;
            let bad = |reason| DocumentError::BadUrl {
                member: truncate(member),
                reason,
            };
            if member == "jwks_uri" && url.scheme() != "https" {
                return Err(bad("keys must be published over https"));
            }
            if WEB_URI_MEMBERS.contains(&member.as_str())
                && !matches!(url.scheme(), "http" | "https")
            {
                return Err(bad("it must be an http or https URL"));
            }
        }
    }
    Ok(())
}

/// SHA-256 over a canonical JSON form of what decides the client's powers. Lists that are sets
/// (redirect URIs, grant types) are sorted and deduplicated, so reordering them changes nothing;
/// object keys are sorted at every depth, whatever order the document used.
fn digest(
    redirect_uris: &[String],
    method: Option<&str>,
    jwks: Option<&Value>,
    jwks_uri: Option<&str>,
    grant_types: &[String],
) -> String {
    let set = |items: &[String]| {
        let mut items = items.to_vec();
        items.sort();
        items.dedup();
        Value::from(items)
    };
    let mut canonical = String::new();
    canonical.push('{');
    let fields: [(&str, Value); 5] = [
        ("grant_types", set(grant_types)),
        ("jwks", jwks.cloned().unwrap_or(Value::Null)),
        ("jwks_uri", jwks_uri.map_or(Value::Null, Value::from)),
        ("redirect_uris", set(redirect_uris)),
        (
            "token_endpoint_auth_method",
            method.map_or(Value::Null, Value::from),
        ),
    ];
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        write_canonical(&mut canonical, &Value::from(*key));
        canonical.push(':');
        write_canonical(&mut canonical, value);
    }
    canonical.push('}');
    let hash = Sha256::digest(canonical.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Compact JSON with object keys sorted (independent of serde_json's map ordering feature).
fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, &Value::from(key.as_str()));
                out.push(':');
                write_canonical(out, &map[key]);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn warnings(url: &CimdUrl, redirects: &[Url]) -> Vec<ClientWarning> {
    let mut warnings = Vec::new();
    if url.has_query() {
        warnings.push(ClientWarning::QueryInClientId);
    }
    let web: Vec<&Url> = redirects
        .iter()
        .filter(|u| u.host_str().is_some())
        .collect();
    if !web.is_empty() && web.len() == redirects.len() && web.iter().all(|u| is_loopback_host(u)) {
        warnings.push(ClientWarning::LoopbackRedirectsOnly);
    }
    for redirect in web {
        if is_loopback_host(redirect) {
            continue;
        }
        if redirect.scheme() == "http" {
            let w = ClientWarning::InsecureRedirect {
                uri: redirect.as_str().to_owned(),
            };
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        let host = redirect
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if !related_hosts(&host, url.host()) {
            let w = ClientWarning::RedirectHostMismatch { host };
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    warnings
}

/// Same host, or one a subdomain of the other.
fn related_hosts(a: &str, b: &str) -> bool {
    let sub = |child: &str, parent: &str| {
        child
            .strip_suffix(parent)
            .is_some_and(|prefix| prefix.ends_with('.'))
    };
    a == b || sub(a, b) || sub(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "https://app.example.com/client.json";

    fn url() -> CimdUrl {
        CimdUrl::parse(ID, false).unwrap()
    }

    fn base() -> Value {
        json!({
            "client_id": ID,
            "client_name": "Example App",
            "redirect_uris": ["https://app.example.com/callback"],
            "token_endpoint_auth_method": "none",
        })
    }

    fn with(change: impl FnOnce(&mut Map<String, Value>)) -> Result<ClientInfo, DocumentError> {
        let mut doc = base();
        change(doc.as_object_mut().unwrap());
        ClientInfo::from_document(&url(), &doc)
    }

    #[test]
    fn a_valid_document() {
        let info = with(|d| {
            d.insert("client_uri".into(), json!("https://app.example.com"));
            d.insert("logo_uri".into(), json!("https://cdn.example.com/logo.png"));
            d.insert(
                "grant_types".into(),
                json!(["authorization_code", "refresh_token"]),
            );
        })
        .unwrap();
        assert_eq!(info.id(), ID);
        assert_eq!(info.host(), "app.example.com");
        assert_eq!(info.name(), "Example App");
        assert_eq!(info.client_uri(), Some("https://app.example.com"));
        assert_eq!(info.logo_uri(), Some("https://cdn.example.com/logo.png"));
        assert_eq!(info.token_endpoint_auth_method(), Some("none"));
        assert!(!info.has_keys());
        assert!(info.warnings().is_empty(), "{:?}", info.warnings());
        let summary = info.summary();
        assert_eq!(summary.client_id, ID);
        assert_eq!(summary.name.as_deref(), Some("Example App"));
        assert!(summary.metadata_document);
    }

    #[test]
    fn invalid_documents() {
        type Change = fn(&mut Map<String, Value>);
        let cases: &[(&str, Change, DocumentError)] = &[
            (
                "mismatched client_id",
                |d| {
                    d.insert(
                        "client_id".into(),
                        json!("https://evil.example/client.json"),
                    );
                },
                DocumentError::ClientIdMismatch,
            ),
            (
                "client_id with a trailing slash",
                |d| {
                    d.insert("client_id".into(), json!(format!("{ID}/")));
                },
                DocumentError::ClientIdMismatch,
            ),
            (
                "no client_id",
                |d| {
                    d.remove("client_id");
                },
                DocumentError::Missing("client_id"),
            ),
            (
                "numeric client_id",
                |d| {
                    d.insert("client_id".into(), json!(1));
                },
                DocumentError::WrongType {
                    member: "client_id".into(),
                    expected: "a string",
                },
            ),
            (
                "no client_name",
                |d| {
                    d.remove("client_name");
                },
                DocumentError::Missing("client_name"),
            ),
            (
                "blank client_name",
                |d| {
                    d.insert("client_name".into(), json!("  "));
                },
                DocumentError::BadClientName,
            ),
            (
                "escape sequence in client_name",
                |d| {
                    d.insert("client_name".into(), json!("App\u{1b}[2J"));
                },
                DocumentError::BadClientName,
            ),
            (
                "no redirect_uris",
                |d| {
                    d.remove("redirect_uris");
                },
                DocumentError::Missing("redirect_uris"),
            ),
            (
                "empty redirect_uris",
                |d| {
                    d.insert("redirect_uris".into(), json!([]));
                },
                DocumentError::NoRedirectUris,
            ),
            (
                "redirect_uris a string",
                |d| {
                    d.insert("redirect_uris".into(), json!("https://a/cb"));
                },
                DocumentError::WrongType {
                    member: "redirect_uris".into(),
                    expected: "an array of strings",
                },
            ),
            (
                "relative redirect",
                |d| {
                    d.insert("redirect_uris".into(), json!(["/callback"]));
                },
                DocumentError::BadUrl {
                    member: "redirect_uris[0]".into(),
                    reason: "it is not an absolute URL",
                },
            ),
            (
                "redirect with fragment",
                |d| {
                    d.insert(
                        "redirect_uris".into(),
                        json!(["https://app.example.com/cb", "https://app.example.com/cb#x"]),
                    );
                },
                DocumentError::BadUrl {
                    member: "redirect_uris[1]".into(),
                    reason: "a redirect URI must not have a fragment",
                },
            ),
            (
                "javascript redirect",
                |d| {
                    d.insert("redirect_uris".into(), json!(["javascript:alert(1)"]));
                },
                DocumentError::BadUrl {
                    member: "redirect_uris[0]".into(),
                    reason: "its scheme cannot receive an authorization code",
                },
            ),
            (
                "redirect with userinfo",
                |d| {
                    d.insert(
                        "redirect_uris".into(),
                        json!(["https://u:p@app.example.com/cb"]),
                    );
                },
                DocumentError::BadUrl {
                    member: "redirect_uris[0]".into(),
                    reason: "it contains a username or password",
                },
            ),
            (
                "client_secret",
                |d| {
                    d.insert("client_secret".into(), json!("s3cr3t"));
                },
                DocumentError::ContainsSecret("client_secret"),
            ),
            (
                "client_secret_expires_at",
                |d| {
                    d.insert("client_secret_expires_at".into(), json!(0));
                },
                DocumentError::ContainsSecret("client_secret_expires_at"),
            ),
            (
                "client_secret_basic",
                |d| {
                    d.insert(
                        "token_endpoint_auth_method".into(),
                        json!("client_secret_basic"),
                    );
                },
                DocumentError::SharedSecretMethod("client_secret_basic"),
            ),
            (
                "client_secret_post",
                |d| {
                    d.insert(
                        "token_endpoint_auth_method".into(),
                        json!("client_secret_post"),
                    );
                },
                DocumentError::SharedSecretMethod("client_secret_post"),
            ),
            (
                "client_secret_jwt",
                |d| {
                    d.insert(
                        "token_endpoint_auth_method".into(),
                        json!("client_secret_jwt"),
                    );
                },
                DocumentError::SharedSecretMethod("client_secret_jwt"),
            ),
            (
                "bad logo_uri",
                |d| {
                    d.insert("logo_uri".into(), json!("not a url"));
                },
                DocumentError::BadUrl {
                    member: "logo_uri".into(),
                    reason: "it contains whitespace, a control character or a backslash",
                },
            ),
            (
                "ftp client_uri",
                |d| {
                    d.insert("client_uri".into(), json!("ftp://app.example.com/"));
                },
                DocumentError::BadUrl {
                    member: "client_uri".into(),
                    reason: "it must be an http or https URL",
                },
            ),
            (
                "http jwks_uri",
                |d| {
                    d.insert("jwks_uri".into(), json!("http://app.example.com/jwks"));
                },
                DocumentError::BadUrl {
                    member: "jwks_uri".into(),
                    reason: "keys must be published over https",
                },
            ),
            (
                "unknown _uri member",
                |d| {
                    d.insert("initiate_login_uri".into(), json!("::"));
                },
                DocumentError::BadUrl {
                    member: "initiate_login_uri".into(),
                    reason: "it is not an absolute URL",
                },
            ),
            (
                "unknown _uris member",
                |d| {
                    d.insert(
                        "post_logout_redirect_uris".into(),
                        json!(["https://ok.example/", "nope"]),
                    );
                },
                DocumentError::BadUrl {
                    member: "post_logout_redirect_uris[1]".into(),
                    reason: "it is not an absolute URL",
                },
            ),
            (
                "_uri not a string",
                |d| {
                    d.insert("tos_uri".into(), json!(7));
                },
                DocumentError::WrongType {
                    member: "tos_uri".into(),
                    expected: "a string",
                },
            ),
            (
                "jwks and jwks_uri",
                |d| {
                    d.insert("jwks".into(), json!({"keys": []}));
                    d.insert("jwks_uri".into(), json!("https://app.example.com/jwks"));
                },
                DocumentError::JwksAndJwksUri,
            ),
            (
                "jwks without keys",
                |d| {
                    d.insert("jwks".into(), json!({}));
                },
                DocumentError::WrongType {
                    member: "jwks".into(),
                    expected: "an object with a `keys` array",
                },
            ),
            (
                "grant_types of numbers",
                |d| {
                    d.insert("grant_types".into(), json!([1]));
                },
                DocumentError::WrongType {
                    member: "grant_types".into(),
                    expected: "an array of strings",
                },
            ),
        ];
        for (name, change, expected) in cases {
            assert_eq!(with(*change).unwrap_err(), *expected, "{name}");
        }
        assert_eq!(
            ClientInfo::from_document(&url(), &json!([1, 2])).unwrap_err(),
            DocumentError::NotAnObject
        );
    }

    #[test]
    fn secrets_are_never_echoed() {
        let err = with(|d| {
            d.insert("client_secret".into(), json!("s3cr3t-value"));
        })
        .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert_eq!(err.reason(), "client_document_secret");
    }

    #[test]
    fn warnings_for_the_approver() {
        let url = CimdUrl::parse("https://app.example.com/client.json?v=1", false).unwrap();
        let doc = json!({
            "client_id": "https://app.example.com/client.json?v=1",
            "client_name": "CLI",
            "redirect_uris": ["http://127.0.0.1:8976/callback", "http://localhost/cb"],
        });
        let info = ClientInfo::from_document(&url, &doc).unwrap();
        assert_eq!(
            info.warnings(),
            [
                ClientWarning::QueryInClientId,
                ClientWarning::LoopbackRedirectsOnly
            ]
        );
        assert_eq!(info.redirect_hosts(), ["127.0.0.1", "localhost"]);

        let info = with(|d| {
            d.insert(
                "redirect_uris".into(),
                json!([
                    "https://app.example.com/cb",
                    "https://login.app.example.com/cb",
                    "https://evil.example.net/cb",
                    "http://plain.example.com/cb",
                    "com.example.app:/oauth",
                    "http://127.0.0.1/cb",
                ]),
            );
        })
        .unwrap();
        assert_eq!(
            info.warnings(),
            [
                ClientWarning::RedirectHostMismatch {
                    host: "evil.example.net".into()
                },
                ClientWarning::InsecureRedirect {
                    uri: "http://plain.example.com/cb".into()
                },
                ClientWarning::RedirectHostMismatch {
                    host: "plain.example.com".into()
                },
            ]
        );
        assert_eq!(
            info.redirect_hosts(),
            [
                "app.example.com",
                "login.app.example.com",
                "evil.example.net",
                "plain.example.com",
                "com.example.app:",
                "127.0.0.1"
            ]
        );
        for w in info.warnings() {
            assert!(!w.to_string().is_empty() && !w.code().is_empty());
        }
    }

    #[test]
    fn digest_follows_what_matters_only() {
        let original = with(|_| {}).unwrap();
        let cosmetic = with(|d| {
            d.insert("client_name".into(), json!("Renamed"));
            d.insert("logo_uri".into(), json!("https://app.example.com/new.png"));
        })
        .unwrap();
        assert_eq!(original.digest(), cosmetic.digest());
        assert_eq!(original.digest().len(), "sha256:".len() + 64);

        let reordered_a = with(|d| {
            d.insert(
                "redirect_uris".into(),
                json!(["https://app.example.com/a", "https://app.example.com/b"]),
            );
            d.insert(
                "jwks".into(),
                json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc"}]}),
            );
        })
        .unwrap();
        let reordered_b = with(|d| {
            d.insert(
                "redirect_uris".into(),
                json!(["https://app.example.com/b", "https://app.example.com/a"]),
            );
            d.insert(
                "jwks".into(),
                json!({"keys": [{"x": "abc", "crv": "Ed25519", "kty": "OKP"}]}),
            );
        })
        .unwrap();
        assert_eq!(reordered_a.digest(), reordered_b.digest());

        type Change = fn(&mut Map<String, Value>);
        let changes: &[(&str, Change)] = &[
            ("redirect added", |d| {
                d.insert(
                    "redirect_uris".into(),
                    json!([
                        "https://app.example.com/callback",
                        "https://other.example/cb"
                    ]),
                );
            }),
            ("auth method", |d| {
                d.insert(
                    "token_endpoint_auth_method".into(),
                    json!("private_key_jwt"),
                );
            }),
            ("auth method removed", |d| {
                d.remove("token_endpoint_auth_method");
            }),
            ("keys", |d| {
                d.insert("jwks_uri".into(), json!("https://app.example.com/jwks"));
            }),
            ("grant types", |d| {
                d.insert("grant_types".into(), json!(["client_credentials"]));
            }),
        ];
        for (name, change) in changes {
            assert_ne!(with(*change).unwrap().digest(), original.digest(), "{name}");
        }
    }

    #[test]
    fn related_hosts_rule() {
        assert!(related_hosts("a.example.com", "a.example.com"));
        assert!(related_hosts("login.a.example.com", "a.example.com"));
        assert!(related_hosts("a.example.com", "login.a.example.com"));
        assert!(!related_hosts("evila.example.com", "a.example.com"));
        assert!(!related_hosts("b.example.com", "a.example.com"));
    }
}
