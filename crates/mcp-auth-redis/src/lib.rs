//! Shared state on Redis for several replicas of an MCP server behind one load balancer.
//!
//! Each piece of state the layers keep in process has a store trait; this crate implements the
//! ones replicas must share, on one [`Redis`] handle (lazy connection, automatic reconnection,
//! every command bounded by a timeout, keys under a prefix):
//!
//! - [`RedisReplayStore`]: DPoP proofs used on any replica are refused on all of them
//!   (`SET NX` with the proof window as expiry). Fails closed: 503 while Redis is away.
//! - [`RedisExchangeStore`]: exchanged tokens (RFC 8693) sealed with [`SecretKeys`]
//!   (AES-256-GCM, key rotation by key id, each value bound to its key), read from the local
//!   cache first. Fails open: the local cache carries on while Redis is away.
//! - [`RedisRegistry`]: the approved clients, changed by `mcp-auth clients approve|revoke
//!   --registry redis://…` and announced on a channel, so that every replica's copy (a
//!   [`Registry`](mcp_auth_cimd::Registry) for `ClientPolicy::registry`) follows within a moment.
//!   Replicas keep their last known approvals while Redis is away.
//!
//! # Example
//!
//! Two replicas configured alike share proofs and exchanged tokens:
//!
//! ```no_run
//! use mcp_auth_jwt::{DpopConfig, IssuerConfig, Verifier};
//! use mcp_auth_core::ResourceId;
//! use mcp_auth_obo::{ClientAuth, TokenExchangeClient};
//! use mcp_auth_redis::{Redis, RedisExchangeStore, RedisReplayStore, SecretKeys};
//! use std::time::Duration;
//!
//! let redis = Redis::builder("redis://redis.internal:6379/")
//!     .key_prefix("notes-mcp")
//!     .call_timeout(Duration::from_millis(200))
//!     .build()
//!     .unwrap();
//! let verifier = Verifier::builder(ResourceId::parse("https://mcp.example.com/mcp").unwrap())
//!     .issuer(IssuerConfig::discover("https://auth.example.com"))
//!     .dpop(DpopConfig::default().replay_store(RedisReplayStore::new(redis.clone())))
//!     .build()
//!     .unwrap();
//! let keys = SecretKeys::new("2026-11", &[0x42; 32]).unwrap(); // 32 bytes from a secret store
//! let exchange = TokenExchangeClient::builder(ClientAuth::client_secret_basic("mcp-server", "s3cret"))
//!     .issuer("https://auth.example.com")
//!     .store(RedisExchangeStore::new(redis, keys))
//!     .build()
//!     .unwrap();
//! # let _ = (verifier, exchange);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod approvals;
mod config;
mod connection;
mod exchange;
mod replay;

pub use approvals::RedisRegistry;
pub use config::RedisEntry;
pub use connection::{ConfigError, Redis, RedisBuilder, Unavailable};
pub use exchange::RedisExchangeStore;
pub use mcp_auth_obo::SecretKeys;
pub use replay::{RedisReplayStore, WhileAway};
