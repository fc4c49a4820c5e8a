use tower_layer::Layer;

use super::McpInspect;
use crate::Rejector;
use crate::mcp::InspectLimits;

/// Applies [`McpInspect`] to a service. See the [module docs](crate::middleware::inspect) for an example.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct McpInspectLayer {
    limits: InspectLimits,
    in_front_of_verification: bool,
    rejector: Rejector,
}

impl McpInspectLayer {
    /// An inspector with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// An inspector with the given limits.
    pub fn with_limits(limits: InspectLimits) -> Self {
        Self {
            limits,
            in_front_of_verification: false,
            rejector: Rejector::default(),
        }
    }

    /// Renders this layer's denials (400, 408, 413) with `rejector`, as the rest of the stack
    /// does. Defaults to [`Rejector::default`].
    pub fn rejector(mut self, rejector: Rejector) -> Self {
        self.rejector = rejector;
        self
    }

    /// For an inspector placed outside the verification layer, so that a 401 can name the
    /// scopes the operation needs: a request without an `Authorization` header is read only up
    /// to [`InspectLimits::max_credential_less_bytes`] and is never refused here. When its body
    /// is too large, late or not JSON-RPC it goes on without an
    /// [`McpRequest`](crate::mcp::McpRequest) (and, when not read whole, with an empty body), and
    /// verification answers it 401 as it answers any request without credentials. Requests
    /// with credentials are inspected as usual.
    pub fn in_front_of_verification(mut self) -> Self {
        self.in_front_of_verification = true;
        self
    }
}

impl<S> Layer<S> for McpInspectLayer {
    type Service = McpInspect<S>;

    fn layer(&self, inner: S) -> Self::Service {
        McpInspect {
            inner,
            limits: self.limits,
            in_front_of_verification: self.in_front_of_verification,
            rejector: self.rejector.clone(),
        }
    }
}
