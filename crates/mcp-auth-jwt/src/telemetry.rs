//! What verification reports to OpenTelemetry (see `mcp_auth_core::telemetry`).

use std::time::Instant;

use mcp_auth_core::telemetry::{self, cache_lookups, lookup};
use mcp_auth_core::{AuthError, AuthErrorKind, Principal};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

/// How a verification was decided, the `path` attribute of its duration.
#[derive(Clone, Copy)]
pub(crate) enum Path {
    /// The token was remembered from an earlier verification.
    Cache,
    /// First sight, with keys at hand.
    Signature,
    /// First sight, after fetching the issuer's keys.
    KeysFetched,
    /// An opaque token, asked about at the issuer.
    Introspection,
}

impl Path {
    fn as_str(self) -> &'static str {
        match self {
            Self::Cache => "cache",
            Self::Signature => "signature",
            Self::KeysFetched => "keys_fetched",
            Self::Introspection => "introspection",
        }
    }
}

/// The verifier's instruments, created when it is built.
pub(crate) struct Telemetry {
    duration: Histogram<f64>,
    lookups: Counter<u64>,
    jwks_fetches: Counter<u64>,
}

impl Telemetry {
    pub(crate) fn new() -> Self {
        let meter = telemetry::meter();
        Self {
            duration: meter
                .f64_histogram("mcp_auth.token.verification.duration")
                .with_description(
                    "Time to verify a token, by path (cache, signature, keys_fetched, \
                     introspection) and outcome (valid, invalid, unavailable)",
                )
                .with_unit("s")
                .with_boundaries(vec![
                    0.000_001, 0.000_005, 0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01,
                    0.05, 0.1, 0.5, 1.0, 5.0,
                ])
                .build(),
            lookups: cache_lookups(&meter),
            jwks_fetches: meter
                .u64_counter("mcp_auth.jwks.fetches")
                .with_description("Fetches of an issuer's keys (discovery included), by outcome")
                .build(),
        }
    }

    /// One verification decided, timed from `started`.
    pub(crate) fn verified(
        &self,
        path: Path,
        started: Instant,
        result: &Result<Principal, AuthError>,
    ) {
        let outcome = match result {
            Ok(_) => "valid",
            Err(e) if e.kind() == AuthErrorKind::Unavailable => "unavailable",
            Err(_) => "invalid",
        };
        self.duration.record(
            started.elapsed().as_secs_f64(),
            &[
                KeyValue::new("path", path.as_str()),
                KeyValue::new("outcome", outcome),
            ],
        );
    }

    /// One look into the verified-token cache.
    pub(crate) fn looked_up(&self, hit: bool) {
        self.lookups.add(1, &lookup("token", hit));
    }

    /// One fetch of an issuer's keys.
    pub(crate) fn fetched(&self, issuer: &str, ok: bool) {
        self.jwks_fetches.add(
            1,
            &[
                KeyValue::new("issuer", issuer.to_owned()),
                KeyValue::new("outcome", if ok { "ok" } else { "error" }),
            ],
        );
    }
}
