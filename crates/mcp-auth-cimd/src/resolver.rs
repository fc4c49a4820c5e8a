//! Fetching, validating and caching client metadata documents.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_auth_core::telemetry::{self, lookup};
use mcp_auth_fetch::{FetchError, FetchPolicy, Fetcher};
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use quick_cache::sync::Cache;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::{CimdUrl, ClientInfo, ResolveError};

/// Largest client metadata document read, in bytes (5 KiB, as the draft suggests).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;

type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;
type Flight = Arc<OnceCell<Result<ClientInfo, ResolveError>>>;

/// Resolves client ids to validated [`ClientInfo`]: URL rules, a guarded fetch, document
/// validation, and a bounded cache. Usable without tower, e.g. by an authorization server.
///
/// - **Fetching** goes through [`mcp_auth_fetch::Fetcher`]: a short timeout (3 s by default),
///   at most [`MAX_DOCUMENT_BYTES`], no redirects, a JSON media type, and no private, loopback,
///   link-local or cloud-metadata address, with the resolved address pinned for the connection.
///   `http` and loopback only under [`FetchPolicy::allow_loopback`], the development switch.
/// - **Caching** keeps a valid document for its `Cache-Control: max-age`, clamped to
///   `[min_freshness, max_freshness]` (defaults 1 minute and 24 hours; 10 minutes when the
///   response says nothing). Failures and invalid documents are never cached.
/// - **Single flight**: concurrent lookups of one URL share one fetch and its outcome.
///
/// Cloning shares the cache.
///
/// ```no_run
/// use mcp_auth_cimd::ClientResolver;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let resolver = ClientResolver::builder().build()?;
/// let client = resolver.resolve("https://app.example.com/oauth/client.json").await?;
/// println!("{} ({}), redirects to {:?}", client.name(), client.host(), client.redirect_hosts());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientResolver {
    inner: Arc<Inner>,
}

struct Inner {
    fetcher: Fetcher,
    cache: Cache<String, Cached>,
    flights: Mutex<HashMap<String, Flight>>,
    max_in_flight: usize,
    min_freshness: Duration,
    max_freshness: Duration,
    default_freshness: Duration,
    clock: Clock,
    telemetry: Telemetry,
}

/// The resolver's instruments, created when it is built.
struct Telemetry {
    lookups: Counter<u64>,
    fetches: Counter<u64>,
}

#[derive(Clone)]
struct Cached {
    info: ClientInfo,
    expires_at: Instant,
}

impl ClientResolver {
    /// Starts a resolver configuration.
    pub fn builder() -> ClientResolverBuilder {
        ClientResolverBuilder {
            policy: FetchPolicy::default().timeout(Duration::from_secs(3)),
            fetcher: None,
            cache_capacity: 1024,
            max_in_flight: 256,
            min_freshness: Duration::from_secs(60),
            max_freshness: Duration::from_secs(24 * 3600),
            default_freshness: Duration::from_secs(600),
            clock: None,
        }
    }

    /// True when the development switch admits `http://` and loopback document URLs.
    pub fn allows_loopback(&self) -> bool {
        self.inner.fetcher.policy().allows_loopback()
    }

    /// Applies the URL rules (with this resolver's development switch).
    ///
    /// # Errors
    /// The rule the id breaks.
    pub fn check_url(&self, client_id: &str) -> Result<CimdUrl, ResolveError> {
        Ok(CimdUrl::parse(client_id, self.allows_loopback())?)
    }

    /// The cached client, if a fresh entry exists. Never fetches: the synchronous hot path.
    /// Counted as a lookup of the `client_document` cache.
    pub fn cached(&self, client_id: &str) -> Option<ClientInfo> {
        let found = self.fresh(client_id);
        self.inner
            .telemetry
            .lookups
            .add(1, &lookup("client_document", found.is_some()));
        found
    }

    fn fresh(&self, client_id: &str) -> Option<ClientInfo> {
        let cached = self.inner.cache.get(client_id)?;
        ((self.inner.clock)() < cached.expires_at).then_some(cached.info)
    }

