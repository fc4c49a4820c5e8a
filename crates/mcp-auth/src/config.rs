//! One configuration file for the whole stack: each section is the configuration type of the
//! crate it configures, composed here.

use std::path::Path;

use mcp_auth_audit::AuditEntry;
use mcp_auth_cimd::ClientsEntry;
use mcp_auth_core::ConfigValueError;
use mcp_auth_core::mcp::LimitsConfig;
use mcp_auth_fetch::FetchConfig;
use mcp_auth_jwt::IssuerEntry;
use mcp_auth_obo::TokenExchangeEntry;
use mcp_auth_scope::ScopeConfig;
use serde::Deserialize;

use crate::{BuildError, McpAuth, McpAuthBuilder};

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
    pub fetch: FetchConfig,
    /// Request body limits.
    #[serde(default)]
    pub limits: LimitsConfig,
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
    /// Calls that need the approval of the person behind the token (CIBA at the token's
    /// issuer): the tools, and this server's client there.
    #[serde(default)]
    pub approval: Option<mcp_auth_approval::ApprovalEntry>,
    /// Shared state for replicas (feature `redis`): with it, DPoP proofs are remembered in
    /// Redis, `[clients] registry = "redis"` follows the approvals there, and exchanged tokens
    /// are shared when `exchange_keys_env` is set.
    #[cfg(feature = "redis")]
    #[serde(default)]
    pub redis: Option<mcp_auth_redis::RedisEntry>,
    /// Cedar policies deciding calls after the scopes (feature `policy`): `files`, `schema`,
    /// claim maps per issuer. Paths are relative to the configuration file.
    #[cfg(feature = "policy")]
    #[serde(default)]
    pub policy: Option<mcp_auth_policy::PolicyEntry>,
}

/// What the `[redis]` table shares between replicas (nothing without the feature or the table).
struct Shared {
    #[cfg(feature = "redis")]
    redis: Option<(mcp_auth_redis::Redis, Option<mcp_auth_redis::SecretKeys>)>,
    #[cfg(feature = "redis")]
    nonce_secret: Option<Vec<u8>>,
    #[cfg(feature = "redis")]
    replay: Option<mcp_auth_redis::RedisReplayStore>,
}

impl Shared {
    fn from_config(
        #[cfg(feature = "redis")] entry: Option<mcp_auth_redis::RedisEntry>,
    ) -> Result<Self, BuildError> {
        #[cfg(feature = "redis")]
        let (redis, nonce_secret, replay) = match entry {
            Some(entry) => {
                let redis = entry.connect()?;
                (
                    Some((redis.clone(), entry.exchange_keys()?)),
                    entry.dpop_nonce_secret()?,
                    Some(entry.replay_store(redis)),
                )
            }
            None => (None, None, None),
        };
        Ok(Self {
            #[cfg(feature = "redis")]
            redis,
            #[cfg(feature = "redis")]
            nonce_secret,
            #[cfg(feature = "redis")]
            replay,
        })
    }

    /// Used approvals remembered where every replica looks (the DPoP replay store's keys).
    fn approval_store(
        &self,
        layer: mcp_auth_approval::ApprovalLayer,
    ) -> mcp_auth_approval::ApprovalLayer {
        #[cfg(feature = "redis")]
        if let Some(replay) = &self.replay {
            return layer.used_approvals(replay.clone());
        }
        layer
    }

    /// DPoP proofs remembered where every replica looks.
    fn configure_verifier(&self, builder: McpAuthBuilder) -> McpAuthBuilder {
        #[cfg(feature = "redis")]
        if let Some(replay) = &self.replay {
            let mut dpop = mcp_auth_jwt::DpopConfig::default().replay_store(replay.clone());
            if let Some(secret) = &self.nonce_secret {
                dpop = dpop.nonce_secret(secret);
            }
            return builder.verifier(move |verifier| verifier.dpop(dpop));
        }
        builder
    }

