//! `cargo run -p protected-server [-- --listen ADDR] [--resource URL] [--issuer URL]
//! [--config FILE] [--ca-file PEM] ...`; `--help` lists every flag.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use mcp_auth::Profile;
use protected_server::{IdpOptions, Options, start};

fn command() -> Command {
    Command::new("protected-server")
        .about("An MCP server (rmcp, Streamable HTTP) protected by mcp-auth")
        .after_help(
            "Without --issuer or --config, a development issuer runs on 127.0.0.1 and \
             ready-to-use tokens are printed. Set RUST_LOG=debug for more detail.",
        )
        .arg(
            Arg::new("listen")
                .long("listen")
                .value_name("ADDR")
                .default_value("127.0.0.1:8080")
                .value_parser(value_parser!(std::net::SocketAddr))
                .help("Address to listen on"),
        )
        .arg(
            Arg::new("resource")
                .long("resource")
                .value_name("URL")
                .help("Public resource identifier [default: http://<listen>/mcp]"),
        )
        .arg(Arg::new("issuer").long("issuer").value_name("URL").help(
            "Trust this issuer (found by discovery) instead of running an embedded \
                     development issuer; http on loopback is allowed",
        ))
        .arg(
            Arg::new("config")
                .long("config")
                .value_name("FILE")
                .value_parser(value_parser!(PathBuf))
                .conflicts_with_all([
                    "resource",
                    "issuer",
                    "exchange-client-id",
                    "audit-file",
                    "idp",
                    "redis",
                    "exchange-dpop-key",
                    "otlp",
                ])
                .help(
                    "Run the configuration in this TOML file (resource, issuers, scopes, \
                     clients, token exchange, audit, fetch) instead of the built-in one",
                ),
        )
        .arg(
            Arg::new("ca-file")
                .long("ca-file")
                .value_name("PEM")
                .value_parser(value_parser!(PathBuf))
                .help(
                    "Trust this extra root certificate for issuer, client-document and \
                     token-exchange fetches (an internal CA)",
                ),
        )
        .arg(
            Arg::new("idp")
                .long("idp")
                .value_name("NAME")
                .requires("issuer")
                .value_parser(value_parser!(Profile))
                .help(
                    "With --issuer: its identity provider, for the shape of its tokens: \
                     auth0, entra (v2; multi-tenant with --tenant), entra-v1, okta, keycloak, \
                     cognito [default: RFC 9068]",
                ),
        )
        .arg(
            Arg::new("audience")
                .long("audience")
                .value_name("VALUE")
                .requires("issuer")
                .action(ArgAction::Append)
                .help(
                    "With --issuer: also accept tokens whose aud is VALUE (an Entra App ID URI \
                     or application id, Okta's api://default, an Auth0 API identifier); \
                     repeatable",
                ),
        )
        .arg(
            Arg::new("tenant")
                .long("tenant")
                .value_name("ID")
                .requires("issuer")
                .action(ArgAction::Append)
                .help(
                    "With --issuer: a multi-tenant issuer (--issuer is the shared \
                     common/organizations URL) admitting this tenant; repeatable; `any` \
                     admits every tenant",
                ),
        )
        .arg(
            Arg::new("client-id")
                .long("client-id")
                .value_name("ID")
                .requires("issuer")
                .action(ArgAction::Append)
                .help(
                    "With --issuer: admit tokens of this client only; repeatable; required \
                     where tokens carry no aud (Cognito)",
                ),
        )
        .arg(
            Arg::new("scope-prefix")
                .long("scope-prefix")
                .value_name("PREFIX")
                .requires("issuer")
                .help(
                    "With --issuer: strip PREFIX/ from granted scopes (Cognito's \
                     resource-server id)",
                ),
        )
        .arg(
            Arg::new("audit-file")
                .long("audit-file")
                .value_name("PATH")
                .value_parser(value_parser!(PathBuf))
                .help("Append audit events (JSON Lines) to PATH; they are always logged"),
        )
        .arg(
            Arg::new("exchange-client-id")
                .long("exchange-client-id")
                .value_name("ID")
                .requires("issuer")
                .action(ArgAction::Set)
                .help(
                    "With --issuer: this server's client id for token exchange; the secret is \
                     read from the environment variable OBO_CLIENT_SECRET",
                ),
        )
        .arg(
            Arg::new("otlp")
                .long("otlp")
                .value_name("URL")
                .action(ArgAction::Set)
                .help(
                    "Export to an OpenTelemetry collector over OTLP/HTTP (e.g. \
                     http://127.0.0.1:4318): audit events as log records, retried while it is \
                     away; the layers' metrics and spans",
                ),
        )
        .arg(
            Arg::new("downstream-url")
                .long("downstream-url")
                .value_name("URL")
                .action(ArgAction::Set)
                .help(
                    "Have call_downstream call this API instead of starting one (replicas \
                     behind one load balancer share one)",
                ),
        )
        .arg(
            Arg::new("redis")
                .long("redis")
                .value_name("URL")
                .action(ArgAction::Set)
                .help(
                    "Share state with other replicas through Redis (redis://host:port/db): DPoP \
                     proofs, client approvals (mcp-auth clients approve URL --registry URL), and \
                     exchanged tokens when MCP_AUTH_EXCHANGE_KEYS holds the sealing keys \
                     (id=BASE64 of 32 bytes, comma-separated, the first seals)",
                ),
        )
        .arg(
            Arg::new("exchange-dpop-key")
                .long("exchange-dpop-key")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .action(ArgAction::Set)
                .help(
                    "This server's own DPoP key for token exchange (an ES256 PEM or a private \
                     JWK): token requests carry proofs by it, and downstream calls with tokens \
                     bound to it carry fresh proofs",
                ),
        )
}

