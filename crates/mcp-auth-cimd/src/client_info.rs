//! What a validated client metadata document says about a client.

use std::fmt;
use std::sync::Arc;

use mcp_auth_core::record::ClientSummary;

/// A client identified by a valid Client ID Metadata Document.
///
/// [`CimdLayer`](crate::CimdLayer) puts it in the request extensions of every admitted request,
/// for handlers and the audit layer; [`ClientResolver`](crate::ClientResolver) returns it. Cloning
/// is a reference-count increment.
///
/// ```
/// use mcp_auth_cimd::{CimdUrl, ClientInfo};
/// use serde_json::json;
///
/// let url = CimdUrl::parse("https://app.example.com/client.json", false).unwrap();
/// let info = ClientInfo::from_document(&url, &json!({
///     "client_id": "https://app.example.com/client.json",
///     "client_name": "Example App",
///     "redirect_uris": ["https://app.example.com/callback"],
///     "token_endpoint_auth_method": "none",
/// })).unwrap();
/// assert_eq!(info.name(), "Example App");
/// assert_eq!(info.redirect_hosts(), ["app.example.com"]);
/// assert!(info.warnings().is_empty());
/// assert!(info.digest().starts_with("sha256:"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientInfo(pub(crate) Arc<ClientInfoInner>);

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ClientInfoInner {
    pub(crate) id: String,
    pub(crate) host: String,
    pub(crate) name: String,
    pub(crate) client_uri: Option<String>,
    pub(crate) logo_uri: Option<String>,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) redirect_hosts: Vec<String>,
    pub(crate) token_endpoint_auth_method: Option<String>,
    pub(crate) grant_types: Vec<String>,
    pub(crate) has_keys: bool,
    pub(crate) digest: String,
    pub(crate) warnings: Vec<ClientWarning>,
}

impl ClientInfo {
    /// The client id: the document's URL, exactly as the token carried it.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The host of the client id URL, lower-cased: who vouches for the document.
    pub fn host(&self) -> &str {
        &self.0.host
    }

    /// `client_name`, as the client chose to call itself. Free text: show it beside
    /// [`host`](Self::host), which is what actually identifies the client.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// `client_uri`, the client's home page, when given.
    pub fn client_uri(&self) -> Option<&str> {
        self.0.client_uri.as_deref()
    }

    /// `logo_uri`, when given.
    pub fn logo_uri(&self) -> Option<&str> {
        self.0.logo_uri.as_deref()
    }

    /// `redirect_uris`, in document order.
    pub fn redirect_uris(&self) -> &[String] {
        &self.0.redirect_uris
    }

    /// The distinct hosts of the redirect URIs, in document order; a URI without a host
    /// (a private-use scheme of a native app) appears as its scheme followed by `:`.
    pub fn redirect_hosts(&self) -> &[String] {
        &self.0.redirect_hosts
    }

    /// `token_endpoint_auth_method`, when given (never a shared-secret method).
    pub fn token_endpoint_auth_method(&self) -> Option<&str> {
        self.0.token_endpoint_auth_method.as_deref()
    }

    /// `grant_types`, when given.
    pub fn grant_types(&self) -> &[String] {
        &self.0.grant_types
    }

    /// True when the document publishes keys (`jwks` or `jwks_uri`).
    pub fn has_keys(&self) -> bool {
        self.0.has_keys
    }

    /// `sha256:` and the hex SHA-256 of the canonical form of the fields that decide what the
    /// client can do: `redirect_uris`, `token_endpoint_auth_method`, `jwks`, `jwks_uri` and
    /// `grant_types`. A cosmetic change (name, logo) keeps it; a change that matters does not.
    pub fn digest(&self) -> &str {
        &self.0.digest
    }

    /// What a person approving the client should look at twice.
    pub fn warnings(&self) -> &[ClientWarning] {
        &self.0.warnings
    }

    /// The summary the audit record carries.
    pub fn summary(&self) -> ClientSummary {
        ClientSummary::new(self.id())
            .name(self.name())
            .metadata_document(true)
    }

    /// A copy with one more warning.
    #[must_use]
    pub(crate) fn with_warning(&self, warning: ClientWarning) -> Self {
        let mut inner = (*self.0).clone();
        if !inner.warnings.contains(&warning) {
            inner.warnings.push(warning);
        }
        Self(Arc::new(inner))
    }
}

impl fmt::Debug for ClientInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientInfo")
            .field("id", &self.0.id)
            .field("name", &self.0.name)
            .field("redirect_hosts", &self.0.redirect_hosts)
            .field("digest", &self.0.digest)
            .field("warnings", &self.0.warnings)
            .finish_non_exhaustive()
    }
}

/// Something about a client that deserves a second look before approving it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientWarning {
    /// The client id carries a query string, which the draft discourages (two URLs that differ
    /// only there name two different clients).
    QueryInClientId,
    /// Every redirect URI points at the local machine: typical of a desktop or command-line
    /// app, and any local program can receive its authorization codes.
    LoopbackRedirectsOnly,
    /// A redirect URI's host is neither the client id's host nor a subdomain or parent of it.
    RedirectHostMismatch {
        /// The redirect host.
        host: String,
    },
    /// A redirect URI uses plain `http` to a host that is not the local machine.
    InsecureRedirect {
        /// The redirect URI.
        uri: String,
    },
    /// The document changed in a way that matters (redirect URIs, authentication method, keys
    /// or grant types) since an operator approved it.
    ChangedSinceApproval,
}

impl ClientWarning {
    /// Short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::QueryInClientId => "query_in_client_id",
            Self::LoopbackRedirectsOnly => "loopback_redirects_only",
            Self::RedirectHostMismatch { .. } => "redirect_host_mismatch",
            Self::InsecureRedirect { .. } => "insecure_redirect",
            Self::ChangedSinceApproval => "changed_since_approval",
        }
    }
}

impl fmt::Display for ClientWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::QueryInClientId => f.write_str(
                "the client id has a query string; URLs that differ only there are different clients",
            ),
            Self::LoopbackRedirectsOnly => f.write_str(
                "every redirect URI is on the local machine (localhost): any local program could receive the authorization codes",
            ),
            Self::RedirectHostMismatch { host } => write!(
                f,
                "redirect host `{host}` is unlike the client id's host"
            ),
            Self::InsecureRedirect { uri } => {
                write!(f, "redirect URI `{uri}` uses plain http to a remote host")
            }
            Self::ChangedSinceApproval => f.write_str(
                "the document changed since it was approved (redirect URIs, authentication method, keys or grant types)",
            ),
        }
    }
}