    /// The registry `[clients] registry = "redis"` names: a copy following Redis.
    ///
    /// # Errors
    /// Outside a Tokio runtime (the follower is a task on it).
    fn registry(&self) -> Result<Option<mcp_auth_cimd::Registry>, BuildError> {
        #[cfg(feature = "redis")]
        if let Some((redis, _)) = &self.redis {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(bad(
                    "clients.registry",
                    "the Redis registry is followed by a task: build the stack inside a Tokio \
                     runtime",
                ));
            }
            return Ok(Some(
                mcp_auth_redis::RedisRegistry::new(redis.clone()).follow(),
            ));
        }
        Ok(None)
    }

    /// Exchanged tokens shared through Redis when keys to seal them are configured.
    fn exchange_store(
        &self,
        client: mcp_auth_obo::TokenExchangeClientBuilder,
        dpop_key: Option<mcp_auth_obo::PrivateKey>,
    ) -> mcp_auth_obo::TokenExchangeClientBuilder {
        #[cfg(feature = "redis")]
        if let Some((redis, Some(keys))) = &self.redis {
            let mut store = mcp_auth_redis::RedisExchangeStore::new(redis.clone(), keys.clone());
            if let Some(key) = dpop_key {
                store = store.dpop_key(key);
            }
            return client.store(store);
        }
        let _ = dpop_key;
        client
    }
}

fn bad(key: &str, problem: impl std::fmt::Display) -> BuildError {
    ConfigValueError::new(key, problem).into()
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
        self.into_builder_in(Path::new("."))
    }

    /// Like [`into_builder`](Self::into_builder), reading the files the configuration names
    /// (policies) relative to `base`, the configuration file's directory.
    ///
    /// # Errors
    /// As [`into_builder`](Self::into_builder).
    pub fn into_builder_in(self, base: &Path) -> Result<McpAuthBuilder, BuildError> {
        #[cfg(not(feature = "policy"))]
        let _ = base;
        let mut builder = McpAuth::builder(&self.resource);
        let first_issuer = self.issuers.first().map(|i| i.issuer.clone());
        if self.issuers.is_empty() {
            return Err(bad(
                "issuers",
                "add at least one [[issuers]] entry with `issuer = \"https://...\"`",
            ));
        }
        for entry in self.issuers {
            builder = builder.issuer(entry.into_config().map_err(BuildError::Config)?);
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
        let fetch = self.fetch.into_policy()?;
        builder = builder
            .fetch_policy(fetch.clone())
            .inspect_limits(self.limits.into_limits());
        if let Some(scopes) = self.scopes {
            builder = builder.scopes(scopes.into_policy()?);
        }
        let shared = Shared::from_config(
            #[cfg(feature = "redis")]
            self.redis,
        )?;
        builder = shared.configure_verifier(builder);
        if let Some(clients) = self.clients {
            let resolver = mcp_auth_cimd::ClientResolver::builder()
                .fetch_policy(fetch.clone())
                .build()
                .map_err(|e| bad("clients", e))?;
            let shared_registry = match clients.registry.as_deref() {
                Some("redis") => shared.registry()?,
                _ => None,
            };
            builder = builder.clients(resolver, clients.into_policy_with(shared_registry)?);
        }
        if let Some(audit) = self.audit {
            builder = builder.audit(audit.start()?);
        }
        #[cfg(feature = "policy")]
        if let Some(policy) = self.policy {
            builder = builder.cedar(policy.into_authorizer(base)?);
        }
        if let Some(approval) = self.approval {
            let resource =
                mcp_auth_core::ResourceId::parse(&self.resource).map_err(|e| bad("resource", e))?;
            let layer = approval.into_layer(&resource, fetch.clone())?;
            builder = builder.approval(shared.approval_store(layer));
        }
        if let Some(exchange) = self.token_exchange {
            if let Some(allow) = &exchange.allow {
                builder = builder
                    .exchange_allowlist(mcp_auth_obo::ExchangeAllowlist::from_entries(allow));
            }
            let dpop_key = exchange.dpop_key()?;
            let client = exchange.into_builder(first_issuer, fetch)?;
            let client = shared.exchange_store(client, dpop_key);
            builder = builder.on_behalf_of(
                client
                    .build()
                    .map_err(|e| ConfigValueError::new("token_exchange", e))?,
            );
        }
        Ok(builder)
    }
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
        let path = path.as_ref();
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_file(path)?.into_builder_in(base)
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
                &format!("{BASE}profile = \"okta2\""),
                "unknown variant `okta2`, expected one of `rfc9068`, `auth0`, `entra`, `entra-v1`, `okta`, `keycloak`, `cognito`",
            ),
            (
                &format!("{BASE}profile = \"cognito\""),
                "client_ids = [...]",
            ),
            (
                &format!("{BASE}tenants = \"all\""),
                "a list of tenant ids, or \"any\"",
            ),
            (&format!("{BASE}tenants = []"), "tenant allow list is empty"),
            (
                &format!("{BASE}dpop = \"always\""),
                "unknown variant `always`, expected one of `allowed`, `required`, `disabled`",
            ),
            (
                &format!(
                    "{BASE}[issuers.introspection]\nclient_id = \"rs\"\nclient_secret_env = \"MCP_AUTH_TEST_UNSET_VARIABLE\""
                ),
                "issuers.introspection.client_secret_env: environment variable `MCP_AUTH_TEST_UNSET_VARIABLE` is not set",
            ),
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

