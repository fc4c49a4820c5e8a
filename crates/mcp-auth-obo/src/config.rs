//! `[token_exchange]`: token exchange, as configuration.

use mcp_auth_core::ConfigValueError;
use mcp_auth_fetch::FetchPolicy;
use serde::Deserialize;

use crate::{ClientAuth, TokenExchangeClient};

/// `token_exchange.auth_method`: how this server authenticates at the token endpoint.
pub type ExchangeAuthEntry = mcp_auth_fetch::ClientSecretMethod;

/// `[token_exchange]`: this server's client at the authorization server.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenExchangeEntry {
    /// This server's client id at the authorization server.
    pub client_id: String,
    /// The name of the environment variable holding the client secret (never the secret).
    pub client_secret_env: String,
    /// `"client_secret_basic"` (default) or `"client_secret_post"`.
    #[serde(default)]
    pub auth_method: ExchangeAuthEntry,
    /// The token endpoint; without it, discovered from `issuer`.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// The issuer whose metadata names the token endpoint (default: the first `[[issuers]]`).
    #[serde(default)]
    pub issuer: Option<String>,
}

impl TokenExchangeEntry {
    /// The client, with the secret read from its environment variable; `default_issuer`
    /// names the token endpoint when neither `token_endpoint` nor `issuer` is set.
    ///
    /// # Errors
    /// The secret's variable is unset, no endpoint can be named, or the client is invalid.
    pub fn into_client(
        self,
        default_issuer: Option<String>,
        fetch: FetchPolicy,
    ) -> Result<TokenExchangeClient, ConfigValueError> {
        let entry = self;
        let first_issuer = default_issuer;
        let secret = std::env::var(&entry.client_secret_env).map_err(|_| {
            ConfigValueError::new(
                "token_exchange.client_secret_env",
                format!(
                    "environment variable `{}` is not set",
                    entry.client_secret_env
                ),
            )
        })?;
        let auth = match entry.auth_method {
            ExchangeAuthEntry::ClientSecretBasic => {
                ClientAuth::client_secret_basic(&entry.client_id, secret)
            }
            ExchangeAuthEntry::ClientSecretPost => {
                ClientAuth::client_secret_post(&entry.client_id, secret)
            }
        };
        let mut builder = TokenExchangeClient::builder(auth).fetch_policy(fetch);
        builder = match (entry.token_endpoint, entry.issuer.or(first_issuer)) {
            (Some(endpoint), _) => builder.token_endpoint(endpoint),
            (None, Some(issuer)) => builder.issuer(issuer),
            (None, None) => {
                return Err(ConfigValueError::new(
                    "token_exchange",
                    "set `token_endpoint` or `issuer`",
                ));
            }
        };
        builder
            .build()
            .map_err(|e| ConfigValueError::new("token_exchange", e))
    }
}
