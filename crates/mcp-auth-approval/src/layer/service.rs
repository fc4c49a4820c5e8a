use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use mcp_auth_core::mcp::{McpRequest, Target};
use mcp_auth_core::record::{ApprovalCheck, ApprovalOutcome, ApprovalRequired, RequestRecord};
use mcp_auth_core::{AuthBody, AuthError, AuthFuture, Principal, Rejection, take_ready};
use tower_service::Service;

use super::layer::Gate;
use crate::digest::{CallDigest, CallFacts};
use crate::mrtr::{self, CallParams};
use crate::round::Round;

/// Middleware that holds calls of gated tools until the person behind the token approves them.
/// Built by [`ApprovalLayer`](super::ApprovalLayer).
#[derive(Clone)]
pub struct Approval<S> {
    pub(super) inner: S,
    pub(super) gate: Option<Arc<Gate>>,
    pub(super) rejector: Arc<mcp_auth_core::Rejector>,
}

mcp_auth_core::middleware_service!(Approval);

/// A round still to be played out (asking the issuer, waiting for the decision).
pub type Deciding<B> = Pin<Box<dyn Future<Output = Result<Request<B>, Rejection>> + Send>>;

/// Response future of [`Approval`].
pub type ResponseFuture<S, B> = AuthFuture<S, Request<AuthBody<B>>, Deciding<AuthBody<B>>>;

impl<S, B, ResBody> Service<Request<AuthBody<B>>> for Approval<S>
where
    S: Service<Request<AuthBody<B>>, Response = Response<ResBody>> + Clone,
    B: Send + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    mcp_auth_core::forward_ready!();

    fn call(&mut self, req: Request<AuthBody<B>>) -> Self::Future {
        let Some(gate) = &self.gate else {
            if let Some(marked) = req.extensions().get::<ApprovalRequired>() {
                // A policy asked for a person's approval and this server cannot ask for one:
                // refused, never run unapproved.
                let error = AuthError::access_denied(
                    "approval_unavailable",
                    format!(
                        "the policy `{}` requires a person's approval for this call, and this server has no approval configured",
                        mcp_auth_core::untrusted_text(&marked.by, 128)
                    ),
                );
                return AuthFuture::reject(self.rejector.reject(error, req.headers()));
            }
            return AuthFuture::call(self.inner.call(req));
        };
        let Some(mcp) = req.extensions().get::<McpRequest>() else {
            return AuthFuture::call(self.inner.call(req));
        };
        let marked = req.extensions().get::<ApprovalRequired>().is_some();
        let gated = mcp.messages().iter().position(|m| {
            m.method() == Some("tools/call")
                && matches!(m.target(), Some(Target::Tool(tool)) if marked || gate.gates(tool))
        });
        let Some(index) = gated else {
            return AuthFuture::call(self.inner.call(req));
        };
        if mcp.is_batch() {
            // Nothing is started for any message: the batch is refused whole.
            let error = AuthError::bad_request(
                "approval_in_batch",
                "a call that needs approval cannot be sent in a batch; send it on its own",
            );
            return AuthFuture::reject(self.rejector.reject(error, req.headers()));
        }
        let Some(principal) = req.extensions().get::<Principal>().cloned() else {
            let error = AuthError::access_denied(
                "no_principal",
                "no verified caller: the approval layer must be placed inside the verification layer",
            );
            return AuthFuture::reject(self.rejector.reject(error, req.headers()));
        };
        let mcp = mcp.clone();
        let message = &mcp.messages()[index];
        let Some(Target::Tool(tool)) = message.target() else {
            unreachable!("a gated message calls a tool")
        };
        let id = message.id().cloned();
        let Some(params) = CallParams::read(mcp.params(message)) else {
            let error = AuthError::bad_request("malformed_params", "`params` is not an object");
            return AuthFuture::reject(self.rejector.reject(error, req.headers()));
        };
        let digest = CallDigest::of(&CallFacts {
            issuer: principal.issuer(),
            subject: principal.subject(),
            client: principal.client_id(),
            resource: &gate.resource,
            tool,
            arguments: &params.arguments,
        });
        let check = ApprovalCheck::new(tool.clone(), digest.as_str());
        let version = message.protocol_version().or_else(|| {
            req.headers()
                .get("mcp-protocol-version")
                .and_then(|v| v.to_str().ok())
        });
        if !mrtr::speaks_mrtr(version) {
            let mut check = check;
            check.outcomes.push(ApprovalOutcome::Failed);
            check.reason = Some("client_cannot_take_part".into());
            RequestRecord::update_in(req.extensions(), |r| r.approval = Some(check));
            let text = format!(
                "Calling `{tool}` needs the approval of the person you act for, asked on their own device. This client cannot take part: approval needs protocol version {} or later (multi-round-trip requests).",
                mrtr::MRTR_SINCE
            );
            return AuthFuture::respond(mrtr::answer(id.as_ref(), mrtr::tool_error(&text)));
        }
        let approved = if params.request_state.is_some() {
            match Approved::prepare(&mcp) {
                Ok(approved) => Some(approved),
                Err(error) => {
                    return AuthFuture::reject(self.rejector.reject(error, req.headers()));
                }
            }
        } else {
            None
        };
        let round = Round {
            gate: gate.clone(),
            approved,
            principal,
            tool: tool.clone(),
            digest,
            params,
            id,
            check,
        };
        let deciding: Deciding<AuthBody<B>> = Box::pin(round.play(req));
        AuthFuture::decide(deciding, take_ready(&mut self.inner))
    }
}

/// The call as it goes on once approved: the same body without the retry fields, and its
/// inspected content. Prepared before the round, so that nothing can fail after an approval
/// has been spent.
pub(crate) struct Approved {
    body: Bytes,
    mcp: McpRequest,
}

impl Approved {
    /// Prepares the call of `mcp` (the body the inspector read, within its limits).
    pub(crate) fn prepare(mcp: &McpRequest) -> Result<Self, AuthError> {
        let body = mrtr::without_retry_fields(mcp.body())
            .ok_or_else(|| AuthError::bad_request("malformed_params", "the call cannot be read"))?;
        // What was inspected already passed the configured limits; the same call without two
        // members is no deeper and no larger.
        let unbounded = mcp_auth_core::mcp::InspectLimits::default()
            .max_body_bytes(usize::MAX)
            .max_depth(usize::MAX);
        let mcp = McpRequest::parse_bytes(body.clone(), &unbounded)?;
        Ok(Self { body, mcp })
    }

    /// `req`, carrying the approved call instead of the retry.
    pub(crate) fn into_request<B>(self, mut req: Request<AuthBody<B>>) -> Request<AuthBody<B>> {
        req.headers_mut().remove(http::header::CONTENT_LENGTH);
        req.extensions_mut().insert(self.mcp);
        *req.body_mut() = AuthBody::full(self.body);
        req
    }
}
