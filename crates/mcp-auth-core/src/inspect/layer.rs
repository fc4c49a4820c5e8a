use tower_layer::Layer;

use super::McpInspect;

/// Limits the inspector enforces on request bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct InspectLimits {
    pub(super) max_body_bytes: usize,
    pub(super) max_batch: usize,
    pub(super) max_depth: usize,
    pub(super) read_timeout: std::time::Duration,
}

impl InspectLimits {
    /// Default body limit: 4 MiB, as large as any sane tool call.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
    /// Default batch limit.
    pub const DEFAULT_MAX_BATCH: usize = 100;

    /// Largest request body read, in bytes; larger bodies get 413. Defaults to 4 MiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Default nesting limit for JSON arrays and objects.
    pub const DEFAULT_MAX_DEPTH: usize = 64;

    /// Deepest nesting of JSON arrays and objects accepted; deeper bodies get 400. Defaults to 64.
    pub fn max_depth(mut self, levels: usize) -> Self {
        self.max_depth = levels;
        self
    }

    /// Default time allowed for the whole request body to arrive.
    pub const DEFAULT_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

    /// Time allowed for the whole request body to arrive; a body still incomplete after it gets
    /// 408, so a client that never finishes its body cannot hold the request open. Defaults to
    /// 30 s. The timer is armed only for bodies not complete at once, on the Tokio runtime's
    /// timer (servers built on hyper, axum or tonic have one).
    pub fn read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Most messages in one JSON-RPC batch; larger batches get 400. Defaults to 100.
    pub fn max_batch(mut self, messages: usize) -> Self {
        self.max_batch = messages;
        self
    }
}

impl Default for InspectLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            max_batch: Self::DEFAULT_MAX_BATCH,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            read_timeout: Self::DEFAULT_READ_TIMEOUT,
        }
    }
}

/// Applies [`McpInspect`] to a service. See the [module docs](crate::inspect) for an example.
#[derive(Clone, Copy, Debug, Default)]
#[must_use]
pub struct McpInspectLayer {
    limits: InspectLimits,
}

impl McpInspectLayer {
    /// An inspector with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// An inspector with the given limits.
    pub fn with_limits(limits: InspectLimits) -> Self {
        Self { limits }
    }
}

impl<S> Layer<S> for McpInspectLayer {
    type Service = McpInspect<S>;

    fn layer(&self, inner: S) -> Self::Service {
        McpInspect::new(inner, self.limits)
    }
}
