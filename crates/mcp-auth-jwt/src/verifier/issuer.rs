//! Per-issuer key state: discovery, JWKS fetches, single-flight and rate-limited refreshes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mcp_auth_fetch::{FetchError, Fetcher};
use serde_json::Value;

use crate::config::{IssuerConfig, KeySource};
use crate::jwks::{VerificationKey, parse_jwks};

/// The first retry delay after a failed fetch, before keys were ever obtained.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Bounds on how long a fetched JWKS is considered fresh.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Freshness {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    pub(crate) default: Duration,
}

pub(crate) struct IssuerState {
    pub(crate) config: IssuerConfig,
    /// The JWKS URL, once known (configured, or found by discovery).
    jwks_uri: Mutex<Option<String>>,
    /// The introspection endpoint, once known (configured, or found by discovery).
    introspection_endpoint: Mutex<Option<String>>,
    /// Serialises refreshes: one fetch at a time, later callers wait and reuse its result.
    pub(crate) refresh_gate: tokio::sync::Mutex<()>,
    /// Milliseconds since `epoch` of the last fetch attempt, plus one (0 = never).
    last_attempt: AtomicU64,
    /// Failed fetches since keys were last obtained; `u32::MAX` once keys have been obtained
    /// (then the full refresh interval applies).
    failures_without_keys: AtomicU32,
    epoch: Instant,
}

pub(crate) struct Fetched {
    pub(crate) keys: Vec<VerificationKey>,
    pub(crate) skipped: Vec<String>,
    pub(crate) fresh_for: Duration,
}

impl IssuerState {
    pub(crate) fn new(config: IssuerConfig, epoch: Instant) -> Self {
        let jwks_uri = match &config.keys {
            KeySource::JwksUri(uri) => Some(uri.clone()),
            _ => None,
        };
        let introspection_endpoint = config
            .introspection
            .as_ref()
            .and_then(|i| i.endpoint.clone());
        Self {
            config,
            jwks_uri: Mutex::new(jwks_uri),
            introspection_endpoint: Mutex::new(introspection_endpoint),
            refresh_gate: tokio::sync::Mutex::new(()),
            last_attempt: AtomicU64::new(0),
            failures_without_keys: AtomicU32::new(0),
            epoch,
        }
    }

    /// True when the keys come from the network.
    pub(crate) fn is_remote(&self) -> bool {
        matches!(
            self.config.keys,
            KeySource::Discovery | KeySource::JwksUri(_)
        )
    }

    /// Time until another fetch is allowed (zero when it is allowed now).
    ///
    /// Until keys have been obtained once, retries back off from one second (doubling up to
    /// `interval`): an issuer that is not up yet when the server starts (as in a compose file)
    /// is reached within seconds, not after a whole refresh interval of 503s.
    pub(crate) fn refresh_wait(&self, interval: Duration) -> Duration {
        if !self.is_remote() {
            return Duration::MAX;
        }
        let last = self.last_attempt.load(Ordering::Acquire);
        if last == 0 {
            return Duration::ZERO;
        }
        let interval = match self.failures_without_keys.load(Ordering::Acquire) {
            u32::MAX => interval,
            failures => interval.min(FIRST_RETRY * 2u32.pow(failures.saturating_sub(1).min(10))),
        };
        let since = self
            .epoch
            .elapsed()
            .saturating_sub(Duration::from_millis(last - 1));
        interval.saturating_sub(since)
    }

    /// True when waiting for keys is worth it: a fetch is allowed now, or one is under way.
    pub(crate) fn may_fetch_now(&self, interval: Duration) -> bool {
        self.refresh_wait(interval).is_zero() || self.refresh_gate.try_lock().is_err()
    }

    /// Records how a fetch ended, for the back-off before keys are first obtained.
    pub(crate) fn record_outcome(&self, fetched: bool) {
        if fetched {
            self.failures_without_keys
                .store(u32::MAX, Ordering::Release);
        } else {
            let _ =
                self.failures_without_keys
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                        (n != u32::MAX).then(|| n.saturating_add(1).min(u32::MAX - 1))
                    });
        }
    }

    pub(crate) fn mark_attempt(&self) {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        self.last_attempt.store(now, Ordering::Release);
    }

    /// Fetches the issuer's JWKS (discovering its URL first if needed).
    pub(crate) async fn fetch(
        &self,
        fetcher: &Fetcher,
        freshness: Freshness,
    ) -> Result<Fetched, String> {
        let uri = match self.known_jwks_uri() {
            Some(uri) => uri,
            None => {
                let base = self
                    .config
                    .metadata_base
                    .as_deref()
                    .unwrap_or(&self.config.issuer);
                let uri = discover(fetcher, base, &self.config.issuer).await?;
                *self.jwks_uri.lock().expect("jwks_uri") = Some(uri.clone());
                uri
            }
        };
        let result = fetcher.get_json::<Value>(&uri).await;
        let (document, response) = match result {
            Ok(ok) => ok,
            Err(e) => {
                if matches!(self.config.keys, KeySource::Discovery)
                    && matches!(
                        e,
                        FetchError::Status {
                            status: 404 | 410,
                            ..
                        }
                    )
                {
                    // The issuer may have moved its JWKS: discover again next time.
                    *self.jwks_uri.lock().expect("jwks_uri") = None;
                }
                return Err(e.to_string());
            }
        };
        let (keys, skipped) = parse_jwks(&document).map_err(|e| format!("`{uri}`: {e}"))?;
        if keys.is_empty() {
            return Err(format!(
                "`{uri}` holds no usable signing key ({})",
                skipped.join("; ")
            ));
        }
        let fresh_for = response.freshness(freshness.min, freshness.max, freshness.default);
        Ok(Fetched {
            keys,
            skipped,
            fresh_for,
        })
    }

    /// The introspection endpoint: configured, or named by the issuer's metadata.
    pub(crate) async fn introspection_endpoint(&self, fetcher: &Fetcher) -> Result<String, String> {
        if let Some(known) = self
            .introspection_endpoint
            .lock()
            .expect("endpoint")
            .clone()
        {
            return Ok(known);
        }
        let found = mcp_auth_fetch::discovery::discover_from(
            fetcher,
            self.config.metadata_location(),
            &self.config.issuer,
        )
        .await
        .map_err(|e| e.to_string())?;
        let endpoint = found
            .text("introspection_endpoint")
            .ok_or_else(|| format!("`{}` has no `introspection_endpoint`", found.url))?
            .to_owned();
        fetcher.check_url(&endpoint).map_err(|e| e.to_string())?;
        *self.introspection_endpoint.lock().expect("endpoint") = Some(endpoint.clone());
        Ok(endpoint)
    }

    fn known_jwks_uri(&self) -> Option<String> {
        self.jwks_uri.lock().expect("jwks_uri").clone()
    }
}

/// Finds the issuer's `jwks_uri` in the metadata under `base` (the document's `issuer` must
/// equal ours).
pub(crate) async fn discover(
    fetcher: &Fetcher,
    base: &str,
    issuer: &str,
) -> Result<String, String> {
    let found = mcp_auth_fetch::discovery::discover_from(fetcher, base, issuer)
        .await
        .map_err(|e| e.to_string())?;
    match found.text("jwks_uri") {
        Some(uri) => Ok(uri.to_owned()),
        None => Err(format!("`{}` has no `jwks_uri`", found.url)),
    }
}
