//! The token-exchange client: configuration, cache, single-flight and back-off.

mod backoff;
mod discovery;
mod exchange;
mod flight;
mod telemetry;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mcp_auth_fetch::{FetchPolicy, Fetcher};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::auth::ClientAuth;
use crate::error::{ConfigError, ExchangeError};
use crate::key::PrivateKey;
use crate::request::{ExchangeRequest, Subject};
use crate::store::{ExchangeStore, MemoryStore};
use crate::token::ExchangedToken;
use backoff::Backoff;
use flight::Flights;

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Exchanges callers' tokens for tokens scoped to downstream APIs (RFC 8693), and remembers them.
///
/// Cheap to clone (an `Arc`). Every exchange:
///
/// - is looked up first in the [`ExchangeStore`] (default: a bounded in-memory cache) under a
///   key derived from the subject token's digest, the target and the normalised scope set;
/// - is made at most once at a time per key: concurrent callers wait for the one exchange under
///   way and share its outcome;
/// - is remembered until the exchanged token's expiry minus a skew, but never beyond the subject
///   token's own expiry;
/// - when it fails, is remembered as a failure for a short while, and a failing or unreachable
///   authorization server is not contacted again until an exponential back-off has passed.
///
/// See the [crate docs](crate) for an example.
#[derive(Clone)]
pub struct TokenExchangeClient {
    inner: Arc<Inner>,
}

struct Inner {
    auth: ClientAuth,
    endpoint: Endpoint,
    fetcher: Fetcher,
    store: Arc<dyn ExchangeStore>,
    flights: Flights,
    backoff: Backoff,
    /// Keeps keys of different clients or servers apart in a shared store.
    namespace: [u8; 32],
    skew: Duration,
    failure_ttl: Duration,
    clock: Clock,
    /// This server's DPoP key: every token request carries a proof by it.
    dpop_key: Option<PrivateKey>,
    /// How long a replica waits for another's exchange of the same key (shared stores).
    claim_wait: Duration,
    /// The token endpoint's latest `DPoP-Nonce`, put in the next proof (RFC 9449 §8).
    dpop_nonce: Mutex<Option<String>>,
    telemetry: telemetry::Telemetry,
}

enum Endpoint {
    Configured(String),
    Discovered {
        issuer: String,
        found: OnceCell<String>,
    },
}

impl TokenExchangeClient {
    /// Starts configuring a client that authenticates with `auth`.
    pub fn builder(auth: ClientAuth) -> TokenExchangeClientBuilder {
        TokenExchangeClientBuilder {
            auth,
            token_endpoint: None,
            issuer: None,
            fetch_policy: FetchPolicy::default(),
            cache_capacity: 10_000,
            store: None,
            skew: Duration::from_secs(30),
            failure_ttl: Duration::from_secs(5),
            backoff: (Duration::from_secs(1), Duration::from_secs(30)),
            clock: None,
            dpop_key: None,
            claim_wait: Duration::from_secs(2),
        }
    }

    /// Exchanges `subject`'s token for one described by `request`, from the cache when possible.
    ///
    /// Mirrors Auth0's `getTokenOnBehalfOf(token, { audience, scope })`.
    ///
    /// # Errors
    /// See [`ExchangeError`]; [`ExchangeError::to_auth_error`] says what the MCP client should
    /// be told.
    pub async fn get_token_on_behalf_of<'a>(
        &self,
        subject: impl Into<Subject<'a>>,
        request: ExchangeRequest,
    ) -> Result<ExchangedToken, ExchangeError> {
        self.exchange(subject.into(), &request).await.result
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        self.inner.auth.client_id()
    }

    /// The token endpoint, when configured or already discovered.
    pub fn token_endpoint(&self) -> Option<&str> {
        match &self.inner.endpoint {
            Endpoint::Configured(url) => Some(url),
            Endpoint::Discovered { found, .. } => found.get().map(String::as_str),
        }
    }

    /// The token endpoint, discovering it if needed.
    ///
    /// # Errors
    /// Discovery failed.
    pub async fn resolve_token_endpoint(&self) -> Result<&str, ExchangeError> {
        match &self.inner.endpoint {
            Endpoint::Configured(url) => Ok(url),
            Endpoint::Discovered { issuer, found } => found
                .get_or_try_init(|| discovery::token_endpoint(&self.inner.fetcher, issuer))
                .await
                .map(String::as_str),
        }
    }

    #[cfg(test)]
    pub(crate) fn flights(&self) -> &Flights {
        &self.inner.flights
    }
}

impl fmt::Debug for TokenExchangeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut s = f.debug_struct("TokenExchangeClient");
        s.field("auth", &i.auth);
        match &i.endpoint {
            Endpoint::Configured(url) => s.field("token_endpoint", url),
            Endpoint::Discovered { issuer, found } => s
                .field("issuer", issuer)
                .field("token_endpoint", &found.get()),
        };
        s.field("skew", &i.skew)
            .field("failure_ttl", &i.failure_ttl)
            .finish_non_exhaustive()
    }
}

/// Configures a [`TokenExchangeClient`]; see [`TokenExchangeClient::builder`].
#[must_use]
pub struct TokenExchangeClientBuilder {
    auth: ClientAuth,
    token_endpoint: Option<String>,
    issuer: Option<String>,
    fetch_policy: FetchPolicy,
    cache_capacity: usize,
    store: Option<Arc<dyn ExchangeStore>>,
    skew: Duration,
    failure_ttl: Duration,
    backoff: (Duration, Duration),
    clock: Option<Clock>,
    dpop_key: Option<PrivateKey>,
    claim_wait: Duration,
}

