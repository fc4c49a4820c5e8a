//! `mcp-auth-gateway --listen ADDR --upstream URL --issuer URL [--resource URL] [--config FILE]`;
//! `--help` lists every flag.

use std::path::PathBuf;

use clap::{Arg, ArgMatches, Command, value_parser};
#[cfg(feature = "dev-issuer")]
mod dev;
use mcp_auth::telemetry::OtlpTelemetry;
use mcp_auth_gateway::{Gateway, GatewayOptions, Overrides};

fn command() -> Command {
    Command::new("mcp-auth-gateway")
        .about(
            "Puts the mcp-auth layers (verification, client identity, scopes, policies, token \
             exchange, audit) in front of an MCP server written in any language",
        )
        .after_help(
            "The configuration file is the one mcp-auth reads (resource, issuers, scopes, \
             clients, policy, token_exchange, audit, redis) plus [upstream], [[routes]], \
             [identity_assertion] and [gateway]; flags override its top level. SIGHUP reloads \
             it (policies, approvals, scopes, routes) without dropping connections; SIGTERM or \
             Ctrl-C stops after in-flight requests finish. GET /healthz and /readyz answer \
             without authentication. RUST_LOG sets the log level.",
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
            Arg::new("upstream")
                .long("upstream")
                .value_name("URL")
                .help("The MCP server to protect (its Streamable HTTP endpoint, http://...)"),
        )
        .arg(Arg::new("issuer").long("issuer").value_name("URL").help(
            "Trust this authorization server (found by discovery); http on loopback \
                     is allowed for development",
        ))
        .arg(
            Arg::new("resource")
                .long("resource")
                .value_name("URL")
                .help("The public URL clients use [default: http://<listen>/mcp]"),
        )
        .arg(
            Arg::new("config")
                .long("config")
                .value_name("FILE")
                .value_parser(value_parser!(PathBuf))
                .help("The TOML configuration"),
        )
        .arg(
            Arg::new("otlp")
                .long("otlp")
                .value_name("URL")
                .help("Send the layers' metrics and spans to this OTLP/HTTP collector"),
        )
        .arg(
            Arg::new("threads")
                .long("threads")
                .value_name("N")
                .value_parser(clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))
                .help(
                    "Worker threads [default: the CPUs it may use]; 1 runs a single event \
                     loop, the cheapest on one core",
                ),
        )
        .arg(dev_issuer_flag())
        .arg(
            Arg::new("log-format")
                .long("log-format")
                .value_name("FORMAT")
                .value_parser(["json", "text"])
                .default_value("json")
                .help("Log lines as JSON objects or as text"),
        )
}

#[cfg(feature = "dev-issuer")]
fn dev_issuer_flag() -> Arg {
    Arg::new("dev-issuer")
        .long("dev-issuer")
        .action(clap::ArgAction::SetTrue)
        .conflicts_with("issuer")
        .help(
            "Trust an embedded development issuer on 127.0.0.1 and print tokens for it; for \
             trying the gateway without an identity provider, never in production",
        )
}

#[cfg(not(feature = "dev-issuer"))]
fn dev_issuer_flag() -> Arg {
    Arg::new("dev-issuer")
        .long("dev-issuer")
        .action(clap::ArgAction::SetTrue)
        .hide(true)
        .conflicts_with("issuer")
}

fn init_logs(matches: &ArgMatches) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if matches.get_one::<String>("log-format").map(String::as_str) == Some("text") {
        logs.init();
    } else {
        logs.json().flatten_event(true).init();
    }
}

fn main() -> std::process::ExitCode {
    let matches = command().get_matches();
    init_logs(&matches);
    // One thread: one event loop, no hand-offs between workers (the cheapest on one core, as
    // nginx's single worker); more: tokio's work-stealing scheduler.
    let threads = matches
        .get_one::<usize>("threads")
        .copied()
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    }
    .enable_all()
    .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run(matches)),
        Err(error) => {
            eprintln!("mcp-auth-gateway: cannot start the runtime: {error}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(matches: ArgMatches) -> std::process::ExitCode {
    let text = |name: &str| matches.get_one::<String>(name).cloned();
    // Before the routes are built: their instruments come from the providers installed now.
    let _telemetry = match text("otlp") {
        Some(endpoint) => match OtlpTelemetry::builder(&endpoint)
            .service_name("mcp-auth-gateway")
            .install()
        {
            Ok(telemetry) => Some(telemetry),
            Err(error) => {
                eprintln!("mcp-auth-gateway: --otlp: {error}");
                return std::process::ExitCode::from(2);
            }
        },
        None => None,
    };
    let listen: std::net::SocketAddr = *matches
        .get_one("listen")
        .expect("--listen has a default value");
    // Bound first: the address (port 0 included) is part of the default resource identifier.
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("mcp-auth-gateway: cannot listen on {listen}: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    let listen = listener.local_addr().unwrap_or(listen);
    let overrides = Overrides {
        resource: text("resource"),
        upstream: text("upstream"),
        issuer: text("issuer"),
        default_resource: None,
    };
    if matches.get_flag("dev-issuer") && cfg!(not(feature = "dev-issuer")) {
        eprintln!(
            "mcp-auth-gateway: --dev-issuer needs the `dev-issuer` feature: \
             cargo run -p mcp-auth-gateway --features dev-issuer -- ..."
        );
        return std::process::ExitCode::from(2);
    }
    #[cfg(feature = "dev-issuer")]
    let (overrides, dev) = dev::apply(matches.get_flag("dev-issuer"), overrides, listen).await;
    let options = GatewayOptions {
        listen,
        config: matches.get_one::<PathBuf>("config").cloned(),
        overrides,
    };
    let gateway = match Gateway::start_on(listener, options).await {
        Ok(gateway) => gateway,
        Err(error) => {
            eprintln!("mcp-auth-gateway: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    tracing::info!(
        addr = %gateway.addr(),
        resources = ?gateway.resources(),
        "mcp-auth-gateway listening"
    );
    #[cfg(feature = "dev-issuer")]
    if let Some((issuer, resource)) = &dev {
        dev::print_tokens(issuer, resource);
    }
    signals(&gateway).await;
    gateway.shutdown();
    gateway.wait().await;
    std::process::ExitCode::SUCCESS
}

/// Serves until SIGTERM or Ctrl-C, reloading on SIGHUP.
#[cfg(unix)]
async fn signals(gateway: &Gateway) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hangup), Ok(mut terminate)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::error!("cannot listen for signals; stopping on Ctrl-C only");
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = hangup.recv() => match gateway.reload().await {
                Ok(()) => {}
                Err(error) => tracing::error!(%error, "reload failed; still serving the previous configuration"),
            },
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("stopping: finishing the requests under way");
}

#[cfg(not(unix))]
async fn signals(_: &Gateway) {
    let _ = tokio::signal::ctrl_c().await;
}
