//! `mcp-auth-gateway` in front of MCP servers written with the official TypeScript and Python
//! SDKs (no auth of their own, recording every request), reached by the official TypeScript
//! and Python clients, with the real oidc-provider as the authorization server: bearer tokens,
//! OAuth with discovery through the gateway's metadata, step-up on a per-tool scope, filtered
//! listings, client-document admission, progress streamed event by event, and a reload on
//! SIGHUP that drops no stream. The servers assert that no client credential ever reached them
//! and that the gateway's identity assertions verify against its JWKS.

#[path = "../../crates/mcp-auth-cimd/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mcp_auth_e2e::{
    AssertionCheck, Provider, SdkClient, Upstream, UpstreamOptions, UpstreamSdk,
    client_credentials_client, gateway_on, posts_to, tool_text,
};
use mcp_auth_gateway::Gateway;
use serde_json::{Value, json};
use support::{DocServer, Reply, TestCa, temp_dir};
use tokio::io::AsyncBufReadExt as _;
use tokio::net::TcpListener;

const REDIRECT: &str = "http://127.0.0.1:8976/callback";
const SERVICE: (&str, &str) = ("svc", "svc-secret");
/// The `aud` of the assertions the gateway sends upstream.
const UPSTREAM_AUDIENCE: &str = "urn:test:upstream";

async fn provider(extra: Value) -> Provider {
    let mut config = json!({
        "scopes": ["mcp:read", "mcp:write"],
        "clients": [
            {
                "client_id": "agent",
                "grant_types": ["authorization_code"],
                "redirect_uris": [REDIRECT],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "scope": "mcp:read mcp:write",
            },
            client_credentials_client(SERVICE, "mcp:read mcp:write"),
        ],
    });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    Provider::start(config).await
}

/// A gateway in front of one upstream; the listener is bound first so that the upstream can be
/// told the gateway's JWKS URL before either starts.
struct Fixture {
    upstream: Upstream,
    gateway: Gateway,
    mcp_url: String,
    gateway_url: String,
}

/// The gateway's TOML: scopes per tool, identity assertions upstream, and `extra` appended.
fn gateway_toml(issuer: &str, upstream: &str, extra: &str) -> String {
    format!(
        r#"
challenge_scope = "mcp:read"
scopes_supported = ["mcp:read", "mcp:write"]

[[issuers]]
issuer = "{issuer}"

[scopes]
required = ["mcp:read"]
[scopes.tools]
echo = []
whoami = []
progress = []
write_note = ["mcp:write"]

[upstream]
url = "{upstream}"
credentials = {{ kind = "identity_assertion", audience = "{UPSTREAM_AUDIENCE}" }}

[identity_assertion]
lifetime_s = 60

{extra}
"#
    )
}

impl Fixture {
    async fn start(sdk: UpstreamSdk, provider: &Provider, extra: &str) -> Fixture {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = Upstream::start(
            sdk,
            UpstreamOptions {
                assertion: Some(AssertionCheck {
                    jwks_url: format!("{gateway_url}/.well-known/jwks.json"),
                    issuer: gateway_url.clone(),
                    audience: UPSTREAM_AUDIENCE.into(),
                }),
                ..Default::default()
            },
        )
        .await;
        let extra = if extra.contains("[fetch]") {
            extra.to_owned()
        } else {
            format!("[fetch]\nallow_loopback = true\n{extra}")
        };
        let gateway = gateway_on(
            listener,
            &gateway_toml(&provider.issuer, &upstream.url, &extra),
        )
        .await;
        Fixture {
            mcp_url: format!("{gateway_url}/mcp"),
            upstream,
            gateway,
            gateway_url,
        }
    }
}

fn ok(report: Value, what: &str) -> Value {
    assert_eq!(report["ok"], true, "{what}: {report}");
    report
}

