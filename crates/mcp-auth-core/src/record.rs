//! The per-request record: what the layers decided, for the audit layer to report.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::mcp::McpRequest;
use crate::{Principal, Scopes};

/// A record shared by every layer that handles one request.
///
/// The outermost layer (audit) puts a `RequestRecord` in the request extensions; inner layers
/// find it there and fill in what they learned or decided; after the response the outer layer
/// reads it back. Without an audit layer there is no record and no cost. Cloning shares the same
/// record.
///
/// ```
/// use mcp_auth_core::record::{ClientSummary, RequestRecord};
///
/// let record = RequestRecord::default();
/// let shared = record.clone();
/// shared.update(|r| r.client = Some(ClientSummary::new("https://app.example/client.json")));
/// assert_eq!(record.snapshot().client.unwrap().client_id, "https://app.example/client.json");
/// ```
#[derive(Clone, Debug, Default)]
pub struct RequestRecord(Arc<Mutex<Record>>);

impl RequestRecord {
    /// Changes the record.
    pub fn update(&self, change: impl FnOnce(&mut Record)) {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut guard);
    }

    /// Takes the record out, leaving an empty one (for the layer that reports it, once the
    /// request is done).
    pub fn take(&self) -> Record {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// A copy of the record as it stands.
    pub fn snapshot(&self) -> Record {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Updates the record of `extensions`, if there is one.
    pub fn update_in(extensions: &http::Extensions, change: impl FnOnce(&mut Record)) {
        if let Some(record) = extensions.get::<RequestRecord>() {
            record.update(change);
        }
    }
}

/// What the layers recorded about one request.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Record {
    /// The verified caller.
    pub principal: Option<Principal>,
    /// The MCP content of the request.
    pub mcp: Option<McpRequest>,
    /// The OAuth client, as client identity established it.
    pub client: Option<ClientSummary>,
    /// The scope decision.
    pub scope: Option<ScopeCheck>,
    /// The policy decision (for a batch: the first refusal, or every allowing policy).
    pub policy: Option<PolicyCheck>,
    /// On-behalf-of exchanges made while serving the request, in order.
    pub exchanges: Vec<ExchangeSummary>,
    /// What became of a call that needs a person's approval, this round.
    pub approval: Option<ApprovalCheck>,
}

/// A call that must be approved by the person behind the token, requested in one stage, this
/// round. A person's approval is requested out of band; the call is retried until it is
/// granted, denied or expired.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApprovalCheck {
    /// The tool.
    pub tool: String,
    /// The call's digest (never its arguments).
    pub digest: String,
    /// What happened this round, in order (`granted` then `executed` when it ran).
    pub outcomes: Vec<ApprovalOutcome>,
    /// Why a state was refused or an approval failed, machine-readable.
    pub reason: Option<String>,
    /// How the person authenticated to approve (`acr`), when the issuer said.
    pub acr: Option<String>,
    /// The authentication methods used to approve (`amr`).
    pub amr: Vec<String>,
}

impl ApprovalCheck {
    /// A call of `tool` with `digest`, nothing happened yet.
    pub fn new(tool: impl Into<String>, digest: impl Into<String>) -> Self {
        Self {
            tool: tool.into(),
            digest: digest.into(),
            outcomes: Vec::new(),
            reason: None,
            acr: None,
            amr: Vec::new(),
        }
    }
}

/// One stage of an approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApprovalOutcome {
    /// A request was sent to the person's device.
    Requested,
    /// Not decided yet; the client was told to come back.
    Pending,
    /// The person approved this exact call.
    Granted,
    /// The person refused.
    Denied,
    /// Nobody decided in time.
    Expired,
    /// The client's state was refused (see the reason).
    StateRefused,
    /// An approval already used was presented again.
    Replayed,
    /// The approval could not be requested or checked (see the reason).
    Failed,
    /// The approved call was handed to the server.
    Executed,
}

