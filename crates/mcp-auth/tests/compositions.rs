//! Every way users compose the stack with axum and tower keeps discovery reachable without a
//! token and the MCP route protected.

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use mcp_auth::{IssuerConfig, McpAuth, McpAuthLayer};
use mcp_auth_testing::MockIssuer;
use tower::{Service, ServiceBuilder, ServiceExt};

const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}"#;

struct Fixture {
    issuer: MockIssuer,
    auth: McpAuthLayer,
    mcp_path: &'static str,
    metadata_paths: [&'static str; 2],
}

async fn fixture(resource: &str, mcp_path: &'static str, suffixed: &'static str) -> Fixture {
    let issuer = MockIssuer::builder().audience(resource).start().await;
    let auth = McpAuth::builder(resource)
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .challenge_scope("mcp:read")
        .build()
        .unwrap();
    Fixture {
        issuer,
        auth,
        mcp_path,
        metadata_paths: [suffixed, "/.well-known/oauth-protected-resource"],
    }
}

async fn root_fixture() -> Fixture {
    fixture(
        "https://mcp.example.com/mcp",
        "/mcp",
        "/.well-known/oauth-protected-resource/mcp",
    )
    .await
}

fn mcp_routes() -> Router {
    Router::new().route("/mcp", post(|| async { "mcp" }))
}

fn other_routes() -> Router {
    Router::new().route("/health", get(|| async { "ok" }))
}

async fn send<S>(service: S, request: Request<Body>) -> (StatusCode, http::HeaderMap, String)
where
    S: Service<Request<Body>, Error = Infallible>,
    S::Response: Into<Response<Body>>,
{
    let response: Response<Body> = service.oneshot(request).await.unwrap().into();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// Asserts discovery without a token and protection of the MCP route, through `service`.
async fn assert_discoverable_and_protected<S>(fx: &Fixture, service: S)
where
    S: Service<Request<Body>, Error = Infallible> + Clone,
    S::Response: Into<Response<Body>>,
{
    for path in fx.metadata_paths {
        let (status, headers, body) = send(
            service.clone(),
            Request::get(path).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(status, 200, "metadata at {path}: {body}");
        assert_eq!(headers["access-control-allow-origin"], "*");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["authorization_servers"][0], fx.issuer.issuer());
    }
    let (status, headers, _) = send(
        service.clone(),
        Request::post(fx.mcp_path).body(Body::from(CALL)).unwrap(),
    )
    .await;
    assert_eq!(status, 401, "{} without a token", fx.mcp_path);
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(&format!("{}\"", fx.metadata_paths[0])),
        "{challenge}"
    );
    let token = fx.issuer.token().scope("mcp:read").sign();
    let (status, _, body) = send(
        service,
        Request::post(fx.mcp_path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(CALL))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{} with a token: {body}", fx.mcp_path);
}

#[tokio::test]
async fn layer_on_the_outermost_router() {
    let fx = root_fixture().await;
    let app = mcp_routes().layer(fx.auth.clone());
    assert_discoverable_and_protected(&fx, app).await;
}

#[tokio::test]
async fn merge_before_the_layer() {
    let fx = root_fixture().await;
    let app = mcp_routes().merge(other_routes()).layer(fx.auth.clone());
    assert_discoverable_and_protected(&fx, app).await;
}

#[tokio::test]
async fn merge_after_protect() {
    let fx = root_fixture().await;
    let app = fx.auth.protect(mcp_routes()).merge(other_routes());
    assert_discoverable_and_protected(&fx, app.clone()).await;
    let (status, _, body) = send(app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "ok"));
}

#[tokio::test]
async fn merge_into_another_router_after_protect() {
    let fx = root_fixture().await;
    let app = other_routes().merge(fx.auth.protect(mcp_routes()));
    assert_discoverable_and_protected(&fx, app).await;
}

#[tokio::test]
async fn nest_under_a_prefix() {
    let fx = fixture(
        "https://mcp.example.com/api/mcp",
        "/api/mcp",
        "/.well-known/oauth-protected-resource/api/mcp",
    )
    .await;
    let app = Router::new()
        .nest("/api", mcp_routes().layer(fx.auth.clone()))
        .merge(fx.auth.metadata_router());
    assert_discoverable_and_protected(&fx, app).await;
}

#[tokio::test]
async fn route_layer() {
    let fx = root_fixture().await;
    let app = mcp_routes()
        .route_layer(fx.auth.clone())
        .merge(fx.auth.metadata_router());
    assert_discoverable_and_protected(&fx, app).await;
}

#[tokio::test]
async fn service_builder_around_service_fn() {
    let fx = root_fixture().await;
    let service = ServiceBuilder::new()
        .layer(fx.auth.clone())
        .service_fn(|_req: Request<mcp_auth::AuthBody<Body>>| async {
            Ok::<_, Infallible>(Response::new(Body::from("mcp")))
        })
        .map_response(|r: Response<_>| r.map(Body::new));
    assert_discoverable_and_protected(&fx, service).await;
}

#[tokio::test]
async fn a_request_without_credentials_gets_401_whatever_its_body() {
    let fx = root_fixture().await;
    let app = fx.auth.protect(mcp_routes());
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{}"}}}}"#,
        "x".repeat(1 << 20)
    );
    for body in [
        "{}".to_owned(),
        "not json".to_owned(),
        "[".repeat(500),
        huge,
    ] {
        let (status, headers, _) = send(
            app.clone(),
            Request::post("/mcp")
                .body(Body::from(body.clone()))
                .unwrap(),
        )
        .await;
        assert_eq!(status, 401, "{}", &body[..body.len().min(40)]);
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(!challenge.contains("error="), "{challenge}");
        assert!(challenge.contains(r#"scope="mcp:read""#), "{challenge}");
    }
    // With a token, the same malformed body is the client's error.
    let token = fx.issuer.token().scope("mcp:read").sign();
    let (status, _, _) = send(
        app,
        Request::post("/mcp")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn one_custom_rendering_applies_to_every_layers_denials() {
    let issuer = MockIssuer::builder()
        .audience("https://mcp.example.com/mcp")
        .start()
        .await;
    let auth = McpAuth::builder("https://mcp.example.com/mcp")
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .scopes(
            mcp_auth::ScopePolicy::builder()
                .tool("t", mcp_auth::Requirement::all("mcp:write"))
                .build()
                .unwrap(),
        )
        .render_rejection(
            |error: &mcp_auth::AuthError, mut response: Response<bytes::Bytes>| {
                response
                    .headers_mut()
                    .insert("x-denial", error.reason().parse().unwrap());
                *response.body_mut() = bytes::Bytes::from(format!("denied: {}", error.reason()));
                response
            },
        )
        .build()
        .unwrap();
    let app = auth.protect(mcp_routes());
    // Verification's 401, the inspector's 400 and the scope layer's 403, rendered alike.
    let reader = issuer.token().scope("mcp:read").sign();
    for (token, body, status, reason) in [
        (None, CALL, 401, "missing_token"),
        (Some(&reader), "{}", 400, "malformed_jsonrpc"),
        (Some(&reader), CALL, 403, "insufficient_scope"),
    ] {
        let mut request = Request::post("/mcp");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let (got, headers, text) = send(app.clone(), request.body(Body::from(body)).unwrap()).await;
        assert_eq!(got, status, "{text}");
        assert_eq!(headers["x-denial"], reason, "{text}");
        assert_eq!(text, format!("denied: {reason}"));
        if status != 400 {
            assert!(headers.contains_key("www-authenticate"));
        }
    }
}
