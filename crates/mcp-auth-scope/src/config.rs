//! The policy as configuration: the `[scopes]` table of the facade's file, through serde.

use std::collections::BTreeMap;

use serde::Deserialize;

#[cfg(doc)]
use crate::ScopePolicyBuilder;
use crate::requirement::RequirementConfig;
use crate::{PolicyError, Requirement, ScopeHierarchy, ScopePolicy, Undeclared};

/// A scope policy as written in configuration. Every key is optional.
///
/// ```
/// use mcp_auth_scope::ScopeConfig;
///
/// let config: ScopeConfig = toml::from_str(r#"
///     required = ["mcp:read"]
///     hierarchy = { "mcp:admin" = ["mcp:write"], "mcp:write" = ["mcp:read"] }
///     users_only = ["clear_notes"]
///
///     [tools]
///     whoami = []
///     add_note = ["mcp:write"]
///     clear_notes = { any_of = [["mcp:admin"], ["notes:owner", "mcp:write"]] }
///     "admin_*" = "mcp:admin"
///
///     [resources]
///     "file:///notes/{id}" = ["mcp:read"]
/// "#).unwrap();
/// let policy = config.into_policy().unwrap();
/// assert!(policy.tool_requirement("whoami").is_some());
/// assert!(policy.tool_requirement("undeclared").is_none());
/// assert!(policy.is_users_only("clear_notes"));
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    #[serde(default)]
    required: Option<RequirementConfig>,
    #[serde(default)]
    methods: BTreeMap<String, RequirementConfig>,
    #[serde(default)]
    tools: BTreeMap<String, RequirementConfig>,
    #[serde(default)]
    resources: BTreeMap<String, RequirementConfig>,
    #[serde(default)]
    prompts: BTreeMap<String, RequirementConfig>,
    #[serde(default)]
    undeclared: Option<UndeclaredConfig>,
    #[serde(default)]
    client_messages: Option<RequirementConfig>,
    #[serde(default)]
    hierarchy: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    filter_lists: Option<bool>,
    /// Tools (names or globs) that act for a user: see [`ScopePolicyBuilder::users_only`].
    #[serde(default)]
    users_only: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum UndeclaredConfig {
    Word(String),
    Require { require: RequirementConfig },
}

impl ScopeConfig {
    /// Validates and builds the policy. Errors name the key (`scopes.tools.add_note`) and the fix.
    ///
    /// # Errors
    /// An invalid scope token, URI template, hierarchy cycle, or `undeclared` value.
    pub fn into_policy(self) -> Result<ScopePolicy, PolicyError> {
        let mut builder = ScopePolicy::builder();
        if let Some(required) = &self.required {
            builder = builder.required(required.resolve("scopes.required")?);
        }
        for (method, req) in &self.methods {
            builder = builder.method(
                method,
                req.resolve(&format!("scopes.methods.\"{method}\""))?,
            );
        }
        for (tool, req) in &self.tools {
            builder = builder.tool(tool, req.resolve(&format!("scopes.tools.{tool}"))?);
        }
        for (resource, req) in &self.resources {
            builder = builder.resource(
                resource,
                req.resolve(&format!("scopes.resources.\"{resource}\""))?,
            );
        }
        for (prompt, req) in &self.prompts {
            builder = builder.prompt(prompt, req.resolve(&format!("scopes.prompts.{prompt}"))?);
        }
        match &self.undeclared {
            None => {}
            Some(UndeclaredConfig::Word(w)) if w == "deny" => {
                builder = builder.undeclared(Undeclared::Deny)
            }
            Some(UndeclaredConfig::Word(w)) => {
                return Err(PolicyError::new(
                    "scopes.undeclared",
                    format!(
                        "`{w}` is not a choice: use \"deny\" or {{ require = [\"scope\", ...] }}"
                    ),
                ));
            }
            Some(UndeclaredConfig::Require { require }) => {
                builder = builder.undeclared(Undeclared::Require(
                    require.resolve("scopes.undeclared.require")?,
                ));
            }
        }
        if let Some(req) = &self.client_messages {
            builder = builder.client_messages(req.resolve("scopes.client_messages")?);
        }
        if !self.hierarchy.is_empty() {
            builder = builder.hierarchy(ScopeHierarchy::new(self.hierarchy.clone())?);
        }
        if let Some(filter) = self.filter_lists {
            builder = builder.filter_lists(filter);
        }
        for tool in &self.users_only {
            builder = builder.users_only(tool);
        }
        builder.build()
    }
}

impl Requirement {
    /// Parses a requirement the way configuration writes it (for tests and tools).
    ///
    /// # Errors
    /// An invalid scope token.
    pub fn from_config_value(value: &serde_json::Value, key: &str) -> Result<Self, PolicyError> {
        let config: RequirementConfig = serde_json::from_value(value.clone()).map_err(|_| {
            PolicyError::new(
                key,
                "expected a list of scopes, a string, or { any_of = [[...], ...] }",
            )
        })?;
        config.resolve(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ScopePolicy, String> {
        let config: ScopeConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        config.into_policy().map_err(|e| e.to_string())
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let cases = [
            (
                "[tools]\nadd = [\"bad scope\"]",
                "scopes.tools.add: `bad scope` is not a valid scope",
            ),
            (
                "undeclared = \"allow\"",
                "scopes.undeclared: `allow` is not a choice",
            ),
            ("[resources]\n\"file:///{id\" = []", "unclosed `{`"),
            ("hierarchy = { a = [\"b\"], b = [\"a\"] }", "cycle"),
            (
                "[tools]\nx = { any_of = [] }",
                "needs at least one alternative",
            ),
            ("requried = []", "unknown field `requried`"),
            ("[tools]\nx = 5", "did not match any variant"),
        ];
        for (text, expected) in cases {
            let err = load(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn all_forms_of_requirement() {
        let policy = load(
            "undeclared = { require = [\"mcp:admin\"] }\n[tools]\na = \"x y\"\nb = [\"x\"]\nc = { any_of = [[\"x\"], [\"y\", \"z\"]] }\nd = []",
        )
        .unwrap();
        assert_eq!(policy.tool_requirement("a").unwrap().to_string(), "x y");
        assert_eq!(policy.tool_requirement("b").unwrap().to_string(), "x");
        assert_eq!(policy.tool_requirement("c").unwrap().to_string(), "x | y z");
        assert!(policy.tool_requirement("d").unwrap().is_none());
        assert_eq!(
            policy.tool_requirement("other").unwrap().to_string(),
            "mcp:admin"
        );
    }
}