fn tool_names(report: &Value) -> Vec<String> {
    let mut names: Vec<String> = report["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {report}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// What every request that reached an upstream must show: no credential of the client's, and an
/// identity assertion that verified against the gateway's JWKS.
fn assert_no_client_credentials(records: &[Value], tokens: &[&str]) {
    assert!(!records.is_empty(), "nothing reached the upstream");
    for record in records {
        let headers = record["headers"].as_object().unwrap();
        for (name, value) in headers {
            let value = value.as_str().unwrap_or_default();
            for token in tokens {
                assert!(
                    !value.contains(token),
                    "the client's token reached the upstream in `{name}`"
                );
            }
        }
        assert!(!headers.contains_key("dpop"), "{record}");
        let authorization = record["headers"]["authorization"].as_str().unwrap_or("");
        assert!(
            authorization.starts_with("Bearer ey"),
            "an identity assertion, not nothing: {record}"
        );
        assert_eq!(
            record["assertion"]["valid"], true,
            "the assertion verifies with the gateway's JWKS: {record}"
        );
        assert_eq!(record["headers"]["x-forwarded-for"], "127.0.0.1");
        assert_eq!(record["headers"]["x-forwarded-proto"], "http");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sdks_serve_both_clients_through_the_gateway_and_never_see_their_tokens() {
    let provider = provider(json!({})).await;
    for sdk in UpstreamSdk::ALL {
        let fx = Fixture::start(sdk, &provider, "").await;
        let read = provider
            .client_credentials(SERVICE, &fx.mcp_url, "mcp:read")
            .await;
        let write = provider
            .client_credentials(SERVICE, &fx.mcp_url, "mcp:read mcp:write")
            .await;
        for client in SdkClient::ALL {
            let what = format!("{client:?} client, {sdk:?} server");
            // One call with `token`; `tail` says what to do.
            let run = |token: &str, tail: &[&str]| {
                let mut args = vec!["--url", fx.mcp_url.as_str(), "--token", token];
                args.extend_from_slice(tail);
                args.iter().map(|s| s.to_string()).collect::<Vec<String>>()
            };
            let call = |args: Vec<String>| async move {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                client.run(&args).await
            };
            let listed = ok(call(run(&read, &["--list"])).await, &what);
            assert_eq!(
                tool_names(&listed),
                ["echo", "progress", "whoami"],
                "write_note needs mcp:write, so it is not listed: {what}"
            );
            let echo = ["--tool", "echo", "--args", r#"{"text":"hi"}"#];
            let echoed = ok(call(run(&read, &echo)).await, &what);
            assert_eq!(tool_text(&echoed["result"]), "hi", "{what}");

            let who = ok(call(run(&read, &["--tool", "whoami"])).await, &what);
            let claims: Value = serde_json::from_str(tool_text(&who["result"])).unwrap();
            assert_eq!(claims["sub"], SERVICE.0, "{what}: {claims}");
            assert_eq!(claims["client_id"], SERVICE.0, "{what}: {claims}");
            assert_eq!(claims["idp"], provider.issuer.as_str(), "{what}");
            assert_eq!(claims["iss"], fx.gateway_url.as_str(), "{what}");
            assert_eq!(claims["scope"], "mcp:read", "{what}");

            let write_note = ["--tool", "write_note", "--args", r#"{"text":"x"}"#];
            let refused = call(run(&read, &write_note)).await;
            assert_eq!(refused["ok"], false, "{what}: {refused}");
            let saved = ok(call(run(&write, &write_note)).await, &what);
            assert_eq!(tool_text(&saved["result"]), "saved: x", "{what}");
        }
        let records = fx.upstream.requests().await;
        assert_no_client_credentials(&records, &[&read, &write]);
        let authority = fx.upstream.base.trim_start_matches("http://");
        assert!(records.iter().all(|r| r["headers"]["host"] == authority));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_clients_discover_the_issuer_through_the_gateway_and_step_up() {
    let provider = provider(json!({})).await;
    for (sdk, client) in [
        (UpstreamSdk::TypeScript, SdkClient::TypeScript),
        (UpstreamSdk::Python, SdkClient::Python),
    ] {
        let fx = Fixture::start(sdk, &provider, "").await;
        let what = format!("{client:?} client, {sdk:?} server");
        let mut args = vec![
            "--url",
            &fx.mcp_url,
            "--oauth",
            "authorization_code",
            "--client-id",
            "agent",
            "--redirect-uri",
            REDIRECT,
            "--tool",
            "write_note",
            "--args",
            r#"{"text":"stepped up"}"#,
        ];
        if client == SdkClient::TypeScript {
            args.extend(["--expected-issuer", &provider.issuer]);
        }
        let report = ok(client.run(&args).await, &what);
        assert_eq!(tool_text(&report["result"]), "saved: stepped up");
        let metadata = format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            fx.gateway_url
        );
        let posts = posts_to(&report, &fx.mcp_url);
        assert_eq!(posts.first().map(|p| p.0), Some(401), "{what}: {posts:?}");
        assert!(
            posts[0]
                .1
                .contains(&format!(r#"resource_metadata="{metadata}""#)),
            "{what}: the 401 points at the gateway's metadata: {posts:?}"
        );
        let step_up = posts
            .iter()
            .find(|(status, _)| *status == 403)
            .unwrap_or_else(|| panic!("{what}: no 403: {posts:?}"));
        assert!(
            step_up
                .1
                .starts_with(r#"Bearer error="insufficient_scope", scope="mcp:read mcp:write""#),
            "{what}: {step_up:?}"
        );
        assert_eq!(posts.last().map(|p| p.0), Some(200), "{what}: {posts:?}");
        let records = fx.upstream.requests().await;
        assert_no_client_credentials(&records, &[]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_reaches_both_clients_event_by_event_through_the_gateway() {
    let provider = provider(json!({})).await;
    for sdk in UpstreamSdk::ALL {
        let fx = Fixture::start(sdk, &provider, "").await;
        let token = provider
            .client_credentials(SERVICE, &fx.mcp_url, "mcp:read")
            .await;
        let args = [
            "--url",
            &fx.mcp_url,
            "--token",
            &token,
            "--tool",
            "progress",
            "--progress",
            "--args",
            r#"{"steps":10,"interval_ms":200}"#,
        ];
        let (ts, py) = tokio::join!(
            SdkClient::TypeScript.run(&args),
            SdkClient::Python.run(&args)
        );
        for (client, report) in [("TypeScript", ts), ("Python", py)] {
            let what = format!("{client} client, {sdk:?} server");
            let report = ok(report, &what);
            let events = report["progress"].as_array().unwrap();
            assert_eq!(events.len(), 10, "{what}: {report}");
            let first = events[0]["at_ms"].as_f64().unwrap();
            let result = report["result_at_ms"].as_f64().unwrap();
            // The server spends two seconds between its first event and its result: a gateway
            // that buffered would deliver them together.
            assert!(
                result - first >= 1000.0,
                "{what}: the first event arrived {first} ms in, the result at {result} ms"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_document_is_admitted_once_approved_and_a_reload_picks_the_approval_up() {
    let dir = temp_dir("gateway-cimd");
    let ca = TestCa::new();
    let ca_file = ca.write_ca_file(&dir).unwrap();
    let documents = DocServer::https(&ca).await;
    let client_id = documents.url("/client.json");
    documents.set(
        "/client.json",
        Reply::json(&json!({
            "client_id": client_id,
            "client_name": "Gateway CIMD client",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })),
    );
    let provider = provider(json!({
        "clientIdMetadataDocument": { "enabled": true, "allowLoopback": true, "caFile": ca_file },
    }))
    .await;
    let registry_file = dir.join("clients.json");
    let extra = format!(
        "[fetch]\nallow_loopback = true\nca_files = [{ca:?}]\n\n[clients]\npolicy = \"registry\"\n\
         registry = {registry:?}\npre_registered = \"all\"\n",
        ca = ca_file.display().to_string(),
        registry = registry_file.display().to_string(),
    );
    let fx = Fixture::start(UpstreamSdk::TypeScript, &provider, &extra).await;
    let args = [
        "--url",
        &fx.mcp_url,
        "--oauth",
        "authorization_code",
        "--client-metadata-url",
        &client_id,
        "--redirect-uri",
        REDIRECT,
        "--expected-issuer",
        &provider.issuer,
        "--tool",
        "whoami",
    ];
    let run = || SdkClient::TypeScript.run(&args);
    let refused = run().await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("this client has not been approved by the server's operator"),
        "{refused}"
    );
    let reached = fx.upstream.requests().await.len();

    // The operator approves it (what `mcp-auth clients approve` writes), then reloads.
    let info = mcp_auth::ClientResolver::builder()
        .fetch_policy(
            mcp_auth::FetchPolicy::default()
                .allow_loopback(true)
                .root_certificate_pem(ca.ca_pem()),
        )
        .build()
        .unwrap()
        .resolve_uncached(&client_id)
        .await
        .unwrap();
    mcp_auth::Registry::open_or_empty(&registry_file)
        .unwrap()
        .approve(&info)
        .unwrap();
    fx.gateway.reload().await.expect("the reload builds");
    let admitted = ok(run().await, "approved");
    let who: Value = serde_json::from_str(tool_text(&admitted["result"])).unwrap();
    assert_eq!(who["client_id"], client_id.as_str(), "{who}");
    // The Python client, with the same document URL as its client id.
    let python = SdkClient::Python
        .run(&[
            "--url",
            &fx.mcp_url,
            "--oauth",
            "authorization_code",
            "--client-metadata-url",
            &client_id,
            "--redirect-uri",
            REDIRECT,
            "--tool",
            "whoami",
        ])
        .await;
    let python = ok(python, "approved, Python client");
    let who: Value = serde_json::from_str(tool_text(&python["result"])).unwrap();
    assert_eq!(who["client_id"], client_id.as_str(), "{who}");
    let records = fx.upstream.requests().await;
    assert!(
        records.len() > reached,
        "the approved client reached the server"
    );
    assert_no_client_credentials(&records, &[]);
}

/// The gateway binary (with `--dev-issuer`), built by the cargo running the tests.
async fn gateway_binary() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let output = tokio::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--locked",
            "--package",
            "mcp-auth-gateway",
            "--bin",
            "mcp-auth-gateway",
            "--features",
            "dev-issuer",
            "--message-format=json",
        ])
        .current_dir(workspace)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "mcp-auth-gateway")
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported the executable")
}

async fn call_echo(mcp_url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .post(mcp_url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-06-18")
        .body(
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                   "params":{"name":"echo","arguments":{"text":"hi"}}})
            .to_string(),
        )
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Starts the binary on an ephemeral port with `args` and returns it with the address it
/// reports in its first structured log line about listening. Its logs go on to the test's.
async fn spawn_gateway(binary: &Path, args: &[&str]) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(binary)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut logs = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = logs.next_line().await.unwrap() {
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["message"] == "mcp-auth-gateway listening" {
                return entry["addr"].as_str().unwrap().to_owned();
            }
        }
        panic!("the gateway exited before listening");
    })
    .await
    .expect("the gateway did not come up within 30 s");
    tokio::spawn(async move {
        while let Ok(Some(line)) = logs.next_line().await {
            eprintln!("gateway: {line}");
        }
    });
    (child, addr)
}

async fn posts_reached(upstream: &Upstream) -> usize {
    upstream
        .requests()
        .await
        .iter()
        .filter(|r| r["method"] == "POST")
        .count()
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reloads_on_sighup_without_dropping_a_stream_and_stops_on_sigterm() {
    let binary = gateway_binary().await;
    let provider = provider(json!({})).await;
    let upstream = Upstream::start(UpstreamSdk::TypeScript, UpstreamOptions::default()).await;
    let dir = temp_dir("gateway-sighup");
    let config = dir.join("gateway.toml");
    // The flags name the server and the issuer; the file holds what a reload changes.
    let write_config = |echo_scope: &str| {
        let toml = format!(
            "[scopes]\nrequired = [\"mcp:read\"]\n[scopes.tools]\necho = [\"{echo_scope}\"]\n\
             progress = []\n"
        );
        std::fs::write(&config, toml).unwrap();
    };
    write_config("mcp:read");
    let (mut child, addr) = spawn_gateway(
        &binary,
        &[
            "--upstream",
            &upstream.url,
            "--issuer",
            &provider.issuer,
            "--config",
            config.to_str().unwrap(),
        ],
    )
    .await;
    let pid = child.id().unwrap();
    let mcp_url = format!("http://{addr}/mcp");
    let health = format!("http://{addr}/healthz");
    assert_eq!(reqwest::get(&health).await.unwrap().status(), 200);
    let ready = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);

    let token = provider
        .client_credentials(SERVICE, &mcp_url, "mcp:read")
        .await;
    assert_eq!(call_echo(&mcp_url, &token).await, 200);

    // A two-second stream is under way when the configuration changes.
    let before = posts_reached(&upstream).await;
    let stream = progress_call(&mcp_url, &token);
    wait_for_posts(&upstream, before + 3).await;
    write_config("mcp:write");
    signal(pid, "HUP");
    let reloaded = tokio::time::timeout(Duration::from_secs(10), async {
        while call_echo(&mcp_url, &token).await != 403 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(reloaded.is_ok(), "echo did not come to need mcp:write");

    let report = stream.await.unwrap();
    let report = ok(report, "the stream that was under way");
    assert_eq!(report["progress"].as_array().unwrap().len(), 10, "{report}");
    assert_eq!(tool_text(&report["result"]), "done");

    // A configuration that does not build changes nothing.
    std::fs::write(&config, "resource = 42").unwrap();
    signal(pid, "HUP");
    let still = reqwest::get(&health).await.unwrap();
    assert_eq!(still.status(), 200);
    assert_eq!(
        call_echo(&mcp_url, &token).await,
        403,
        "the last good configuration"
    );

    // SIGTERM while a stream is under way: the stream finishes, then the gateway exits.
    write_config("mcp:read");
    signal(pid, "HUP");
    let before = posts_reached(&upstream).await;
    let stream = progress_call(&mcp_url, &token);
    wait_for_posts(&upstream, before + 3).await;
    signal(pid, "TERM");
    let report = ok(stream.await.unwrap(), "the stream under way at SIGTERM");
    assert_eq!(report["progress"].as_array().unwrap().len(), 10, "{report}");
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the gateway stops on SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert_eq!(
        call_echo(&mcp_url, &token).await,
        0,
        "nothing listens any more"
    );
}

/// A two-second `progress` call through the TypeScript client, under way in a task.
fn progress_call(mcp_url: &str, token: &str) -> tokio::task::JoinHandle<Value> {
    let (mcp_url, token) = (mcp_url.to_owned(), token.to_owned());
    tokio::spawn(async move {
        SdkClient::TypeScript
            .run(&[
                "--url",
                &mcp_url,
                "--token",
                &token,
                "--tool",
                "progress",
                "--progress",
                "--args",
                r#"{"steps":10,"interval_ms":200}"#,
            ])
            .await
    })
}

/// Waits until `count` POSTs have reached the server (initialize, initialized, then the call:
/// the call is under way).
async fn wait_for_posts(upstream: &Upstream, count: usize) {
    let reached = tokio::time::timeout(Duration::from_secs(20), async {
        while posts_reached(upstream).await < count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(reached.is_ok(), "the call did not reach the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_the_get_stream_and_delete_pass_through_to_stateful_servers() {
    let provider = provider(json!({})).await;
    for sdk in UpstreamSdk::ALL {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = Upstream::start(
            sdk,
            UpstreamOptions {
                stateful: true,
                ..Default::default()
            },
        )
        .await;
        let _gateway = gateway_on(
            listener,
            &format!(
                "[[issuers]]\nissuer = \"{}\"\n[fetch]\nallow_loopback = true\n\
                 [scopes]\nrequired = [\"mcp:read\"]\n[scopes.tools]\necho = []\n\
                 [upstream]\nurl = \"{}\"\n",
                provider.issuer, upstream.url
            ),
        )
        .await;
        let mcp_url = format!("http://{addr}/mcp");
        let token = provider
            .client_credentials(SERVICE, &mcp_url, "mcp:read")
            .await;
        for client in SdkClient::ALL {
            let what = format!("{client:?} client, {sdk:?} server");
            let args = [
                "--url",
                &mcp_url,
                "--token",
                &token,
                "--tool",
                "echo",
                "--args",
                r#"{"text":"in a session"}"#,
            ];
            let report = ok(client.run(&args).await, &what);
            assert_eq!(tool_text(&report["result"]), "in a session", "{what}");
        }
        let records = upstream.requests().await;
        let with_session = |method: &str| {
            records
                .iter()
                .filter(|r| r["method"] == method && r["headers"]["mcp-session-id"].is_string())
                .count()
        };
        let sdk_name = format!("{sdk:?} server");
        assert!(with_session("POST") >= 4, "{sdk_name}: {records:?}");
        assert!(
            with_session("GET") >= 1,
            "{sdk_name}: the GET stream in a session: {records:?}"
        );
        assert!(
            with_session("DELETE") >= 1,
            "{sdk_name}: the Python client ends its session: {records:?}"
        );
        for record in &records {
            for value in record["headers"].as_object().unwrap().values() {
                assert!(!value.as_str().unwrap_or("").contains(&token), "{sdk_name}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_two_commands_protect_a_local_server() {
    let binary = gateway_binary().await;
    // 1. A server with no auth of its own (the README starts the same fixture).
    let upstream = Upstream::start(UpstreamSdk::TypeScript, UpstreamOptions::default()).await;
    // 2. The gateway in front of it, trusting its development issuer.
    let (mut child, addr) = spawn_gateway(
        &binary,
        &[
            "--upstream",
            &upstream.url,
            "--dev-issuer",
            "--threads",
            "1",
        ],
    )
    .await;
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let token = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if let Some(token) = line.strip_prefix("TOKEN=") {
                return token.to_owned();
            }
        }
        panic!("no TOKEN= line");
    })
    .await
    .expect("the gateway printed a token");
    let mcp_url = format!("http://{addr}/mcp");
    let listed = SdkClient::TypeScript
        .run(&["--url", &mcp_url, "--token", &token, "--list"])
        .await;
    let listed = ok(listed, "the printed token");
    assert!(tool_names(&listed).contains(&"echo".to_owned()), "{listed}");
    let anonymous = reqwest::Client::new()
        .post(&mcp_url)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let records = upstream.requests().await;
    assert!(!records.is_empty());
    for record in &records {
        assert!(record["headers"]["authorization"].is_null(), "{record}");
    }
}
