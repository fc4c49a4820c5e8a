//! The gateway's configuration: the stack's own file (`mcp_auth::Config`) plus `[upstream]`,
//! `[[routes]]`, `[identity_assertion]` and `[gateway]`.
//!
//! The top level of the file is what `McpAuth::from_config_file` reads. With a top-level
//! `resource`, it is a route of its own whose server is `[upstream]`. Each `[[routes]]` entry is
//! a further route: its own `resource` (whose path is where the gateway serves it), its own
//! `[routes.upstream]`, and any table of the stack's file (`scopes`, `policy`, `clients`,
//! `token_exchange`, ...), which replaces the top-level one for that route; tables it does not
//! set are the top level's. `[audit]` is shared by every route and only allowed at the top.

use std::path::{Path, PathBuf};

use mcp_auth::audit::AuditEntry;
use mcp_auth::{BuildError, Config};
use serde::Deserialize;
use toml::{Table, Value};

use crate::assertion::IdentityAssertionEntry;
use crate::upstream::UpstreamEntry;

/// Why a configuration cannot be used: which part, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        message: String,
    },
    /// The TOML does not parse, or a table has the wrong shape.
    #[error("{0}")]
    Parse(String),
    /// A value is wrong; the message names the key and the fix.
    #[error("{key}: {problem}")]
    Value {
        /// Where (`routes[1].upstream.url`).
        key: String,
        /// What is wrong, and the fix.
        problem: String,
    },
    /// A route's stack does not build.
    #[error("route {resource}: {source}")]
    Stack {
        /// The route's resource identifier.
        resource: String,
        /// The stack's own error.
        source: BuildError,
    },
}

impl ConfigError {
    pub(crate) fn value(key: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        Self::Value {
            key: key.into(),
            problem: problem.to_string(),
        }
    }
}

/// `[gateway]`: how the gateway itself behaves.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayEntry {
    /// Keep the `X-Forwarded-For` a client sent and append to it (only behind a proxy you
    /// trust to set it). Off: the gateway replaces it with the peer's address.
    #[serde(default)]
    pub trust_forwarded: bool,
    /// How long shutdown waits for in-flight requests and open streams, in milliseconds
    /// (default 30000); then the remaining connections are closed.
    #[serde(default)]
    pub shutdown_grace_ms: Option<u64>,
}

/// One route: the stack's configuration for its resource and the server behind it.
#[derive(Clone, Debug)]
pub struct RouteConfig {
    /// The stack's configuration (`resource` is the public URL; its path is the route's path).
    pub auth: Config,
    /// The MCP server behind the route.
    pub upstream: UpstreamEntry,
    /// Where the route came from in the file (`top level`, `routes[0]`), for messages.
    pub origin: String,
}

/// The whole configuration, parsed and checked for shape (values are checked when the routes
/// are built).
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The routes, in file order (the top-level one first).
    pub routes: Vec<RouteConfig>,
    /// The key and issuer of identity assertions, when a route sends them.
    pub identity_assertion: Option<IdentityAssertionEntry>,
    /// The gateway's own settings.
    pub gateway: GatewayEntry,
    /// Audit for every route (one auditor).
    pub audit: Option<AuditEntry>,
    /// The directory relative paths in the file are read from.
    pub base: PathBuf,
}

/// What command-line flags set on top of the file (or instead of it).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--resource`: the top-level `resource`.
    pub resource: Option<String>,
    /// `--upstream`: the top-level `[upstream] url`.
    pub upstream: Option<String>,
    /// `--issuer`: trusted when the file does not list it already.
    pub issuer: Option<String>,
    /// The top-level `resource` when neither the file nor `--resource` names one but there is
    /// an `[upstream]` (the gateway's own `http://<listen address>/mcp`).
    pub default_resource: Option<String>,
}