impl ApprovalOutcome {
    /// The name audit events use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Pending => "pending",
            Self::Granted => "granted",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::StateRefused => "state_refused",
            Self::Replayed => "replayed",
            Self::Failed => "failed",
            Self::Executed => "executed",
        }
    }
}

/// Put in a request's extensions by a layer that decided its call needs a person's approval
/// (a policy whose permit asks for it); the approval layer, further in, then requires it for
/// the tool even when its own configuration does not name the tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRequired {
    /// Who asked for it (a policy id), for the audit event.
    pub by: String,
}

/// The OAuth client behind a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientSummary {
    /// The client id (a URL for Client ID Metadata Document clients).
    pub client_id: String,
    /// The client's display name, when known.
    pub name: Option<String>,
    /// True when the id is a Client ID Metadata Document URL.
    pub metadata_document: bool,
    /// True when an operator approved the client (an approval registry admitted it).
    pub approved: bool,
}

impl ClientSummary {
    /// A client known only by its id.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            name: None,
            metadata_document: false,
            approved: false,
        }
    }

    /// Sets the display name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Marks the id as a Client ID Metadata Document URL.
    #[must_use]
    pub fn metadata_document(mut self, yes: bool) -> Self {
        self.metadata_document = yes;
        self
    }

    /// Marks the client as approved by an operator.
    #[must_use]
    pub fn approved(mut self, yes: bool) -> Self {
        self.approved = yes;
        self
    }
}

/// A scope decision.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScopeCheck {
    /// Whether the request was allowed.
    pub allowed: bool,
    /// What the request needed (for alternatives, the set that was satisfied or challenged).
    pub required: Scopes,
    /// What the token granted.
    pub granted: Scopes,
    /// What was missing (empty when allowed).
    pub missing: Scopes,
}

impl ScopeCheck {
    /// A decision.
    pub fn new(allowed: bool, required: Scopes, granted: Scopes, missing: Scopes) -> Self {
        Self {
            allowed,
            required,
            granted,
            missing,
        }
    }
}

/// A policy decision.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PolicyCheck {
    /// Whether the request was allowed.
    pub allowed: bool,
    /// Ids of the deciding policies (the permits that allowed, or the forbids that refused).
    pub policies: Vec<String>,
}

impl PolicyCheck {
    /// A decision.
    pub fn new(allowed: bool, policies: Vec<String>) -> Self {
        Self { allowed, policies }
    }
}

/// One on-behalf-of token exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExchangeSummary {
    /// The target: the `audience` and/or `resource` asked for.
    pub target: String,
    /// The scopes requested.
    pub requested: Scopes,
    /// The scopes granted (on success).
    pub granted: Option<Scopes>,
    /// True when served from the cache without contacting the authorization server.
    pub cached: bool,
    /// `None` on success, else the OAuth error code or failure reason.
    pub error: Option<String>,
    /// Time spent.
    pub latency: Duration,
    /// The tool whose call asked for the exchange, when the request called one.
    pub tool: Option<String>,
}

impl ExchangeSummary {
    /// An exchange summary.
    pub fn new(target: impl Into<String>, requested: Scopes) -> Self {
        Self {
            target: target.into(),
            requested,
            granted: None,
            cached: false,
            error: None,
            latency: Duration::ZERO,
            tool: None,
        }
    }

    /// Names the tool whose call asked for the exchange.
    #[must_use]
    pub fn tool(mut self, tool: Option<String>) -> Self {
        self.tool = tool;
        self
    }

    /// Sets the granted scopes.
    #[must_use]
    pub fn granted(mut self, granted: Scopes) -> Self {
        self.granted = Some(granted);
        self
    }

    /// Marks a cache hit.
    #[must_use]
    pub fn cached(mut self, cached: bool) -> Self {
        self.cached = cached;
        self
    }

    /// Records a failure.
    #[must_use]
    pub fn error(mut self, error: impl Into<String>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// Sets the latency.
    #[must_use]
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }
}
