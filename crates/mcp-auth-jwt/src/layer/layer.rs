use std::fmt;
use std::sync::Arc;

use http::Request;
use mcp_auth_core::{AuthError, AuthErrorKind, Rejection, Rejector, Scopes};
use tower_layer::Layer;

use super::Verify;
use crate::Verifier;

type ScopeHint = Arc<dyn Fn(&http::Extensions) -> Option<Scopes> + Send + Sync>;

/// Applies [`Verify`] to a service. See the [module docs](crate::layer) for an example.
#[derive(Clone)]
#[must_use]
pub struct VerifyLayer {
    pub(super) shared: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) verifier: Verifier,
    rejector: Rejector,
    challenge_scope: Scopes,
    scope_hint: Option<ScopeHint>,
}

impl Shared {
    /// Rejects `request`, with the operation's scope in a 401 challenge.
    pub(super) fn reject<B>(&self, error: AuthError, request: &Request<B>) -> Rejection {
        let challengeable = matches!(
            error.kind(),
            AuthErrorKind::MissingToken | AuthErrorKind::InvalidToken
        );
        let error = if challengeable && error.scope().is_none() {
            let scope = self
                .scope_hint
                .as_ref()
                .and_then(|hint| hint(request.extensions()))
                .unwrap_or_else(|| self.challenge_scope.clone());
            error.with_scope(scope)
        } else {
            error
        };
        self.rejector.reject(error, request.headers())
    }
}

impl VerifyLayer {
    /// Verifies bearer tokens with `verifier`. Challenges point at the metadata URL derived from
    /// the verifier's resource identifier.
    ///
    /// This layer only *points* at the RFC 9728 metadata document; it does not serve it.
    /// Clients that cannot fetch the document cannot find the issuer, so serve it too: put a
    /// [`MetadataLayer`](mcp_auth_core::middleware::metadata::MetadataLayer) outside this layer, or mount
    /// its [`service`](mcp_auth_core::middleware::metadata::MetadataLayer::service) as a route (the facade's
    /// `McpAuth::builder` does both for you).
    pub fn new(verifier: Verifier) -> Self {
        let rejector =
            Rejector::for_resource(verifier.resource()).accept_dpop(verifier.dpop_algorithms());
        Self {
            shared: Arc::new(Shared {
                verifier,
                rejector,
                challenge_scope: Scopes::empty(),
                scope_hint: None,
            }),
        }
    }

    /// Renders denials with `rejector` (its metadata URL, its custom rendering), so that every
    /// layer of a stack answers alike. Defaults to [`Rejector::for_resource`] of the verifier's
    /// resource. Its 401s name the DPoP proof algorithms the verifier accepts unless it names
    /// some already.
    pub fn rejector(mut self, rejector: Rejector) -> Self {
        let rejector = match rejector.dpop_algs() {
            Some(_) => rejector,
            None => rejector.accept_dpop(self.shared.verifier.dpop_algorithms()),
        };
        self.shared_mut().rejector = rejector;
        self
    }

    /// The `scope` advertised in 401 challenges: what a client should request to use this
    /// server at all, e.g. `"mcp:read"`. Defaults to none.
    pub fn challenge_scope(mut self, scope: impl Into<Scopes>) -> Self {
        self.shared_mut().challenge_scope = scope.into();
        self
    }

    /// Computes the 401 `scope` from the request's extensions when it knows the operation (e.g.
    /// from an [`McpRequest`](mcp_auth_core::mcp::McpRequest) placed by an outer layer);
    /// `None` falls back to [`VerifyLayer::challenge_scope`].
    pub fn scope_hint(
        mut self,
        hint: impl Fn(&http::Extensions) -> Option<Scopes> + Send + Sync + 'static,
    ) -> Self {
        self.shared_mut().scope_hint = Some(Arc::new(hint));
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.shared.verifier
    }

    fn shared_mut(&mut self) -> &mut Shared {
        Arc::get_mut(&mut self.shared).expect("configure VerifyLayer before cloning it")
    }
}

impl fmt::Debug for VerifyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyLayer")
            .field("verifier", &self.shared.verifier)
            .field("rejector", &self.shared.rejector)
            .field("challenge_scope", &self.shared.challenge_scope)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for VerifyLayer {
    type Service = Verify<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Verify {
            inner,
            shared: self.shared.clone(),
        }
    }
}
