//! `--server`: probing a running MCP server as a client would, and the authorization servers
//! it names.

use http::Method;
use mcp_auth_fetch::Fetcher;
use mcp_auth_fetch::discovery::discover;
use serde_json::{Value, json};

use super::clean;
use super::report::{Report, Status};

/// An origin a browser-based client (such as MCP Inspector) would send.
const PROBE_ORIGIN: &str = "http://localhost:6274";

/// Probes `mcp_url` without a token, then its metadata and authorization servers.
pub(crate) async fn probe(report: &mut Report, fetcher: &Fetcher, mcp_url: &str) {
    report.section(format!("Server {}", mcp_url));
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "mcp-auth doctor", "version": env!("CARGO_PKG_VERSION")}}
    });
    let headers = [
        ("accept", "application/json, text/event-stream"),
        ("origin", PROBE_ORIGIN),
    ];
    let answer = match fetcher
        .request(Method::POST, mcp_url, &headers, Some(&initialize))
        .await
    {
        Ok(answer) => answer,
        Err(e) => {
            report.check("reachable", Status::Unreachable, e.to_string(), None);
            return;
        }
    };
    let challenge = answer
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let metadata_url = param(&challenge, "resource_metadata");
    if answer.status() != 401 || !challenge.to_ascii_lowercase().starts_with("bearer") {
        report.check(
            "challenge",
            Status::Fail,
            format!(
                "a request without a token got {} {}",
                answer.status().as_u16(),
                if challenge.is_empty() { "and no WWW-Authenticate" } else { "" }
            ),
            Some("the MCP route must answer 401 with a Bearer challenge: put the auth layer in front of it (McpAuthLayer::protect)".into()),
        );
    } else if metadata_url.is_none() {
        report.check(
            "challenge",
            Status::Fail,
            "401, but the challenge has no resource_metadata (RFC 9728 §5.1)",
            Some("clients find the authorization server through resource_metadata; serve the challenge mcp-auth renders".into()),
        );
    } else {
        report.check(
            "challenge",
            Status::Pass,
            "401 with a Bearer challenge naming the resource metadata",
            None,
        );
    }
    let exposed = answer
        .headers()
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("www-authenticate"));
    report.verdict(
        "challenge CORS",
        exposed,
        Status::Warn,
        "WWW-Authenticate is exposed to browser clients",
        "WWW-Authenticate is not exposed (Access-Control-Expose-Headers): browser-based clients cannot read the challenge",
    );

    let metadata_url = metadata_url.unwrap_or_else(|| well_known(mcp_url));
    let metadata = match fetcher
        .request(
            Method::GET,
            &metadata_url,
            &[("origin", PROBE_ORIGIN)],
            None,
        )
        .await
    {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            report.check(
                "metadata",
                Status::Fail,
                format!("`{metadata_url}` answered {}", r.status().as_u16()),
                Some("serve the RFC 9728 document without a token (McpAuthLayer::protect or metadata_router)".into()),
            );
            return;
        }
        Err(e) => {
            report.check("metadata", Status::Unreachable, e.to_string(), None);
            return;
        }
    };
    let document: Value = match metadata.json() {
        Ok(v) => v,
        Err(e) => {
            report.check("metadata", Status::Fail, e.to_string(), None);
            return;
        }
    };
    report.check(
        "metadata",
        Status::Pass,
        format!("found at {metadata_url}"),
        None,
    );
    let resource = document
        .get("resource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if resource == mcp_url {
        report.check(
            "resource",
            Status::Pass,
            format!("`{resource}` is the MCP URL"),
            None,
        );
    } else {
        report.check(
            "resource",
            Status::Fail,
            format!("`{}` is not the MCP URL `{mcp_url}`", clean(resource)),
            Some("clients refuse metadata for another resource: configure the public MCP URL as the resource".into()),
        );
    }
    let servers = strings(document.get("authorization_servers"));
    if servers.is_empty() {
        report.check(
            "authorization",
            Status::Fail,
            "no authorization_servers",
            None,
        );
    } else {
        report.check(
            "authorization",
            Status::Pass,
            format!("authorization_servers: {}", clean(&servers.join(", "))),
            None,
        );
    }
    let offline = document
        .get("scopes_supported")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v == "offline_access"));
    report.check(
        "scopes",
        if offline { Status::Fail } else { Status::Pass },
        if offline {
            "scopes_supported lists offline_access: clients would ask for it for this resource"
        } else {
            "scopes_supported has no offline_access"
        },
        offline.then(|| "list only the scopes this server's policy uses".to_owned()),
    );
    let cors = metadata
        .headers()
        .contains_key("access-control-allow-origin");
    report.verdict(
        "metadata CORS",
        cors,
        Status::Fail,
        "readable by browser-based clients",
        "no Access-Control-Allow-Origin: browser-based clients (MCP Inspector) cannot read it",
    );
    for server in servers {
        authorization_server(report, fetcher, &server).await;
    }
}

