use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mcp_auth_core::{Rejector, ResourceId};
use mcp_auth_jwt::{MemoryReplayStore, ReplayStore};
use mcp_auth_obo::SecretKeys;
use tower_layer::Layer;
use wildmatch::WildMatch;

use super::Approval;
use crate::ciba::{CibaClient, LoginHint};
use crate::state::PendingApproval;

/// The `type` of the authorization details the layer asks for (RFC 9396 §2).
pub const DETAIL_TYPE: &str = "mcp_tool_call";

/// Applies [`Approval`] to a service. See the [module docs](super).
#[derive(Clone)]
pub struct ApprovalLayer {
    /// `None`: disabled, every request passes untouched.
    pub(crate) gate: Option<Arc<Gate>>,
    /// Renders refusals, also those of a disabled layer (a policy's demand it cannot meet).
    pub(crate) rejector: Arc<Rejector>,
}

/// Everything a round needs, shared by every request.
pub(crate) struct Gate {
    pub ciba: CibaClient,
    pub keys: SecretKeys,
    pub resource: String,
    pub tools: Vec<WildMatch>,
    pub login_hint: LoginHint,
    pub requested_expiry: Duration,
    pub round_wait: Duration,
    pub detail_type: String,
    pub acr_values: Option<String>,
    pub used: Arc<dyn ReplayStore>,
    pub clock: Arc<dyn Fn() -> SystemTime + Send + Sync>,
    /// How many approval requests one person may be sent a minute.
    pub max_per_minute: u32,
    /// Requests sent per person (principal key) in the current minute.
    pub sent: Arc<Mutex<HashMap<String, (u64, u32)>>>,
    /// The longest summary of a call's arguments shown on the person's device.
    pub max_summary_chars: usize,
    /// When each request may next be polled by this process (Unix ms), by request id.
    pub polls: Arc<Mutex<HashMap<String, u64>>>,
}

impl ApprovalLayer {
    /// Approval by the person behind the token, asked through `ciba` (this server's client at
    /// the issuers), for the tools named with [`tool`](Self::tool) (none yet) and the calls a
    /// policy marks. `keys` seal the state clients carry between rounds; replicas share them.
    pub fn new(ciba: CibaClient, keys: SecretKeys, resource: &ResourceId) -> Self {
        Self {
            gate: Some(Arc::new(Gate {
                ciba,
                keys,
                resource: resource.as_str().to_owned(),
                tools: Vec::new(),
                login_hint: LoginHint::default(),
                requested_expiry: Duration::from_secs(300),
                round_wait: Duration::from_secs(10),
                detail_type: DETAIL_TYPE.to_owned(),
                acr_values: None,
                used: Arc::new(MemoryReplayStore::default()),
                clock: Arc::new(SystemTime::now),
                max_per_minute: 5,
                sent: Arc::default(),
                max_summary_chars: 1000,
                polls: Arc::default(),
            })),
            rejector: Arc::new(Rejector::for_resource(resource)),
        }
    }

    /// A layer that gates nothing (a stack without approvals keeps its type).
    pub fn disabled() -> Self {
        Self {
            gate: None,
            rejector: Arc::new(Rejector::new("")),
        }
    }

    /// Whether this layer gates anything.
    pub fn is_enabled(&self) -> bool {
        self.gate.is_some()
    }

    /// Requires approval for calls of `tool`: a name, or a glob (`delete_*`).
    #[must_use]
    pub fn tool(self, tool: &str) -> Self {
        self.change(|gate| gate.tools.push(WildMatch::new(tool)))
    }

    /// How the person is named to the issuer (default: the token's subject).
    #[must_use]
    pub fn login_hint(self, hint: LoginHint) -> Self {
        self.change(|gate| gate.login_hint = hint)
    }

    /// The authentication context the person must approve with (`acr_values`, space-separated,
    /// e.g. a multi-factor level); the level they used is recorded in the audit event.
    #[must_use]
    pub fn acr_values(self, acr_values: impl Into<String>) -> Self {
        let acr_values = acr_values.into();
        self.change(|gate| gate.acr_values = Some(acr_values))
    }

    /// How long the person has to decide, asked of the issuer (default 5 minutes, kept between
    /// 30 seconds and an hour).
    #[must_use]
    pub fn requested_expiry(self, expiry: Duration) -> Self {
        let expiry = expiry.clamp(Duration::from_secs(30), Duration::from_secs(3600));
        self.change(|gate| gate.requested_expiry = expiry)
    }

    /// The longest a retry waits at the server for the decision before answering "not yet"
    /// (default 10 seconds, at most a minute). Clients that cannot show the person a prompt
    /// learn the decision within one such wait of it.
    #[must_use]
    pub fn round_wait(self, wait: Duration) -> Self {
        let wait = wait.min(Duration::from_secs(60));
        self.change(|gate| gate.round_wait = wait)
    }

    /// Where used approvals are remembered so none runs twice (default: in process). Replicas
    /// share one (`mcp_auth_redis::RedisReplayStore`), or an approval could run once per
    /// replica.
    #[must_use]
    pub fn used_approvals(self, store: impl ReplayStore) -> Self {
        let store: Arc<dyn ReplayStore> = Arc::new(store);
        self.change(|gate| gate.used = store)
    }

