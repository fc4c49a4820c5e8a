//! The DPoP replay store on Redis: a proof used on one replica is refused on every other.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use mcp_auth_jwt::{MemoryReplayStore, ProofId, ReplayCheck, ReplayStore, ReplayUnavailable};
use serde::Deserialize;

use crate::connection::Redis;

/// Remembers used DPoP proofs in Redis (`SET <prefix>:dpop:<id> 1 NX PX <window>`), so that all
/// replicas refuse a proof any of them has accepted.
///
/// When Redis cannot answer within the handle's timeout the proof is neither accepted nor
/// refused: the request gets 503 with `Retry-After` (fail closed, [`WhileAway::Refuse`]). A
/// replay store that forgot would let a stolen proof through; one that waits would hang
/// requests. [`WhileAway::Local`] keeps serving instead, each replica protected by its own
/// memory of proofs until Redis is back.
///
/// ```no_run
/// use mcp_auth_jwt::DpopConfig;
/// use mcp_auth_redis::{Redis, RedisReplayStore};
///
/// let redis = Redis::builder("redis://127.0.0.1:6379/").build().unwrap();
/// let dpop = DpopConfig::default().replay_store(RedisReplayStore::new(redis));
/// # let _ = dpop;
/// ```
#[derive(Clone)]
pub struct RedisReplayStore {
    redis: Redis,
    /// With [`WhileAway::Local`]: every proof this replica sees, for when Redis cannot answer.
    local: Option<Arc<MemoryReplayStore>>,
}

/// What a [`RedisReplayStore`] does while Redis cannot answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WhileAway {
    /// Neither accept nor refuse the proof: 503 with `Retry-After` (fail closed). The default.
    #[default]
    Refuse,
    /// Decide with this replica's own memory of the proofs it has seen (it remembers them
    /// all the time, in process): requests keep being served, and a proof used on another
    /// replica may be accepted once here until Redis is back.
    Local,
}

impl RedisReplayStore {
    /// A replay store on `redis` that refuses to decide while Redis is away.
    pub fn new(redis: Redis) -> Self {
        Self { redis, local: None }
    }

    /// What to do while Redis cannot answer. Defaults to [`WhileAway::Refuse`].
    pub fn while_away(mut self, choice: WhileAway) -> Self {
        self.local = match choice {
            WhileAway::Refuse => None,
            WhileAway::Local => Some(Arc::new(MemoryReplayStore::default())),
        };
        self
    }
}

impl std::fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("redis", &self.redis)
            .field(
                "while_away",
                &if self.local.is_some() {
                    WhileAway::Local
                } else {
                    WhileAway::Refuse
                },
            )
            .finish()
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
        // Remembered here first, so that this replica knows it should Redis go away.
        let local = self
            .local
            .as_ref()
            .map(|store| match store.first_use(proof, until, now) {
                ReplayCheck::Ready(answer) => answer,
                // The in-process store always answers at once.
                ReplayCheck::Pending(_) => Err(ReplayUnavailable("unreachable".into())),
            });
        ReplayCheck::Pending(Box::pin(async move {
            // `OK` when set (first use), nil when the key was there (a replay).
            match redis.run::<Option<String>>(&cmd).await {
                Ok(set) => Ok(set.is_some()),
                Err(e) => match local {
                    Some(answer) => {
                        tracing::debug!(error = %e, "DPoP replay: Redis is away; this replica's memory decides");
                        answer
                    }
                    None => Err(ReplayUnavailable(e.to_string())),
                },
            }
        }))
    }
}
