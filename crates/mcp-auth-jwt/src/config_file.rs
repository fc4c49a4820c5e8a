//! One `[[issuers]]` entry, as configuration.

use std::time::Duration;

use mcp_auth_core::Algorithm;
use serde::Deserialize;

use mcp_auth_core::ConfigValueError;

use crate::{Introspection, IssuerConfig, Profile, RequiredClaims, Tenants, TypPolicy};

/// One `[[issuers]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerEntry {
    /// The issuer identifier, exactly as its tokens' `iss`; for a multi-tenant issuer (with
    /// `tenants`), the shared endpoint its metadata is published under
    /// (`https://login.microsoftonline.com/organizations/v2.0`).
    pub issuer: String,
    /// The identity provider's token shape: `"rfc9068"` (default), `"auth0"`, `"entra"`,
    /// `"entra-v1"`, `"okta"`, `"keycloak"` or `"cognito"`. The keys below override it.
    #[serde(default)]
    pub profile: Profile,
    /// The JWKS URL; without it, discovery finds it.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Where the metadata is published when not under the issuer identifier.
    #[serde(default)]
    pub metadata_from: Option<String>,
    /// Audience values accepted besides the resource identifier (`api://…`, an application
    /// id, `api://default`, an API identifier).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Tenants a multi-tenant issuer admits: a list of tenant ids, or `"any"`.
    #[serde(default)]
    pub tenants: Option<TenantsEntry>,
    /// OAuth clients admitted (required for tokens without `aud`, as Cognito's).
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// A prefix stripped from granted scopes (Cognito's resource-server id).
    #[serde(default)]
    pub scope_prefix: Option<String>,
    /// Claims holding roles, groups or permissions (dotted paths reach into objects);
    /// replaces the profile's.
    #[serde(default)]
    pub role_claims: Option<Vec<String>>,
    /// DPoP presentations of this issuer's tokens: `"allowed"` (default), `"required"` or
    /// `"disabled"`.
    #[serde(default)]
    pub dpop: Option<crate::DpopPolicy>,
    /// DPoP proofs must carry a current server nonce.
    #[serde(default)]
    pub require_dpop_nonce: bool,
    /// Opaque tokens of this issuer verified by introspection (RFC 7662).
    #[serde(default)]
    pub introspection: Option<IntrospectionEntry>,
    /// `"at+jwt"` or `"lenient"` (also `JWT` and no `typ`); the profile's by default.
    #[serde(default)]
    pub typ: Option<TypEntry>,
    /// `"rfc9068"` (default), `"minimal"`, or a list of claim names.
    #[serde(default)]
    pub required_claims: Option<RequiredClaimsEntry>,
    /// Accepted algorithms (default: every asymmetric one).
    #[serde(default)]
    pub algorithms: Option<Vec<Algorithm>>,
    /// Clock leeway in seconds (default 60, at most 300).
    #[serde(default)]
    pub leeway_seconds: Option<u64>,
}

/// `[issuers.introspection]`: this server's client at the issuer, for opaque tokens.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionEntry {
    /// This server's client id at the issuer.
    pub client_id: String,
    /// The name of the environment variable holding the client secret (never the secret).
    pub client_secret_env: String,
    /// `"client_secret_basic"` (default) or `"client_secret_post"`.
    #[serde(default)]
    pub auth_method: mcp_auth_fetch::ClientSecretMethod,
    /// The introspection endpoint; without it, the issuer's metadata names it.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Cache an answer at most this many seconds (default: until the token expires).
    #[serde(default)]
    pub cache_seconds: Option<u64>,
}

impl IntrospectionEntry {
    /// The introspection settings, with the secret read from its environment variable.
    ///
    /// # Errors
    /// The variable is not set.
    pub fn into_introspection(self) -> Result<Introspection, ConfigValueError> {
        let secret = std::env::var(&self.client_secret_env).map_err(|_| {
            ConfigValueError::new(
                "issuers.introspection.client_secret_env",
                format!(
                    "environment variable `{}` is not set",
                    self.client_secret_env
                ),
            )
        })?;
        let mut introspection = match self.auth_method {
            mcp_auth_fetch::ClientSecretMethod::ClientSecretBasic => {
                Introspection::client_secret_basic(&self.client_id, &secret)
            }
            mcp_auth_fetch::ClientSecretMethod::ClientSecretPost => {
                Introspection::client_secret_post(&self.client_id, &secret)
            }
        };
        if let Some(endpoint) = self.endpoint {
            introspection = introspection.endpoint(endpoint);
        }
        if let Some(secs) = self.cache_seconds {
            introspection = introspection.cache_for(Duration::from_secs(secs));
        }
        Ok(introspection)
    }
}

