//! JSON Lines to a file: append, flush policy, size-based rotation.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::event::AuditEvent;
use crate::sink::AuditSink;

/// When the file sink flushes its buffer to the operating system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlushPolicy {
    /// After every event: nothing is lost if the process dies, at a cost per event.
    EveryEvent,
    /// Whenever the queue runs empty (and at shutdown): batches under load, prompt when idle.
    #[default]
    WhenIdle,
}

/// Appends one JSON object per line to a file, rotating by size: `audit.jsonl` becomes
/// `audit.jsonl.1`, `.1` becomes `.2`, and so on, keeping a bounded number of old files.
#[derive(Debug)]
pub struct JsonLinesFile {
    path: PathBuf,
    writer: BufWriter<File>,
    written: u64,
    max_bytes: u64,
    keep: usize,
    flush: FlushPolicy,
    errors: u64,
    /// Reused for every event's line, so serialising costs no allocation.
    scratch: Vec<u8>,
}

impl JsonLinesFile {
    /// Opens (or creates) `path` for appending. Defaults: rotate at 100 MiB, keep 5 old files,
    /// flush when idle.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let (writer, written) = open_append(&path)?;
        Ok(Self {
            path,
            writer,
            written,
            max_bytes: 100 * 1024 * 1024,
            keep: 5,
            flush: FlushPolicy::default(),
            errors: 0,
            scratch: Vec::with_capacity(1024),
        })
    }

    /// Rotates when the file would exceed `bytes`, keeping `keep` old files.
    #[must_use]
    pub fn rotate(mut self, bytes: u64, keep: usize) -> Self {
        self.max_bytes = bytes.max(1);
        self.keep = keep;
        self
    }

    /// Sets the flush policy.
    #[must_use]
    pub fn flush_policy(mut self, policy: FlushPolicy) -> Self {
        self.flush = policy;
        self
    }

    fn rotate_now(&mut self) -> io::Result<()> {
        self.writer.flush()?;
        if self.keep == 0 {
            fs::remove_file(&self.path)?;
        } else {
            let numbered = |n: usize| PathBuf::from(format!("{}.{n}", self.path.display()));
            let _ = fs::remove_file(numbered(self.keep));
            for n in (1..self.keep).rev() {
                if numbered(n).exists() {
                    fs::rename(numbered(n), numbered(n + 1))?;
                }
            }
            fs::rename(&self.path, numbered(1))?;
        }
        let (writer, written) = open_append(&self.path)?;
        self.writer = writer;
        self.written = written;
        Ok(())
    }

    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if self.written > 0 && self.written + line.len() as u64 > self.max_bytes {
            self.rotate_now()?;
        }
        self.writer.write_all(line)?;
        self.written += line.len() as u64;
        if self.flush == FlushPolicy::EveryEvent {
            self.writer.flush()?;
        }
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<(BufWriter<File>, u64)> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let len = file.metadata()?.len();
    // Large writes: fewer system calls per event under load.
    Ok((BufWriter::with_capacity(64 * 1024, file), len))
}

impl AuditSink for JsonLinesFile {
    fn write(&mut self, event: &AuditEvent) {
        let mut line = std::mem::take(&mut self.scratch);
        line.clear();
        if serde_json::to_writer(&mut line, event).is_err() {
            self.scratch = line;
            return;
        }
        line.push(b'\n');
        let written = self.write_line(&line);
        self.scratch = line;
        if let Err(e) = written {
            self.errors += 1;
            // Reported once per burst of failures, through the ordinary log, not the audit log.
            if self.errors == 1 || self.errors.is_power_of_two() {
                tracing::error!(target: "mcp_auth::audit", path = %self.path.display(), error = %e, failures = self.errors, "cannot write audit file");
            }
        }
    }

    fn flush(&mut self) {
        let _ = self.writer.flush();
    }
}
