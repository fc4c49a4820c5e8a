use mcp_auth_core::{Rejector, ResourceId};
use tower_layer::Layer;

use super::Scope;
use crate::ScopePolicy;

/// Applies [`Scope`] to a service. See the [crate docs](crate).
///
/// Place an [`McpInspectLayer`](mcp_auth_core::middleware::inspect::McpInspectLayer) outside it (the facade's
/// builder does): the scope layer decides by the inspected MCP content and refuses a JSON-RPC
/// `POST` that nothing inspected.
#[derive(Clone, Debug)]
#[must_use]
pub struct ScopeLayer {
    policy: ScopePolicy,
    rejector: Rejector,
    max_listing_bytes: usize,
}

impl ScopeLayer {
    /// Enforces `policy` for the resource `resource`; challenges point at its metadata URL.
    pub fn new(policy: ScopePolicy, resource: &ResourceId) -> Self {
        Self {
            policy,
            rejector: Rejector::for_resource(resource),
            max_listing_bytes: 16 * 1024 * 1024,
        }
    }

    /// Largest JSON listing (or single SSE event) filtered; a larger one fails the response
    /// rather than leaking unfiltered items. Defaults to 16 MiB.
    pub fn max_listing_bytes(mut self, bytes: usize) -> Self {
        self.max_listing_bytes = bytes;
        self
    }

    /// Renders denials with `rejector`, so that every layer of a stack answers alike. Defaults
    /// to [`Rejector::for_resource`] of the resource given to [`ScopeLayer::new`].
    pub fn rejector(mut self, rejector: Rejector) -> Self {
        self.rejector = rejector;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &ScopePolicy {
        &self.policy
    }
}

impl<S> Layer<S> for ScopeLayer {
    type Service = Scope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Scope {
            inner,
            policy: self.policy.clone(),
            rejector: self.rejector.clone(),
            max_listing_bytes: self.max_listing_bytes,
        }
    }
}
