//! The server side: one small MCP handler, served in each [`Config`].
//!
//! The handler is the same in every configuration: it reads the JSON-RPC `tools/call` body,
//! answers it from memory and counts the request. Only what wraps it changes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mcp_auth::audit::{Auditor, JsonLinesFile};
use mcp_auth::cimd::{ClientPolicy, ClientResolver, PreRegisteredClients};
use mcp_auth::{
    FetchPolicy, IssuerConfig, McpAuth, McpAuthLayer, McpInspectLayer, Principal, Requirement,
    ResourceId, ScopePolicy, Verifier, VerifyLayer,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};

use crate::{Config, MCP_PATH, RESOURCE, SCOPE, ServerStats, TOOL};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How `loadbench-server` runs.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// What wraps the handler.
    pub config: Config,
    /// Address to listen on (port 0 for an ephemeral one).
    pub listen: SocketAddr,
    /// The trusted issuer identifier.
    pub issuer: String,
    /// Where the issuer publishes its JWKS.
    pub jwks_uri: String,
    /// The stack's audit file (JSON Lines sink).
    pub audit_file: Option<PathBuf>,
    /// The stack's verified-token cache capacity (default: mcp-auth's own).
    pub token_cache: Option<usize>,
    /// The stack's JWKS refresh interval (default: mcp-auth's own).
    pub refresh_interval: Option<Duration>,
    /// Count verified-token cache hits and misses in the handler (see [`ServerStats`]).
    pub observe_cache: bool,
    /// The Redis the stack shares its state through (`stack-redis`).
    pub redis: Option<String>,
    /// The MCP endpoint the gateway forwards to (`gateway`).
    pub upstream: Option<String>,
}

/// Builds the configuration, binds, prints `listening ADDR` on stdout and serves until killed.
///
/// # Errors
/// The address cannot be bound or the configuration cannot be built (e.g. the JWKS cannot be
/// fetched at start-up).
pub async fn run(options: ServerOptions) -> Result<(), BoxError> {
    match options.config.proxy() {
        Some(crate::Proxy::Gateway) => return run_gateway(&options).await,
        Some(crate::Proxy::Hyper) => return run_hyper_proxy(&options).await,
        Some(crate::Proxy::Nginx) | None => {}
    }
    let listener = TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    let app = router(&options).await?;
    println!("listening {addr}");
    // SIGTERM ends the server normally (so a profiler wrapping it writes its data).
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            terminate.recv().await;
        })
        .await?;
    Ok(())
}

