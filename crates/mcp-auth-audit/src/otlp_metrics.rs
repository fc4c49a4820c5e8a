//! Request metrics derived from the audit events, as OTLP cumulative sums and histograms.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::{AuditEvent, EventKind};

/// Upper bounds (milliseconds) of the request-duration histogram's buckets.
const BOUNDS_MS: [f64; 13] = [
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];
/// Distinct attribute sets kept per metric; beyond, method and tool are reported as `_other`
/// (they come from requests, which anyone can send).
const MAX_SERIES: usize = 1000;
/// What replaces a value past the series limit.
const OTHER: &str = "_other";

/// Attributes of one request series: outcome, reason, MCP method, tool.
type RequestKey = [String; 4];

#[derive(Default)]
struct Durations {
    count: u64,
    sum_ms: f64,
    buckets: [u64; BOUNDS_MS.len() + 1],
}

/// Totals since the sink started.
pub(crate) struct RequestMetrics {
    start_unix_nano: u64,
    requests: HashMap<RequestKey, Durations>,
    exchanges: HashMap<String, u64>,
    dropped: u64,
}

impl RequestMetrics {
    pub(crate) fn new(start_unix_nano: u64) -> Self {
        Self {
            start_unix_nano,
            requests: HashMap::new(),
            exchanges: HashMap::new(),
            dropped: 0,
        }
    }

    /// Counts one event.
    pub(crate) fn record(&mut self, event: &AuditEvent) {
        match event.kind {
            EventKind::Request => {
                let decision = event.decision.as_ref();
                let message = event.mcp.as_ref().and_then(|m| m.messages.first());
                let tool = message
                    .filter(|m| m.target_kind == Some("tool"))
                    .and_then(|m| m.target.clone())
                    .unwrap_or_default();
                let mut key = [
                    decision.map_or("", |d| d.outcome).to_owned(),
                    decision.and_then(|d| d.reason).unwrap_or("").to_owned(),
                    message.and_then(|m| m.method.clone()).unwrap_or_default(),
                    tool,
                ];
                if !self.requests.contains_key(&key) && self.requests.len() >= MAX_SERIES {
                    key[2] = OTHER.into();
                    key[3] = OTHER.into();
                }
                let durations = self.requests.entry(key).or_default();
                let ms = event.latency_ms.unwrap_or(0.0);
                durations.count += 1;
                durations.sum_ms += ms;
                let bucket = BOUNDS_MS.iter().take_while(|b| ms > **b).count();
                durations.buckets[bucket] += 1;
            }
            EventKind::Exchange => {
                for exchange in &event.exchanges {
                    *self.exchanges.entry(exchange.outcome.clone()).or_default() += 1;
                }
            }
            EventKind::Dropped => self.dropped += event.dropped.unwrap_or(0),
        }
    }

