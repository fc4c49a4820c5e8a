//! End to end with real third-party parts: a client metadata document served over HTTPS on
//! 127.0.0.1 (certificate from a test CA made here), the real oidc-provider with its Client ID
//! Metadata Document feature (its fetch guard relaxed for loopback, trusting the test CA), the
//! official MCP TypeScript client running the authorization-code flow with the document URL as
//! its client id, and an rmcp server behind `McpAuth` with `CimdLayer` inside it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use mcp_auth::rmcp::Auth;
use mcp_auth::{FetchPolicy, IssuerConfig, McpAuth};
use mcp_auth_cimd::{CimdLayer, ClientInfo, ClientPolicy, ClientResolver, Registry};
use mcp_auth_e2e::{Provider, tool_text, ts_client};
use rmcp::handler::server::common::Extension;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde_json::{Value, json};
use support::{DocServer, Reply, TestCa, temp_dir};
use tokio::net::TcpListener;

const REDIRECT_URI: &str = "http://127.0.0.1:8976/callback";
const DOCUMENT_PATH: &str = "/oauth/client.json";

/// A one-tool MCP server: `whoami` reports the verified caller and the admitted client.
#[derive(Clone)]
struct Whoami;

#[tool_router]
impl Whoami {
    #[tool(description = "Who am I? The verified caller and the client CimdLayer admitted.")]
    fn whoami(
        &self,
        Auth(principal): Auth,
        Extension(parts): Extension<http::request::Parts>,
    ) -> String {
        let client = parts.extensions.get::<ClientInfo>();
        json!({
            "subject": principal.subject(),
            "client_id": principal.client_id(),
            "client_name": client.map(ClientInfo::name),
            "client_host": client.map(ClientInfo::host),
        })
        .to_string()
    }
}

#[tool_handler]
impl ServerHandler for Whoami {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// Serves the MCP endpoint behind McpAuth (metadata + verification, issuer found by discovery)
/// with CimdLayer inside; returns the endpoint URL.
async fn start_server(provider: &Provider, registry: Registry, ca: &TestCa) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mcp_url = format!("http://{addr}/mcp");
    let auth = McpAuth::builder(&mcp_url)
        .issuer(IssuerConfig::discover(&provider.issuer))
        .scopes_supported(["mcp:read", "mcp:write"])
        .challenge_scope("mcp:read")
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .build()
        .unwrap();
    let resolver = ClientResolver::builder()
        .fetch_policy(
            FetchPolicy::default()
                .allow_loopback(true)
                .root_certificate_pem(ca.ca_pem()),
        )
        .build()
        .unwrap();
    let clients = CimdLayer::new(resolver, ClientPolicy::registry(registry)).rejector(
        mcp_auth_core::Rejector::for_resource(auth.verifier().resource()),
    );

    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(["127.0.0.1".to_owned(), addr.ip().to_string()]);
    config.legacy_session_mode = false;
    config.json_response = true;
    let mcp = StreamableHttpService::new(
        || Ok(Whoami),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    // Router::layer wraps outside what came before: auth (outer) -> CimdLayer -> MCP.
    let app = Router::new()
        .route_service("/mcp", mcp)
        .layer(clients)
        .layer(auth);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    mcp_url
}

async fn run_client(mcp_url: &str, client_id: &str, issuer: &str) -> Value {
    ts_client(&[
        "--url",
        mcp_url,
        "--oauth",
        "authorization_code",
        "--client-metadata-url",
        client_id,
        "--redirect-uri",
        REDIRECT_URI,
        "--expected-issuer",
        issuer,
        "--tool",
        "whoami",
    ])
    .await
}

/// The parts every test here needs: a CIMD document served over HTTPS by a test CA, and
/// oidc-provider fetching it.
struct Fixture {
    ca: TestCa,
    documents: DocServer,
    client_id: String,
    provider: Provider,
    dir: std::path::PathBuf,
}

impl Fixture {
    async fn start(name: &str) -> Self {
        let dir = temp_dir(name);
        let ca = TestCa::new();
        let ca_file = ca.write_ca_file(&dir).unwrap();
        let documents = DocServer::https(&ca).await;
        let client_id = documents.url(DOCUMENT_PATH);
        documents.set(
            DOCUMENT_PATH,
            Reply::json(&json!({
                "client_id": client_id,
                "client_name": "CIMD end-to-end client",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            })),
        );
        let provider = Provider::start(json!({
            "scopes": ["mcp:read", "mcp:write"],
            "clientIdMetadataDocument": {
                "enabled": true,
                "allowLoopback": true,
                "caFile": ca_file,
            },
        }))
        .await;
        Self {
            ca,
            documents,
            client_id,
            provider,
            dir,
        }
    }

