//! Unit tests of the orchestrator's arithmetic and parsing (the benchmark itself is exercised by
//! `run.sh --quick`).

use super::flood::{min_gap, most_in_window};
use super::wrk::WrkResult;
use super::{checkpoints, median, proc};
use crate::Config;

#[test]
fn every_configuration_parses_back_from_its_name() {
    for config in Config::ALL
        .into_iter()
        .chain(Config::ABLATION)
        .chain(Config::PROXY_ABLATION)
    {
        assert_eq!(Config::parse(config.name()), Some(config));
    }
    assert_eq!(Config::parse("no-such-config"), None);
    assert!(!Config::Bare.authenticated());
    assert!(!Config::InspectOnly.authenticated());
    assert!(Config::JwtAuthorizer.authenticated());
    assert!(Config::StackFirstSight.first_sight() && !Config::Stack.first_sight());
}

#[test]
fn enforcement_checks_go_where_the_layers_are() {
    assert!(Config::Stack.enforces_scopes() && Config::Stack.enforces_clients());
    assert!(Config::StackRmcp.enforces_scopes() && Config::StackRmcp.enforces_clients());
    assert!(Config::StackDpop.enforces_scopes() && Config::StackDpop.dpop());
    assert!(!Config::Stack.dpop());
    assert!(!Config::StackNoScopes.enforces_scopes() && Config::StackNoScopes.enforces_clients());
    assert!(Config::StackNoClients.enforces_scopes() && !Config::StackNoClients.enforces_clients());
    assert!(
        !Config::JwtAuthorizer.enforces_scopes() && !Config::StackVerifyOnly.enforces_clients()
    );
}

#[test]
fn the_handled_count_must_match_what_wrk_completed() {
    use super::checks::cross_check;
    assert!(cross_check(1_000, 1_000, 32).is_ok());
    assert!(
        cross_check(1_064, 1_000, 32).is_ok(),
        "in flight when the wrk runs stopped"
    );
    assert!(
        cross_check(999, 1_000, 32).is_err(),
        "answered without the service"
    );
    assert!(
        cross_check(1_065, 1_000, 32).is_err(),
        "load from elsewhere"
    );
}

#[test]
fn only_the_flood_and_memory_bounds_fail_the_run() {
    use super::report::{Target, missed_criteria};
    let target = |name: &str, met: bool| Target {
        name: name.into(),
        requirement: "r".into(),
        measured: "m".into(),
        met,
    };
    let targets = [
        target("repeated tokens: full stack throughput ÷ bare", false),
        target(
            "random-kid flood at 50000 req/s for 10 s, refresh interval 30 s: JWKS fetches in any one interval",
            false,
        ),
        target(
            "memory: peak RSS after 1000000 distinct tokens ÷ peak RSS once the cache was full",
            true,
        ),
    ];
    let missed = missed_criteria(&targets);
    assert_eq!(missed.len(), 1);
    assert!(missed[0].starts_with("random-kid flood"));
}

#[test]
fn median_of_odd_even_and_empty() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    assert!(median(&[]).is_nan());
}

#[test]
fn memory_checkpoints_fill_then_tenths() {
    assert_eq!(
        checkpoints(1_000_000),
        [
            10_000, 20_000, 50_000, 100_000, 200_000, 300_000, 400_000, 500_000, 600_000, 700_000,
            800_000, 900_000, 1_000_000
        ]
    );
    assert_eq!(checkpoints(20_000)[..3], [2_000, 4_000, 6_000]);
    assert!(checkpoints(0).is_empty());
}

#[test]
fn fetches_per_window_and_gaps() {
    // One fetch every 30 s is one per 30 s window, even 1 ms early (within tolerance the
    // caller subtracts from the window).
    assert_eq!(most_in_window(&[29.999, 59.998], 29.95), 1);
    assert_eq!(most_in_window(&[1.0, 1.5, 2.6], 1.0), 2);
    assert_eq!(most_in_window(&[], 1.0), 0);
    assert_eq!(min_gap(&[1.0, 2.5, 3.0]), Some(0.5));
    assert_eq!(min_gap(&[1.0]), None);
}

#[test]
fn wrk_done_line_parses() {
    let line = r#"{"requests":1000,"duration_us":2000000,"bytes":123,"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":3},"latency_us":{"mean":250.5,"p50":240,"p90":300,"p99":900,"max":1200}}"#;
    let result: WrkResult = serde_json::from_str(line).unwrap();
    assert_eq!(result.rps(), 500.0);
    assert_eq!(result.errors.socket(), 4);
    assert_eq!(result.errors.status, 2);
    assert_eq!(result.latency_us.p99, 900);
}

