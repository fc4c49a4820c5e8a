//! The upstream MCP server fixtures on their own, without the gateway: the TypeScript
//! (`fixtures/node/mcp-upstream.mjs`) and Python (`fixtures/python/mcp_upstream.py`) servers,
//! each driven by both official clients. They list and call their tools, a `progress` call
//! streams its notifications as they happen (the direct-path baseline the gateway's streaming
//! test compares with), they record the requests that reached them, `--stateful` issues a
//! session, and the assertion check tells an assertion for them from one for someone else.

use mcp_auth_e2e::{
    AssertionCheck, SdkClient as Client, Upstream, UpstreamOptions, UpstreamSdk, tool_text,
};
use mcp_auth_testing::{Algorithm, MockIssuer};
use serde_json::Value;

fn ok(report: Value, what: &str) -> Value {
    assert_eq!(report["ok"], true, "{what}: {report}");
    report
}

fn header<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
    record["headers"][name].as_str()
}

/// `tools/list`, `echo`, and a 10-step `progress` call from `client`, with their results.
async fn exercise(client: Client, url: &str) {
    let what = format!("{client:?} client");
    let listed = ok(client.run(&["--url", url, "--list"]).await, &what);
    let mut names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("tool name"))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["echo", "progress", "whoami", "write_note"],
        "{what}"
    );

    let echoed = ok(
        client
            .run(&["--url", url, "--tool", "echo", "--args", r#"{"text":"hi"}"#])
            .await,
        &what,
    );
    assert_eq!(tool_text(&echoed["result"]), "hi", "{what}");

    let report = ok(
        client
            .run(&[
                "--url",
                url,
                "--tool",
                "progress",
                "--args",
                r#"{"steps":10,"interval_ms":200}"#,
                "--progress",
            ])
            .await,
        &what,
    );
    assert_eq!(tool_text(&report["result"]), "done", "{what}");
    let progress = report["progress"].as_array().expect("progress events");
    assert_eq!(progress.len(), 10, "{what}: {report}");
    for (i, event) in progress.iter().enumerate() {
        assert_eq!(event["progress"], i as u64 + 1, "{what}: {event}");
        assert_eq!(event["total"], 10, "{what}: {event}");
    }
    let first = progress[0]["at_ms"].as_u64().expect("at_ms");
    let result = report["result_at_ms"].as_u64().expect("result_at_ms");
    // The notifications are 200 ms apart and the result comes 200 ms after the last: only a
    // response streamed as it is written shows the first one seconds before the result.
    assert!(
        result >= first + 1000,
        "{what}: the first progress notification arrived at {first} ms, the result at {result} ms: not streamed"
    );
}

async fn serves_both_clients(sdk: UpstreamSdk) {
    let upstream = Upstream::start(sdk, UpstreamOptions::default()).await;
    tokio::join!(
        exercise(Client::TypeScript, &upstream.url),
        exercise(Client::Python, &upstream.url),
    );

    let records = upstream.requests().await;
    let authority = upstream.base.trim_start_matches("http://");
    let posts: Vec<&Value> = records.iter().filter(|r| r["method"] == "POST").collect();
    // Each of the six runs sends at least initialize, notifications/initialized and its
    // request.
    assert!(posts.len() >= 18, "{sdk:?}: {} POSTs recorded", posts.len());
    for record in &records {
        assert_eq!(record["path"], "/mcp", "{sdk:?}: {record}");
        assert_eq!(header(record, "host"), Some(authority), "{sdk:?}: {record}");
        assert_eq!(record["assertion"], Value::Null, "{sdk:?}: {record}");
        assert_eq!(
            header(record, "mcp-session-id"),
            None,
            "{sdk:?} is stateless: {record}"
        );
    }
    for post in posts {
        assert!(
            header(post, "content-type").is_some_and(|v| v.starts_with("application/json")),
            "{sdk:?}: {post}"
        );
        assert!(
            header(post, "accept").is_some_and(|v| v.contains("text/event-stream")),
            "{sdk:?}: {post}"
        );
    }
}

#[tokio::test]
async fn the_typescript_upstream_serves_both_clients_and_streams_progress() {
    serves_both_clients(UpstreamSdk::TypeScript).await;
}

#[tokio::test]
async fn the_python_upstream_serves_both_clients_and_streams_progress() {
    serves_both_clients(UpstreamSdk::Python).await;
}

#[tokio::test]
async fn a_stateful_upstream_issues_a_session_that_later_requests_carry() {
    for sdk in UpstreamSdk::ALL {
        let options = UpstreamOptions {
            stateful: true,
            ..UpstreamOptions::default()
        };
        let upstream = Upstream::start(sdk, options).await;
        for client in Client::ALL {
            let what = format!("{client:?} client, {sdk:?} upstream");
            let before = upstream.requests().await.len();
            let report = ok(
                client
                    .run(&[
                        "--url",
                        &upstream.url,
                        "--tool",
                        "echo",
                        "--args",
                        r#"{"text":"s"}"#,
                    ])
                    .await,
                &what,
            );
            assert_eq!(tool_text(&report["result"]), "s", "{what}");
            let records = upstream.requests().await.split_off(before);
            let (initialize, later) = records.split_first().expect("records");
            assert_eq!(initialize["method"], "POST", "{what}: {initialize}");
            assert_eq!(
                header(initialize, "mcp-session-id"),
                None,
                "{what}: {initialize}"
            );
            assert!(later.len() >= 2, "{what}: {records:?}");
            let session = header(&later[0], "mcp-session-id")
                .unwrap_or_else(|| panic!("{what}: no session id after initialize: {records:?}"));
            assert!(!session.is_empty(), "{what}");
            for record in later {
                assert_eq!(
                    header(record, "mcp-session-id"),
                    Some(session),
                    "{what}: {record}"
                );
            }
            // Python's client ends its session; TypeScript's (SDK 1.32) just closes.
            if let Client::Python = client {
                assert!(
                    later.iter().any(|r| r["method"] == "DELETE"),
                    "{what}: no DELETE of the session: {records:?}"
                );
                let requests = report["requests"].as_array().expect("requests");
                let delete = requests
                    .iter()
                    .find(|r| r["method"] == "DELETE")
                    .expect("DELETE");
                assert_eq!(delete["status"], 200, "{what}: {delete}");
            }
        }
    }
}

#[tokio::test]
async fn the_upstreams_verify_identity_assertions() {
    let audience = "http://127.0.0.1:1/upstream";
    let gateway = MockIssuer::builder().key(Algorithm::ES256).start().await;
    let check = AssertionCheck {
        jwks_url: gateway.jwks_uri(),
        issuer: gateway.issuer().to_owned(),
        audience: audience.to_owned(),
    };
    let good = gateway.token().audience(audience).subject("alice").sign();
    let elsewhere = gateway.token().audience("http://127.0.0.1:2/other").sign();
    for sdk in UpstreamSdk::ALL {
        let options = UpstreamOptions {
            assertion: Some(check.clone()),
            ..UpstreamOptions::default()
        };
        let upstream = Upstream::start(sdk, options).await;

        let report = ok(
            Client::TypeScript
                .run(&["--url", &upstream.url, "--token", &good, "--tool", "whoami"])
                .await,
            "valid assertion",
        );
        let claims: Value = serde_json::from_str(tool_text(&report["result"])).expect("claims");
        assert_eq!(claims["sub"], "alice", "{sdk:?}: {claims}");
        assert_eq!(claims["aud"], audience, "{sdk:?}: {claims}");
        let records = upstream.requests().await;
        assert!(!records.is_empty());
        for record in &records {
            assert_eq!(record["assertion"]["valid"], true, "{sdk:?}: {record}");
        }

        let seen = records.len();
        let report = ok(
            Client::TypeScript
                .run(&[
                    "--url",
                    &upstream.url,
                    "--token",
                    &elsewhere,
                    "--tool",
                    "whoami",
                ])
                .await,
            "assertion for another audience",
        );
        assert_eq!(
            tool_text(&report["result"]),
            r#"{"assertion":null}"#,
            "{sdk:?}"
        );
        let records = upstream.requests().await.split_off(seen);
        assert!(!records.is_empty());
        for record in &records {
            assert_eq!(record["assertion"]["valid"], false, "{sdk:?}: {record}");
            let error = record["assertion"]["error"].as_str().expect("error");
            assert!(error.to_lowercase().contains("aud"), "{sdk:?}: {error}");
        }
    }
}
