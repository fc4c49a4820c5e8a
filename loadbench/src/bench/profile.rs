//! `loadbench profile CONFIG`: where the server's time goes under the benchmark's load.

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

use super::checks;
use super::deploy::Deployment;
use super::proc::cpu_seconds_of;
use super::rounds::{load, spec_for};
use super::wrk::{self, LOAD_CORE};
use super::{BoxError, Context, log};
use crate::Config;

/// How to profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profiler {
    /// `perf record`, flat (self time per symbol and per thread).
    Perf,
    /// `perf record` with DWARF call graphs (adds inclusive time; heavier).
    PerfCallGraph,
    /// `valgrind --tool=callgrind`: exact instruction counts, inclusive per function, user space
    /// only; the server runs some 50 times slower.
    Callgrind,
}

pub(crate) async fn run(
    ctx: &Context,
    config: Config,
    seconds: u64,
    profiler: Profiler,
    out: &Path,
) -> Result<(), BoxError> {
    if profiler == Profiler::Callgrind {
        return callgrind(ctx, config, seconds, out).await;
    }
    let call_graph = profiler == Profiler::PerfCallGraph;
    let audit_dir = ctx.tmp.join(format!("audit-profile-{}", config.name()));
    std::fs::create_dir_all(&audit_dir)?;
    let server = Deployment::start(ctx, &spec_for(ctx, config, &audit_dir)).await?;
    let url = server.mcp_url();
    // Behind a proxy, the proxy's processes (the upstream is upstream-direct, profiled alone).
    let pids = server.profiled_pids();
    let pid_list = pids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let result = async {
        checks::wait_ready(&ctx.client, &url, &ctx.check_tokens.valid).await?;
        checks::run(&ctx.client, &url, config, &ctx.check_tokens).await?;
        let (lua, args) = load(ctx, config, ctx.options.warmup, "warm-up")?;
        wrk::run(&ctx.wrk, &url, &lua, &args, ctx.options.warmup).await?;
        let (lua, args) = load(
            ctx,
            config,
            std::time::Duration::from_secs(seconds),
            "profiled",
        )?;
        let data = out.join(format!("perf-{}.data", config.name()));
        // perf itself runs on the load core; its samples are taken on the server's.
        let mut perf = Command::new("taskset");
        perf.args(["-c", LOAD_CORE, "perf", "record"]);
        if call_graph {
            perf.args(["-F", "999", "--call-graph", "dwarf,32768"]);
        } else {
            perf.args(["-F", "4999"]);
        }
        let perf = perf
            .arg("-o")
            .arg(&data)
            .args(["-p", &pid_list, "--", "sleep"])
            .arg(seconds.to_string())
            .kill_on_drop(true)
            .output();
        let cpu_before = cpu_seconds_of(&pids)?;
        let (perf, load) = tokio::join!(
            perf,
            wrk::run(&ctx.wrk, &url, &lua, &args, Duration::from_secs(seconds))
        );
        let cpu_after = cpu_seconds_of(&pids)?;
        let perf = perf?;
        let load = load?;
        if !perf.status.success() {
            return Err(format!(
                "perf record failed: {}",
                String::from_utf8_lossy(&perf.stderr)
            )
            .into());
        }
        log(&format!(
            "profile {}: {:.0} req/s, {:.1} µs CPU per request (perf running)",
            config.name(),
            load.rps(),
            (cpu_after - cpu_before) * 1e6 / load.requests.max(1) as f64
        ));
        let mut reports = vec![
            ("self", vec!["--no-children", "--sort", "dso,symbol"]),
            ("threads", vec!["--no-children", "--sort", "comm"]),
        ];
        if call_graph {
            reports.push((
                "inclusive",
                vec!["--children", "--sort", "symbol", "-g", "none"],
            ));
        }
        for (suffix, extra) in reports {
            let report = Command::new("perf")
                .args(["report", "--stdio", "--percent-limit", "0.3", "-i"])
                .arg(&data)
                .args(&extra)
                .output()
                .await?;
            let path = out.join(format!("profile-{}-{suffix}.txt", config.name()));
            std::fs::write(&path, &report.stdout)?;
            log(&format!("wrote {}", path.display()));
        }
        Ok::<_, BoxError>(())
    }
    .await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&audit_dir);
    result
}

async fn callgrind(
    ctx: &Context,
    config: Config,
    seconds: u64,
    out: &Path,
) -> Result<(), BoxError> {
    let audit_dir = ctx.tmp.join(format!("audit-callgrind-{}", config.name()));
    std::fs::create_dir_all(&audit_dir)?;
    let data = out.join(format!("callgrind-{}.out", config.name()));
    let mut spec = spec_for(ctx, config, &audit_dir);
    spec.wrapper = vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        format!("--callgrind-out-file={}", data.display()),
        "--dump-instr=no".into(),
    ];
    let server = Deployment::start(ctx, &spec).await?;
    let url = server.mcp_url();
    let result = async {
        checks::wait_ready(&ctx.client, &url, &ctx.check_tokens.valid).await?;
        checks::run(&ctx.client, &url, config, &ctx.check_tokens).await?;
        let (lua, args) = load(ctx, config, Duration::from_secs(seconds), "profiled")?;
        let before = server.stats(&ctx.client).await?;
        let load = wrk::run(&ctx.wrk, &url, &lua, &args, Duration::from_secs(seconds)).await?;
        let after = server.stats(&ctx.client).await?;
        Ok::<_, BoxError>((load, after.handled - before.handled))
    }
    .await;
    server.terminate(Duration::from_secs(120)).await;
    let _ = std::fs::remove_dir_all(&audit_dir);
    let (load, handled) = result?;
    let annotate = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=99.5"])
        .arg(&data)
        .output()
        .await?;
    let path = out.join(format!("profile-{}-callgrind.txt", config.name()));
    let mut text = format!(
        "# {} under callgrind: {} requests handled during the load ({} by wrk, {:.0} req/s)\n# plus start-up and the checks; divide a per-request function's Ir by the requests.\n",
        config.name(),
        handled,
        load.requests,
        load.rps()
    );
    text.push_str(&String::from_utf8_lossy(&annotate.stdout));
    std::fs::write(&path, text)?;
    log(&format!(
        "callgrind {}: {handled} requests; wrote {}",
        config.name(),
        path.display()
    ));
    Ok(())
}
