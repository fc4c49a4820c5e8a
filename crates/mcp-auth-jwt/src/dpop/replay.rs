//! Remembering which DPoP proofs were used, so that none is accepted twice (RFC 9449 §11.1).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// What identifies one proof: a digest of its key's thumbprint and its `jti`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProofId([u8; 16]);

impl ProofId {
    /// The id of the proof `jti` signed by the key with thumbprint `jkt`.
    pub fn new(jkt: &str, jti: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(jkt.as_bytes());
        hasher.update([0]);
        hasher.update(jti.as_bytes());
        let digest = hasher.finalize();
        let mut id = [0; 16];
        id.copy_from_slice(&digest[..16]);
        Self(id)
    }

    /// The id's bytes, for a store that keys by them.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

/// The replay store cannot answer; the proof is neither accepted nor refused (503).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the DPoP replay store cannot answer: {0}")]
pub struct ReplayUnavailable(pub String);

/// What a replay store answers: `Ok(true)` on a proof's first use, `Ok(false)` when it was seen
/// before and has not expired, or that it cannot answer.
pub type ReplayAnswer = Result<bool, ReplayUnavailable>;

/// A replay store's answer, now or later.
pub enum ReplayCheck {
    /// Answered at once (an in-process store): the request goes on without waiting.
    Ready(ReplayAnswer),
    /// Answered later (a store across the network, shared by replicas).
    Pending(Pin<Box<dyn Future<Output = ReplayAnswer> + Send>>),
}

impl fmt::Debug for ReplayCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(answer) => f.debug_tuple("Ready").field(answer).finish(),
            Self::Pending(_) => f.write_str("Pending(..)"),
        }
    }
}

/// Where used proofs are remembered. In-process by default ([`MemoryReplayStore`]); replicas
/// behind one load balancer share one (a store answering for all of them, asynchronously if it
/// must), or a replayed proof may be accepted once per replica.
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `proof` as used until `until` (seconds since the Unix epoch), and says whether
    /// this was its first use.
    fn first_use(&self, proof: ProofId, until: u64, now: u64) -> ReplayCheck;
}

const SHARDS: usize = 16;

/// The in-process replay store: bounded, sharded, forgetting a proof once its window has passed.
///
/// When it holds `capacity` proofs that have not expired, new proofs are refused as unavailable
/// (503) rather than forgetting one that could then be replayed.
pub struct MemoryReplayStore {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

#[derive(Default)]
struct Shard {
    until: HashMap<ProofId, u64>,
    /// In insertion order; expiries are close to monotonic (every proof's window is the same).
    order: VecDeque<(ProofId, u64)>,
}

impl MemoryReplayStore {
    /// A store for at most `capacity` proofs at a time.
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }
}

impl Default for MemoryReplayStore {
    /// Room for 1,000,000 proofs: with the default one-minute window, about 16,000 DPoP
    /// requests per second, each with a fresh proof.
    fn default() -> Self {
        Self::new(1_000_000)
    }
}

impl ReplayStore for MemoryReplayStore {
    fn first_use(&self, proof: ProofId, until: u64, now: u64) -> ReplayCheck {
        ReplayCheck::Ready(self.record(proof, until, now))
    }
}

impl MemoryReplayStore {
    fn record(&self, proof: ProofId, until: u64, now: u64) -> ReplayAnswer {
        let shard = &self.shards[usize::from(proof.0[0]) % SHARDS];
        let mut shard = shard
            .lock()
            .map_err(|_| ReplayUnavailable("the store's lock is poisoned".into()))?;
        while let Some(&(old, expiry)) = shard.order.front() {
            if expiry > now {
                break;
            }
            shard.order.pop_front();
            if shard.until.get(&old) == Some(&expiry) {
                shard.until.remove(&old);
            }
        }
        if let Some(&seen_until) = shard.until.get(&proof)
            && seen_until > now
        {
            return Ok(false);
        }
        if shard.until.len() >= self.per_shard {
            return Err(ReplayUnavailable(
                "it holds as many unexpired proofs as it may".into(),
            ));
        }
        shard.until.insert(proof, until);
        shard.order.push_back((proof, until));
        Ok(true)
    }
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &(self.per_shard * SHARDS))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_is_accepted_once_within_its_window_and_forgotten_after() {
        let store = MemoryReplayStore::new(64);
        let id = ProofId::new("thumb", "jti-1");
        assert_eq!(store.record(id, 160, 100), Ok(true));
        assert_eq!(store.record(id, 160, 120), Ok(false));
        // Another key's proof with the same jti is another proof.
        assert_eq!(
            store.record(ProofId::new("other", "jti-1"), 160, 120),
            Ok(true)
        );
        // Past its window it is forgotten (the verifier refuses such a proof as stale anyway).
        assert_eq!(store.record(id, 230, 170), Ok(true));
    }

    #[test]
    fn a_full_store_refuses_rather_than_forgets() {
        let store = MemoryReplayStore::new(SHARDS);
        let mut refused = 0;
        for i in 0..10 * SHARDS {
            if store
                .record(ProofId::new("k", &i.to_string()), 1_000, 0)
                .is_err()
            {
                refused += 1;
            }
        }
        assert!(refused > 0, "the bound holds");
        // Once their window has passed, room is made.
        assert_eq!(
            store.record(ProofId::new("k", "late"), 2_000, 1_000),
            Ok(true)
        );
    }
}
