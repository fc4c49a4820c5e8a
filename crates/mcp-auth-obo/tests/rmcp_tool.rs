//! An rmcp tool (Streamable HTTP, stateless, JSON responses) behind `VerifyLayer` + `OboLayer`
//! that calls a downstream API with an exchanged token: the shape the example server uses.
//! A failure the tool propagates becomes the HTTP status of the MCP response.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use mcp_auth_core::ResourceId;
use mcp_auth_fetch::FetchPolicy;
use mcp_auth_jwt::{IssuerConfig, Verifier, VerifyLayer};
use mcp_auth_obo::{ClientAuth, ExchangeRequest, OboLayer, OnBehalfOf, TokenExchangeClient};
use mcp_auth_testing::MockIssuer;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Arguments of `call_downstream`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct CallDownstream {
    /// The scope to ask for.
    scope: String,
}

#[derive(Clone)]
struct Tools {
    downstream: String,
}

#[tool_router]
impl Tools {
    #[tool(description = "Calls the downstream API on behalf of the caller.")]
    async fn call_downstream(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(CallDownstream { scope }): Parameters<CallDownstream>,
    ) -> Result<String, ErrorData> {
        let obo = OnBehalfOf::from_extensions(&parts.extensions).ok_or_else(|| {
            ErrorData::internal_error("no OboLayer in front of this server", None)
        })?;
        let request = ExchangeRequest::audience(&self.downstream).scope(&scope);
        // On failure the layer answers 401 / 403 / 503 instead of this error.
        let token = obo.get_token_or_deny(request).await.map_err(|e| {
            ErrorData::internal_error(e.to_auth_error().description().to_owned(), None)
        })?;
        let answer = token
            .apply_to(reqwest::Client::new().get(&self.downstream))
            .send()
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        answer
            .text()
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }
}

#[tool_handler]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// A token endpoint that grants `exchanged-for-<sub>` unless the subject is `mallory`
/// (invalid_grant) or the scope includes `api:write` (invalid_scope).
async fn token_endpoint(
    State(count): State<Arc<AtomicUsize>>,
    Form(form): Form<HashMap<String, String>>,
) -> axum::response::Response {
    count.fetch_add(1, Ordering::SeqCst);
    let subject = mcp_auth_e2e::jwt_claims(&form["subject_token"])["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let refuse =
        |code: &str| (StatusCode::BAD_REQUEST, Json(json!({"error": code}))).into_response();
    if subject == "mallory" {
        return refuse("invalid_grant");
    }
    if form.get("scope").is_some_and(|s| s.contains("api:write")) {
        return refuse("invalid_scope");
    }
    Json(json!({
        "access_token": format!("exchanged-for-{subject}"),
        "issued_token_type": mcp_auth_obo::ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": form.get("scope"),
    }))
    .into_response()
}

async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_tool_calls_the_downstream_api_and_propagates_exchange_failures_as_statuses() {
    let exchanges = Arc::new(AtomicUsize::new(0));
    let as_url = serve(
        Router::new()
            .route("/token", post(token_endpoint))
            .with_state(exchanges.clone()),
    )
    .await;
    let downstream = serve(Router::new().route(
        "/api",
        get(|headers: HeaderMap| async move {
            format!(
                "downstream saw {}",
                headers["authorization"].to_str().unwrap()
            )
        }),
    ))
    .await
        + "/api";

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp_url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let issuer = MockIssuer::builder().audience(&mcp_url).start().await;
    let resource = ResourceId::parse(&mcp_url).unwrap();
    let verifier = Verifier::builder(resource.clone())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()
        .unwrap();
    let client = TokenExchangeClient::builder(ClientAuth::client_secret_basic("mcp", "secret"))
        .token_endpoint(format!("{as_url}/token"))
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .build()
        .unwrap();

    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(["127.0.0.1".to_owned(), "localhost".to_owned()]);
    config.legacy_session_mode = false;
    config.json_response = true;
    let tools = Tools {
        downstream: downstream.clone(),
    };
    let mcp = StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let app = Router::new()
        .route_service("/mcp", mcp)
        .layer(OboLayer::new(client, &resource))
        .layer(VerifyLayer::new(verifier));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let call = |subject: &str, scope: &str| {
        let token = issuer.token().subject(subject).sign();
        let body = json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "call_downstream", "arguments": {"scope": scope}},
        });
        let url = mcp_url.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .bearer_auth(token)
                .body(body.to_string())
                .send()
                .await
                .unwrap()
        }
    };

    let ok = call("alice", "api:read").await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(
        body["result"]["content"][0]["text"], "downstream saw Bearer exchanged-for-alice",
        "{body}"
    );

    let denied = call("mallory", "api:read").await;
    assert_eq!(denied.status(), 401);
    let challenge = denied.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains(&resource.metadata_url()), "{challenge}");

    let forbidden = call("alice", "api:write").await;
    assert_eq!(forbidden.status(), 403);
    assert_eq!(
        forbidden.json::<Value>().await.unwrap()["error"],
        "access_denied"
    );

    assert_eq!(exchanges.load(Ordering::SeqCst), 3);
}