fn options(matches: &ArgMatches) -> Result<Options, String> {
    let exchange_client = match matches.get_one::<String>("exchange-client-id") {
        Some(id) => {
            let secret = std::env::var("OBO_CLIENT_SECRET").map_err(|_| {
                "--exchange-client-id needs the secret in OBO_CLIENT_SECRET".to_owned()
            })?;
            Some((id.clone(), secret))
        }
        None => None,
    };
    Ok(Options {
        listen: *matches
            .get_one("listen")
            .expect("--listen has a default value"),
        resource: matches.get_one::<String>("resource").cloned(),
        issuer: matches.get_one::<String>("issuer").cloned(),
        exchange_client,
        exchange_dpop_key: matches.get_one::<PathBuf>("exchange-dpop-key").cloned(),
        redis: matches.get_one::<String>("redis").cloned(),
        otlp: matches.get_one::<String>("otlp").cloned(),
        exchange_keys: std::env::var("MCP_AUTH_EXCHANGE_KEYS").ok(),
        audit_file: matches.get_one::<PathBuf>("audit-file").cloned(),
        config: matches.get_one::<PathBuf>("config").cloned(),
        downstream_url: matches.get_one::<String>("downstream-url").cloned(),
        ca_file: matches.get_one::<PathBuf>("ca-file").cloned(),
        idp: IdpOptions {
            profile: matches.get_one::<Profile>("idp").copied(),
            audiences: strings(matches, "audience"),
            tenants: strings(matches, "tenant"),
            client_ids: strings(matches, "client-id"),
            scope_prefix: matches.get_one::<String>("scope-prefix").cloned(),
        },
        approval_round_wait: None,
        approval_keys: std::env::var("MCP_AUTH_APPROVAL_KEYS").ok(),
    })
}

fn strings(matches: &ArgMatches, id: &str) -> Vec<String> {
    matches
        .get_many::<String>(id)
        .map(|values| values.cloned().collect())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let options = match options(&command().get_matches()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let mut server = match start(options).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    print_banner(&server);
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = server.wait_ref() => {}
    }
    server.shutdown_audit().await;
}

