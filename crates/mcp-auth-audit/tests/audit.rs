//! Audit events from a real stack (inspection, verification, scopes) around a mock service.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth_audit::{
    AuditEvent, AuditSink, Auditor, EventKind, JsonLinesFile, MemorySink, Overflow, SCHEMA_JSON,
};
use mcp_auth_core::middleware::inspect::McpInspectLayer;
use mcp_auth_core::record::{ExchangeSummary, RequestRecord};
use mcp_auth_core::{ResourceId, Scopes};
use mcp_auth_jwt::{IssuerConfig, Verifier, VerifyLayer};
use mcp_auth_scope::{Requirement, ScopeLayer, ScopePolicy};
use mcp_auth_testing::MockIssuer;
use serde_json::{Value, json};
use tower::{Service, ServiceBuilder, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";

fn stack(
    issuer: &MockIssuer,
    auditor: &Auditor,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<impl http_body::Body<Error = impl std::fmt::Debug>>,
    Error = Infallible,
> {
    let resource = ResourceId::parse(RESOURCE).unwrap();
    let verifier = Verifier::builder(resource.clone())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()
        .unwrap();
    let policy = ScopePolicy::builder()
        .required(Requirement::all("mcp:read"))
        .tool("whoami", Requirement::none())
        .tool("fetch_calendar", Requirement::none())
        .tool("add_note", Requirement::all("mcp:write"))
        .build()
        .unwrap();
    ServiceBuilder::new()
        .layer(auditor.layer())
        .layer(McpInspectLayer::new())
        .layer(VerifyLayer::new(verifier))
        .layer(ScopeLayer::new(policy, &resource))
        .service_fn(|req: Request<_>| async move {
            // A handler that exchanges a token, as an on-behalf-of handle would record it.
            if let Some(mcp) = req.extensions().get::<mcp_auth_core::mcp::McpRequest>()
                && mcp
                    .messages()
                    .iter()
                    .any(|m| m.target().is_some_and(|t| t.name() == "fetch_calendar"))
            {
                RequestRecord::update_in(req.extensions(), |r| {
                    r.exchanges.push(
                        ExchangeSummary::new(
                            "https://calendar.example.com",
                            Scopes::parse("calendar:read"),
                        )
                        .granted(Scopes::parse("calendar:read"))
                        .latency(Duration::from_millis(3)),
                    );
                });
            }
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
        })
}

fn call(tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": {}}}).to_string()
}

async fn send<S, B>(svc: &mut S, body: String, token: Option<&str>) -> u16
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let mut request = Request::post("/mcp")
        .header("x-request-id", "req-1")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = svc
        .ready()
        .await
        .unwrap()
        .call(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    response.into_body().collect().await.unwrap();
    status
}

fn only_request_events(events: &[AuditEvent]) -> Vec<&AuditEvent> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Request)
        .collect()
}

