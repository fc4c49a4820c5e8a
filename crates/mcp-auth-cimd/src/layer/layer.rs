use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, Request};
use mcp_auth_core::record::{ClientSummary, RequestRecord};
use mcp_auth_core::{AuthError, Principal, Rejection, Rejector};
use tower_layer::Layer;

use super::Cimd;
use crate::policy::Step;
use crate::{Admission, CimdUrl, ClientPolicy, ClientResolver};

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

/// What `call` can decide before any I/O.
pub(super) enum Decision {
    Admit(Admission),
    Deny(AuthError),
    Resolve(String),
}

impl Shared {
    pub(super) fn decide(&self, extensions: &http::Extensions) -> Decision {
        let Some(principal) = extensions.get::<Principal>() else {
            tracing::error!(
                "CimdLayer received a request without a verified Principal: \
                 place the verification layer (VerifyLayer) outside CimdLayer"
            );
            return Decision::Deny(AuthError::access_denied(
                "no_principal",
                "the client cannot be identified: the request was not authenticated",
            ));
        };
        let Some(client_id) = principal.client_id() else {
            return Decision::Deny(AuthError::access_denied(
                "token_without_client",
                "the access token names no client (neither client_id nor azp)",
            ));
        };
        match self.policy.begin(client_id, &self.resolver) {
            Step::Admit(admission) => Decision::Admit(admission),
            Step::Deny(error) => {
                record_client(extensions, client_id);
                Decision::Deny(error)
            }
            Step::Resolve => Decision::Resolve(client_id.to_owned()),
        }
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

/// Puts the admitted client where handlers and the audit layer look for it.
pub(super) fn admit<B>(request: &mut Request<B>, admission: Admission) {
    match admission {
        Admission::Document(info) => {
            RequestRecord::update_in(request.extensions(), |r| r.client = Some(info.summary()));
            request.extensions_mut().insert(info);
        }
        Admission::PreRegistered(id) => {
            RequestRecord::update_in(request.extensions(), |r| {
                r.client = Some(ClientSummary::new(id))
            });
        }
    }
}

/// Records which client was refused, for the audit layer.
pub(super) fn record_client(extensions: &http::Extensions, client_id: &str) {
    RequestRecord::update_in(extensions, |r| {
        r.client = Some(
            ClientSummary::new(client_id).metadata_document(CimdUrl::looks_like_url(client_id)),
        );
    });
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
