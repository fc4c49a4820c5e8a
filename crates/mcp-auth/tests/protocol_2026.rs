//! The 2026-07-28 protocol through the whole stack: requests are authorised one by one, and the
//! mirrored `Mcp-Method` / `Mcp-Name` headers must match the body (else 400 with JSON-RPC error
//! -32020); earlier versions never look at them.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth::{IssuerConfig, McpAuth, Requirement, ScopePolicy};
use mcp_auth_testing::MockIssuer;
use serde_json::Value;
use tower::{Layer, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const CALL: &str =
    r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"read_file"}}"#;

async fn send(issuer: &MockIssuer, headers: &[(&str, &str)]) -> (u16, Value) {
    let auth = McpAuth::builder(RESOURCE)
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .scopes(
            ScopePolicy::builder()
                .tool("read_file", Requirement::all("files:read"))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let inner = tower::service_fn(|_req: Request<_>| async move {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
    });
    let token = issuer.token().scope("files:read").sign();
    let mut request = Request::post(RESOURCE)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = auth
        .layer(inner)
        .oneshot(request.body(Full::new(Bytes::from(CALL))).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn mirrored_headers_must_match_the_body_on_2026_07_28() {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let version = ("mcp-protocol-version", "2026-07-28");
    let (status, _) = send(
        &issuer,
        &[
            version,
            ("mcp-method", "tools/call"),
            ("mcp-name", "read_file"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    for headers in [
        vec![
            version,
            ("mcp-method", "tools/call"),
            ("mcp-name", "delete_everything"),
        ],
        vec![
            version,
            ("mcp-method", "tools/list"),
            ("mcp-name", "read_file"),
        ],
        vec![version],
    ] {
        let (status, body) = send(&issuer, &headers).await;
        assert_eq!(status, 400, "{headers:?}");
        assert_eq!(body["error"]["code"], -32020, "{body}");
        assert_eq!(body["id"], 3, "the error answers the request's id: {body}");
    }
    // Before 2026-07-28 the headers are neither required nor checked.
    let (status, _) = send(
        &issuer,
        &[
            ("mcp-protocol-version", "2025-11-25"),
            ("mcp-name", "delete_everything"),
        ],
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn offline_access_is_never_advertised_or_asked_for() {
    let issuer = MockIssuer::start().await;
    let auth = McpAuth::builder(RESOURCE)
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .scopes_supported(["mcp:read", "offline_access"])
        .challenge_scope("mcp:read offline_access")
        .build()
        .unwrap();
    let doc = serde_json::to_value(auth.metadata()).unwrap();
    assert_eq!(doc["scopes_supported"], serde_json::json!(["mcp:read"]));
    let inner = tower::service_fn(|_req: Request<_>| async move {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
    });
    let response = auth
        .layer(inner)
        .oneshot(
            Request::post(RESOURCE)
                .body(Full::new(Bytes::from(CALL)))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("scope=\"mcp:read\""), "{challenge}");
    assert!(!challenge.contains("offline_access"), "{challenge}");
}
