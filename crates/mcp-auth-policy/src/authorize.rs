//! The decision point: Cedar by default, or your own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_auth_core::Scopes;
use quick_cache::sync::Cache;

use crate::call::{Action, Call};

/// The answer about one call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// The call may go on; `policies` are the ones that allowed it (for the audit trail).
    Allow {
        /// Ids of the deciding policies.
        policies: Vec<String>,
        /// When the call may go on only once the person behind the token approves it: the id
        /// of the policy that asks (a Cedar permit annotated `@approval`). The approval layer,
        /// further in, then holds the call until they do.
        approval: Option<String>,
    },
    /// The call is refused.
    Deny(Denial),
}

/// Why a call is refused, in words a caller may see (never the policy text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// Ids of the policies that refused (forbids that applied), for the audit trail.
    pub policies: Vec<String>,
    /// What the caller is told.
    pub message: String,
    /// When more scope would help: the scopes to ask for (403 `insufficient_scope` with this
    /// challenge). `None`: no scope would, and no step-up is offered.
    pub step_up: Option<Scopes>,
}

impl Verdict {
    /// Allowed, naming no policy.
    pub fn allow() -> Self {
        Self::Allow {
            policies: Vec::new(),
            approval: None,
        }
    }

    /// Refused with `message`, no step-up.
    pub fn deny(message: impl Into<String>) -> Self {
        Self::Deny(Denial {
            policies: Vec::new(),
            message: message.into(),
            step_up: None,
        })
    }

    /// True for [`Verdict::Allow`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

/// A verdict now, or later (a decision point over the network).
pub enum Decision {
    /// Decided.
    Ready(Verdict),
    /// To be awaited.
    Pending(Pin<Box<dyn Future<Output = Verdict> + Send>>),
}

impl std::fmt::Debug for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready(verdict) => f.debug_tuple("Ready").field(verdict).finish(),
            Self::Pending(_) => f.write_str("Pending"),
        }
    }
}

/// Decides calls. [`CedarAuthorizer`](crate::CedarAuthorizer) is the built-in one; implement
/// this (or pass a closure to [`authorize_fn`]) to ask a decision point of your own.
pub trait Authorize: Send + Sync + 'static {
    /// Decides one call.
    fn authorize(&self, call: &Call) -> Decision;

    /// Whether some call of `call.target` could be allowed (its arguments unknown): listings
    /// show what could be. Defaults to `true`: everything is listed, calls are decided.
    fn could_allow(&self, call: &Call) -> bool {
        let _ = call;
        true
    }
}

/// Allows every call: the pass-through to start from, or for tests of other layers.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultAuthorize;

impl Authorize for DefaultAuthorize {
    fn authorize(&self, _call: &Call) -> Decision {
        Decision::Ready(Verdict::allow())
    }
}

/// An [`Authorize`] from an async closure (see [`authorize_fn`]).
#[derive(Clone)]
pub struct AuthorizeFn<F>(F);

/// Decides calls with `decide`, e.g. by asking an external decision point.
///
/// ```
/// use mcp_auth_policy::{Verdict, authorize_fn};
///
/// let only_reads = authorize_fn(|call| async move {
///     if call.target.starts_with("read_") {
///         Verdict::allow()
///     } else {
///         Verdict::deny("only read tools are open")
///     }
/// });
/// # let _ = only_reads;
/// ```
pub fn authorize_fn<F, Fut>(decide: F) -> AuthorizeFn<F>
where
    F: Fn(Call) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Verdict> + Send + 'static,
{
    AuthorizeFn(decide)
}

impl<F, Fut> Authorize for AuthorizeFn<F>
where
    F: Fn(Call) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Verdict> + Send + 'static,
{
    fn authorize(&self, call: &Call) -> Decision {
        Decision::Pending(Box::pin((self.0)(call.clone())))
    }
}

impl<A: Authorize + ?Sized> Authorize for Arc<A> {
    fn authorize(&self, call: &Call) -> Decision {
        (**self).authorize(call)
    }

    fn could_allow(&self, call: &Call) -> bool {
        (**self).could_allow(call)
    }
}

/// What a decision reads: the caller's token (its claims), the client, the action, the
/// target and the arguments. Compared whole, so two calls share a verdict only when all of it
/// is equal.
#[derive(Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    token: [u8; 32],
    client: Option<String>,
    action: Action,
    target: String,
    arguments: Option<String>,
}

/// Remembers the verdicts of another [`Authorize`] (an external decision point) for a while:
/// bounded, each verdict kept for at most `ttl`, keyed on everything the decision reads.
pub struct CachedAuthorize<A> {
    inner: Arc<A>,
    cache: Arc<Cache<CacheKey, (Verdict, Instant)>>,
    ttl: Duration,
}

impl<A: Authorize> CachedAuthorize<A> {
    /// At most `capacity` verdicts, each for at most `ttl`.
    pub fn new(inner: A, capacity: usize, ttl: Duration) -> Self {
        Self {
            inner: Arc::new(inner),
            cache: Arc::new(Cache::new(capacity.max(1))),
            ttl,
        }
    }

    fn key(call: &Call) -> CacheKey {
        CacheKey {
            token: *call.principal.token().digest().as_bytes(),
            client: call.client.as_ref().map(|c| c.client_id.clone()),
            action: call.action,
            target: call.target.clone(),
            arguments: call.arguments.as_ref().map(|a| a.to_string()),
        }
    }
}

impl<A: Authorize> Authorize for CachedAuthorize<A> {
    fn authorize(&self, call: &Call) -> Decision {
        let key = Self::key(call);
        if let Some((verdict, at)) = self.cache.get(&key)
            && at.elapsed() < self.ttl
        {
            return Decision::Ready(verdict);
        }
        match self.inner.authorize(call) {
            Decision::Ready(verdict) => {
                self.cache.insert(key, (verdict.clone(), Instant::now()));
                Decision::Ready(verdict)
            }
            Decision::Pending(future) => {
                let cache = self.cache.clone();
                Decision::Pending(Box::pin(async move {
                    let verdict = future.await;
                    cache.insert(key, (verdict.clone(), Instant::now()));
                    verdict
                }))
            }
        }
    }

    fn could_allow(&self, call: &Call) -> bool {
        self.inner.could_allow(call)
    }
}

impl<A> std::fmt::Debug for CachedAuthorize<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedAuthorize")
            .field("entries", &self.cache.len())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}
