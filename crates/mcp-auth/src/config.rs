//! One configuration file for the whole stack (TOML, the builder's structure through serde).

use std::path::Path;
use std::time::Duration;

use mcp_auth_core::mcp::InspectLimits;
use mcp_auth_jwt::{Algorithm, IssuerConfig, RequiredClaims, TypPolicy};
use mcp_auth_scope::ScopeConfig;
use serde::Deserialize;

use crate::{BuildError, FetchPolicy, McpAuth, McpAuthBuilder};

/// The configuration file. Every table but `resource` and one `[[issuers]]` is optional.
///
/// ```
/// let builder = mcp_auth::McpAuth::from_toml(r#"
///     resource = "https://mcp.example.com/mcp"
///     resource_name = "Notes"
///     challenge_scope = "mcp:read"
///
///     [[issuers]]
///     issuer = "https://auth.example.com"
///     typ = "lenient"
///     required_claims = "minimal"
///
///     [scopes]
///     required = ["mcp:read"]
///     [scopes.tools]
///     add_note = ["mcp:write"]
/// "#).unwrap();
/// let layer = builder.build().unwrap();
/// assert_eq!(layer.metadata().authorization_servers, ["https://auth.example.com"]);
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The public resource identifier (e.g. `https://mcp.example.com/mcp`).
    pub resource: String,
    /// `resource_name` of the metadata.
    #[serde(default)]
    pub resource_name: Option<String>,
    /// `resource_documentation` of the metadata.
    #[serde(default)]
    pub resource_documentation: Option<String>,
    /// `scopes_supported` of the metadata (default: every scope the policy mentions).
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// The `scope` of 401 challenges when the operation does not say more.
    #[serde(default)]
    pub challenge_scope: Option<String>,
    /// Trusted issuers.
    pub issuers: Vec<IssuerEntry>,
    /// Outbound fetch rules.
    #[serde(default)]
    pub fetch: FetchEntry,
    /// Request body limits.
    #[serde(default)]
    pub limits: LimitsEntry,
    /// The scope policy.
    #[serde(default)]
    pub scopes: Option<ScopeConfig>,
    /// Which clients are admitted.
    #[serde(default)]
    pub clients: Option<ClientsEntry>,
    /// Audit logging.
    #[serde(default)]
    pub audit: Option<AuditEntry>,
    /// Token exchange for downstream APIs.
    #[serde(default)]
    pub token_exchange: Option<TokenExchangeEntry>,
}

/// `clients.policy`: which Client ID Metadata Document clients are admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientsPolicyEntry {
    /// `"any"`: every valid document.
    Any,
    /// `"allow_list"`: the clients in `urls` and `hosts`.
    AllowList,
    /// `"registry"`: clients approved with `mcp-auth clients approve`.
    Registry,
}

/// `clients.pre_registered`: `"none"`, `"all"`, or a list of client ids.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged, expecting = "\"none\", \"all\" or a list of client ids")]
pub enum PreRegisteredEntry {
    /// `"none"` or `"all"`.
    Choice(AllOrNone),
    /// These client ids only.
    Only(Vec<String>),
}

/// `"all"` or `"none"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllOrNone {
    /// Every one.
    All,
    /// None.
    None,
}

/// `clients.changed_document`: what happens to an approved client whose document changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangedDocumentEntry {
    /// Refused until approved again (the default).
    #[default]
    Refuse,
    /// Admitted, with a warning logged.
    Warn,
}

/// `audit.overflow`: what happens when the audit queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowEntry {
    /// Requests that reached the service wait: no event of theirs is lost (the default).
    #[default]
    Wait,
    /// Never wait; count what is dropped.
    Drop,
}

/// `token_exchange.auth_method`: how this server authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeAuthEntry {
    /// HTTP Basic (the default).
    #[default]
    ClientSecretBasic,
    /// In the form body.
    ClientSecretPost,
}

/// `issuers[].typ`: which `typ` headers access tokens may carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum TypEntry {
    /// `at+jwt` only (RFC 9068, the default).
    #[default]
    #[serde(rename = "at+jwt")]
    AtJwt,
    /// Also `JWT` and no `typ` at all.
    #[serde(rename = "lenient")]
    Lenient,
}

/// `issuers[].required_claims`: a profile or a list of claim names.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(
    untagged,
    expecting = "\"rfc9068\", \"minimal\" or a list of claim names"
)]
pub enum RequiredClaimsEntry {
    /// A named profile.
    Profile(ClaimsProfile),
    /// Claim names.
    List(Vec<String>),
}

