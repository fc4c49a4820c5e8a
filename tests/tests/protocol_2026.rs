//! The 2026-07-28 protocol through the whole stack, with rmcp's client speaking it (no
//! `initialize`, no session: `server/discover`, then self-contained requests carrying
//! `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` and `_meta`), against the example and the
//! real oidc-provider: every request authorised on its own, listings filtered by scope, step-up
//! on a tool that needs more, a users-only tool refused to a client acting for itself, and a
//! request whose mirrored headers lie refused with `-32020`.

use mcp_auth_e2e::Provider;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt as _};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const AGENT: (&str, &str) = ("agent", "agent-secret");

async fn provider() -> Provider {
    Provider::start(json!({
        "scopes": ["mcp:read", "mcp:write", "mcp:admin"],
        "clients": [{
            "client_id": AGENT.0, "client_secret": AGENT.1,
            "grant_types": ["client_credentials"], "redirect_uris": [], "response_types": [],
            "scope": "mcp:read mcp:write mcp:admin",
        }],
    }))
    .await
}

async fn connect(
    url: &str,
    token: Option<&str>,
) -> Result<rmcp::service::RunningService<rmcp::RoleClient, ()>, rmcp::service::ClientInitializeError>
{
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    ().serve_with_lifecycle(
        transport,
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
}

/// The names `tools/list` shows this client.
async fn tool_names(client: &rmcp::service::RunningService<rmcp::RoleClient, ()>) -> Vec<String> {
    client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

#[tokio::test]
async fn an_rmcp_client_on_2026_07_28_is_authorised_request_by_request() {
    let provider = provider().await;
    let server = protected_server::start(protected_server::Options {
        listen: ([127, 0, 0, 1], 0).into(),
        issuer: Some(provider.issuer.clone()),
        ..Default::default()
    })
    .await
    .expect("server starts");

    // No token: the very first request (server/discover) is refused.
    let refused = connect(&server.mcp_url, None).await;
    let Err(error) = refused else {
        panic!("a client without a token was let in");
    };
    let error = format!("{error:?}");
    assert!(
        error.contains("AuthRequired") && error.contains("resource_metadata="),
        "rmcp read our 401 challenge: {error}"
    );

    let read = provider
        .client_credentials(AGENT, &server.mcp_url, "mcp:read")
        .await;
    let client = connect(&server.mcp_url, Some(&read))
        .await
        .expect("discovers");
    let info = client.peer_info().expect("the server described itself");
    assert_eq!(
        info.protocol_version,
        ProtocolVersion::V_2026_07_28,
        "the session-less protocol was negotiated"
    );

    // Listings are filtered per request by the token's scope: mcp:read sees no write tools.
    let tools = tool_names(&client).await;
    assert!(tools.contains(&"list_notes".to_owned()), "{tools:?}");
    assert!(!tools.contains(&"add_note".to_owned()), "{tools:?}");
    assert!(!tools.contains(&"clear_notes".to_owned()), "{tools:?}");

    // An allowed call passes with the client's own mirrored headers.
    let whoami = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .expect("whoami is allowed");
    assert_ne!(whoami.is_error, Some(true), "{whoami:?}");

    // A tool needing more scope: 403 insufficient_scope with the step-up challenge.
    let denied = client
        .call_tool(
            CallToolRequestParams::new("add_note")
                .with_arguments(json!({"text": "hello"}).as_object().unwrap().clone()),
        )
        .await
        .expect_err("add_note needs mcp:write");
    let denied = format!("{denied:?}");
    assert!(
        denied.contains("InsufficientScope") && denied.contains(r#"scope=\"mcp:read mcp:write\""#),
        "rmcp read our step-up challenge: {denied}"
    );
    let _ = client.cancel().await;

    // With mcp:write the same client (a new token, no session to carry over) may add.
    let write = provider
        .client_credentials(AGENT, &server.mcp_url, "mcp:write")
        .await;
    let client = connect(&server.mcp_url, Some(&write))
        .await
        .expect("discovers");
    let added = client
        .call_tool(
            CallToolRequestParams::new("add_note")
                .with_arguments(json!({"text": "hello"}).as_object().unwrap().clone()),
        )
        .await
        .expect("add_note with mcp:write");
    assert_ne!(added.is_error, Some(true), "{added:?}");
    let _ = client.cancel().await;

    // clear_notes acts for a user: this client's own token may not call it, even with
    // mcp:admin, and is not sent to re-authorise (no challenge); listings do not show it.
    let admin = provider
        .client_credentials(AGENT, &server.mcp_url, "mcp:admin")
        .await;
    let client = connect(&server.mcp_url, Some(&admin))
        .await
        .expect("discovers");
    let tools = tool_names(&client).await;
    assert!(tools.contains(&"add_note".to_owned()), "{tools:?}");
    assert!(!tools.contains(&"clear_notes".to_owned()), "{tools:?}");
    let _ = client.cancel().await;
    let call = json!({
        "jsonrpc": "2.0", "id": 42, "method": "tools/call",
        "params": {"name": "clear_notes", "arguments": {},
                   "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}},
    });
    let answer = reqwest::Client::new()
        .post(&server.mcp_url)
        .bearer_auth(&admin)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "clear_notes")
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
    assert!(
        answer.headers().get("www-authenticate").is_none(),
        "no step-up challenge: {:?}",
        answer.headers()
    );
    let text = answer.text().await.unwrap();
    assert!(text.contains("acts for a user"), "{text}");

    // Mirrored headers that contradict the body: 400 with JSON-RPC -32020 and the request's id,
    // before any tool runs.
    let body = json!({
        "jsonrpc": "2.0", "id": 41, "method": "tools/call",
        "params": {"name": "clear_notes", "arguments": {},
                   "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}},
    });
    let http = reqwest::Client::new();
    let send = |name: &'static str, version: &'static str| {
        http.post(&server.mcp_url)
            .bearer_auth(&write)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version)
            .header("mcp-method", "tools/call")
            .header("mcp-name", name)
            .json(&body)
            .send()
    };
    for (name, version, why) in [
        ("add_note", "2026-07-28", "Mcp-Name names another tool"),
        (
            "clear_notes",
            "2025-11-25",
            "the header's version is not the body's",
        ),
    ] {
        let answer = send(name, version).await.unwrap();
        assert_eq!(answer.status(), 400, "{why}");
        let error: Value = answer.json().await.unwrap();
        assert_eq!(error["error"]["code"], -32020, "{why}: {error}");
        assert_eq!(error["id"], 41, "{why}: {error}");
    }
}
