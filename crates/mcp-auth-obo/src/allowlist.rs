//! Which downstream APIs a server may reach by exchange, per tool.

use std::collections::HashMap;

use mcp_auth_core::Scopes;
use serde::Deserialize;

use crate::ExchangeRequest;

/// The downstream resources (or audiences) and scopes each tool may obtain tokens for. An
/// exchange outside it is refused before the authorization server is contacted
/// ([`ExchangeError::NotAllowed`](crate::ExchangeError::NotAllowed), 403 when the handler
/// denies with it).
///
/// The tool is the one the request calls (a request calling several tools, or none, is
/// bound by the rules for every tool, `"*"`, alone).
///
/// ```
/// use mcp_auth_obo::ExchangeAllowlist;
///
/// let allowlist = ExchangeAllowlist::new()
///     .allow("call_calendar", "https://calendar.example.com", "calendar:read")
///     .allow("*", "https://directory.example.com", "directory:read");
/// # let _ = allowlist;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExchangeAllowlist {
    rules: HashMap<String, Vec<(String, Scopes)>>,
}

/// One rule of `[token_exchange] allow`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// The tool, or `"*"` for every tool.
    pub tool: String,
    /// The resource or audience it may ask for.
    pub target: String,
    /// The scopes it may ask for there (space-separated; empty: none).
    #[serde(default)]
    pub scopes: String,
}

impl ExchangeAllowlist {
    /// Allows nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets `tool` (or every tool, `"*"`) ask for tokens for `target` (a resource or an
    /// audience) with scopes among `scopes`.
    pub fn allow(mut self, tool: &str, target: &str, scopes: impl Into<Scopes>) -> Self {
        self.rules
            .entry(tool.to_owned())
            .or_default()
            .push((target.to_owned(), scopes.into()));
        self
    }

    /// The rules of `[token_exchange] allow`.
    pub fn from_entries(entries: &[AllowEntry]) -> Self {
        entries.iter().fold(Self::new(), |list, e| {
            list.allow(&e.tool, &e.target, Scopes::parse(&e.scopes))
        })
    }

    /// Whether `tool` may make `request`: every target it names (resource and audience) is
    /// allowed to it with every scope it asks for.
    pub fn permits(&self, tool: Option<&str>, request: &ExchangeRequest) -> bool {
        let rules = tool
            .and_then(|t| self.rules.get(t))
            .into_iter()
            .chain(self.rules.get("*"))
            .flatten();
        let targets: Vec<&str> = [request.resource.as_deref(), request.audience.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        !targets.is_empty()
            && targets.iter().all(|target| {
                rules.clone().any(|(allowed, scopes)| {
                    allowed == target && request.scope.iter().all(|s| scopes.contains(s))
                })
            })
    }
}