#[cfg(test)]
mod approval_tests {
    use super::*;

    const BASE: &str = "resource = \"https://mcp.example.com/mcp\"\n[[issuers]]\nissuer = \"https://auth.example.com\"\n";

    #[test]
    fn an_approval_table_gates_its_tools_and_its_mistakes_name_the_key() {
        // PATH is set in every environment; nothing is fetched while building.
        let table = "[approval]\ntools = [\"transfer_funds\"]\nclient_id = \"mcp-server\"\nclient_secret_env = \"PATH\"\n";
        let built = McpAuth::from_toml(&format!("{BASE}{table}")).and_then(McpAuthBuilder::build);
        assert!(built.is_ok(), "{:?}", built.err());
        let unset = table.replace("\"PATH\"", "\"MCP_AUTH_SURELY_UNSET_SECRET\"");
        let error = McpAuth::from_toml(&format!("{BASE}{unset}"))
            .and_then(McpAuthBuilder::build)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("approval.client_secret_env"), "{error}");
    }
}

#[cfg(all(test, feature = "policy"))]
mod approval_policy_tests {
    use super::*;

    #[test]
    fn policies_asking_for_approval_need_an_approval_layer() {
        let dir =
            std::env::temp_dir().join(format!("mcp-auth-approval-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("p.cedar"),
            "@approval(\"yes\")\npermit(principal, action == Mcp::Action::\"tools/call\", resource == Mcp::Tool::\"transfer_funds\");\n",
        )
        .unwrap();
        let text = "resource = \"https://mcp.example.com/mcp\"\n[[issuers]]\nissuer = \"https://auth.example.com\"\n[policy]\nfiles = [\"p.cedar\"]\n";
        let error = Config::from_toml(text)
            .and_then(|c| c.into_builder_in(&dir))
            .and_then(McpAuthBuilder::build)
            .expect_err("refused")
            .to_string();
        assert!(error.contains("approval"), "{error}");
        let with = format!(
            "{text}[approval]\ntools = [\"other\"]\nclient_id = \"s\"\nclient_secret_env = \"PATH\"\n"
        );
        let built = Config::from_toml(&with)
            .and_then(|c| c.into_builder_in(&dir))
            .and_then(McpAuthBuilder::build);
        assert!(built.is_ok(), "{:?}", built.err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
