//! The `[policy]` table of the configuration file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{CedarAuthorizer, CedarPolicies, ClaimMap, PolicyError};

/// `[policy]`: Cedar policy files, the schema fragment declaring the tools' arguments, and
/// where each issuer keeps roles, groups and permissions.
///
/// ```
/// let entry: mcp_auth_policy::PolicyEntry = toml::from_str(r#"
///     files = ["policies/expenses.cedar"]
///     schema = "policies/expenses.cedarschema"
///
///     [[claims]]
///     issuer = "https://sso.example.com/realms/acme"
///     preset = "keycloak"
///     client = "notes-mcp"
/// "#).unwrap();
/// assert_eq!(entry.files.len(), 1);
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyEntry {
    /// `.cedar` files (relative paths are read from the configuration file's directory).
    pub files: Vec<PathBuf>,
    /// A Cedar schema fragment: `namespace Mcp { type Arguments = { … }; }`.
    #[serde(default)]
    pub schema: Option<PathBuf>,
    /// The largest `arguments` a call may carry, in bytes (default 65536).
    #[serde(default)]
    pub max_argument_bytes: Option<usize>,
    /// Claim maps per issuer (issuers not listed: `roles`, `groups`, `permissions`).
    #[serde(default)]
    pub claims: Vec<ClaimsEntry>,
}

/// Where one issuer keeps roles, groups and permissions.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimsEntry {
    /// The issuer, exactly as in `[[issuers]]`.
    pub issuer: String,
    /// A vendor's usual claims; `roles`, `groups` and `permissions` below add to it.
    #[serde(default)]
    pub preset: Option<Preset>,
    /// Keycloak: the client whose roles count (`resource_access.<client>.roles`).
    #[serde(default)]
    pub client: Option<String>,
    /// Auth0: the namespaced claim an Action puts roles in.
    #[serde(default)]
    pub roles_claim: Option<String>,
    /// More claim paths holding roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// More claim paths holding groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// More claim paths holding permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// A vendor's usual claims (see [`ClaimMap`]'s constructors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Preset {
    /// `roles`, `groups`, `permissions`.
    Generic,
    /// `permissions` and `roles_claim`.
    Auth0,
    /// `roles`, `groups`.
    Entra,
    /// `groups`.
    Okta,
    /// Realm roles and `client`'s roles.
    Keycloak,
    /// `cognito:groups`.
    Cognito,
}

impl ClaimsEntry {
    fn into_map(self) -> Result<ClaimMap, PolicyError> {
        let context = format!("policy.claims (issuer `{}`)", self.issuer);
        let map = match self.preset {
            None => ClaimMap::new(),
            Some(Preset::Generic) => ClaimMap::generic(),
            Some(Preset::Auth0) => match &self.roles_claim {
                Some(claim) => ClaimMap::auth0(claim),
                None => ClaimMap::new().permissions(["permissions"]),
            },
            Some(Preset::Entra) => ClaimMap::entra(),
            Some(Preset::Okta) => ClaimMap::okta(),
            Some(Preset::Keycloak) => match &self.client {
                Some(client) => ClaimMap::keycloak(client),
                None => {
                    return Err(PolicyError::one(
                        &context,
                        "preset `keycloak` needs `client`, the client whose roles count",
                    ));
                }
            },
            Some(Preset::Cognito) => ClaimMap::cognito(),
        };
        Ok(map
            .roles(self.roles)
            .groups(self.groups)
            .permissions(self.permissions))
    }
}

impl PolicyEntry {
    /// Loads and validates the policies (paths relative to `base`), with the claim maps.
    ///
    /// # Errors
    /// Files that cannot be read, parse or validate; a preset missing its setting.
    pub fn into_authorizer(self, base: &Path) -> Result<CedarAuthorizer, PolicyError> {
        if self.files.is_empty() {
            return Err(PolicyError::one(
                "policy.files",
                "name at least one .cedar file (with no policy every call is refused)",
            ));
        }
        let mut policies = CedarPolicies::builder();
        for file in &self.files {
            policies = policies.file(base.join(file));
        }
        if let Some(schema) = &self.schema {
            policies = policies.schema_file(base.join(schema));
        }
        let mut authorizer = CedarAuthorizer::new(policies.build()?);
        for entry in self.claims {
            let issuer = entry.issuer.clone();
            authorizer = authorizer.claims_for(issuer, entry.into_map()?);
        }
        Ok(authorizer)
    }
}
