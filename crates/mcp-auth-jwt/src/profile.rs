//! Identity-provider profiles: what each vendor's access tokens look like, as settings of one
//! [`IssuerConfig`].
//!
//! A profile sets only what its vendor documents: the `typ` policy, the required claims, where
//! the client id and roles live, the claim that tells access tokens from ID tokens. It never
//! looks at the issuer's host name (custom domains and proxies are common), and it never
//! widens the audience: accepted audiences are configured explicitly, per issuer.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::config::{IssuerConfig, RequiredClaims, Tenants, TypPolicy};

/// An identity provider's token shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Profile {
    /// RFC 9068 as written: `typ` `at+jwt`, `client_id`, `iat` and `jti` required. The default.
    #[default]
    Rfc9068,
    /// Auth0, either token profile: the default one (`typ` `JWT`, client in `azp`) or RFC 9068.
    /// Roles from `permissions` (RBAC).
    Auth0,
    /// Microsoft Entra ID, v2.0 tokens (`ver` `2.0`, client in `azp`, scopes in `scp`). Roles
    /// from `roles` and `groups`.
    Entra,
    /// Microsoft Entra ID, v1.0 tokens (`ver` `1.0`, issuer `https://sts.windows.net/{tid}/`,
    /// client in `appid`).
    EntraV1,
    /// Okta custom authorization servers: no `typ`, client in `cid`, scopes in an `scp` array.
    /// Roles from `groups`.
    Okta,
    /// Keycloak: `typ` `JWT` (or `at+jwt` since 26.2), payload `typ` `Bearer`, client in
    /// `azp`. Roles from `realm_access.roles`.
    Keycloak,
    /// Amazon Cognito: no `typ`, no `aud`, `token_use` `access`, client in `client_id`. Roles
    /// from `cognito:groups`. Needs a client-id allow list.
    Cognito,
}

impl Profile {
    /// Every profile, in the order the documentation lists them.
    pub const ALL: [Profile; 7] = [
        Self::Rfc9068,
        Self::Auth0,
        Self::Entra,
        Self::EntraV1,
        Self::Okta,
        Self::Keycloak,
        Self::Cognito,
    ];

    /// The name used in configuration files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rfc9068 => "rfc9068",
            Self::Auth0 => "auth0",
            Self::Entra => "entra",
            Self::EntraV1 => "entra-v1",
            Self::Okta => "okta",
            Self::Keycloak => "keycloak",
            Self::Cognito => "cognito",
        }
    }

    /// The claims that name the client, in the order tried.
    pub fn client_id_claims(self) -> &'static [&'static str] {
        match self {
            Self::Rfc9068 | Self::Auth0 => &["client_id", "azp"],
            Self::Entra | Self::Keycloak => &["azp"],
            Self::EntraV1 => &["appid"],
            Self::Okta => &["cid"],
            Self::Cognito => &["client_id"],
        }
    }

    /// Whether a token of this shape acts for its client itself (client credentials), not for a
    /// user. Every provider's rule includes RFC 9068's (`sub` is the client id) and believes a
    /// token that says `gty: client-credentials`; some write
    /// another subject into such tokens and are recognised by what they do write: Auth0
    /// `gty: client-credentials` (subject `<client>@clients`), Entra `idtyp: app` or a token
    /// without `scp` whose `sub` is its `oid` (the service principal), Keycloak a
    /// `preferred_username` of `service-account-<client>`.
    pub fn acts_for_itself(
        self,
        claims: &serde_json::Map<String, serde_json::Value>,
        subject: &str,
        client_id: Option<&str>,
    ) -> bool {
        let text = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
        // A token that says it came from the client-credentials grant is believed whatever the
        // profile: counting it as a machine only ever grants less.
        if client_id == Some(subject) || text("gty") == Some("client-credentials") {
            return true;
        }
        match self {
            Self::Auth0 => client_id.is_some_and(|c| subject.strip_suffix("@clients") == Some(c)),
            Self::Entra | Self::EntraV1 => {
                text("idtyp") == Some("app")
                    || (!claims.contains_key("scp") && text("oid") == Some(subject))
            }
            Self::Keycloak => text("preferred_username").is_some_and(|user| {
                user.strip_prefix("service-account-")
                    .is_some_and(|rest| client_id.is_none_or(|c| rest.eq_ignore_ascii_case(c)))
            }),
            Self::Rfc9068 | Self::Okta | Self::Cognito => false,
        }
    }

    fn apply(self, config: IssuerConfig) -> IssuerConfig {
        let client = self.client_id_claims();
        let config = config.client_id_claims(client);
        match self {
            Self::Rfc9068 => config
                .typ(TypPolicy::AccessToken)
                .required_claims(RequiredClaims::rfc9068()),
            Self::Auth0 => config
                .typ(TypPolicy::Lenient)
                .required_claims(RequiredClaims::minimal())
                .role_claims(&["permissions"]),
            Self::Entra => config
                .typ(TypPolicy::Lenient)
                .required_claims(RequiredClaims::custom(["sub", "azp"]))
                .require_claim_value("ver", "2.0")
                .role_claims(&["roles", "groups"]),
            Self::EntraV1 => config
                .typ(TypPolicy::Lenient)
                .required_claims(RequiredClaims::custom(["sub", "appid"]))
                .require_claim_value("ver", "1.0")
                .role_claims(&["roles", "groups"]),
            Self::Okta => config
                .typ(TypPolicy::Lenient)
                .required_claims(RequiredClaims::custom(["sub", "cid"]))
                .role_claims(&["groups"]),
            Self::Keycloak => config
                .typ(TypPolicy::Lenient)
                .required_claims(RequiredClaims::custom(["sub", "azp"]))
                .require_claim_value("typ", "Bearer")
                .role_claims(&["realm_access.roles"]),
            Self::Cognito => config
                .typ(TypPolicy::Lenient)
                .required_claims(RequiredClaims::custom(["sub", "client_id"]))
                .require_claim_value("token_use", "access")
                .accept_missing_audience()
                .role_claims(&["cognito:groups"]),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown profile name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown identity provider `{0}`; expected one of rfc9068, auth0, entra, entra-v1, okta, keycloak, cognito"
)]
pub struct UnknownProfile(String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProfile(mcp_auth_core::untrusted_text(s, 40)))
    }
}

