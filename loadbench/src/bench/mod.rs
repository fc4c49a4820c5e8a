//! `loadbench run`: prepares keys and tokens, runs every configuration interleaved over rounds,
//! then the failure-path benchmarks, and writes the results.

mod checks;
mod deploy;
mod flood;
mod machine;
mod memory;
mod micro;
mod nginx;
mod proc;
mod profile;
pub mod report;
mod rounds;
mod server_proc;
mod svg;
mod tokens;
mod wrk;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mcp_auth_testing::MockIssuer;

pub use flood::{FloodRecord, FloodSpec};
pub use machine::Machine;
pub use memory::{MemoryCheckpoint, MemoryRecord};
pub use micro::MicroRecord;
pub use profile::Profiler;
pub use report::{ProxyComparison, ProxyRow, Report};
pub use rounds::{CacheObservation, OneConnection, Ratios, RunRecord};
pub use wrk::{WrkResult, WrkSettings};

use crate::{Config, RESOURCE};

/// Any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What `loadbench run` does.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// A short smoke run.
    pub quick: bool,
    /// Rounds; every configuration is measured once per round.
    pub rounds: usize,
    /// Measured time per configuration and round.
    pub duration: Duration,
    /// Unmeasured load before each measurement.
    pub warmup: Duration,
    /// wrk settings.
    pub wrk: WrkSettings,
    /// Distinct tokens the repeated-token configurations cycle through.
    pub repeated_tokens: usize,
    /// Distinct tokens the first-sight configuration cycles through.
    pub first_sight_pool: usize,
    /// The first-sight configuration's verified-token cache capacity.
    pub first_sight_cache: usize,
    /// The configurations, in their first round's order.
    pub configs: Vec<Config>,
    /// The random-kid floods.
    pub floods: Vec<FloodSpec>,
    /// Distinct tokens for the memory benchmark (0 skips it).
    pub memory_tokens: u64,
    /// When to sample memory, in tokens.
    pub memory_checkpoints: Vec<u64>,
    /// Distinct tokens per algorithm for the in-process first-sight comparison (0 skips it).
    pub micro_tokens: usize,
    /// Trials of it.
    pub micro_trials: usize,
    /// Where the results go.
    pub out: PathBuf,
    /// Scratch space (token files, scripts, audit files).
    pub tmp: PathBuf,
    /// The `loadbench-server` binary.
    pub server_binary: PathBuf,
}

impl RunOptions {
    /// The full run: 3 rounds × 10 s, the floods at the default and a short refresh interval,
    /// one million tokens for memory.
    pub fn full() -> Self {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let memory_tokens = 1_000_000;
        Self {
            quick: false,
            rounds: 3,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            wrk: WrkSettings {
                connections: 32,
                threads: 1,
            },
            repeated_tokens: 64,
            first_sight_pool: 50_000,
            first_sight_cache: 256,
            configs: Config::ALL.to_vec(),
            floods: vec![
                FloodSpec {
                    refresh_interval: None,
                    duration: Duration::from_secs(65),
                },
                FloodSpec {
                    refresh_interval: Some(Duration::from_secs(1)),
                    duration: Duration::from_secs(15),
                },
            ],
            memory_tokens,
            memory_checkpoints: checkpoints(memory_tokens),
            micro_tokens: 2_000,
            micro_trials: 7,
            out: manifest.join("results"),
            tmp: manifest.join("target").join("loadbench-tmp"),
            server_binary: sibling("loadbench-server"),
        }
    }

    /// A smoke run of a minute or two: one short round, a short flood, 50,000 tokens for memory.
    pub fn quick() -> Self {
        let full = Self::full();
        let memory_tokens = 50_000;
        Self {
            quick: true,
            rounds: 1,
            duration: Duration::from_secs(3),
            warmup: Duration::from_secs(1),
            first_sight_pool: 4_000,
            floods: vec![FloodSpec {
                refresh_interval: Some(Duration::from_secs(1)),
                duration: Duration::from_secs(5),
            }],
            memory_tokens,
            memory_checkpoints: checkpoints(memory_tokens),
            micro_tokens: 500,
            micro_trials: 3,
            out: full.out.join("quick"),
            ..full
        }
    }
}

/// Memory samples: a few while the cache fills, then every tenth of the way.
pub fn checkpoints(total: u64) -> Vec<u64> {
    let mut points: Vec<u64> = [10_000, 20_000, 50_000]
        .into_iter()
        .filter(|&n| n < total)
        .chain((1..=10).map(|k| total * k / 10))
        .filter(|&n| n > 0)
        .collect();
    points.sort_unstable();
    points.dedup();
    points
}

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .map(|exe| exe.with_file_name(name))
        .unwrap_or_else(|_| PathBuf::from(name))
}

