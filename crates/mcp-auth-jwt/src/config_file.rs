//! One `[[issuers]]` entry, as configuration.

use std::time::Duration;

use mcp_auth_core::Algorithm;
use serde::Deserialize;

use crate::{IssuerConfig, RequiredClaims, TypPolicy};

/// One `[[issuers]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerEntry {
    /// The issuer identifier, exactly as its tokens' `iss`.
    pub issuer: String,
    /// The JWKS URL; without it, discovery finds it.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// `"at+jwt"` (default) or `"lenient"` (also `JWT` and no `typ`).
    #[serde(default)]
    pub typ: TypEntry,
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
    /// The issuer's configuration.
    pub fn into_config(self) -> IssuerConfig {
        let mut config = match &self.jwks_uri {
            Some(uri) => IssuerConfig::jwks_uri(&self.issuer, uri),
            None => IssuerConfig::discover(&self.issuer),
        };
        if self.typ == TypEntry::Lenient {
            config = config.typ(TypPolicy::Lenient);
        }
        match self.required_claims {
            None | Some(RequiredClaimsEntry::Profile(ClaimsProfile::Rfc9068)) => {}
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
        config
    }
}
