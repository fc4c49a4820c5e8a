//! The example's `--config FILE` and `--ca-file PEM` options, through its library entry point.

use std::path::PathBuf;

use mcp_auth_testing::{McpTestClient, MockIssuer, TestCa};
use protected_server::{Options, Server, start};
use serde_json::{Value, json};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "protected-server-{name}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The server's MCP endpoint on the address it listens on (its resource may be a public URL).
fn client(server: &Server, token: &str) -> McpTestClient {
    let path = server
        .mcp_url
        .splitn(4, '/')
        .nth(3)
        .map_or_else(|| "/".to_owned(), |p| format!("/{p}"));
    McpTestClient::new(format!("http://{}{path}", server.addr)).bearer(token)
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
    let reply = client(&trusting, &token)
        .call_tool("whoami", json!({}))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let who: Value = serde_json::from_str(reply.text()).unwrap();
    assert_eq!(who["issuer"], issuer.issuer());

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
    let reply = client(&distrusting, &token)
        .call_tool("whoami", json!({}))
        .await;
    assert_eq!(reply.status, 503);
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
    let reader = client(&server, &reader);
    let reply = reader.call_tool("whoami", json!({})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = reader.call_tool("add_note", json!({"text": "hi"})).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.challenge_param("scope").as_deref(),
        Some("notes:read notes:write")
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

/// The example against an identity provider as it really is, configured by flags only.
async fn with_idp(issuer: String, idp: protected_server::IdpOptions) -> Server {
    start(Options {
        listen: ([127, 0, 0, 1], 0).into(),
        issuer: Some(issuer),
        idp,
        ..Options::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn idp_flags_accept_okta_entra_and_cognito_tokens_as_those_vendors_issue_them() {
    use mcp_auth::Profile;
    use mcp_auth_testing::vendors::{
        API_APP_ID, CLIENT_ID, COGNITO_RESOURCE_SERVER, OTHER_TENANT, TENANT, Vendor, VendorIssuer,
    };
    use protected_server::IdpOptions;

    // Okta: `--idp okta --audience api://default`.
    let okta = VendorIssuer::start(Vendor::Okta, "unused").await;
    let flags = IdpOptions {
        profile: Some(Profile::Okta),
        audiences: vec!["api://default".into()],
        ..IdpOptions::default()
    };
    let server = with_idp(okta.issuer(), flags).await;
    let token = okta.access_token().claim("scp", json!(["mcp:read"])).sign();
    let reply = client(&server, &token).call_tool("whoami", json!({})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let who: Value = serde_json::from_str(reply.text()).unwrap();
    assert_eq!(who["client_id"], CLIENT_ID);
    // The same token without `--audience`: refused for its audience.
    let bare = with_idp(
        okta.issuer(),
        IdpOptions {
            profile: Some(Profile::Okta),
            ..IdpOptions::default()
        },
    )
    .await;
    let reply = client(&bare, &token).call_tool("whoami", json!({})).await;
    assert_eq!(reply.status, 401);

    // Entra, multi-tenant: `--idp entra --tenant T --audience APP` with the shared endpoint.
    let entra = VendorIssuer::start(Vendor::EntraMultiTenant, "unused").await;
    let flags = IdpOptions {
        profile: Some(Profile::Entra),
        audiences: vec![API_APP_ID.into()],
        tenants: vec![TENANT.into()],
        ..IdpOptions::default()
    };
    let server = with_idp(entra.configured_issuer(), flags).await;
    let admitted = entra
        .access_token_for(TENANT)
        .claim("scp", "mcp:read")
        .sign();
    let reply = client(&server, &admitted)
        .call_tool("whoami", json!({}))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let other = entra
        .access_token_for(OTHER_TENANT)
        .claim("scp", "mcp:read")
        .sign();
    let reply = client(&server, &other).call_tool("whoami", json!({})).await;
    assert_eq!(reply.status, 401);

    // Cognito: no `aud`; `--client-id` binds it, `--scope-prefix` maps its scopes.
    let cognito = VendorIssuer::start(Vendor::Cognito, "unused").await;
    let flags = IdpOptions {
        profile: Some(Profile::Cognito),
        client_ids: vec![CLIENT_ID.into()],
        scope_prefix: Some(COGNITO_RESOURCE_SERVER.into()),
        ..IdpOptions::default()
    };
    let server = with_idp(cognito.issuer(), flags).await;
    let token = cognito
        .access_token()
        .claim(
            "scope",
            format!("openid {COGNITO_RESOURCE_SERVER}/mcp:read"),
        )
        .sign();
    let reply = client(&server, &token).call_tool("whoami", json!({})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // Without `--client-id` the server refuses to start, naming the flag.
    let refused = start(Options {
        listen: ([127, 0, 0, 1], 0).into(),
        issuer: Some(cognito.issuer()),
        idp: IdpOptions {
            profile: Some(Profile::Cognito),
            ..IdpOptions::default()
        },
        ..Options::default()
    })
    .await;
    let error = match refused {
        Ok(_) => panic!("started without a client allow list"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("--client-id"), "{error}");
}
