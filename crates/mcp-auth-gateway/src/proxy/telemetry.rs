//! What forwarding reports to OpenTelemetry (see `mcp_auth::core::telemetry`): how long the
//! servers behind the gateway take to start answering, and how often they fail. Attributes are
//! the route (from configuration) and an outcome from a fixed set, never anything a request
//! says.

use std::sync::Arc;
use std::time::Duration;

use mcp_auth::core::telemetry;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Histogram;

use super::UpstreamFailure;

/// One route's instruments, created when the route is built.
pub(super) struct Telemetry {
    duration: Histogram<f64>,
    route: Arc<str>,
}

impl Telemetry {
    pub(super) fn new(route: Arc<str>) -> Self {
        Self {
            duration: telemetry::meter()
                .f64_histogram("mcp_auth.gateway.upstream.duration")
                .with_description(
                    "Time until the server behind the gateway started answering (or failed), \
                     by route and outcome (2xx, 3xx, 4xx, 5xx, or why the gateway answered: \
                     unreachable, timed_out, refused_credentials, no_credentials)",
                )
                .with_unit("s")
                .with_boundaries(vec![
                    0.000_5, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0, 60.0,
                ])
                .build(),
            route,
        }
    }

    /// The server answered with `status`.
    pub(super) fn answered(&self, elapsed: Duration, status: u16) {
        let class = match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.record(elapsed, class);
    }

    /// The gateway answered for the server.
    pub(super) fn failed(&self, elapsed: Duration, failure: UpstreamFailure) {
        self.record(elapsed, failure.as_str());
    }

    fn record(&self, elapsed: Duration, outcome: &'static str) {
        self.duration.record(
            elapsed.as_secs_f64(),
            &[
                KeyValue::new("route", self.route.clone()),
                KeyValue::new("outcome", outcome),
            ],
        );
    }
}
