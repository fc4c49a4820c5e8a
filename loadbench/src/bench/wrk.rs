//! Driving wrk: one run, pinned to the load generator's core, parsed from the Lua `done()` line.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::process::Command;

use super::BoxError;

/// The core wrk runs on (the server gets the other one).
pub(crate) const LOAD_CORE: &str = "1";

/// How wrk loads the server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WrkSettings {
    /// Open connections, all kept alive.
    pub connections: u32,
    /// wrk threads.
    pub threads: u32,
}

/// What wrk measured in one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WrkResult {
    /// Completed requests.
    pub requests: u64,
    /// Measured time, µs.
    pub duration_us: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Errors by kind (`status`: responses that were not 2xx/3xx).
    pub errors: WrkErrors,
    /// Latency, µs.
    pub latency_us: Latency,
}

/// wrk's error counters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WrkErrors {
    /// Connect errors.
    pub connect: u64,
    /// Read errors.
    pub read: u64,
    /// Write errors.
    pub write: u64,
    /// Responses with a status other than 2xx/3xx.
    pub status: u64,
    /// Requests that timed out.
    pub timeout: u64,
}

impl WrkErrors {
    /// Socket-level errors (everything but status).
    pub fn socket(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout
    }
}

/// Latency percentiles, µs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Maximum.
    pub max: u64,
}

impl WrkResult {
    /// Requests per second over the measured time.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }
}

/// Runs wrk for `duration` against `url` with `script` and its arguments.
pub(crate) async fn run(
    settings: &WrkSettings,
    url: &str,
    script: &Path,
    script_args: &[String],
    duration: Duration,
) -> Result<WrkResult, BoxError> {
    let secs = duration.as_secs().max(1);
    let output = Command::new("taskset")
        .args(["-c", LOAD_CORE, "wrk"])
        .arg(format!("-t{}", settings.threads))
        .arg(format!("-c{}", settings.connections))
        .arg(format!("-d{secs}s"))
        .args(["--timeout", "10s", "--latency", "-s"])
        .arg(script)
        .arg(url)
        .arg("--")
        .args(script_args)
        .arg(settings.threads.to_string())
        .kill_on_drop(true)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("LOADBENCH "))
        .ok_or_else(|| {
            format!(
                "wrk printed no result (status {}): {}{}",
                output.status,
                stdout,
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    Ok(serde_json::from_str(line)?)
}
