//! The example's `--config FILE` and `--ca-file PEM` options, through its library entry point.

use std::path::PathBuf;

use mcp_auth_testing::{MockIssuer, TestCa};
use protected_server::{Options, Server, start};
use serde_json::Value;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "protected-server-{name}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn call(server: &Server, tool: &str, token: &str) -> (u16, String, Value) {
    let path = server
        .mcp_url
        .splitn(4, '/')
        .nth(3)
        .map_or_else(|| "/".to_owned(), |p| format!("/{p}"));
    let response = reqwest::Client::new()
        .post(format!("http://{}{path}", server.addr))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token)
        .body(format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{{"text":"hi"}}}}}}"#
        ))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
    (status, challenge, body)
}

#[tokio::test]
async fn ca_file_lets_the_server_trust_an_issuer_behind_an_internal_ca() {
    let ca = TestCa::new();
    let issuer = MockIssuer::builder().tls(&ca).start().await;
    assert!(issuer.issuer().starts_with("https://"));
    let dir = temp_dir("ca");
    let ca_file = ca.write_ca_file(&dir).unwrap();

    let trusting = start(Options {
        listen: ([127, 0, 0, 1], 0).into(),
        issuer: Some(issuer.issuer().to_owned()),
        ca_file: Some(ca_file),
        ..Options::default()
    })
    .await
    .unwrap();
    let token = issuer
        .token()
        .audience(&trusting.mcp_url)
        .scope("mcp:read")
        .sign();
    let (status, _, body) = call(&trusting, "whoami", &token).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains(issuer.issuer()), "{body}");

    // Without the CA the issuer's certificate is not trusted: its keys cannot be had.
    let distrusting = start(Options {
        listen: ([127, 0, 0, 1], 0).into(),
        issuer: Some(issuer.issuer().to_owned()),
        ..Options::default()
    })
    .await
    .unwrap();
    let token = issuer
        .token()
        .audience(&distrusting.mcp_url)
        .scope("mcp:read")
        .sign();
    let (status, _, _) = call(&distrusting, "whoami", &token).await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn config_runs_the_configuration_in_the_file() {
    let issuer = MockIssuer::builder().start().await;
    let dir = temp_dir("config");
    let config = dir.join("mcp-auth.toml");
    std::fs::write(
        &config,
        format!(
            r#"
resource = "https://notes.example.com/mcp"
challenge_scope = "notes:read"

[[issuers]]
issuer = "{}"

[fetch]
allow_loopback = true

[scopes]
required = ["notes:read"]
[scopes.tools]
whoami = []
add_note = ["notes:write"]
"#,
            issuer.issuer()
        ),
    )
    .unwrap();
    let server = start(Options {
        listen: ([127, 0, 0, 1], 0).into(),
        config: Some(config),
        ..Options::default()
    })
    .await
    .unwrap();
    assert_eq!(server.mcp_url, "https://notes.example.com/mcp");
    assert!(server.dev_issuer.is_none());

    let reader = issuer
        .token()
        .audience("https://notes.example.com/mcp")
        .scope("notes:read")
        .sign();
    let (status, _, body) = call(&server, "whoami", &reader).await;
    assert_eq!(status, 200, "{body}");
    let (status, challenge, _) = call(&server, "add_note", &reader).await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains(r#"scope="notes:read notes:write""#),
        "{challenge}"
    );

    let metadata = reqwest::get(format!(
        "http://{}/.well-known/oauth-protected-resource/mcp",
        server.addr
    ))
    .await
    .unwrap()
    .bytes()
    .await
    .unwrap();
    let metadata: Value = serde_json::from_slice(&metadata).unwrap();
    assert_eq!(metadata["resource"], "https://notes.example.com/mcp");
    assert_eq!(metadata["authorization_servers"][0], issuer.issuer());
}

#[tokio::test]
async fn a_config_file_with_an_error_is_refused_naming_the_key() {
    let dir = temp_dir("bad-config");
    let config = dir.join("mcp-auth.toml");
    std::fs::write(
        &config,
        "resource = \"https://notes.example.com/mcp\"\n[[issuers]]\nissuer = \"https://auth.example.com\"\n[fetch]\nca_files = [\"/nonexistent/ca.pem\"]\n",
    )
    .unwrap();
    let error = start(Options {
        listen: ([127, 0, 0, 1], 0).into(),
        config: Some(config),
        ..Options::default()
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(error.contains("fetch.ca_files"), "{error}");
}
