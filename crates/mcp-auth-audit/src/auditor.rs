//! The auditor: one per process, owning the queue; it hands out the audit layer.

use std::sync::Arc;

use crate::layer::AuditLayer;
use crate::queue::{Overflow, Shared};
use crate::sink::AuditSink;

/// Owns the audit queue and its writer thread. Create one per process with [`Auditor::builder`],
/// hand out [`Auditor::layer`], and call [`Auditor::shutdown`] before exiting so everything
/// queued is written.
#[derive(Clone, Debug)]
pub struct Auditor {
    pub(crate) shared: Arc<Shared>,
}

/// Configures an [`Auditor`].
#[must_use]
pub struct AuditorBuilder {
    sinks: Vec<Box<dyn AuditSink>>,
    capacity: usize,
    overflow: Overflow,
    include_metadata: bool,
}

impl std::fmt::Debug for AuditorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditorBuilder")
            .field("sinks", &self.sinks.len())
            .field("capacity", &self.capacity)
            .field("overflow", &self.overflow)
            .finish()
    }
}

impl AuditorBuilder {
    /// Adds a sink; events go to every sink, in order.
    pub fn sink(mut self, sink: impl AuditSink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Queue capacity, in requests. Defaults to 16,384.
    pub fn capacity(mut self, requests: usize) -> Self {
        self.capacity = requests.max(1);
        self
    }

    /// The overflow policy. Defaults to [`Overflow::Wait`].
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Also record requests for the protected-resource metadata document. Off by default.
    pub fn include_metadata_requests(mut self, include: bool) -> Self {
        self.include_metadata = include;
        self
    }

    /// Starts the writer thread.
    ///
    /// # Panics
    /// If the operating system refuses to start a thread.
    pub fn start(self) -> Auditor {
        Auditor {
            shared: Arc::new(Shared::start(
                self.sinks,
                self.capacity,
                self.overflow,
                self.include_metadata,
            )),
        }
    }
}

impl Auditor {
    /// Starts configuring an auditor.
    pub fn builder() -> AuditorBuilder {
        AuditorBuilder {
            sinks: Vec::new(),
            capacity: 16_384,
            overflow: Overflow::default(),
            include_metadata: false,
        }
    }

    /// The layer that records every request into this auditor.
    pub fn layer(&self) -> AuditLayer {
        AuditLayer::new(self.shared.clone())
    }

    /// Events dropped so far under [`Overflow::DropAndCount`] (or after shutdown).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped()
    }

    /// Requests so far that found the queue full under [`Overflow::Wait`] and waited for room:
    /// non-zero means the sinks could not keep up (a sign to give them more room or speed).
    pub fn waited(&self) -> u64 {
        self.shared.waited()
    }

    /// Writes everything queued, flushes the sinks and stops the writer thread. Later events are
    /// counted as dropped. Blocks until done: from async code call it through
    /// `tokio::task::spawn_blocking`.
    pub fn shutdown(&self) {
        self.shared.shutdown();
    }
}
