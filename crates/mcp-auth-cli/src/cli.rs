//! The command line: what it accepts and the help that teaches it.

use clap::{Arg, ArgAction, Command};

pub(crate) const DEFAULT_REGISTRY: &str = "./mcp-clients.json";

const ABOUT: &str = "Operator's tool for mcp-auth, the identity layer for MCP servers";

const CLIENTS_ABOUT: &str =
    "Inspect, approve, list and revoke MCP clients identified by a Client ID Metadata Document";

const CLIENTS_LONG: &str = "\
Inspect, approve, list and revoke MCP clients identified by a Client ID Metadata Document.

An MCP client without a registration at the authorization server can use a URL as its
client_id, e.g. https://app.example.com/oauth/client.json. The URL names a JSON document the
client hosts: its name, its redirect URIs, how it authenticates. Tokens issued to it carry that
URL as their client_id.

A server whose CimdLayer uses ClientPolicy::registry admits only the clients approved in a
registry file. The usual routine when a new client shows up:

  1. mcp-auth clients inspect URL     see who it claims to be: name, host, logo, redirect hosts,
                                      and warnings worth a second look
  2. mcp-auth clients approve URL     record it, with a digest of what matters in its document
                                      (redirect URIs, auth method, keys, grant types)
  3. mcp-auth clients list            review what is approved
  4. mcp-auth clients revoke URL      take an approval back

A running server re-reads the registry file within seconds. Replicas behind one load balancer
share a registry in Redis instead (--registry redis://host:port/db, and the servers follow the
same URL): every replica sees an approval or a revocation at once. If an approved client's document
later changes in a way that matters, the server refuses the client (403) until it is approved
again; `inspect` shows the change.

Documents are fetched the way the server fetches them: https only, at most 5 KiB, no redirects,
a JSON media type, and never from private, loopback, link-local or cloud-metadata addresses.";

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  refused: invalid client id or document, or the client is not in the registry
  2  usage: bad arguments, unreadable --ca-file
  3  unavailable: the document could not be fetched now, the registry file cannot be read or
     written, or Redis cannot be reached";

/// The whole command.
pub(crate) fn command() -> Command {
    Command::new("mcp-auth")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .after_help("Start with: mcp-auth clients --help, or mcp-auth doctor --help")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(clients())
        .subcommand(doctor())
}

const DOCTOR_LONG: &str = "\
Say why a token is refused, in the identity provider's terms, and whether clients can find their
way to this server.

The doctor fetches the issuer's discovery document and JWKS with the same fetch rules as the
server, prints the token's header and claims (never the token, never its signature), runs the
server's own verification and marks each step with ✓ or ✗; for each ✗ it gives the fix (\"Okta
tokens have no typ: use --idp okta\", \"aud is api://default: add --audience api://default\").

With --server it probes a running MCP server as a client would: the 401 challenge, the RFC 9728
resource metadata (resource, authorization_servers, scopes_supported, CORS) and each
authorization server's metadata (PKCE S256, Client ID Metadata Documents).

Examples:
  mcp-auth doctor --issuer https://example.okta.com/oauth2/default --idp okta \\
      --resource https://mcp.example.com/mcp --token-file token.txt
  mcp-auth doctor --config mcp-auth.toml --token-file token.txt --server https://mcp.example.com/mcp";

const DOCTOR_EXIT_CODES: &str = "\
Exit codes:
  0  every check passed
  1  a check failed
  2  usage: bad arguments, unreadable --config, --token-file or --ca-file
  3  unreachable: discovery, the JWKS or the server could not be reached now";

