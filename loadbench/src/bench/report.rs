//! The results: JSON for machines, Markdown for people, and the summary and targets both share.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::flood::FloodRecord;
use super::machine::Machine;
use super::memory::MemoryRecord;
use super::micro::MicroRecord;
use super::rounds::RunRecord;
use super::wrk::WrkSettings;
use super::{BoxError, median};
use crate::Config;

/// Everything one run produced (`results/results.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// The run's parameters.
    pub parameters: Parameters,
    /// Load average (1, 5, 15 min) when the run started and when it ended.
    pub load_average: [[f64; 3]; 2],
    /// Every configuration in every round.
    pub runs: Vec<RunRecord>,
    /// Medians over rounds, per configuration.
    pub summary: Vec<Summary>,
    /// The random-kid floods.
    pub flood: Vec<FloodRecord>,
    /// Memory after many distinct tokens.
    pub memory: Option<MemoryRecord>,
    /// First sight in process, beside a bare jsonwebtoken decode.
    pub first_sight_micro: Vec<MicroRecord>,
    /// The upstream directly, through nginx and through the gateway.
    #[serde(default)]
    pub proxies: Option<ProxyComparison>,
    /// The targets, met or not.
    pub targets: Vec<Target>,
}

/// The proxy comparison: the same upstream loaded directly, through nginx (a plain reverse
/// proxy) and through `mcp-auth-gateway` (the full stack), in the same rounds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProxyComparison {
    /// One row per configuration of the comparison that was measured, in report order.
    pub rows: Vec<ProxyRow>,
    /// Median of the per-round ratios gateway ÷ nginx throughput.
    pub gateway_vs_nginx: Option<f64>,
}

/// One configuration of the proxy comparison, medians over rounds. "Added" figures are the
/// median of the per-round differences from `upstream-direct` in the same round.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProxyRow {
    /// The configuration.
    pub config: Config,
    /// Requests per second.
    pub rps: f64,
    /// Throughput ÷ upstream-direct's.
    pub rps_vs_direct: Option<f64>,
    /// p50 latency at the benchmark's connections (saturated: mostly queueing), µs.
    pub p50_us: f64,
    /// Its difference from upstream-direct's, µs.
    pub added_p50_us: Option<f64>,
    /// p50 latency over one connection (one request at a time), µs.
    pub one_connection_p50_us: Option<f64>,
    /// Its difference from upstream-direct's, µs: what the hop adds to one request.
    pub added_one_connection_p50_us: Option<f64>,
    /// p99 latency over one connection, µs.
    pub one_connection_p99_us: Option<f64>,
    /// CPU time of everything on the server core (upstream and proxy) per request, µs.
    pub cpu_us_per_request: f64,
    /// The proxy's own share of it, µs.
    pub proxy_cpu_us_per_request: Option<f64>,
}

/// How the run was made.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Parameters {
    /// `--quick`.
    pub quick: bool,
    /// Rounds.
    pub rounds: usize,
    /// Measured seconds per configuration and round.
    pub duration_s: u64,
    /// Unmeasured warm-up seconds before each measurement.
    pub warmup_s: u64,
    /// wrk settings.
    pub wrk: WrkSettings,
    /// Core the server is pinned to.
    pub server_core: String,
    /// Core wrk (and this orchestrator) is pinned to.
    pub load_core: String,
    /// Signature algorithm of the load tokens.
    pub algorithm: String,
    /// Distinct tokens the repeated-token configurations cycle through.
    pub repeated_tokens: usize,
    /// Distinct tokens the first-sight configuration cycles through.
    pub first_sight_pool: usize,
    /// The first-sight configuration's verified-token cache capacity.
    pub first_sight_cache: usize,
    /// Seconds it took to mint the first-sight pool.
    pub first_sight_mint_s: f64,
    /// The project's commit measured (and any uncommitted changes to its crates).
    #[serde(default)]
    pub source_revision: String,
    /// How busy the CPUs were (all of them, 0 to 1) during one second before the run started.
    #[serde(default)]
    pub cpu_busy_before_start: f64,
}