/// The path segments of Microsoft's shared endpoints, replaced by the tenant placeholder to
/// form the multi-tenant issuer template.
const SHARED_TENANT_SEGMENTS: [&str; 3] = ["common", "organizations", "consumers"];

/// The placeholder a multi-tenant issuer template holds.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

impl IssuerConfig {
    /// Applies an identity provider's profile (replacing the `typ` policy, the required claims,
    /// the client-id and role claims, and adding the profile's claim checks).
    pub fn profile(self, profile: Profile) -> Self {
        let mut config = profile.apply(self);
        config.profile = profile;
        config
    }

    /// Auth0: the issuer `https://DOMAIN/` (a custom domain works the same), by discovery.
    /// Add the API identifier with [`IssuerConfig::audience`] unless it is this server's URL.
    pub fn auth0(domain: &str) -> Self {
        let host = domain.trim_start_matches("https://").trim_end_matches('/');
        Self::discover(&format!("https://{host}/")).profile(Profile::Auth0)
    }

    /// Microsoft Entra ID, v2.0 tokens of one tenant: the issuer
    /// `https://login.microsoftonline.com/TENANT/v2.0`. Entra v2 tokens carry the API's
    /// application id as `aud`: add it with [`IssuerConfig::audience`].
    pub fn entra(tenant: &str) -> Self {
        Self::discover(&format!("https://login.microsoftonline.com/{tenant}/v2.0"))
            .profile(Profile::Entra)
    }

    /// Microsoft Entra ID, v1.0 tokens of one tenant: the issuer
    /// `https://sts.windows.net/TENANT/`, metadata from `login.microsoftonline.com`. Add the
    /// App ID URI (`api://…`) with [`IssuerConfig::audience`].
    pub fn entra_v1(tenant: &str) -> Self {
        Self::discover(&format!("https://sts.windows.net/{tenant}/"))
            .metadata_from(format!("https://login.microsoftonline.com/{tenant}"))
            .profile(Profile::EntraV1)
    }

    /// Microsoft Entra ID for several tenants (v2.0 tokens): metadata from the `organizations`
    /// endpoint, whose `issuer` is the template
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`; each token's `iss` must be that
    /// template filled with its own `tid`, and the tenant must be admitted.
    pub fn entra_multi_tenant(tenants: Tenants) -> Self {
        Self::multi_tenant(
            "https://login.microsoftonline.com/organizations/v2.0",
            tenants,
        )
        .profile(Profile::Entra)
    }

    /// A multi-tenant issuer whose metadata is published under `shared_endpoint`: the issuer
    /// template is `shared_endpoint` with its `common`, `organizations` or `consumers` path
    /// segment replaced by `{tenantid}` (or `shared_endpoint` itself when it already holds the
    /// placeholder). Keys come from the shared JWKS; a key's own `issuer` member, where the
    /// provider publishes one, is honoured.
    pub fn multi_tenant(shared_endpoint: &str, tenants: Tenants) -> Self {
        let template = issuer_template(shared_endpoint);
        Self::discover(&template)
            .metadata_from(shared_endpoint.to_owned())
            .tenants(tenants)
    }

    /// Okta custom authorization server `AUTHORIZATION_SERVER` (often `default`) of the org at
    /// `ORG_URL`: the issuer `ORG_URL/oauth2/AUTHORIZATION_SERVER`. Okta's audience is the
    /// authorization server's (`api://default` for the default one): add it with
    /// [`IssuerConfig::audience`], or give the server your MCP URL as its audience.
    pub fn okta(org_url: &str, authorization_server: &str) -> Self {
        let org = org_url.trim_end_matches('/');
        Self::discover(&format!("{org}/oauth2/{authorization_server}")).profile(Profile::Okta)
    }

