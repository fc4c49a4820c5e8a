//! Exchanged tokens shared by replicas through Redis, encrypted, with the local cache in front.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_auth_core::Scopes;
use mcp_auth_obo::{
    Claim, ExchangeKey, ExchangeStore, ExchangedToken, MemoryStore, PrivateKey, StoreFuture,
    StoredExchange, TokenType,
};
use serde_json::{Value, json};

use crate::connection::Redis;
use mcp_auth_obo::SecretKeys;

/// An [`ExchangeStore`] that shares exchanged tokens between replicas through Redis.
///
/// - **Local first.** Every read is answered from an in-process cache when it can be; Redis is
///   asked only on a local miss, so a token used again on one replica never costs a round trip.
/// - **Encrypted.** A token is sealed with [`SecretKeys`] (AES-256-GCM) before it is written,
///   and the seal is bound to its Redis key, which is itself derived from the caller's token,
///   the client and the target: a value can only be opened as the exchange it was made for.
/// - **Fail open.** When Redis cannot answer in time, the replica goes on with its local cache
///   (it may exchange a token another replica already holds; nothing is refused because Redis
///   is away).
/// - **One exchange between replicas.** [`ExchangeStore::claim`] takes a short claim on the
///   key (`SET <prefix>:obo-claim:… NX PX`): the replica holding it exchanges, the others wait
///   for its token to appear. When Redis cannot say, the claim is granted (exchange here).
/// - Failures (a refused exchange remembered for a few seconds) stay in the local cache.
///
/// ```no_run
/// use mcp_auth_obo::{ClientAuth, TokenExchangeClient};
/// use mcp_auth_redis::{Redis, RedisExchangeStore, SecretKeys};
///
/// let redis = Redis::builder("redis://127.0.0.1:6379/").build().unwrap();
/// let keys = SecretKeys::new("2026-11", &[0x42; 32]).unwrap(); // from your secret store
/// let client = TokenExchangeClient::builder(ClientAuth::client_secret_basic("mcp-server", "s3cret"))
///     .issuer("https://auth.example.com")
///     .store(RedisExchangeStore::new(redis, keys))
///     .build()
///     .unwrap();
/// # let _ = client;
/// ```
pub struct RedisExchangeStore {
    redis: Redis,
    keys: SecretKeys,
    local: MemoryStore,
    dpop_key: Option<PrivateKey>,
    /// The value of each claim this process holds: only its owner deletes a claim.
    claims: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// Claims held at once at most (more are dropped from memory and simply expire in Redis).
const MAX_CLAIMS: usize = 10_000;

/// Deletes the claim only if it still holds this process's value.
const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

impl RedisExchangeStore {
    /// A store on `redis` sealing with `keys`, with a local cache of 10,000 entries.
    pub fn new(redis: Redis, keys: SecretKeys) -> Self {
        Self {
            redis,
            keys,
            local: MemoryStore::new(10_000),
            dpop_key: None,
            claims: std::sync::Mutex::default(),
        }
    }

    /// Entries the local cache holds. Defaults to 10,000.
    #[must_use]
    pub fn local_capacity(mut self, entries: usize) -> Self {
        self.local = MemoryStore::new(entries);
        self
    }

    /// The DPoP key of the token-exchange client
    /// ([`TokenExchangeClientBuilder::dpop_key`](mcp_auth_obo::TokenExchangeClientBuilder::dpop_key)):
    /// tokens bound to it that another replica wrote are bound to it again when read. Without
    /// it, a DPoP-bound token read from Redis is ignored (exchanged again here). It must be the
    /// client's own key: a token bound to one key and sent with proofs by another is refused
    /// downstream (the entries' names already keep replicas with different keys apart).
    #[must_use]
    pub fn dpop_key(mut self, key: PrivateKey) -> Self {
        self.dpop_key = Some(key);
        self
    }

    fn redis_key(key: &ExchangeKey) -> String {
        URL_SAFE_NO_PAD.encode(key.as_bytes())
    }

