//! On behalf of the user: the example's `call_downstream` tool exchanges the caller's token at
//! the real oidc-provider (RFC 8693) and calls a downstream API protected by mcp-auth's own
//! verification layer, which sees the user as `sub` and our server in `act`.

use mcp_auth_e2e::{Provider, tool_text, ts_client};
use serde_json::{Value, json};

const USER: (&str, &str) = ("alice-app", "alice-secret");
const SERVER: (&str, &str) = ("mcp-server", "mcp-server-secret");

async fn provider() -> Provider {
    Provider::start(json!({
        "scopes": ["mcp:read", "mcp:write", "api:read"],
        "clients": [
            {"client_id": USER.0, "client_secret": USER.1, "grant_types": ["client_credentials"],
             "redirect_uris": [], "response_types": [], "scope": "mcp:read"},
            {"client_id": SERVER.0, "client_secret": SERVER.1,
             "grant_types": ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
             "redirect_uris": [], "response_types": [], "scope": "api:read"},
        ],
        "tokenExchange": {"enabled": true},
    }))
    .await
}

#[tokio::test]
async fn call_downstream_exchanges_the_token_and_the_api_sees_user_and_server() {
    let provider = provider().await;
    let server = protected_server::start(protected_server::Options {
        listen: ([127, 0, 0, 1], 0).into(),
        issuer: Some(provider.issuer.clone()),
        exchange_client: Some((SERVER.0.into(), SERVER.1.into())),
        ..Default::default()
    })
    .await
    .expect("server starts");
    let token = provider
        .client_credentials(USER, &server.mcp_url, "mcp:read")
        .await;

    let report = ts_client(&[
        "--url",
        &server.mcp_url,
        "--token",
        &token,
        "--tool",
        "call_downstream",
    ])
    .await;
    assert_eq!(report["ok"], true, "{report}");
    let seen: Value = serde_json::from_str(tool_text(&report["result"])).unwrap();
    assert_eq!(seen["sub"], USER.0, "the downstream API sees the user");
    assert_eq!(
        seen["act"],
        json!([SERVER.0]),
        "and our server acting for them"
    );
    assert_eq!(
        seen["aud"],
        json!([server.downstream_url.as_deref().unwrap()])
    );

    // The user's own token does not open the downstream API: no passthrough possible.
    let direct = reqwest::Client::new()
        .get(server.downstream_url.as_deref().unwrap())
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 401);
    let challenge = direct.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("token audience does not include this resource"),
        "{challenge}"
    );
}

#[tokio::test]
async fn without_token_exchange_configured_the_tool_fails_cleanly() {
    let provider = provider().await;
    let server = protected_server::start(protected_server::Options {
        listen: ([127, 0, 0, 1], 0).into(),
        issuer: Some(provider.issuer.clone()),
        ..Default::default()
    })
    .await
    .expect("server starts");
    let token = provider
        .client_credentials(USER, &server.mcp_url, "mcp:read")
        .await;
    let report = ts_client(&[
        "--url",
        &server.mcp_url,
        "--token",
        &token,
        "--tool",
        "call_downstream",
    ])
    .await;
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("no on-behalf-of handle"),
        "{report}"
    );
}
