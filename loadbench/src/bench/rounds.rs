//! The main benchmark: every configuration, interleaved over rounds, each against the same load.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::checks::{self, Check};
use super::deploy::Deployment;
use super::proc::{
    context_switches_of, core_irq_ticks, core_ticks, cpu_seconds, cpu_seconds_of, load_average,
};
use super::server_proc::{SERVER_CORE, ServerProcess, ServerSpec};
use super::wrk::{self, WrkResult, WrkSettings};
use super::{BoxError, Context, log};
use crate::Config;

/// One configuration measured in one round.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// Round number, from 1.
    pub round: usize,
    /// Position within the round (the order rotates every round).
    pub position: usize,
    /// The configuration.
    pub config: Config,
    /// Load average (1, 5, 15 min) just before the server started.
    pub load_average_start: [f64; 3],
    /// What wrk measured.
    pub wrk: WrkResult,
    /// Requests per second.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 99th percentile latency, µs.
    pub p99_us: u64,
    /// Server CPU time (user + system, all threads) during the measurement, seconds. Behind a
    /// proxy: the upstream's and the proxy's together (both on the server core).
    pub server_cpu_s: f64,
    /// Server CPU time per completed request, µs.
    pub cpu_us_per_request: f64,
    /// Server context switches (all threads) per completed request.
    #[serde(default)]
    pub context_switches_per_request: f64,
    /// Server CPU time ÷ measured time: 1.0 means the server core was saturated.
    pub server_cpu_utilisation: f64,
    /// How busy the server's core was during the measurement, whoever used it (0 to 1). More
    /// than the server's own utilisation means other processes took part of the core.
    #[serde(default)]
    pub server_core_busy: f64,
    /// The share of the server core's time spent servicing interrupts (irq + softirq: on
    /// loopback, most of the network stack's receive work), part of `server_core_busy` (the
    /// kernel charges it to the process it interrupted).
    #[serde(default)]
    pub server_core_irq: Option<f64>,
    /// How busy the load core (wrk and the orchestrator) was during the measurement, whoever
    /// used it: near 1.0 with the server core below it means the load side limited the run.
    #[serde(default)]
    pub load_core_busy: Option<f64>,
    /// Behind a proxy: the proxy's own CPU time (its processes only, nginx's master and worker)
    /// per completed request, µs; the rest of `cpu_us_per_request` is the upstream's.
    #[serde(default)]
    pub proxy_cpu_us_per_request: Option<f64>,
    /// The proxy comparison's latency without queueing: the same load over one connection,
    /// right after the measurement.
    #[serde(default)]
    pub one_connection: Option<OneConnection>,
    /// Requests the handler counted during the measurement.
    pub handled: u64,
    /// Verified-token cache hits and misses observed (first-sight configuration).
    pub cache: Option<CacheObservation>,
    /// The checks made before the load and again after it.
    pub checks: Vec<Check>,
    /// Every figure divided by bare's in the same round.
    pub ratio_to_bare: Option<Ratios>,
}

/// One request at a time: wrk with a single connection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OneConnection {
    /// Completed requests.
    pub requests: u64,
    /// Requests per second.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 90th percentile latency, µs.
    pub p90_us: u64,
    /// 99th percentile latency, µs.
    pub p99_us: u64,
}

/// How long the single-connection run lasts (at most; no longer than the measurement).
const ONE_CONNECTION: std::time::Duration = std::time::Duration::from_secs(3);

/// What the first-sight handler observed, in a twin run right after the measured one (same
/// pool, same order, same cache capacity): holding every principal to compare addresses makes
/// the heap far larger than the cache, which costs the server a few µs per request, so the
/// measured run does not observe.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CacheObservation {
    /// Distinct tokens cycled through.
    pub pool: usize,
    /// The verified-token cache capacity set.
    pub capacity: usize,
    /// Requests served from the cache.
    pub hits: u64,
    /// Requests verified in full.
    pub misses: u64,
    /// misses ÷ (hits + misses).
    pub miss_ratio: f64,
    /// The twin run's throughput (observing), requests per second.
    #[serde(default)]
    pub observed_run_rps: f64,
    /// The twin run's server CPU per request (observing), µs.
    #[serde(default)]
    pub observed_run_cpu_us_per_request: f64,
}

/// Figures relative to bare in the same round.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ratios {
    /// Throughput ÷ bare's (higher is better; 1.0 = no cost).
    pub rps: f64,
    /// Median latency ÷ bare's.
    pub p50: f64,
    /// 99th percentile latency ÷ bare's.
    pub p99: f64,
    /// CPU per request ÷ bare's.
    pub cpu_per_request: f64,
}