    /// Everything counted so far, as one export.
    pub(crate) fn export(&self, resource: Resource, now: u64) -> ExportMetricsServiceRequest {
        let start = self.start_unix_nano;
        let count_point = |attributes: Vec<KeyValue>, value: u64| NumberDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: now,
            value: Some(number_data_point::Value::AsInt(
                i64::try_from(value).unwrap_or(i64::MAX),
            )),
            ..Default::default()
        };
        let sum = |name: &str, description: &str, points: Vec<NumberDataPoint>| Metric {
            name: name.into(),
            description: description.into(),
            unit: "1".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: points,
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let request_attributes = |key: &RequestKey| {
            [
                "decision.outcome",
                "decision.reason",
                "mcp.method",
                "mcp.tool",
            ]
            .iter()
            .zip(key)
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| super::otlp::text(name, value))
            .collect::<Vec<_>>()
        };
        let requests = self
            .requests
            .iter()
            .map(|(key, d)| count_point(request_attributes(key), d.count))
            .collect();
        let durations = self
            .requests
            .iter()
            .map(|(key, d)| HistogramDataPoint {
                attributes: request_attributes(key),
                start_time_unix_nano: start,
                time_unix_nano: now,
                count: d.count,
                sum: Some(d.sum_ms),
                bucket_counts: d.buckets.to_vec(),
                explicit_bounds: BOUNDS_MS.to_vec(),
                ..Default::default()
            })
            .collect();
        let exchanges = self
            .exchanges
            .iter()
            .map(|(outcome, n)| count_point(vec![super::otlp::text("outcome", outcome)], *n))
            .collect();
        let metrics = vec![
            sum(
                "mcp_auth.requests",
                "Requests audited, by decision, reason, MCP method and tool",
                requests,
            ),
            Metric {
                name: "mcp_auth.request.duration".into(),
                description: "From receiving a request to the end of its response body".into(),
                unit: "ms".into(),
                data: Some(metric::Data::Histogram(Histogram {
                    data_points: durations,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                })),
                ..Default::default()
            },
            sum(
                "mcp_auth.exchanges",
                "Token exchanges (RFC 8693), by outcome",
                exchanges,
            ),
            sum(
                "mcp_auth.audit.dropped",
                "Audit events the bounded queue dropped",
                vec![count_point(Vec::new(), self.dropped)],
            ),
        ];
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "mcp-auth.audit".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..Default::default()
                    }),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DecisionInfo, McpInfo, McpMessageInfo, SCHEMA_ID};

    fn call(
        tool: &str,
        outcome: &'static str,
        reason: Option<&'static str>,
        ms: f64,
    ) -> AuditEvent {
        AuditEvent {
            schema: SCHEMA_ID,
            kind: EventKind::Request,
            time: "2026-11-26T12:00:00.000Z".into(),
            request_id: "r".into(),
            http: None,
            mcp: Some(McpInfo {
                batch: false,
                messages: vec![McpMessageInfo {
                    kind: "request",
                    method: Some("tools/call".into()),
                    id: None,
                    target_kind: Some("tool"),
                    target: Some(tool.into()),
                }],
            }),
            principal: None,
            decision: Some(DecisionInfo {
                outcome,
                reason,
                description: None,
                required: None,
                granted: None,
                missing: None,
                policies: None,
            }),
            exchanges: Vec::new(),
            approval: None,
            latency_ms: Some(ms),
            dropped: None,
            trace: None,
        }
    }

    #[test]
    fn requests_are_counted_by_decision_and_tool_within_a_series_limit() {
        let mut metrics = RequestMetrics::new(0);
        metrics.record(&call("search", "allowed", None, 3.0));
        metrics.record(&call("search", "allowed", None, 700.0));
        metrics.record(&call("delete", "denied", Some("insufficient_scope"), 0.5));
        let search = &metrics.requests[&[
            "allowed".to_owned(),
            String::new(),
            "tools/call".to_owned(),
            "search".to_owned(),
        ]];
        assert_eq!(search.count, 2);
        assert_eq!(search.buckets[2], 1, "3 ms is in (2, 5]");
        assert_eq!(search.buckets[9], 1, "700 ms is in (500, 1000]");
        assert_eq!(metrics.requests.len(), 2);
        // Tool names come from requests: past the limit they share one series.
        for i in 0..2 * MAX_SERIES {
            metrics.record(&call(
                &format!("made-up-{i}"),
                "denied",
                Some("undeclared_target"),
                1.0,
            ));
        }
        assert!(
            metrics.requests.len() <= MAX_SERIES + 1,
            "{}",
            metrics.requests.len()
        );
        let other = metrics
            .requests
            .iter()
            .find(|(k, _)| k[3] == OTHER)
            .map(|(_, d)| d.count)
            .unwrap();
        assert!(other >= MAX_SERIES as u64, "{other}");
        let export = metrics.export(Resource::default(), 1);
        let names: Vec<&str> = export.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "mcp_auth.requests",
                "mcp_auth.request.duration",
                "mcp_auth.exchanges",
                "mcp_auth.audit.dropped"
            ]
        );
    }
}
