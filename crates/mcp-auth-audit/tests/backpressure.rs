//! A stalled sink under `Overflow::Wait` delays only the requests whose events must wait for it:
//! the runtime's thread keeps serving the metadata document and denials meanwhile.

use std::convert::Infallible;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth_audit::{AuditEvent, AuditSink, Auditor, EventKind, Overflow};
use mcp_auth_core::ResourceId;
use mcp_auth_core::metadata::ProtectedResourceMetadata;
use mcp_auth_core::middleware::inspect::McpInspectLayer;
use mcp_auth_core::middleware::metadata::MetadataLayer;
use mcp_auth_jwt::{IssuerConfig, Verifier, VerifyLayer};
use mcp_auth_testing::MockIssuer;
use tower::{ServiceBuilder, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stall {
    NotYet,
    Stalled,
    Released,
    TimedOut,
}

/// Blocks in its first write until released, for two seconds at most.
struct StallingSink {
    state: Arc<(Mutex<Stall>, Condvar)>,
    entered: mpsc::Sender<()>,
    events: Arc<Mutex<Vec<AuditEvent>>>,
}

impl AuditSink for StallingSink {
    fn write(&mut self, event: &AuditEvent) {
        let (lock, signal) = &*self.state;
        let mut state = lock.lock().unwrap();
        if *state == Stall::NotYet {
            *state = Stall::Stalled;
            let _ = self.entered.send(());
            let (after, timeout) = signal
                .wait_timeout_while(state, Duration::from_secs(2), |s| *s == Stall::Stalled)
                .unwrap();
            state = after;
            if timeout.timed_out() {
                *state = Stall::TimedOut;
            }
        }
        drop(state);
        self.events.lock().unwrap().push(event.clone());
    }
}

#[tokio::test]
async fn a_stalled_sink_delays_only_requests_that_must_wait_for_it() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let state = Arc::new((Mutex::new(Stall::NotYet), Condvar::new()));
    let events = Arc::new(Mutex::new(Vec::new()));
    let (entered, entered_rx) = mpsc::channel();
    let auditor = Auditor::builder()
        .sink(StallingSink {
            state: state.clone(),
            entered,
            events: events.clone(),
        })
        .capacity(1)
        .overflow(Overflow::Wait)
        .start();
    let resource = ResourceId::parse(RESOURCE).unwrap();
    let verifier = Verifier::builder(resource.clone())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()
        .unwrap();
    let metadata = ProtectedResourceMetadata::builder(&resource)
        .authorization_server(issuer.issuer())
        .build()
        .unwrap();
    let service = ServiceBuilder::new()
        .layer(auditor.layer())
        .layer(MetadataLayer::new(metadata))
        .layer(McpInspectLayer::new().in_front_of_verification())
        .layer(VerifyLayer::new(verifier))
        .service_fn(|_req: Request<_>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        });
    let token = issuer.token().scope("mcp:read").sign();
    let authorised = || {
        Request::get("/mcp")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::<Bytes>::default())
            .unwrap()
    };
    let stall = || *state.0.lock().unwrap();

    // A's event reaches the sink, which stalls; B's fills the queue (capacity 1).
    let a = service.clone().oneshot(authorised()).await.unwrap();
    a.into_body().collect().await.unwrap();
    entered_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let b = service.clone().oneshot(authorised()).await.unwrap();
    b.into_body().collect().await.unwrap();

    // C's event finds the queue full: its response waits, without blocking this thread.
    let mut c = Box::pin({
        let service = service.clone();
        let request = authorised();
        async move {
            let response = service.oneshot(request).await.unwrap();
            let status = response.status();
            response.into_body().collect().await.unwrap();
            status
        }
    });
    let first_poll = std::future::poll_fn(|cx| Poll::Ready(c.as_mut().poll(cx))).await;
    assert!(
        first_poll.is_pending(),
        "C should wait for room in the queue"
    );
    assert_eq!(stall(), Stall::Stalled);

    // D waits too, and its client goes away mid-wait: its event must still be written.
    let mut d = Box::pin({
        let service = service.clone();
        let request = authorised();
        async move {
            let response = service.oneshot(request).await.unwrap();
            response.into_body().collect().await.unwrap();
        }
    });
    let first_poll = std::future::poll_fn(|cx| Poll::Ready(d.as_mut().poll(cx))).await;
    assert!(
        first_poll.is_pending(),
        "D should wait for room in the queue"
    );
    drop(d);

    // Meanwhile the same thread answers the metadata document and a 401 at once.
    let metadata = service
        .clone()
        .oneshot(
            Request::get("/.well-known/oauth-protected-resource/mcp")
                .body(Full::<Bytes>::default())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(metadata.status(), 200);
    metadata.into_body().collect().await.unwrap();
    let denied = service
        .clone()
        .oneshot(Request::get("/mcp").body(Full::<Bytes>::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    denied.into_body().collect().await.unwrap();
    assert_eq!(
        stall(),
        Stall::Stalled,
        "answered while the sink still stalled"
    );

    // Once the sink moves on, C completes and no authorised request's event is lost.
    *state.0.lock().unwrap() = Stall::Released;
    state.1.notify_all();
    let status = tokio::time::timeout(Duration::from_secs(10), c)
        .await
        .unwrap();
    assert_eq!(status, 200);
    // D's abandoned wait finishes on its own once there is room.
    let ok_events = || {
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| {
                e.kind == EventKind::Request && e.http.as_ref().is_some_and(|h| h.status == 200)
            })
            .count()
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        while ok_events() < 4 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "every allowed request's event is written: {:?}",
            events
                .lock()
                .unwrap()
                .iter()
                .map(|e| (
                    e.kind,
                    e.dropped,
                    e.http.as_ref().map(|h| (h.status, h.completed))
                ))
                .collect::<Vec<_>>()
        )
    });
    let shutdown = auditor.clone();
    tokio::task::spawn_blocking(move || shutdown.shutdown())
        .await
        .unwrap();
    let events = events.lock().unwrap();
    let ok = events
        .iter()
        .filter(|e| {
            e.kind == EventKind::Request && e.http.as_ref().is_some_and(|h| h.status == 200)
        })
        .count();
    assert_eq!(ok, 4, "A, B, C and D: {events:?}");
    // Only C and D waited; the 401 did not: its event was counted as dropped, and reported.
    assert_eq!(auditor.waited(), 2);
    assert_eq!(auditor.dropped(), 1);
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Dropped && e.dropped == Some(1)),
        "{events:?}"
    );
}
