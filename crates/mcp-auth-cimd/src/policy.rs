//! Which clients an operator admits.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use mcp_auth_core::AuthError;

use crate::{Approval, CimdUrl, ClientInfo, ClientResolver, ClientWarning, Registry, ResolveError};

/// Which clients may use the server, judged on the verified token's client id.
///
/// Client ids that are URLs (`https://…`) are Client ID Metadata Document clients: they must pass
/// the URL rules, have a valid document, and then satisfy one rule, chosen by constructor:
///
/// - [`any_valid_document`](Self::any_valid_document): every client with a valid document;
/// - [`allow_list`](Self::allow_list): clients whose URL or host is listed
///   ([`ClientAllowList`]);
/// - [`registry`](Self::registry): clients an operator approved in a [`Registry`] file, with
///   the document digest they approved.
///
/// Other client ids are pre-registered clients (known to the authorization server, not to
/// this one), judged by [`PreRegisteredClients`]: refused unless allowed.
///
/// A client the policy refuses anyway is refused before its document is fetched.
///
/// ```
/// use mcp_auth_cimd::{ClientAllowList, ClientPolicy, PreRegisteredClients};
///
/// let policy = ClientPolicy::allow_list(
///     ClientAllowList::new()
///         .url("https://app.example.com/oauth/client.json")
///         .host_and_subdomains("trusted.example"),
/// )
/// .pre_registered(PreRegisteredClients::only(["internal-batch-job"]));
/// # let _ = policy;
/// ```
#[derive(Clone)]
#[must_use]
pub struct ClientPolicy {
    rule: Rule,
    pre_registered: PreRegisteredClients,
    changed_document: ChangedDocument,
}

#[derive(Clone)]
enum Rule {
    AnyValid,
    AllowList(Arc<ClientAllowList>),
    Registry(Registry),
}

/// A client the policy admitted.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Admission {
    /// A Client ID Metadata Document client.
    Document(ClientInfo),
    /// A Client ID Metadata Document client an operator approved in the registry.
    Approved(ClientInfo),
    /// A pre-registered client, by its id.
    PreRegistered(String),
}

/// Where [`ClientPolicy`] stands before any fetch.
pub(crate) enum Step {
    Admit(Admission),
    Deny(AuthError),
    /// The document must be resolved, then [`ClientPolicy::finish`] decides.
    Resolve,
}

impl ClientPolicy {
    /// Admits every client whose document is valid.
    pub fn any_valid_document() -> Self {
        Self::with_rule(Rule::AnyValid)
    }

    /// Admits the document clients the list names.
    pub fn allow_list(list: ClientAllowList) -> Self {
        Self::with_rule(Rule::AllowList(Arc::new(list)))
    }

    /// Admits the document clients an operator approved in `registry`, as long as their
    /// document still has the approved digest (see [`changed_document`](Self::changed_document)).
    pub fn registry(registry: Registry) -> Self {
        Self::with_rule(Rule::Registry(registry))
    }

    fn with_rule(rule: Rule) -> Self {
        Self {
            rule,
            pre_registered: PreRegisteredClients::none(),
            changed_document: ChangedDocument::default(),
        }
    }

    /// The rule for client ids that are not URLs. Defaults to [`PreRegisteredClients::none`].
    pub fn pre_registered(mut self, rule: PreRegisteredClients) -> Self {
        self.pre_registered = rule;
        self
    }

    /// What a registry policy does when an approved client's document changed in a way that
    /// matters. Defaults to [`ChangedDocument::Refuse`].
    pub fn changed_document(mut self, rule: ChangedDocument) -> Self {
        self.changed_document = rule;
        self
    }

    /// Decides on a client id, resolving its document when needed. This is what
    /// [`CimdLayer`](crate::CimdLayer) does for each request, usable without tower.
    ///
    /// # Errors
    /// The denial, ready to render: 403 `access_denied` for a refused or invalid client, 503
    /// when its document cannot be fetched now.
    pub async fn check(
        &self,
        client_id: &str,
        resolver: &ClientResolver,
    ) -> Result<Admission, AuthError> {
        match self.begin(client_id, resolver) {
            Step::Admit(admission) => Ok(admission),
            Step::Deny(error) => Err(error),
            Step::Resolve => self.finish(resolver.resolve(client_id).await),
        }
    }

    /// Everything that can be decided without the network.
    pub(crate) fn begin(&self, client_id: &str, resolver: &ClientResolver) -> Step {
        if !CimdUrl::looks_like_url(client_id) {
            return self.pre_registered.judge(client_id);
        }
        if let Some(info) = resolver.cached(client_id) {
            return match self.judge(info) {
                Ok(admission) => Step::Admit(admission),
                Err(error) => Step::Deny(error),
            };
        }
        let url = match resolver.check_url(client_id) {
            Ok(url) => url,
            Err(error) => return Step::Deny(error.to_auth_error()),
        };
        let listed = match &self.rule {
            Rule::AnyValid => true,
            Rule::AllowList(list) => list.allows(url.as_str(), url.host()),
            Rule::Registry(registry) => registry.contains(url.as_str()),
        };
        if listed {
            Step::Resolve
        } else {
            Step::Deny(self.not_listed())
        }
    }

    /// The decision once the document is resolved.
    pub(crate) fn finish(
        &self,
        resolved: Result<ClientInfo, ResolveError>,
    ) -> Result<Admission, AuthError> {
        self.judge(resolved.map_err(|e| e.to_auth_error())?)
    }