/// Runs every round; each round measures every configuration once, starting one further along
/// the list than the round before.
pub(crate) async fn run(ctx: &Context) -> Result<Vec<RunRecord>, BoxError> {
    let mut records = Vec::new();
    let configs = &ctx.options.configs;
    for round in 1..=ctx.options.rounds {
        let mut this_round = Vec::new();
        for position in 0..configs.len() {
            let config = configs[(position + round - 1) % configs.len()];
            let record = measure(ctx, config, round, position + 1).await?;
            log(&format!(
                "round {round} {:<28} {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs  cpu {:>6.1} µs/req  cs/req {:.2}  util {:.2} (core {:.2}, irq {:.2}; load core {:.2}){}{}",
                config.name(),
                record.rps,
                record.p50_us,
                record.p99_us,
                record.cpu_us_per_request,
                record.context_switches_per_request,
                record.server_cpu_utilisation,
                record.server_core_busy,
                record.server_core_irq.unwrap_or(f64::NAN),
                record.load_core_busy.unwrap_or(f64::NAN),
                record
                    .cache
                    .as_ref()
                    .map(|c| format!(
                        "  miss ratio {:.4} (observing twin: {:.0} req/s, {:.1} µs/req)",
                        c.miss_ratio, c.observed_run_rps, c.observed_run_cpu_us_per_request
                    ))
                    .unwrap_or_default(),
                match (&record.one_connection, record.proxy_cpu_us_per_request) {
                    (Some(one), proxy) => format!(
                        "  proxy cpu {}  one connection: {:.0} req/s p50 {} µs",
                        proxy.map_or_else(|| "—".into(), |p| format!("{p:.1} µs/req")),
                        one.rps,
                        one.p50_us
                    ),
                    (None, _) => String::new(),
                }
            ));
            this_round.push(record);
        }
        // Each configuration against its own baseline (the same server without authentication)
        // in the same round.
        let baselines = this_round.clone();
        for record in &mut this_round {
            let baseline = record.config.baseline();
            if let Some(bare) = baselines.iter().find(|r| r.config == baseline) {
                record.ratio_to_bare = Some(Ratios {
                    rps: record.rps / bare.rps,
                    p50: record.p50_us as f64 / bare.p50_us as f64,
                    p99: record.p99_us as f64 / bare.p99_us as f64,
                    cpu_per_request: record.cpu_us_per_request / bare.cpu_us_per_request,
                });
            }
        }
        records.extend(this_round);
    }
    Ok(records)
}

