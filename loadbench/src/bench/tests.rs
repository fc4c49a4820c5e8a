//! Unit tests of the orchestrator's arithmetic and parsing (the benchmark itself is exercised by
//! `run.sh --quick`).

use super::flood::{min_gap, most_in_window};
use super::wrk::WrkResult;
use super::{checkpoints, median, proc};
use crate::Config;

#[test]
fn every_configuration_parses_back_from_its_name() {
    for config in Config::ALL.into_iter().chain(Config::ABLATION) {
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