    /// Resolves a client id: from the cache when fresh, else by fetching and validating its
    /// document (one fetch however many concurrent lookups of the same id).
    ///
    /// # Errors
    /// See [`ResolveError`]; [`ResolveError::is_transient`] tells outages from refusals.
    pub async fn resolve(&self, client_id: &str) -> Result<ClientInfo, ResolveError> {
        if let Some(info) = self.fresh(client_id) {
            return Ok(info);
        }
        let url = self.check_url(client_id)?;
        let flight = self.join_flight(client_id)?;
        let outcome = flight
            .get_or_init(|| async {
                // A flight that finished between the cache check and joining left its result.
                if let Some(info) = self.fresh(client_id) {
                    return Ok(info);
                }
                let outcome = self.fetch(&url).await;
                match &outcome {
                    Ok((info, fresh_for)) => {
                        tracing::debug!(client_id, ?fresh_for, "client metadata document cached");
                        self.inner.cache.insert(
                            client_id.to_owned(),
                            Cached {
                                info: info.clone(),
                                expires_at: (self.inner.clock)() + *fresh_for,
                            },
                        );
                    }
                    Err(error) => {
                        tracing::warn!(client_id, %error, "client metadata document refused")
                    }
                }
                outcome.map(|(info, _)| info)
            })
            .await
            .clone();
        self.leave_flight(client_id, &flight);
        outcome
    }

    /// Fetches and validates the document now, bypassing the cache and leaving it untouched
    /// (for an operator inspecting a client).
    ///
    /// # Errors
    /// See [`ResolveError`].
    pub async fn resolve_uncached(&self, client_id: &str) -> Result<ClientInfo, ResolveError> {
        let url = self.check_url(client_id)?;
        self.fetch(&url).await.map(|(info, _)| info)
    }

    /// Drops a cached entry, so the next lookup fetches again.
    pub fn invalidate(&self, client_id: &str) {
        self.inner.cache.remove(client_id);
    }

    /// Number of cached entries (fresh or stale).
    pub fn cached_len(&self) -> usize {
        self.inner.cache.len()
    }

    /// Number of fetches in progress (distinct URLs).
    pub fn in_flight(&self) -> usize {
        self.lock_flights().len()
    }

    /// Fetches and validates one document, counted and traced.
    async fn fetch(&self, url: &CimdUrl) -> Result<(ClientInfo, Duration), ResolveError> {
        let span = telemetry::start_span(
            "mcp_auth.client_document.fetch",
            vec![KeyValue::new("client_id", url.as_str().to_owned())],
        );
        let outcome = self.fetch_uncounted(url).await;
        let label = match &outcome {
            Ok(_) => "ok",
            Err(e) if e.is_transient() => "unavailable",
            Err(_) => "refused",
        };
        self.inner
            .telemetry
            .fetches
            .add(1, &[KeyValue::new("outcome", label)]);
        telemetry::end_span(span, &outcome);
        outcome
    }

    async fn fetch_uncounted(&self, url: &CimdUrl) -> Result<(ClientInfo, Duration), ResolveError> {
        let response = self
            .inner
            .fetcher
            .get_limited(url.as_str(), "application/json", MAX_DOCUMENT_BYTES)
            .await
            .map_err(ResolveError::from_fetch)?;
        response
            .require_success()
            .map_err(ResolveError::from_fetch)?;
        let document: Value = response.json().map_err(ResolveError::from_fetch)?;
        let info = ClientInfo::from_document(url, &document)?;
        let fresh_for = response.freshness(
            self.inner.min_freshness,
            self.inner.max_freshness,
            self.inner.default_freshness,
        );
        Ok((info, fresh_for))
    }

    fn lock_flights(&self) -> std::sync::MutexGuard<'_, HashMap<String, Flight>> {
        self.inner
            .flights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn join_flight(&self, client_id: &str) -> Result<Flight, ResolveError> {
        let mut flights = self.lock_flights();
        if let Some(flight) = flights.get(client_id) {
            return Ok(flight.clone());
        }
        if flights.len() >= self.inner.max_in_flight {
            // Flights whose every waiter went away (cancelled requests) hold no one up.
            flights.retain(|_, f| Arc::strong_count(f) > 1 && !f.initialized());
            if flights.len() >= self.inner.max_in_flight {
                return Err(ResolveError::Busy);
            }
        }
        let flight = Flight::default();
        flights.insert(client_id.to_owned(), flight.clone());
        Ok(flight)
    }