/// One configuration over all rounds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// The configuration.
    pub config: Config,
    /// Rounds measured.
    pub rounds: usize,
    /// Median requests per second.
    pub rps: f64,
    /// Lowest and highest requests per second.
    pub rps_range: [f64; 2],
    /// Median p50 latency, µs.
    pub p50_us: f64,
    /// Median p99 latency, µs.
    pub p99_us: f64,
    /// Median server CPU per request, µs.
    pub cpu_us_per_request: f64,
    /// Median server CPU utilisation.
    pub server_cpu_utilisation: f64,
    /// Median of the per-round ratios to bare: throughput, p50, p99, CPU per request.
    pub ratio_to_bare: Option<[f64; 4]>,
    /// Median of the per-round throughput ratios to jwt-authorizer.
    pub rps_vs_jwt_authorizer: Option<f64>,
    /// Median observed cache miss ratio (first sight).
    pub cache_miss_ratio: Option<f64>,
}

/// One of the targets.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    /// What is measured.
    pub name: String,
    /// What it must be.
    pub requirement: String,
    /// What it was.
    pub measured: String,
    /// Whether it was met.
    pub met: bool,
}

/// The proxy comparison from the runs, if any configuration of it was measured.
pub(crate) fn proxy_comparison(runs: &[RunRecord]) -> Option<ProxyComparison> {
    let direct_in = |round: usize| {
        runs.iter()
            .find(|r| r.round == round && r.config == Config::UpstreamDirect)
    };
    let medians = |values: Vec<f64>| (!values.is_empty()).then(|| median(&values));
    let rows: Vec<ProxyRow> = Config::PROXIES
        .into_iter()
        .chain(Config::PROXY_ABLATION)
        .filter_map(|config| {
            let mine: Vec<&RunRecord> = runs.iter().filter(|r| r.config == config).collect();
            if mine.is_empty() {
                return None;
            }
            let of = |f: &dyn Fn(&RunRecord) -> f64| {
                median(&mine.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            let vs_direct = |f: &dyn Fn(&RunRecord, &RunRecord) -> Option<f64>| {
                medians(
                    mine.iter()
                        .filter_map(|r| direct_in(r.round).and_then(|d| f(r, d)))
                        .collect(),
                )
            };
            let one_p50 = |r: &RunRecord| r.one_connection.as_ref().map(|o| o.p50_us as f64);
            Some(ProxyRow {
                config,
                rps: of(&|r| r.rps),
                rps_vs_direct: vs_direct(&|r, d| Some(r.rps / d.rps)),
                p50_us: of(&|r| r.p50_us as f64),
                added_p50_us: vs_direct(&|r, d| Some(r.p50_us as f64 - d.p50_us as f64)),
                one_connection_p50_us: medians(mine.iter().filter_map(|r| one_p50(r)).collect()),
                added_one_connection_p50_us: vs_direct(&|r, d| Some(one_p50(r)? - one_p50(d)?)),
                one_connection_p99_us: medians(
                    mine.iter()
                        .filter_map(|r| r.one_connection.as_ref().map(|o| o.p99_us as f64))
                        .collect(),
                ),
                cpu_us_per_request: of(&|r| r.cpu_us_per_request),
                proxy_cpu_us_per_request: medians(
                    mine.iter()
                        .filter_map(|r| r.proxy_cpu_us_per_request)
                        .collect(),
                ),
            })
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let gateway_vs_nginx = medians(
        runs.iter()
            .filter(|r| r.config == Config::Gateway)
            .filter_map(|g| {
                runs.iter()
                    .find(|n| n.round == g.round && n.config == Config::Nginx)
                    .map(|n| g.rps / n.rps)
            })
            .collect(),
    );
    Some(ProxyComparison {
        rows,
        gateway_vs_nginx,
    })
}

/// Medians over rounds.
pub(crate) fn summarise(runs: &[RunRecord], configs: &[Config]) -> Vec<Summary> {
    configs
        .iter()
        .filter_map(|&config| {
            let mine: Vec<&RunRecord> = runs.iter().filter(|r| r.config == config).collect();
            if mine.is_empty() {
                return None;
            }
            let of = |f: &dyn Fn(&RunRecord) -> f64| {
                median(&mine.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            let rps: Vec<f64> = mine.iter().map(|r| r.rps).collect();
            let ratios: Vec<_> = mine
                .iter()
                .filter_map(|r| r.ratio_to_bare.clone())
                .collect();
            let ratio_to_bare = (!ratios.is_empty()).then(|| {
                [
                    median(&ratios.iter().map(|r| r.rps).collect::<Vec<_>>()),
                    median(&ratios.iter().map(|r| r.p50).collect::<Vec<_>>()),
                    median(&ratios.iter().map(|r| r.p99).collect::<Vec<_>>()),
                    median(&ratios.iter().map(|r| r.cpu_per_request).collect::<Vec<_>>()),
                ]
            });
            let vs_jwt: Vec<f64> = mine
                .iter()
                .filter_map(|r| {
                    runs.iter()
                        .find(|j| j.round == r.round && j.config == Config::JwtAuthorizer)
                        .map(|j| r.rps / j.rps)
                })
                .collect();
            let misses: Vec<f64> = mine
                .iter()
                .filter_map(|r| r.cache.as_ref().map(|c| c.miss_ratio))
                .collect();
            Some(Summary {
                config,
                rounds: mine.len(),
                rps: median(&rps),
                rps_range: [
                    rps.iter().copied().fold(f64::INFINITY, f64::min),
                    rps.iter().copied().fold(0.0, f64::max),
                ],
                p50_us: of(&|r| r.p50_us as f64),
                p99_us: of(&|r| r.p99_us as f64),
                cpu_us_per_request: of(&|r| r.cpu_us_per_request),
                server_cpu_utilisation: of(&|r| r.server_cpu_utilisation),
                ratio_to_bare,
                rps_vs_jwt_authorizer: (config != Config::JwtAuthorizer && !vs_jwt.is_empty())
                    .then(|| median(&vs_jwt)),
                cache_miss_ratio: (!misses.is_empty()).then(|| median(&misses)),
            })
        })
        .collect()
}

/// The targets against what was measured.
pub(crate) fn targets(report: &Report) -> Vec<Target> {
    let mut out = Vec::new();
    let stack = report.summary.iter().find(|s| s.config == Config::Stack);
    if let Some(ratio) = stack.and_then(|s| s.ratio_to_bare) {
        out.push(Target {
            name: "repeated tokens: full stack throughput ÷ bare".into(),
            requirement: "≥ 0.90".into(),
            measured: format!("{:.3}", ratio[0]),
            met: ratio[0] >= 0.90,
        });
    }
    let rmcp = report
        .summary
        .iter()
        .find(|s| s.config == Config::StackRmcp);
    if let Some(ratio) = rmcp.and_then(|s| s.ratio_to_bare) {
        out.push(Target {
            name: "repeated tokens, rmcp server: full stack throughput ÷ the same rmcp server bare"
                .into(),
            requirement: "≥ 0.90".into(),
            measured: format!("{:.3}", ratio[0]),
            met: ratio[0] >= 0.90,
        });
    }
    if let Some(vs) = report.proxies.as_ref().and_then(|p| p.gateway_vs_nginx) {
        out.push(Target {
            name: "proxying: mcp-auth-gateway (full stack) throughput ÷ nginx (plain reverse proxy), same upstream"
                .into(),
            requirement: "≥ 0.80".into(),
            measured: format!("{vs:.3}"),
            met: vs >= 0.80,
        });
    }
    if let Some(vs) = stack.and_then(|s| s.rps_vs_jwt_authorizer) {
        out.push(Target {
            name: "repeated tokens: full stack throughput ÷ jwt-authorizer".into(),
            requirement: "≥ 6".into(),
            measured: format!("{vs:.2}"),
            met: vs >= 6.0,
        });
    }
    for micro in &report.first_sight_micro {
        out.push(Target {
            name: format!(
                "first sight ({}): verify ÷ bare jsonwebtoken decode, in process",
                micro.algorithm
            ),
            requirement: "≤ 1.2".into(),
            measured: format!("{:.3}", micro.ratio),
            met: micro.ratio <= 1.2,
        });
    }
    for flood in &report.flood {
        out.push(Target {
            name: format!(
                "random-kid flood at {:.0} req/s for {:.0} s, refresh interval {} s{}: JWKS fetches in any one interval",
                flood.rps,
                flood.wrk.duration_us as f64 / 1e6,
                flood.refresh_interval_s,
                if flood.default_interval { " (default)" } else { "" }
            ),
            requirement: "≤ 1".into(),
            measured: format!(
                "{} ({} fetches in {:.1} intervals)",
                flood.max_fetches_in_any_interval,
                flood.fetch_times_s.len(),
                flood.intervals
            ),
            met: flood.max_fetches_in_any_interval <= 1
                && flood.all_refused
                && flood.valid_after == 200
                && flood.tampered_after == 401,
        });
    }
    if let Some(memory) = &report.memory {
        out.push(Target {
            name: format!(
                "memory: peak RSS after {} distinct tokens ÷ peak RSS once the cache was full",
                memory.tokens
            ),
            requirement: "bounded (≤ 1.10)".into(),
            measured: format!("{:.3}", memory.growth_after_cache_full),
            met: memory.growth_after_cache_full <= 1.10 && memory.all_accepted,
        });
    }
    out
}

/// The targets that fail the run when missed: the flood's fetch bound and the memory bound are
/// correctness criteria; the throughput ratios are goals, reported as met or missed.
pub(crate) fn missed_criteria(targets: &[Target]) -> Vec<String> {
    targets
        .iter()
        .filter(|t| {
            !t.met && (t.name.starts_with("random-kid flood") || t.name.starts_with("memory:"))
        })
        .map(|t| {
            format!(
                "{} (required {}, measured {})",
                t.name, t.requirement, t.measured
            )
        })
        .collect()
}

/// Writes `results.json`, `results.md` and `throughput.svg` into `dir`.
pub(crate) fn write(report: &Report, dir: &std::path::Path) -> Result<(), BoxError> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(report)? + "\n",
    )?;
    std::fs::write(dir.join("results.md"), markdown(report))?;
    std::fs::write(dir.join("throughput.svg"), super::svg::chart(report))?;
    Ok(())
}

fn proxy_section(md: &mut String, proxies: &ProxyComparison) {
    let _ = writeln!(
        md,
        "\n## Proxies: the upstream directly, through nginx, through the gateway\n"
    );
    let _ = writeln!(
        md,
        "The same upstream (`loadbench-server --config upstream-direct`: the handler, no \
         authentication) loaded directly, through nginx as a plain reverse proxy (keep-alive \
         upstream connections, `proxy_buffering off`, one worker, no access log) and through \
         `mcp-auth-gateway` with the full stack (verification against the JWKS, client identity, \
         the scope policy, audit to a file). The proxy and the upstream share the server core \
         (core 0); wrk runs on the other. \"Added\" is the median of the per-round differences \
         from upstream-direct. The p50 at the run's connections is mostly queueing behind the \
         other connections (about connections ÷ throughput); the one-connection p50, measured \
         right after each run, is what the hop adds to one request. Server-core CPU is the \
         upstream's and the proxy's together.\n"
    );
    let _ = writeln!(
        md,
        "| configuration | req/s | ÷ direct | p50 µs | added p50 µs | p50 µs, 1 connection | added p50 µs, 1 connection | p99 µs, 1 connection | server-core CPU µs/req | proxy CPU µs/req |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let opt =
        |v: Option<f64>, digits: usize| v.map_or_else(|| "—".into(), |v| format!("{v:.digits$}"));
    let signed = |v: Option<f64>| v.map_or_else(|| "—".into(), |v| format!("{v:+.0}"));
    for row in &proxies.rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {:.1} | {} |",
            row.config.name(),
            thousands(row.rps),
            ratio(row.rps_vs_direct),
            row.p50_us,
            signed(row.added_p50_us),
            opt(row.one_connection_p50_us, 0),
            signed(row.added_one_connection_p50_us),
            opt(row.one_connection_p99_us, 0),
            row.cpu_us_per_request,
            opt(row.proxy_cpu_us_per_request, 1),
        );
    }
    if let Some(vs) = proxies.gateway_vs_nginx {
        let _ = writeln!(
            md,
            "\nGateway ÷ nginx throughput (median of the per-round ratios): **{vs:.3}** (goal ≥ 0.80: {}).",
            if vs >= 0.80 { "met" } else { "missed" }
        );
    }
}

fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ratio(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.2}"))
}

/// The Markdown report.
pub fn markdown(r: &Report) -> String {
    let mut md = String::new();
    let m = &r.machine;
    let p = &r.parameters;
    let _ = writeln!(md, "# mcp-auth loopback load benchmark\n");
    let _ = writeln!(
        md,
        "Machine: {} logical CPUs, {}, {} GiB RAM, Linux {}; {}; {}. Started {}. Source: {}.\n",
        m.cpus, m.cpu_model, m.memory_gib, m.kernel, m.rustc, m.wrk, m.started, p.source_revision
    );
    let _ = writeln!(
        md,
        "Run: `loadbench/run.sh{}` — {} round(s) × {} s per configuration (after {} s warm-up), \
         configurations interleaved with the order rotated each round; wrk {} thread(s), {} \
         keep-alive connections, pinned to core {}; server pinned to core {}. Tokens {} \
         (one key, served as a JWKS over loopback http to every configuration). CPUs {:.0}% busy \
         in the second before the run; load average at start {:.2} / {:.2} / {:.2}, at end \
         {:.2} / {:.2} / {:.2}.\n",
        if p.quick { " --quick" } else { "" },
        p.rounds,
        p.duration_s,
        p.warmup_s,
        p.wrk.threads,
        p.wrk.connections,
        p.load_core,
        p.server_core,
        p.algorithm,
        p.cpu_busy_before_start * 100.0,
        r.load_average[0][0],
        r.load_average[0][1],
        r.load_average[0][2],
        r.load_average[1][0],
        r.load_average[1][1],
        r.load_average[1][2],
    );

    let _ = writeln!(md, "## Summary (median over rounds)\n");
    let _ = writeln!(
        md,
        "\"÷ base\" divides by the same server without authentication in the same round: `bare` (a plain axum handler) for most rows, `bare-rmcp` (rmcp's Streamable HTTP service with the same tool) for the rmcp pair, `upstream-direct` (the upstream the proxies forward to) for nginx and the gateway, whose server CPU is the upstream's and the proxy's together.\n"
    );
    let _ = writeln!(
        md,
        "| configuration | req/s | ÷ base | p50 µs | ÷ base | p99 µs | ÷ base | server CPU µs/req | ÷ base | CPU util | vs jwt-authorizer |"
    );
    let _ = writeln!(
        md,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for s in &r.summary {
        let rb = s.ratio_to_bare;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.0} | {} | {:.0} | {} | {:.1} | {} | {:.2} | {} |",
            s.config.name(),
            thousands(s.rps),
            ratio(rb.map(|r| r[0])),
            s.p50_us,
            ratio(rb.map(|r| r[1])),
            s.p99_us,
            ratio(rb.map(|r| r[2])),
            s.cpu_us_per_request,
            ratio(rb.map(|r| r[3])),
            s.server_cpu_utilisation,
            s.rps_vs_jwt_authorizer
                .map_or_else(|| "—".into(), |v| format!("{v:.2}×")),
        );
    }
    if let Some(fs) = r
        .summary
        .iter()
        .find(|s| s.config == Config::StackFirstSight)
        && let Some(miss) = fs.cache_miss_ratio
    {
        let twins: Vec<f64> = r
            .runs
            .iter()
            .filter_map(|run| {
                run.cache
                    .as_ref()
                    .map(|c| c.observed_run_cpu_us_per_request)
            })
            .collect();
        let _ = writeln!(
            md,
            "\nFirst sight: {} distinct tokens cycled through a verified-token cache of {}. The \
             cache miss ratio, observed exactly by the handler in a twin run after each measured \
             one (same pool, order and cache), was {:.4} (median over rounds): {:.2}% of requests \
             were verified in full. The twin run holds every principal it has seen (to compare \
             addresses), which makes the heap far larger and costs it {:.1} µs per request more \
             (median {:.1} µs/req), so the measured run does not observe.",
            thousands(p.first_sight_pool as f64),
            p.first_sight_cache,
            miss,
            miss * 100.0,
            median(&twins) - fs.cpu_us_per_request,
            median(&twins),
        );
    }

    if let Some(proxies) = &r.proxies {
        proxy_section(&mut md, proxies);
    }

    let _ = writeln!(md, "\n## Every round\n");
    let _ = writeln!(
        md,
        "| round | # | configuration | load avg | req/s | ÷ base | p50 µs | ÷ base | p99 µs | ÷ base | CPU µs/req | ÷ base | server CPU util | core busy | core irq | load core busy | ctx switches/req | cache miss ratio |"
    );
    let _ = writeln!(
        md,
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for run in &r.runs {
        let rb = run.ratio_to_bare.as_ref();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {:.2} | {:.2} | {} | {} | {:.2} | {} |",
            run.round,
            run.position,
            run.config.name(),
            run.load_average_start[0],
            thousands(run.rps),
            ratio(rb.map(|r| r.rps)),
            run.p50_us,
            ratio(rb.map(|r| r.p50)),
            run.p99_us,
            ratio(rb.map(|r| r.p99)),
            run.cpu_us_per_request,
            ratio(rb.map(|r| r.cpu_per_request)),
            run.server_cpu_utilisation,
            run.server_core_busy,
            ratio(run.server_core_irq),
            ratio(run.load_core_busy),
            run.context_switches_per_request,
            run.cache
                .as_ref()
                .map_or_else(|| "—".into(), |c| format!("{:.4}", c.miss_ratio)),
        );
    }
    let _ = writeln!(
        md,
        "\nEvery authenticated configuration answered 200 to a valid token and 401 to no token, \
         a tampered signature, tampered claims, an expired token, a token for another \
         audience and a token not yet valid (`nbf`), before and after each measurement (the run stops otherwise)."
    );

    if !r.flood.is_empty() {
        let _ = writeln!(md, "\n## Random-kid flood (full stack)\n");
        let _ = writeln!(
            md,
            "| refresh interval | duration | req/s | all refused | CPU µs/req | JWKS fetches (s from start) | min gap s | intervals | fetches / interval | max in any interval | valid after | tampered after |"
        );
        let _ = writeln!(
            md,
            "|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|"
        );
        for f in &r.flood {
            let _ = writeln!(
                md,
                "| {} s{} | {:.0} s | {} | {} | {:.1} | {} | {} | {:.1} | {:.2} | {} | {} | {} |",
                f.refresh_interval_s,
                if f.default_interval { " (default)" } else { "" },
                f.wrk.duration_us as f64 / 1e6,
                thousands(f.rps),
                if f.all_refused { "yes (401)" } else { "NO" },
                f.cpu_us_per_request,
                if f.fetch_times_s.is_empty() {
                    "none".to_owned()
                } else {
                    f.fetch_times_s
                        .iter()
                        .map(|t| format!("{t:.3}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                f.min_gap_s
                    .map_or_else(|| "—".into(), |g| format!("{g:.3}")),
                f.intervals,
                f.fetches_per_interval,
                f.max_fetches_in_any_interval,
                f.valid_after,
                f.tampered_after,
            );
        }
    }

    if let Some(mem) = &r.memory {
        let _ = writeln!(md, "\n## Memory after distinct valid tokens (full stack)\n");
        let _ = writeln!(
            md,
            "{} distinct {} tokens, each sent once, verified-token cache at its default capacity of {}; \
             every request answered 200: {}.\n",
            thousands(mem.tokens as f64),
            mem.algorithm,
            thousands(mem.token_cache_capacity as f64),
            if mem.all_accepted { "yes" } else { "NO" }
        );
        let _ = writeln!(md, "| tokens | RSS MiB | peak RSS MiB | seconds |");
        let _ = writeln!(md, "|---:|---:|---:|---:|");
        for c in &mem.checkpoints {
            let _ = writeln!(
                md,
                "| {} | {:.1} | {:.1} | {:.0} |",
                thousands(c.tokens as f64),
                c.rss_kib as f64 / 1024.0,
                c.peak_rss_kib as f64 / 1024.0,
                c.elapsed_s
            );
        }
    }

    if !r.first_sight_micro.is_empty() {
        let _ = writeln!(md, "\n## First sight in process\n");
        let _ = writeln!(
            md,
            "`Verifier::verify` on tokens it has not cached, beside `jsonwebtoken::decode` (aws-lc-rs) \
             of the same tokens with iss/aud/exp/sub checks; median of the trials, on one core.\n"
        );
        let _ = writeln!(
            md,
            "| algorithm | tokens | mcp-auth verify µs | jsonwebtoken decode µs | ratio |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|");
        for m in &r.first_sight_micro {
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {:.2} | {:.3} |",
                m.algorithm,
                m.tokens,
                m.verify_ns / 1000.0,
                m.decode_ns / 1000.0,
                m.ratio
            );
        }
    }

    let _ = writeln!(md, "\n## Targets\n");
    let _ = writeln!(md, "| target | required | measured | met |");
    let _ = writeln!(md, "|---|---|---|---|");
    for t in &r.targets {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            t.name,
            t.requirement,
            t.measured,
            if t.met { "yes" } else { "**no**" }
        );
    }
    md
}
