//! Failure path 1: a flood of tokens with random `kid`s against the stack, JWKS fetches counted
//! at the issuer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_auth_testing::MockIssuer;
use serde::{Deserialize, Serialize};

use super::checks::send;
use super::proc::{cpu_seconds, load_average};
use super::server_proc::{ServerProcess, ServerSpec};
use super::tokens::{CheckTokens, valid};
use super::wrk::{self, WrkResult};
use super::{BoxError, Context, log};
use crate::{Config, RESOURCE};

/// mcp-auth's default refresh interval (`VerifierBuilder::refresh_interval`).
pub(crate) const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// One flood.
#[derive(Clone, Copy, Debug)]
pub struct FloodSpec {
    /// The stack's refresh interval; `None`: the verifier's default (30 s).
    pub refresh_interval: Option<Duration>,
    /// How long the flood lasts.
    pub duration: Duration,
}

/// What one flood showed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FloodRecord {
    /// The verifier's refresh interval, seconds.
    pub refresh_interval_s: f64,
    /// Whether that is the default.
    pub default_interval: bool,
    /// Load average (1, 5, 15 min) before the flood.
    pub load_average_start: [f64; 3],
    /// What wrk measured (every response is expected to be a 401).
    pub wrk: WrkResult,
    /// Requests per second.
    pub rps: f64,
    /// Every flood request was refused with a non-2xx status.
    pub all_refused: bool,
    /// Server CPU per request, µs.
    pub cpu_us_per_request: f64,
    /// JWKS fetches before the flood (the start-up fetch).
    pub fetches_before: usize,
    /// When each fetch during the flood arrived at the JWKS endpoint, seconds from its start.
    pub fetch_times_s: Vec<f64>,
    /// Refresh intervals the flood lasted.
    pub intervals: f64,
    /// Fetches during the flood ÷ intervals.
    pub fetches_per_interval: f64,
    /// Most fetches seen within any window of one refresh interval, less [`TOLERANCE`] (the
    /// target: at most 1).
    pub max_fetches_in_any_interval: usize,
    /// Shortest time between two fetches during the flood, seconds.
    pub min_gap_s: Option<f64>,
    /// Status of a valid token right after the flood.
    pub valid_after: u16,
    /// Status of a tampered token right after the flood.
    pub tampered_after: u16,
}

/// Timing tolerance when counting fetches per interval: arrival times at the JWKS endpoint
/// jitter by the fetch's connection set-up and scheduling, so two fetches one interval apart may
/// arrive a few milliseconds closer.
pub(crate) const TOLERANCE: Duration = Duration::from_millis(50);

