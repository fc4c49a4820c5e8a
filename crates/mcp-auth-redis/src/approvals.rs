//! The approved-clients registry on Redis: one approval, seen by every replica within a second.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use mcp_auth_cimd::{Approval, ApprovedClient, ClientInfo, Registry, RegistryFeed};

use crate::connection::{Redis, Unavailable};

/// Longest pause between two attempts to reach Redis again while it is away.
const MAX_RETRY: Duration = Duration::from_secs(2);
/// How often a follower reloads even without an announcement: a subscription on a connection
/// that died silently (a NAT forgetting it) is found out within this, and a follower whose
/// registry was dropped stops within it.
const RESYNC: Duration = Duration::from_secs(10);

/// The operator's approved Client ID Metadata Document clients, kept in Redis so that every
/// replica sees an approval or a revocation at once.
///
/// Entries live in one hash (`<prefix>:clients`, the client id to its [`ApprovedClient`] as
/// JSON); every change is announced on the channel `<prefix>:clients:changed`. A server
/// [follows](RedisRegistry::follow) the registry: it keeps a copy in memory (lookups never wait on
/// Redis), reloads it whenever a change is announced and whenever its subscription is
/// re-established, and keeps its last known copy while Redis is away (logged).
///
/// ```no_run
/// use mcp_auth_cimd::ClientPolicy;
/// use mcp_auth_redis::{Redis, RedisRegistry};
///
/// # #[tokio::main] async fn main() {
/// let redis = Redis::builder("redis://127.0.0.1:6379/").build().unwrap();
/// let approvals = RedisRegistry::new(redis).follow();
/// let policy = ClientPolicy::registry(approvals);
/// # let _ = policy;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RedisRegistry {
    redis: Redis,
    resync: Duration,
}