impl GatewayConfig {
    /// Reads the file at `path` (relative paths inside it are relative to its directory) and
    /// applies `overrides`; with no file, the overrides alone make one route.
    ///
    /// # Errors
    /// The file cannot be read or parsed, or no route results.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let (table, base) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
                let table: Table = toml::from_str(&text)
                    .map_err(|e| ConfigError::Parse(format!("{}: {e}", path.display())))?;
                let base = path.parent().unwrap_or(Path::new(".")).to_owned();
                (table, base)
            }
            None => (Table::new(), PathBuf::from(".")),
        };
        Self::from_table(table, overrides, base)
    }

    /// Parses TOML text (relative paths are relative to the working directory).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let table: Table = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        Self::from_table(table, &Overrides::default(), PathBuf::from("."))
    }

    fn from_table(
        mut table: Table,
        overrides: &Overrides,
        base: PathBuf,
    ) -> Result<Self, ConfigError> {
        apply_overrides(&mut table, overrides);
        let upstream = table.remove("upstream");
        let routes = table.remove("routes");
        let identity_assertion = table
            .remove("identity_assertion")
            .map(|v| typed::<IdentityAssertionEntry>(v, "identity_assertion"))
            .transpose()?;
        let gateway = table
            .remove("gateway")
            .map(|v| typed::<GatewayEntry>(v, "gateway"))
            .transpose()?
            .unwrap_or_default();
        let audit = table
            .remove("audit")
            .map(|v| typed::<AuditEntry>(v, "audit"))
            .transpose()?;

        let mut out = Vec::new();
        if table.contains_key("resource") {
            let upstream = upstream.ok_or_else(|| {
                ConfigError::value(
                    "upstream",
                    "the top-level route has no server: add `[upstream] url = \"http://...\"` \
                     (or --upstream)",
                )
            })?;
            out.push(route(table.clone(), upstream, "top level".into())?);
        } else if upstream.is_some() {
            return Err(ConfigError::value(
                "resource",
                "`[upstream]` needs a top-level `resource` (or --resource): the public URL \
                 clients reach the server at",
            ));
        }
        if let Some(routes) = routes {
            let Value::Array(routes) = routes else {
                return Err(ConfigError::value(
                    "routes",
                    "write routes as `[[routes]]` tables",
                ));
            };
            for (i, entry) in routes.into_iter().enumerate() {
                let origin = format!("routes[{i}]");
                let Value::Table(mut entry) = entry else {
                    return Err(ConfigError::value(origin, "write each route as a table"));
                };
                if entry.contains_key("audit") {
                    return Err(ConfigError::value(
                        format!("{origin}.audit"),
                        "audit is shared by every route: move it to the top level",
                    ));
                }
                let upstream = entry.remove("upstream").ok_or_else(|| {
                    ConfigError::value(
                        format!("{origin}.upstream"),
                        "add `[routes.upstream] url = \"http://...\"`",
                    )
                })?;
                if !entry.contains_key("resource") {
                    return Err(ConfigError::value(
                        format!("{origin}.resource"),
                        "each route needs its own resource identifier (its public URL)",
                    ));
                }
                let mut merged = table.clone();
                merged.extend(entry);
                out.push(route(merged, upstream, origin)?);
            }
        }
        if out.is_empty() {
            return Err(ConfigError::value(
                "routes",
                "nothing to serve: give --upstream, --issuer and --resource, a top-level \
                 `resource` with `[upstream]`, or `[[routes]]`",
            ));
        }
        Ok(Self {
            routes: out,
            identity_assertion,
            gateway,
            audit,
            base,
        })
    }
}

fn apply_overrides(table: &mut Table, overrides: &Overrides) {
    if let Some(resource) = &overrides.resource {
        table.insert("resource".into(), Value::String(resource.clone()));
    }
    if let Some(url) = &overrides.upstream {
        let upstream = table
            .entry("upstream")
            .or_insert_with(|| Value::Table(Table::new()));
        if let Value::Table(upstream) = upstream {
            upstream.insert("url".into(), Value::String(url.clone()));
        }
    }
    if let Some(resource) = &overrides.default_resource
        && table.contains_key("upstream")
        && !table.contains_key("resource")
    {
        table.insert("resource".into(), Value::String(resource.clone()));
    }
    if let Some(issuer) = &overrides.issuer {
        let issuers = table
            .entry("issuers")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(issuers) = issuers {
            let listed = issuers
                .iter()
                .any(|entry| entry.get("issuer").and_then(Value::as_str) == Some(issuer));
            if !listed {
                let mut entry = Table::new();
                entry.insert("issuer".into(), Value::String(issuer.clone()));
                issuers.push(Value::Table(entry));
            }
        }
        // An issuer on this machine over plain http is a development set-up: allow loopback
        // fetches for it, as the flag's help says. A file keeps its own [fetch] choice.
        if is_loopback_http(issuer) && !table.contains_key("fetch") {
            let mut fetch = Table::new();
            fetch.insert("allow_loopback".into(), Value::Boolean(true));
            table.insert("fetch".into(), Value::Table(fetch));
        }
    }
}

