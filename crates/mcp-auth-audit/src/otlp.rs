//! Audit events as OpenTelemetry log records, exported over OTLP/HTTP (protobuf) to a collector.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use serde_json::Value;

use crate::{AuditEvent, AuditSink, EventKind, SCHEMA_ID};

/// Records sent in one export at most.
const MAX_BATCH: usize = 512;

/// An [`AuditSink`] that exports events to an OpenTelemetry collector as log records
/// (OTLP/HTTP, protobuf, `POST <endpoint>/v1/logs`), and request metrics derived from them
/// (`POST <endpoint>/v1/metrics`, every 10 s and at shutdown, cumulative): `mcp_auth.requests`
/// and the `mcp_auth.request.duration` histogram (ms) by decision outcome, reason, MCP method and
/// tool (at most 1,000 series; past that, method and tool read `_other`), `mcp_auth.exchanges`
/// by outcome, and `mcp_auth.audit.dropped`.
///
/// Each record carries the event's fields as attributes (nested fields as dotted names:
/// `http.status`, `principal.subject`, `decision.reason`), the schema id `mcp-auth.audit/v1`,
/// the event as JSON in its body, and the request's trace context when it came with a
/// `traceparent`.
///
/// **Nothing is lost while the collector is away.** A batch that cannot be delivered is retried
/// with exponential back-off (100 ms doubling to 5 s, or the collector's `Retry-After`), and the
/// writer thread waits for it: the auditor's bounded queue fills, and its
/// [`Overflow`](crate::Overflow) policy decides what requests do meanwhile (wait, or be counted
/// as dropped, and reported in a `dropped` event once the collector is back). A batch is given
/// up only after [`give_up_after`](OtlpSink::give_up_after) of failures (counted in
/// [`OtlpStats::lost`]), or when the collector refuses the data itself (400, 415, 422); a batch
/// too large (413) is sent again in halves, and 401, 403, 404 or 408 are waited out like an
/// outage.
///
/// ```no_run
/// use mcp_auth_audit::{Auditor, OtlpSink, Overflow};
///
/// let auditor = Auditor::builder()
///     .sink(OtlpSink::new("http://otel-collector:4318").unwrap().service_name("notes-mcp"))
///     .overflow(Overflow::Wait)
///     .start();
/// # let _ = auditor;
/// ```
pub struct OtlpSink {
    url: String,
    metrics_url: String,
    metrics: Option<crate::otlp_metrics::RequestMetrics>,
    metrics_interval: Duration,
    last_metrics: Instant,
    service_name: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    batch: Vec<LogRecord>,
    give_up_after: Duration,
    stats: Arc<OtlpStats>,
}

/// What an [`OtlpSink`] delivered, retried and lost, for metrics and tests.
#[derive(Debug, Default)]
pub struct OtlpStats {
    exported: AtomicU64,
    retries: AtomicU64,
    lost: AtomicU64,
}

impl OtlpStats {
    /// Records the collector accepted.
    pub fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    /// Export attempts that failed and were retried.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Records given up (refused as malformed, or undeliverable past `give_up_after`).
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// The collector URL is not usable.
#[derive(Debug, thiserror::Error)]
#[error("OTLP endpoint: {0}")]
pub struct OtlpError(String);

impl OtlpSink {
    /// A sink exporting to the collector at `endpoint` (`http(s)://host:4318`; `/v1/logs` is
    /// appended unless the URL already ends with it).
    ///
    /// # Errors
    /// A URL that is not http(s), or no HTTP client or runtime could be made.
    pub fn new(endpoint: &str) -> Result<Self, OtlpError> {
        let parsed = url::Url::parse(endpoint).map_err(|e| OtlpError(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(OtlpError("the URL must be http or https".into()));
        }
        let trimmed = endpoint.trim_end_matches('/');
        let base = trimmed.strip_suffix("/v1/logs").unwrap_or(trimmed);
        let (url, metrics_url) = (format!("{base}/v1/logs"), format!("{base}/v1/metrics"));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OtlpError(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| OtlpError(e.to_string()))?;
        Ok(Self {
            url,
            metrics_url,
            metrics: Some(crate::otlp_metrics::RequestMetrics::new(unix_nanos(
                SystemTime::now(),
            ))),
            metrics_interval: Duration::from_secs(10),
            last_metrics: Instant::now(),
            service_name: "mcp-auth".into(),
            client,
            runtime,
            batch: Vec::new(),
            give_up_after: Duration::from_secs(600),
            stats: Arc::default(),
        })
    }

    /// `service.name` of the records' resource. Defaults to `mcp-auth`.
    #[must_use]
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// How long a batch is retried before it is given up (and counted lost). Defaults to 10
    /// minutes: past it, an audit trail that cannot leave the process would hold every
    /// request (under `Overflow::Wait`) for longer than any outage is worth.
    #[must_use]
    pub fn give_up_after(mut self, limit: Duration) -> Self {
        self.give_up_after = limit;
        self
    }

    /// Exports no metrics (by default the sink also sends request metrics derived from the
    /// events to `<endpoint>/v1/metrics`).
    #[must_use]
    pub fn without_metrics(mut self) -> Self {
        self.metrics = None;
        self
    }

    /// How often the metrics are exported (cumulative totals, so a failed export is made up
    /// by the next one). Defaults to 10 s; they are also exported when the auditor shuts down.
    #[must_use]
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics_interval = interval;
        self
    }