/// The application for `options.config`: the handler at [`MCP_PATH`] wrapped as configured, and
/// the unprotected counters at `/stats`.
///
/// # Errors
/// The configuration cannot be built.
pub async fn router(options: &ServerOptions) -> Result<Router, BoxError> {
    let state = AppState::new(options.observe_cache);
    let handler = post(tools_call).with_state(state.clone());
    let app: Router<AppState> = match options.config {
        Config::Bare | Config::UpstreamDirect => Router::new().route_service(MCP_PATH, handler),
        Config::Nginx
        | Config::Gateway
        | Config::GatewayNoAudit
        | Config::GatewayVerifyOnly
        | Config::HyperProxy => {
            return Err(format!(
                "`{}` is a proxy in front of `upstream-direct`, not a router of its own",
                options.config.name()
            )
            .into());
        }
        Config::Stack
        | Config::StackDpop
        | Config::StackRedis
        | Config::StackPolicy
        | Config::StackFirstSight
        | Config::StackNoAudit
        | Config::StackNoClients
        | Config::StackNoScopes
        | Config::StackVerifyOnly => {
            let parts = match options.config {
                Config::StackNoAudit => Parts {
                    audit: false,
                    ..Parts::ALL
                },
                Config::StackNoClients => Parts {
                    clients: false,
                    ..Parts::ALL
                },
                Config::StackNoScopes => Parts {
                    scopes: false,
                    ..Parts::ALL
                },
                Config::StackVerifyOnly => Parts {
                    audit: false,
                    clients: false,
                    scopes: false,
                    policies: false,
                },
                Config::StackPolicy => Parts {
                    policies: true,
                    ..Parts::ALL
                },
                _ => Parts::ALL,
            };
            let auth = stack(options, parts)?;
            let failures = auth.verifier().warm_up().await;
            if let Some((issuer, error)) = failures.first() {
                return Err(format!("cannot fetch the keys of {issuer}: {error}").into());
            }
            Router::new().route_service(MCP_PATH, auth.layer(handler))
        }
        Config::VerifyLayer => {
            let verifier = Verifier::builder(ResourceId::parse(RESOURCE)?)
                .issuer(IssuerConfig::jwks_uri(&options.issuer, &options.jwks_uri))
                .fetch_policy(FetchPolicy::default().allow_loopback(true))
                .build()?;
            let failures = verifier.warm_up().await;
            if let Some((issuer, error)) = failures.first() {
                return Err(format!("cannot fetch the keys of {issuer}: {error}").into());
            }
            Router::new().route_service(MCP_PATH, VerifyLayer::new(verifier).layer(handler))
        }
        Config::BareRmcp => Router::new().route_service(MCP_PATH, rmcp_service(state.clone())),
        Config::StackRmcp => {
            let auth = stack(options, Parts::ALL)?;
            let failures = auth.verifier().warm_up().await;
            if let Some((issuer, error)) = failures.first() {
                return Err(format!("cannot fetch the keys of {issuer}: {error}").into());
            }
            Router::new().route_service(MCP_PATH, auth.layer(rmcp_service(state.clone())))
        }
        Config::InspectOnly => {
            Router::new().route_service(MCP_PATH, McpInspectLayer::new().layer(handler))
        }
        Config::JwtAuthorizer => {
            use jwt_authorizer::{IntoLayer, JwtAuthorizer, RegisteredClaims, Validation};
            let authorizer = JwtAuthorizer::<RegisteredClaims>::from_jwks_url(&options.jwks_uri)
                .validation(
                    Validation::new()
                        .iss(&[options.issuer.as_str()])
                        .aud(&[RESOURCE])
                        .nbf(true),
                )
                .build()
                .await?;
            // jwt-authorizer answers with axum 0.7 responses; the handler's response body is
            // boxed into that type so both kinds of response have one type.
            let inner = ServiceExt::<Request>::map_response(handler, |r: Response| {
                r.map(axum07::body::Body::new)
            });
            let service = vec![authorizer].into_layer().layer(inner);
            Router::new().route_service(MCP_PATH, service)
        }
        Config::TowerOauth2ResourceServer => {
            use tower_oauth2_resource_server::server::OAuth2ResourceServer;
            use tower_oauth2_resource_server::tenant::TenantConfiguration;
            use tower_oauth2_resource_server::validation::ClaimsValidationSpec;
            let audiences = vec![RESOURCE.to_owned()];
            let tenant = TenantConfiguration::builder(&options.issuer)
                .jwks_url(&options.jwks_uri)
                .audiences(&audiences)
                .claims_validation(ClaimsValidationSpec::recommended(
                    &options.issuer,
                    &audiences,
                ))
                .build()
                .await?;
            let server = <OAuth2ResourceServer>::builder()
                .add_tenant(tenant)
                .build()
                .await?;
            let service = server.into_layer::<Body>().layer(handler);
            Router::new().route_service(MCP_PATH, service)
        }
    };
    Ok(app.route("/stats", get(stats)).with_state(state))
}

/// `mcp-auth-gateway` in process, configured by [`gateway_toml`] (written next to the audit
/// file), in front of `--upstream`: binds, prints `listening ADDR` and serves until SIGTERM, then
/// lets the requests under way finish and flushes the audit queue, as the binary does.
async fn run_gateway(options: &ServerOptions) -> Result<(), BoxError> {
    use mcp_auth_gateway::{Gateway, GatewayOptions, Overrides};
    let upstream = options
        .upstream
        .as_deref()
        .ok_or("the gateway needs --upstream URL")?;
    let audit_file = options
        .audit_file
        .as_ref()
        .ok_or("the gateway needs --audit-file")?;
    let path = audit_file.with_file_name("gateway.toml");
    let text = gateway_toml(
        options.config,
        &options.issuer,
        &options.jwks_uri,
        audit_file,
        upstream,
    );
    std::fs::write(&path, text)?;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let gateway = Gateway::start(GatewayOptions {
        listen: options.listen,
        config: Some(path),
        overrides: Overrides::default(),
    })
    .await?;
    println!("listening {}", gateway.addr());
    terminate.recv().await;
    gateway.shutdown();
    gateway.wait().await;
    Ok(())
}