async fn measure(
    ctx: &Context,
    config: Config,
    round: usize,
    position: usize,
) -> Result<RunRecord, BoxError> {
    let load_average_start = load_average();
    let audit_dir = ctx.tmp.join(format!("audit-{}-{round}", config.name()));
    std::fs::create_dir_all(&audit_dir)?;
    let first_sight = config.first_sight();
    let spec = spec_for(ctx, config, &audit_dir);
    let server = Deployment::start(ctx, &spec).await?;
    let url = server.mcp_url();
    let result = async {
        checks::wait_ready(&ctx.client, &url, &ctx.check_tokens.valid).await?;
        let mut checks = checks::run(&ctx.client, &url, config, &ctx.check_tokens).await?;
        // Every process on the server core: the server, or the upstream and the proxy.
        let pids = server.pids();
        let proxy_pids = server.proxy_pids();
        let (lua, args) = load(ctx, config, ctx.options.warmup, "warm-up")?;
        wrk::run(&ctx.wrk, &url, &lua, &args, ctx.options.warmup).await?;
        let (lua, args) = load(ctx, config, ctx.options.duration, "measured")?;
        let redis_before = redis_commands(ctx, config).await;
        let before = server.stats(&ctx.client).await?;
        let switches_before = context_switches_of(&pids)?;
        let core_before = core_ticks(SERVER_CORE)?;
        let load_before = core_ticks(wrk::LOAD_CORE)?;
        let irq_before = core_irq_ticks(SERVER_CORE)?;
        let proxy_before = cpu_seconds_of(&proxy_pids)?;
        let cpu_before = cpu_seconds_of(&pids)?;
        let wrk = wrk::run(&ctx.wrk, &url, &lua, &args, ctx.options.duration).await?;
        let cpu_after = cpu_seconds_of(&pids)?;
        let proxy_after = cpu_seconds_of(&proxy_pids)?;
        let core_after = core_ticks(SERVER_CORE)?;
        let load_after = core_ticks(wrk::LOAD_CORE)?;
        let irq_after = core_irq_ticks(SERVER_CORE)?;
        let switches_after = context_switches_of(&pids)?;
        let after = server.stats(&ctx.client).await?;
        if let (Some(before), Some(after)) = (redis_before, redis_commands(ctx, config).await) {
            // Redis's own counter includes the two INFO commands reading it.
            let commands = after.saturating_sub(before).saturating_sub(1);
            log(&format!(
                "{} round {round}: {commands} Redis commands for {} requests",
                config.name(),
                wrk.requests
            ));
            if commands > 20 + wrk.requests / 1000 {
                return Err(format!(
                    "{} round {round}: {commands} Redis commands for {} requests: the hot path \
                     touches Redis",
                    config.name(),
                    wrk.requests
                )
                .into());
            }
        }
        if wrk.errors.status > 0 || wrk.errors.socket() > 0 {
            return Err(format!(
                "{} round {round}: {} non-2xx responses, {} socket errors",
                config.name(),
                wrk.errors.status,
                wrk.errors.socket()
            )
            .into());
        }
        checks::cross_check(
            after.handled - before.handled,
            wrk.requests,
            ctx.options.wrk.connections,
        )
        .map_err(|e| format!("{} round {round}: {e}", config.name()))?;
        let one_connection = if config.baseline() == Config::UpstreamDirect {
            Some(one_connection(ctx, config, &url).await?)
        } else {
            None
        };
        // A warm cache must not let a bad token through either.
        checks.extend(checks::run(&ctx.client, &url, config, &ctx.check_tokens).await?);
        let server_cpu_s = cpu_after - cpu_before;
        Ok::<_, BoxError>(RunRecord {
            round,
            position,
            config,
            load_average_start,
            rps: wrk.rps(),
            p50_us: wrk.latency_us.p50,
            p99_us: wrk.latency_us.p99,
            server_cpu_s,
            cpu_us_per_request: server_cpu_s * 1e6 / wrk.requests.max(1) as f64,
            context_switches_per_request: (switches_after - switches_before) as f64
                / wrk.requests.max(1) as f64,
            server_cpu_utilisation: server_cpu_s / (wrk.duration_us as f64 / 1e6),
            server_core_busy: (core_after.0 - core_before.0) as f64
                / (core_after.1 - core_before.1).max(1) as f64,
            server_core_irq: Some(
                (irq_after - irq_before) as f64 / (core_after.1 - core_before.1).max(1) as f64,
            ),
            load_core_busy: Some(
                (load_after.0 - load_before.0) as f64
                    / (load_after.1 - load_before.1).max(1) as f64,
            ),
            proxy_cpu_us_per_request: config
                .proxy()
                .map(|_| (proxy_after - proxy_before) * 1e6 / wrk.requests.max(1) as f64),
            one_connection,
            handled: after.handled - before.handled,
            cache: None,
            checks,
            ratio_to_bare: None,
            wrk,
        })
    }
    .await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&audit_dir);
    let mut record = result?;
    if first_sight {
        record.cache = Some(observe_cache(ctx, round).await?);
    }
    Ok(record)
}

/// The same load over one connection (after the measurement, before the checks that follow it):
/// each request's latency through the configuration without queueing behind 31 others.
async fn one_connection(
    ctx: &Context,
    config: Config,
    url: &str,
) -> Result<OneConnection, BoxError> {
    let settings = WrkSettings {
        connections: 1,
        threads: 1,
    };
    let seconds = ctx.options.duration.min(ONE_CONNECTION);
    let (lua, args) = load(ctx, config, seconds, "one-connection")?;
    let wrk = wrk::run(&settings, url, &lua, &args, seconds).await?;
    if wrk.errors.status > 0 || wrk.errors.socket() > 0 {
        return Err(format!(
            "{} (one connection): {} non-2xx responses, {} socket errors",
            config.name(),
            wrk.errors.status,
            wrk.errors.socket()
        )
        .into());
    }
    Ok(OneConnection {
        requests: wrk.requests,
        rps: wrk.rps(),
        p50_us: wrk.latency_us.p50,
        p90_us: wrk.latency_us.p90,
        p99_us: wrk.latency_us.p99,
    })
}

