//! `[approval]`: approvals, as configuration.

use std::time::Duration;

use mcp_auth_core::{ConfigValueError, ResourceId};
use mcp_auth_fetch::FetchPolicy;
use mcp_auth_obo::{ExchangeAuthEntry, SecretKeys, client_auth_from_env};
use serde::Deserialize;

use crate::{ApprovalLayer, CibaClient, LoginHint};

/// `[approval]`: which tools need a person's approval, and this server's client at the issuer
/// (the same shape as `[token_exchange]`).
///
/// ```toml
/// [approval]
/// tools = ["transfer_funds", "delete_*"]
/// client_id = "mcp-server"
/// client_secret_env = "MCP_CLIENT_SECRET"
/// state_keys_env = "MCP_APPROVAL_KEYS"     # "id=base64 of 32 bytes, older=…"
/// requested_expiry_secs = 300
/// login_hint = "subject"                   # or "iss_sub", or { claim = "email" }
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalEntry {
    /// The tools whose calls need approval: names or globs.
    pub tools: Vec<String>,
    /// This server's client id at the issuer.
    pub client_id: String,
    /// The name of the environment variable holding the client secret (never the secret).
    pub client_secret_env: String,
    /// `"client_secret_basic"` (default) or `"client_secret_post"`.
    #[serde(default)]
    pub auth_method: ExchangeAuthEntry,
    /// The variable holding the keys that seal the state clients carry: `id=KEY,older=KEY`,
    /// each 32 bytes in base64; the first seals. Without it a key is made at start, and state
    /// does not survive a restart or cross replicas.
    #[serde(default)]
    pub state_keys_env: Option<String>,
    /// How long the person has to decide (seconds, default 300).
    #[serde(default)]
    pub requested_expiry_secs: Option<u64>,
    /// The longest one retry waits at the server for the decision (milliseconds, default
    /// 10,000).
    #[serde(default)]
    pub round_wait_ms: Option<u64>,
    /// How the person is named to the issuer.
    #[serde(default)]
    pub login_hint: LoginHint,
    /// The authentication context to approve with (`acr_values`).
    #[serde(default)]
    pub acr_values: Option<String>,
    /// How many approval requests one person may be sent a minute (default 5).
    #[serde(default)]
    pub max_requests_per_minute: Option<u32>,
    /// The longest text of a call's arguments shown to the person (default 1,000 characters);
    /// longer calls are refused.
    #[serde(default)]
    pub max_summary_chars: Option<usize>,
    /// The backchannel authentication endpoint; without it, discovered from each issuer.
    #[serde(default)]
    pub backchannel_endpoint: Option<String>,
    /// The token endpoint polled; set together with `backchannel_endpoint`.
    #[serde(default)]
    pub token_endpoint: Option<String>,
}

impl ApprovalEntry {
    /// The layer, with the secret and keys read from their environment variables.
    ///
    /// # Errors
    /// An unset variable, unusable keys, or endpoints the fetch policy refuses; each names its
    /// key.
    pub fn into_layer(
        self,
        resource: &ResourceId,
        fetch: FetchPolicy,
    ) -> Result<ApprovalLayer, ConfigValueError> {
        let auth = client_auth_from_env(
            "approval",
            &self.client_id,
            &self.client_secret_env,
            self.auth_method,
        )?;
        let mut ciba =
            CibaClient::new(auth, fetch).map_err(|e| ConfigValueError::new("approval", e))?;
        match (&self.backchannel_endpoint, &self.token_endpoint) {
            (Some(backchannel), Some(token)) => {
                ciba = ciba
                    .with_endpoints(backchannel, token)
                    .map_err(|e| ConfigValueError::new("approval.backchannel_endpoint", e))?;
            }
            (None, None) => {}
            _ => {
                return Err(ConfigValueError::new(
                    "approval.backchannel_endpoint",
                    "set both `backchannel_endpoint` and `token_endpoint`, or neither",
                ));
            }
        }
        let keys = match &self.state_keys_env {
            Some(var) => {
                let text = std::env::var(var).map_err(|_| {
                    ConfigValueError::new(
                        "approval.state_keys_env",
                        format!("environment variable `{var}` is not set"),
                    )
                })?;
                SecretKeys::parse(&text).map_err(|e| {
                    ConfigValueError::new("approval.state_keys_env", format!("`{var}`: {e}"))
                })?
            }
            None => random_keys().map_err(|e| ConfigValueError::new("approval", e))?,
        };
        if self.tools.is_empty() {
            return Err(ConfigValueError::new(
                "approval.tools",
                "name at least one tool (or remove [approval])",
            ));
        }
        let mut layer = ApprovalLayer::new(ciba, keys, resource).login_hint(self.login_hint);
        for tool in &self.tools {
            layer = layer.tool(tool);
        }
        if let Some(chars) = self.max_summary_chars {
            layer = layer.max_summary_chars(chars);
        }
        if let Some(max) = self.max_requests_per_minute {
            layer = layer.max_requests_per_minute(max);
        }
        if let Some(acr_values) = self.acr_values {
            layer = layer.acr_values(acr_values);
        }
        if let Some(secs) = self.requested_expiry_secs {
            layer = layer.requested_expiry(Duration::from_secs(secs));
        }
        if let Some(ms) = self.round_wait_ms {
            layer = layer.round_wait(Duration::from_millis(ms));
        }
        Ok(layer)
    }
}

/// A key made at start, for a single process.
pub fn random_keys() -> Result<SecretKeys, mcp_auth_obo::ConfigError> {
    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key)
        .map_err(|_| mcp_auth_obo::ConfigError::Key("the system's random source failed".into()))?;
    SecretKeys::new("start", &key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(toml_text: &str) -> Result<ApprovalLayer, String> {
        let entry: ApprovalEntry = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        let resource = ResourceId::parse("https://mcp.example/mcp").expect("resource");
        entry
            .into_layer(&resource, FetchPolicy::default())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_table_builds_a_layer_and_mistakes_name_their_key() {
        // PATH is set in every environment; nothing is fetched here.
        let good = r#"
            tools = ["transfer_funds"]
            client_id = "mcp-server"
            client_secret_env = "PATH"
            login_hint = { claim = "email" }
        "#;
        let layer = entry(good).expect("builds");
        assert!(layer.is_enabled());
        let unset = good.replace("\"PATH\"", "\"MCP_AUTH_SURELY_UNSET\"");
        assert!(
            entry(&unset)
                .unwrap_err()
                .contains("approval.client_secret_env")
        );
        let no_tools = good.replace("[\"transfer_funds\"]", "[]");
        assert!(entry(&no_tools).unwrap_err().contains("approval.tools"));
        let one_endpoint = format!("{good}\nbackchannel_endpoint = \"https://id.example/bc\"");
        assert!(
            entry(&one_endpoint)
                .unwrap_err()
                .contains("approval.backchannel_endpoint")
        );
        let keys = format!("{good}\nstate_keys_env = \"PATH\"");
        assert!(
            entry(&keys)
                .unwrap_err()
                .contains("approval.state_keys_env")
        );
        let typo = format!("{good}\ntool = \"x\"");
        assert!(entry(&typo).unwrap_err().contains("unknown field"));
    }
}
