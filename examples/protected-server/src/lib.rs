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
use mcp_auth::audit::{Auditor, JsonLinesFile, OtlpSink, TracingSink};
use mcp_auth::cimd::{ClientPolicy, ClientResolver, PreRegisteredClients};
use mcp_auth::obo::{ClientAuth, TokenExchangeClient};
use mcp_auth::policy::{CedarAuthorizer, CedarPolicies};
use mcp_auth::redis::{Redis, RedisExchangeStore, RedisRegistry, RedisReplayStore, SecretKeys};
use mcp_auth::telemetry::OtlpTelemetry;
use mcp_auth::{
    Config, DpopConfig, FetchPolicy, IssuerConfig, McpAuth, McpAuthLayer, Principal, Requirement,
    ResourceId, ScopeHierarchy, ScopePolicy, Verifier, VerifyLayer,
};
use mcp_auth_testing::MockIssuer;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;

pub use tools::{Notebook, NotesServer};

/// The scopes the example knows, weakest first.
pub const SCOPES: [&str; 3] = ["mcp:read", "mcp:write", "mcp:admin"];

/// Who may do what: reading needs `mcp:read`, adding a note `mcp:write`, clearing the notebook
/// `mcp:admin` and a user behind the token (a client acting for itself may not, whatever its
/// scopes); admin implies write implies read. Undeclared tools are refused.
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
        .tool("call_downstream", Requirement::none())
        .tool("approve_expense", Requirement::none())
        .tool("transfer_funds", Requirement::all("mcp:write"))
        .tool("list_transfers", Requirement::none())
        .users_only("clear_notes")
        .hierarchy(hierarchy)
        .build()
        .expect("valid policy")
}

/// Who may approve which expense: the Cedar policies in `policies/` (compiled in, so the
/// example runs from anywhere), validated against mcp-auth's MCP schema and the example's
/// arguments. Roles come from the token's `roles` claim.
///
/// # Panics
/// Never: the files are part of the example and tested.
pub fn expense_policies() -> CedarAuthorizer {
    let policies = CedarPolicies::builder()
        .schema_source(
            "policies/expenses.cedarschema",
            include_str!("../policies/expenses.cedarschema"),
        )
        .source(
            "policies/expenses.cedar",
            include_str!("../policies/expenses.cedar"),
        )
        .build()
        .expect("the example's policies validate");
    CedarAuthorizer::new(policies)
}

/// How to run the server. Its `Debug` shows no secret.
#[derive(Clone)]
pub struct Options {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Public resource identifier; defaults to `http://<listen>/mcp`.
    pub resource: Option<String>,
    /// An external issuer (found by discovery); without it an embedded development issuer runs.
    pub issuer: Option<String>,
    /// This server's client id and secret for token exchange at the external issuer. With the
    /// development issuer the secret (if given) is used, else a random one.
    pub exchange_client: Option<(String, String)>,
    /// This server's own DPoP key for token exchange (a PEM ES256 key or a private JWK): token
    /// requests carry proofs by it; downstream calls with tokens bound to it carry proofs.
    pub exchange_dpop_key: Option<std::path::PathBuf>,
    /// Share state with other replicas through this Redis (`redis://host:port/db`): DPoP proofs
    /// are refused on every replica once used on one, clients are admitted when approved in
    /// Redis (`mcp-auth clients approve URL --registry redis://…`; pre-registered clients
    /// still pass), and exchanged tokens are shared when [`Options::exchange_keys`] is set.
    pub redis: Option<String>,
    /// The keys that seal exchanged tokens in Redis (`id=BASE64,…`, 32-byte keys, the first
    /// seals); the `--redis` flag reads them from `MCP_AUTH_EXCHANGE_KEYS`.
    pub exchange_keys: Option<String>,
    /// Export audit events to this OpenTelemetry collector (OTLP/HTTP, e.g.
    /// `http://127.0.0.1:4318`) as log records.
    pub otlp: Option<String>,
    /// Append audit events to this JSON Lines file (they always go to the log too).
    pub audit_file: Option<std::path::PathBuf>,
    /// Run the configuration in this TOML file (the `mcp_auth::Config` format) instead of the
    /// built-in one: its resource, issuers, policy, clients, exchange and audit. The MCP route
    /// is served at the resource's path; `call_downstream` has no downstream API then.
    pub config: Option<std::path::PathBuf>,
    /// Call this downstream API from `call_downstream` instead of starting one (replicas
    /// behind one load balancer share one API).
    pub downstream_url: Option<String>,
    /// Trust this extra root certificate (PEM) for issuer, client-document and token-exchange
    /// fetches, e.g. an internal CA.
    pub ca_file: Option<std::path::PathBuf>,
    /// How the external issuer's tokens look: its identity provider and the settings that go
    /// with it. Ignored without [`Options::issuer`].
    pub idp: IdpOptions,
    /// The keys that seal the state of approval-gated calls (`id=BASE64,…`, 32-byte keys, the
    /// first seals), shared by replicas; the binary reads them from `MCP_AUTH_APPROVAL_KEYS`.
    /// Without them a key is made at start.
    pub approval_keys: Option<String>,
    /// The longest one retry of an approval-gated call waits at the server for the person's
    /// decision (default 10 seconds).
    pub approval_round_wait: Option<std::time::Duration>,
}