impl RedisRegistry {
    /// The registry on `redis`.
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            resync: RESYNC,
        }
    }

    /// How often a follower reloads the approvals even without an announcement (10 s by
    /// default): the bound on how long a subscription that died silently goes unnoticed, and
    /// on how long a follower outlives its registry.
    #[must_use]
    pub fn resync(mut self, every: Duration) -> Self {
        self.resync = every.max(Duration::from_millis(10));
        self
    }

    fn hash(&self) -> String {
        self.redis.key("clients", "approved")
    }

    fn channel(&self) -> String {
        self.redis.key("clients", "changed")
    }

    /// Where the registry is, for messages (`redis host:port`, never a credential).
    pub fn location(&self) -> String {
        format!("redis {}", self.redis.address())
    }

    /// Approves `client` with its current document (replacing an earlier approval) and tells
    /// every replica.
    ///
    /// # Errors
    /// Redis cannot be reached in time.
    pub async fn approve(&self, client: &ClientInfo) -> Result<ApprovedClient, Unavailable> {
        let entry = ApprovedClient::approving(client);
        let json = serde_json::to_string(&entry).expect("an entry serialises");
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(self.hash(), &entry.client_id, json)
            .ignore()
            .publish(self.channel(), "approve")
            .ignore();
        self.redis.run_pipeline(&pipe).await?;
        Ok(entry)
    }

    /// Removes a client and tells every replica; its entry, or `None` when it was not approved.
    ///
    /// # Errors
    /// Redis cannot be reached in time.
    pub async fn revoke(&self, client_id: &str) -> Result<Option<ApprovedClient>, Unavailable> {
        let entry = self.get(client_id).await?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hdel(self.hash(), client_id)
            .ignore()
            .publish(self.channel(), "revoke")
            .ignore();
        self.redis.run_pipeline(&pipe).await?;
        Ok(entry)
    }

    /// The entry for `client_id`.
    ///
    /// # Errors
    /// Redis cannot be reached in time.
    pub async fn get(&self, client_id: &str) -> Result<Option<ApprovedClient>, Unavailable> {
        let json: Option<String> = self
            .redis
            .run(redis::cmd("HGET").arg(self.hash()).arg(client_id))
            .await?;
        Ok(json.and_then(|j| parse(&j)))
    }

    /// What the registry says of `client`'s current document.
    ///
    /// # Errors
    /// Redis cannot be reached in time.
    pub async fn approval(&self, client: &ClientInfo) -> Result<Approval, Unavailable> {
        Ok(Approval::of(
            self.get(client.id()).await?.as_ref(),
            client.digest(),
        ))
    }

    /// Every approved client, sorted by client id. Entries that do not parse are left out
    /// (logged).
    ///
    /// # Errors
    /// Redis cannot be reached in time.
    pub async fn clients(&self) -> Result<Vec<ApprovedClient>, Unavailable> {
        let all: Vec<(String, String)> = self
            .redis
            .run(redis::cmd("HGETALL").arg(self.hash()))
            .await?;
        let mut clients: Vec<ApprovedClient> = all.iter().filter_map(|(_, j)| parse(j)).collect();
        clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(clients)
    }

    /// A [`Registry`] for [`ClientPolicy::registry`](mcp_auth_cimd::ClientPolicy::registry)
    /// that follows this one: a background task (on the current Tokio runtime) subscribes to
    /// the change channel, loads the approvals on every change and every (re)subscription, and
    /// stops when the registry is dropped. Until the first load it approves no one.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn follow(&self) -> Registry {
        let (registry, feed) = Registry::fed(self.location());
        tokio::spawn(self.clone().feed(feed));
        registry
    }

    async fn feed(self, feed: RegistryFeed) {
        let mut retry = Duration::from_millis(100);
        let mut was_up = true;
        let following = Arc::new(AtomicBool::new(false));
        let _gauge = {
            let following = following.clone();
            mcp_auth_core::telemetry::meter()
                .u64_observable_gauge("mcp_auth.redis.approvals.following")
                .with_description(
                    "1 while client approvals follow Redis, 0 while the last known copy serves",
                )
                .with_callback(move |observer| {
                    observer.observe(u64::from(following.load(Ordering::Relaxed)), &[]);
                })
                .build()
        };
        while feed.is_live() {
            match self
                .subscribe_and_follow(&feed, &mut was_up, &following)
                .await
            {
                Ok(()) => return, // the registry is gone
                Err(e) => {
                    following.store(false, Ordering::Relaxed);
                    if was_up {
                        tracing::warn!(error = %e, location = %self.location(), "client approvals: Redis is away; keeping the last known approvals");
                    }
                    was_up = false;
                }
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(MAX_RETRY);
            if self.load(&feed).await.is_ok() {
                retry = Duration::from_millis(100);
            }
        }
    }

    /// Subscribes, loads, then reloads on every announcement and every [`RESYNC`]; returns `Ok`
    /// when the registry is gone, an error when the subscription or a reload fails.
    async fn subscribe_and_follow(
        &self,
        feed: &RegistryFeed,
        was_up: &mut bool,
        following: &AtomicBool,
    ) -> Result<(), Unavailable> {
        let timeout = self.redis.timeout();
        let lost = |what: &str| {
            self.redis
                .failed("subscription", format!("{} {what}", self.redis.address()))
        };
        let mut pubsub = tokio::time::timeout(timeout, self.redis.client().get_async_pubsub())
            .await
            .map_err(|_| lost("did not accept a subscription in time"))?
            .map_err(|e| lost(&format!("refused a subscription: {:?}", e.kind())))?;
        tokio::time::timeout(timeout, pubsub.subscribe(self.channel()))
            .await
            .map_err(|_| lost("did not confirm the subscription in time"))?
            .map_err(|e| lost(&format!("refused the subscription: {:?}", e.kind())))?;
        // Subscribed first, loaded second: no change can fall between the two.
        self.load(feed).await?;
        if !*was_up {
            tracing::info!(location = %self.location(), "client approvals: Redis is back; following it again");
        }
        *was_up = true;
        following.store(true, Ordering::Relaxed);
        let mut messages = pubsub.into_on_message();
        let mut resync = tokio::time::interval(self.resync);
        resync.tick().await; // the first tick is immediate
        loop {
            tokio::select! {
                message = messages.next() => {
                    if message.is_none() {
                        return Err(lost("closed the subscription"));
                    }
                }
                _ = resync.tick() => {}
            }
            if !feed.is_live() {
                return Ok(());
            }
            if let Err(e) = self.load(feed).await {
                tracing::warn!(error = %e, "client approvals: reloading failed; subscribing again");
                return Err(e);
            }
        }
    }

    async fn load(&self, feed: &RegistryFeed) -> Result<(), Unavailable> {
        let clients = self.clients().await?;
        feed.replace(clients);
        Ok(())
    }
}

fn parse(json: &str) -> Option<ApprovedClient> {
    serde_json::from_str(json)
        .inspect_err(|e| tracing::warn!(error = %e, "client approvals: an entry in Redis does not parse; ignored"))
        .ok()
}
