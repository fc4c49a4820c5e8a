//! `[token_exchange]`: token exchange, as configuration.

use mcp_auth_core::ConfigValueError;
use mcp_auth_fetch::FetchPolicy;
use serde::Deserialize;

use crate::{Algorithm, ClientAuth, PrivateKey, TokenExchangeClient, TokenExchangeClientBuilder};

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
    /// This server's own DPoP key (a PEM private key or a private JWK): token requests carry
    /// proofs by it, and tokens the authorization server binds to it are sent downstream with
    /// proofs (see [`TokenExchangeClientBuilder::dpop_key`](crate::TokenExchangeClientBuilder::dpop_key)).
    #[serde(default)]
    pub dpop_key_file: Option<std::path::PathBuf>,
    /// The algorithm of a PEM `dpop_key_file` (a JWK names its own). Default `ES256`.
    #[serde(default)]
    pub dpop_key_alg: Option<Algorithm>,
    /// Which downstream APIs each tool may reach: `[[token_exchange.allow]]` with `tool`
    /// (`"*"`: every tool), `target` and `scopes`. Absent: any the authorization server grants.
    #[serde(default)]
    pub allow: Option<Vec<crate::AllowEntry>>,
}

/// This server's authentication at the authorization server from configuration, the secret
/// read from the environment variable `secret_env`; errors name `section.client_secret_env`.
///
/// # Errors
/// The variable is unset.
pub fn client_auth_from_env(
    section: &str,
    client_id: &str,
    secret_env: &str,
    method: ExchangeAuthEntry,
) -> Result<ClientAuth, ConfigValueError> {
    let secret = std::env::var(secret_env).map_err(|_| {
        ConfigValueError::new(
            format!("{section}.client_secret_env"),
            format!("environment variable `{secret_env}` is not set"),
        )
    })?;
    Ok(match method {
        ExchangeAuthEntry::ClientSecretBasic => ClientAuth::client_secret_basic(client_id, secret),
        ExchangeAuthEntry::ClientSecretPost => ClientAuth::client_secret_post(client_id, secret),
    })
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
        self.into_builder(default_issuer, fetch)?
            .build()
            .map_err(|e| ConfigValueError::new("token_exchange", e))
    }

    /// This server's DPoP key from `dpop_key_file`, if set.
    ///
    /// # Errors
    /// The file cannot be read or holds no usable private key.
    pub fn dpop_key(&self) -> Result<Option<PrivateKey>, ConfigValueError> {
        let Some(path) = &self.dpop_key_file else {
            return Ok(None);
        };
        let contents = std::fs::read(path).map_err(|e| {
            ConfigValueError::new(
                "token_exchange.dpop_key_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        PrivateKey::from_pem_or_jwk(&contents, self.dpop_key_alg.unwrap_or(Algorithm::ES256))
            .map(Some)
            .map_err(|e| ConfigValueError::new("token_exchange.dpop_key_file", e))
    }

    /// The client's builder, configured but not built (to add a store, say).
    ///
    /// # Errors
    /// As [`TokenExchangeEntry::into_client`], except what only building finds.
    pub fn into_builder(
        self,
        default_issuer: Option<String>,
        fetch: FetchPolicy,
    ) -> Result<TokenExchangeClientBuilder, ConfigValueError> {
        let dpop_key = self.dpop_key()?;
        let entry = self;
        let first_issuer = default_issuer;
        let auth = client_auth_from_env(
            "token_exchange",
            &entry.client_id,
            &entry.client_secret_env,
            entry.auth_method,
        )?;
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
        if let Some(key) = dpop_key {
            builder = builder.dpop_key(key);
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dpop_key_file: Option<std::path::PathBuf>) -> TokenExchangeEntry {
        TokenExchangeEntry {
            client_id: "mcp-server".into(),
            // Set in every environment; no exchange is made here.
            client_secret_env: "PATH".into(),
            auth_method: ExchangeAuthEntry::default(),
            token_endpoint: Some("https://auth.example/token".into()),
            issuer: None,
            dpop_key_file,
            dpop_key_alg: None,
            allow: None,
        }
    }

    #[test]
    fn a_dpop_key_file_is_read_and_a_bad_one_named() {
        let dir = std::env::temp_dir().join(format!("obo-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("dpop.jwk");
        std::fs::write(&good, crate::key::tests::ec_jwk().0).unwrap();
        let client = entry(Some(good)).into_client(None, FetchPolicy::default());
        assert!(client.is_ok(), "{client:?}");

        let public_only = dir.join("public.jwk");
        std::fs::write(
            &public_only,
            r#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}"#,
        )
        .unwrap();
        for path in [public_only, dir.join("missing.pem")] {
            let err = entry(Some(path.clone()))
                .into_client(None, FetchPolicy::default())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("token_exchange.dpop_key_file"),
                "{path:?}: {err}"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
