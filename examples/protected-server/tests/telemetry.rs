//! The example's `--otlp`: audit events, the layers' metrics and their spans reach an OTLP
//! receiver (`mcp_auth_testing::OtlpReceiver`, on the official protobuf definitions). A call to
//! `call_downstream` carrying a `traceparent` leaves its audit record and its token exchange's
//! span in that trace.
//!
//! One test in this binary: the OpenTelemetry providers are global to the process.

use mcp_auth_testing::otlp::text_attribute;
use mcp_auth_testing::{McpTestClient, OtlpReceiver};
use protected_server::{Options, start};
use serde_json::json;

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT_SPAN: &str = "b7ad6b7169203331";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_carries_audit_metrics_and_spans_of_one_trace() {
    let receiver = OtlpReceiver::start().await;
    let server = start(Options {
        listen: ([127, 0, 0, 1], 0).into(),
        otlp: Some(receiver.endpoint()),
        ..Options::default()
    })
    .await
    .unwrap();
    let token = server
        .dev_issuer
        .as_ref()
        .unwrap()
        .token()
        .subject("alice")
        .scope("mcp:read")
        .sign();
    let reply = McpTestClient::new(server.mcp_url.clone())
        .bearer(&token)
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}-01"))
        .call_tool("call_downstream", json!({}))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.result()["isError"], false, "{reply:?}");
    server.shutdown_audit().await;
    server.telemetry.as_ref().unwrap().flush().unwrap();

    let received = receiver.received();
    assert!(received.service_names.contains("protected-server"));
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
    let audited = received
        .logs
        .iter()
        .find(|r| text_attribute(&r.attributes, "kind") == Some("request"))
        .expect("the request's audit event");
    assert_eq!(hex(&audited.trace_id), TRACE_ID);
    let exchanges = received.spans_named("mcp_auth.token_exchange");
    assert_eq!(exchanges.len(), 1, "{exchanges:?}");
    assert_eq!(hex(&exchanges[0].trace_id), TRACE_ID);
    assert_eq!(hex(&exchanges[0].parent_span_id), PARENT_SPAN);
    assert_eq!(
        received.histogram_count(
            "mcp_auth.token_exchange.duration",
            &[("outcome", "ok"), ("contacted", "true")]
        ),
        1
    );
    // The MCP request, and the downstream API's own verification of the exchanged token (its
    // stack is in the same process).
    assert!(
        received.histogram_count(
            "mcp_auth.token.verification.duration",
            &[("outcome", "valid")]
        ) >= 2
    );
}
