//! One connection to Redis shared by every store of a process: reconnecting, and bounded in time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue};

/// Redis could not answer in time (down, unreachable, slow, or refused the command). The message
/// names what failed, never a credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Redis is unavailable: {0}")]
pub struct Unavailable(pub String);

/// A configuration the stores cannot use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL is not a Redis URL (`redis://host:port/db`, `rediss://…` is not built in).
    #[error("not a usable Redis URL: {0}")]
    Url(String),
    /// A setting is out of range.
    #[error("{setting} {problem}")]
    Invalid {
        /// The setting.
        setting: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// A handle on one Redis server, shared by the stores (cheap to clone).
///
/// It connects lazily, so a replica starts while Redis is away; it reconnects by itself; every
/// command is bounded by [a timeout](RedisBuilder::call_timeout), so no request waits on Redis
/// longer than that. Keys are namespaced under [a prefix](RedisBuilder::key_prefix).
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    /// For connections of their own (a pub/sub subscription).
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
    timeout: Duration,
    /// `host:port` only: a URL may carry a password.
    address: String,
    /// `mcp_auth.redis.errors`, by reason.
    errors: Counter<u64>,
}

impl Redis {
    /// Starts configuring a handle on the server at `url` (`redis://[user:password@]host:port/db`).
    pub fn builder(url: impl Into<String>) -> RedisBuilder {
        RedisBuilder {
            url: url.into(),
            prefix: "mcp-auth".into(),
            timeout: Duration::from_millis(250),
        }
    }

    /// The key under this handle's prefix: `<prefix>:<kind>:<id>`.
    pub(crate) fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.inner.prefix)
    }

    /// The server's `host:port`, for messages.
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    pub(crate) fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Runs one command within the timeout.
    pub(crate) async fn run<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, Unavailable> {
        let mut connection = self.inner.manager.clone();
        self.bounded(cmd.query_async(&mut connection)).await
    }

    /// Runs a pipeline (a `MULTI`/`EXEC` transaction when atomic) within the timeout.
    pub(crate) async fn run_pipeline(&self, pipe: &redis::Pipeline) -> Result<(), Unavailable> {
        let mut connection = self.inner.manager.clone();
        self.bounded(pipe.query_async::<()>(&mut connection)).await
    }

    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Unavailable> {
        match tokio::time::timeout(self.inner.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failed(
                "error",
                format!(
                    "{} answered with an error: {:?}",
                    self.inner.address,
                    e.kind()
                ),
            )),
            Err(_) => Err(self.failed(
                "timeout",
                format!(
                    "{} did not answer within {:?}",
                    self.inner.address, self.inner.timeout
                ),
            )),
        }
    }

    /// Counts a failed call (`reason`: `error`, `timeout`, `subscription`) and describes it.
    pub(crate) fn failed(&self, reason: &'static str, message: String) -> Unavailable {
        self.inner.errors.add(1, &[KeyValue::new("reason", reason)]);
        Unavailable(message)
    }
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("address", &self.inner.address)
            .field("prefix", &self.inner.prefix)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Redis`] handle. Its `Debug` hides the URL's credentials.
#[must_use]
pub struct RedisBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBuilder")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A Redis URL with its user and password replaced, for messages and `Debug`.
pub(crate) fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_owned(),
        },
        None => "<not a URL>".to_owned(),
    }
}

impl RedisBuilder {
    /// The namespace of every key this library writes (`<prefix>:dpop:…`, `<prefix>:obo:…`), so
    /// that several deployments can share one Redis. Defaults to `mcp-auth`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest a command may take, connecting included; past it the store answers as
    /// Redis being away. Defaults to 250 ms.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the URL and settings; connects on first use.
    ///
    /// # Errors
    /// A URL that is not a Redis URL, an empty prefix, a zero timeout.
    pub fn build(self) -> Result<Redis, ConfigError> {
        if self.prefix.is_empty() || self.prefix.contains(char::is_whitespace) {
            return Err(ConfigError::Invalid {
                setting: "key_prefix",
                problem: "must be non-empty and without whitespace",
            });
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::Invalid {
                setting: "call_timeout",
                problem: "must be more than zero",
            });
        }
        let client = redis::Client::open(self.url.as_str()).map_err(|e| {
            // The parser's message may quote the URL, and with it a password.
            ConfigError::Url(format!("{:?}", e.kind()))
        })?;
        let address = client.get_connection_info().addr().to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| ConfigError::Url(format!("{:?}", e.kind())))?;
        Ok(Redis {
            inner: Arc::new(Inner {
                client,
                manager,
                prefix: self.prefix,
                timeout: self.timeout,
                address,
                errors: mcp_auth_core::telemetry::meter()
                    .u64_counter("mcp_auth.redis.errors")
                    .with_description(
                        "Redis calls that failed, by reason (error, timeout, subscription)",
                    )
                    .build(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_debug_output() {
        let builder = Redis::builder("redis://user:s3cret-pw@redis.internal:6379/0");
        let printed = format!("{builder:?}");
        assert!(!printed.contains("s3cret-pw"), "{printed}");
        assert!(printed.contains("redis.internal:6379"), "{printed}");
        assert_eq!(redacted("redis://:pw@h:1/"), "redis://***@h:1/");
        assert_eq!(redacted("redis://h:1/"), "redis://h:1/");
    }
}