/// The `--idp`, `--audience`, `--tenant`, `--client-id` and `--scope-prefix` flags, applying to
/// `--issuer`.
#[derive(Clone, Debug, Default)]
pub struct IdpOptions {
    /// The identity provider's profile (`auth0`, `entra`, `entra-v1`, `okta`, `keycloak`,
    /// `cognito`); RFC 9068 when absent.
    pub profile: Option<mcp_auth::Profile>,
    /// Audience values accepted besides the resource URL.
    pub audiences: Vec<String>,
    /// Tenants admitted; makes the issuer multi-tenant (then `--issuer` is the shared
    /// `common`/`organizations` endpoint). `any` admits every tenant.
    pub tenants: Vec<String>,
    /// Clients admitted (required for tokens without `aud`).
    pub client_ids: Vec<String>,
    /// A prefix stripped from granted scopes (Cognito's resource-server id).
    pub scope_prefix: Option<String>,
}

impl IdpOptions {
    /// The issuer's configuration: the same conversion as an `[[issuers]]` TOML entry.
    ///
    /// # Errors
    /// Never for flags (they set no introspection secret), but the conversion is fallible.
    pub fn issuer_config(&self, issuer: &str) -> Result<IssuerConfig, mcp_auth::ConfigValueError> {
        use mcp_auth::jwt::{IssuerEntry, TenantsEntry};
        IssuerEntry {
            profile: self.profile.unwrap_or_default(),
            audiences: self.audiences.clone(),
            tenants: TenantsEntry::from_words(&self.tenants),
            client_ids: self.client_ids.clone(),
            scope_prefix: self.scope_prefix.clone(),
            ..IssuerEntry::for_issuer(issuer)
        }
        .into_config()
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |present: bool| if present { "<set>" } else { "<none>" };
        f.debug_struct("Options")
            .field("listen", &self.listen)
            .field("resource", &self.resource)
            .field("issuer", &self.issuer)
            .field(
                "exchange_client",
                &self.exchange_client.as_ref().map(|(id, _)| id),
            )
            .field("exchange_dpop_key", &self.exchange_dpop_key)
            .field("redis", &set(self.redis.is_some()))
            .field("exchange_keys", &set(self.exchange_keys.is_some()))
            .field("otlp", &self.otlp)
            .field("audit_file", &self.audit_file)
            .field("config", &self.config)
            .field("downstream_url", &self.downstream_url)
            .field("ca_file", &self.ca_file)
            .field("idp", &self.idp)
            .field("approval_round_wait", &self.approval_round_wait)
            .field("approval_keys", &set(self.approval_keys.is_some()))
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 8080).into(),
            resource: None,
            issuer: None,
            exchange_client: None,
            approval_round_wait: None,
            approval_keys: None,
            exchange_dpop_key: None,
            redis: None,
            exchange_keys: None,
            otlp: None,
            audit_file: None,
            config: None,
            ca_file: None,
            downstream_url: None,
            idp: IdpOptions::default(),
        }
    }
}

