//! What the TOML says is what the stack does: hierarchy, resources, the client registry, token
//! exchange and audit each change behaviour.

use std::convert::Infallible;
use std::path::PathBuf;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth::McpAuth;
use mcp_auth::obo::OnBehalfOf;
use mcp_auth_testing::MockIssuer;
use serde_json::json;
use tower::{Layer, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mcp-auth-config-{name}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn base(issuer: &MockIssuer) -> String {
    format!(
        "resource = \"{RESOURCE}\"\n[[issuers]]\nissuer = \"{}\"\njwks_uri = \"{}\"\n[fetch]\nallow_loopback = true\n",
        issuer.issuer(),
        issuer.jwks_uri()
    )
}

/// Sends `body` with a token granting `scopes` through the stack the TOML describes; the inner
/// service answers whether it found an on-behalf-of handle.
async fn send(toml: &str, token: &str, body: serde_json::Value) -> (u16, String) {
    let auth = McpAuth::from_toml(toml).unwrap().build().unwrap();
    let inner = tower::service_fn(|req: Request<_>| async move {
        let handle = OnBehalfOf::from_extensions(req.extensions()).is_some();
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!(
            "handle={handle}"
        )))))
    });
    let request = Request::post("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = auth.layer(inner).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    if let Some(auditor) = auth.auditor().cloned() {
        tokio::task::spawn_blocking(move || auditor.shutdown())
            .await
            .unwrap();
    }
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn call(tool: &str) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool}})
}

#[tokio::test]
async fn the_hierarchy_in_the_file_is_honoured() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let toml = format!(
        "{}[scopes]\nhierarchy = {{ \"mcp:admin\" = [\"mcp:write\"] }}\n[scopes.tools]\nadd_note = [\"mcp:write\"]\n",
        base(&issuer)
    );
    let admin = issuer.token().scope("mcp:admin").sign();
    assert_eq!(send(&toml, &admin, call("add_note")).await.0, 200);
    let reader = issuer.token().scope("mcp:read").sign();
    assert_eq!(send(&toml, &reader, call("add_note")).await.0, 403);
}

#[tokio::test]
async fn resource_rules_in_the_file_are_enforced() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let toml = format!(
        "{}[scopes.resources]\n\"file:///notes/{{id}}\" = [\"notes:read\"]\n",
        base(&issuer)
    );
    let read = json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read",
                      "params": {"uri": "file:///notes/7"}});
    let allowed = issuer.token().scope("notes:read").sign();
    assert_eq!(send(&toml, &allowed, read.clone()).await.0, 200);
    let other = issuer.token().scope("mcp:read").sign();
    assert_eq!(send(&toml, &other, read).await.0, 403);
}

#[tokio::test]
async fn the_client_registry_in_the_file_admits_only_whom_it_names() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let dir = temp_dir("registry");
    let registry = dir.join("mcp-clients.json");
    let clients = |pre_registered: &str| {
        format!(
            "{}[clients]\npolicy = \"registry\"\nregistry = \"{}\"\npre_registered = {pre_registered}\n",
            base(&issuer),
            registry.display()
        )
    };
    let token = issuer.token().client_id("test-client").sign();
    assert_eq!(send(&clients("\"none\""), &token, call("t")).await.0, 403);
    assert_eq!(
        send(&clients("[\"test-client\"]"), &token, call("t"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn token_exchange_in_the_file_gives_handlers_a_handle() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let token = issuer.token().sign();
    assert_eq!(
        send(&base(&issuer), &token, call("t")).await,
        (200, "handle=false".to_owned())
    );
    // The secret is read from the named variable; any variable set in every environment will
    // do here (no exchange is made: handlers exchange lazily).
    let toml = format!(
        "{}[token_exchange]\nclient_id = \"mcp-server\"\nclient_secret_env = \"PATH\"\ntoken_endpoint = \"{}\"\n",
        base(&issuer),
        issuer.token_endpoint()
    );
    assert_eq!(
        send(&toml, &token, call("t")).await,
        (200, "handle=true".to_owned())
    );
}

#[tokio::test]
async fn the_audit_file_in_the_file_receives_the_events() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let dir = temp_dir("audit");
    let file = dir.join("audit.jsonl");
    let toml = format!("{}[audit]\nfile = \"{}\"\n", base(&issuer), file.display());
    let token = issuer.token().sign();
    assert_eq!(send(&toml, &token, call("t")).await.0, 200);
    let lines = std::fs::read_to_string(&file).unwrap();
    let event: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(event["kind"], "request");
    assert_eq!(event["http"]["status"], 200);
}

#[tokio::test]
async fn an_identity_provider_profile_in_the_file_accepts_that_vendors_tokens() {
    use mcp_auth_testing::vendors::{API_APP_ID, OTHER_TENANT, TENANT, Vendor, VendorIssuer};
    let entra = VendorIssuer::start(Vendor::EntraMultiTenant, RESOURCE).await;
    let toml = format!(
        "resource = \"{RESOURCE}\"\n[[issuers]]\nissuer = \"{}\"\nprofile = \"entra\"\ntenants = [\"{TENANT}\"]\naudiences = [\"{API_APP_ID}\"]\n[fetch]\nallow_loopback = true\n",
        entra.configured_issuer()
    );
    let admitted = entra.access_token_for(TENANT).sign();
    assert_eq!(send(&toml, &admitted, call("anything")).await.0, 200);
    let other = entra.access_token_for(OTHER_TENANT).sign();
    assert_eq!(send(&toml, &other, call("anything")).await.0, 401);
    // Without the profile the same tokens are refused (no `at+jwt`, no `client_id`).
    let strict = toml.replace("profile = \"entra\"\n", "");
    assert_eq!(send(&strict, &admitted, call("anything")).await.0, 401);
}