    async fn fetch(&self, key: &ExchangeKey) -> Option<StoredExchange> {
        let name = self.redis.key("obo", &Self::redis_key(key));
        let sealed: Option<String> = match self.redis.run(redis::cmd("GET").arg(&name)).await {
            Ok(value) => value,
            Err(e) => {
                tracing::warn!(error = %e, "exchanged-token store: reading from Redis failed; using the local cache");
                return None;
            }
        };
        let plaintext = self.keys.open(&sealed?, &name).or_else(|| {
            tracing::warn!(
                "exchanged-token store: an entry in Redis does not open with these keys; ignored"
            );
            None
        })?;
        let entry = decode(&plaintext, self.dpop_key.as_ref())?;
        self.local.put(*key, entry.clone()).await;
        Some(entry)
    }
}

impl std::fmt::Debug for RedisExchangeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisExchangeStore")
            .field("redis", &self.redis)
            .field("keys", &self.keys)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl ExchangeStore for RedisExchangeStore {
    fn get<'a>(&'a self, key: &'a ExchangeKey) -> StoreFuture<'a, Option<StoredExchange>> {
        Box::pin(async move {
            if let Some(entry) = self.local.get(key).await {
                return Some(entry);
            }
            self.fetch(key).await
        })
    }

    fn put(&self, key: ExchangeKey, entry: StoredExchange) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.local.put(key, entry.clone()).await;
            let StoredExchange::Token { token, fresh_until } = &entry else {
                return;
            };
            let Some(ttl) = fresh_until
                .duration_since(SystemTime::now())
                .ok()
                .filter(|t| *t >= Duration::from_millis(1))
            else {
                return;
            };
            let name = self.redis.key("obo", &Self::redis_key(&key));
            let Some(sealed) = self.keys.seal(&encode(token, *fresh_until), &name) else {
                return;
            };
            let mut cmd = redis::cmd("SET");
            cmd.arg(&name)
                .arg(sealed)
                .arg("PX")
                .arg(ttl.as_millis().max(1) as u64);
            if let Err(e) = self.redis.run::<()>(&cmd).await {
                tracing::warn!(error = %e, "exchanged-token store: writing to Redis failed; kept locally");
            }
        })
    }

    fn claim<'a>(&'a self, key: &'a ExchangeKey, ttl: Duration) -> StoreFuture<'a, Claim> {
        Box::pin(async move {
            let name = self.redis.key("obo-claim", &Self::redis_key(key));
            let mut owner = [0u8; 16];
            if aws_lc_rs::rand::fill(&mut owner).is_err() {
                return Claim::Granted;
            }
            let owner = URL_SAFE_NO_PAD.encode(owner);
            let mut cmd = redis::cmd("SET");
            cmd.arg(&name)
                .arg(&owner)
                .arg("NX")
                .arg("PX")
                .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
            match self.redis.run::<Option<String>>(&cmd).await {
                Ok(Some(_)) => {
                    let mut claims = self.claims.lock().unwrap_or_else(|p| p.into_inner());
                    if claims.len() >= MAX_CLAIMS {
                        claims.clear();
                    }
                    claims.insert(name, owner);
                    Claim::Granted
                }
                Ok(None) => Claim::Held,
                Err(e) => {
                    tracing::warn!(error = %e, "exchanged-token store: cannot claim in Redis; exchanging here");
                    Claim::Granted
                }
            }
        })
    }

    fn release<'a>(&'a self, key: &'a ExchangeKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let name = self.redis.key("obo-claim", &Self::redis_key(key));
            let owner = self
                .claims
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&name);
            let Some(owner) = owner else {
                return; // not ours (or granted while Redis was away)
            };
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(RELEASE).arg(1).arg(&name).arg(owner);
            let _ = self.redis.run::<i64>(&cmd).await;
        })
    }

    fn remove<'a>(&'a self, key: &'a ExchangeKey) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.local.remove(key).await;
            let name = self.redis.key("obo", &Self::redis_key(key));
            if let Err(e) = self.redis.run::<()>(redis::cmd("DEL").arg(&name)).await {
                tracing::warn!(error = %e, "exchanged-token store: deleting from Redis failed");
            }
        })
    }
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn encode(token: &ExchangedToken, fresh_until: SystemTime) -> Vec<u8> {
    json!({
        "v": 1,
        "access_token": token.expose_secret(),
        "issued_token_type": token.issued_token_type(),
        "token_type": token.token_type().as_str(),
        "expires_at": millis(token.expires_at()),
        "requested": token.requested_scope().to_string(),
        "granted": token.granted_scope().to_string(),
        "fresh_until": millis(fresh_until),
    })
    .to_string()
    .into_bytes()
}

fn decode(plaintext: &[u8], dpop_key: Option<&PrivateKey>) -> Option<StoredExchange> {
    let value: Value = serde_json::from_slice(plaintext).ok()?;
    if value["v"] != 1 {
        return None;
    }
    let text = |name: &str| value[name].as_str();
    let time = |name: &str| Some(UNIX_EPOCH + Duration::from_millis(value[name].as_u64()?));
    let token = ExchangedToken::new(
        text("access_token")?,
        text("issued_token_type")?,
        TokenType::parse(text("token_type")?)?,
        time("expires_at")?,
        Scopes::parse(text("requested")?),
        Scopes::parse(text("granted")?),
    )
    .ok()?;
    let token = match token.token_type() {
        TokenType::Dpop => token.with_dpop_key(dpop_key?.clone()).ok()?,
        _ => token,
    };
    Some(StoredExchange::Token {
        token,
        fresh_until: time("fresh_until")?,
    })
}
