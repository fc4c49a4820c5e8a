use std::sync::Arc;

use tower_layer::Layer;

use super::Audit;
use crate::queue::Shared;

/// Applies [`Audit`] to a service. Obtain it from [`Auditor::layer`](crate::Auditor::layer).
#[derive(Clone, Debug)]
#[must_use]
pub struct AuditLayer {
    /// `None`: nothing is recorded (see [`AuditLayer::disabled`]).
    pub(crate) shared: Option<Arc<Shared>>,
}

impl AuditLayer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared: Some(shared),
        }
    }

    /// A layer that records nothing: what a stack without auditing uses, so its type does not
    /// change.
    pub fn disabled() -> Self {
        Self { shared: None }
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = Audit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Audit {
            inner,
            shared: self.shared.clone(),
        }
    }
}
