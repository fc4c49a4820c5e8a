//! Where an issuer keeps roles, groups and permissions in its tokens.

use std::collections::{BTreeSet, HashMap};

use mcp_auth_core::Principal;
use serde::Deserialize;

/// The claims that carry an issuer's roles, groups and permissions, each a list of claim paths
/// (see [`mcp_auth_core::claim_strings`]: JSON pointers such as `/realm_access/roles`, claim
/// names, or dotted paths). The roles a verification profile already mapped
/// ([`Principal::roles`]) are always roles too.
///
/// ```
/// use mcp_auth_policy::ClaimMap;
///
/// let keycloak = ClaimMap::keycloak("notes-mcp");
/// let custom = ClaimMap::new().roles(["/app_metadata/roles"]).groups(["teams"]);
/// # let _ = (keycloak, custom);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimMap {
    /// Claim paths holding roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Claim paths holding groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Claim paths holding permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// What a caller is, as policies see it.
#[cfg_attr(not(feature = "cedar"), allow(dead_code))]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Memberships {
    pub(crate) roles: BTreeSet<String>,
    pub(crate) groups: BTreeSet<String>,
    pub(crate) permissions: BTreeSet<String>,
}

#[cfg_attr(not(feature = "cedar"), allow(dead_code))]
/// At most this many values per kind, each at most this long: claims come from tokens.
const MAX_VALUES: usize = 256;
#[cfg_attr(not(feature = "cedar"), allow(dead_code))]
const MAX_VALUE_BYTES: usize = 256;

impl ClaimMap {
    /// No claim beyond the profile's roles.
    pub fn new() -> Self {
        Self::default()
    }

    /// Claims of a generic issuer: `roles`, `groups` and `permissions`, when present.
    pub fn generic() -> Self {
        Self::new()
            .roles(["roles"])
            .groups(["groups"])
            .permissions(["permissions"])
    }

    /// Auth0: RBAC `permissions`, and roles in a namespaced custom claim added by an Action
    /// (e.g. `https://notes.example.com/roles`).
    pub fn auth0(roles_claim: &str) -> Self {
        Self::new()
            .roles([roles_claim])
            .permissions(["permissions"])
    }

    /// Microsoft Entra ID: app `roles` and `groups` (object ids).
    pub fn entra() -> Self {
        Self::new().roles(["roles"]).groups(["groups"])
    }

    /// Okta: `groups` (with a groups claim configured on the authorization server).
    pub fn okta() -> Self {
        Self::new().groups(["groups"])
    }

    /// Keycloak: realm roles and the roles of `client` (`resource_access.<client>.roles`).
    pub fn keycloak(client: &str) -> Self {
        let client = client.replace('~', "~0").replace('/', "~1");
        Self::new().roles([
            "/realm_access/roles".to_owned(),
            format!("/resource_access/{client}/roles"),
        ])
    }

    /// Amazon Cognito: `cognito:groups`.
    pub fn cognito() -> Self {
        Self::new().groups(["cognito:groups"])
    }

    /// Adds claim paths holding roles.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, paths: I) -> Self {
        self.roles.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Adds claim paths holding groups.
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, paths: I) -> Self {
        self.groups.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Adds claim paths holding permissions.
    pub fn permissions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, paths: I) -> Self {
        self.permissions.extend(paths.into_iter().map(Into::into));
        self
    }

    #[cfg_attr(not(feature = "cedar"), allow(dead_code))]
    pub(crate) fn read(&self, principal: &Principal) -> Memberships {
        let collect = |paths: &[String], start: BTreeSet<String>| {
            let mut found = start;
            for value in paths.iter().flat_map(|p| principal.claim_strings(p)) {
                if found.len() == MAX_VALUES {
                    break;
                }
                if value.len() <= MAX_VALUE_BYTES {
                    found.insert(value.to_owned());
                }
            }
            found
        };
        let profile_roles = principal.roles().iter().take(MAX_VALUES).cloned().collect();
        Memberships {
            roles: collect(&self.roles, profile_roles),
            groups: collect(&self.groups, BTreeSet::new()),
            permissions: collect(&self.permissions, BTreeSet::new()),
        }
    }
}

/// The claim map of each issuer, and the one for issuers not named.
#[cfg_attr(not(feature = "cedar"), allow(dead_code))]
#[derive(Clone, Debug, Default)]
pub(crate) struct ClaimMaps {
    by_issuer: HashMap<String, ClaimMap>,
    default: ClaimMap,
}

#[cfg_attr(not(feature = "cedar"), allow(dead_code))]
impl ClaimMaps {
    pub(crate) fn new(default: ClaimMap) -> Self {
        Self {
            by_issuer: HashMap::new(),
            default,
        }
    }

    pub(crate) fn insert(&mut self, issuer: String, map: ClaimMap) {
        self.by_issuer.insert(issuer, map);
    }

    pub(crate) fn read(&self, principal: &Principal) -> Memberships {
        self.by_issuer
            .get(principal.issuer())
            .unwrap_or(&self.default)
            .read(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_auth_core::BearerToken;
    use serde_json::json;

    fn principal(claims: serde_json::Value) -> Principal {
        Principal::builder("https://idp", "alice", BearerToken::new("t"))
            .roles(vec!["from-profile".into()])
            .claims(claims.as_object().unwrap().clone())
            .build()
    }

    #[test]
    fn vendor_maps_find_their_claims() {
        let keycloak = principal(json!({
            "realm_access": {"roles": ["manager"]},
            "resource_access": {"notes-mcp": {"roles": ["editor"]}, "other": {"roles": ["x"]}},
        }));
        let m = ClaimMap::keycloak("notes-mcp").read(&keycloak);
        assert_eq!(
            m.roles.into_iter().collect::<Vec<_>>(),
            ["editor", "from-profile", "manager"]
        );

        let auth0 = principal(json!({
            "permissions": ["read:expenses"],
            "https://notes.example.com/roles": ["cfo"],
        }));
        let m = ClaimMap::auth0("https://notes.example.com/roles").read(&auth0);
        assert!(m.roles.contains("cfo"));
        assert!(m.permissions.contains("read:expenses"));

        let cognito = principal(json!({"cognito:groups": ["finance"]}));
        assert!(
            ClaimMap::cognito()
                .read(&cognito)
                .groups
                .contains("finance")
        );
        let entra = principal(json!({"roles": ["Expenses.Approve"], "groups": ["g-1"]}));
        let m = ClaimMap::entra().read(&entra);
        assert!(m.roles.contains("Expenses.Approve") && m.groups.contains("g-1"));
    }

    #[test]
    fn claims_are_bounded() {
        let many: Vec<String> = (0..1000).map(|i| format!("r{i}")).collect();
        let long = "x".repeat(1000);
        let p = principal(json!({"roles": many, "groups": [long]}));
        let m = ClaimMap::generic().read(&p);
        assert_eq!(m.roles.len(), MAX_VALUES);
        assert!(m.groups.is_empty());
    }
}
