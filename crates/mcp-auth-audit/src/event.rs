//! The audit event: what happened, by whom, decided how, in how long — never a raw token.

use std::time::{Duration, SystemTime};

use mcp_auth_core::mcp::{McpRequest, MessageKind, Target};
use mcp_auth_core::record::{ClientSummary, ExchangeSummary, PolicyCheck, Record, ScopeCheck};
use mcp_auth_core::{AuthError, Principal, Scopes};
use serde::Serialize;
use serde_json::Value;

/// The schema identifier every event carries; bumped on any incompatible change. The JSON Schema
/// is [`SCHEMA_JSON`] (`schema/audit-event.v1.json` in the repository).
pub const SCHEMA_ID: &str = "mcp-auth.audit/v1";

/// The JSON Schema (draft 2020-12) of [`AuditEvent`].
pub const SCHEMA_JSON: &str = include_str!("../schema/audit-event.v1.json");

/// One audit event: a request served (or refused), a token exchange made while serving one, or
/// a report of events the queue had to drop.
#[derive(Clone, Debug, Serialize)]
pub struct AuditEvent {
    /// Always [`SCHEMA_ID`].
    pub schema: &'static str,
    /// What the event records.
    pub kind: EventKind,
    /// When the event was produced (RFC 3339, UTC, milliseconds).
    pub time: String,
    /// The request's id: the caller's `X-Request-Id`, else its `traceparent` trace id, else
    /// generated. Exchange events carry the id of the request they served.
    pub request_id: String,
    /// The HTTP exchange (request events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpInfo>,
    /// The MCP content (request events with a JSON-RPC body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpInfo>,
    /// Who called (absent when no token was verified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<PrincipalInfo>,
    /// What was decided (request events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionInfo>,
    /// Token exchanges: all of them in a request event, the one in an exchange event.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<ExchangeInfo>,
    /// A call held for the approval of the person behind the token: what happened this round
    /// (request events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalInfo>,
    /// Milliseconds from receiving the request to the end of the response body (request
    /// events), or spent on the exchange (exchange events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Events dropped by the queue since the last report (dropped events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    /// The request's W3C trace context, when it came with a valid `traceparent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceInfo>,
}

/// A request's trace context (W3C `traceparent`), lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceInfo {
    /// The trace id (32 hex digits).
    pub trace_id: String,
    /// The caller's span id, the parent of this request's work (16 hex digits).
    pub span_id: String,
}

/// What an event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A request, allowed or not.
    Request,
    /// One on-behalf-of token exchange.
    Exchange,
    /// The queue dropped events (the overflow policy says so).
    Dropped,
}