/// The client id the example uses for token exchange at the development issuer.
pub const DEV_EXCHANGE_CLIENT: &str = "protected-server";

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
    /// The downstream API that `call_downstream` reaches by token exchange (none with a
    /// configuration file).
    pub downstream_url: Option<String>,
    /// The layers' metrics and spans going to the `--otlp` collector (flushed when dropped).
    pub telemetry: Option<OtlpTelemetry>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Waits until the server stops (it runs until the process ends).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Waits until the server task ends, keeping the server.
    pub async fn wait_ref(&mut self) {
        if let Some(task) = self.task.as_mut() {
            let _ = task.await;
        }
    }

    /// Writes every queued audit event and stops the auditor.
    pub async fn shutdown_audit(&self) {
        if let Some(auditor) = self.auth.auditor().cloned() {
            let _ = tokio::task::spawn_blocking(move || auditor.shutdown()).await;
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
    // Before the stack is built: its instruments come from the providers installed now.
    let telemetry = match &options.otlp {
        Some(endpoint) => Some(
            OtlpTelemetry::builder(endpoint)
                .service_name("protected-server")
                .install()
                .map_err(|e| format!("--otlp: {e}"))?,
        ),
        None => None,
    };
    let built = match &options.config {
        Some(path) => from_config_file(path, options.ca_file.as_deref())?,
        None => built_in(&options, addr).await?,
    };
    let Built {
        auth,
        mcp_url,
        dev_issuer,
        downstream,
    } = built;
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
    let http = reqwest::Client::new();
    let downstream_url = downstream.as_ref().map(|(url, _)| url.clone());
    let tool_downstream = downstream_url.clone();
    let mcp = StreamableHttpService::new(
        move || {
            Ok(NotesServer::new(
                notebook.clone(),
                tool_downstream.clone(),
                http.clone(),
            ))
        },
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let mcp_path = url_path(&mcp_url);
    // The stack around the MCP route, and the metadata document as routes of its own.
    let app = auth.protect(Router::new().route_service(&mcp_path, mcp));
    let task = tokio::spawn(async move {
        let _downstream = downstream.map(|(_, task)| AbortOnDrop(task));
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
        downstream_url,
        telemetry,
        task: Some(task),
    })
}

/// What `start` serves: the stack, the resource, and the example's extras.
struct Built {
    auth: McpAuthLayer,
    mcp_url: String,
    dev_issuer: Option<MockIssuer>,
    downstream: Option<(String, tokio::task::JoinHandle<()>)>,
}

/// The stack as a configuration file describes it, with `ca_file` added to its trusted roots.
fn from_config_file(
    path: &std::path::Path,
    ca_file: Option<&std::path::Path>,
) -> Result<Built, Box<dyn std::error::Error + Send + Sync>> {
    let mut config = Config::from_file(path)?;
    if let Some(ca) = ca_file {
        config.fetch.ca_files.push(ca.display().to_string());
    }
    let mcp_url = config.resource.clone();
    let auth = config.into_builder()?.build()?;
    Ok(Built {
        auth,
        mcp_url,
        dev_issuer: None,
        downstream: None,
    })
}

/// The example's own stack: every layer, an embedded development issuer unless `--issuer`, and
/// a downstream API reached by token exchange.
/// `transfer_funds` waits for the approval of the person behind the token, asked at the
/// token's issuer (OpenID CIBA) by this server's client there. Replicas share the keys that
/// seal the state clients carry (`approval_keys`) and, through Redis, the approvals used.
fn approval_layer(
    (client_id, secret): &(String, String),
    mcp_url: &str,
    fetch: &FetchPolicy,
    options: &Options,
    shared: &Shared,
) -> Result<mcp_auth::ApprovalLayer, Box<dyn std::error::Error + Send + Sync>> {
    use mcp_auth::approval::{CibaClient, random_keys};
    let ciba = CibaClient::new(
        ClientAuth::client_secret_basic(client_id, secret.as_str()),
        fetch.clone(),
    )?;
    let resource = ResourceId::parse(mcp_url)?;
    let keys = match &options.approval_keys {
        Some(text) => {
            SecretKeys::parse(text).map_err(|e| format!("MCP_AUTH_APPROVAL_KEYS: {e}"))?
        }
        None => random_keys()?,
    };
    let mut layer = mcp_auth::ApprovalLayer::new(ciba, keys, &resource).tool("transfer_funds");
    if let Some(wait) = options.approval_round_wait {
        layer = layer.round_wait(wait);
    }
    if let Some(redis) = &shared.redis {
        layer = layer.used_approvals(RedisReplayStore::new(redis.clone()));
    }
    Ok(layer)
}

async fn built_in(
    options: &Options,
    addr: SocketAddr,
) -> Result<Built, Box<dyn std::error::Error + Send + Sync>> {
    let mcp_url = options
        .resource
        .clone()
        .unwrap_or_else(|| format!("http://{addr}/mcp"));

    let (issuer_config, dev_issuer) = match &options.issuer {
        Some(url) => (options.idp.issuer_config(url)?, None),
        None => {
            let dev = MockIssuer::builder().audience(&mcp_url).start().await;
            (
                IssuerConfig::jwks_uri(dev.issuer(), &dev.jwks_uri()),
                Some(dev),
            )
        }
    };
    // The example's development switch: issuers, client documents and the downstream API on
    // loopback over plain http.
    let mut dev_fetch = FetchPolicy::default().allow_loopback(true);
    if let Some(path) = &options.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("--ca-file: cannot read {}: {e}", path.display()))?;
        dev_fetch = dev_fetch.root_certificate_pem(pem);
    }

    let (downstream_url, downstream_task) = match &options.downstream_url {
        Some(url) => (url.clone(), tokio::spawn(async {})),
        None => downstream_api(issuer_config.clone(), &dev_fetch).await?,
    };
    let dpop_key = match &options.exchange_dpop_key {
        Some(path) => {
            let contents = std::fs::read(path)
                .map_err(|e| format!("--exchange-dpop-key: cannot read {}: {e}", path.display()))?;
            Some(
                mcp_auth::obo::PrivateKey::from_pem_or_jwk(
                    &contents,
                    mcp_auth::obo::Algorithm::ES256,
                )
                .map_err(|e| format!("--exchange-dpop-key: {e}"))?,
            )
        }
        None => None,
    };
    let shared = Shared::connect(options)?;
    let with_dpop_key = |builder: mcp_auth::obo::TokenExchangeClientBuilder| {
        let builder = shared.exchange_store(builder, dpop_key.as_ref());
        match &dpop_key {
            Some(key) => builder.dpop_key(key.clone()),
            None => builder,
        }
    };
    // This server's confidential client at the issuer, for approvals as for exchanges. Without
    // one for an external issuer, approvals are asked with credentials it refuses: the gated
    // tool stays gated and says why.
    let server_client = match (&dev_issuer, &options.exchange_client) {
        (None, Some((id, secret))) => (id.clone(), secret.clone()),
        (Some(_), Some((_, secret))) => (DEV_EXCHANGE_CLIENT.to_owned(), secret.clone()),
        (_, None) => (DEV_EXCHANGE_CLIENT.to_owned(), dev_secret()),
    };
    let approval = approval_layer(&server_client, &mcp_url, &dev_fetch, options, &shared)?;
    let exchange = match (&dev_issuer, &options.exchange_client) {
        (Some(dev), given) => {
            let secret = given
                .as_ref()
                .map_or_else(dev_secret, |(_, secret)| secret.clone());
            dev.allow_exchange_client(DEV_EXCHANGE_CLIENT, &secret);
            dev.allow_exchange_target(&downstream_url, &["api:read"]);
            let client = with_dpop_key(TokenExchangeClient::builder(
                ClientAuth::client_secret_basic(DEV_EXCHANGE_CLIENT, secret),
            ))
            .token_endpoint(dev.token_endpoint())
            .fetch_policy(dev_fetch.clone())
            .build()?;
            Some(client)
        }
        (None, Some((id, secret))) => Some(
            with_dpop_key(TokenExchangeClient::builder(
                ClientAuth::client_secret_basic(id, secret.as_str()),
            ))
            .issuer(options.issuer.clone().unwrap_or_default())
            .fetch_policy(dev_fetch.clone())
            .build()?,
        ),
        (None, None) => None,
    };

    let mut auditor = Auditor::builder().sink(TracingSink);
    if let Some(path) = &options.audit_file {
        auditor = auditor.sink(JsonLinesFile::open(path)?);
    }
    if let Some(endpoint) = &options.otlp {
        let sink = OtlpSink::new(endpoint).map_err(|e| format!("--otlp: {e}"))?;
        auditor = auditor.sink(sink.service_name("protected-server"));
    }
    let auditor = auditor.start();
    let clients = ClientResolver::builder()
        .fetch_policy(dev_fetch.clone())
        .build()?;
    // Any valid Client ID Metadata Document client (with Redis: those approved there), and the
    // issuer's pre-registered clients.
    let client_policy = match &shared.redis {
        Some(redis) => ClientPolicy::registry(RedisRegistry::new(redis.clone()).follow()),
        None => ClientPolicy::any_valid_document(),
    }
    .pre_registered(PreRegisteredClients::all());

    let mut builder = McpAuth::builder(&mcp_url)
        .issuer(issuer_config)
        .scopes_supported(SCOPES)
        .scopes(policy())
        .cedar(expense_policies())
        .challenge_scope("mcp:read")
        .resource_name("mcp-auth example notebook")
        .fetch_policy(dev_fetch)
        .clients(clients, client_policy)
        .approval(approval)
        .audit(auditor);
    if let Some(exchange) = exchange {
        // `call_downstream` may reach the downstream API, for reading, and nothing else.
        builder = builder.on_behalf_of(exchange).exchange_allowlist(
            mcp_auth::ExchangeAllowlist::new().allow(
                "call_downstream",
                &downstream_url,
                "api:read",
            ),
        );
    }
    if let Some(redis) = &shared.redis {
        let replay = RedisReplayStore::new(redis.clone());
        builder = builder.verifier(move |v| v.dpop(DpopConfig::default().replay_store(replay)));
    }
    Ok(Built {
        auth: builder.build()?,
        mcp_url,
        dev_issuer,
        downstream: Some((downstream_url, downstream_task)),
    })
}

