use std::fmt;
use std::sync::Arc;

use http::{Extensions, HeaderMap};
use mcp_auth_core::{AuthBody, AuthError, AuthErrorKind, Scopes};
use tower_layer::Layer;

use super::Verify;
use crate::Verifier;

type ScopeHint = Arc<dyn Fn(&Extensions) -> Option<Scopes> + Send + Sync>;

/// Applies [`Verify`] to a service. See the [module docs](crate::layer) for an example.
#[derive(Clone)]
#[must_use]
pub struct VerifyLayer {
    pub(super) shared: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) verifier: Verifier,
    resource_metadata: String,
    challenge_scope: Scopes,
    scope_hint: Option<ScopeHint>,
}

impl Shared {
    /// Renders a denial with this layer's metadata URL and challenge scope.
    pub(super) fn render<B>(
        &self,
        error: AuthError,
        headers: &HeaderMap,
        extensions: &Extensions,
    ) -> http::Response<AuthBody<B>> {
        let challengeable = matches!(
            error.kind(),
            AuthErrorKind::MissingToken | AuthErrorKind::InvalidToken
        );
        let error = if challengeable && error.scope().is_none() {
            let scope = self
                .scope_hint
                .as_ref()
                .and_then(|hint| hint(extensions))
                .unwrap_or_else(|| self.challenge_scope.clone());
            error.with_scope(scope)
        } else {
            error
        };
        error.to_response(&self.resource_metadata, headers)
    }
}

impl VerifyLayer {
    /// Verifies bearer tokens with `verifier`. Challenges point at the metadata URL derived from
    /// the verifier's resource identifier.
    pub fn new(verifier: Verifier) -> Self {
        let resource_metadata = verifier.resource().metadata_url();
        Self {
            shared: Arc::new(Shared {
                verifier,
                resource_metadata,
                challenge_scope: Scopes::empty(),
                scope_hint: None,
            }),
        }
    }

    /// Overrides the `resource_metadata` URL advertised in challenges (when the metadata is
    /// served somewhere other than the derived location).
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.shared_mut().resource_metadata = url.into();
        self
    }

    /// The `scope` advertised in 401 challenges: what a client should request to use this
    /// server at all. Defaults to none.
    pub fn challenge_scope(mut self, scope: Scopes) -> Self {
        self.shared_mut().challenge_scope = scope;
        self
    }

    /// Computes the 401 `scope` from the request's extensions when it knows the operation (e.g.
    /// from an [`McpRequest`](mcp_auth_core::inspect::McpRequest) placed by an outer layer);
    /// `None` falls back to [`VerifyLayer::challenge_scope`].
    pub fn scope_hint(
        mut self,
        hint: impl Fn(&Extensions) -> Option<Scopes> + Send + Sync + 'static,
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
            .field("resource_metadata", &self.shared.resource_metadata)
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
