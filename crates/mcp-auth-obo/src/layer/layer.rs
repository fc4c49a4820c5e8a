use std::fmt;
use std::sync::Arc;

use mcp_auth_core::ResourceId;
use tower_layer::Layer;

use super::Obo;
use crate::TokenExchangeClient;

/// Applies [`Obo`] to a service. See the [module docs](crate::layer) for an example.
#[derive(Clone)]
#[must_use]
pub struct OboLayer {
    pub(super) shared: Arc<Shared>,
}

#[derive(Clone)]
pub(super) struct Shared {
    pub(super) client: TokenExchangeClient,
    pub(super) resource_metadata: String,
}

impl OboLayer {
    /// Gives handlers of the resource server `resource` an [`OnBehalfOf`](crate::OnBehalfOf)
    /// handle backed by `client`. Denials point at the metadata URL derived from `resource`.
    pub fn new(client: TokenExchangeClient, resource: &ResourceId) -> Self {
        Self {
            shared: Arc::new(Shared {
                client,
                resource_metadata: resource.metadata_url(),
            }),
        }
    }

    /// Overrides the `resource_metadata` URL advertised in challenges (when the metadata is
    /// served somewhere other than the derived location).
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.shared).resource_metadata = url.into();
        self
    }

    /// The client.
    pub fn client(&self) -> &TokenExchangeClient {
        &self.shared.client
    }
}

impl fmt::Debug for OboLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OboLayer")
            .field("client", &self.shared.client)
            .field("resource_metadata", &self.shared.resource_metadata)
            .finish()
    }
}

impl<S> Layer<S> for OboLayer {
    type Service = Obo<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Obo {
            inner,
            shared: self.shared.clone(),
        }
    }
}
