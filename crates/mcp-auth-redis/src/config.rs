//! `[redis]`: the shared state's Redis, as configuration.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mcp_auth_core::ConfigValueError;
use serde::Deserialize;

use crate::{Redis, RedisReplayStore, SecretKeys, WhileAway};

/// `[redis]`: where replicas share their state.
///
/// ```
/// use mcp_auth_redis::RedisEntry;
///
/// let entry: RedisEntry = toml::from_str(r#"
///     url = "redis://127.0.0.1:6379/"
///     key_prefix = "notes-mcp"
///     call_timeout_ms = 200
///     exchange_keys_env = "MCP_AUTH_EXCHANGE_KEYS"
/// "#).unwrap();
/// assert_eq!(entry.key_prefix.as_deref(), Some("notes-mcp"));
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisEntry {
    /// `redis://[user:password@]host:port/db`. A password belongs in the environment: write
    /// `url_env` instead to read the whole URL from a variable.
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable holding the URL (when it carries a password).
    #[serde(default)]
    pub url_env: Option<String>,
    /// The prefix of every key (default `mcp-auth`).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// The longest a Redis command may take, in milliseconds (default 250).
    #[serde(default)]
    pub call_timeout_ms: Option<u64>,
    /// The environment variable holding the keys that seal exchanged tokens: `id=KEY`
    /// pairs separated by commas, each KEY 32 bytes in base64; the first seals, the others only
    /// open (rotation). Without it, exchanged tokens are not shared.
    #[serde(default)]
    pub exchange_keys_env: Option<String>,
    /// The environment variable holding the DPoP nonce secret (base64, 32 bytes or more) that
    /// replicas share, so that a nonce one issued is good on all (issuers with
    /// `require_dpop_nonce`). Without it each replica has its own, and a client that moves to
    /// another replica is asked for a new nonce once.
    #[serde(default)]
    pub dpop_nonce_secret_env: Option<String>,
    /// What the DPoP replay store does while Redis cannot answer: `"refuse"` (503, the
    /// default) or `"local"` (each replica's own memory decides).
    #[serde(default)]
    pub replay_while_away: WhileAway,
}

impl std::fmt::Debug for RedisEntry {
    /// The URL's credentials are hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEntry")
            .field("url", &self.url.as_deref().map(crate::connection::redacted))
            .field("url_env", &self.url_env)
            .field("key_prefix", &self.key_prefix)
            .field("call_timeout_ms", &self.call_timeout_ms)
            .field("exchange_keys_env", &self.exchange_keys_env)
            .field("dpop_nonce_secret_env", &self.dpop_nonce_secret_env)
            .field("replay_while_away", &self.replay_while_away)
            .finish()
    }
}

impl RedisEntry {
    /// The handle (connected lazily).
    ///
    /// # Errors
    /// No URL, an unset variable, an invalid URL or setting; each names its key.
    pub fn connect(&self) -> Result<Redis, ConfigValueError> {
        let url = match (&self.url, &self.url_env) {
            (Some(url), None) => url.clone(),
            (None, Some(var)) => std::env::var(var).map_err(|_| {
                ConfigValueError::new(
                    "redis.url_env",
                    format!("environment variable `{var}` is not set"),
                )
            })?,
            _ => {
                return Err(ConfigValueError::new(
                    "redis",
                    "set one of `url` and `url_env`",
                ));
            }
        };
        let mut builder = Redis::builder(url);
        if let Some(prefix) = &self.key_prefix {
            builder = builder.key_prefix(prefix);
        }
        if let Some(ms) = self.call_timeout_ms {
            builder = builder.call_timeout(Duration::from_millis(ms));
        }
        builder
            .build()
            .map_err(|e| ConfigValueError::new("redis", e))
    }

    /// The DPoP replay store on `redis`, as configured.
    pub fn replay_store(&self, redis: Redis) -> RedisReplayStore {
        RedisReplayStore::new(redis).while_away(self.replay_while_away)
    }

    /// The shared DPoP nonce secret, if configured.
    ///
    /// # Errors
    /// An unset variable, or a value that is not base64 of at least 32 bytes.
    pub fn dpop_nonce_secret(&self) -> Result<Option<Vec<u8>>, ConfigValueError> {
        let Some(var) = &self.dpop_nonce_secret_env else {
            return Ok(None);
        };
        let key = "redis.dpop_nonce_secret_env";
        let text = std::env::var(var).map_err(|_| {
            ConfigValueError::new(key, format!("environment variable `{var}` is not set"))
        })?;
        let secret = STANDARD
            .decode(text.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim().trim_end_matches('=')))
            .map_err(|_| ConfigValueError::new(key, format!("`{var}` is not base64")))?;
        if secret.len() < 32 {
            return Err(ConfigValueError::new(
                key,
                format!("`{var}` must hold at least 32 bytes"),
            ));
        }
        Ok(Some(secret))
    }

    /// The keys that seal exchanged tokens, if configured.
    ///
    /// # Errors
    /// An unset variable, or keys that are not `id=base64` of 32 bytes.
    pub fn exchange_keys(&self) -> Result<Option<SecretKeys>, ConfigValueError> {
        let Some(var) = &self.exchange_keys_env else {
            return Ok(None);
        };
        let key = "redis.exchange_keys_env";
        let text = std::env::var(var).map_err(|_| {
            ConfigValueError::new(key, format!("environment variable `{var}` is not set"))
        })?;
        SecretKeys::parse(&text)
            .map(Some)
            .map_err(|e| ConfigValueError::new(key, format!("`{var}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_required_and_variables_must_be_set() {
        let entry = |url: Option<&str>, env: Option<&str>| RedisEntry {
            url: url.map(str::to_owned),
            url_env: env.map(str::to_owned),
            key_prefix: None,
            call_timeout_ms: None,
            exchange_keys_env: Some("MCP_AUTH_TEST_SURELY_UNSET".into()),
            dpop_nonce_secret_env: Some("MCP_AUTH_TEST_SURELY_UNSET".into()),
            replay_while_away: WhileAway::default(),
        };
        assert!(entry(None, None).connect().is_err());
        let err = entry(None, Some("MCP_AUTH_TEST_SURELY_UNSET"))
            .connect()
            .unwrap_err()
            .to_string();
        assert!(err.contains("redis.url_env"), "{err}");
        let err = entry(Some("redis://127.0.0.1:1/"), None)
            .exchange_keys()
            .unwrap_err()
            .to_string();
        assert!(err.contains("redis.exchange_keys_env"), "{err}");
        let err = entry(Some("not a url"), None)
            .connect()
            .unwrap_err()
            .to_string();
        assert!(err.contains("redis"), "{err}");
    }
}
