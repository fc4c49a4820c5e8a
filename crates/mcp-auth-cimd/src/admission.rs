//! Admitting a verified request's client: the decisions the client identity layer makes, and
//! where it records them.

use http::Request;
use mcp_auth_core::record::{ClientSummary, RequestRecord};
use mcp_auth_core::{AuthError, Principal};

use crate::policy::Step;
use crate::{Admission, CimdUrl, ClientPolicy, ClientResolver};

/// What `call` can decide before any I/O.
pub(crate) enum Decision {
    Admit(Admission),
    Deny(AuthError),
    Resolve(String),
}

/// What `call` can decide about the request's client before any I/O.
pub(crate) fn decide(
    policy: &ClientPolicy,
    resolver: &ClientResolver,
    extensions: &http::Extensions,
) -> Decision {
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
    match policy.begin(client_id, resolver) {
        Step::Admit(admission) => Decision::Admit(admission),
        Step::Deny(error) => {
            record_client(extensions, client_id);
            Decision::Deny(error)
        }
        Step::Resolve => Decision::Resolve(client_id.to_owned()),
    }
}

/// Puts the admitted client where handlers and the audit layer look for it.
pub(crate) fn admit<B>(request: &mut Request<B>, admission: Admission) {
    let approved = matches!(admission, Admission::Approved(_));
    match admission {
        Admission::Document(info) | Admission::Approved(info) => {
            // Inner layers (a policy) read the admitted client here.
            let summary = info.summary().approved(approved);
            RequestRecord::update_in(request.extensions(), |r| r.client = Some(summary.clone()));
            request.extensions_mut().insert(summary);
            request.extensions_mut().insert(info);
        }
        Admission::PreRegistered(id) => {
            // Inner layers (a policy) know a pre-registered client by the token's client id:
            // nothing to add to the extensions.
            RequestRecord::update_in(request.extensions(), |r| {
                r.client = Some(ClientSummary::new(id))
            });
        }
    }
}

/// Records which client was refused, for the audit layer.
pub(crate) fn record_client(extensions: &http::Extensions, client_id: &str) {
    RequestRecord::update_in(extensions, |r| {
        r.client = Some(
            ClientSummary::new(client_id).metadata_document(CimdUrl::looks_like_url(client_id)),
        );
    });
}