#[test]
fn proc_accounting_of_this_process() {
    let pid = std::process::id();
    // Spend CPU until the counter (10 ms ticks) moves; a bounded wait, not a fixed one.
    let start = proc::cpu_seconds(pid).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut x = 0u64;
    while proc::cpu_seconds(pid).unwrap() <= start {
        assert!(std::time::Instant::now() < deadline, "CPU time never moved");
        for i in 0..100_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
    let (rss, peak) = proc::memory_kib(pid).unwrap();
    assert!(rss > 0 && peak >= rss);
    assert!(proc::context_switches(pid).is_ok());
    let (busy, total) = proc::core_ticks("0").unwrap();
    assert!(total > 0 && busy <= total);
}

#[test]
fn the_proxy_comparison_is_against_the_upstream_alone() {
    use crate::Proxy;
    for config in Config::PROXIES.into_iter().chain(Config::PROXY_ABLATION) {
        assert_eq!(config.baseline(), Config::UpstreamDirect);
    }
    assert_eq!(Config::GatewayVerifyOnly.proxy(), Some(Proxy::Gateway));
    assert_eq!(Config::HyperProxy.proxy(), Some(Proxy::Hyper));
    assert!(!Config::HyperProxy.authenticated() && Config::GatewayVerifyOnly.authenticated());
    assert!(Config::GatewayNoAudit.enforces_scopes() && !Config::GatewayNoAudit.is_stack());
    assert!(!Config::GatewayVerifyOnly.enforces_scopes());
    assert!(!Config::GatewayVerifyOnly.enforces_clients());
    assert_eq!(Config::UpstreamDirect.proxy(), None);
    assert_eq!(Config::Nginx.proxy(), Some(Proxy::Nginx));
    assert_eq!(Config::Gateway.proxy(), Some(Proxy::Gateway));
    assert_eq!(Config::Stack.proxy(), None);
    assert!(!Config::UpstreamDirect.authenticated() && !Config::Nginx.authenticated());
    // The gateway is checked as the stack is: 401s, and 403 for the scope and the client.
    assert!(Config::Gateway.authenticated());
    assert!(Config::Gateway.enforces_scopes() && Config::Gateway.enforces_clients());
    assert!(Config::Gateway.is_stack() && !Config::Gateway.dpop());
}

#[test]
fn nginx_is_a_plain_keep_alive_reverse_proxy_writing_only_in_its_directory() {
    use super::nginx::config;
    let text = config(
        std::path::Path::new("/scratch/nginx-0"),
        "127.0.0.1:8081".parse().unwrap(),
        "127.0.0.1:9000".parse().unwrap(),
    );
    for line in [
        "worker_processes 1;",
        "pid /scratch/nginx-0/nginx.pid;",
        "error_log /scratch/nginx-0/error.log error;",
        "access_log off;",
        "client_body_temp_path /scratch/nginx-0/client_body;",
        "proxy_temp_path /scratch/nginx-0/proxy;",
        "server 127.0.0.1:9000;",
        "keepalive 64;",
        "listen 127.0.0.1:8081;",
        "proxy_pass http://mcp_upstream;",
        "proxy_http_version 1.1;",
        "proxy_set_header Connection \"\";",
        "proxy_buffering off;",
    ] {
        assert!(
            text.lines().any(|l| l.trim() == line),
            "missing `{line}`:\n{text}"
        );
    }
    // Every path it writes is in its directory; no connection is closed for its request count.
    for l in text.lines().map(str::trim) {
        if l.contains("_path ") || l.starts_with("pid ") || l.starts_with("error_log ") {
            assert!(l.contains("/scratch/nginx-0/"), "{l}");
        }
    }
    assert_eq!(text.matches("keepalive_requests 100000000;").count(), 2);
    assert_eq!(text.matches('{').count(), text.matches('}').count());
}

#[test]
fn parent_pid_from_proc_stat() {
    assert_eq!(
        proc::parent_of("4242 (nginx) S 4241 4241 4241 0 -1 4194560 ..."),
        Some(4241)
    );
    // A name with spaces and parentheses.
    assert_eq!(proc::parent_of("7 (a) b (c)) R 1 7 7"), Some(1));
    assert_eq!(proc::parent_of("garbage"), None);
    // This process's children include a child it starts.
    let mut child = std::process::Command::new("sleep")
        .arg("5")
        .spawn()
        .unwrap();
    let children = proc::children(std::process::id());
    let _ = child.kill();
    let _ = child.wait();
    assert!(children.contains(&child.id()), "{children:?}");
}

fn record(config: Config, round: usize, rps: f64, p50: u64, one_p50: u64) -> super::RunRecord {
    use super::rounds::OneConnection;
    use super::wrk::{Latency, WrkErrors};
    super::RunRecord {
        round,
        position: 1,
        config,
        load_average_start: [0.0; 3],
        wrk: WrkResult {
            requests: (rps * 10.0) as u64,
            duration_us: 10_000_000,
            bytes: 0,
            errors: WrkErrors {
                connect: 0,
                read: 0,
                write: 0,
                status: 0,
                timeout: 0,
            },
            latency_us: Latency {
                mean: p50 as f64,
                p50,
                p90: p50,
                p99: p50,
                max: p50,
            },
        },
        rps,
        p50_us: p50,
        p99_us: p50,
        server_cpu_s: 1.0,
        cpu_us_per_request: 1e6 / rps,
        context_switches_per_request: 0.0,
        server_cpu_utilisation: 1.0,
        server_core_busy: 1.0,
        server_core_irq: Some(0.0),
        load_core_busy: Some(0.5),
        proxy_cpu_us_per_request: config.proxy().map(|_| 5.0),
        one_connection: Some(OneConnection {
            requests: 1,
            rps: 1e6 / one_p50 as f64,
            p50_us: one_p50,
            p90_us: one_p50,
            p99_us: one_p50,
        }),
        handled: 0,
        cache: None,
        checks: Vec::new(),
        ratio_to_bare: None,
    }
}

#[test]
fn proxies_are_compared_round_by_round() {
    use super::report::proxy_comparison;
    assert!(proxy_comparison(&[record(Config::Stack, 1, 1.0, 1, 1)]).is_none());
    let runs = [
        record(Config::UpstreamDirect, 1, 100_000.0, 300, 60),
        record(Config::Nginx, 1, 50_000.0, 600, 70),
        record(Config::Gateway, 1, 40_000.0, 800, 100),
        // A slower round: the ratios are taken within each round.
        record(Config::UpstreamDirect, 2, 50_000.0, 600, 80),
        record(Config::Nginx, 2, 25_000.0, 1_200, 100),
        record(Config::Gateway, 2, 22_500.0, 1_400, 130),
        record(Config::Gateway, 3, 1.0, 1, 1), // no nginx, no direct in round 3
    ];
    let comparison = proxy_comparison(&runs).unwrap();
    let names: Vec<Config> = comparison.rows.iter().map(|r| r.config).collect();
    assert_eq!(names, Config::PROXIES);
    // Gateway ÷ nginx: 0.8 and 0.9 → 0.85.
    assert!((comparison.gateway_vs_nginx.unwrap() - 0.85).abs() < 1e-9);
    let gateway = &comparison.rows[2];
    assert!((gateway.rps_vs_direct.unwrap() - 0.425).abs() < 1e-9);
    // Added p50: +500 and +800 → +650; one connection: +40 and +50 → +45.
    assert_eq!(gateway.added_p50_us, Some(650.0));
    assert_eq!(gateway.added_one_connection_p50_us, Some(45.0));
    assert_eq!(gateway.proxy_cpu_us_per_request, Some(5.0));
    let direct = &comparison.rows[0];
    assert_eq!(direct.added_p50_us, Some(0.0));
    assert_eq!(direct.proxy_cpu_us_per_request, None);
}

#[test]
fn the_gateway_goal_is_reported_not_enforced() {
    use super::report::{Report, missed_criteria, targets};
    let runs = vec![
        record(Config::UpstreamDirect, 1, 100_000.0, 300, 60),
        record(Config::Nginx, 1, 50_000.0, 600, 70),
        record(Config::Gateway, 1, 30_000.0, 800, 100),
    ];
    let json = serde_json::json!({
        "machine": {"cpus": 2, "cpu_model": "x", "memory_gib": 1.0, "kernel": "k", "rustc": "r", "wrk": "w", "started": "s"},
        "parameters": {"quick": true, "rounds": 1, "duration_s": 1, "warmup_s": 1,
            "wrk": {"connections": 32, "threads": 1}, "server_core": "0", "load_core": "1",
            "algorithm": "RS256", "repeated_tokens": 1, "first_sight_pool": 1,
            "first_sight_cache": 1, "first_sight_mint_s": 0.0},
        "load_average": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        "runs": [], "summary": [], "flood": [], "memory": null, "first_sight_micro": [], "targets": []
    });
    let mut report: Report = serde_json::from_value(json).unwrap();
    report.proxies = super::report::proxy_comparison(&runs);
    report.runs = runs;
    let targets = targets(&report);
    let goal = targets
        .iter()
        .find(|t| t.name.contains("nginx"))
        .expect("the gateway ÷ nginx goal");
    assert_eq!(goal.measured, "0.600");
    assert!(!goal.met);
    assert!(missed_criteria(&targets).is_empty());
    let md = super::report::markdown(&report);
    assert!(md.contains("Gateway ÷ nginx throughput"), "{md}");
    assert!(md.contains("| gateway | 30,000 | 0.30 |"), "{md}");
}