    /// Sends the metrics' totals once (no retry: the next export carries them again).
    fn export_metrics(&mut self) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        self.last_metrics = Instant::now();
        let body = metrics
            .export(self.resource(), unix_nanos(SystemTime::now()))
            .encode_to_vec();
        let url = self.metrics_url.clone();
        let sent = self.runtime.block_on(async {
            self.client
                .post(&url)
                .header("content-type", "application/x-protobuf")
                .body(body)
                .send()
                .await
                .map(|r| r.status().is_success())
        });
        if !matches!(sent, Ok(true)) {
            tracing::debug!("OTLP metrics export failed; the next one carries the totals");
        }
    }

    fn resource(&self) -> Resource {
        Resource {
            attributes: vec![text("service.name", &self.service_name)],
            ..Default::default()
        }
    }

    /// The sink's counters (shared: keep a clone before handing the sink to the auditor).
    pub fn stats(&self) -> Arc<OtlpStats> {
        self.stats.clone()
    }

    /// Sends the batch, retrying until the collector takes it or the limit passes.
    fn export(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let records = std::mem::take(&mut self.batch);
        self.export_records(records);
    }

    /// Sends `records`; a batch the collector finds too large is sent again in halves.
    fn export_records(&mut self, records: Vec<LogRecord>) {
        let count = records.len() as u64;
        let request = self.request(records);
        // Shared by every attempt; the records stay in `request` in case they must be halved.
        let body = bytes::Bytes::from(request.encode_to_vec());
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            match self.runtime.block_on(self.post(body.clone())) {
                Attempt::Delivered => {
                    self.stats.exported.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                Attempt::TooLarge if count > 1 => {
                    let mut first: Vec<LogRecord> = request
                        .resource_logs
                        .into_iter()
                        .flat_map(|r| r.scope_logs)
                        .flat_map(|s| s.log_records)
                        .collect();
                    let second = first.split_off(first.len() / 2);
                    self.export_records(first);
                    self.export_records(second);
                    return;
                }
                Attempt::TooLarge => {
                    tracing::error!(
                        count,
                        "OTLP collector refused one audit record as too large; it is lost"
                    );
                    self.stats.lost.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                Attempt::Refused(status) => {
                    tracing::error!(
                        count,
                        status,
                        "OTLP collector refused audit records as malformed; they are lost"
                    );
                    self.stats.lost.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                Attempt::Failed(why, retry_after) => {
                    if started.elapsed() >= self.give_up_after {
                        tracing::error!(count, %why, "OTLP collector unreachable past the retry limit; audit records are lost");
                        self.stats.lost.fetch_add(count, Ordering::Relaxed);
                        return;
                    }
                    if self
                        .stats
                        .retries
                        .fetch_add(1, Ordering::Relaxed)
                        .is_multiple_of(50)
                    {
                        tracing::warn!(count, %why, "OTLP collector unavailable; audit records wait and are retried");
                    }
                    std::thread::sleep(retry_after.unwrap_or(delay).min(Duration::from_secs(30)));
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn post(&self, body: bytes::Bytes) -> Attempt {
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(e) => return Attempt::Failed(e.to_string(), None),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs);
        // OTLP/HTTP names 429, 502, 503 and 504 retryable. A collector whose credentials
        // lapsed or that sits at another path (401, 403, 404, 408) is an outage to wait out,
        // not a verdict on the records; only a refusal of the data itself loses them.
        match status {
            200..=299 => Attempt::Delivered,
            413 => Attempt::TooLarge,
            400 | 415 | 422 => Attempt::Refused(status),
            _ => Attempt::Failed(format!("HTTP {status}"), retry_after),
        }
    }

    fn request(&self, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(self.resource()),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "mcp-auth.audit".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..Default::default()
                    }),
                    log_records: records,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }
}

enum Attempt {
    Delivered,
    TooLarge,
    Refused(u16),
    Failed(String, Option<Duration>),
}

impl AuditSink for OtlpSink {
    fn write(&mut self, event: &AuditEvent) {
        if let Some(metrics) = &mut self.metrics {
            metrics.record(event);
        }
        self.batch.push(record(event));
        if self.batch.len() >= MAX_BATCH {
            self.export();
        }
    }

    fn flush(&mut self) {
        self.export();
        if self.last_metrics.elapsed() >= self.metrics_interval {
            self.export_metrics();
        }
    }
}

impl Drop for OtlpSink {
    /// The last totals, when the auditor shuts down (on its writer thread; a sink dropped on
    /// an async runtime's thread, never handed to an auditor, cannot block there and sends none).
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_err() {
            self.export_metrics();
        }
    }
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl std::fmt::Debug for OtlpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpSink")
            .field("url", &self.url)
            .field("service_name", &self.service_name)
            .field("pending", &self.batch.len())
            .finish_non_exhaustive()
    }
}

/// One event as a log record.
pub(crate) fn record(event: &AuditEvent) -> LogRecord {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let time = humantime::parse_rfc3339(&event.time)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(now, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let json = serde_json::to_value(event).unwrap_or(Value::Null);
    let mut attributes = vec![text("mcp_auth.schema", SCHEMA_ID)];
    flatten("", &json, &mut attributes);
    let denied = event
        .decision
        .as_ref()
        .is_some_and(|d| d.outcome != "allowed");
    let (severity, severity_text) = match event.kind {
        EventKind::Dropped => (SeverityNumber::Warn, "WARN"),
        _ if denied => (SeverityNumber::Info2, "INFO"),
        _ => (SeverityNumber::Info, "INFO"),
    };
    let (trace_id, span_id) = event
        .trace
        .as_ref()
        .and_then(|t| Some((hex(&t.trace_id)?, hex(&t.span_id)?)))
        .unwrap_or_default();
    LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: now,
        severity_number: severity as i32,
        severity_text: severity_text.into(),
        event_name: format!("mcp_auth.audit.{}", kind_name(event.kind)),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(json.to_string())),
        }),
        attributes,
        trace_id,
        span_id,
        ..Default::default()
    }
}

fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Request => "request",
        EventKind::Exchange => "exchange",
        EventKind::Dropped => "dropped",
    }
}

pub(crate) fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// Nested objects become dotted names; arrays of scalars stay arrays; the rest is JSON text.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<KeyValue>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, value, out);
            }
        }
        Value::Null => {}
        other => {
            if let Some(value) = scalar(other).or_else(|| array(other)) {
                out.push(KeyValue {
                    key: prefix.into(),
                    value: Some(AnyValue { value: Some(value) }),
                    ..Default::default()
                });
            }
        }
    }
}

fn scalar(value: &Value) -> Option<any_value::Value> {
    Some(match value {
        Value::Bool(b) => any_value::Value::BoolValue(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => any_value::Value::IntValue(i),
            None => any_value::Value::DoubleValue(n.as_f64()?),
        },
        Value::String(s) => any_value::Value::StringValue(s.clone()),
        _ => return None,
    })
}

fn array(value: &Value) -> Option<any_value::Value> {
    let Value::Array(items) = value else {
        return None;
    };
    let values = items
        .iter()
        .map(|item| AnyValue {
            value: Some(
                scalar(item).unwrap_or_else(|| any_value::Value::StringValue(item.to_string())),
            ),
        })
        .collect();
    Some(any_value::Value::ArrayValue(ArrayValue { values }))
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
