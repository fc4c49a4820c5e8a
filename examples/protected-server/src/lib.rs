//! An MCP server (rmcp, Streamable HTTP on axum) protected by mcp-auth.
//!
//! Without an external issuer it runs an embedded development issuer and prints ready-to-use
//! tokens. The binary is a thin wrapper over [`start`], which the end-to-end tests call too.
//!
//! ```no_run
//! # #[tokio::main] async fn main() {
//! let server = protected_server::start(protected_server::Options::default()).await.unwrap();
//! println!("MCP endpoint: {}", server.mcp_url);
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms)]

mod tools;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use mcp_auth::{
    FetchPolicy, IssuerConfig, McpAuth, McpAuthLayer, Requirement, ScopeHierarchy, ScopePolicy,
};
use mcp_auth_testing::MockIssuer;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;

pub use tools::{Notebook, NotesServer};

/// The scopes the example knows, weakest first.
pub const SCOPES: [&str; 3] = ["mcp:read", "mcp:write", "mcp:admin"];

/// Who may do what: reading needs `mcp:read`, adding a note `mcp:write`, clearing the notebook
/// `mcp:admin`; admin implies write implies read. Undeclared tools are refused.
pub fn policy() -> ScopePolicy {
    let hierarchy =
        ScopeHierarchy::new([("mcp:admin", ["mcp:write"]), ("mcp:write", ["mcp:read"])])
            .expect("acyclic hierarchy");
    ScopePolicy::builder()
        .required(Requirement::all("mcp:read"))
        .tool("whoami", Requirement::none())
        .tool("list_notes", Requirement::none())
        .tool("add_note", Requirement::all("mcp:write"))
        .tool("clear_notes", Requirement::all("mcp:admin"))
        .hierarchy(hierarchy)
        .build()
        .expect("valid policy")
}

/// How to run the server.
#[derive(Clone, Debug)]
pub struct Options {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Public resource identifier; defaults to `http://<listen>/mcp`.
    pub resource: Option<String>,
    /// An external issuer (found by discovery); without it an embedded development issuer runs.
    pub issuer: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 8080).into(),
            resource: None,
            issuer: None,
        }
    }
}

/// A running server.
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The MCP endpoint (the resource identifier).
    pub mcp_url: String,
    /// The protected-resource metadata URL.
    pub metadata_url: String,
    /// The embedded development issuer, when no external one was given.
    pub dev_issuer: Option<MockIssuer>,
    /// The auth layer in front of the MCP service.
    pub auth: McpAuthLayer,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Waits until the server stops (it runs until the process ends).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Binds, builds the protected stack and starts serving.
///
/// # Errors
/// The address cannot be bound, or the configuration is invalid.
pub async fn start(options: Options) -> Result<Server, Box<dyn std::error::Error + Send + Sync>> {
    let listener = TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    let mcp_url = options
        .resource
        .clone()
        .unwrap_or_else(|| format!("http://{addr}/mcp"));

    let (issuer_config, dev_issuer) = match &options.issuer {
        Some(url) => (IssuerConfig::discover(url), None),
        None => {
            let dev = MockIssuer::builder().audience(&mcp_url).start().await;
            (
                IssuerConfig::jwks_uri(dev.issuer(), &dev.jwks_uri()),
                Some(dev),
            )
        }
    };
    let auth = McpAuth::builder(&mcp_url)
        .issuer(issuer_config)
        .scopes_supported(SCOPES)
        .scopes(policy())
        .challenge_scope("mcp:read")
        .resource_name("mcp-auth example notebook")
        // The example's development switch: issuers on loopback over plain http.
        .fetch_policy(FetchPolicy::default().allow_loopback(true))
        .build()?;
    let failures = auth.verifier().warm_up().await;
    for (issuer, error) in failures {
        tracing::warn!(%issuer, %error, "could not fetch the issuer's keys yet; will retry on demand");
    }

    let resource_host = url_host(&mcp_url);
    let mut allowed_hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    allowed_hosts.extend(resource_host);
    allowed_hosts.push(addr.ip().to_string());
    let notebook = Notebook::default();
    let mut config = StreamableHttpServerConfig::default().with_allowed_hosts(allowed_hosts);
    // Stateless: every request carries its own token and is authorised on its own.
    config.legacy_session_mode = false;
    config.json_response = true;
    let mcp = StreamableHttpService::new(
        move || Ok(NotesServer::new(notebook.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let mcp_path = url_path(&mcp_url);
    let app = Router::new()
        .route_service(&mcp_path, mcp)
        .layer(auth.clone());
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(Server {
        addr,
        metadata_url: auth.verifier().resource().metadata_url(),
        mcp_url,
        dev_issuer,
        auth,
        task: Some(task),
    })
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = if authority.starts_with('[') {
        authority.split(']').next()?.trim_start_matches('[')
    } else {
        authority.split(':').next()?
    };
    Some(host.to_owned())
}

fn url_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find('/') {
        Some(i) => rest[i..].split(['?', '#']).next().unwrap_or("/").to_owned(),
        None => "/".to_owned(),
    }
}
