//! The DPoP replay store on Redis: a proof used on one replica is refused on every other.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_auth_jwt::{ProofId, ReplayCheck, ReplayStore, ReplayUnavailable};

use crate::connection::Redis;

/// Remembers used DPoP proofs in Redis (`SET <prefix>:dpop:<id> 1 NX PX <window>`), so that all
/// replicas refuse a proof any of them has accepted.
///
/// When Redis cannot answer within the handle's timeout the proof is neither accepted nor
/// refused: the request gets 503 with `Retry-After` (fail closed). A replay store that forgot
/// would let a stolen proof through; one that waits would hang requests.
///
/// ```no_run
/// use mcp_auth_jwt::DpopConfig;
/// use mcp_auth_redis::{Redis, RedisReplayStore};
///
/// let redis = Redis::builder("redis://127.0.0.1:6379/").build().unwrap();
/// let dpop = DpopConfig::default().replay_store(RedisReplayStore::new(redis));
/// # let _ = dpop;
/// ```
#[derive(Clone, Debug)]
pub struct RedisReplayStore {
    redis: Redis,
}

impl RedisReplayStore {
    /// A replay store on `redis`.
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }
}

impl ReplayStore for RedisReplayStore {
    fn first_use(&self, proof: ProofId, until: u64, now: u64) -> ReplayCheck {
        let key = self
            .redis
            .key("dpop", &URL_SAFE_NO_PAD.encode(proof.as_bytes()));
        // Kept for the rest of the proof's window, and at least a second.
        let millis = until.saturating_sub(now).max(1).saturating_mul(1000);
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(1).arg("NX").arg("PX").arg(millis);
        let redis = self.redis.clone();
        ReplayCheck::Pending(Box::pin(async move {
            // `OK` when set (first use), nil when the key was there (a replay).
            let set: Option<String> = redis
                .run(&cmd)
                .await
                .map_err(|e| ReplayUnavailable(e.to_string()))?;
            Ok(set.is_some())
        }))
    }
}
