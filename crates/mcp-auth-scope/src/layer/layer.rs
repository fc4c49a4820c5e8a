use std::sync::Arc;

use mcp_auth_core::ResourceId;
use tower_layer::Layer;

use super::Scope;
use crate::ScopePolicy;

/// Applies [`Scope`] to a service. See the [crate docs](crate).
///
/// Place an [`McpInspectLayer`](mcp_auth_core::inspect::McpInspectLayer) outside it (the facade's
/// builder does): the scope layer decides by the inspected MCP content and refuses a JSON-RPC
/// `POST` that nothing inspected.
#[derive(Clone, Debug)]
#[must_use]
pub struct ScopeLayer {
    policy: ScopePolicy,
    resource_metadata: Arc<str>,
    max_listing_bytes: usize,
}

impl ScopeLayer {
    /// Enforces `policy` for the resource `resource`; challenges point at its metadata URL.
    pub fn new(policy: ScopePolicy, resource: &ResourceId) -> Self {
        Self {
            policy,
            resource_metadata: resource.metadata_url().into(),
            max_listing_bytes: 16 * 1024 * 1024,
        }
    }

    /// Largest JSON listing (or single SSE event) filtered; a larger one fails the response
    /// rather than leaking unfiltered items. Defaults to 16 MiB.
    pub fn max_listing_bytes(mut self, bytes: usize) -> Self {
        self.max_listing_bytes = bytes;
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
            resource_metadata: self.resource_metadata.clone(),
            max_listing_bytes: self.max_listing_bytes,
        }
    }
}
