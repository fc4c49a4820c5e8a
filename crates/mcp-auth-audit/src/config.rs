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
}

impl AuditEntry {
    /// Opens the sinks and starts the auditor.
    ///
    /// # Errors
    /// No sink named, or a file that cannot be opened.
    pub fn start(self) -> Result<Auditor, ConfigValueError> {
        let entry = self;
        let mut builder = Auditor::builder();
        if entry.file.is_none() && !entry.tracing {
            return Err(ConfigValueError::new(
                "audit",
                "name a `file = \"audit.jsonl\"`, set `tracing = true`, or both",
            ));
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