    fn leave_flight(&self, client_id: &str, flight: &Flight) {
        let mut flights = self.lock_flights();
        if flights
            .get(client_id)
            .is_some_and(|f| Arc::ptr_eq(f, flight))
        {
            flights.remove(client_id);
        }
    }
}

impl fmt::Debug for ClientResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientResolver")
            .field("allows_loopback", &self.allows_loopback())
            .field("cached", &self.cached_len())
            .field("min_freshness", &self.inner.min_freshness)
            .field("max_freshness", &self.inner.max_freshness)
            .finish_non_exhaustive()
    }
}

/// Configures a [`ClientResolver`]. See [`ClientResolver::builder`].
#[must_use]
pub struct ClientResolverBuilder {
    policy: FetchPolicy,
    fetcher: Option<Fetcher>,
    cache_capacity: usize,
    max_in_flight: usize,
    min_freshness: Duration,
    max_freshness: Duration,
    default_freshness: Duration,
    clock: Option<Clock>,
}

impl ClientResolverBuilder {
    /// The outbound rules. Defaults to [`FetchPolicy::default`] with a 3 s timeout. The body
    /// limit is always [`MAX_DOCUMENT_BYTES`], whatever the policy says.
    pub fn fetch_policy(mut self, policy: FetchPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Shares an existing fetcher (its policy applies) instead of building one.
    pub fn fetcher(mut self, fetcher: Fetcher) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// Most clients cached. Defaults to 1024.
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// Most distinct documents fetched at once; lookups beyond it fail with
    /// [`ResolveError::Busy`] (503). Defaults to 256.
    pub fn max_in_flight(mut self, fetches: usize) -> Self {
        self.max_in_flight = fetches;
        self
    }

    /// Bounds on how long a document is reused, and the lifetime when the response has no
    /// `max-age`. `no-store` and `no-cache` get `min`. Defaults: 1 minute, 24 hours, 10 minutes.
    pub fn freshness(mut self, min: Duration, max: Duration, default: Duration) -> Self {
        self.min_freshness = min;
        self.max_freshness = max;
        self.default_freshness = default;
        self
    }

    /// The clock cache lifetimes are measured with. Defaults to [`Instant::now`]; tests inject
    /// their own to move time without waiting.
    pub fn clock(mut self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Builds the resolver.
    ///
    /// # Errors
    /// A zero capacity or in-flight limit, `min` above `max`, or a fetch policy whose client
    /// cannot be built (e.g. a bad root certificate).
    pub fn build(self) -> Result<ClientResolver, ResolverConfigError> {
        if self.cache_capacity == 0 {
            return Err(ResolverConfigError::Capacity);
        }
        if self.max_in_flight == 0 {
            return Err(ResolverConfigError::MaxInFlight);
        }
        if self.min_freshness > self.max_freshness {
            return Err(ResolverConfigError::Freshness);
        }
        let fetcher = match self.fetcher {
            Some(fetcher) => fetcher,
            None => Fetcher::new(self.policy)?,
        };
        Ok(ClientResolver {
            inner: Arc::new(Inner {
                fetcher,
                cache: Cache::new(self.cache_capacity),
                flights: Mutex::new(HashMap::new()),
                max_in_flight: self.max_in_flight,
                min_freshness: self.min_freshness,
                max_freshness: self.max_freshness,
                default_freshness: self.default_freshness,
                clock: self.clock.unwrap_or_else(|| Arc::new(Instant::now)),
                telemetry: Telemetry::new(),
            }),
        })
    }
}

/// Why [`ClientResolverBuilder::build`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolverConfigError {
    /// `cache_capacity` is zero.
    #[error("`cache_capacity` must be at least 1")]
    Capacity,
    /// `max_in_flight` is zero.
    #[error("`max_in_flight` must be at least 1")]
    MaxInFlight,
    /// `min` freshness above `max`.
    #[error("`freshness`: the minimum must not exceed the maximum")]
    Freshness,
    /// The fetch policy is unusable.
    #[error("`fetch_policy`: {0}")]
    Fetch(#[from] FetchError),
}

impl Telemetry {
    fn new() -> Self {
        let meter = telemetry::meter();
        Self {
            lookups: telemetry::cache_lookups(&meter),
            fetches: meter
                .u64_counter("mcp_auth.client_document.fetches")
                .with_description(
                    "Client ID Metadata Document fetches, by outcome (ok, refused, unavailable)",
                )
                .build(),
        }
    }
}
