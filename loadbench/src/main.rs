//! `loadbench run [options]` — the whole benchmark (see `loadbench/README.md`).
//! `loadbench render results/results.json` — rewrites results.md and throughput.svg from it.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use mcp_auth_loadbench::Config;
use mcp_auth_loadbench::bench::{self, RunOptions, checkpoints};

const USAGE: &str = "usage:
  loadbench run [--quick] [--rounds N] [--duration SECS] [--warmup SECS] [--connections N]
                [--threads N] [--pool N] [--first-sight-cache N] [--memory-tokens N]
                [--micro-tokens N] [--configs a,b,...] [--no-flood] [--out DIR]
  loadbench profile CONFIG [--seconds N] [--call-graph | --callgrind] [run options]
  loadbench render RESULTS_JSON";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("run") => match parse_run(&args[1..]) {
            Ok(options) => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime")
                .block_on(bench::run(options))
                .map(|_| ()),
            Err(message) => Err(message.into()),
        },
        Some("profile") if args.len() >= 2 => profile(&args[1..]),
        Some("render") if args.len() == 2 => bench::render(&PathBuf::from(&args[1])),
        _ => Err(USAGE.into()),
    };
    if let Err(e) = outcome {
        eprintln!("loadbench: {e}");
        std::process::exit(1);
    }
}

fn profile(args: &[String]) -> Result<(), mcp_auth_loadbench::bench::BoxError> {
    let config = Config::parse(&args[0]).ok_or(format!("unknown config `{}`", args[0]))?;
    let mut seconds = 10;
    let mut profiler = bench::Profiler::Perf;
    let mut rest = Vec::new();
    let mut it = args[1..].iter();
    while let Some(arg) = it.next() {
        if arg == "--seconds" {
            seconds = it
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or("--seconds needs a number")?;
        } else if arg == "--call-graph" {
            profiler = bench::Profiler::PerfCallGraph;
        } else if arg == "--callgrind" {
            profiler = bench::Profiler::Callgrind;
        } else {
            rest.push(arg.clone());
        }
    }
    let mut options = parse_run(&rest)?;
    // Only the pool the configuration needs, and only what it needs started (Redis, nginx).
    options.micro_tokens = 0;
    options.configs = vec![config];
    if config != Config::StackFirstSight {
        options.first_sight_pool = 1;
    }
    options.out = options.out.join("profile");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(bench::profile(options, config, seconds, profiler))
}

fn parse_run(args: &[String]) -> Result<RunOptions, String> {
    let mut options = if args.iter().any(|a| a == "--quick") {
        RunOptions::quick()
    } else {
        RunOptions::full()
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{arg}: {e}"));
        match arg.as_str() {
            "--quick" => {}
            "--rounds" => options.rounds = number(value()?)?.max(1) as usize,
            "--duration" => options.duration = Duration::from_secs(number(value()?)?.max(1)),
            "--warmup" => options.warmup = Duration::from_secs(number(value()?)?.max(1)),
            "--connections" => options.wrk.connections = number(value()?)?.max(1) as u32,
            "--threads" => options.wrk.threads = number(value()?)?.max(1) as u32,
            "--pool" => options.first_sight_pool = number(value()?)?.max(1) as usize,
            "--first-sight-cache" => options.first_sight_cache = number(value()?)?.max(1) as usize,
            "--memory-tokens" => {
                options.memory_tokens = number(value()?)?;
                options.memory_checkpoints = checkpoints(options.memory_tokens);
            }
            "--micro-tokens" => options.micro_tokens = number(value()?)? as usize,
            "--configs" => {
                options.configs = value()?
                    .split(',')
                    .map(|name| Config::parse(name).ok_or(format!("unknown config `{name}`")))
                    .collect::<Result<_, _>>()?;
            }
            "--no-flood" => options.floods.clear(),
            "--out" => options.out = PathBuf::from(value()?),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(options)
}
