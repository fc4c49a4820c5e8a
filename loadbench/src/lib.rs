//! Loopback load benchmark for mcp-auth: the same small MCP handler served bare, behind
//! mcp-auth's full stack, and behind the peer libraries users would pick instead.
//!
//! - [`server`]: what `loadbench-server` serves in each [`Config`].
//! - [`bench`]: what `loadbench run` does (tokens, rounds, wrk, /proc accounting, the flood and
//!   memory benchmarks, the report).
//!
//! Run it with `loadbench/run.sh [--quick]`; see `loadbench/README.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

pub mod bench;
pub mod server;

use serde::{Deserialize, Serialize};

/// The resource identifier every configuration protects (the tokens' audience).
pub const RESOURCE: &str = "https://mcp.loadbench.example/mcp";
/// The path the MCP endpoint is served on.
pub const MCP_PATH: &str = "/mcp";
/// The tool the benchmark calls.
pub const TOOL: &str = "lookup";
/// The scope the policy requires for [`TOOL`]; valid tokens carry it.
pub const SCOPE: &str = "mcp:read";
/// The pre-registered OAuth client the tokens are issued to.
pub const CLIENT_ID: &str = "loadbench-client";
/// The JSON-RPC request every load request carries (the Lua scripts hold the same bytes).
pub const REQUEST_BODY: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"lookup","arguments":{"key":"answer"}}}"#;

/// One way of serving the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Config {
    /// No authentication at all: the baseline.
    Bare,
    /// mcp-auth as deployed, tokens repeated as real clients repeat them.
    Stack,
    /// mcp-auth as deployed with a small verified-token cache, every request a token not seen
    /// recently (first-sight verification).
    StackFirstSight,
    /// jwt-authorizer 0.15 (crates.io).
    JwtAuthorizer,
    /// tower-oauth2-resource-server 0.12 (crates.io).
    TowerOauth2ResourceServer,
    /// Ablation: the stack without audit.
    StackNoAudit,
    /// Ablation: the stack without client identity.
    StackNoClients,
    /// Ablation: the stack without a scope policy.
    StackNoScopes,
    /// Ablation: the facade with verification only (no scopes, clients or audit).
    StackVerifyOnly,
    /// Ablation: `VerifyLayer` alone, no facade.
    VerifyLayer,
    /// Ablation: `McpInspectLayer` alone (the JSON-RPC body read once), no authentication.
    InspectOnly,
    /// A real MCP server, no authentication: rmcp's Streamable HTTP service (stateless, JSON
    /// responses) answering the same `lookup` tool.
    BareRmcp,
    /// The same rmcp server behind the full stack.
    StackRmcp,
    /// The full stack with DPoP-bound tokens: every request a fresh proof (a new signature to
    /// check, a new `jti` to remember), the token itself repeated.
    StackDpop,
    /// The full stack as a replica sharing its state in Redis (a real `redis-server`): the
    /// approvals followed from Redis, the DPoP replay store there; bearer requests, whose hot
    /// path must not touch Redis.
    StackRedis,
    /// The full stack with Cedar policies deciding every call (50 policies; the one for the
    /// benchmark's tool reads the caller's scopes and the call's `key` argument).
    StackPolicy,
    /// The small upstream the proxies forward to (the handler, no authentication), loaded
    /// directly: the baseline of the proxy comparison.
    UpstreamDirect,
    /// nginx as a plain reverse proxy (no authentication) in front of the upstream: the floor
    /// for "just proxying".
    Nginx,
    /// `mcp-auth-gateway` with the full stack in front of the upstream.
    Gateway,
    /// Ablation: the gateway without audit.
    GatewayNoAudit,
    /// Ablation: the gateway with verification only (no client identity, scopes or audit).
    GatewayVerifyOnly,
    /// Ablation: no gateway and no authentication, a minimal reverse proxy on the gateway's
    /// machinery (axum serving, hyper-util's pooled client forwarding): the floor of proxying
    /// in Rust this way.
    HyperProxy,
}

/// A reverse proxy in front of the upstream, on the server core with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proxy {
    /// nginx (Debian package), started by the orchestrator with a generated configuration.
    Nginx,
    /// `mcp-auth-gateway`, started in process by `loadbench-server --config gateway`.
    Gateway,
    /// The minimal axum + hyper-util proxy of `loadbench-server --config hyper-proxy`.
    Hyper,
}

impl Config {
    /// Every configuration, in report order.
    pub const ALL: [Config; 13] = [
        Config::Bare,
        Config::Stack,
        Config::StackFirstSight,
        Config::JwtAuthorizer,
        Config::TowerOauth2ResourceServer,
        Config::BareRmcp,
        Config::StackRmcp,
        Config::StackDpop,
        Config::StackRedis,
        Config::StackPolicy,
        Config::UpstreamDirect,
        Config::Nginx,
        Config::Gateway,
    ];

    /// The proxy comparison: the upstream loaded directly, through nginx and through the
    /// gateway.
    pub const PROXIES: [Config; 3] = [Config::UpstreamDirect, Config::Nginx, Config::Gateway];