/// The first-sight twin run: the same server with the hit/miss observer, the same load.
async fn observe_cache(ctx: &Context, round: usize) -> Result<CacheObservation, BoxError> {
    let config = Config::StackFirstSight;
    let audit_dir = ctx.tmp.join(format!("audit-observe-{round}"));
    std::fs::create_dir_all(&audit_dir)?;
    let mut spec = spec_for(ctx, config, &audit_dir);
    spec.observe_cache = true;
    let server = ServerProcess::start(&ctx.server_binary, &spec).await?;
    let url = server.mcp_url();
    let result = async {
        checks::wait_ready(&ctx.client, &url, &ctx.check_tokens.valid).await?;
        let args = [tokens_for(ctx, config).display().to_string()];
        wrk::run(&ctx.wrk, &url, &ctx.tokens_lua, &args, ctx.options.warmup).await?;
        let before = server.stats(&ctx.client).await?;
        let cpu_before = cpu_seconds(server.pid)?;
        let wrk = wrk::run(&ctx.wrk, &url, &ctx.tokens_lua, &args, ctx.options.duration).await?;
        let cpu_after = cpu_seconds(server.pid)?;
        let after = server.stats(&ctx.client).await?;
        if !after.observed {
            return Err("the first-sight twin run did not observe its cache".into());
        }
        let hits = after.cache_hits - before.cache_hits;
        let misses = after.cache_misses - before.cache_misses;
        Ok::<_, BoxError>(CacheObservation {
            pool: ctx.first_sight_pool,
            capacity: ctx.options.first_sight_cache,
            hits,
            misses,
            miss_ratio: misses as f64 / (hits + misses).max(1) as f64,
            observed_run_rps: wrk.rps(),
            observed_run_cpu_us_per_request: (cpu_after - cpu_before) * 1e6
                / wrk.requests.max(1) as f64,
        })
    }
    .await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&audit_dir);
    result
}

/// Commands the shared Redis has processed so far, for a configuration that uses it.
async fn redis_commands(ctx: &Context, config: Config) -> Option<u64> {
    if !config.redis() {
        return None;
    }
    let info = ctx.redis.as_ref()?.command(&["INFO", "stats"]).await;
    info.lines()
        .find_map(|line| line.strip_prefix("total_commands_processed:"))
        .and_then(|n| n.trim().parse().ok())
}

/// How the rounds start `config`: the stack audits into `audit_dir`; first sight gets the small
/// cache.
pub(crate) fn spec_for(ctx: &Context, config: Config, audit_dir: &Path) -> ServerSpec {
    ServerSpec {
        config,
        issuer: ctx.issuer.clone(),
        jwks_uri: ctx.jwks_uri.clone(),
        // The gateway's configuration is written beside it (and names it when it audits).
        audit_file: (config.is_stack() || config.proxy() == Some(crate::Proxy::Gateway))
            .then(|| audit_dir.join("audit.jsonl")),
        token_cache: config
            .first_sight()
            .then_some(ctx.options.first_sight_cache),
        refresh_interval: None,
        observe_cache: false,
        redis: config
            .redis()
            .then(|| ctx.redis.as_ref().map(|r| r.url()))
            .flatten(),
        // The upstream's address is known once it runs (see `Deployment::start`).
        upstream: None,
        wrapper: Vec::new(),
    }
}

/// The most DPoP requests per second one server core could serve (each proof costs an ES256
/// signature check of ~55 µs here); proofs are minted for this rate, so none is used twice.
const DPOP_MAX_RPS: f64 = 30_000.0;

/// The Lua script and its arguments for `seconds` of load: the token file, or for DPoP a file of
/// fresh single-use proofs, minted now (outside any measurement) and more than the run can send.
pub(crate) fn load(
    ctx: &Context,
    config: Config,
    seconds: std::time::Duration,
    what: &str,
) -> Result<(PathBuf, Vec<String>), BoxError> {
    if !config.dpop() {
        let tokens = tokens_for(ctx, config).display().to_string();
        return Ok((ctx.tokens_lua.clone(), vec![tokens]));
    }
    let count = (seconds.as_secs_f64() * DPOP_MAX_RPS).ceil() as usize;
    let started = std::time::Instant::now();
    let dpop = &ctx.check_tokens.dpop;
    let proofs: Vec<String> = (0..count).map(|_| dpop.proof()).collect();
    let path = ctx.tmp.join(format!("dpop-proofs-{what}.txt"));
    super::tokens::write_lines(&path, &proofs)?;
    log(&format!(
        "minted {count} DPoP proofs for the {what} run in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok((
        ctx.dpop_lua.clone(),
        vec![path.display().to_string(), dpop.token.clone()],
    ))
}

/// The token file `config` is loaded with.
pub(crate) fn tokens_for(ctx: &Context, config: Config) -> PathBuf {
    if config.first_sight() {
        ctx.first_sight_tokens.clone()
    } else {
        ctx.repeated_tokens.clone()
    }
}