/// What `--redis` shares with other replicas.
struct Shared {
    redis: Option<Redis>,
    exchange_keys: Option<SecretKeys>,
}

impl Shared {
    fn connect(options: &Options) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let Some(url) = &options.redis else {
            return Ok(Self {
                redis: None,
                exchange_keys: None,
            });
        };
        // The default key prefix: the one `mcp-auth clients … --registry redis://…` uses.
        let redis = Redis::builder(url.as_str())
            .build()
            .map_err(|e| format!("--redis: {e}"))?;
        let exchange_keys = match &options.exchange_keys {
            Some(text) => {
                Some(SecretKeys::parse(text).map_err(|e| format!("MCP_AUTH_EXCHANGE_KEYS: {e}"))?)
            }
            None => {
                tracing::warn!(
                    "--redis without MCP_AUTH_EXCHANGE_KEYS: exchanged tokens stay in each replica"
                );
                None
            }
        };
        Ok(Self {
            redis: Some(redis),
            exchange_keys,
        })
    }

    fn exchange_store(
        &self,
        builder: mcp_auth::obo::TokenExchangeClientBuilder,
        dpop_key: Option<&mcp_auth::obo::PrivateKey>,
    ) -> mcp_auth::obo::TokenExchangeClientBuilder {
        let (Some(redis), Some(keys)) = (&self.redis, &self.exchange_keys) else {
            return builder;
        };
        let mut store = RedisExchangeStore::new(redis.clone(), keys.clone());
        if let Some(key) = dpop_key {
            store = store.dpop_key(key.clone());
        }
        builder.store(store)
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A random secret for the development issuer's exchange client.
fn dev_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut secret = String::new();
    for _ in 0..4 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(std::process::id().into());
        secret.push_str(&format!("{:016x}", hasher.finish()));
    }
    secret
}