    /// How many approval requests one person may be sent a minute by this process (default 5):
    /// an agent cannot flood someone's phone with prompts until one is approved by mistake.
    /// Calls beyond it get a tool error and reach nobody.
    #[must_use]
    pub fn max_requests_per_minute(self, max: u32) -> Self {
        self.change(|gate| gate.max_per_minute = max)
    }

    /// The longest text of a call's arguments shown on the person's device (default 1,000
    /// characters). A call whose arguments do not fit is refused rather than shown in part: a
    /// clipped summary could hide the amount or the recipient.
    #[must_use]
    pub fn max_summary_chars(self, chars: usize) -> Self {
        self.change(|gate| gate.max_summary_chars = chars)
    }

    /// Renders refusals with `rejector` (the facade shares one across the stack).
    #[must_use]
    pub fn rejector(mut self, rejector: Rejector) -> Self {
        self.rejector = Arc::new(rejector);
        self
    }

    /// The clock (tests).
    #[must_use]
    pub fn clock(self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        let clock: Arc<dyn Fn() -> SystemTime + Send + Sync> = Arc::new(clock);
        self.change(|gate| gate.clock = clock)
    }

    fn change(mut self, change: impl FnOnce(&mut Gate)) -> Self {
        if let Some(gate) = self.gate.take() {
            let mut gate = Arc::try_unwrap(gate).unwrap_or_else(|shared| shared.duplicate());
            change(&mut gate);
            self.gate = Some(Arc::new(gate));
        }
        self
    }
}

impl Gate {
    fn duplicate(&self) -> Self {
        Self {
            ciba: self.ciba.clone(),
            keys: self.keys.clone(),
            resource: self.resource.clone(),
            tools: self.tools.clone(),
            login_hint: self.login_hint.clone(),
            requested_expiry: self.requested_expiry,
            round_wait: self.round_wait,
            detail_type: self.detail_type.clone(),
            acr_values: self.acr_values.clone(),
            used: self.used.clone(),
            clock: self.clock.clone(),
            max_per_minute: self.max_per_minute,
            sent: self.sent.clone(),
            max_summary_chars: self.max_summary_chars,
            polls: self.polls.clone(),
        }
    }

    /// Counts one more request to the person `principal` this minute; false when that would
    /// exceed the limit.
    pub(crate) fn may_send(&self, principal: &str, now: SystemTime) -> bool {
        let minute = crate::state::unix_seconds(now) / 60;
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        if sent.len() >= 10_000 {
            sent.retain(|_, (at, _)| *at == minute);
        }
        let entry = sent.entry(principal.to_owned()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= self.max_per_minute {
            return false;
        }
        entry.1 += 1;
        true
    }

    /// Reserves this process's next poll of `pending`'s request, at the later of what its
    /// state says and what this process last allowed (so an older copy of the state, or many
    /// sent at once, cannot make it poll early): the time to poll at (Unix ms), or `None` when
    /// that is after `deadline_ms` or the request's expiry.
    pub(crate) fn reserve_poll(&self, pending: &PendingApproval, deadline_ms: u64) -> Option<u64> {
        let mut polls = self.polls.lock().unwrap_or_else(|p| p.into_inner());
        if polls.len() >= 10_000 {
            let now = crate::state::unix_millis((self.clock)());
            polls.retain(|_, next| *next > now);
            if polls.len() >= 10_000 {
                return None;
            }
        }
        let known = polls.get(&pending.auth_req_id).copied().unwrap_or(0);
        let slot = pending.next_poll_ms.max(known);
        if slot > deadline_ms || slot >= pending.expires_at.saturating_mul(1000) {
            return None;
        }
        polls.insert(
            pending.auth_req_id.clone(),
            slot + pending.interval.saturating_mul(1000),
        );
        Some(slot)
    }

    /// The issuer asked to slow down: no poll of `pending`'s request before its new time.
    pub(crate) fn slowed_down(&self, pending: &PendingApproval) {
        let mut polls = self.polls.lock().unwrap_or_else(|p| p.into_inner());
        let next = polls.entry(pending.auth_req_id.clone()).or_insert(0);
        *next = (*next).max(pending.next_poll_ms);
    }

    /// Whether calls of `tool` need approval by configuration.
    pub(crate) fn gates(&self, tool: &str) -> bool {
        self.tools.iter().any(|pattern| pattern.matches(tool))
    }
}

impl<S> Layer<S> for ApprovalLayer {
    type Service = Approval<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Approval {
            inner,
            gate: self.gate.clone(),
            rejector: self.rejector.clone(),
        }
    }
}

impl std::fmt::Debug for ApprovalLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("ApprovalLayer");
        if let Some(gate) = &self.gate {
            let tools: Vec<String> = gate.tools.iter().map(ToString::to_string).collect();
            s.field("tools", &tools)
                .field("ciba", &gate.ciba)
                .field("keys", &gate.keys)
                .field("requested_expiry", &gate.requested_expiry)
                .field("round_wait", &gate.round_wait);
        } else {
            s.field("enabled", &false);
        }
        s.finish_non_exhaustive()
    }
}
