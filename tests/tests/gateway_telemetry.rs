//! The gateway's metrics through `OtlpTelemetry` to `mcp_auth_testing::OtlpReceiver`: the time
//! each route's server took to answer, by outcome, beside the layers' own metrics.
//!
//! One test in this binary: the OpenTelemetry providers are global to the process.

use mcp_auth::telemetry::OtlpTelemetry;
use mcp_auth_e2e::{gateway_on, json_rpc_upstream};
use mcp_auth_testing::{MockIssuer, OtlpReceiver};
use tokio::net::TcpListener;

const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_routes_upstream_time_and_failures_are_measured() {
    let receiver = OtlpReceiver::start().await;
    // Installed before the routes are built: their instruments come from these providers.
    let telemetry = OtlpTelemetry::builder(receiver.endpoint())
        .service_name("gateway-telemetry-test")
        .install()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (working, closed) = (
        format!("http://{addr}/a/mcp"),
        format!("http://{addr}/b/mcp"),
    );
    let issuer = MockIssuer::builder().start().await;
    let nothing_there = {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/mcp", probe.local_addr().unwrap())
    };
    let _gateway = gateway_on(
        listener,
        &format!(
            "[[issuers]]\nissuer = \"{}\"\njwks_uri = \"{}\"\n[fetch]\nallow_loopback = true\n\
             [[routes]]\nresource = \"{working}\"\n[routes.upstream]\nurl = \"{}\"\n\
             [[routes]]\nresource = \"{closed}\"\n[routes.upstream]\nurl = \"{nothing_there}\"\n",
            issuer.issuer(),
            issuer.jwks_uri(),
            json_rpc_upstream().await,
        ),
    )
    .await;
    let client = reqwest::Client::new();
    for (url, expected) in [(&working, 200), (&working, 200), (&closed, 502)] {
        let token = issuer.token().audience(url).sign();
        let status = client
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(CALL)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, expected, "{url}");
    }
    telemetry.flush().unwrap();

    let received = receiver.received();
    let duration = "mcp_auth.gateway.upstream.duration";
    assert_eq!(
        received.histogram_count(duration, &[("route", "/a/mcp"), ("outcome", "2xx")]),
        2
    );
    assert_eq!(
        received.histogram_count(duration, &[("route", "/b/mcp"), ("outcome", "unreachable")]),
        1
    );
    assert_eq!(
        received.histogram_count(duration, &[("route", "/a/mcp"), ("outcome", "unreachable")]),
        0
    );
    assert!(
        received.histogram_count("mcp_auth.token.verification.duration", &[]) >= 3,
        "the layers' own metrics arrive beside the gateway's"
    );
}
