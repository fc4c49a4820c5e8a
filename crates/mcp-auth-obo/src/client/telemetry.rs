//! What token exchange reports to OpenTelemetry (see `mcp_auth_core::telemetry`).

use std::time::Duration;

use mcp_auth_core::telemetry::{self, cache_lookups, lookup};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

use crate::error::ExchangeError;
use crate::token::ExchangedToken;

/// The client's instruments, created when it is built.
pub(super) struct Telemetry {
    lookups: Counter<u64>,
    duration: Histogram<f64>,
}

impl Telemetry {
    pub(super) fn new() -> Self {
        let meter = telemetry::meter();
        Self {
            lookups: cache_lookups(&meter),
            duration: meter
                .f64_histogram("mcp_auth.token_exchange.duration")
                .with_description(
                    "Time to obtain a downstream token, by outcome (ok, refused, unavailable, \
                     invalid_response, misconfigured, invalid_request, scope_narrowed) and whether this call asked the \
                     authorization server",
                )
                .with_unit("s")
                .with_boundaries(vec![
                    0.000_01, 0.000_1, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    5.0, 10.0,
                ])
                .build(),
        }
    }

    /// One look into the exchanged-token store.
    pub(super) fn looked_up(&self, hit: bool) {
        self.lookups.add(1, &lookup("exchanged_token", hit));
    }

    /// One call answered after `elapsed`; `contacted` when this call's request reached the
    /// authorization server.
    pub(super) fn answered(
        &self,
        elapsed: Duration,
        contacted: bool,
        result: &Result<ExchangedToken, ExchangeError>,
    ) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(ExchangeError::Refused { .. }) => "refused",
            Err(ExchangeError::Unavailable { .. }) => "unavailable",
            Err(ExchangeError::InvalidResponse(_)) => "invalid_response",
            Err(ExchangeError::Misconfigured(_)) => "misconfigured",
            Err(ExchangeError::InvalidRequest(_)) => "invalid_request",
            Err(ExchangeError::ScopeNarrowed { .. }) => "scope_narrowed",
            Err(ExchangeError::NotAllowed { .. }) => "not_allowed",
        };
        self.duration.record(
            elapsed.as_secs_f64(),
            &[
                KeyValue::new("outcome", outcome),
                KeyValue::new("contacted", contacted),
            ],
        );
    }
}
