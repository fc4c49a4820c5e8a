use std::sync::Arc;

use mcp_auth_core::ResourceId;
use mcp_auth_core::inspect::{InspectLimits, McpInspect};
use tower_layer::Layer;

use super::Scope;
use crate::ScopePolicy;

/// Applies [`Scope`] (behind the request inspector) to a service. See the [crate docs](crate).
#[derive(Clone, Debug)]
#[must_use]
pub struct ScopeLayer {
    policy: ScopePolicy,
    resource_metadata: Arc<str>,
    limits: InspectLimits,
    max_listing_bytes: usize,
}

impl ScopeLayer {
    /// Enforces `policy` for the resource `resource`; challenges point at its metadata URL.
    pub fn new(policy: ScopePolicy, resource: &ResourceId) -> Self {
        Self {
            policy,
            resource_metadata: resource.metadata_url().into(),
            limits: InspectLimits::default(),
            max_listing_bytes: 16 * 1024 * 1024,
        }
    }

    /// Limits for reading request bodies when no outer layer has inspected them.
    pub fn inspect_limits(mut self, limits: InspectLimits) -> Self {
        self.limits = limits;
        self
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
    type Service = McpInspect<Scope<S>>;

    fn layer(&self, inner: S) -> Self::Service {
        let scope = Scope {
            inner,
            policy: self.policy.clone(),
            resource_metadata: self.resource_metadata.clone(),
            max_listing_bytes: self.max_listing_bytes,
        };
        McpInspect::new(scope, self.limits)
    }
}
