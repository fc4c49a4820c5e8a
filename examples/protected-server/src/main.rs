//! `cargo run -p protected-server [-- --listen ADDR] [--resource URL] [--issuer URL]`

use std::time::Duration;

use protected_server::{Options, start};

const HELP: &str = "\
protected-server: an MCP server (rmcp, Streamable HTTP) protected by mcp-auth

USAGE:
    protected-server [--listen ADDR] [--resource URL] [--issuer URL] [--audit-file PATH]
                     [--exchange-client-id ID]

OPTIONS:
    --listen ADDR             address to listen on            [default: 127.0.0.1:8080]
    --resource URL            public resource identifier      [default: http://<listen>/mcp]
    --issuer URL              trust this issuer (found by discovery) instead of running an
                              embedded development issuer; http on loopback is allowed
    --audit-file PATH         append audit events (JSON Lines) to PATH; they are always logged
    --exchange-client-id ID   with --issuer: this server's client id for token exchange; the
                              secret is read from the environment variable OBO_CLIENT_SECRET
    -h, --help                show this help

Without --issuer, a development issuer runs on 127.0.0.1 and ready-to-use tokens are printed.
Set RUST_LOG=debug for more detail.";

fn parse_args() -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                options.listen = v.parse().map_err(|_| {
                    format!("--listen: `{v}` is not an address like 127.0.0.1:8080")
                })?;
            }
            "--resource" => options.resource = Some(value("--resource")?),
            "--issuer" => options.issuer = Some(value("--issuer")?),
            "--audit-file" => options.audit_file = Some(value("--audit-file")?.into()),
            "--exchange-client-id" => {
                let id = value("--exchange-client-id")?;
                let secret = std::env::var("OBO_CLIENT_SECRET").map_err(|_| {
                    "--exchange-client-id needs the secret in OBO_CLIENT_SECRET".to_owned()
                })?;
                options.exchange_client = Some((id, secret));
            }
            "-h" | "--help" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let options = match parse_args() {
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
    println!(
        "\nDevelopment issuer: {} (embedded; tokens valid 12 h)\n",
        dev.issuer()
    );
    println!("READER={reader}\n");
    println!("WRITER={writer}\n");
    println!("ADMIN={admin}\n");
    println!("EXPIRED={expired}\n");
    println!("OTHER_AUDIENCE={elsewhere}\n");
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
    println!("# clearing the notebook needs mcp:admin");
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
        "Downstream API:     {} (accepts only exchanged tokens)",
        server.downstream_url
    );
    println!("Audit events are logged under target mcp_auth::audit.");
    println!("Ready. Ctrl-C to stop.");
}
