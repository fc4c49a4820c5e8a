//! The layers' metrics and spans, through `OtlpTelemetry` (the OpenTelemetry SDK with its OTLP
//! exporter) to `mcp_auth_testing::OtlpReceiver`: a first request carrying a `traceparent`
//! makes the stack fetch the issuer's keys and the client's metadata document, ask an external
//! decision point and the handler exchange a token, each a span in that request's trace; a second request is answered from
//! every cache. The counts that arrive are exactly those.
//!
//! One test in this binary: the OpenTelemetry providers are global to the process.

#[path = "../../mcp-auth-cimd/tests/support/mod.rs"]
mod support;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth::telemetry::OtlpTelemetry;
use mcp_auth::{
    Auditor, ClientAuth, ClientPolicy, ClientResolver, ExchangeRequest, FetchPolicy, IssuerConfig,
    McpAuth, McpAuthLayer, OnBehalfOf, TokenExchangeClient, TracingSink,
};
use mcp_auth_testing::otlp::text_attribute;
use mcp_auth_testing::{MockIssuer, OtlpReceiver};
use support::{DocServer, Reply, TestCa, document};
use tower::{Layer, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const API: &str = "https://api.example.com";
const PATH: &str = "/oauth/client.json";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

/// One tool call through the stack; the handler exchanges the caller's token for the API.
async fn call(auth: &McpAuthLayer, token: &str, traceparent: Option<&str>) -> u16 {
    let inner = tower::service_fn(|req: Request<_>| async move {
        let exchanged = match OnBehalfOf::from_extensions(req.extensions()) {
            Some(obo) => obo
                .get_token_on_behalf_of(ExchangeRequest::resource(API).scope("api:read"))
                .await
                .is_ok(),
            None => false,
        };
        let status = if exchanged { 200 } else { 500 };
        Ok::<_, Infallible>(
            Response::builder()
                .status(status)
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
    });
    let mut request = Request::post("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let request = request
        .body(Full::new(Bytes::from(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}"#,
        )))
        .unwrap();
    let response = auth.layer(inner).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_paths_are_spans_of_the_request_and_every_lookup_is_counted() {
    let receiver = OtlpReceiver::start().await;
    // Installed before the stack is built: its instruments come from these providers.
    let telemetry = OtlpTelemetry::builder(receiver.endpoint())
        .service_name("telemetry-test")
        .install()
        .unwrap();

    let ca = TestCa::new();
    let docs = DocServer::https(&ca).await;
    let client_id = docs.url(PATH);
    docs.set(
        PATH,
        Reply::json(&document(&client_id, "https://client.example/cb")),
    );
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    issuer.allow_exchange_client("mcp-server", "exchange-secret-for-tests");
    issuer.allow_exchange_target(API, &["api:read"]);
    let loopback = FetchPolicy::default().allow_loopback(true);
    let auth = McpAuth::builder(RESOURCE)
        .fetch_policy(loopback.clone())
        .issuer(IssuerConfig::discover(issuer.issuer()))
        .clients(
            ClientResolver::builder()
                .fetch_policy(
                    loopback
                        .clone()
                        .root_certificate_pem(ca.ca_pem().as_bytes().to_vec()),
                )
                .build()
                .unwrap(),
            ClientPolicy::any_valid_document(),
        )
        .on_behalf_of(
            TokenExchangeClient::builder(ClientAuth::client_secret_basic(
                "mcp-server",
                "exchange-secret-for-tests",
            ))
            .token_endpoint(issuer.token_endpoint())
            .fetch_policy(loopback)
            .build()
            .unwrap(),
        )
        .audit(Auditor::builder().sink(TracingSink).start())
        // A decision point that answers later (as one over the network would).
        .authorize(mcp_auth::policy::authorize_fn(|_call| async {
            mcp_auth::policy::Verdict::allow()
        }))
        .build()
        .unwrap();

    let token = issuer.token().client_id(&client_id).sign();
    let traceparent = format!("00-{TRACE_ID}-{PARENT_SPAN}-01");
    assert_eq!(call(&auth, &token, Some(&traceparent)).await, 200);
    assert_eq!(call(&auth, &token, None).await, 200);
    assert_eq!(issuer.token_requests(), 1, "the second exchange was cached");
    telemetry.flush().unwrap();

    let received = receiver.received();
    assert!(received.service_names.contains("telemetry-test"));

    // The slow paths, each once, in the trace of the request that waited for them.
    for name in [
        "mcp_auth.jwks.fetch",
        "mcp_auth.client_document.fetch",
        "mcp_auth.token_exchange",
    ] {
        let spans = received.spans_named(name);
        assert_eq!(spans.len(), 1, "{name}: {spans:?}");
        let span = spans[0];
        assert_eq!(
            hex(&span.trace_id),
            TRACE_ID,
            "{name} is in the request's trace"
        );
        assert_eq!(hex(&span.parent_span_id), PARENT_SPAN, "{name}'s parent");
    }
    // The external decision point: a span per request, the first in the caller's trace.
    let decisions = received.spans_named("mcp_auth.policy.decision");
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    assert!(
        decisions
            .iter()
            .any(|s| hex(&s.trace_id) == TRACE_ID && hex(&s.parent_span_id) == PARENT_SPAN),
        "{decisions:?}"
    );
    let jwks = received.spans_named("mcp_auth.jwks.fetch")[0];
    assert_eq!(
        text_attribute(&jwks.attributes, "issuer"),
        Some(issuer.issuer())
    );
    let exchange = received.spans_named("mcp_auth.token_exchange")[0];
    assert_eq!(
        text_attribute(&exchange.attributes, "downstream"),
        Some(API)
    );

    // Verification: first sight after fetching the keys, then the cache.
    let verification = "mcp_auth.token.verification.duration";
    let count =
        |path| received.histogram_count(verification, &[("path", path), ("outcome", "valid")]);
    assert_eq!(count("keys_fetched"), 1);
    assert_eq!(count("cache"), 1);
    assert_eq!(count("signature"), 0);

    // Every cache: a miss, then a hit.
    for cache in ["token", "client_document", "exchanged_token"] {
        for result in ["miss", "hit"] {
            assert_eq!(
                received.total(
                    "mcp_auth.cache.lookups",
                    &[("cache", cache), ("result", result)]
                ),
                1,
                "{cache} {result}"
            );
        }
    }
    assert_eq!(
        received.total(
            "mcp_auth.jwks.fetches",
            &[("issuer", issuer.issuer()), ("outcome", "ok")]
        ),
        1
    );
    assert_eq!(
        received.total("mcp_auth.client_document.fetches", &[("outcome", "ok")]),
        1
    );
    let exchanges = "mcp_auth.token_exchange.duration";
    assert_eq!(
        received.histogram_count(exchanges, &[("outcome", "ok"), ("contacted", "true")]),
        1
    );
    assert_eq!(
        received.histogram_count(exchanges, &[("outcome", "ok"), ("contacted", "false")]),
        1
    );
    assert!(
        received
            .latest_metric("mcp_auth.audit.queue.depth")
            .is_some(),
        "the audit queue's depth is observed"
    );
    assert!(
        received
            .latest_metric("mcp_auth.audit.queue.dropped")
            .is_some()
    );
    assert_eq!(received.total("mcp_auth.audit.queue.dropped", &[]), 0);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
