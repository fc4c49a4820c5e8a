//! The MCP server behind a route: where it is, how long to wait for it, and what credentials
//! the gateway presents to it.

use std::time::Duration;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderName, HeaderValue, Uri};
use serde::Deserialize;

use crate::config::ConfigError;

/// `[upstream]` (or `[routes.upstream]`).
///
/// ```toml
/// [upstream]
/// url = "http://127.0.0.1:3000/mcp"
/// response_timeout_ms = 120000
/// credentials = { kind = "identity_assertion" }
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamEntry {
    /// The server's MCP endpoint (`http://host:port/path`).
    pub url: String,
    /// What the gateway presents to the server (default: nothing).
    #[serde(default)]
    pub credentials: CredentialsEntry,
    /// How long to wait for a connection, in milliseconds (default 5000): then 502.
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    /// How long to wait for the response to start, in milliseconds (default 300000, since a
    /// server answering in JSON sends nothing until its tool is done): then 504. A streamed
    /// response is not limited once it has started.
    #[serde(default)]
    pub response_timeout_ms: Option<u64>,
    /// Idle connections kept open to the server (default 64).
    #[serde(default)]
    pub max_idle_connections: Option<usize>,
}

/// The credentials a route presents upstream. The client's own token never goes there.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialsEntry {
    /// None: the server trusts its network.
    #[default]
    None,
    /// A fixed header whose value is read from an environment variable at start (and on
    /// reload), e.g. an API key the server checks.
    StaticHeader {
        /// The header's name (`authorization`, `x-api-key`).
        header: String,
        /// The environment variable holding its value.
        value_env: String,
    },
    /// A token for the server's own audience, exchanged for the caller's (RFC 8693; the route
    /// needs `[token_exchange]`). Sent as `Authorization`.
    TokenExchange {
        /// The `audience` to ask for (a logical name at the authorization server).
        #[serde(default)]
        audience: Option<String>,
        /// The `resource` to ask for (the server's URL as the authorization server knows it).
        #[serde(default)]
        resource: Option<String>,
        /// The scope to ask for.
        #[serde(default)]
        scope: Option<String>,
    },
    /// A short-lived JWT the gateway signs, naming the user, the client and the scopes
    /// (see `[identity_assertion]`); the server verifies it with the gateway's JWKS.
    IdentityAssertion {
        /// Its `aud` (default: the upstream URL).
        #[serde(default)]
        audience: Option<String>,
        /// The header it travels in (default `authorization`, as `Bearer <jwt>`; any other
        /// header carries the bare JWT).
        #[serde(default)]
        header: Option<String>,
    },
}

/// Where a route's requests go, parsed once.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) url: String,
    pub(crate) authority: Authority,
    pub(crate) path: String,
    /// The URI of a request without a query, built once.
    pub(crate) plain_uri: Uri,
    pub(crate) host_header: HeaderValue,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) max_idle: usize,
}

impl Target {
    pub(crate) fn from_entry(entry: &UpstreamEntry, key: &str) -> Result<Self, ConfigError> {
        let bad = |problem: &str| ConfigError::value(format!("{key}.url"), problem);
        let url = url::Url::parse(&entry.url)
            .map_err(|e| bad(&format!("`{}` is not a URL: {e}", entry.url)))?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(bad(
                    "https upstreams are not supported: run the gateway beside the server and \
                     reach it over http (loopback or a private network)",
                ));
            }
            other => return Err(bad(&format!("`{other}` is not http"))),
        }
        if url.username() != "" || url.password().is_some() || url.fragment().is_some() {
            return Err(bad("no user, password or fragment in the URL"));
        }
        let host = url.host_str().ok_or_else(|| bad("the URL has no host"))?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let authority: Authority = authority
            .parse()
            .map_err(|_| bad("the host is not a valid authority"))?;
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| bad("the host is not a valid header value"))?;
        let ms = |value: Option<u64>, default: u64, name: &str| match value {
            Some(0) => Err(ConfigError::value(
                format!("{key}.{name}"),
                "must be at least 1",
            )),
            Some(ms) => Ok(Duration::from_millis(ms)),
            None => Ok(Duration::from_millis(default)),
        };
        let path = url.path().to_owned();
        let plain_uri = Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(authority.clone())
            .path_and_query(path.as_str())
            .build()
            .map_err(|_| bad("the path is not a valid request target"))?;
        Ok(Self {
            url: entry.url.clone(),
            authority,
            path,
            plain_uri,
            host_header,
            connect_timeout: ms(entry.connect_timeout_ms, 5_000, "connect_timeout_ms")?,
            response_timeout: ms(entry.response_timeout_ms, 300_000, "response_timeout_ms")?,
            max_idle: entry.max_idle_connections.unwrap_or(64),
        })
    }

    /// The upstream URI for a request that arrived with `query` (kept as it came).
    pub(crate) fn uri(&self, query: Option<&str>) -> Result<Uri, http::Error> {
        let Some(q) = query else {
            return Ok(self.plain_uri.clone());
        };
        let path_and_query = PathAndQuery::try_from(format!("{}?{q}", self.path))?;
        Uri::builder()
            .scheme(Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }
}

/// A header and its value, checked when the route is built.
pub(crate) fn static_header(
    header: &str,
    value_env: &str,
    key: &str,
) -> Result<(HeaderName, HeaderValue), ConfigError> {
    let name = HeaderName::try_from(header).map_err(|_| {
        ConfigError::value(
            format!("{key}.credentials.header"),
            format!("`{header}` is not a header name"),
        )
    })?;
    let value = std::env::var(value_env).map_err(|_| {
        ConfigError::value(
            format!("{key}.credentials.value_env"),
            format!("set the environment variable {value_env}"),
        )
    })?;
    let mut value = HeaderValue::try_from(value).map_err(|_| {
        ConfigError::value(
            format!("{key}.credentials.value_env"),
            format!("{value_env} holds characters a header cannot carry"),
        )
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str) -> UpstreamEntry {
        UpstreamEntry {
            url: url.into(),
            credentials: CredentialsEntry::None,
            connect_timeout_ms: None,
            response_timeout_ms: None,
            max_idle_connections: None,
        }
    }

    #[test]
    fn the_uri_keeps_the_upstream_path_and_the_request_query() {
        let target = Target::from_entry(&entry("http://127.0.0.1:3000/mcp"), "upstream").unwrap();
        assert_eq!(
            target.uri(Some("a=1")).unwrap().to_string(),
            "http://127.0.0.1:3000/mcp?a=1"
        );
        assert_eq!(target.host_header, "127.0.0.1:3000");
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, expected) in [
            ("https://api.example.com/mcp", "https upstreams"),
            ("ftp://x/mcp", "not http"),
            ("http://user:pw@x/mcp", "no user"),
            ("not a url", "not a URL"),
        ] {
            let error = Target::from_entry(&entry(url), "upstream")
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{url}: {error}");
        }
    }
}