    fn judge(&self, info: ClientInfo) -> Result<Admission, AuthError> {
        match &self.rule {
            Rule::AnyValid => Ok(Admission::Document(info)),
            Rule::AllowList(list) if list.allows(info.id(), info.host()) => {
                Ok(Admission::Document(info))
            }
            Rule::AllowList(_) => Err(self.not_listed()),
            Rule::Registry(registry) => match registry.approval(info.id(), info.digest()) {
                Approval::Approved => Ok(Admission::Approved(info)),
                Approval::NotApproved => Err(self.not_listed()),
                Approval::Changed => match self.changed_document {
                    ChangedDocument::Refuse => Err(AuthError::access_denied(
                        "client_document_changed",
                        "the client's metadata document changed since the operator approved it \
                         (redirect URIs, authentication method, keys or grant types); it must be approved again",
                    )),
                    ChangedDocument::Warn => {
                        tracing::warn!(
                            client_id = info.id(),
                            "admitting a client whose document changed since approval"
                        );
                        Ok(Admission::Approved(
                            info.with_warning(ClientWarning::ChangedSinceApproval),
                        ))
                    }
                },
            },
        }
    }

    fn not_listed(&self) -> AuthError {
        match self.rule {
            Rule::Registry(_) => AuthError::access_denied(
                "client_not_approved",
                "this client has not been approved by the server's operator",
            ),
            _ => AuthError::access_denied(
                "client_not_allowed",
                "this client is not allowed by the server's client policy",
            ),
        }
    }
}

impl fmt::Debug for ClientPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule: &dyn fmt::Debug = match &self.rule {
            Rule::AnyValid => &"any valid document",
            Rule::AllowList(list) => list,
            Rule::Registry(registry) => registry,
        };
        f.debug_struct("ClientPolicy")
            .field("rule", rule)
            .field("pre_registered", &self.pre_registered)
            .field("changed_document", &self.changed_document)
            .finish()
    }
}

/// Document clients admitted by URL or host. Hosts match exactly unless added with
/// [`host_and_subdomains`](Self::host_and_subdomains).
///
/// ```
/// use mcp_auth_cimd::ClientAllowList;
///
/// let list = ClientAllowList::new()
///     .host("app.example.com")
///     .host_and_subdomains("trusted.example");
/// assert!(list.allows("https://app.example.com/c.json", "app.example.com"));
/// assert!(!list.allows("https://eu.app.example.com/c.json", "eu.app.example.com"));
/// assert!(list.allows("https://a.b.trusted.example/c.json", "a.b.trusted.example"));
/// assert!(list.allows("https://trusted.example/c.json", "trusted.example"));
/// assert!(!list.allows("https://untrusted.example/c.json", "untrusted.example"));
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct ClientAllowList {
    urls: HashSet<String>,
    hosts: HashSet<String>,
    parents: Vec<String>,
}

impl ClientAllowList {
    /// An empty list (admits no one).
    pub fn new() -> Self {
        Self::default()
    }

    /// Admits exactly this client id.
    pub fn url(mut self, client_id: impl Into<String>) -> Self {
        self.urls.insert(client_id.into());
        self
    }

    /// Admits every document hosted on exactly this host (not its subdomains).
    pub fn host(mut self, host: impl AsRef<str>) -> Self {
        self.hosts.insert(normalise_host(host.as_ref()));
        self
    }

    /// Admits every document hosted on this host or any subdomain of it.
    pub fn host_and_subdomains(mut self, host: impl AsRef<str>) -> Self {
        let host = normalise_host(host.as_ref());
        self.hosts.insert(host.clone());
        self.parents.push(format!(".{host}"));
        self
    }

    /// True when the client id or its (lower-case) host is admitted.
    pub fn allows(&self, client_id: &str, host: &str) -> bool {
        self.urls.contains(client_id)
            || self.hosts.contains(host)
            || self
                .parents
                .iter()
                .any(|parent| host.ends_with(parent.as_str()))
    }
}

fn normalise_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The rule for pre-registered clients: client ids that are not URLs.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct PreRegisteredClients(PreRegistered);

#[derive(Clone, Debug, Default)]
enum PreRegistered {
    #[default]
    None,
    All,
    Only(Arc<HashSet<String>>),
}

impl PreRegisteredClients {
    /// Refuses every client id that is not a URL (the default).
    pub fn none() -> Self {
        Self(PreRegistered::None)
    }

    /// Admits every client id that is not a URL: the authorization server vouches for them.
    pub fn all() -> Self {
        Self(PreRegistered::All)
    }

    /// Admits these client ids only.
    pub fn only<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(PreRegistered::Only(Arc::new(
            ids.into_iter().map(Into::into).collect(),
        )))
    }

    fn judge(&self, client_id: &str) -> Step {
        let admitted = match &self.0 {
            PreRegistered::None => false,
            PreRegistered::All => true,
            PreRegistered::Only(ids) => ids.contains(client_id),
        };
        if admitted {
            Step::Admit(Admission::PreRegistered(client_id.to_owned()))
        } else if matches!(self.0, PreRegistered::None) {
            Step::Deny(AuthError::access_denied(
                "client_not_admitted",
                "this server admits only clients identified by a Client ID Metadata Document URL",
            ))
        } else {
            Step::Deny(AuthError::access_denied(
                "client_not_admitted",
                "this client is not among the pre-registered clients this server admits",
            ))
        }
    }
}

/// What a [registry policy](ClientPolicy::registry) does with an approved client whose document
/// changed in a way that matters (its [digest](ClientInfo::digest) differs from the approved one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangedDocument {
    /// Refuse the client (403) until an operator approves the new document.
    #[default]
    Refuse,
    /// Admit it, with [`ClientWarning::ChangedSinceApproval`] in its [`ClientInfo`] and a
    /// warning in the log.
    Warn,
}