pub(crate) async fn run(ctx: &Context, spec: FloodSpec) -> Result<FloodRecord, BoxError> {
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;
    let front = JwksFront::start(ctx.client.clone(), issuer.jwks_uri()).await?;
    let token = valid(&issuer, 0);
    let check = CheckTokens::mint(&issuer);
    // The flood script builds a header with a random kid in front of this token's claims and
    // signature: well-formed, right issuer, unknown key.
    let suffix = &token[token.find('.').ok_or("token without dots")?..];
    let suffix_file = ctx.tmp.join("flood-suffix.txt");
    std::fs::write(&suffix_file, format!("{suffix}\n"))?;
    let audit_dir = ctx.tmp.join("audit-flood");
    std::fs::create_dir_all(&audit_dir)?;
    let interval = spec.refresh_interval.unwrap_or(DEFAULT_REFRESH_INTERVAL);
    let load_average_start = load_average();
    let server = ServerProcess::start(
        &ctx.server_binary,
        &ServerSpec {
            config: Config::Stack,
            issuer: issuer.issuer().to_owned(),
            jwks_uri: front.url.clone(),
            audit_file: Some(audit_dir.join("audit.jsonl")),
            token_cache: None,
            refresh_interval: spec.refresh_interval,
            observe_cache: false,
            redis: None,
            upstream: None,
            wrapper: Vec::new(),
        },
    )
    .await?;
    let url = server.mcp_url();
    let result = async {
        let status = send(&ctx.client, &url, Some(&token)).await?;
        if status != 200 {
            return Err(format!("flood: valid token got {status} before the flood").into());
        }
        let fetches_before = issuer.jwks_fetches();
        let cpu_before = cpu_seconds(server.pid)?;
        let start = Instant::now();
        let args = [suffix_file.display().to_string()];
        let wrk = wrk::run(&ctx.wrk, &url, &ctx.flood_lua, &args, spec.duration).await?;
        let end = Instant::now();
        let cpu_after = cpu_seconds(server.pid)?;
        let issuer_counted = issuer.jwks_fetches() - fetches_before;
        let fetch_times_s: Vec<f64> = front
            .arrivals()
            .into_iter()
            .filter(|&t| t >= start && t <= end)
            .map(|t| (t - start).as_secs_f64())
            .collect();
        if issuer_counted != fetch_times_s.len() {
            return Err(format!(
                "flood: the issuer counted {issuer_counted} JWKS fetches, its front {}",
                fetch_times_s.len()
            )
            .into());
        }
        let valid_after = send(&ctx.client, &url, Some(&token)).await?;
        let tampered_after = send(&ctx.client, &url, Some(&check.tampered_signature)).await?;
        let window = (interval - TOLERANCE.min(interval / 2)).as_secs_f64();
        let max_fetches_in_any_interval = most_in_window(&fetch_times_s, window);
        let min_gap_s = min_gap(&fetch_times_s);
        let intervals = (end - start).as_secs_f64() / interval.as_secs_f64();
        Ok::<_, BoxError>(FloodRecord {
            refresh_interval_s: interval.as_secs_f64(),
            default_interval: spec.refresh_interval.is_none(),
            load_average_start,
            rps: wrk.rps(),
            all_refused: wrk.errors.status == wrk.requests && wrk.requests > 0,
            cpu_us_per_request: (cpu_after - cpu_before) * 1e6 / wrk.requests.max(1) as f64,
            fetches_before,
            fetches_per_interval: fetch_times_s.len() as f64 / intervals,
            intervals,
            max_fetches_in_any_interval,
            min_gap_s,
            fetch_times_s,
            valid_after,
            tampered_after,
            wrk,
        })
    }
    .await;
    server.stop().await;
    front.stop();
    let _ = std::fs::remove_dir_all(&audit_dir);
    let record = result?;
    log(&format!(
        "flood (refresh interval {} s): {:.0} req/s for {} s, {} JWKS fetches at {:?} s, min gap {:?} s, max {} per interval, valid after: {}, tampered after: {}",
        record.refresh_interval_s,
        record.rps,
        spec.duration.as_secs(),
        record.fetch_times_s.len(),
        record
            .fetch_times_s
            .iter()
            .map(|t| (t * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>(),
        record.min_gap_s.map(|g| (g * 1000.0).round() / 1000.0),
        record.max_fetches_in_any_interval,
        record.valid_after,
        record.tampered_after
    ));
    Ok(record)
}

/// The most of `times` (seconds, ascending) that fall within any window `[t, t + window)`.
pub(crate) fn most_in_window(times: &[f64], window: f64) -> usize {
    times
        .iter()
        .map(|&t| times.iter().filter(|&&u| u >= t && u - t < window).count())
        .max()
        .unwrap_or(0)
}

/// The shortest gap between consecutive `times` (seconds, ascending); `None` for fewer than two.
pub(crate) fn min_gap(times: &[f64]) -> Option<f64> {
    times.windows(2).map(|w| w[1] - w[0]).reduce(f64::min)
}

/// A JWKS endpoint in front of the issuer's that notes when each fetch arrives (the issuer
/// counts them too; the two must agree).
struct JwksFront {
    url: String,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksFront {
    async fn start(client: reqwest::Client, upstream: String) -> Result<Self, BoxError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/jwks", listener.local_addr()?);
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let noted = arrivals.clone();
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                noted
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Instant::now());
                let client = client.clone();
                let upstream = upstream.clone();
                async move {
                    match client.get(&upstream).send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let body = response.bytes().await.unwrap_or_default();
                            (
                                axum::http::StatusCode::from_u16(status)
                                    .unwrap_or(axum::http::StatusCode::BAD_GATEWAY),
                                [(axum::http::header::CONTENT_TYPE, "application/json")],
                                body,
                            )
                        }
                        Err(_) => (
                            axum::http::StatusCode::BAD_GATEWAY,
                            [(axum::http::header::CONTENT_TYPE, "application/json")],
                            bytes::Bytes::new(),
                        ),
                    }
                }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            arrivals,
            task,
        })
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn stop(self) {
        self.task.abort();
    }
}