/// What the measurements share.
pub(crate) struct Context {
    pub(crate) options: RunOptions,
    pub(crate) server_binary: PathBuf,
    pub(crate) client: reqwest::Client,
    pub(crate) issuer: String,
    pub(crate) jwks_uri: String,
    pub(crate) check_tokens: tokens::CheckTokens,
    pub(crate) repeated_tokens: PathBuf,
    pub(crate) first_sight_tokens: PathBuf,
    pub(crate) first_sight_pool: usize,
    pub(crate) tokens_lua: PathBuf,
    pub(crate) dpop_lua: PathBuf,
    pub(crate) flood_lua: PathBuf,
    pub(crate) tmp: PathBuf,
    pub(crate) wrk: WrkSettings,
    /// The `redis-server` that `stack-redis` shares its state through.
    pub(crate) redis: Option<std::sync::Arc<mcp_auth_testing::RedisServer>>,
}

/// Keys, tokens and scripts ready; the orchestrator pinned to the load core.
struct Prepared {
    ctx: Context,
    busy: f64,
    source: String,
    issuer: MockIssuer,
    pool: Vec<String>,
    machine: Machine,
    load_start: [f64; 3],
    mint_s: f64,
}

async fn prepare(options: &RunOptions) -> Result<Prepared, BoxError> {
    let machine = Machine::detect();
    if machine.cpus < 2 {
        return Err("the benchmark needs two CPUs (server and load generator on their own)".into());
    }
    for tool in ["wrk", "taskset"] {
        if std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_err()
        {
            return Err(format!("`{tool}` is not installed (run.sh installs it)").into());
        }
    }
    if options
        .configs
        .iter()
        .any(|c| c.proxy() == Some(crate::Proxy::Nginx))
        && !nginx::installed()
    {
        return Err(
            "`nginx` is not installed (run.sh installs it; or leave it out with --configs)".into(),
        );
    }
    if !options.server_binary.exists() {
        return Err(format!(
            "{} not found: build with cargo build --release",
            options.server_binary.display()
        )
        .into());
    }
    // The revision the binaries were just built from (run.sh builds right before).
    let source = source_revision();
    let load_start = proc::load_average();
    let busy = proc::cpu_busy_over(Duration::from_secs(1));
    log(&format!(
        "{}, {} CPUs, load average {:.2} {:.2} {:.2}, CPUs {:.0}% busy over the last second{}",
        machine.cpu_model,
        machine.cpus,
        load_start[0],
        load_start[1],
        load_start[2],
        busy * 100.0,
        if busy > 0.05 {
            " — the machine is busy; figures will be noisier"
        } else {
            ""
        }
    ));
    let tmp = options.tmp.clone();
    std::fs::create_dir_all(&tmp)?;
    let tokens_lua = tmp.join("tokens.lua");
    let flood_lua = tmp.join("flood.lua");
    let dpop_lua = tmp.join("dpop.lua");
    // Each script with the one report format appended.
    let report = include_str!("../../lua/report.lua");
    for (path, script) in [
        (&tokens_lua, include_str!("../../lua/tokens.lua")),
        (&dpop_lua, include_str!("../../lua/dpop.lua")),
        (&flood_lua, include_str!("../../lua/flood.lua")),
    ] {
        std::fs::write(path, format!("{script}\n{report}"))?;
    }

    // One RS256 key for every configuration, published as a JWKS on loopback.
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let repeated: Vec<String> = (0..options.repeated_tokens)
        .map(|n| tokens::valid(&issuer, 1_000_000_000 + n))
        .collect();
    let check_tokens = tokens::CheckTokens::mint(&issuer);
    let mint_start = Instant::now();
    let pool_size = options.first_sight_pool.max(options.micro_tokens);
    let threads = machine.cpus;
    log(&format!(
        "minting {pool_size} RS256 tokens on {threads} threads"
    ));
    let pool = tokio::task::block_in_place(|| tokens::pool(&issuer, pool_size, threads));
    let mint_s = mint_start.elapsed().as_secs_f64();
    log(&format!("minted in {mint_s:.1} s"));
    let repeated_tokens = tmp.join("repeated.txt");
    let first_sight_tokens = tmp.join("first-sight.txt");
    tokens::write_lines(&repeated_tokens, &repeated)?;
    tokens::write_lines(&first_sight_tokens, &pool[..options.first_sight_pool])?;

    let redis = if options.configs.iter().any(|c| c.redis()) {
        log("starting redis-server for stack-redis");
        Some(std::sync::Arc::new(
            mcp_auth_testing::RedisServer::start().await,
        ))
    } else {
        None
    };

    // From here on this process (and wrk) stay on the load core; servers get the other.
    let status = std::process::Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            wrk::LOAD_CORE,
            &std::process::id().to_string(),
        ])
        .output()?;
    if !status.status.success() {
        return Err("could not pin the orchestrator to the load core".into());
    }
    let ctx = Context {
        server_binary: options.server_binary.clone(),
        client: reqwest::Client::builder().build()?,
        issuer: issuer.issuer().to_owned(),
        jwks_uri: issuer.jwks_uri(),
        check_tokens,
        repeated_tokens,
        first_sight_tokens,
        first_sight_pool: options.first_sight_pool,
        tokens_lua,
        dpop_lua,
        flood_lua,
        tmp,
        wrk: options.wrk.clone(),
        redis,
        options: options.clone(),
    };
    Ok(Prepared {
        ctx,
        busy,
        source,
        issuer,
        pool,
        machine,
        load_start,
        mint_s,
    })
}

