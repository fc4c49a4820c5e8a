//! The throughput chart: one bar per configuration (median over rounds), a whisker from the
//! slowest to the fastest round, and the ratios as labels. Plain SVG, no dependencies.

use std::fmt::Write as _;

use super::report::Report;
use crate::Config;

const WIDTH: f64 = 900.0;
const LEFT: f64 = 230.0;
const RIGHT: f64 = 250.0;
const ROW: f64 = 46.0;
const TOP: f64 = 70.0;

/// The chart for `report`.
pub(crate) fn chart(report: &Report) -> String {
    let rows = &report.summary;
    let proxies = rows.iter().any(|s| s.config.proxy().is_some());
    let height = TOP + ROW * rows.len() as f64 + 78.0 + if proxies { 18.0 } else { 0.0 };
    let max = rows.iter().map(|s| s.rps_range[1]).fold(1.0_f64, f64::max);
    let scale = (WIDTH - LEFT - RIGHT) / nice_ceiling(max);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="20" y="28" font-size="17" font-weight="bold">Throughput of one MCP tools/call handler (requests/s, higher is better)</text>"#
    );
    let m = &report.machine;
    let p = &report.parameters;
    let _ = writeln!(
        svg,
        r##"<text x="20" y="50" fill="#555">{} ({} CPUs) · server on 1 core, wrk on another · {} connections · {} round(s) × {} s · median, whisker = min–max</text>"##,
        escape(&m.cpu_model),
        m.cpus,
        p.wrk.connections,
        p.rounds,
        p.duration_s
    );
    // Grid.
    let top_value = nice_ceiling(max);
    for i in 0..=4 {
        let v = top_value * i as f64 / 4.0;
        let x = LEFT + v * scale;
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#e3e3e3"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#777" font-size="11">{}</text>"##,
            TOP + ROW * rows.len() as f64,
            TOP + ROW * rows.len() as f64 + 16.0,
            short(v)
        );
    }
    for (i, s) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64 + 8.0;
        let bar = ROW - 18.0;
        let color = match s.config {
            Config::Bare | Config::UpstreamDirect => "#9e9e9e",
            Config::Nginx => "#6a1b9a",
            Config::Gateway => "#00897b",
            Config::Stack => "#2e7d32",
            Config::StackFirstSight => "#66bb6a",
            Config::JwtAuthorizer => "#ef6c00",
            Config::TowerOauth2ResourceServer => "#1565c0",
            _ => "#8d6e63",
        };
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 10.0,
            y + bar / 2.0 + 4.0,
            s.config.name()
        );
        let w = s.rps * scale;
        let _ = writeln!(
            svg,
            r#"<rect x="{LEFT}" y="{y:.1}" width="{w:.1}" height="{bar:.1}" fill="{color}"/>"#
        );
        let (lo, hi) = (LEFT + s.rps_range[0] * scale, LEFT + s.rps_range[1] * scale);
        let mid = y + bar / 2.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{lo:.1}" y1="{mid:.1}" x2="{hi:.1}" y2="{mid:.1}" stroke="#222"/><line x1="{lo:.1}" y1="{:.1}" x2="{lo:.1}" y2="{:.1}" stroke="#222"/><line x1="{hi:.1}" y1="{:.1}" x2="{hi:.1}" y2="{:.1}" stroke="#222"/>"##,
            mid - 5.0,
            mid + 5.0,
            mid - 5.0,
            mid + 5.0
        );
        let mut label = format!("{} req/s", short_exact(s.rps));
        if let Some(r) = s.ratio_to_bare
            && s.config != s.config.baseline()
        {
            let _ = write!(label, " · {:.2}× {}", r[0], s.config.baseline().name());
        }
        if s.config.is_stack()
            && let Some(v) = s.rps_vs_jwt_authorizer
        {
            let _ = write!(label, " · {v:.1}× jwt-authorizer");
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            hi.max(LEFT + w) + 8.0,
            mid + 4.0,
            escape(&label)
        );
    }
    let commit = p
        .source_revision
        .split(" \"")
        .next()
        .unwrap_or_default()
        .to_owned();
    let _ = writeln!(
        svg,
        r##"<text x="20" y="{:.1}" fill="#555" font-size="11">stack = mcp-auth through McpAuth::builder: verification, client identity, scopes, audit to a file. stack-first-sight = the same, tokens new to its cache.</text>"##,
        height - 32.0
    );
    if proxies {
        let _ = writeln!(
            svg,
            r##"<text x="20" y="{:.1}" fill="#555" font-size="11">gateway = mcp-auth-gateway (the same stack, from TOML) in front of upstream-direct; nginx = a plain reverse proxy in front of it; proxy and upstream share the server core.</text>"##,
            height - 50.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="20" y="{:.1}" fill="#555" font-size="11">Drawn by loadbench (loadbench/run.sh) · {} CPUs · {} · {}</text>"##,
        height - 14.0,
        m.cpus,
        escape(&m.started),
        escape(&commit)
    );
    svg.push_str("</svg>\n");
    svg
}

fn nice_ceiling(v: f64) -> f64 {
    let magnitude = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * magnitude >= v {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

fn short(v: f64) -> String {
    if v >= 1000.0 {
        format!("{}k", (v / 1000.0 * 10.0).round() / 10.0)
    } else {
        format!("{v:.0}")
    }
}

fn short_exact(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else {
        format!("{v:.0}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