/// A named set of required claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimsProfile {
    /// RFC 9068: `iss`, `exp`, `aud`, `sub`, `client_id`, `iat`, `jti`.
    Rfc9068,
    /// `iss`, `exp`, `aud`, `sub` only.
    Minimal,
}

/// `[clients]`: client identity.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientsEntry {
    /// Which clients are admitted.
    pub policy: ClientsPolicyEntry,
    /// Exact client URLs, for `allow_list`.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Client hosts, for `allow_list` (`*.example.com` includes subdomains).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The registry file, for `registry`.
    #[serde(default)]
    pub registry: Option<String>,
    /// Pre-registered (non-URL) client ids: `"none"` (default), `"all"`, or a list.
    #[serde(default)]
    pub pre_registered: Option<PreRegisteredEntry>,
    /// A document that changed since approval: `"refuse"` (default) or `"warn"`.
    #[serde(default)]
    pub changed_document: ChangedDocumentEntry,
}

/// `[audit]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// A JSON Lines file to append events to.
    #[serde(default)]
    pub file: Option<String>,
    /// Rotate the file at this size, in bytes (default 100 MiB).
    #[serde(default)]
    pub rotate_bytes: Option<u64>,
    /// Old files kept (default 5).
    #[serde(default)]
    pub keep: Option<usize>,
    /// Also emit events through `tracing` (target `mcp_auth::audit`).
    #[serde(default)]
    pub tracing: bool,
    /// `"wait"` (default: lose nothing) or `"drop"` (never wait; count drops).
    #[serde(default)]
    pub overflow: OverflowEntry,
    /// Queue capacity in requests (default 16384).
    #[serde(default)]
    pub capacity: Option<usize>,
}

/// `[token_exchange]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenExchangeEntry {
    /// This server's client id at the authorization server.
    pub client_id: String,
    /// The name of the environment variable holding the client secret (never the secret).
    pub client_secret_env: String,
    /// `"client_secret_basic"` (default) or `"client_secret_post"`.
    #[serde(default)]
    pub auth_method: ExchangeAuthEntry,
    /// The token endpoint; without it, discovered from `issuer`.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// The issuer whose metadata names the token endpoint (default: the first `[[issuers]]`).
    #[serde(default)]
    pub issuer: Option<String>,
}

/// One `[[issuers]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerEntry {
    /// The issuer identifier, exactly as its tokens' `iss`.
    pub issuer: String,
    /// The JWKS URL; without it, discovery finds it.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// `"at+jwt"` (default) or `"lenient"` (also `JWT` and no `typ`).
    #[serde(default)]
    pub typ: TypEntry,
    /// `"rfc9068"` (default), `"minimal"`, or a list of claim names.
    #[serde(default)]
    pub required_claims: Option<RequiredClaimsEntry>,
    /// Accepted algorithms (default: every asymmetric one).
    #[serde(default)]
    pub algorithms: Option<Vec<Algorithm>>,
    /// Clock leeway in seconds (default 60, at most 300).
    #[serde(default)]
    pub leeway_seconds: Option<u64>,
}

/// `[fetch]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchEntry {
    /// The development switch: loopback addresses and http to loopback hosts.
    #[serde(default)]
    pub allow_loopback: bool,
    /// Private-network addresses (an internal issuer).
    #[serde(default)]
    pub allow_private_networks: bool,
    /// Overall timeout of one fetch, in milliseconds (default 5000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Extra trusted root certificates (PEM files), e.g. an internal CA, for issuer,
    /// client-document and token-exchange fetches.
    #[serde(default)]
    pub ca_files: Vec<String>,
}

/// `[limits]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsEntry {
    /// Largest request body, in bytes (default 4 MiB).
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// Most messages in a JSON-RPC batch (default 100).
    #[serde(default)]
    pub max_batch: Option<usize>,
    /// Deepest JSON nesting (default 64).
    #[serde(default)]
    pub max_depth: Option<usize>,
}

fn bad(key: &str, problem: impl std::fmt::Display) -> BuildError {
    BuildError::Config {
        key: key.to_owned(),
        problem: problem.to_string(),
    }
}

impl Config {
    /// Parses TOML text, checking its structure (values are checked by
    /// [`into_builder`](Self::into_builder)).
    ///
    /// # Errors
    /// Syntax errors and unknown keys, with line and column.
    pub fn from_toml(text: &str) -> Result<Self, BuildError> {
        toml::from_str(text).map_err(|e| BuildError::Parse(e.to_string()))
    }

