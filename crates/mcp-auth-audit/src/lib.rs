//! Audit logging for MCP servers.
//!
//! One structured event per request — who (issuer, subject, client, scopes, delegation chain,
//! token fingerprint), what (HTTP method, path, status; MCP method, tool / resource / prompt,
//! JSON-RPC ids), the decision (allowed or denied, reason, required / granted / missing scopes)
//! and latency — and one per on-behalf-of token exchange. Never a raw token.
//!
//! - [`Auditor`]: a bounded queue and a writer thread; sinks never run on the request path.
//!   [`Overflow::Wait`] loses nothing; [`Overflow::DropAndCount`] never waits and reports how
//!   many events it dropped. [`Auditor::shutdown`] writes everything queued.
//! - Sinks: [`TracingSink`] (target `mcp_auth::audit`), [`JsonLinesFile`] (append, flush policy,
//!   size-based rotation), [`ChannelSink`] (your own), [`MemorySink`] (tests), and with the
//!   `otlp` feature `OtlpSink` (OpenTelemetry log records over OTLP/HTTP, retried through a
//!   collector outage, with the request's trace context).
//! - [`AuditLayer`]: outermost in the stack; see [`layer`].
//! - The event's JSON Schema is versioned: [`SCHEMA_ID`], [`SCHEMA_JSON`].
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::{BodyExt, Full};
//! use mcp_auth_audit::{Auditor, MemorySink};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let sink = MemorySink::new();
//! let auditor = Auditor::builder().sink(sink.clone()).start();
//! let service = ServiceBuilder::new()
//!     .layer(auditor.layer())
//!     .service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("ok"))))
//!     });
//!
//! let response = service.oneshot(Request::get("/mcp").body(Full::default()).unwrap()).await.unwrap();
//! response.into_body().collect().await.unwrap();
//! auditor.shutdown();
//! assert_eq!(sink.events().len(), 1);
//! assert_eq!(sink.events()[0].http.as_ref().unwrap().status, 200);
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod auditor;
mod config;
mod event;
mod file;
pub mod layer;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "otlp")]
mod otlp_metrics;
mod queue;
mod request_id;
mod sink;

pub use auditor::{Auditor, AuditorBuilder};
pub use config::{AuditEntry, OverflowEntry};
pub use event::{
    ApprovalInfo, AuditEvent, DecisionInfo, EventKind, ExchangeInfo, HttpInfo, McpInfo,
    McpMessageInfo, PrincipalInfo, SCHEMA_ID, SCHEMA_JSON, TraceInfo,
};
pub use file::{FlushPolicy, JsonLinesFile};
pub use layer::{Audit, AuditBody, AuditLayer};
#[cfg(feature = "otlp")]
pub use otlp::{OtlpError, OtlpSink, OtlpStats};
pub use queue::Overflow;
pub use request_id::RequestId;
pub use sink::{AuditSink, ChannelSink, MemorySink, TracingSink};