impl TokenExchangeClientBuilder {
    /// The token endpoint URL. Set this or [`issuer`](Self::issuer).
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// The issuer whose metadata names the token endpoint (RFC 8414
    /// `/.well-known/oauth-authorization-server{path}`, then OpenID Connect discovery). The
    /// document's `issuer` must equal this exactly. Discovery happens on the first exchange.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The rules for outbound requests (timeouts, size caps, address ranges). Defaults to
    /// [`FetchPolicy::default`]: https only, public addresses only.
    pub fn fetch_policy(mut self, policy: FetchPolicy) -> Self {
        self.fetch_policy = policy;
        self
    }

    /// Entries the default in-memory store holds (tokens and remembered failures). Defaults to
    /// 10 000.
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// Replaces the in-memory store, e.g. with one shared by several replicas.
    pub fn store(mut self, store: impl ExchangeStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// How long before its expiry a cached token stops being served, so that a downstream API
    /// never receives a token about to expire. Defaults to 30 s.
    pub fn expiry_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// How long a refusal or an invalid answer is repeated from memory for the same key before
    /// the authorization server is asked again. Defaults to 5 s.
    pub fn failure_ttl(mut self, ttl: Duration) -> Self {
        self.failure_ttl = ttl;
        self
    }

    /// Back-off after the authorization server is unreachable or failing (connection errors,
    /// timeouts, 5xx, 429, `temporarily_unavailable`), or after a failure that is this client's
    /// and would repeat for every caller (`invalid_client`, `unauthorized_client`,
    /// `unsupported_grant_type`, a failed discovery): `min`, doubled per consecutive failure, at
    /// most `max`, at least the server's `Retry-After`. Meanwhile no exchange reaches the server;
    /// calls fail with [`ExchangeError::Unavailable`]. Defaults to 1 s and 30 s.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff = (min, max);
        self
    }

    /// This server's own DPoP key (RFC 9449), never a client's: every token request carries a
    /// proof signed by it (with the token endpoint's nonce when it demands one: a
    /// `use_dpop_nonce` answer is retried once with the nonce it sent), so an authorization
    /// server that binds tokens binds exchanged tokens to this key. A token that comes back as
    /// `token_type: DPoP` is sent downstream with a fresh proof per request by
    /// [`ExchangedToken::apply_to`](crate::ExchangedToken::apply_to). Without a key, a `DPoP`
    /// answer is an invalid response.
    pub fn dpop_key(mut self, key: PrivateKey) -> Self {
        self.dpop_key = Some(key);
        self
    }

    /// With a store shared by replicas that [claims](crate::ExchangeStore::claim) exchanges:
    /// how long a replica waits for the outcome of the exchange another replica is making
    /// for the same key before making its own. Defaults to 2 s.
    pub fn claim_wait(mut self, wait: Duration) -> Self {
        self.claim_wait = wait;
        self
    }

    /// Replaces the clock, for tests.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Checks the configuration and builds the client.
    ///
    /// # Errors
    /// No endpoint or both, an endpoint the fetch policy refuses, an issuer that is not an
    /// http(s) URL, an empty client id or secret, a zero cache capacity, a minimum back-off
    /// above the maximum.
    pub fn build(self) -> Result<TokenExchangeClient, ConfigError> {
        self.auth.validate()?;
        let fetcher = Fetcher::new(self.fetch_policy).map_err(ConfigError::Fetch)?;
        let (endpoint, location) = match (self.token_endpoint, self.issuer) {
            (None, None) => return Err(ConfigError::NoEndpoint),
            (Some(_), Some(_)) => return Err(ConfigError::BothEndpoints),
            (Some(url), None) => {
                fetcher.check_url(&url).map_err(ConfigError::Endpoint)?;
                (Endpoint::Configured(url.clone()), url)
            }
            (None, Some(issuer)) => {
                match url::Url::parse(&issuer) {
                    Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {}
                    _ => return Err(ConfigError::Issuer(issuer)),
                }
                fetcher.check_url(&issuer).map_err(ConfigError::Endpoint)?;
                (
                    Endpoint::Discovered {
                        issuer: issuer.clone(),
                        found: OnceCell::new(),
                    },
                    issuer,
                )
            }
        };
        if self.cache_capacity == 0 && self.store.is_none() {
            return Err(ConfigError::Invalid {
                setting: "cache_capacity",
                problem: "must be at least 1",
            });
        }
        if self.backoff.0 > self.backoff.1 {
            return Err(ConfigError::Invalid {
                setting: "backoff",
                problem: "the minimum exceeds the maximum",
            });
        }
        let namespace = {
            let mut h = Sha256::new();
            h.update(self.auth.client_id().as_bytes());
            h.update([0]);
            h.update(location.as_bytes());
            // Tokens bound to one key are of no use to a replica holding another.
            if let Some(key) = &self.dpop_key {
                h.update([0]);
                h.update(key.thumbprint().as_bytes());
            }
            h.finalize().into()
        };
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryStore::new(self.cache_capacity)));
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemTime::now));
        Ok(TokenExchangeClient {
            inner: Arc::new(Inner {
                auth: self.auth,
                endpoint,
                fetcher,
                store,
                flights: Flights::default(),
                backoff: Backoff::new(self.backoff.0, self.backoff.1),
                namespace,
                skew: self.skew,
                failure_ttl: self.failure_ttl,
                clock,
                dpop_key: self.dpop_key,
                claim_wait: self.claim_wait,
                dpop_nonce: Mutex::new(None),
                telemetry: telemetry::Telemetry::new(),
            }),
        })
    }
}

impl fmt::Debug for TokenExchangeClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeClientBuilder")
            .field("auth", &self.auth)
            .field("token_endpoint", &self.token_endpoint)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}