fn doctor() -> Command {
    let many = |id: &'static str, value: &'static str, help: &'static str| {
        Arg::new(id)
            .long(id)
            .value_name(value)
            .action(ArgAction::Append)
            .help(help)
    };
    Command::new("doctor")
        .about("Say why a token is refused, and whether clients can find their way to a server")
        .long_about(DOCTOR_LONG)
        .after_long_help(DOCTOR_EXIT_CODES)
        .arg(Arg::new("issuer").long("issuer").value_name("URL").help(
            "The issuer to check (for multi-tenant Entra with --tenant: the common/organizations URL)",
        ))
        .arg(
            Arg::new("resource")
                .long("resource")
                .value_name("URL")
                .help("The server's resource identifier (its public MCP URL)"),
        )
        .arg(
            Arg::new("idp")
                .long("idp")
                .value_name("NAME")
                .value_parser(clap::value_parser!(mcp_auth_jwt::Profile))
                .help("The issuer's identity provider: auth0, entra, entra-v1, okta, keycloak, cognito [default: RFC 9068]"),
        )
        .arg(many("audience", "VALUE", "Also accept this audience (repeatable)"))
        .arg(many("tenant", "ID", "Admit this tenant of a multi-tenant issuer (repeatable; `any` for all)"))
        .arg(many("client-id", "ID", "Admit only this client (repeatable)"))
        .arg(
            Arg::new("scope-prefix")
                .long("scope-prefix")
                .value_name("PREFIX")
                .help("Strip PREFIX/ from granted scopes (Cognito)"),
        )
        .arg(
            Arg::new("config")
                .long("config")
                .value_name("FILE")
                .conflicts_with_all(["issuer", "idp", "audience", "tenant", "client-id", "scope-prefix"])
                .help("Check the issuers, resource and fetch rules of this server configuration (TOML)"),
        )
        .arg(
            Arg::new("token")
                .long("token")
                .value_name("TOKEN")
                .conflicts_with("token-file")
                .help("The access token to explain (prefer --token-file: command lines are visible to other users)"),
        )
        .arg(
            Arg::new("token-file")
                .long("token-file")
                .value_name("FILE")
                .help("Read the access token from FILE (a bare token or `Bearer <token>`)"),
        )
        .arg(
            Arg::new("server")
                .long("server")
                .value_name("MCP_URL")
                .help("Probe this running MCP server as a client would"),
        )
        .args(fetch_args())
        .arg(json_arg())
}

fn clients() -> Command {
    Command::new("clients")
        .about(CLIENTS_ABOUT)
        .long_about(CLIENTS_LONG)
        .after_long_help(EXIT_CODES)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("inspect")
                .about("Fetch and validate a client's metadata document, and show who it claims to be")
                .long_about(
                    "Fetch and validate a client's metadata document, and show who it claims to be: \
                     its name, the host that vouches for it, its logo and home page, its redirect \
                     hosts, and warnings (redirects only to localhost, redirect hosts unlike the \
                     client's host, plain-http redirects, a query string in the client id). Also \
                     says whether the registry approves it and whether the document changed since. \
                     Changes nothing.",
                )
                .arg(url_arg())
                .args(fetch_args())
                .arg(registry_arg())
                .arg(json_arg())
                .after_long_help(EXIT_CODES),
        )
        .subcommand(
            Command::new("approve")
                .about("Approve a client: record its URL and document digest in the registry")
                .long_about(
                    "Fetch and validate the client's metadata document, show it as `inspect` does, and \
                     record the client in the registry file with the digest of its document and the \
                     approval time. Approving an approved client again accepts its current document. \
                     The registry file is created if it does not exist.",
                )
                .arg(url_arg())
                .args(fetch_args())
                .arg(registry_arg())
                .after_long_help(EXIT_CODES),
        )
        .subcommand(
            Command::new("list")
                .about("List the approved clients")
                .arg(registry_arg())
                .arg(json_arg())
                .after_long_help(EXIT_CODES),
        )
        .subcommand(
            Command::new("revoke")
                .about("Remove a client from the registry")
                .long_about(
                    "Remove a client from the registry. Running servers refuse it within seconds. \
                     Exits 1 when the client was not in the registry.",
                )
                .arg(url_arg())
                .arg(registry_arg())
                .after_long_help(EXIT_CODES),
        )
}

fn url_arg() -> Arg {
    Arg::new("url")
        .value_name("URL")
        .required(true)
        .help("The client id: the https URL of the client's metadata document")
}

fn registry_arg() -> Arg {
    Arg::new("registry")
        .long("registry")
        .value_name("PATH|URL")
        .default_value(DEFAULT_REGISTRY)
        .help(
            "The registry the server's ClientPolicy::registry reads: a file, or a Redis URL \
             (redis://host:port/db) shared by replicas, which see changes at once",
        )
}

fn json_arg() -> Arg {
    Arg::new("json")
        .long("json")
        .action(ArgAction::SetTrue)
        .help("Print JSON instead of text")
}

fn fetch_args() -> [Arg; 2] {
    [
        Arg::new("allow-loopback")
            .long("allow-loopback")
            .action(ArgAction::SetTrue)
            .help("Development only: allow http:// and loopback addresses (localhost, 127.0.0.1, [::1])"),
        Arg::new("ca-file")
            .long("ca-file")
            .value_name("PEM")
            .help("Also trust this CA certificate (PEM), e.g. a development CA"),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_is_well_formed() {
        super::command().debug_assert();
    }
}