#[tokio::test]
async fn events_for_allowed_denied_batch_and_exchange_requests_match_the_schema() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let sink = MemorySink::new();
    let auditor = Auditor::builder().sink(sink.clone()).start();
    let mut svc = stack(&issuer, &auditor);
    let reader = issuer
        .token()
        .subject("alice")
        .scope("mcp:read")
        .claim("act", json!({"sub": "agent-7"}))
        .sign();

    assert_eq!(send(&mut svc, call("whoami"), Some(&reader)).await, 200);
    assert_eq!(send(&mut svc, call("whoami"), None).await, 401);
    assert_eq!(send(&mut svc, call("add_note"), Some(&reader)).await, 403);
    let batch = format!("[{},{}]", call("whoami"), call("add_note"));
    assert_eq!(send(&mut svc, batch, Some(&reader)).await, 403);
    assert_eq!(
        send(&mut svc, call("fetch_calendar"), Some(&reader)).await,
        200
    );
    auditor.shutdown();

    let events = sink.events();
    let requests = only_request_events(&events);
    assert_eq!(requests.len(), 5);

    let allowed = requests[0];
    assert_eq!(allowed.request_id, "req-1");
    assert_eq!(allowed.http.as_ref().unwrap().status, 200);
    assert!(allowed.http.as_ref().unwrap().completed);
    let p = allowed.principal.as_ref().unwrap();
    assert_eq!(
        (p.subject.as_str(), p.client_id.as_deref()),
        ("alice", Some("test-client"))
    );
    assert_eq!(p.actors, ["agent-7"]);
    assert_eq!(
        p.audience.as_deref(),
        Some(RESOURCE),
        "the audience that matched"
    );
    assert_eq!(p.subject_kind, "user", "alice is not the client");
    assert!(p.token_fingerprint.starts_with("sha256:"));
    let m = &allowed.mcp.as_ref().unwrap().messages[0];
    assert_eq!(
        (m.method.as_deref(), m.target.as_deref(), m.target_kind),
        (Some("tools/call"), Some("whoami"), Some("tool"))
    );
    assert_eq!(m.id, Some(json!(7)));
    assert_eq!(allowed.decision.as_ref().unwrap().outcome, "allowed");

    let unauthenticated = requests[1];
    assert!(unauthenticated.principal.is_none());
    let d = unauthenticated.decision.as_ref().unwrap();
    assert_eq!((d.outcome, d.reason), ("denied", Some("missing_token")));
    assert_eq!(unauthenticated.http.as_ref().unwrap().status, 401);

    let forbidden = requests[2].decision.as_ref().unwrap();
    assert_eq!(
        (forbidden.outcome, forbidden.reason),
        ("denied", Some("insufficient_scope"))
    );
    assert_eq!(forbidden.missing.as_ref().unwrap().to_string(), "mcp:write");
    assert_eq!(forbidden.granted.as_ref().unwrap().to_string(), "mcp:read");

    let batch = requests[3];
    assert!(batch.mcp.as_ref().unwrap().batch);
    assert_eq!(batch.mcp.as_ref().unwrap().messages.len(), 2);
    assert_eq!(batch.decision.as_ref().unwrap().outcome, "denied");

    let with_exchange = requests[4];
    assert_eq!(with_exchange.exchanges.len(), 1);
    assert_eq!(
        with_exchange.exchanges[0].target,
        "https://calendar.example.com"
    );
    let exchange_events: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::Exchange)
        .collect();
    assert_eq!(exchange_events.len(), 1);
    assert_eq!(exchange_events[0].exchanges[0].outcome, "ok");
    assert_eq!(exchange_events[0].request_id, "req-1");

    let schema: Value = serde_json::from_str(SCHEMA_JSON).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for event in &events {
        let json = serde_json::to_value(event).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{json}\n{errors:#?}");
    }
    // Every event carries the request's trace context, exchange events included.
    assert!(
        events
            .iter()
            .all(|e| e.trace.as_ref().map(|t| t.trace_id.as_str())
                == Some("4bf92f3577b34da6a3ce929d0e0e4736")),
        "{events:?}"
    );
    // The schema is strict enough to catch a wrong event.
    let mut wrong = serde_json::to_value(events[0].clone()).unwrap();
    wrong["kind"] = json!("mystery");
    assert!(!validator.is_valid(&wrong));
    let mut wrong = serde_json::to_value(events[0].clone()).unwrap();
    wrong["trace"]["trace_id"] = json!("NOT-HEX");
    assert!(!validator.is_valid(&wrong));
}

#[tokio::test]
async fn a_client_that_leaves_early_is_recorded_as_not_completed() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().sink(sink.clone()).start();
    let svc = ServiceBuilder::new().layer(auditor.layer()).service_fn(
        |_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"never read"))))
        },
    );
    let response = svc
        .oneshot(Request::get("/mcp").body(Full::default()).unwrap())
        .await
        .unwrap();
    drop(response);
    auditor.shutdown();
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert!(!events[0].http.as_ref().unwrap().completed);
}

#[tokio::test]
async fn a_client_that_leaves_before_the_response_is_recorded_too() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().sink(sink.clone()).start();
    let svc = ServiceBuilder::new().layer(auditor.layer()).service_fn(
        |_req: Request<Full<Bytes>>| async {
            // A handler still working when the client goes away.
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
        },
    );
    let mut future = Box::pin(svc.oneshot(Request::get("/mcp").body(Full::default()).unwrap()));
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx))).await;
    assert!(first.is_pending());
    drop(future);
    auditor.shutdown();
    let events = sink.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let http = events[0].http.as_ref().unwrap();
    assert_eq!((http.status, http.completed), (0, false));
}

#[tokio::test]
async fn metadata_requests_are_not_recorded_unless_configured() {
    for (include, expected) in [(false, 0), (true, 1)] {
        let sink = MemorySink::new();
        let auditor = Auditor::builder()
            .sink(sink.clone())
            .include_metadata_requests(include)
            .start();
        let svc = ServiceBuilder::new().layer(auditor.layer()).service_fn(
            |_req: Request<Full<Bytes>>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
            },
        );
        let request = Request::get("/.well-known/oauth-protected-resource/mcp")
            .body(Full::default())
            .unwrap();
        svc.oneshot(request)
            .await
            .unwrap()
            .into_body()
            .collect()
            .await
            .unwrap();
        auditor.shutdown();
        assert_eq!(sink.events().len(), expected);
    }
}

