//! Every layer's metrics and spans to an OpenTelemetry collector over OTLP/HTTP (feature
//! `otlp`).
//!
//! The layers report through the OpenTelemetry API to whatever providers are installed globally
//! when they are built. An application with its own OpenTelemetry SDK set up needs nothing from
//! here. One without can install [`OtlpTelemetry`] first: it sends the metrics every
//! [`metrics_interval`](OtlpTelemetryBuilder::metrics_interval) and the spans in batches to
//! `<endpoint>/v1/metrics` and `<endpoint>/v1/traces` (protobuf), on threads of its own.
//! Audit events go through [`OtlpSink`](crate::audit::OtlpSink), to the same collector.
//!
//! What is reported:
//! - `mcp_auth.token.verification.duration` (s): by `path` (`cache`, `signature`,
//!   `keys_fetched`, `introspection`) and `outcome` (`valid`, `invalid`, `unavailable`);
//! - `mcp_auth.cache.lookups`: by `cache` (`token`, `client_document`, `exchanged_token`) and
//!   `result` (`hit`, `miss`);
//! - `mcp_auth.jwks.fetches` by `issuer` and `outcome`; `mcp_auth.client_document.fetches` by
//!   `outcome`;
//! - `mcp_auth.token_exchange.duration` (s): by `outcome` and `contacted` (whether the call
//!   reached the authorization server);
//! - `mcp_auth.audit.queue.depth`, `mcp_auth.audit.queue.dropped`, `mcp_auth.audit.queue.waited`;
//! - `mcp_auth.redis.errors` by `reason`; `mcp_auth.redis.approvals.following` (0 while the
//!   last known approvals serve);
//! - spans `mcp_auth.jwks.fetch`, `mcp_auth.client_document.fetch`, `mcp_auth.token_exchange`
//!   and `mcp_auth.policy.decision` (a decision point that answers later), children of the
//!   `traceparent` of the request that caused them.
//!
//! ```no_run
//! use mcp_auth::telemetry::OtlpTelemetry;
//!
//! // Before the stack is built: its instruments come from the providers installed then.
//! let telemetry = OtlpTelemetry::builder("http://127.0.0.1:4318")
//!     .service_name("notes-mcp")
//!     .install()?;
//! // ... build the stack, serve ...
//! telemetry.flush()?; // dropped at exit, it flushes too
//! # Ok::<(), mcp_auth::telemetry::TelemetryError>(())
//! ```

use std::time::Duration;

use opentelemetry_otlp::{MetricExporter, Protocol, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;

/// Why telemetry could not be set up or flushed.
#[derive(Debug, thiserror::Error)]
#[error("OpenTelemetry: {0}")]
pub struct TelemetryError(String);

/// The installed providers; flushes and shuts them down when dropped.
#[derive(Debug)]
pub struct OtlpTelemetry {
    meters: SdkMeterProvider,
    tracers: SdkTracerProvider,
}

/// Configures [`OtlpTelemetry`].
#[derive(Debug, Clone)]
pub struct OtlpTelemetryBuilder {
    endpoint: String,
    service_name: String,
    interval: Duration,
}

impl OtlpTelemetry {
    /// Starts configuring export to the collector at `endpoint` (its base URL, e.g.
    /// `http://127.0.0.1:4318`).
    pub fn builder(endpoint: impl Into<String>) -> OtlpTelemetryBuilder {
        OtlpTelemetryBuilder {
            endpoint: endpoint.into(),
            service_name: "mcp-server".into(),
            interval: Duration::from_secs(10),
        }
    }

    /// Exports every metric and every ended span now.
    ///
    /// # Errors
    /// When the collector could not be reached.
    pub fn flush(&self) -> Result<(), TelemetryError> {
        self.tracers
            .force_flush()
            .map_err(|e| TelemetryError(e.to_string()))?;
        self.meters
            .force_flush()
            .map_err(|e| TelemetryError(e.to_string()))
    }
}

impl Drop for OtlpTelemetry {
    fn drop(&mut self) {
        // Errors have been logged by the SDK; nothing else to do at exit.
        let _ = self.tracers.shutdown();
        let _ = self.meters.shutdown();
    }
}

impl OtlpTelemetryBuilder {
    /// The `service.name` resource attribute. Defaults to `mcp-server`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// How often metrics are exported. Defaults to 10 seconds.
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Builds the exporters and installs the providers globally.
    ///
    /// # Errors
    /// An endpoint that is not a URL, or an HTTP client that cannot be built.
    pub fn install(self) -> Result<OtlpTelemetry, TelemetryError> {
        let base = self.endpoint.trim_end_matches('/');
        url::Url::parse(base).map_err(|e| TelemetryError(format!("`{base}`: {e}")))?;
        let fail = |e: opentelemetry_otlp::ExporterBuildError| TelemetryError(e.to_string());
        let resource = Resource::builder()
            .with_service_name(self.service_name)
            .build();
        let metrics = MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{base}/v1/metrics"))
            .build()
            .map_err(fail)?;
        let spans = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{base}/v1/traces"))
            .build()
            .map_err(fail)?;
        let meters = SdkMeterProvider::builder()
            .with_reader(
                PeriodicReader::builder(metrics)
                    .with_interval(self.interval)
                    .build(),
            )
            .with_resource(resource.clone())
            .build();
        let tracers = SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(resource)
            .build();
        opentelemetry::global::set_meter_provider(meters.clone());
        opentelemetry::global::set_tracer_provider(tracers.clone());
        Ok(OtlpTelemetry { meters, tracers })
    }
}
