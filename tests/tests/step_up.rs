//! Scope step-up with a real MCP client: the official TypeScript SDK, authorising with the
//! authorization-code flow against the real oidc-provider, meets our 403 `insufficient_scope`,
//! obtains a token with the challenged scopes and retries.

use mcp_auth_e2e::{Provider, posts_to, py_client, tool_text, ts_client};
use serde_json::json;

const REDIRECT: &str = "http://127.0.0.1:8976/callback";

async fn provider() -> Provider {
    Provider::start(json!({
        "scopes": ["mcp:read", "mcp:write", "mcp:admin"],
        "clients": [{
            // Pre-registered with the full scope set: an authorization server that pins a
            // client to its registered scope would otherwise refuse the step-up.
            "client_id": "agent",
            "grant_types": ["authorization_code"],
            "redirect_uris": [REDIRECT],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "mcp:read mcp:write mcp:admin",
        }],
    }))
    .await
}

async fn server(provider: &Provider) -> protected_server::Server {
    protected_server::start(protected_server::Options {
        listen: ([127, 0, 0, 1], 0).into(),
        resource: None,
        issuer: Some(provider.issuer.clone()),
        ..Default::default()
    })
    .await
    .expect("server starts")
}

#[tokio::test]
async fn the_typescript_client_steps_up_on_our_403_and_succeeds() {
    let provider = provider().await;
    let server = server(&provider).await;
    let report = ts_client(&[
        "--url",
        &server.mcp_url,
        "--oauth",
        "authorization_code",
        "--client-id",
        "agent",
        "--redirect-uri",
        REDIRECT,
        "--expected-issuer",
        &provider.issuer,
        "--tool",
        "add_note",
        "--args",
        r#"{"text":"stepped up"}"#,
    ])
    .await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(tool_text(&report["result"]), "1 notes");

    let posts = posts_to(&report, &server.mcp_url);
    let first_401 = posts.iter().find(|(s, _)| *s == 401).expect("a 401 first");
    assert!(first_401.1.contains(r#"scope="mcp:read""#), "{first_401:?}");
    let step_up = posts.iter().find(|(s, _)| *s == 403).expect("our 403");
    assert_eq!(
        step_up.1,
        format!(
            r#"Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="{}", error_description="`tools/call` of tool `add_note` needs mcp:read mcp:write (missing mcp:write)""#,
            server.metadata_url
        )
    );
    let authorizations = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["url"].as_str().unwrap().contains("/auth?"))
        .count();
    assert_eq!(
        authorizations, 2,
        "one authorization, then one step-up: {report}"
    );
    assert_eq!(posts.last().unwrap().0, 200, "{report}");
}

#[tokio::test]
async fn the_python_client_steps_up_on_our_403_and_succeeds() {
    let provider = provider().await;
    let server = server(&provider).await;
    let report = py_client(&[
        "--url",
        &server.mcp_url,
        "--oauth",
        "authorization_code",
        "--client-id",
        "agent",
        "--redirect-uri",
        REDIRECT,
        "--tool",
        "add_note",
        "--args",
        r#"{"text":"from python"}"#,
    ])
    .await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(tool_text(&report["result"]), "1 notes");
    let posts = posts_to(&report, &server.mcp_url);
    assert_eq!(posts.first().map(|p| p.0), Some(401), "{report}");
    let step_up_at = posts.iter().position(|(s, _)| *s == 403).expect("our 403");
    let step_up = &posts[step_up_at];
    assert!(
        step_up
            .1
            .starts_with(r#"Bearer error="insufficient_scope", scope="mcp:read mcp:write""#),
        "{step_up:?}"
    );
    // The call succeeded after the step-up, as the client's retry, and nothing failed since.
    assert!(
        posts[step_up_at + 1..].iter().any(|(s, _)| *s == 200),
        "no successful call after the 403: {posts:?}"
    );
    assert_eq!(posts.last().map(|p| p.0), Some(200), "{posts:?}");
}

#[tokio::test]
async fn the_typescript_client_lists_only_the_tools_its_token_allows() {
    let provider = provider().await;
    let server = server(&provider).await;
    let report = ts_client(&[
        "--url",
        &server.mcp_url,
        "--oauth",
        "authorization_code",
        "--client-id",
        "agent",
        "--redirect-uri",
        REDIRECT,
        "--scope",
        "mcp:read",
        "--expected-issuer",
        &provider.issuer,
        "--list",
    ])
    .await;
    assert_eq!(report["ok"], true, "{report}");
    let mut names: Vec<&str> = report["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["call_downstream", "list_notes", "list_transfers", "whoami"]
    );
}