/// A small downstream API on 127.0.0.1, protected by mcp-auth's own verification layer with
/// itself as the audience. It answers with who it sees: the user as `sub`, this server in `act`.
async fn downstream_api(
    issuer: IssuerConfig,
    fetch: &FetchPolicy,
) -> Result<(String, tokio::task::JoinHandle<()>), Box<dyn std::error::Error + Send + Sync>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/api", listener.local_addr()?);
    let verifier = Verifier::builder(ResourceId::parse(&url)?)
        .issuer(issuer)
        .fetch_policy(fetch.clone())
        .build()?;
    async fn whoami(
        axum::Extension(p): axum::Extension<Principal>,
    ) -> axum::Json<serde_json::Value> {
        let act: Vec<String> = p
            .actor()
            .map(|a| a.chain().map(|a| a.subject.clone()).collect())
            .unwrap_or_default();
        axum::Json(serde_json::json!({
            "api": "downstream",
            "sub": p.subject(),
            "act": act,
            "client_id": p.client_id(),
            "scope": p.scopes(),
            "aud": p.audiences(),
            "key_binding": p.key_binding().map(ToString::to_string),
        }))
    }
    let app = Router::new()
        .route("/api", axum::routing::get(whoami))
        .layer(VerifyLayer::new(verifier));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, task))
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
