//! `[audit]`: auditing, as configuration.

use mcp_auth_core::ConfigValueError;
use serde::Deserialize;

use crate::{Auditor, JsonLinesFile, Overflow, TracingSink};

/// `audit.overflow`: what happens when the audit queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowEntry {
    /// Requests that reached the service wait: no event of theirs is lost (the default).
    #[default]
    Wait,
    /// Never wait; count what is dropped.
    Drop,
}

/// `[audit]`: where events go, and how the queue behaves.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// A JSON Lines file to append events to.
    #[serde(default)]
    pub file: Option<String>,
    /// Rotate the file at this size, in bytes (default 100 MiB).
    #[serde(default)]
    pub rotate_bytes: Option<u64>,
    /// Old files kept (default 5).
    #[serde(default)]
    pub keep: Option<usize>,
    /// Also emit events through `tracing` (target `mcp_auth::audit`).
    #[serde(default)]
    pub tracing: bool,
    /// `"wait"` (default: lose nothing) or `"drop"` (never wait; count drops).
    #[serde(default)]
    pub overflow: OverflowEntry,
    /// Queue capacity in requests (default 16384).
    #[serde(default)]
    pub capacity: Option<usize>,
    /// An OpenTelemetry collector (OTLP/HTTP, e.g. `http://otel-collector:4318`) that receives
    /// every event as a log record (feature `otlp`).
    #[cfg(feature = "otlp")]
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported records (default `mcp-auth`).
    #[cfg(feature = "otlp")]
    #[serde(default)]
    pub otlp_service_name: Option<String>,
}

impl AuditEntry {
    /// Opens the sinks and starts the auditor.
    ///
    /// # Errors
    /// No sink named, or a file that cannot be opened.
    pub fn start(self) -> Result<Auditor, ConfigValueError> {
        let entry = self;
        let mut builder = Auditor::builder();
        #[cfg(feature = "otlp")]
        let otlp = entry.otlp_endpoint.is_some();
        #[cfg(not(feature = "otlp"))]
        let otlp = false;
        if entry.file.is_none() && !entry.tracing && !otlp {
            return Err(ConfigValueError::new(
                "audit",
                "name a `file = \"audit.jsonl\"`, set `tracing = true`, or an `otlp_endpoint`",
            ));
        }
        #[cfg(feature = "otlp")]
        if let Some(endpoint) = &entry.otlp_endpoint {
            let mut sink = crate::OtlpSink::new(endpoint)
                .map_err(|e| ConfigValueError::new("audit.otlp_endpoint", e))?;
            if let Some(name) = &entry.otlp_service_name {
                sink = sink.service_name(name);
            }
            builder = builder.sink(sink);
        }
        if let Some(path) = &entry.file {
            let file = JsonLinesFile::open(path).map_err(|e| {
                ConfigValueError::new("audit.file", format!("cannot open {path}: {e}"))
            })?;
            builder = builder.sink(file.rotate(
                entry.rotate_bytes.unwrap_or(100 * 1024 * 1024),
                entry.keep.unwrap_or(5),
            ));
        }
        if entry.tracing {
            builder = builder.sink(TracingSink);
        }
        builder = builder.overflow(match entry.overflow {
            OverflowEntry::Wait => Overflow::Wait,
            OverflowEntry::Drop => Overflow::DropAndCount,
        });
        if let Some(capacity) = entry.capacity {
            builder = builder.capacity(capacity);
        }
        Ok(builder.start())
    }
}

#[cfg(all(test, feature = "otlp"))]
mod otlp_tests {
    use super::*;

    #[test]
    fn an_otlp_endpoint_is_a_sink_of_its_own_and_a_bad_one_is_named() {
        let entry = |endpoint: &str| -> AuditEntry {
            toml::from_str(&format!("otlp_endpoint = \"{endpoint}\"")).unwrap()
        };
        let auditor = entry("http://127.0.0.1:4318").start().unwrap();
        auditor.shutdown();
        let err = entry("ftp://collector").start().unwrap_err().to_string();
        assert!(err.contains("audit.otlp_endpoint"), "{err}");
    }
}