    /// Reads and parses a TOML file; see [`from_toml`](Self::from_toml).
    ///
    /// # Errors
    /// The file cannot be read, or does not parse; the message names the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, BuildError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| BuildError::Read {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            BuildError::Parse(message) => {
                BuildError::Parse(format!("{}: {message}", path.display()))
            }
            other => other,
        })
    }

    /// Turns the configuration into a builder, validating every value.
    ///
    /// # Errors
    /// A [`BuildError`] naming the key at fault and the fix.
    pub fn into_builder(self) -> Result<McpAuthBuilder, BuildError> {
        let mut builder = McpAuth::builder(&self.resource);
        let first_issuer = self.issuers.first().map(|i| i.issuer.clone());
        if self.issuers.is_empty() {
            return Err(bad(
                "issuers",
                "add at least one [[issuers]] entry with `issuer = \"https://...\"`",
            ));
        }
        for entry in self.issuers {
            builder = builder.issuer(issuer(entry)?);
        }
        if let Some(name) = &self.resource_name {
            builder = builder.resource_name(name);
        }
        if let Some(url) = &self.resource_documentation {
            builder = builder.resource_documentation(url);
        }
        if !self.scopes_supported.is_empty() {
            builder = builder.scopes_supported(self.scopes_supported);
        }
        if let Some(scope) = &self.challenge_scope {
            builder = builder.challenge_scope(scope.as_str());
        }
        let mut fetch = FetchPolicy::default()
            .allow_loopback(self.fetch.allow_loopback)
            .allow_private_networks(self.fetch.allow_private_networks);
        if let Some(ms) = self.fetch.timeout_ms {
            if ms == 0 {
                return Err(bad("fetch.timeout_ms", "must be at least 1"));
            }
            fetch = fetch.timeout(Duration::from_millis(ms));
        }
        for path in &self.fetch.ca_files {
            let pem = std::fs::read(path)
                .map_err(|e| bad("fetch.ca_files", format!("cannot read `{path}`: {e}")))?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(bad(
                    "fetch.ca_files",
                    format!("`{path}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
                ));
            }
            fetch = fetch.root_certificate_pem(pem);
        }
        builder = builder.fetch_policy(fetch.clone());
        let mut limits = InspectLimits::default();
        if let Some(n) = self.limits.max_body_bytes {
            limits = limits.max_body_bytes(n);
        }
        if let Some(n) = self.limits.max_batch {
            limits = limits.max_batch(n);
        }
        if let Some(n) = self.limits.max_depth {
            limits = limits.max_depth(n);
        }
        builder = builder.inspect_limits(limits);
        if let Some(scopes) = self.scopes {
            builder = builder.scopes(scopes.into_policy()?);
        }
        if let Some(clients) = self.clients {
            let resolver = mcp_auth_cimd::ClientResolver::builder()
                .fetch_policy(fetch.clone())
                .build()
                .map_err(|e| bad("clients", e))?;
            builder = builder.clients(resolver, clients_policy(clients)?);
        }
        if let Some(audit) = self.audit {
            builder = builder.audit(auditor(audit)?);
        }
        if let Some(exchange) = self.token_exchange {
            builder = builder.on_behalf_of(exchange_client(exchange, first_issuer, fetch)?);
        }
        Ok(builder)
    }
}

fn clients_policy(entry: ClientsEntry) -> Result<mcp_auth_cimd::ClientPolicy, BuildError> {
    use mcp_auth_cimd::{
        ChangedDocument, ClientAllowList, ClientPolicy, PreRegisteredClients, Registry,
    };
    let policy = match entry.policy {
        ClientsPolicyEntry::Any => ClientPolicy::any_valid_document(),
        ClientsPolicyEntry::AllowList => {
            if entry.urls.is_empty() && entry.hosts.is_empty() {
                return Err(bad(
                    "clients.policy",
                    "\"allow_list\" needs `urls` or `hosts`",
                ));
            }
            let mut list = ClientAllowList::new();
            for url in entry.urls {
                list = list.url(url);
            }
            for host in entry.hosts {
                list = match host.strip_prefix("*.") {
                    Some(base) => list.host_and_subdomains(base),
                    None => list.host(host),
                };
            }
            ClientPolicy::allow_list(list)
        }
        ClientsPolicyEntry::Registry => {
            let path = entry.registry.ok_or_else(|| {
                bad(
                    "clients.registry",
                    "\"registry\" needs `registry = \"path/to/mcp-clients.json\"`",
                )
            })?;
            ClientPolicy::registry(
                Registry::open_or_empty(&path).map_err(|e| bad("clients.registry", e))?,
            )
        }
    };
    let policy = match entry.pre_registered {
        None => policy,
        Some(PreRegisteredEntry::Choice(AllOrNone::None)) => {
            policy.pre_registered(PreRegisteredClients::none())
        }
        Some(PreRegisteredEntry::Choice(AllOrNone::All)) => {
            policy.pre_registered(PreRegisteredClients::all())
        }
        Some(PreRegisteredEntry::Only(ids)) => {
            policy.pre_registered(PreRegisteredClients::only(ids))
        }
    };
    Ok(match entry.changed_document {
        ChangedDocumentEntry::Refuse => policy,
        ChangedDocumentEntry::Warn => policy.changed_document(ChangedDocument::Warn),
    })
}

