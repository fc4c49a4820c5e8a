//! The OTLP sink against `mcp_auth_testing::OtlpReceiver`, an OTLP/HTTP receiver on the official
//! protobuf definitions (`opentelemetry-proto`) that behaves as the OpenTelemetry Collector's
//! `otlphttp` receiver (https://opentelemetry.io/docs/specs/otlp/#otlphttp-response). It is
//! stopped in the middle of a 10,000-request run and started again on the same port: every
//! event arrives, once. A second collector, written here, answers 401 and 413 as collectors do.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth_audit::{Auditor, OtlpSink, Overflow};
use mcp_auth_testing::OtlpReceiver;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message as _;
use tokio::net::TcpListener;
use tower::ServiceExt;

fn attribute<'a>(record: &'a LogRecord, key: &str) -> Option<&'a any_value::Value> {
    record
        .attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
}

fn text<'a>(record: &'a LogRecord, key: &str) -> Option<&'a str> {
    match attribute(record, key)? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

async fn one_request(svc: &mcp_auth_audit::AuditLayer, i: usize, traceparent: Option<&str>) -> u16 {
    use tower::Layer as _;
    let inner = tower::service_fn(|_req: Request<Full<Bytes>>| async move {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let mut request = Request::post("/mcp").header("x-request-id", format!("req-{i}"));
    if let Some(tp) = traceparent {
        request = request.header("traceparent", tp);
    }
    let response = svc
        .layer(inner)
        .oneshot(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_of_a_run_arrives_through_a_collector_outage() {
    const REQUESTS: usize = 10_000;
    let receiver = Arc::new(OtlpReceiver::start().await);
    let sink = OtlpSink::new(&receiver.endpoint())
        .unwrap()
        .service_name("otlp-test");
    let stats = sink.stats();
    let auditor = Auditor::builder()
        .sink(sink)
        .capacity(256)
        .overflow(Overflow::Wait)
        .start();
    let layer = auditor.layer();

    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut comeback = None;
    for i in 0..REQUESTS {
        if i == REQUESTS / 3 {
            receiver.stop().await;
            // The collector comes back once the sink has felt the outage a few times; until
            // then the writer waits, the queue fills, and requests wait for room.
            let (receiver, stats) = (receiver.clone(), stats.clone());
            comeback = Some(tokio::spawn(async move {
                while stats.retries() < 3 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                receiver.restart().await;
            }));
        }
        let tp = (i == 7).then_some(traceparent);
        assert_eq!(one_request(&layer, i, tp).await, 200);
    }
    comeback.unwrap().await.unwrap();
    let shutdown = auditor.clone();
    tokio::task::spawn_blocking(move || shutdown.shutdown())
        .await
        .unwrap();

    let received = receiver.received();
    let ids: HashSet<&str> = received
        .logs
        .iter()
        .filter(|r| text(r, "kind") == Some("request"))
        .filter_map(|r| text(r, "request_id"))
        .collect();
    assert_eq!(ids.len(), REQUESTS, "every request's event arrived");
    assert_eq!(received.logs.len(), REQUESTS, "each once, nothing dropped");
    assert_eq!(auditor.dropped(), 0);
    assert!(stats.retries() > 0, "the outage was felt and retried");
    assert_eq!(stats.lost(), 0);
    assert_eq!(stats.exported(), REQUESTS as u64);
    assert!(received.service_names.contains("otlp-test"));

    // The record's shape: schema, flattened fields, the event as JSON, the trace context.
    let seventh = received
        .logs
        .iter()
        .find(|r| text(r, "request_id") == Some("req-7"))
        .unwrap();
    assert_eq!(text(seventh, "mcp_auth.schema"), Some("mcp-auth.audit/v1"));
    assert_eq!(text(seventh, "http.method"), Some("POST"));
    assert!(
        matches!(
            attribute(seventh, "http.status"),
            Some(any_value::Value::IntValue(200))
        ),
        "{:?}",
        attribute(seventh, "http.status")
    );
    assert_eq!(seventh.event_name, "mcp_auth.audit.request");
    assert_eq!(
        seventh.trace_id,
        [
            0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
            0x47, 0x36
        ]
    );
    assert_eq!(
        seventh.span_id,
        [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
    );
    match seventh.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(json)) => {
            let event: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(event["request_id"], "req-7");
            assert_eq!(
                event["trace"]["trace_id"],
                "4bf92f3577b34da6a3ce929d0e0e4736"
            );
        }
        other => panic!("{other:?}"),
    }
    let other = received
        .logs
        .iter()
        .find(|r| text(r, "request_id") == Some("req-8"))
        .unwrap();
    assert!(
        other.trace_id.is_empty(),
        "no trace context without traceparent"
    );

    // The metrics' last export (at shutdown) counts every request, in the histogram too.
    let requests = received.latest_metric("mcp_auth.requests").unwrap();
    let Some(metric::Data::Sum(sum)) = &requests.data else {
        panic!("{requests:?}")
    };
    let total: i64 = sum
        .data_points
        .iter()
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(n)) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(total, REQUESTS as i64);
    let durations = received.latest_metric("mcp_auth.request.duration").unwrap();
    let Some(metric::Data::Histogram(histogram)) = &durations.data else {
        panic!("{durations:?}")
    };
    let counted: u64 = histogram.data_points.iter().map(|p| p.count).sum();
    assert_eq!(counted, REQUESTS as u64);
    let buckets: u64 = histogram
        .data_points
        .iter()
        .flat_map(|p| &p.bucket_counts)
        .sum();
    assert_eq!(buckets, REQUESTS as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lapsed_credentials_are_waited_out_and_oversized_batches_halved() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const EVENTS: usize = 300;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::<String>::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let too_large = Arc::new(AtomicUsize::new(0));
    let (store, count, large) = (received.clone(), calls.clone(), too_large.clone());
    let app = axum::Router::new().route(
        "/v1/logs",
        axum::routing::post(move |body: Bytes| {
            let (store, count, large) = (store.clone(), count.clone(), large.clone());
            async move {
                // The first two exports meet lapsed credentials; batches over 20 records are
                // too large for this collector.
                if count.fetch_add(1, Ordering::SeqCst) < 2 {
                    return (http::StatusCode::UNAUTHORIZED, Vec::new());
                }
                let request = ExportLogsServiceRequest::decode(body).unwrap();
                let records: Vec<LogRecord> = request
                    .resource_logs
                    .into_iter()
                    .flat_map(|r| r.scope_logs)
                    .flat_map(|s| s.log_records)
                    .collect();
                if records.len() > 20 {
                    large.fetch_add(1, Ordering::SeqCst);
                    return (http::StatusCode::PAYLOAD_TOO_LARGE, Vec::new());
                }
                let mut store = store.lock().unwrap();
                store.extend(
                    records
                        .iter()
                        .filter_map(|r| text(r, "request_id").map(str::to_owned)),
                );
                (
                    http::StatusCode::OK,
                    ExportLogsServiceResponse::default().encode_to_vec(),
                )
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let sink = OtlpSink::new(&format!("http://{addr}/v1/logs")).unwrap();
    let stats = sink.stats();
    // A queue larger than the run: the writer meets one batch of every event at shutdown.
    let auditor = Auditor::builder()
        .sink(sink)
        .capacity(1024)
        .overflow(Overflow::Wait)
        .start();
    let layer = auditor.layer();
    for i in 0..EVENTS {
        assert_eq!(one_request(&layer, i, None).await, 200);
    }
    let shutdown = auditor.clone();
    tokio::task::spawn_blocking(move || shutdown.shutdown())
        .await
        .unwrap();
    let received = received.lock().unwrap();
    let ids: HashSet<&String> = received.iter().collect();
    assert_eq!(ids.len(), EVENTS, "every event arrived");
    assert_eq!(stats.lost(), 0);
    assert!(stats.retries() >= 2, "401 was waited out");
    assert!(
        too_large.load(Ordering::SeqCst) > 0,
        "a batch was too large and was halved"
    );
}
