//! An OTLP/HTTP receiver on 127.0.0.1 built on the official protobuf definitions
//! (`opentelemetry-proto`), behaving as the OpenTelemetry Collector's `otlphttp` receiver
//! documents (<https://opentelemetry.io/docs/specs/otlp/#otlphttp>): `POST /v1/logs`,
//! `/v1/metrics` and `/v1/traces` with a protobuf `Export*ServiceRequest`, answered `200` with
//! the matching protobuf response; a malformed body is `400`. It keeps everything it was sent
//! and can be stopped and started again on the same port, as a collector outage.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::net::TcpListener;

/// Everything the receiver was sent, in arrival order.
#[derive(Debug, Default)]
pub struct Received {
    /// Log records (audit events).
    pub logs: Vec<LogRecord>,
    /// Every metrics export, whole (exports are cumulative: the latest holds the totals).
    pub metrics: Vec<ExportMetricsServiceRequest>,
    /// Spans.
    pub spans: Vec<Span>,
    /// The `service.name` of every resource seen.
    pub service_names: HashSet<String>,
}

impl Received {
    /// The metric `name` as its latest export carries it.
    pub fn latest_metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().rev().find_map(|export| {
            export
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .find(|m| m.name == name)
        })
    }

    /// The total of the sum or gauge `name` over its points whose attributes include `having`
    /// (0 when it never arrived).
    pub fn total(&self, name: &str, having: &[(&str, &str)]) -> i64 {
        let points = match self.latest_metric(name).and_then(|m| m.data.as_ref()) {
            Some(metric::Data::Sum(sum)) => &sum.data_points,
            Some(metric::Data::Gauge(gauge)) => &gauge.data_points,
            _ => return 0,
        };
        points
            .iter()
            .filter(|p| has(&p.attributes, having))
            .map(|p| match p.value {
                Some(number_data_point::Value::AsInt(n)) => n,
                // Whole numbers only are counted here.
                Some(number_data_point::Value::AsDouble(x)) => x as i64,
                None => 0,
            })
            .sum()
    }

    /// How many measurements the histogram `name` holds over its points whose attributes
    /// include `having` (0 when it never arrived).
    pub fn histogram_count(&self, name: &str, having: &[(&str, &str)]) -> u64 {
        match self.latest_metric(name).and_then(|m| m.data.as_ref()) {
            Some(metric::Data::Histogram(histogram)) => histogram
                .data_points
                .iter()
                .filter(|p| has(&p.attributes, having))
                .map(|p| p.count)
                .sum(),
            _ => 0,
        }
    }

    /// The spans called `name`.
    pub fn spans_named(&self, name: &str) -> Vec<&Span> {
        self.spans.iter().filter(|s| s.name == name).collect()
    }

    fn saw(&mut self, resource: Option<&Resource>) {
        for attribute in resource
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default()
        {
            if attribute.key == "service.name"
                && let Some(name) = text_value(attribute.value.as_ref())
            {
                self.service_names.insert(name.to_owned());
            }
        }
    }
}

/// Whether `attributes` include every `(key, value)` of `having` (booleans as `true`/`false`).
fn has(attributes: &[KeyValue], having: &[(&str, &str)]) -> bool {
    having.iter().all(|(key, value)| {
        attributes.iter().any(|a| {
            a.key == *key
                && match a.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s == value,
                    Some(any_value::Value::BoolValue(b)) => b.to_string() == *value,
                    _ => false,
                }
        })
    })
}

/// The string value of an attribute named `key`, if it has one.
pub fn text_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    text_value(attributes.iter().find(|a| a.key == key)?.value.as_ref())
}

fn text_value(value: Option<&AnyValue>) -> Option<&str> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// The receiver. See the [module docs](self).
#[derive(Debug)]
pub struct OtlpReceiver {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl OtlpReceiver {
    /// Starts on an ephemeral port of 127.0.0.1.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let receiver = Self {
            addr: listener.local_addr().expect("local address"),
            received: Arc::default(),
            task: Mutex::new(None),
        };
        receiver.serve(listener);
        receiver
    }

    /// The base URL exporters are given (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What arrived so far.
    pub fn received(&self) -> MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The collector goes away: its port refuses connections.
    pub async fn stop(&self) {
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// And comes back on the same port.
    ///
    /// # Panics
    /// When the port was taken meanwhile.
    pub async fn restart(&self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("the port is free again");
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let (logs, metrics, traces) = (
            self.received.clone(),
            self.received.clone(),
            self.received.clone(),
        );
        let app = axum::Router::new()
            .route(
                "/v1/logs",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| async move {
                    accept::<ExportLogsServiceRequest, ExportLogsServiceResponse>(
                        &headers,
                        body,
                        |request| {
                            let mut received = lock(&logs);
                            for resource in request.resource_logs {
                                received.saw(resource.resource.as_ref());
                                for scope in resource.scope_logs {
                                    received.logs.extend(scope.log_records);
                                }
                            }
                        },
                    )
                }),
            )
            .route(
                "/v1/metrics",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| async move {
                    accept::<ExportMetricsServiceRequest, ExportMetricsServiceResponse>(
                        &headers,
                        body,
                        |request| {
                            let mut received = lock(&metrics);
                            for resource in &request.resource_metrics {
                                received.saw(resource.resource.as_ref());
                            }
                            received.metrics.push(request);
                        },
                    )
                }),
            )
            .route(
                "/v1/traces",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| async move {
                    accept::<ExportTraceServiceRequest, ExportTraceServiceResponse>(
                        &headers,
                        body,
                        |request| {
                            let mut received = lock(&traces);
                            for resource in request.resource_spans {
                                received.saw(resource.resource.as_ref());
                                for scope in resource.scope_spans {
                                    received.spans.extend(scope.spans);
                                }
                            }
                        },
                    )
                }),
            );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }
}

fn lock(received: &Mutex<Received>) -> MutexGuard<'_, Received> {
    received.lock().unwrap_or_else(|p| p.into_inner())
}

/// Decodes one export and answers as the collector does.
fn accept<Req: Message + Default, Resp: Message + Default>(
    headers: &HeaderMap,
    body: Bytes,
    keep: impl FnOnce(Req),
) -> (StatusCode, [(&'static str, &'static str); 1], Vec<u8>) {
    let protobuf = [("content-type", "application/x-protobuf")];
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some(protobuf[0].1) {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, protobuf, Vec::new());
    }
    match Req::decode(body) {
        Ok(request) => {
            keep(request);
            (StatusCode::OK, protobuf, Resp::default().encode_to_vec())
        }
        Err(_) => (StatusCode::BAD_REQUEST, protobuf, Vec::new()),
    }
}