fn auditor(entry: AuditEntry) -> Result<mcp_auth_audit::Auditor, BuildError> {
    use mcp_auth_audit::{Auditor, JsonLinesFile, Overflow, TracingSink};
    let mut builder = Auditor::builder();
    if entry.file.is_none() && !entry.tracing {
        return Err(bad(
            "audit",
            "name a `file = \"audit.jsonl\"`, set `tracing = true`, or both",
        ));
    }
    if let Some(path) = &entry.file {
        let file = JsonLinesFile::open(path)
            .map_err(|e| bad("audit.file", format!("cannot open {path}: {e}")))?;
        builder = builder.sink(file.rotate(
            entry.rotate_bytes.unwrap_or(100 * 1024 * 1024),
            entry.keep.unwrap_or(5),
        ));
    }
    if entry.tracing {
        builder = builder.sink(TracingSink);
    }
    builder = builder.overflow(match entry.overflow {
        OverflowEntry::Wait => Overflow::Wait,
        OverflowEntry::Drop => Overflow::DropAndCount,
    });
    if let Some(capacity) = entry.capacity {
        builder = builder.capacity(capacity);
    }
    Ok(builder.start())
}

fn exchange_client(
    entry: TokenExchangeEntry,
    first_issuer: Option<String>,
    fetch: FetchPolicy,
) -> Result<mcp_auth_obo::TokenExchangeClient, BuildError> {
    use mcp_auth_obo::{ClientAuth, TokenExchangeClient};
    let secret = std::env::var(&entry.client_secret_env).map_err(|_| {
        bad(
            "token_exchange.client_secret_env",
            format!(
                "environment variable `{}` is not set",
                entry.client_secret_env
            ),
        )
    })?;
    let auth = match entry.auth_method {
        ExchangeAuthEntry::ClientSecretBasic => {
            ClientAuth::client_secret_basic(&entry.client_id, secret)
        }
        ExchangeAuthEntry::ClientSecretPost => {
            ClientAuth::client_secret_post(&entry.client_id, secret)
        }
    };
    let mut builder = TokenExchangeClient::builder(auth).fetch_policy(fetch);
    builder = match (entry.token_endpoint, entry.issuer.or(first_issuer)) {
        (Some(endpoint), _) => builder.token_endpoint(endpoint),
        (None, Some(issuer)) => builder.issuer(issuer),
        (None, None) => return Err(bad("token_exchange", "set `token_endpoint` or `issuer`")),
    };
    builder.build().map_err(|e| bad("token_exchange", e))
}

fn issuer(entry: IssuerEntry) -> Result<IssuerConfig, BuildError> {
    let mut config = match &entry.jwks_uri {
        Some(uri) => IssuerConfig::jwks_uri(&entry.issuer, uri),
        None => IssuerConfig::discover(&entry.issuer),
    };
    if entry.typ == TypEntry::Lenient {
        config = config.typ(TypPolicy::Lenient);
    }
    match entry.required_claims {
        None | Some(RequiredClaimsEntry::Profile(ClaimsProfile::Rfc9068)) => {}
        Some(RequiredClaimsEntry::Profile(ClaimsProfile::Minimal)) => {
            config = config.required_claims(RequiredClaims::minimal())
        }
        Some(RequiredClaimsEntry::List(names)) => {
            config = config.required_claims(RequiredClaims::custom(names));
        }
    }
    if let Some(algorithms) = entry.algorithms {
        config = config.algorithms(&algorithms);
    }
    if let Some(secs) = entry.leeway_seconds {
        config = config.leeway(Duration::from_secs(secs));
    }
    Ok(config)
}