fn print_banner(server: &protected_server::Server) {
    let mcp = &server.mcp_url;
    println!("\nMCP endpoint:       {mcp}");
    println!("Resource metadata:  {}", server.metadata_url);
    for issuer in server.auth.verifier().issuers() {
        println!("Trusted issuer:     {issuer}");
    }
    let Some(dev) = &server.dev_issuer else {
        println!("\nObtain a token from your issuer with resource={mcp} and call the tools.");
        return;
    };
    let day = Duration::from_secs(12 * 3600);
    let reader = dev
        .token()
        .subject("reader")
        .scope("mcp:read")
        .expires_in(day)
        .sign();
    let writer = dev
        .token()
        .subject("writer")
        .scope("mcp:read mcp:write")
        .expires_in(day)
        .sign();
    let admin = dev
        .token()
        .subject("admin")
        .scope("mcp:read mcp:write mcp:admin")
        .expires_in(day)
        .sign();
    let expired = dev
        .token()
        .subject("late")
        .scope("mcp:read")
        .expired(3600)
        .sign();
    let elsewhere = dev
        .token()
        .audience("https://some-other-server.example/mcp")
        .sign();
    // The intern, the manager and the CFO: the same scope, different roles.
    let with_role = |subject: &str, role: &str| {
        dev.token()
            .subject(subject)
            .scope("mcp:read")
            .claim("roles", serde_json::json!([role]))
            .expires_in(day)
            .sign()
    };
    let (intern, manager, cfo) = (
        with_role("ivy", "intern"),
        with_role("max", "manager"),
        with_role("cleo", "cfo"),
    );
    println!(
        "\nDevelopment issuer: {} (embedded; tokens valid 12 h)\n",
        dev.issuer()
    );
    println!("READER={reader}\n");
    println!("WRITER={writer}\n");
    println!("ADMIN={admin}\n");
    println!("EXPIRED={expired}\n");
    println!("OTHER_AUDIENCE={elsewhere}\n");
    println!("INTERN={intern}\n");
    println!("MANAGER={manager}\n");
    println!("CFO={cfo}\n");
    let call = |tool: &str, args: &str| {
        format!(
            "curl -s -i {mcp} -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \\\n  -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"{tool}\",\"arguments\":{args}}}}}'"
        )
    };
    println!("Try it (paste the token lines above into your shell first):\n");
    println!("# the metadata document, no token needed");
    println!("curl -s {}\n", server.metadata_url);
    println!("# no token: 401 with a challenge pointing at the metadata");
    println!("{}\n", call("whoami", "{}"));
    println!("# a valid token: the tool sees who you are");
    println!(
        "{} \\\n  -H \"authorization: Bearer $READER\"\n",
        call("whoami", "{}")
    );
    println!("# an expired token, and one for another server: 401 invalid_token");
    println!(
        "{} \\\n  -H \"authorization: Bearer $EXPIRED\"\n",
        call("whoami", "{}")
    );
    println!(
        "{} \\\n  -H \"authorization: Bearer $OTHER_AUDIENCE\"\n",
        call("whoami", "{}")
    );
    println!(
        "# add a note: the writer may; the reader gets 403 insufficient_scope, a step-up challenge"
    );
    for token in ["WRITER", "READER"] {
        println!(
            "{} \\\n  -H \"authorization: Bearer ${token}\"\n",
            call("add_note", "{\"text\":\"hello\"}")
        );
    }
    println!(
        "# clearing the notebook needs mcp:admin and a user behind the token (a client acting \
         for itself gets 403 user_required, without a step-up challenge)"
    );
    println!(
        "{} \\\n  -H \"authorization: Bearer $ADMIN\"\n",
        call("clear_notes", "{}")
    );
    println!("# tools/list shows each caller only the tools it may use");
    println!(
        "curl -s {mcp} -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \\\n  -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}}' -H \"authorization: Bearer $READER\"\n"
    );
    println!("# call a downstream API on your behalf: the server exchanges your token (RFC 8693)");
    println!(
        "# for one whose audience is the API; the API sees you as `sub` and this server in `act`"
    );
    println!(
        "{} \\\n  -H \"authorization: Bearer $READER\"\n",
        call("call_downstream", "{}")
    );
    println!(
        "# approving expenses is a policy matter (policies/expenses.cedar): the CFO any amount,\n\
         # a manager up to 1000 (403 with the policy's reason above that), the intern never"
    );
    for (token, amount) in [
        ("CFO", 5000),
        ("MANAGER", 800),
        ("MANAGER", 5000),
        ("INTERN", 10),
    ] {
        println!(
            "{} \\\n  -H \"authorization: Bearer ${token}\"\n",
            call("approve_expense", &format!("{{\"amount\":{amount}}}"))
        );
    }
    println!(
        "# transfer_funds waits for the person's approval on their device (OpenID CIBA at the\n\
         # issuer, answered to 2026-07-28 clients as input_required): this plain call is told it\n\
         # cannot take part, and an issuer without CIBA (this one) cannot be asked"
    );
    println!(
        "{} \\\n  -H \"authorization: Bearer $WRITER\"\n",
        call("transfer_funds", "{\"amount\":100,\"to\":\"ACME\"}")
    );
    println!("# the intern's tools/list has no approve_expense; the manager's has it");
    println!(
        "curl -s {mcp} -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \\\n  -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}}' -H \"authorization: Bearer $INTERN\"\n"
    );
    if let Some(url) = &server.downstream_url {
        println!("Downstream API:     {url} (accepts only exchanged tokens)");
    }
    println!("Audit events are logged under target mcp_auth::audit.");
    println!("Ready. Ctrl-C to stop.");
}