/// `hyper-proxy`: the least a reverse proxy on the gateway's machinery does (axum serving, the
/// pooled hyper-util client forwarding with `TCP_NODELAY`, up to 64 idle connections, as the
/// gateway's proxy is built), without authentication or the gateway's header rewriting: every
/// request goes to `--upstream` with its method, headers (`Host` replaced, `Authorization`
/// dropped) and body; the answer streams back.
async fn run_hyper_proxy(options: &ServerOptions) -> Result<(), BoxError> {
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;
    let upstream: http::Uri = options
        .upstream
        .as_deref()
        .ok_or("hyper-proxy needs --upstream URL")?
        .parse()?;
    let host = http::HeaderValue::from_str(
        upstream
            .authority()
            .ok_or("--upstream has no host")?
            .as_str(),
    )?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Body> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build(connector);
    let forward = tower::service_fn(move |request: Request| {
        let client = client.clone();
        let upstream = upstream.clone();
        let host = host.clone();
        async move {
            let (mut parts, body) = request.into_parts();
            parts.uri = upstream;
            parts.version = http::Version::HTTP_11;
            parts.headers.insert(header::HOST, host);
            parts.headers.remove(header::AUTHORIZATION);
            let response = match client.request(Request::from_parts(parts, body)).await {
                Ok(answer) => answer.map(Body::new),
                Err(_) => StatusCode::BAD_GATEWAY.into_response(),
            };
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let listener = TcpListener::bind(options.listen).await?;
    println!("listening {}", listener.local_addr()?);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    axum::serve(listener, Router::new().route_service(MCP_PATH, forward))
        .with_graceful_shutdown(async move {
            terminate.recv().await;
        })
        .await?;
    Ok(())
}

/// The gateway's configuration: the `stack` configuration as the TOML writes it. Verification
/// against the issuer's JWKS (fetched over loopback http), client identity (any valid metadata
/// document, pre-registered client ids allowed), the scope policy requiring [`SCOPE`] for
/// [`TOOL`], audit to a JSON Lines file, and `upstream` as the server behind it. The resource is
/// the tokens' audience; its path ([`MCP_PATH`]) is where the gateway serves it. The ablations
/// leave parts out: `gateway-no-audit` the audit, `gateway-verify-only` all but verification.
pub fn gateway_toml(
    config: Config,
    issuer: &str,
    jwks_uri: &str,
    audit_file: &Path,
    upstream: &str,
) -> String {
    let parts = match config {
        Config::GatewayNoAudit => Parts {
            audit: false,
            ..Parts::ALL
        },
        Config::GatewayVerifyOnly => Parts {
            audit: false,
            clients: false,
            scopes: false,
            policies: false,
        },
        _ => Parts::ALL,
    };
    // JSON strings are TOML basic strings (the same escapes).
    let quote = |s: &str| serde_json::to_string(s).expect("a string serialises");
    let scopes = if parts.scopes {
        format!(
            "[scopes]\nrequired = [{scope}]\n[scopes.tools]\n{tool} = [{scope}]\n\n",
            scope = quote(SCOPE),
            tool = quote(TOOL)
        )
    } else {
        String::new()
    };
    let clients = if parts.clients {
        "[clients]\npolicy = \"any\"\npre_registered = \"all\"\n\n"
    } else {
        ""
    };
    let audit = if parts.audit {
        format!(
            "[audit]\nfile = {}\n\n",
            quote(&audit_file.to_string_lossy())
        )
    } else {
        String::new()
    };
    format!(
        "resource = {resource}\n\
         challenge_scope = {scope}\n\
         \n\
         [[issuers]]\n\
         issuer = {issuer}\n\
         jwks_uri = {jwks_uri}\n\
         \n\
         # The issuer and any client documents are on loopback over http: the development switch.\n\
         [fetch]\n\
         allow_loopback = true\n\
         \n\
         {scopes}{clients}{audit}\
         [upstream]\n\
         url = {upstream}\n",
        resource = quote(RESOURCE),
        scope = quote(SCOPE),
        issuer = quote(issuer),
        jwks_uri = quote(jwks_uri),
        upstream = quote(upstream),
    )
}

/// Which optional parts of the stack are on.
#[derive(Clone, Copy)]
struct Parts {
    audit: bool,
    clients: bool,
    scopes: bool,
    policies: bool,
}

impl Parts {
    const ALL: Parts = Parts {
        audit: true,
        clients: true,
        scopes: true,
        policies: false,
    };
}

/// 50 Cedar policies: the benchmark's tool allowed to callers with its scope asking for an
/// allowed key; the rest for other tools, roles, clients and services, as a real set has.
fn policies() -> Result<mcp_auth::policy::CedarAuthorizer, BoxError> {
    let mut text = format!(
        "permit(principal, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"{TOOL}\")\n\
         when {{ principal.scopes.contains(\"{SCOPE}\") && context.arguments has key && context.arguments.key != \"secret\" }};\n"
    );
    for i in 0..45 {
        text.push_str(&format!(
            "permit(principal in Mcp::Role::\"team_{}\", action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"tool_{i}\");\n",
            i % 7
        ));
    }
    text.push_str("forbid(principal is Mcp::Service, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"tool_0\");\n");
    text.push_str("forbid(principal, action, resource) when { context has client && context.client has host && context.client.host == \"evil.example\" };\n");
    text.push_str(
        "permit(principal in Mcp::Role::\"cfo\", action in Mcp::Action::\"use\", resource);\n",
    );
    text.push_str("forbid(principal, action, resource) when { principal.issuer == \"https://revoked.example\" };\n");
    let policies = mcp_auth::policy::CedarPolicies::builder()
        .schema_source(
            "loadbench.cedarschema",
            "namespace Mcp { type Arguments = { key?: String }; }",
        )
        .source("loadbench.cedar", text)
        .build()?;
    Ok(mcp_auth::policy::CedarAuthorizer::new(policies))
}

/// mcp-auth as a real deployment stacks it: verification against the issuer's JWKS, client
/// identity (Client ID Metadata Documents or pre-registered ids), a scope policy for the tool,
/// and audit to a JSON Lines file. The ablation configurations leave parts out.
fn stack(options: &ServerOptions, parts: Parts) -> Result<McpAuthLayer, BoxError> {
    // The issuer and any client documents are on loopback over http: the development switch.
    let fetch = FetchPolicy::default().allow_loopback(true);
    let policy = ScopePolicy::builder()
        .required(Requirement::all(SCOPE))
        .tool(TOOL, Requirement::all(SCOPE))
        .build()?;
    let token_cache = options.token_cache;
    let refresh_interval = options.refresh_interval;
    let mut builder = McpAuth::builder(RESOURCE)
        .issuer(IssuerConfig::jwks_uri(&options.issuer, &options.jwks_uri))
        .challenge_scope(SCOPE)
        .fetch_policy(fetch.clone())
        .verifier(move |mut verifier| {
            if let Some(tokens) = token_cache {
                verifier = verifier.token_cache_capacity(tokens);
            }
            if let Some(interval) = refresh_interval {
                verifier = verifier.refresh_interval(interval);
            }
            verifier
        });
    if parts.scopes {
        builder = builder.scopes(policy);
    }
    let redis = match &options.redis {
        Some(url) => Some(mcp_auth::redis::Redis::builder(url.as_str()).build()?),
        None => None,
    };
    if let Some(redis) = &redis {
        let replay = mcp_auth::redis::RedisReplayStore::new(redis.clone());
        builder =
            builder.verifier(move |v| v.dpop(mcp_auth::DpopConfig::default().replay_store(replay)));
    }
    if parts.clients {
        let clients = ClientResolver::builder().fetch_policy(fetch).build()?;
        let client_policy = match &redis {
            // The approvals a replica follows from Redis (none approved here: the benchmark's
            // client is pre-registered, and invalid documents are still refused).
            Some(redis) => {
                ClientPolicy::registry(mcp_auth::redis::RedisRegistry::new(redis.clone()).follow())
            }
            None => ClientPolicy::any_valid_document(),
        }
        .pre_registered(PreRegisteredClients::all());
        builder = builder.clients(clients, client_policy);
    }
    if parts.policies {
        builder = builder.cedar(policies()?);
    }
    if parts.audit {
        let audit_file = options
            .audit_file
            .as_ref()
            .ok_or("the stack needs --audit-file")?;
        let auditor = Auditor::builder()
            .sink(JsonLinesFile::open(audit_file)?)
            .start();
        builder = builder.audit(auditor);
    }
    let auth = builder.build()?;
    Ok(auth)
}

/// The handler's shared state: counters, and (when observing) the principal last seen for each
/// token.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    handled: AtomicU64,
    observe: Option<Observer>,
}

impl AppState {
    fn new(observe: bool) -> Self {
        Self(Arc::new(Shared {
            handled: AtomicU64::new(0),
            observe: observe.then(|| Observer {
                seen: Mutex::new(Seen::default()),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
            }),
        }))
    }
}

/// Tells cache hits from misses exactly: the verifier hands out a clone of the cached
/// `Principal` (one `Arc`) on a hit and builds a new one on a miss. Holding every principal seen
/// keeps its allocation alive, so an equal address can only be the same object.
struct Observer {
    seen: Mutex<Seen>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The principal last seen per token: the benchmark's pool tokens (`jti` = `t<n>`) by index,
/// so the lookup costs next to nothing; any other token by `jti`.
#[derive(Default)]
struct Seen {
    pool: Vec<Option<Principal>>,
    other: HashMap<String, Option<Principal>>,
}

impl Seen {
    fn slot(&mut self, jti: &str) -> &mut Option<Principal> {
        let index = jti
            .strip_prefix('t')
            .filter(|n| !n.is_empty() && n.len() <= 7 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<usize>().ok());
        match index {
            Some(n) => {
                if self.pool.len() <= n {
                    self.pool.resize(n + 1, None);
                }
                &mut self.pool[n]
            }
            None => self.other.entry(jti.to_owned()).or_default(),
        }
    }
}

impl Observer {
    fn record(&self, principal: &Principal) {
        let Some(jti) = principal.token_id() else {
            return;
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let slot = seen.slot(jti);
        let hit = slot
            .as_ref()
            .is_some_and(|p| std::ptr::eq(p.claims(), principal.claims()));
        if !hit {
            *slot = Some(principal.clone());
        }
        drop(seen);
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The part of a JSON-RPC request the handler reads.
#[derive(Deserialize)]
struct Call<'a> {
    #[serde(borrow)]
    id: &'a RawValue,
    method: &'a str,
    params: Option<Params<'a>>,
}

#[derive(Deserialize)]
struct Params<'a> {
    name: &'a str,
}

/// Answers an MCP `tools/call` from memory, echoing the request id.
async fn tools_call(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    state.0.handled.fetch_add(1, Ordering::Relaxed);
    if let Some(observer) = &state.0.observe
        && let Some(principal) = parts.extensions.get::<Principal>()
    {
        observer.record(principal);
    }
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Ok(call) = serde_json::from_slice::<Call<'_>>(&bytes) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let answer = match (call.method, call.params.as_ref().map(|p| p.name)) {
        ("tools/call", Some(TOOL)) => {
            r#""result":{"content":[{"type":"text","text":"42"}],"isError":false}"#
        }
        _ => r#""error":{"code":-32601,"message":"unknown method or tool"}"#,
    };
    let body = format!(r#"{{"jsonrpc":"2.0","id":{},{answer}}}"#, call.id.get());
    (
        [(header::CONTENT_TYPE, "application/json")],
        Bytes::from(body),
    )
        .into_response()
}

async fn stats(State(state): State<AppState>) -> axum::Json<ServerStats> {
    let shared = &state.0;
    let (observed, cache_hits, cache_misses) = match &shared.observe {
        Some(o) => (
            true,
            o.hits.load(Ordering::Relaxed),
            o.misses.load(Ordering::Relaxed),
        ),
        None => (false, 0, 0),
    };
    axum::Json(ServerStats {
        handled: shared.handled.load(Ordering::Relaxed),
        observed,
        cache_hits,
        cache_misses,
    })
}

/// rmcp's Streamable HTTP service as a real MCP server would run it here: stateless, JSON
/// responses, one `lookup` tool answered from memory (and counted).
fn rmcp_service(
    state: AppState,
) -> rmcp::transport::streamable_http_server::StreamableHttpService<
    LookupServer,
    rmcp::transport::streamable_http_server::session::never::NeverSessionManager,
> {
    use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
    use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
    let mut config = StreamableHttpServerConfig::default();
    config.legacy_session_mode = false;
    config.json_response = true;
    rmcp::transport::streamable_http_server::StreamableHttpService::new(
        move || Ok(LookupServer::new(state.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// Arguments of the `lookup` tool.
#[derive(Debug, Deserialize, rmcp::schemars::JsonSchema)]
pub struct LookupArgs {
    /// The key to look up.
    pub key: String,
}

/// The rmcp server with the `lookup` tool.
#[derive(Clone)]
pub struct LookupServer {
    state: AppState,
}

impl LookupServer {
    fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[rmcp::tool_router]
impl LookupServer {
    /// Answers from memory.
    #[rmcp::tool(description = "Look a key up in memory")]
    fn lookup(
        &self,
        rmcp::handler::server::wrapper::Parameters(args): rmcp::handler::server::wrapper::Parameters<LookupArgs>,
    ) -> String {
        self.state.0.handled.fetch_add(1, Ordering::Relaxed);
        format!("value of {}", args.key)
    }
}

#[rmcp::tool_handler]
impl rmcp::ServerHandler for LookupServer {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(
            rmcp::model::ServerCapabilities::builder()
                .enable_tools()
                .build(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_configuration_is_the_stack_as_toml() {
        let text = gateway_toml(
            Config::Gateway,
            "http://127.0.0.1:4000",
            "http://127.0.0.1:4000/jwks.json",
            Path::new("/tmp/a \"b\"/audit.jsonl"),
            "http://127.0.0.1:5000/mcp",
        );
        let config = mcp_auth_gateway::GatewayConfig::from_toml(&text).unwrap();
        assert_eq!(config.routes.len(), 1);
        let route = &config.routes[0];
        assert_eq!(route.auth.resource, RESOURCE);
        assert_eq!(route.upstream.url, "http://127.0.0.1:5000/mcp");
        assert_eq!(route.auth.issuers[0].issuer, "http://127.0.0.1:4000");
        assert_eq!(
            route.auth.issuers[0].jwks_uri.as_deref(),
            Some("http://127.0.0.1:4000/jwks.json")
        );
        assert!(route.auth.fetch.allow_loopback);
        assert_eq!(route.auth.challenge_scope.as_deref(), Some(SCOPE));
        let scopes = format!("{:?}", route.auth.scopes);
        assert!(scopes.contains(TOOL) && scopes.contains(SCOPE), "{scopes}");
        let clients = route.auth.clients.as_ref().expect("client identity");
        assert_eq!(clients.policy, mcp_auth::cimd::ClientsPolicyEntry::Any);
        assert_eq!(
            clients.pre_registered,
            Some(mcp_auth::cimd::PreRegisteredEntry::Choice(
                mcp_auth::cimd::AllOrNone::All
            ))
        );
        assert_eq!(
            config.audit.as_ref().and_then(|a| a.file.as_deref()),
            Some("/tmp/a \"b\"/audit.jsonl")
        );
        let ablation = |config: Config| {
            let text = gateway_toml(
                config,
                "http://127.0.0.1:4000",
                "http://127.0.0.1:4000/jwks.json",
                Path::new("/tmp/audit.jsonl"),
                "http://127.0.0.1:5000/mcp",
            );
            mcp_auth_gateway::GatewayConfig::from_toml(&text).unwrap()
        };
        let no_audit = ablation(Config::GatewayNoAudit);
        assert!(no_audit.audit.is_none());
        assert!(no_audit.routes[0].auth.clients.is_some());
        assert!(no_audit.routes[0].auth.scopes.is_some());
        let verify_only = ablation(Config::GatewayVerifyOnly);
        let route = &verify_only.routes[0].auth;
        assert!(verify_only.audit.is_none() && route.clients.is_none() && route.scopes.is_none());
        assert!(route.fetch.allow_loopback);
    }
}
