//! How much of a request body is read and parsed.

/// Limits the inspector enforces on request bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct InspectLimits {
    pub(crate) max_body_bytes: usize,
    pub(crate) max_batch: usize,
    pub(crate) max_depth: usize,
    pub(crate) read_timeout: std::time::Duration,
    pub(crate) max_credential_less_bytes: usize,
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

    /// Default limit on what is read of a request without credentials: 64 KiB.
    pub const DEFAULT_MAX_CREDENTIAL_LESS_BYTES: usize = 64 * 1024;

    /// Largest body read from a request without an `Authorization` header by an inspector placed
    /// [in front of verification](crate::middleware::inspect::McpInspectLayer::in_front_of_verification); such a body is read
    /// only to choose the scope of the 401 challenge. Defaults to 64 KiB.
    pub fn max_credential_less_bytes(mut self, bytes: usize) -> Self {
        self.max_credential_less_bytes = bytes;
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
            max_credential_less_bytes: Self::DEFAULT_MAX_CREDENTIAL_LESS_BYTES,
        }
    }
}

/// `[limits]`: the request body limits, as configuration (every value optional).
#[derive(Clone, Copy, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body, in bytes (default 4 MiB).
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// Most messages in a JSON-RPC batch (default 100).
    #[serde(default)]
    pub max_batch: Option<usize>,
    /// Deepest JSON nesting (default 64).
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// How long a request body may take to arrive, in milliseconds (default 30000): then 408.
    #[serde(default)]
    pub read_timeout_ms: Option<u64>,
}

impl LimitsConfig {
    /// The limits, defaults where not given.
    pub fn into_limits(self) -> InspectLimits {
        let mut limits = InspectLimits::default();
        if let Some(n) = self.max_body_bytes {
            limits = limits.max_body_bytes(n);
        }
        if let Some(n) = self.max_batch {
            limits = limits.max_batch(n);
        }
        if let Some(n) = self.max_depth {
            limits = limits.max_depth(n);
        }
        if let Some(ms) = self.read_timeout_ms {
            limits = limits.read_timeout(std::time::Duration::from_millis(ms));
        }
        limits
    }
}
