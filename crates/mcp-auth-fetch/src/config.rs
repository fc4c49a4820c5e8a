//! `[fetch]`: the outbound fetch rules, as configuration.

use std::time::Duration;

use mcp_auth_core::ConfigValueError;
use serde::Deserialize;

use crate::FetchPolicy;

/// `[fetch]`: the outbound fetch rules, as configuration (every value optional).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchConfig {
    /// The development switch: loopback addresses and http to loopback hosts.
    #[serde(default)]
    pub allow_loopback: bool,
    /// Private-network addresses (an internal issuer).
    #[serde(default)]
    pub allow_private_networks: bool,
    /// Overall timeout of one fetch, in milliseconds (default 5000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Extra trusted root certificates (PEM files), e.g. an internal CA, for issuer,
    /// client-document and token-exchange fetches.
    #[serde(default)]
    pub ca_files: Vec<String>,
}

impl FetchConfig {
    /// The policy, reading the CA files.
    ///
    /// # Errors
    /// A zero timeout, or a CA file that cannot be read or holds no PEM certificate.
    pub fn into_policy(self) -> Result<FetchPolicy, ConfigValueError> {
        let mut fetch = FetchPolicy::default()
            .allow_loopback(self.allow_loopback)
            .allow_private_networks(self.allow_private_networks);
        if let Some(ms) = self.timeout_ms {
            if ms == 0 {
                return Err(ConfigValueError::new(
                    "fetch.timeout_ms",
                    "must be at least 1",
                ));
            }
            fetch = fetch.timeout(Duration::from_millis(ms));
        }
        for path in &self.ca_files {
            let pem = std::fs::read(path).map_err(|e| {
                ConfigValueError::new("fetch.ca_files", format!("cannot read `{path}`: {e}"))
            })?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(ConfigValueError::new(
                    "fetch.ca_files",
                    format!("`{path}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
                ));
            }
            fetch = fetch.root_certificate_pem(pem);
        }
        Ok(fetch)
    }
}

/// How this server authenticates with a client secret at an authorization server's endpoint
/// (token exchange, introspection), as configuration: `"client_secret_basic"` or
/// `"client_secret_post"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientSecretMethod {
    /// HTTP Basic (the default).
    #[default]
    ClientSecretBasic,
    /// In the form body.
    ClientSecretPost,
}
