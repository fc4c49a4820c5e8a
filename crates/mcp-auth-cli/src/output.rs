//! How clients are shown to a person, and as JSON.

use std::fmt::Write as _;

use mcp_auth_cimd::{Approval, ApprovedClient, ClientInfo};
use serde_json::{Value, json};

/// Document text made safe for a terminal (see [`mcp_auth_core::untrusted_text`]); documents
/// are at most 5 KB, so nothing a person should see is cut.
pub(crate) fn clean(text: &str) -> String {
    mcp_auth_core::untrusted_text(text, 5 * 1024)
}

fn approval_text(approval: Approval, entry: Option<&ApprovedClient>, registry: &str) -> String {
    let path = registry;
    match (approval, entry) {
        (Approval::Approved, Some(e)) => format!(
            "approved at {} in {path}; document unchanged",
            e.approved_at
        ),
        (Approval::Changed, Some(e)) => format!(
            "CHANGED since approved at {} in {path}: redirect URIs, auth method, keys or grant types differ; \
             servers refuse it until it is approved again",
            e.approved_at
        ),
        _ => format!("not approved in {path}"),
    }
}

pub(crate) fn client_text(
    client: &ClientInfo,
    approval: Approval,
    entry: Option<&ApprovedClient>,
    registry: &str,
) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "{label:<12} {value}");
    };
    line("Client", &clean(client.id()));
    line(
        "Name",
        &format!("{}  (what the client calls itself)", clean(client.name())),
    );
    line(
        "Host",
        &format!("{}  (who vouches for the document)", client.host()),
    );
    line("Home page", &client.client_uri().map_or("-".into(), clean));
    line("Logo", &client.logo_uri().map_or("-".into(), clean));
    line("Redirects", &clean(&client.redirect_hosts().join(", ")));
    for uri in client.redirect_uris() {
        line("", &format!("  {}", clean(uri)));
    }
    line(
        "Auth method",
        &client
            .token_endpoint_auth_method()
            .map_or("- (not stated)".into(), clean),
    );
    let grants = client
        .grant_types()
        .iter()
        .map(|g| clean(g))
        .collect::<Vec<_>>()
        .join(", ");
    line(
        "Grant types",
        if grants.is_empty() {
            "- (not stated)"
        } else {
            &grants
        },
    );
    line(
        "Keys",
        if client.has_keys() {
            "published (jwks or jwks_uri)"
        } else {
            "none"
        },
    );
    line("Digest", client.digest());
    line("Registry", &approval_text(approval, entry, registry));
    if client.warnings().is_empty() {
        out.push_str("\nNo warnings.\n");
    } else {
        out.push_str("\nWarnings:\n");
        for warning in client.warnings() {
            let _ = writeln!(out, "  ! {}", clean(&warning.to_string()));
        }
    }
    out
}

pub(crate) fn client_json(
    client: &ClientInfo,
    approval: Approval,
    entry: Option<&ApprovedClient>,
) -> Value {
    let registry = match approval {
        Approval::Approved => "approved",
        Approval::Changed => "changed",
        Approval::NotApproved => "not_approved",
    };
    json!({
        "client_id": client.id(),
        "client_name": client.name(),
        "host": client.host(),
        "client_uri": client.client_uri(),
        "logo_uri": client.logo_uri(),
        "redirect_uris": client.redirect_uris(),
        "redirect_hosts": client.redirect_hosts(),
        "token_endpoint_auth_method": client.token_endpoint_auth_method(),
        "grant_types": client.grant_types(),
        "has_keys": client.has_keys(),
        "digest": client.digest(),
        "warnings": client.warnings().iter().map(|w| json!({"code": w.code(), "message": w.to_string()})).collect::<Vec<_>>(),
        "registry": registry,
        "approved_at": entry.map(|e| e.approved_at.as_str()),
    })
}

pub(crate) fn list_text(clients: &[ApprovedClient]) -> String {
    let mut out = String::new();
    for client in clients {
        let _ = writeln!(out, "{}", clean(&client.client_id));
        let _ = writeln!(out, "    name       {}", clean(&client.client_name));
        let _ = writeln!(out, "    approved   {}", client.approved_at);
        let _ = writeln!(
            out,
            "    redirects  {}",
            clean(&client.redirect_hosts.join(", "))
        );
        let _ = writeln!(out, "    digest     {}", clean(&client.digest));
    }
    out
}

pub(crate) fn list_json(clients: &[ApprovedClient]) -> Value {
    Value::Array(
        clients
            .iter()
            .map(|c| {
                json!({
                    "client_id": c.client_id,
                    "client_name": c.client_name,
                    "digest": c.digest,
                    "approved_at": c.approved_at,
                    "redirect_hosts": c.redirect_hosts,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_escapes_what_could_fool_a_reader() {
        assert_eq!(clean("Example App"), "Example App");
        assert_eq!(clean("Bank\u{202e}gpj.exe"), "Bank\\u{202e}gpj.exe");
        assert_eq!(clean("a\u{1b}[2Jb"), "a\\u{001b}[2Jb");
        assert_eq!(clean("zero\u{200b}width"), "zero\\u{200b}width");
        assert_eq!(clean("café"), "café");
    }
}