fn is_loopback_http(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        u.scheme() == "http"
            && match u.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            }
    })
}

fn route(table: Table, upstream: Value, origin: String) -> Result<RouteConfig, ConfigError> {
    let auth = Config::deserialize(Value::Table(table))
        .map_err(|e| ConfigError::Parse(format!("{origin}: {e}")))?;
    let upstream = typed::<UpstreamEntry>(upstream, &format!("{origin}.upstream"))?;
    Ok(RouteConfig {
        auth,
        upstream,
        origin,
    })
}

fn typed<T: serde::de::DeserializeOwned>(value: Value, key: &str) -> Result<T, ConfigError> {
    T::deserialize(value).map_err(|e| ConfigError::Parse(format!("[{key}]: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "resource = \"https://gw.example.com/mcp\"
[[issuers]]
issuer = \"https://auth.example.com\"
[scopes]
required = [\"mcp:read\"]
[upstream]
url = \"http://127.0.0.1:3000/mcp\"
";

    #[test]
    fn the_top_level_is_a_route() {
        let config = GatewayConfig::from_toml(BASE).unwrap();
        assert_eq!(config.routes.len(), 1);
        assert_eq!(config.routes[0].auth.resource, "https://gw.example.com/mcp");
        assert_eq!(config.routes[0].upstream.url, "http://127.0.0.1:3000/mcp");
    }

    #[test]
    fn a_route_replaces_the_tables_it_sets_and_inherits_the_others() {
        let text = format!(
            "{BASE}\n[[routes]]\nresource = \"https://gw.example.com/py/mcp\"\n\
             [routes.upstream]\nurl = \"http://127.0.0.1:4000/mcp\"\n\
             [routes.scopes]\nrequired = [\"py:use\"]\n"
        );
        let config = GatewayConfig::from_toml(&text).unwrap();
        assert_eq!(config.routes.len(), 2);
        let py = &config.routes[1];
        assert_eq!(py.auth.resource, "https://gw.example.com/py/mcp");
        assert_eq!(py.auth.issuers[0].issuer, "https://auth.example.com");
        let scopes = format!("{:?}", py.auth.scopes);
        assert!(
            scopes.contains("py:use") && !scopes.contains("mcp:read"),
            "{scopes}"
        );
        assert_eq!(py.origin, "routes[0]");
    }

    #[test]
    fn flags_alone_make_a_route_and_allow_a_loopback_issuer() {
        let overrides = Overrides {
            resource: Some("http://127.0.0.1:8080/mcp".into()),
            upstream: Some("http://127.0.0.1:3000/mcp".into()),
            issuer: Some("http://127.0.0.1:9000".into()),
            default_resource: None,
        };
        let config = GatewayConfig::load(None, &overrides).unwrap();
        let route = &config.routes[0];
        assert!(route.auth.fetch.allow_loopback);
        assert_eq!(route.auth.issuers[0].issuer, "http://127.0.0.1:9000");
        let remote = Overrides {
            issuer: Some("https://auth.example.com".into()),
            ..overrides
        };
        let config = GatewayConfig::load(None, &remote).unwrap();
        assert!(!config.routes[0].auth.fetch.allow_loopback);
    }

    #[test]
    fn mistakes_name_the_key() {
        let cases = [
            (
                BASE.replace("[upstream]\nurl = \"http://127.0.0.1:3000/mcp\"", ""),
                "upstream",
            ),
            (
                format!("{BASE}\n[[routes]]\nresource = \"https://gw.example.com/b\"\n"),
                "routes[0].upstream",
            ),
            (
                format!(
                    "{BASE}\n[[routes]]\n[routes.upstream]\nurl = \"http://127.0.0.1:1/mcp\"\n"
                ),
                "routes[0].resource",
            ),
            (
                format!(
                    "{BASE}\n[[routes]]\nresource = \"https://gw.example.com/b\"\n\
                     [routes.upstream]\nurl = \"http://x\"\n[routes.audit]\nlog = true\n"
                ),
                "routes[0].audit",
            ),
            (
                BASE.replace("[upstream]", "[upstream]\nretries = 3"),
                "retries",
            ),
            (BASE.replace("[scopes]", "[scopez]"), "scopez"),
            (String::new(), "nothing to serve"),
        ];
        for (text, expected) in cases {
            let error = GatewayConfig::from_toml(&text).unwrap_err().to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }
}