    /// The client as the operator's tools see it (what `mcp-auth clients approve` fetches).
    async fn client_info(&self) -> ClientInfo {
        ClientResolver::builder()
            .fetch_policy(
                FetchPolicy::default()
                    .allow_loopback(true)
                    .root_certificate_pem(self.ca.ca_pem()),
            )
            .build()
            .unwrap()
            .resolve_uncached(&self.client_id)
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cimd_client_passes_when_approved_and_gets_403_when_not() {
    let fx = Fixture::start("e2e").await;
    let (dir, ca, documents, client_id, provider) =
        (&fx.dir, &fx.ca, &fx.documents, &fx.client_id, &fx.provider);

    let registry = Registry::open_or_empty(dir.join("mcp-clients.json"))
        .unwrap()
        .reload_interval(Duration::ZERO);
    let mcp_url = start_server(provider, registry.clone(), ca).await;

    // Not approved: the authorization server issues a token to the CIMD client, and CimdLayer
    // refuses it.
    let report = run_client(&mcp_url, client_id, &provider.issuer).await;
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("this client has not been approved by the server's operator"),
        "refused by CimdLayer: {report}"
    );
    let requests = report["requests"].as_array().unwrap();
    assert!(
        documents.requests_to(DOCUMENT_PATH) >= 1,
        "the authorization server fetched the document: {report}"
    );
    let authorized = requests
        .iter()
        .any(|r| r["url"].as_str().unwrap_or("").ends_with("/token") && r["status"] == 200);
    assert!(authorized, "a token was issued: {report}");
    let refused: Vec<&Value> = requests
        .iter()
        .filter(|r| r["url"] == mcp_url.as_str() && r["status"] == 403)
        .collect();
    assert!(!refused.is_empty(), "the MCP call got 403: {report}");
    assert!(
        refused.iter().all(|r| r["www_authenticate"].is_null()),
        "a policy refusal is no scope challenge: {report}"
    );

    // The operator approves the client (what `mcp-auth clients approve` does).
    registry.approve(&fx.client_info().await).unwrap();

    let report = run_client(&mcp_url, client_id, &provider.issuer).await;
    assert_eq!(report["ok"], true, "{report}");
    let who: Value = serde_json::from_str(tool_text(&report["result"])).unwrap();
    assert_eq!(
        who["client_id"],
        client_id.as_str(),
        "the token's client_id is the document URL"
    );
    assert_eq!(who["client_name"], "CIMD end-to-end client");
    assert_eq!(who["client_host"], "127.0.0.1");
    assert_eq!(who["subject"], "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_following_one_redis_registry_admit_and_refuse_together() {
    use mcp_auth_redis::{Redis, RedisRegistry};
    let fx = Fixture::start("e2e-redis").await;
    let redis = mcp_auth_testing::RedisServer::start().await;
    let registry_on_redis = || RedisRegistry::new(Redis::builder(redis.url()).build().unwrap());
    let replicas = [registry_on_redis().follow(), registry_on_redis().follow()];
    let mut urls = Vec::new();
    for replica in &replicas {
        urls.push(start_server(&fx.provider, replica.clone(), &fx.ca).await);
    }
    let (replicas, client_id) = (&replicas, &fx.client_id);
    let all_replicas = |approved: bool| async move {
        tokio::time::timeout(Duration::from_secs(10), async {
            while replicas.iter().any(|r| r.contains(client_id) != approved) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("every replica follows the registry");
    };

    // Approved once, in Redis (what `mcp-auth clients approve URL --registry redis://…` does):
    // the client is admitted by both replicas.
    let operator = registry_on_redis();
    operator.approve(&fx.client_info().await).await.unwrap();
    all_replicas(true).await;
    for url in &urls {
        let report = run_client(url, &fx.client_id, &fx.provider.issuer).await;
        assert_eq!(report["ok"], true, "{url}: {report}");
    }

    // Revoked once: refused by both.
    operator.revoke(&fx.client_id).await.unwrap();
    all_replicas(false).await;
    for url in &urls {
        let report = run_client(url, &fx.client_id, &fx.provider.issuer).await;
        assert_eq!(report["ok"], false, "{url}: {report}");
        assert!(
            report["error"]
                .as_str()
                .unwrap()
                .contains("this client has not been approved by the server's operator"),
            "{url}: {report}"
        );
    }
}
