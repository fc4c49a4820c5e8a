//! `loadbench-server --config NAME --listen ADDR --issuer URL --jwks-uri URL [options]`
//!
//! Serves the benchmark's MCP handler in one configuration; prints `listening ADDR` once ready.
//! Options: `--audit-file PATH` (stack, gateway), `--token-cache N`, `--refresh-interval-ms MS`,
//! `--observe-cache`, `--redis URL` (stack-redis), `--upstream URL` (gateway, hyper-proxy: the
//! MCP endpoint they forward to; the gateway's configuration is written beside the audit file).
//! The runtime has one worker per CPU the process may use, so pinning it with `taskset -c 0`
//! gives one worker; the Rust proxies (gateway, hyper-proxy) run on a single-threaded runtime,
//! as nginx runs one worker.
#![forbid(unsafe_code)]

use std::time::Duration;

use mcp_auth_loadbench::Config;
use mcp_auth_loadbench::server::{ServerOptions, run};

fn main() {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("loadbench-server: {message}");
            std::process::exit(2);
        }
    };
    // The Rust proxies run on one thread, as nginx runs one worker on the same core
    // (`mcp-auth-gateway --threads 1`); everything else on one worker per CPU it may use.
    let runtime = if options.config.proxy().is_some() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()
    .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run(options)) {
        eprintln!("loadbench-server: {e}");
        std::process::exit(1);
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<ServerOptions, String> {
    let mut config = None;
    let mut listen = "127.0.0.1:0".parse().expect("address");
    let mut issuer = None;
    let mut jwks_uri = None;
    let mut audit_file = None;
    let mut token_cache = None;
    let mut refresh_interval = None;
    let mut observe_cache = false;
    let mut redis = None;
    let mut upstream = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--config" => {
                let name = value()?;
                config = Some(Config::parse(&name).ok_or(format!("unknown config `{name}`"))?);
            }
            "--listen" => listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--issuer" => issuer = Some(value()?),
            "--jwks-uri" => jwks_uri = Some(value()?),
            "--audit-file" => audit_file = Some(value()?.into()),
            "--token-cache" => {
                token_cache = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--token-cache: {e}"))?,
                )
            }
            "--refresh-interval-ms" => {
                let ms: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--refresh-interval-ms: {e}"))?;
                refresh_interval = Some(Duration::from_millis(ms));
            }
            "--observe-cache" => observe_cache = true,
            "--redis" => redis = Some(value()?),
            "--upstream" => upstream = Some(value()?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(ServerOptions {
        config: config.ok_or("--config is required")?,
        listen,
        issuer: issuer.ok_or("--issuer is required")?,
        jwks_uri: jwks_uri.ok_or("--jwks-uri is required")?,
        audit_file,
        token_cache,
        refresh_interval,
        observe_cache,
        redis,
        upstream,
    })
}