    /// Keycloak realm `REALM` at `BASE_URL`: the issuer `BASE_URL/realms/REALM`. Keycloak puts
    /// this server in `aud` only with an audience mapper on the client scope; without one,
    /// tokens are refused for their audience.
    pub fn keycloak(base_url: &str, realm: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        Self::discover(&format!("{base}/realms/{realm}")).profile(Profile::Keycloak)
    }

    /// Amazon Cognito user pool `USER_POOL_ID` in `REGION`: the issuer
    /// `https://cognito-idp.REGION.amazonaws.com/USER_POOL_ID`. Cognito access tokens carry no
    /// `aud`; they are bound to the app clients listed with [`IssuerConfig::client_ids`]
    /// (required) and to `token_use` = `access`.
    pub fn cognito(region: &str, user_pool_id: &str) -> Self {
        Self::discover(&format!(
            "https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        ))
        .profile(Profile::Cognito)
    }
}

/// The multi-tenant issuer template for a shared endpoint.
fn issuer_template(shared_endpoint: &str) -> String {
    if shared_endpoint.contains(TENANT_PLACEHOLDER) {
        return shared_endpoint.to_owned();
    }
    let Some(scheme_end) = shared_endpoint.find("://").map(|i| i + 3) else {
        return shared_endpoint.to_owned();
    };
    let (origin, path) = match shared_endpoint[scheme_end..].find('/') {
        Some(slash) => shared_endpoint.split_at(scheme_end + slash),
        None => return shared_endpoint.to_owned(),
    };
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| {
            if SHARED_TENANT_SEGMENTS.contains(&segment) {
                TENANT_PLACEHOLDER
            } else {
                segment
            }
        })
        .collect();
    format!("{origin}{}", segments.join("/"))
}

/// A multi-tenant issuer template split around its placeholder.
#[derive(Clone, Debug)]
pub(crate) struct IssuerTemplate {
    prefix: String,
    suffix: String,
}

impl IssuerTemplate {
    /// The template in `issuer`, if it holds exactly one placeholder.
    pub(crate) fn parse(issuer: &str) -> Option<Self> {
        let (prefix, suffix) = issuer.split_once(TENANT_PLACEHOLDER)?;
        if suffix.contains(TENANT_PLACEHOLDER) {
            return None;
        }
        Some(Self {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The tenant an `iss` names, if it has the template's shape. Tenant ids are GUIDs or
    /// names: ASCII letters, digits, `-`, `.` and `_`, never a path.
    pub(crate) fn tenant_of<'a>(&self, iss: &'a str) -> Option<&'a str> {
        let tenant = iss.strip_prefix(&self.prefix)?.strip_suffix(&self.suffix)?;
        let valid = !tenant.is_empty()
            && tenant.len() <= 128
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        valid.then_some(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vendor_constructors_name_the_documented_issuers() {
        let cases = [
            (
                IssuerConfig::auth0("tenant.eu.auth0.com"),
                "https://tenant.eu.auth0.com/",
            ),
            (
                IssuerConfig::auth0("https://login.example.com/"),
                "https://login.example.com/",
            ),
            (
                IssuerConfig::entra("7f3c0ec6-0000-4000-8000-000000000001"),
                "https://login.microsoftonline.com/7f3c0ec6-0000-4000-8000-000000000001/v2.0",
            ),
            (IssuerConfig::entra_v1("t1"), "https://sts.windows.net/t1/"),
            (
                IssuerConfig::okta("https://example.okta.com/", "default"),
                "https://example.okta.com/oauth2/default",
            ),
            (
                IssuerConfig::keycloak("https://sso.example.com", "mcp"),
                "https://sso.example.com/realms/mcp",
            ),
            (
                IssuerConfig::cognito("eu-west-1", "eu-west-1_AbC123"),
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
            ),
            (
                IssuerConfig::entra_multi_tenant(Tenants::Any),
                "https://login.microsoftonline.com/{tenantid}/v2.0",
            ),
        ];
        for (config, issuer) in cases {
            assert_eq!(config.issuer(), issuer);
        }
        assert_eq!(
            IssuerConfig::entra_v1("t1").metadata_base.as_deref(),
            Some("https://login.microsoftonline.com/t1")
        );
    }

    #[test]
    fn templates_come_from_the_shared_endpoints() {
        for (endpoint, template) in [
            (
                "https://login.microsoftonline.com/organizations/v2.0",
                "https://login.microsoftonline.com/{tenantid}/v2.0",
            ),
            (
                "http://127.0.0.1:9/common/v2.0",
                "http://127.0.0.1:9/{tenantid}/v2.0",
            ),
            (
                "https://x.example/{tenantid}/",
                "https://x.example/{tenantid}/",
            ),
            (
                "https://x.example/tenant/v2.0",
                "https://x.example/tenant/v2.0",
            ),
        ] {
            assert_eq!(issuer_template(endpoint), template);
        }
    }

    #[test]
    fn a_template_matches_only_a_tenant_shaped_segment() {
        let t = IssuerTemplate::parse("https://login.example/{tenantid}/v2.0").unwrap();
        assert_eq!(
            t.tenant_of("https://login.example/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"),
            Some("9188040d-6c67-4c5b-b112-36a304b66dad")
        );
        for iss in [
            "https://login.example//v2.0",
            "https://login.example/a/b/v2.0",
            "https://login.example/a?/v2.0",
            "https://login.example/a/v1.0",
            "https://other.example/a/v2.0",
        ] {
            assert_eq!(t.tenant_of(iss), None, "{iss}");
        }
        assert!(IssuerTemplate::parse("https://x/{tenantid}/{tenantid}").is_none());
        assert!(IssuerTemplate::parse("https://x/plain").is_none());
    }

    #[test]
    fn client_credentials_tokens_are_recognised_per_provider() {
        let claims = |v: serde_json::Value| v.as_object().unwrap().clone();
        let cases = [
            // (profile, claims, sub, client, acts for itself)
            (Profile::Rfc9068, json!({}), "svc", Some("svc"), true),
            (Profile::Rfc9068, json!({}), "alice", Some("svc"), false),
            (
                Profile::Auth0,
                json!({"gty": "client-credentials"}),
                "abc@clients",
                Some("abc"),
                true,
            ),
            (Profile::Auth0, json!({}), "abc@clients", Some("abc"), true),
            (Profile::Auth0, json!({}), "auth0|alice", Some("abc"), false),
            (
                Profile::Entra,
                json!({"idtyp": "app"}),
                "sp-oid",
                Some("app-id"),
                true,
            ),
            (
                Profile::Entra,
                json!({"oid": "sp-oid", "roles": ["Read"]}),
                "sp-oid",
                Some("app-id"),
                true,
            ),
            (
                Profile::Entra,
                json!({"oid": "user-oid", "scp": "read"}),
                "pairwise",
                Some("app-id"),
                false,
            ),
            (
                Profile::Entra,
                json!({"oid": "x", "scp": "read"}),
                "x",
                Some("app-id"),
                false,
            ),
            (
                Profile::Keycloak,
                json!({"preferred_username": "service-account-svc"}),
                "uuid",
                Some("svc"),
                true,
            ),
            (
                Profile::Keycloak,
                json!({"preferred_username": "service-account-other"}),
                "uuid",
                Some("svc"),
                false,
            ),
            (
                Profile::Keycloak,
                json!({"preferred_username": "alice"}),
                "uuid",
                Some("svc"),
                false,
            ),
            (Profile::Okta, json!({}), "svc", Some("svc"), true),
            (
                Profile::Okta,
                json!({"gty": "client-credentials"}),
                "alice@x",
                Some("svc"),
                true,
            ),
            (
                Profile::Okta,
                json!({"gty": "password"}),
                "alice@x",
                Some("svc"),
                false,
            ),
        ];
        for (profile, c, sub, client, want) in cases {
            assert_eq!(
                profile.acts_for_itself(&claims(c.clone()), sub, client),
                want,
                "{profile} {c} sub={sub}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for p in Profile::ALL {
            assert_eq!(p.name().parse::<Profile>().unwrap(), p);
        }
        let err = "okta2".parse::<Profile>().unwrap_err().to_string();
        assert!(err.contains("okta2") && err.contains("entra-v1"), "{err}");
    }
}
