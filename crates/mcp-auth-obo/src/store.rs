//! Where exchanged tokens (and recent failures) are remembered.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use quick_cache::sync::Cache;

use crate::error::ExchangeError;
use crate::request::ExchangeKey;
use crate::token::ExchangedToken;

/// The future a store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One remembered outcome.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StoredExchange {
    /// A token, usable until `fresh_until` (its expiry minus the skew, capped by the subject
    /// token's expiry).
    Token {
        /// The token.
        token: ExchangedToken,
        /// Until when it may be served.
        fresh_until: SystemTime,
    },
    /// A failure, answered from memory until `until` so that a failing authorization server is
    /// not asked again at once.
    Failure {
        /// The failure.
        error: ExchangeError,
        /// Until when it is repeated.
        until: SystemTime,
    },
}

impl StoredExchange {
    /// Until when the entry may be served.
    pub fn valid_until(&self) -> SystemTime {
        match self {
            Self::Token { fresh_until, .. } => *fresh_until,
            Self::Failure { until, .. } => *until,
        }
    }
}

/// The answer to [`ExchangeStore::claim`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This process may exchange the key now (and should [release](ExchangeStore::release) it
    /// when the outcome is stored).
    Granted,
    /// Another process sharing the store is exchanging it now; its outcome will appear in the
    /// store.
    Held,
}

/// A store of exchange outcomes, keyed by [`ExchangeKey`].
///
/// The client reads an entry before exchanging, writes the outcome afterwards, and removes
/// entries it finds stale; it checks `valid_until` itself, so a store may keep entries longer
/// than that (it must stay bounded). The default is [`MemoryStore`]. A store shared by several
/// replicas (Redis, memcached) implements this trait; it holds live credentials and should
/// encrypt them at rest. Concurrent requests for one key are collapsed into one exchange inside
/// each process; across replicas the shared store narrows, but cannot close, the window in which
/// two replicas exchange the same token.
pub trait ExchangeStore: Send + Sync + 'static {
    /// The entry for `key`, if any.
    fn get<'a>(&'a self, key: &'a ExchangeKey) -> StoreFuture<'a, Option<StoredExchange>>;

    /// Remembers `entry` under `key`.
    fn put(&self, key: ExchangeKey, entry: StoredExchange) -> StoreFuture<'_, ()>;

    /// Forgets `key`.
    fn remove<'a>(&'a self, key: &'a ExchangeKey) -> StoreFuture<'a, ()>;

    /// Claims the exchange of `key` for this process among all the processes that share the
    /// store, for at most `ttl`, so that replicas make one exchange between them. A store that
    /// cannot tell (unreachable) grants: the exchange is then made here. The default, for a
    /// store of one process (whose exchanges are single-flight already), always grants.
    fn claim<'a>(&'a self, key: &'a ExchangeKey, ttl: Duration) -> StoreFuture<'a, Claim> {
        let _ = (key, ttl);
        Box::pin(std::future::ready(Claim::Granted))
    }

    /// Gives up a [granted](Claim::Granted) claim once the outcome is stored or the exchange
    /// failed.
    fn release<'a>(&'a self, key: &'a ExchangeKey) -> StoreFuture<'a, ()> {
        let _ = key;
        Box::pin(std::future::ready(()))
    }
}

/// The default store: a bounded in-process cache (quick_cache, CLOCK-Pro eviction).
pub struct MemoryStore {
    cache: Cache<ExchangeKey, StoredExchange>,
}

impl MemoryStore {
    /// A store holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Self {
            cache: Cache::new(capacity.max(1)),
        }
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.cache.len())
            .field("capacity", &self.cache.capacity())
            .finish()
    }
}

impl ExchangeStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a ExchangeKey) -> StoreFuture<'a, Option<StoredExchange>> {
        let entry = self.cache.get(key);
        Box::pin(std::future::ready(entry))
    }

    fn put(&self, key: ExchangeKey, entry: StoredExchange) -> StoreFuture<'_, ()> {
        self.cache.insert(key, entry);
        Box::pin(std::future::ready(()))
    }

    fn remove<'a>(&'a self, key: &'a ExchangeKey) -> StoreFuture<'a, ()> {
        self.cache.remove(key);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[tokio::test]
    async fn memory_store_is_bounded() {
        let store = MemoryStore::new(10);
        for i in 0..100u8 {
            let entry = StoredExchange::Failure {
                error: ExchangeError::InvalidRequest(Cow::Borrowed("x")),
                until: SystemTime::now(),
            };
            store.put(ExchangeKey::from_bytes([i; 32]), entry).await;
        }
        assert!(store.len() <= 10, "{}", store.len());
        let kept = (0..100u8).rev().find(|i| {
            store
                .cache
                .peek(&ExchangeKey::from_bytes([*i; 32]))
                .is_some()
        });
        let key = ExchangeKey::from_bytes([kept.unwrap(); 32]);
        assert!(store.get(&key).await.is_some());
        store.remove(&key).await;
        assert!(store.get(&key).await.is_none());
    }
}