fn lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_storm_of_ten_thousand_calls_loses_no_event_when_waiting() {
    let dir = std::env::temp_dir().join(format!("mcp-auth-audit-storm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.jsonl");
    // A sink slower than the requests, so the queue really fills and requests really wait.
    struct Slow(JsonLinesFile);
    impl AuditSink for Slow {
        fn write(&mut self, event: &AuditEvent) {
            std::thread::sleep(Duration::from_micros(20));
            self.0.write(event);
        }
        fn flush(&mut self) {
            self.0.flush();
        }
    }
    let auditor = Auditor::builder()
        .sink(Slow(JsonLinesFile::open(&path).unwrap()))
        .capacity(64)
        .overflow(Overflow::Wait)
        .start();
    let svc = ServiceBuilder::new().layer(auditor.layer()).service_fn(
        |_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
        },
    );
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..1250 {
                let request = Request::post("/mcp")
                    .header("x-request-id", format!("w{worker}-{i}"))
                    .body(Full::new(Bytes::from(call("whoami"))))
                    .unwrap();
                svc.clone()
                    .oneshot(request)
                    .await
                    .unwrap()
                    .into_body()
                    .collect()
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    tokio::task::spawn_blocking({
        let auditor = auditor.clone();
        move || auditor.shutdown()
    })
    .await
    .unwrap();
    assert_eq!(auditor.dropped(), 0);
    assert!(auditor.waited() > 0, "the queue never filled");
    assert_eq!(lines(&path), 10_000);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sink that blocks until released, to fill the queue deterministically.
struct Gate {
    barrier: Arc<Barrier>,
    written: Arc<AtomicUsize>,
    first: bool,
}

impl AuditSink for Gate {
    fn write(&mut self, event: &AuditEvent) {
        if self.first {
            self.first = false;
            self.barrier.wait();
        }
        if event.kind == EventKind::Request {
            self.written.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn dropping_overflow_counts_and_reports_what_it_dropped() {
    let barrier = Arc::new(Barrier::new(2));
    let written = Arc::new(AtomicUsize::new(0));
    let memory = MemorySink::new();
    let auditor = Auditor::builder()
        .sink(Gate {
            barrier: barrier.clone(),
            written: written.clone(),
            first: true,
        })
        .sink(memory.clone())
        .capacity(4)
        .overflow(Overflow::DropAndCount)
        .start();
    let svc = ServiceBuilder::new().layer(auditor.layer()).service_fn(
        |_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
        },
    );
    for _ in 0..100 {
        svc.clone()
            .oneshot(Request::get("/mcp").body(Full::default()).unwrap())
            .await
            .unwrap()
            .into_body()
            .collect()
            .await
            .unwrap();
    }
    barrier.wait();
    tokio::task::spawn_blocking({
        let auditor = auditor.clone();
        move || auditor.shutdown()
    })
    .await
    .unwrap();
    let dropped = auditor.dropped();
    // The blocked writer holds at most a couple of events and the queue four more: the rest
    // were dropped, and every event is either written or counted.
    assert!(dropped >= 90, "{dropped}");
    assert_eq!(written.load(Ordering::SeqCst) as u64 + dropped, 100);
    let reported: u64 = memory.events().iter().filter_map(|e| e.dropped).sum();
    assert_eq!(reported, dropped, "the dropped count is itself reported");
}

#[tokio::test]
async fn the_file_sink_rotates_by_size() {
    let dir = std::env::temp_dir().join(format!("mcp-auth-audit-rotate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.jsonl");
    let auditor = Auditor::builder()
        .sink(JsonLinesFile::open(&path).unwrap().rotate(2_000, 2))
        .start();
    let svc = ServiceBuilder::new().layer(auditor.layer()).service_fn(
        |_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
        },
    );
    for _ in 0..30 {
        svc.clone()
            .oneshot(Request::get("/mcp").body(Full::default()).unwrap())
            .await
            .unwrap()
            .into_body()
            .collect()
            .await
            .unwrap();
    }
    auditor.shutdown();
    let rotated = |n: usize| std::path::PathBuf::from(format!("{}.{n}", path.display()));
    assert!(rotated(1).exists() && rotated(2).exists());
    assert!(!rotated(3).exists(), "only two old files are kept");
    for p in [path.clone(), rotated(1), rotated(2)] {
        let size = std::fs::metadata(&p).unwrap().len();
        assert!(size <= 2_000, "{} is {size} bytes", p.display());
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            serde_json::from_str::<Value>(line).expect("every line is one JSON event");
        }
    }
    let kept = lines(&path) + lines(&rotated(1)) + lines(&rotated(2));
    assert!(kept < 30 && kept > 0);
    let _ = std::fs::remove_dir_all(&dir);
}
