//! Before measuring: every authenticated configuration refuses bad tokens and accepts a good one.

use serde::{Deserialize, Serialize};

use super::BoxError;
use super::tokens::CheckTokens;
use crate::{Config, REQUEST_BODY};

/// One check: what was sent, what came back, what was required.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    /// What the request carried.
    pub case: String,
    /// The status required.
    pub expected: u16,
    /// The status received.
    pub status: u16,
}

/// Sends the cases to `url`; fails when any status differs from the one required.
pub(crate) async fn run(
    client: &reqwest::Client,
    url: &str,
    config: Config,
    tokens: &CheckTokens,
) -> Result<Vec<Check>, BoxError> {
    let mut cases: Vec<(&'static str, Option<&str>, u16)> = if config.authenticated() {
        vec![
            ("valid token", Some(&tokens.valid), 200),
            ("no token", None, 401),
            ("tampered signature", Some(&tokens.tampered_signature), 401),
            ("tampered claims", Some(&tokens.tampered_claims), 401),
            ("expired", Some(&tokens.expired), 401),
            ("wrong audience", Some(&tokens.wrong_audience), 401),
            ("not yet valid", Some(&tokens.not_yet_valid), 401),
        ]
    } else {
        vec![("valid token", Some(&tokens.valid), 200)]
    };
    if config.enforces_scopes() {
        cases.push((
            "without the tool's scope",
            Some(&tokens.insufficient_scope),
            403,
        ));
    }
    if config.enforces_clients() {
        cases.push(("invalid client id", Some(&tokens.invalid_client), 403));
    }
    if config.dpop() {
        cases.push(("bound token as bearer", Some(&tokens.dpop.token), 401));
    }
    let mut checks = Vec::new();
    if config.dpop() {
        let proof = tokens.dpop.proof();
        for (case, expected) in [("DPoP proof", 200), ("replayed DPoP proof", 401)] {
            let status = send_dpop(client, url, &tokens.dpop.token, &proof).await?;
            checks.push(Check {
                case: case.to_owned(),
                expected,
                status,
            });
        }
    }
    for (case, token, expected) in cases {
        let status = send(client, url, token).await?;
        checks.push(Check {
            case: case.to_owned(),
            expected,
            status,
        });
    }
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c.status != c.expected)
        .map(|c| format!("{}: {} (expected {})", c.case, c.status, c.expected))
        .collect();
    if !failed.is_empty() {
        return Err(format!("{} failed its checks: {}", config.name(), failed.join("; ")).into());
    }
    Ok(checks)
}

/// The handler must have served every request wrk completed, and no more than those plus the
/// ones in flight when a wrk run stopped (at most one per connection, for the warm-up run before
/// the measured one and for the measured run): otherwise requests were answered without
/// reaching the service, or the load went somewhere else.
pub(crate) fn cross_check(handled: u64, completed: u64, connections: u32) -> Result<(), String> {
    let in_flight = 2 * u64::from(connections);
    if handled < completed || handled > completed + in_flight {
        return Err(format!(
            "the service handled {handled} requests while wrk completed {completed} (at most {in_flight} more may have been in flight)"
        ));
    }
    Ok(())
}

/// Waits (at most 15 s) until a valid token is accepted: some libraries load their keys in the
/// background after start-up.
pub(crate) async fn wait_ready(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<(), BoxError> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let status = send(client, url, Some(token)).await?;
        if status == 200 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("{url} still answers {status} to a valid token after 15 s").into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// POSTs the benchmark's request with `token` and returns the status.
/// POSTs the benchmark's request as a DPoP presentation of `token` with `proof`.
pub(crate) async fn send_dpop(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    proof: &str,
) -> Result<u16, BoxError> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .body(REQUEST_BODY)
        .send()
        .await?;
    let status = response.status().as_u16();
    let _ = response.bytes().await?;
    Ok(status)
}

pub(crate) async fn send(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<u16, BoxError> {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(REQUEST_BODY);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let _ = response.bytes().await?;
    Ok(status)
}
