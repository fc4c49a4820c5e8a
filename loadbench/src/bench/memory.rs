//! Failure path 2: memory after a great many distinct valid tokens. The stack runs as deployed
//! (default verified-token cache); its resident set must stay flat once the cache is full.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mcp_auth_testing::{Algorithm, MockIssuer};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, mpsc};

use super::checks::{self, send};
use super::proc::{cpu_seconds, load_average, memory_kib};
use super::server_proc::{ServerProcess, ServerSpec};
use super::tokens::{CheckTokens, valid_with_key};
use super::{BoxError, Context, log};
use crate::{Config, RESOURCE};

/// Concurrent requests in flight.
const IN_FLIGHT: usize = 32;

/// The server's memory as the distinct tokens went by.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemoryRecord {
    /// Signature algorithm of the tokens (cheap to mint).
    pub algorithm: String,
    /// Distinct valid tokens sent.
    pub tokens: u64,
    /// The verified-token cache capacity (mcp-auth's default).
    pub token_cache_capacity: usize,
    /// Load average (1, 5, 15 min) before the run.
    pub load_average_start: [f64; 3],
    /// Samples, the first before any token.
    pub checkpoints: Vec<MemoryCheckpoint>,
    /// Every request answered 200.
    pub all_accepted: bool,
    /// Peak RSS at the end ÷ peak RSS at the first checkpoint after the cache filled.
    pub growth_after_cache_full: f64,
}

/// One sample.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemoryCheckpoint {
    /// Distinct tokens verified so far.
    pub tokens: u64,
    /// Resident set now, KiB.
    pub rss_kib: u64,
    /// Peak resident set so far, KiB.
    pub peak_rss_kib: u64,
    /// Seconds since the first token.
    pub elapsed_s: f64,
    /// Server CPU time so far, seconds.
    pub server_cpu_s: f64,
}

/// mcp-auth's default verified-token cache capacity (`VerifierBuilder::token_cache_capacity`).
pub(crate) const DEFAULT_TOKEN_CACHE: usize = 10_000;

pub(crate) async fn run(ctx: &Context) -> Result<MemoryRecord, BoxError> {
    let total = ctx.options.memory_tokens;
    let issuer = MockIssuer::builder()
        .audience(RESOURCE)
        .key(Algorithm::EdDSA)
        .start()
        .await;
    let check = CheckTokens::mint(&issuer);
    let audit_dir = ctx.tmp.join("audit-memory");
    std::fs::create_dir_all(&audit_dir)?;
    let load_average_start = load_average();
    let server = ServerProcess::start(
        &ctx.server_binary,
        &ServerSpec {
            config: Config::Stack,
            issuer: issuer.issuer().to_owned(),
            jwks_uri: issuer.jwks_uri(),
            // The audit file rotates at its default size (100 MiB, 5 kept): disk stays bounded.
            audit_file: Some(audit_dir.join("audit.jsonl")),
            token_cache: None,
            refresh_interval: None,
            observe_cache: false,
            redis: None,
            upstream: None,
            wrapper: Vec::new(),
        },
    )
    .await?;
    let url = server.mcp_url();
    let result = async {
        checks::run(&ctx.client, &url, Config::Stack, &check).await?;
        let pid = server.pid;
        let sample = move |tokens: u64, start: Instant| -> Result<MemoryCheckpoint, BoxError> {
            let (rss_kib, peak_rss_kib) = memory_kib(pid)?;
            Ok(MemoryCheckpoint {
                tokens,
                rss_kib,
                peak_rss_kib,
                elapsed_s: start.elapsed().as_secs_f64(),
                server_cpu_s: cpu_seconds(pid)?,
            })
        };
        let start = Instant::now();
        let checkpoints = Arc::new(Mutex::new(vec![sample(0, start)?]));
        let marks: Arc<Vec<u64>> = Arc::new(ctx.options.memory_checkpoints.clone());

        // Tokens are minted on a thread while the requests go out: nothing is stored.
        let (sender, receiver) = mpsc::channel::<String>(4 * IN_FLIGHT);
        let key = issuer.current_key();
        let iss = issuer.issuer().to_owned();
        let minter = std::thread::spawn(move || {
            for n in 0..total {
                if sender
                    .blocking_send(valid_with_key(&key, &iss, n as usize))
                    .is_err()
                {
                    break;
                }
            }
        });
        let receiver = Arc::new(Mutex::new(receiver));
        let done = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let mut workers = Vec::new();
        for _ in 0..IN_FLIGHT {
            let receiver = receiver.clone();
            let client = ctx.client.clone();
            let url = url.clone();
            let done = done.clone();
            let refused = refused.clone();
            let checkpoints = checkpoints.clone();
            let marks = marks.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    let Some(token) = receiver.lock().await.recv().await else {
                        return Ok::<_, BoxError>(());
                    };
                    let status = send(&client, &url, Some(&token)).await?;
                    if status != 200 {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if marks.contains(&n) {
                        let point = sample(n, start)?;
                        log(&format!(
                            "memory: {n} tokens, RSS {} KiB, peak {} KiB, {:.0} s",
                            point.rss_kib, point.peak_rss_kib, point.elapsed_s
                        ));
                        checkpoints.lock().await.push(point);
                    }
                }
            }));
        }
        for worker in workers {
            worker.await??;
        }
        minter.join().map_err(|_| "the minting thread panicked")?;
        let mut checkpoints = checkpoints.lock().await.clone();
        checkpoints.sort_by_key(|c| c.tokens);
        let final_sample = sample(done.load(Ordering::Relaxed), start)?;
        if checkpoints.last().map(|c| c.tokens) != Some(final_sample.tokens) {
            checkpoints.push(final_sample);
        }
        let after_full = checkpoints
            .iter()
            .find(|c| c.tokens >= 2 * DEFAULT_TOKEN_CACHE as u64)
            .map_or(1, |c| c.peak_rss_kib);
        let last = checkpoints.last().map_or(1, |c| c.peak_rss_kib);
        Ok::<_, BoxError>(MemoryRecord {
            algorithm: "EdDSA".into(),
            tokens: done.load(Ordering::Relaxed),
            token_cache_capacity: DEFAULT_TOKEN_CACHE,
            load_average_start,
            checkpoints,
            all_accepted: refused.load(Ordering::Relaxed) == 0,
            growth_after_cache_full: last as f64 / after_full.max(1) as f64,
        })
    }
    .await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&audit_dir);
    result
}