impl McpAuth {
    /// Reads the whole stack's configuration from TOML text.
    ///
    /// # Errors
    /// Syntax errors (with line and column) and invalid values, each naming the key.
    pub fn from_toml(text: &str) -> Result<McpAuthBuilder, BuildError> {
        Config::from_toml(text)?.into_builder()
    }

    /// Reads the whole stack's configuration from a TOML file.
    ///
    /// # Errors
    /// The file cannot be read, or see [`McpAuth::from_toml`].
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<McpAuthBuilder, BuildError> {
        Config::from_file(path)?.into_builder()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        match McpAuth::from_toml(text).and_then(McpAuthBuilder::build) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    const BASE: &str = "resource = \"https://mcp.example.com/mcp\"\n[[issuers]]\nissuer = \"https://auth.example.com\"\n";

    #[test]
    fn invalid_configuration_names_the_key_and_the_fix() {
        let cases = [
            (
                "resource = \"https://x/mcp\"\nissuers = []",
                "issuers: add at least one",
            ),
            (
                "resource = \"not a url\"\n[[issuers]]\nissuer = \"https://a\"",
                "`resource`",
            ),
            (
                &format!("{BASE}typ = \"jwt\""),
                "unknown variant `jwt`, expected `at+jwt` or `lenient`",
            ),
            (
                &format!("{BASE}algorithms = [\"RS999\"]"),
                "unknown variant `RS999`",
            ),
            (
                &format!("{BASE}required_claims = \"strict\""),
                "\"rfc9068\", \"minimal\" or a list of claim names",
            ),
            (&format!("{BASE}leeway_seconds = 9999"), "leeway"),
            (
                &format!("{BASE}[scopes.tools]\nx = [\"a b\"]"),
                "scopes.tools.x",
            ),
            (
                &format!("{BASE}[fetch]\ntimeout_ms = 0"),
                "fetch.timeout_ms",
            ),
            (
                &format!("{BASE}[fetch]\nca_files = [\"/nonexistent/ca.pem\"]"),
                "fetch.ca_files: cannot read `/nonexistent/ca.pem`",
            ),
            (
                &format!("{BASE}[fetch]\nca_files = [\"Cargo.toml\"]"),
                "fetch.ca_files: `Cargo.toml` holds no PEM certificate",
            ),
            (&format!("{BASE}unknown = 1"), "unknown field `unknown`"),
            (
                &format!("{BASE}[clients]\npolicy = \"any\"\npre_registered = \"some\""),
                "\"none\", \"all\" or a list of client ids",
            ),
            (
                &format!("{BASE}[clients]\npolicy = \"everyone\""),
                "unknown variant `everyone`, expected one of `any`, `allow_list`, `registry`",
            ),
            (
                &format!("{BASE}[clients]\npolicy = \"allow_list\""),
                "needs `urls` or `hosts`",
            ),
            (
                &format!("{BASE}[audit]\ntracing = false"),
                "audit: name a `file",
            ),
            (
                &format!("{BASE}[audit]\ntracing = true\noverflow = \"spill\""),
                "unknown variant `spill`, expected `wait` or `drop`",
            ),
            (
                &format!(
                    "{BASE}[token_exchange]\nclient_id = \"me\"\nclient_secret_env = \"MCP_AUTH_TEST_UNSET_VARIABLE\""
                ),
                "`MCP_AUTH_TEST_UNSET_VARIABLE` is not set",
            ),
        ];
        for (text, expected) in cases {
            let e = error(text);
            assert!(e.contains(expected), "{text}\n=> {e}");
        }
    }

    #[test]
    fn a_value_error_keeps_its_key_and_a_syntax_error_its_place() {
        let error = McpAuth::from_toml(&format!("{BASE}[clients]\npolicy = \"registry\""))
            .err()
            .unwrap();
        assert_eq!(error.key(), Some("clients.registry"));
        assert!(matches!(error, BuildError::Config { .. }));
        let error = McpAuth::from_toml(&format!("{BASE}typ = \"jwt\""))
            .err()
            .unwrap();
        assert!(matches!(error, BuildError::Parse(_)));
        assert!(error.to_string().contains("line 4"), "{error}");
    }

    #[test]
    fn scopes_supported_defaults_to_the_policy() {
        let text = format!(
            "{BASE}[scopes]\nrequired = [\"mcp:read\"]\n[scopes.tools]\nw = [\"mcp:write\"]"
        );
        let layer = McpAuth::from_toml(&text).unwrap().build().unwrap();
        assert_eq!(layer.metadata().scopes_supported, ["mcp:read", "mcp:write"]);
    }
}