/// Runs everything and writes `results.json`, `results.md` and `throughput.svg`.
///
/// # Errors
/// A prerequisite is missing, a server fails to start, a configuration fails its checks (a
/// tampered token not refused, a valid one not accepted) or wrk reports errors.
pub async fn run(options: RunOptions) -> Result<Report, BoxError> {
    let Prepared {
        ctx,
        busy,
        source,
        issuer,
        pool,
        machine,
        load_start,
        mint_s,
    } = prepare(&options).await?;
    let first_sight_micro = if options.micro_tokens > 0 {
        micro::run(
            &issuer,
            &pool[..options.micro_tokens],
            options.micro_tokens,
            options.micro_trials,
        )
        .await?
    } else {
        Vec::new()
    };
    drop(pool);

    let runs = rounds::run(&ctx).await?;
    let mut flood = Vec::new();
    for spec in &options.floods {
        flood.push(flood::run(&ctx, *spec).await?);
    }
    let memory = if options.memory_tokens > 0 {
        Some(memory::run(&ctx).await?)
    } else {
        None
    };

    let parameters = report::Parameters {
        quick: options.quick,
        rounds: options.rounds,
        duration_s: options.duration.as_secs(),
        warmup_s: options.warmup.as_secs(),
        wrk: options.wrk.clone(),
        server_core: server_proc::SERVER_CORE.into(),
        load_core: wrk::LOAD_CORE.into(),
        algorithm: "RS256".into(),
        repeated_tokens: options.repeated_tokens,
        first_sight_pool: options.first_sight_pool,
        first_sight_cache: options.first_sight_cache,
        first_sight_mint_s: mint_s,
        source_revision: source,
        cpu_busy_before_start: busy,
    };
    let mut report = Report {
        machine,
        parameters,
        load_average: [load_start, proc::load_average()],
        summary: report::summarise(&runs, &options.configs),
        proxies: report::proxy_comparison(&runs),
        runs,
        flood,
        memory,
        first_sight_micro,
        targets: Vec::new(),
    };
    report.targets = report::targets(&report);
    report::write(&report, &options.out)?;
    let _ = std::fs::remove_dir_all(&ctx.tmp);
    log(&format!("results in {}", options.out.display()));
    let missed = report::missed_criteria(&report.targets);
    if !missed.is_empty() {
        return Err(format!("criteria missed: {}", missed.join("; ")).into());
    }
    Ok(report)
}

/// Profiles one configuration under the benchmark's load and writes the profiler's report to
/// `options.out/profile-CONFIG-*.txt` (see [`Profiler`]).
///
/// # Errors
/// As [`run`], or perf is missing or fails.
pub async fn profile(
    options: RunOptions,
    config: Config,
    seconds: u64,
    profiler: Profiler,
) -> Result<(), BoxError> {
    // The issuer must outlive the profile: it serves the JWKS.
    let Prepared {
        ctx,
        issuer: _issuer,
        ..
    } = prepare(&options).await?;
    let out = options.out.clone();
    std::fs::create_dir_all(&out)?;
    profile::run(&ctx, config, seconds, profiler, &out).await?;
    let _ = std::fs::remove_dir_all(&ctx.tmp);
    Ok(())
}

/// Re-renders `results.md` and `throughput.svg` from a `results.json`.
///
/// # Errors
/// The file cannot be read or parsed, or the outputs cannot be written.
pub fn render(json: &std::path::Path) -> Result<(), BoxError> {
    let report: Report = serde_json::from_slice(&std::fs::read(json)?)?;
    let dir = json.parent().unwrap_or(std::path::Path::new("."));
    std::fs::write(dir.join("results.md"), report::markdown(&report))?;
    std::fs::write(dir.join("throughput.svg"), svg::chart(&report))?;
    Ok(())
}

/// The project's commit, whether the crates measured differ from it, and its subject.
fn source_revision() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim_end().to_owned())
            .unwrap_or_default()
    };
    // Porcelain lines are "XY path": the status takes the first three characters.
    let modified = git(&["status", "--porcelain", "--", "crates"]);
    format!(
        "commit {}{} \"{}\"",
        git(&["rev-parse", "--short", "HEAD"]),
        if modified.is_empty() {
            String::new()
        } else {
            format!(
                " with uncommitted changes in {}",
                modified
                    .lines()
                    .filter_map(|l| l.get(3..))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        git(&["log", "-1", "--format=%s"])
    )
}

/// A progress line on stderr, with the seconds since the run started.
pub(crate) fn log(message: &str) {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    eprintln!("[{:>6.1} s] {message}", start.elapsed().as_secs_f64());
}

/// The median (the mean of the middle two for an even count); NaN for none.
pub(crate) fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

#[cfg(test)]
mod tests;
