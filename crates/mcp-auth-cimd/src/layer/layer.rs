use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use mcp_auth_core::{AuthError, Rejection, Rejector};
use tower_layer::Layer;

use super::Cimd;
use crate::admission::{Decision, decide};
use crate::{ClientPolicy, ClientResolver};

/// Applies [`Cimd`] to a service. See the [module docs](crate::layer) for an example.
#[derive(Clone)]
#[must_use]
pub struct CimdLayer {
    /// `None`: the layer passes requests through untouched (see [`CimdLayer::disabled`]).
    pub(super) shared: Option<Arc<Shared>>,
}

pub(super) struct Shared {
    pub(super) resolver: ClientResolver,
    pub(super) policy: ClientPolicy,
    rejector: Rejector,
}

impl Shared {
    pub(super) fn decide(&self, extensions: &http::Extensions) -> Decision {
        decide(&self.policy, &self.resolver, extensions)
    }

    pub(super) fn reject(&self, error: AuthError, headers: &HeaderMap) -> Rejection {
        tracing::debug!(
            reason = error.reason(),
            description = error.description(),
            "client refused"
        );
        self.rejector.reject(error, headers)
    }
}

impl CimdLayer {
    /// Identifies clients with `resolver` and admits them by `policy`.
    pub fn new(resolver: ClientResolver, policy: ClientPolicy) -> Self {
        Self {
            shared: Some(Arc::new(Shared {
                resolver,
                policy,
                rejector: Rejector::default(),
            })),
        }
    }

    /// A layer that admits every request without looking at its client: what a stack without
    /// client identity uses, so its type does not change.
    pub fn disabled() -> Self {
        Self { shared: None }
    }

    /// Renders denials with `rejector`, so that every layer of a stack answers alike (this
    /// layer's 403 and 503 carry no challenge, but a custom rendering applies to them too).
    /// Defaults to [`Rejector::default`].
    pub fn rejector(mut self, rejector: Rejector) -> Self {
        if let Some(shared) = &mut self.shared {
            Arc::get_mut(shared)
                .expect("configure CimdLayer before cloning it")
                .rejector = rejector;
        }
        self
    }

    /// The resolver (e.g. to pre-resolve known clients at start-up); `None` when disabled.
    pub fn resolver(&self) -> Option<&ClientResolver> {
        self.shared.as_ref().map(|s| &s.resolver)
    }

    /// The policy; `None` when disabled.
    pub fn policy(&self) -> Option<&ClientPolicy> {
        self.shared.as_ref().map(|s| &s.policy)
    }
}

impl fmt::Debug for CimdLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shared {
            Some(shared) => f
                .debug_struct("CimdLayer")
                .field("resolver", &shared.resolver)
                .field("policy", &shared.policy)
                .field("rejector", &shared.rejector)
                .finish(),
            None => f.write_str("CimdLayer(disabled)"),
        }
    }
}

impl<S> Layer<S> for CimdLayer {
    type Service = Cimd<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Cimd {
            inner,
            shared: self.shared.clone(),
        }
    }
}
