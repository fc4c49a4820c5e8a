//! `[clients]`: client identity, as configuration.

use mcp_auth_core::ConfigValueError;
use serde::Deserialize;

use crate::{ChangedDocument, ClientAllowList, ClientPolicy, PreRegisteredClients, Registry};

/// `clients.policy`: which Client ID Metadata Document clients are admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientsPolicyEntry {
    /// `"any"`: every valid document.
    Any,
    /// `"allow_list"`: the clients in `urls` and `hosts`.
    AllowList,
    /// `"registry"`: clients approved with `mcp-auth clients approve`.
    Registry,
}

/// `clients.pre_registered`: `"none"`, `"all"`, or a list of client ids.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged, expecting = "\"none\", \"all\" or a list of client ids")]
pub enum PreRegisteredEntry {
    /// `"none"` or `"all"`.
    Choice(AllOrNone),
    /// These client ids only.
    Only(Vec<String>),
}

/// `"all"` or `"none"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllOrNone {
    /// Every one.
    All,
    /// None.
    None,
}

/// `clients.changed_document`: what happens to an approved client whose document changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangedDocumentEntry {
    /// Refused until approved again (the default).
    #[default]
    Refuse,
    /// Admitted, with a warning logged.
    Warn,
}

/// `[clients]`: client identity.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientsEntry {
    /// Which clients are admitted.
    pub policy: ClientsPolicyEntry,
    /// Exact client URLs, for `allow_list`.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Client hosts, for `allow_list` (`*.example.com` includes subdomains).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The registry file, for `registry`; `"redis"` for the registry in Redis (the facade's
    /// `[redis]` table), shared by replicas.
    #[serde(default)]
    pub registry: Option<String>,
    /// Pre-registered (non-URL) client ids: `"none"` (default), `"all"`, or a list.
    #[serde(default)]
    pub pre_registered: Option<PreRegisteredEntry>,
    /// A document that changed since approval: `"refuse"` (default) or `"warn"`.
    #[serde(default)]
    pub changed_document: ChangedDocumentEntry,
}

impl ClientsEntry {
    /// The admission policy.
    ///
    /// # Errors
    /// An allow list without entries, a registry without a path or that cannot be read.
    pub fn into_policy(self) -> Result<ClientPolicy, ConfigValueError> {
        self.into_policy_with(None)
    }

    /// The admission policy, with `shared` as the registry that `registry = "redis"` names (a
    /// [fed](Registry::fed) registry following a shared store).
    ///
    /// # Errors
    /// As [`ClientsEntry::into_policy`], and `registry = "redis"` without a shared registry.
    pub fn into_policy_with(
        self,
        shared: Option<Registry>,
    ) -> Result<ClientPolicy, ConfigValueError> {
        let entry = self;
        let policy = match entry.policy {
            ClientsPolicyEntry::Any => ClientPolicy::any_valid_document(),
            ClientsPolicyEntry::AllowList => {
                if entry.urls.is_empty() && entry.hosts.is_empty() {
                    return Err(ConfigValueError::new(
                        "clients.policy",
                        "\"allow_list\" needs `urls` or `hosts`",
                    ));
                }
                let mut list = ClientAllowList::new();
                for url in entry.urls {
                    list = list.url(url);
                }
                for host in entry.hosts {
                    list = match host.strip_prefix("*.") {
                        Some(base) => list.host_and_subdomains(base),
                        None => list.host(host),
                    };
                }
                ClientPolicy::allow_list(list)
            }
            ClientsPolicyEntry::Registry => {
                let path = entry.registry.ok_or_else(|| {
                    ConfigValueError::new(
                        "clients.registry",
                        "\"registry\" needs `registry = \"path/to/mcp-clients.json\"` (or \
                         `\"redis\"` with a [redis] table)",
                    )
                })?;
                let registry = match (path.as_str(), shared) {
                    ("redis", Some(shared)) => shared,
                    ("redis", None) => {
                        return Err(ConfigValueError::new(
                            "clients.registry",
                            "`registry = \"redis\"` needs a [redis] table with its `url`",
                        ));
                    }
                    (path, _) => Registry::open_or_empty(path)
                        .map_err(|e| ConfigValueError::new("clients.registry", e))?,
                };
                ClientPolicy::registry(registry)
            }
        };
        let policy = match entry.pre_registered {
            None => policy,
            Some(PreRegisteredEntry::Choice(AllOrNone::None)) => {
                policy.pre_registered(PreRegisteredClients::none())
            }
            Some(PreRegisteredEntry::Choice(AllOrNone::All)) => {
                policy.pre_registered(PreRegisteredClients::all())
            }
            Some(PreRegisteredEntry::Only(ids)) => {
                policy.pre_registered(PreRegisteredClients::only(ids))
            }
        };
        Ok(match entry.changed_document {
            ChangedDocumentEntry::Refuse => policy,
            ChangedDocumentEntry::Warn => policy.changed_document(ChangedDocument::Warn),
        })
    }
}