/// `issuers[].tenants`: an allow list, or every tenant.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged, expecting = "a list of tenant ids, or \"any\"")]
pub enum TenantsEntry {
    /// `"any"`.
    Any(AnyTenant),
    /// Tenant ids.
    List(Vec<String>),
}

impl TenantsEntry {
    /// Tenants given as a list of words (repeated command-line flags): none, `any`, or ids.
    pub fn from_words(words: &[String]) -> Option<Self> {
        match words {
            [] => None,
            [any] if any == "any" => Some(Self::Any(AnyTenant::Any)),
            ids => Some(Self::List(ids.to_vec())),
        }
    }
}

/// The word `any`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnyTenant {
    /// Every tenant.
    Any,
}

/// `issuers[].typ`: which `typ` headers access tokens may carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum TypEntry {
    /// `at+jwt` only (RFC 9068, the default).
    #[default]
    #[serde(rename = "at+jwt")]
    AtJwt,
    /// Also `JWT` and no `typ` at all.
    #[serde(rename = "lenient")]
    Lenient,
}

/// `issuers[].required_claims`: a profile or a list of claim names.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(
    untagged,
    expecting = "\"rfc9068\", \"minimal\" or a list of claim names"
)]
pub enum RequiredClaimsEntry {
    /// A named profile.
    Profile(ClaimsProfile),
    /// Claim names.
    List(Vec<String>),
}

/// A named set of required claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimsProfile {
    /// RFC 9068: `iss`, `exp`, `aud`, `sub`, `client_id`, `iat`, `jti`.
    Rfc9068,
    /// `iss`, `exp`, `aud`, `sub` only.
    Minimal,
}

impl IssuerEntry {
    /// An entry for `issuer` with every other key at its default, to fill from other sources
    /// (command-line flags) and convert like a TOML entry.
    pub fn for_issuer(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            profile: Profile::default(),
            jwks_uri: None,
            metadata_from: None,
            audiences: Vec::new(),
            tenants: None,
            client_ids: Vec::new(),
            scope_prefix: None,
            role_claims: None,
            introspection: None,
            dpop: None,
            require_dpop_nonce: false,
            typ: None,
            required_claims: None,
            algorithms: None,
            leeway_seconds: None,
        }
    }

    /// The issuer's configuration.
    ///
    /// # Errors
    /// The introspection secret's environment variable is not set.
    pub fn into_config(self) -> Result<IssuerConfig, ConfigValueError> {
        let tenants = self.tenants.map(|t| match t {
            TenantsEntry::Any(AnyTenant::Any) => Tenants::Any,
            TenantsEntry::List(ids) => Tenants::Only(ids),
        });
        let mut config = match (&self.jwks_uri, tenants) {
            (Some(uri), Some(tenants)) => {
                IssuerConfig::jwks_uri(&self.issuer, uri).tenants(tenants)
            }
            (Some(uri), None) => IssuerConfig::jwks_uri(&self.issuer, uri),
            (None, Some(tenants)) => IssuerConfig::multi_tenant(&self.issuer, tenants),
            (None, None) => IssuerConfig::discover(&self.issuer),
        };
        config = config.profile(self.profile);
        if let Some(base) = self.metadata_from {
            config = config.metadata_from(base);
        }
        for audience in self.audiences {
            config = config.audience(audience);
        }
        if !self.client_ids.is_empty() {
            config = config.client_ids(self.client_ids);
        }
        if let Some(prefix) = self.scope_prefix {
            config = config.scope_prefix(prefix);
        }
        if let Some(claims) = self.role_claims {
            let claims: Vec<&str> = claims.iter().map(String::as_str).collect();
            config = config.role_claims(&claims);
        }
        match self.typ {
            None => {}
            Some(TypEntry::AtJwt) => config = config.typ(TypPolicy::AccessToken),
            Some(TypEntry::Lenient) => config = config.typ(TypPolicy::Lenient),
        }
        match self.required_claims {
            None => {}
            Some(RequiredClaimsEntry::Profile(ClaimsProfile::Rfc9068)) => {
                config = config.required_claims(RequiredClaims::rfc9068())
            }
            Some(RequiredClaimsEntry::Profile(ClaimsProfile::Minimal)) => {
                config = config.required_claims(RequiredClaims::minimal())
            }
            Some(RequiredClaimsEntry::List(names)) => {
                config = config.required_claims(RequiredClaims::custom(names));
            }
        }
        if let Some(algorithms) = self.algorithms {
            config = config.algorithms(&algorithms);
        }
        if let Some(secs) = self.leeway_seconds {
            config = config.leeway(Duration::from_secs(secs));
        }
        if let Some(policy) = self.dpop {
            config = config.dpop(policy);
        }
        if self.require_dpop_nonce {
            config = config.require_dpop_nonce();
        }
        if let Some(entry) = self.introspection {
            config = config.introspection(entry.into_introspection()?);
        }
        Ok(config)
    }
}
