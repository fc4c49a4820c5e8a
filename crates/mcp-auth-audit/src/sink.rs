//! Where events go. Sinks run on the auditor's writer thread, never on the request path.

use crate::event::{AuditEvent, EventKind};

/// A destination for audit events. Called from the auditor's own writer thread, one event at a
/// time, so a sink may block (write a file, send to a channel) without slowing requests.
pub trait AuditSink: Send + 'static {
    /// Writes one event.
    fn write(&mut self, event: &AuditEvent);

    /// Makes written events durable (called when the queue runs empty, and at shutdown).
    fn flush(&mut self) {}
}

/// Emits each event through `tracing` under target `mcp_auth::audit`, with the main facts as
/// structured fields and the whole event as JSON in `event`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink;

impl AuditSink for TracingSink {
    fn write(&mut self, event: &AuditEvent) {
        let json = serde_json::to_string(event).unwrap_or_default();
        let kind = match event.kind {
            EventKind::Request => "request",
            EventKind::Exchange => "exchange",
            EventKind::Dropped => "dropped",
        };
        let decision = event.decision.as_ref();
        let first = event.mcp.as_ref().and_then(|m| m.messages.first());
        tracing::info!(
            target: "mcp_auth::audit",
            kind,
            request_id = %event.request_id,
            status = event.http.as_ref().map(|h| h.status),
            method = first.and_then(|m| m.method.as_deref()),
            target_name = first.and_then(|m| m.target.as_deref()),
            subject = event.principal.as_ref().map(|p| p.subject.as_str()),
            client_id = event.principal.as_ref().and_then(|p| p.client_id.as_deref()),
            outcome = decision.map(|d| d.outcome),
            reason = decision.and_then(|d| d.reason),
            latency_ms = event.latency_ms,
            dropped = event.dropped,
            event = %json,
            "audit"
        );
    }
}

/// Forwards events to a channel, for sinks of your own (a database, a message queue).
#[derive(Debug)]
pub struct ChannelSink {
    sender: tokio::sync::mpsc::Sender<AuditEvent>,
}

impl ChannelSink {
    /// Forwards to `sender`. When the channel is full the writer thread waits (the auditor's
    /// overflow policy then applies upstream); when it is closed events are discarded.
    pub fn new(sender: tokio::sync::mpsc::Sender<AuditEvent>) -> Self {
        Self { sender }
    }
}

impl AuditSink for ChannelSink {
    fn write(&mut self, event: &AuditEvent) {
        let _ = self.sender.blocking_send(event.clone());
    }
}

/// Collects events in memory (for tests).
#[derive(Clone, Debug, Default)]
pub struct MemorySink {
    events: std::sync::Arc<std::sync::Mutex<Vec<AuditEvent>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The events written so far.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl AuditSink for MemorySink {
    fn write(&mut self, event: &AuditEvent) {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
    }
}
