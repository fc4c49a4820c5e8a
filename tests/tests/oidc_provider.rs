//! The example server's stack trusting a real authorization server (npm `oidc-provider`) by
//! discovery, and the official MCP TypeScript client talking to it.

use mcp_auth_e2e::{Provider, client_credentials_client, jwt_claims, tool_text, ts_client};
use serde_json::{Value, json};

const CLIENT: (&str, &str) = ("svc", "svc-secret");

async fn provider() -> Provider {
    Provider::start(json!({
        "scopes": ["mcp:read", "mcp:write", "mcp:admin"],
        "clients": [client_credentials_client(CLIENT, "mcp:read mcp:write mcp:admin")],
    }))
    .await
}

async fn server(provider: &Provider) -> protected_server::Server {
    let options = protected_server::Options {
        listen: ([127, 0, 0, 1], 0).into(),
        resource: None,
        issuer: Some(provider.issuer.clone()),
        ..Default::default()
    };
    protected_server::start(options)
        .await
        .expect("server starts")
}

async fn call_whoami(server: &protected_server::Server, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(&server.mcp_url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_token_issued_for_our_resource_passes_and_one_for_another_resource_does_not() {
    let provider = provider().await;
    let server = server(&provider).await;

    let token = provider
        .client_credentials(CLIENT, &server.mcp_url, "mcp:read")
        .await;
    let claims = jwt_claims(&token);
    assert_eq!(
        claims["aud"],
        server.mcp_url.as_str(),
        "oidc-provider bound the token to our resource"
    );
    let response = call_whoami(&server, Some(&token)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let who: Value = serde_json::from_str(tool_text(&body["result"])).unwrap();
    assert_eq!(who["issuer"], provider.issuer.as_str());
    assert_eq!(who["subject"], "svc");
    assert_eq!(who["client_id"], "svc");
    assert_eq!(who["scopes"], json!(["mcp:read"]));

    let elsewhere = provider
        .client_credentials(CLIENT, "http://127.0.0.1:1/other", "mcp:read")
        .await;
    let response = call_whoami(&server, Some(&elsewhere)).await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    assert!(
        challenge.contains("token audience does not include this resource"),
        "{challenge}"
    );

    let response = call_whoami(&server, None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        format!(
            r#"Bearer scope="mcp:read", resource_metadata="{}""#,
            server.metadata_url
        )
        .as_str()
    );
}

#[tokio::test]
async fn the_typescript_client_calls_whoami_with_a_bearer_token() {
    let provider = provider().await;
    let server = server(&provider).await;
    let token = provider
        .client_credentials(CLIENT, &server.mcp_url, "mcp:read")
        .await;
    let report = ts_client(&[
        "--url",
        &server.mcp_url,
        "--token",
        &token,
        "--tool",
        "whoami",
    ])
    .await;
    assert_eq!(report["ok"], true, "{report}");
    let who: Value = serde_json::from_str(tool_text(&report["result"])).unwrap();
    assert_eq!(who["subject"], "svc");
}

#[tokio::test]
async fn the_typescript_client_follows_our_401_to_the_metadata_and_back() {
    let provider = provider().await;
    let server = server(&provider).await;
    let report = ts_client(&[
        "--url",
        &server.mcp_url,
        "--oauth",
        "client_credentials",
        "--client-id",
        CLIENT.0,
        "--client-secret",
        CLIENT.1,
        "--scope",
        "mcp:read",
        "--expected-issuer",
        &provider.issuer,
        "--tool",
        "whoami",
    ])
    .await;
    assert_eq!(report["ok"], true, "{report}");
    let requests = report["requests"].as_array().unwrap();
    let first = &requests[0];
    assert_eq!(first["status"], 401, "{report}");
    assert!(
        first["www_authenticate"]
            .as_str()
            .unwrap()
            .contains(&server.metadata_url),
        "{first}"
    );
    let fetched_metadata = requests
        .iter()
        .any(|r| r["url"] == server.metadata_url.as_str() && r["status"] == 200);
    assert!(
        fetched_metadata,
        "the client fetched our metadata document: {report}"
    );
    let got_token = requests
        .iter()
        .any(|r| r["url"].as_str().unwrap().ends_with("/token") && r["status"] == 200);
    assert!(got_token, "{report}");
    let who: Value = serde_json::from_str(tool_text(&report["result"])).unwrap();
    assert_eq!(who["subject"], "svc");
    assert_eq!(who["scopes"], json!(["mcp:read"]));
}
