use std::fmt;
use std::sync::Arc;

use mcp_auth_core::{Rejector, ResourceId};
use tower_layer::Layer;

use super::Obo;
use crate::{ExchangeAllowlist, TokenExchangeClient};

/// Applies [`Obo`] to a service. See the [module docs](crate::layer) for an example.
#[derive(Clone)]
#[must_use]
pub struct OboLayer {
    /// `None`: the layer passes requests through untouched (see [`OboLayer::disabled`]).
    pub(super) shared: Option<Arc<Shared>>,
}

#[derive(Clone)]
pub(super) struct Shared {
    pub(super) client: TokenExchangeClient,
    pub(super) rejector: Rejector,
    pub(super) allowlist: Option<Arc<ExchangeAllowlist>>,
}

impl OboLayer {
    /// Gives handlers of the resource server `resource` an [`OnBehalfOf`](crate::OnBehalfOf)
    /// handle backed by `client`. Denials point at the metadata URL derived from `resource`.
    pub fn new(client: TokenExchangeClient, resource: &ResourceId) -> Self {
        Self {
            shared: Some(Arc::new(Shared {
                client,
                rejector: Rejector::for_resource(resource),
                allowlist: None,
            })),
        }
    }

    /// A layer that passes every request through untouched and puts no handle in it: what a
    /// stack without token exchange uses, so its type does not change.
    pub fn disabled() -> Self {
        Self { shared: None }
    }

    /// Renders the failures handlers propagate with `rejector`, so that every layer of a stack
    /// answers alike. Defaults to [`Rejector::for_resource`].
    pub fn rejector(mut self, rejector: Rejector) -> Self {
        if let Some(shared) = &mut self.shared {
            Arc::make_mut(shared).rejector = rejector;
        }
        self
    }

    /// Limits the exchanges handlers may make, per tool: anything else is refused before the
    /// authorization server is contacted.
    pub fn allowlist(mut self, allowlist: ExchangeAllowlist) -> Self {
        if let Some(shared) = &mut self.shared {
            Arc::make_mut(shared).allowlist = Some(Arc::new(allowlist));
        }
        self
    }

    /// The client.
    pub fn client(&self) -> Option<&TokenExchangeClient> {
        self.shared.as_ref().map(|s| &s.client)
    }
}

impl fmt::Debug for OboLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OboLayer")
            .field("client", &self.shared.as_ref().map(|s| &s.client))
            .finish_non_exhaustive()
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