async fn authorization_server(report: &mut Report, fetcher: &Fetcher, issuer: &str) {
    report.section(format!("Authorization server {}", clean(issuer)));
    let found = match discover(fetcher, issuer).await {
        Ok(found) => found,
        Err(e) => {
            let status = if e.transient {
                Status::Unreachable
            } else {
                Status::Fail
            };
            report.check("metadata", status, e.to_string(), None);
            return;
        }
    };
    report.check(
        "metadata",
        Status::Pass,
        format!("found at {}", found.url),
        None,
    );
    let list = |name: &str| strings(found.document.get(name));
    let s256 = list("code_challenge_methods_supported")
        .iter()
        .any(|m| m == "S256");
    report.verdict(
        "PKCE",
        s256,
        Status::Fail,
        "code_challenge_methods_supported includes S256",
        "code_challenge_methods_supported does not list S256: MCP clients refuse to proceed",
    );
    let cimd =
        found.document.get("client_id_metadata_document_supported") == Some(&Value::Bool(true));
    let registration = found.document.contains_key("registration_endpoint");
    report.check(
        "client identity",
        if cimd { Status::Pass } else { Status::Warn },
        match (cimd, registration) {
            (true, _) => "Client ID Metadata Documents supported",
            (false, true) => "no Client ID Metadata Documents; Dynamic Client Registration is offered",
            (false, false) => "neither Client ID Metadata Documents nor Dynamic Client Registration: clients must be pre-registered",
        },
        None,
    );
    let resource_indicators = found.document.get("resource_indicators_supported")
        == Some(&Value::Bool(true))
        || found
            .document
            .contains_key("authorization_details_types_supported");
    report.verdict(
        "resource param",
        resource_indicators,
        Status::Warn,
        "advertises resource indicators (RFC 8707)",
        "RFC 8707 support is not advertised (no standard metadata field): make sure tokens requested with resource=<MCP URL> carry it as audience",
    );
}

/// The strings of a JSON array member (none when absent or not an array).
fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A parameter of a `WWW-Authenticate` challenge.
fn param(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let end = challenge[start..].find('"')? + start;
    Some(challenge[start..end].to_owned())
}

/// RFC 9728 §3.1: the well-known URL for a resource with a path.
fn well_known(resource: &str) -> String {
    let Some(scheme_end) = resource.find("://").map(|i| i + 3) else {
        return resource.to_owned();
    };
    match resource[scheme_end..].find('/') {
        Some(slash) => {
            let (origin, path) = resource.split_at(scheme_end + slash);
            format!(
                "{origin}/.well-known/oauth-protected-resource{}",
                path.trim_end_matches('/')
            )
        }
        None => format!("{resource}/.well-known/oauth-protected-resource"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_challenge_and_derives_the_well_known_url() {
        let c = r#"Bearer error="invalid_token", resource_metadata="https://x/.well-known/oauth-protected-resource/mcp", scope="a""#;
        assert_eq!(
            param(c, "resource_metadata").as_deref(),
            Some("https://x/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(param(c, "nope"), None);
        assert_eq!(
            well_known("https://mcp.example.com/mcp"),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            well_known("https://mcp.example.com"),
            "https://mcp.example.com/.well-known/oauth-protected-resource"
        );
    }
}
