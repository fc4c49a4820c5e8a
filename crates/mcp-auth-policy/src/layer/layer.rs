use std::sync::Arc;

use mcp_auth_core::{Rejector, ResourceId};
use tower_layer::Layer;

use super::Policy;
use crate::Authorize;

/// Applies [`Policy`] to a service. See the [module docs](super).
#[derive(Clone)]
pub struct PolicyLayer {
    /// `None`: disabled, every request passes untouched.
    pub(super) authorize: Option<Arc<dyn Authorize>>,
    pub(super) rejector: Rejector,
    pub(super) max_argument_bytes: usize,
    pub(super) max_listing_bytes: usize,
}

impl PolicyLayer {
    /// Decides with `authorize`; challenges point at `resource`'s metadata document.
    pub fn new(authorize: impl Authorize, resource: &ResourceId) -> Self {
        Self {
            authorize: Some(Arc::new(authorize)),
            rejector: Rejector::for_resource(resource),
            max_argument_bytes: 64 * 1024,
            max_listing_bytes: 16 * 1024 * 1024,
        }
    }

    /// A layer that decides nothing and filters nothing (a stack without policies keeps its
    /// type).
    pub fn disabled() -> Self {
        Self {
            authorize: None,
            rejector: Rejector::new(""),
            max_argument_bytes: 0,
            max_listing_bytes: 0,
        }
    }

    /// Whether this layer decides anything.
    pub fn is_enabled(&self) -> bool {
        self.authorize.is_some()
    }

    /// The largest `arguments` a call may carry (default 64 KiB); a larger one is refused (400)
    /// rather than decided on in part.
    pub fn max_argument_bytes(mut self, bytes: usize) -> Self {
        self.max_argument_bytes = bytes;
        self
    }

    /// The largest listing filtered (default 16 MiB, as the scope layer).
    pub fn max_listing_bytes(mut self, bytes: usize) -> Self {
        self.max_listing_bytes = bytes;
        self
    }

    /// Renders denials with `rejector` (the facade shares one across the stack).
    pub fn rejector(mut self, rejector: Rejector) -> Self {
        self.rejector = rejector;
        self
    }
}

impl<S> Layer<S> for PolicyLayer {
    type Service = Policy<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Policy {
            inner: mcp_auth_core::listing::ListFiltered::new(inner),
            shared: Arc::new(self.clone()),
        }
    }
}

impl std::fmt::Debug for PolicyLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyLayer")
            .field("enabled", &self.is_enabled())
            .field("max_argument_bytes", &self.max_argument_bytes)
            .finish_non_exhaustive()
    }
}