    /// The gateway taken apart, and the proxying floor under it.
    pub const PROXY_ABLATION: [Config; 3] = [
        Config::GatewayNoAudit,
        Config::GatewayVerifyOnly,
        Config::HyperProxy,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Config::Bare => "bare",
            Config::Stack => "stack",
            Config::StackFirstSight => "stack-first-sight",
            Config::JwtAuthorizer => "jwt-authorizer",
            Config::TowerOauth2ResourceServer => "tower-oauth2-resource-server",
            Config::StackNoAudit => "stack-no-audit",
            Config::StackNoClients => "stack-no-clients",
            Config::StackNoScopes => "stack-no-scopes",
            Config::StackVerifyOnly => "stack-verify-only",
            Config::VerifyLayer => "verify-layer",
            Config::InspectOnly => "inspect-only",
            Config::BareRmcp => "bare-rmcp",
            Config::StackRmcp => "stack-rmcp",
            Config::StackDpop => "stack-dpop",
            Config::StackRedis => "stack-redis",
            Config::StackPolicy => "stack-policy",
            Config::UpstreamDirect => "upstream-direct",
            Config::Nginx => "nginx",
            Config::Gateway => "gateway",
            Config::GatewayNoAudit => "gateway-no-audit",
            Config::GatewayVerifyOnly => "gateway-verify-only",
            Config::HyperProxy => "hyper-proxy",
        }
    }

    /// The configuration this one's ratios are taken against in each round: the same server
    /// without authentication.
    pub fn baseline(self) -> Config {
        match self {
            Config::BareRmcp | Config::StackRmcp => Config::BareRmcp,
            Config::UpstreamDirect
            | Config::Nginx
            | Config::Gateway
            | Config::GatewayNoAudit
            | Config::GatewayVerifyOnly
            | Config::HyperProxy => Config::UpstreamDirect,
            _ => Config::Bare,
        }
    }

    /// The ablation variants: the stack with one part left out at a time.
    pub const ABLATION: [Config; 9] = [
        Config::Bare,
        Config::Stack,
        Config::StackNoAudit,
        Config::StackNoClients,
        Config::StackNoScopes,
        Config::StackVerifyOnly,
        Config::VerifyLayer,
        Config::InspectOnly,
        Config::StackFirstSight,
    ];

    /// Parses a name given by [`Config::name`].
    pub fn parse(name: &str) -> Option<Config> {
        Config::ALL
            .into_iter()
            .chain(Config::ABLATION)
            .chain(Config::PROXY_ABLATION)
            .find(|c| c.name() == name)
    }

    /// Whether requests need a valid token.
    pub fn authenticated(self) -> bool {
        !matches!(
            self,
            Config::Bare
                | Config::InspectOnly
                | Config::BareRmcp
                | Config::UpstreamDirect
                | Config::Nginx
                | Config::HyperProxy
        )
    }

    /// The proxy in front of the upstream, for the configurations that have one.
    pub fn proxy(self) -> Option<Proxy> {
        match self {
            Config::Nginx => Some(Proxy::Nginx),
            Config::Gateway | Config::GatewayNoAudit | Config::GatewayVerifyOnly => {
                Some(Proxy::Gateway)
            }
            Config::HyperProxy => Some(Proxy::Hyper),
            _ => None,
        }
    }

    /// Whether the server shares its state through Redis.
    pub fn redis(self) -> bool {
        self == Config::StackRedis
    }

    /// Whether requests are DPoP presentations, each with a fresh proof.
    pub fn dpop(self) -> bool {
        self == Config::StackDpop
    }

    /// Whether the configuration verifies first sights (small cache, the pool of distinct
    /// tokens).
    pub fn first_sight(self) -> bool {
        self == Config::StackFirstSight
    }

    /// Whether the configuration enforces a scope policy (a token without the tool's scope is
    /// refused with 403).
    pub fn enforces_scopes(self) -> bool {
        matches!(
            self,
            Config::Stack
                | Config::StackFirstSight
                | Config::StackNoAudit
                | Config::StackNoClients
                | Config::StackRmcp
                | Config::StackDpop
                | Config::StackRedis
                | Config::StackPolicy
                | Config::Gateway
                | Config::GatewayNoAudit
        )
    }

    /// Whether the configuration checks client identity (an invalid metadata-document client
    /// id is refused with 403).
    pub fn enforces_clients(self) -> bool {
        matches!(
            self,
            Config::Stack
                | Config::StackFirstSight
                | Config::StackNoAudit
                | Config::StackNoScopes
                | Config::StackRmcp
                | Config::StackDpop
                | Config::StackRedis
                | Config::StackPolicy
                | Config::Gateway
                | Config::GatewayNoAudit
        )
    }

    /// Whether this is mcp-auth's full stack (the configurations that audit to a file).
    pub fn is_stack(self) -> bool {
        matches!(
            self,
            Config::Stack
                | Config::StackFirstSight
                | Config::StackNoClients
                | Config::StackNoScopes
                | Config::StackRmcp
                | Config::StackDpop
                | Config::StackRedis
                | Config::StackPolicy
                | Config::Gateway
        )
    }
}

/// What the server counted, served at `GET /stats`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServerStats {
    /// Requests that reached the handler.
    pub handled: u64,
    /// Whether verified-token cache hits were observed (`--observe-cache`).
    pub observed: bool,
    /// Requests whose `Principal` was the very object already cached for that token.
    pub cache_hits: u64,
    /// Requests whose `Principal` was built afresh (a full verification).
    pub cache_misses: u64,
}