/// The HTTP side of a request.
#[derive(Clone, Debug, Serialize)]
pub struct HttpInfo {
    /// The method.
    pub method: String,
    /// The path (no query string: it may carry secrets).
    pub path: String,
    /// The response status (0 when the service failed without a response).
    pub status: u16,
    /// Milliseconds until the response headers.
    pub headers_ms: f64,
    /// False when the client went away before the body was fully sent.
    pub completed: bool,
    /// The `Mcp-Session-Id`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// The MCP content of a request.
#[derive(Clone, Debug, Serialize)]
pub struct McpInfo {
    /// True for a JSON-RPC batch.
    pub batch: bool,
    /// One entry per JSON-RPC message, in order.
    pub messages: Vec<McpMessageInfo>,
}

/// One JSON-RPC message.
#[derive(Clone, Debug, Serialize)]
pub struct McpMessageInfo {
    /// `request`, `notification` or `response`.
    pub kind: &'static str,
    /// The method (absent for responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The JSON-RPC id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// `tool`, `resource` or `prompt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_kind: Option<&'static str>,
    /// The tool name, resource URI or prompt name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The caller.
#[derive(Clone, Debug, Serialize)]
pub struct PrincipalInfo {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `"user"`, or `"client"` when the token acts for the client itself (client credentials).
    pub subject_kind: &'static str,
    /// The OAuth client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client's name from its metadata document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Granted scopes.
    pub scopes: Scopes,
    /// The audience value that admitted the token (the resource, or an accepted audience of
    /// the issuer such as an App ID URI); absent for an issuer accepting tokens without `aud`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The key the token is bound to, when sender-constrained: `dpop:<jwk thumbprint>` (the
    /// request carried a valid proof by that key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_binding: Option<String>,
    /// The delegation chain from `act`, most recent actor first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actors: Vec<String>,
    /// `sha256:` fingerprint of the token (never the token).
    pub token_fingerprint: String,
}

/// The decision.
#[derive(Clone, Debug, Serialize)]
pub struct DecisionInfo {
    /// `allowed`, `denied` or `error`.
    pub outcome: &'static str,
    /// Machine-readable reason (`expired`, `insufficient_scope`, ...) for denials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The description sent to the client, for denials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Scopes required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<Scopes>,
    /// Scopes granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted: Option<Scopes>,
    /// Scopes missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Scopes>,
    /// Ids of the policies that decided (the permits that allowed, or the forbids that
    /// refused), when a policy layer decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
}

/// One round of a call held for approval.
#[derive(Clone, Debug, Serialize)]
pub struct ApprovalInfo {
    /// The tool.
    pub tool: String,
    /// The call's digest (never its arguments).
    pub digest: String,
    /// What happened, in order: `requested`, `pending`, `granted`, `executed`, `denied`,
    /// `expired`, `state_refused`, `replayed`, `failed`.
    pub outcomes: Vec<&'static str>,
    /// Why a state was refused or the round failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How the person authenticated to approve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The methods they authenticated with.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

/// One token exchange.
#[derive(Clone, Debug, Serialize)]
pub struct ExchangeInfo {
    /// The audience or resource asked for.
    pub target: String,
    /// Scopes requested.
    pub requested: Scopes,
    /// Scopes granted (on success).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted: Option<Scopes>,
    /// Served from the cache.
    pub cached: bool,
    /// `ok`, or the OAuth error code / failure reason.
    pub outcome: String,
    /// Milliseconds spent.
    pub latency_ms: f64,
    /// The tool whose call asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

pub(crate) fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// What the layer saw of the HTTP exchange.
pub(crate) struct Observed {
    /// When the request finished (the event's time).
    pub(crate) at: SystemTime,
    pub(crate) request_id: String,
    pub(crate) trace: Option<TraceInfo>,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) session_id: Option<String>,
    pub(crate) status: u16,
    pub(crate) headers: Duration,
    pub(crate) total: Duration,
    pub(crate) completed: bool,
    pub(crate) denial: Option<AuthError>,
    pub(crate) failed: bool,
}

/// Builds the request event and one event per exchange.
pub(crate) fn events(observed: Observed, record: Record) -> Vec<AuditEvent> {
    let time = rfc3339(observed.at);
    let exchanges: Vec<ExchangeInfo> = record.exchanges.iter().map(exchange_info).collect();
    let principal = record
        .principal
        .as_ref()
        .map(|p| principal_info(p, record.client.as_ref()));
    let decision = decision_info(&observed, record.scope.as_ref(), record.policy.as_ref());
    let mut out = Vec::with_capacity(1 + exchanges.len());
    for (summary, info) in record.exchanges.iter().zip(&exchanges) {
        out.push(AuditEvent {
            schema: SCHEMA_ID,
            kind: EventKind::Exchange,
            time: time.clone(),
            request_id: observed.request_id.clone(),
            http: None,
            mcp: None,
            principal: principal.clone(),
            decision: None,
            exchanges: vec![info.clone()],
            approval: None,
            latency_ms: Some(millis(summary.latency)),
            dropped: None,
            trace: observed.trace.clone(),
        });
    }
    out.push(AuditEvent {
        schema: SCHEMA_ID,
        kind: EventKind::Request,
        time,
        request_id: observed.request_id,
        http: Some(HttpInfo {
            method: observed.method,
            path: observed.path,
            status: observed.status,
            headers_ms: millis(observed.headers),
            completed: observed.completed,
            session_id: observed.session_id,
        }),
        mcp: record.mcp.as_ref().map(mcp_info),
        principal,
        decision: Some(decision),
        exchanges,
        approval: record.approval.map(|check| ApprovalInfo {
            outcomes: check.outcomes.iter().map(|o| o.as_str()).collect(),
            tool: check.tool,
            digest: check.digest,
            reason: check.reason,
            acr: check.acr,
            amr: check.amr,
        }),
        latency_ms: Some(millis(observed.total)),
        dropped: None,
        trace: observed.trace,
    });
    out
}

/// A report of dropped events.
pub(crate) fn dropped_event(count: u64) -> AuditEvent {
    AuditEvent {
        schema: SCHEMA_ID,
        kind: EventKind::Dropped,
        time: rfc3339(SystemTime::now()),
        request_id: String::new(),
        http: None,
        mcp: None,
        principal: None,
        decision: None,
        exchanges: Vec::new(),
        approval: None,
        latency_ms: None,
        dropped: Some(count),
        trace: None,
    }
}

fn mcp_info(mcp: &McpRequest) -> McpInfo {
    McpInfo {
        batch: mcp.is_batch(),
        messages: mcp
            .messages()
            .iter()
            .map(|m| {
                let (target_kind, target) = match m.target() {
                    Some(Target::Tool(n)) => (Some("tool"), Some(n.clone())),
                    Some(Target::Resource(u)) => (Some("resource"), Some(u.clone())),
                    Some(Target::Prompt(n)) => (Some("prompt"), Some(n.clone())),
                    _ => (None, None),
                };
                McpMessageInfo {
                    kind: match m.kind() {
                        MessageKind::Request => "request",
                        MessageKind::Notification => "notification",
                        _ => "response",
                    },
                    method: m.method().map(str::to_owned),
                    id: m.id().cloned(),
                    target_kind,
                    target,
                }
            })
            .collect(),
    }
}

fn principal_info(p: &Principal, client: Option<&ClientSummary>) -> PrincipalInfo {
    PrincipalInfo {
        issuer: p.issuer().to_owned(),
        subject: p.subject().to_owned(),
        subject_kind: if p.acts_for_itself() {
            "client"
        } else {
            "user"
        },
        client_id: p.client_id().map(str::to_owned),
        client_name: client.and_then(|c| c.name.clone()),
        scopes: p.scopes().clone(),
        audience: p.audience().map(str::to_owned),
        key_binding: p.key_binding().map(ToString::to_string),
        actors: p
            .actor()
            .map(|a| a.chain().map(|a| a.subject.clone()).collect())
            .unwrap_or_default(),
        token_fingerprint: p.token().fingerprint().to_owned(),
    }
}

fn decision_info(
    observed: &Observed,
    scope: Option<&ScopeCheck>,
    policy: Option<&PolicyCheck>,
) -> DecisionInfo {
    let outcome = if observed.failed {
        "error"
    } else if observed.denial.is_some() {
        "denied"
    } else {
        "allowed"
    };
    DecisionInfo {
        outcome,
        reason: observed.denial.as_ref().map(AuthError::reason),
        description: observed.denial.as_ref().map(|e| e.description().to_owned()),
        required: scope.map(|s| s.required.clone()),
        granted: scope.map(|s| s.granted.clone()),
        missing: scope
            .filter(|s| !s.missing.is_empty())
            .map(|s| s.missing.clone()),
        policies: policy
            .filter(|p| !p.policies.is_empty())
            .map(|p| p.policies.clone()),
    }
}

fn exchange_info(e: &ExchangeSummary) -> ExchangeInfo {
    ExchangeInfo {
        target: e.target.clone(),
        requested: e.requested.clone(),
        granted: e.granted.clone(),
        cached: e.cached,
        outcome: e.error.clone().unwrap_or_else(|| "ok".to_owned()),
        latency_ms: millis(e.latency),
        tool: e.tool.clone(),
    }
}
