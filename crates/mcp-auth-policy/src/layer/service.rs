use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::{Request, Response};
use mcp_auth_core::listing::{KeepListed, ListFilter, ListFiltered, ListedKind, PendingListing};
use mcp_auth_core::mcp::McpRequest;
use mcp_auth_core::middleware::inspect::awaits_inspection;
use mcp_auth_core::record::{ApprovalRequired, ClientSummary, PolicyCheck, RequestRecord};
use mcp_auth_core::telemetry::{self, FutureExt as _};
use mcp_auth_core::{AuthError, AuthFuture, Principal, Rejection, take_ready};
use tower_service::Service;

use super::layer::PolicyLayer;
use crate::authorize::{Authorize, Decision, Verdict};
use crate::call::{Action, Call};

/// Middleware that decides calls by policy. Built by [`PolicyLayer`].
#[derive(Clone)]
pub struct Policy<S> {
    pub(super) inner: ListFiltered<S>,
    pub(super) shared: Arc<PolicyLayer>,
}

impl<S> Policy<S> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref()
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        self.inner.get_mut()
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner.into_inner()
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Policy<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("inner", self.inner.get_ref())
            .finish_non_exhaustive()
    }
}

/// A decision still to be awaited (a decision point that answers later).
pub type Deciding<B> = Pin<Box<dyn Future<Output = Result<Request<B>, Rejection>> + Send>>;

/// Response future of [`Policy`].
pub type ResponseFuture<S, B> = AuthFuture<ListFiltered<S>, Request<B>, Deciding<B>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Policy<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: Send + 'static,
{
    type Response =
        Response<mcp_auth_core::AuthBody<mcp_auth_core::listing::ListFilterBody<ResBody>>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    mcp_auth_core::forward_ready!();

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        let Some(authorize) = &shared.authorize else {
            return AuthFuture::call(self.inner.call(req));
        };
        let Some(principal) = req.extensions().get::<Principal>().cloned() else {
            let error = AuthError::access_denied(
                "no_principal",
                "no verified caller: the policy layer must be placed inside the verification layer",
            );
            return AuthFuture::reject(shared.rejector.reject(error, req.headers()));
        };
        if awaits_inspection(&req) {
            let error = AuthError::access_denied(
                "not_inspected",
                "the request body was not inspected: place McpInspectLayer outside the policy layer",
            );
            return AuthFuture::reject(shared.rejector.reject(error, req.headers()));
        }
        let Some(mcp) = req.extensions().get::<McpRequest>().cloned() else {
            // Not MCP over JSON-RPC (a GET stream, a DELETE): nothing to decide.
            return AuthFuture::call(self.inner.call(req));
        };
        let client = req.extensions().get::<ClientSummary>().cloned();
        if let Some(filter) = ListFilter::for_request(
            &mcp,
            || {
                Box::new(PolicyKeeps {
                    authorize: authorize.clone(),
                    principal: principal.clone(),
                    client: client.clone(),
                })
            },
            shared.max_listing_bytes,
        ) {
            req.extensions_mut()
                .insert(PendingListing(Arc::from(filter)));
        }
        let calls = match Call::all_in(&mcp, &principal, client.as_ref(), shared.max_argument_bytes)
        {
            Ok(calls) => calls,
            Err(error) => {
                return AuthFuture::reject(shared.rejector.reject(error, req.headers()));
            }
        };
        if calls.is_empty() {
            return AuthFuture::call(self.inner.call(req));
        }
        let mut verdicts = Vec::with_capacity(calls.len());
        let mut pending = Vec::new();
        for call in &calls {
            match authorize.authorize(call) {
                Decision::Ready(verdict) => {
                    // A batch goes on only if every call does: the first refusal decides.
                    if !verdict.is_allowed() {
                        return AuthFuture::reject(refuse(shared, &req, call, verdict));
                    }
                    verdicts.push(verdict);
                }
                Decision::Pending(future) => pending.push((call.clone(), future)),
            }
        }
        if pending.is_empty() {
            record(&mut req, &verdicts);
            return AuthFuture::call(self.inner.call(req));
        }
        let shared = shared.clone();
        // A decision point that answers later is a slow path: a span in the request's trace.
        let trace = telemetry::request_context(req.headers());
        let deciding: Deciding<ReqBody> = Box::pin(
            async move {
                let span = telemetry::start_span(
                    "mcp_auth.policy.decision",
                    vec![opentelemetry::KeyValue::new(
                        "calls",
                        i64::try_from(pending.len()).unwrap_or(i64::MAX),
                    )],
                );
                let mut outcome = Ok(());
                for (call, future) in pending {
                    let verdict = future.await;
                    if !verdict.is_allowed() {
                        outcome = Err(refuse(&shared, &req, &call, verdict));
                        break;
                    }
                    verdicts.push(verdict);
                }
                let allowed: Result<(), &str> = outcome.as_ref().map(|_| ()).map_err(|_| "denied");
                telemetry::end_span(span, &allowed);
                outcome?;
                record(&mut req, &verdicts);
                Ok(req)
            }
            .with_context(trace),
        );
        AuthFuture::decide(deciding, take_ready(&mut self.inner))
    }
}

/// Records an allowed request: every allowing policy, and a permit's demand for approval.
fn record<B>(req: &mut Request<B>, verdicts: &[Verdict]) {
    if let Some(by) = verdicts.iter().find_map(|v| match v {
        Verdict::Allow { approval, .. } => approval.clone(),
        Verdict::Deny(_) => None,
    }) {
        req.extensions_mut().insert(ApprovalRequired { by });
    }
    let policies = verdicts
        .iter()
        .flat_map(|v| match v {
            Verdict::Allow { policies, .. } => policies.clone(),
            Verdict::Deny(_) => Vec::new(),
        })
        .collect();
    RequestRecord::update_in(req.extensions(), |r| {
        r.policy = Some(PolicyCheck::new(true, policies));
    });
}

/// The refusal of `call`: step-up when more scope would help, a plain 403 otherwise.
fn refuse<B>(shared: &PolicyLayer, req: &Request<B>, call: &Call, verdict: Verdict) -> Rejection {
    let Verdict::Deny(denial) = verdict else {
        unreachable!("only refusals are refused")
    };
    RequestRecord::update_in(req.extensions(), |r| {
        r.policy = Some(PolicyCheck::new(false, denial.policies.clone()));
    });
    let error = match denial.step_up {
        Some(scopes) => AuthError::insufficient_scope(
            scopes,
            format!(
                "{}; more scope would allow this call of {} `{}`",
                denial.message,
                call.action.noun(),
                call.shown_target()
            ),
        ),
        None => AuthError::access_denied("policy_denied", denial.message),
    };
    shared.rejector.reject(error, req.headers())
}

/// What the policy keeps in a caller's listings: what some call could use.
struct PolicyKeeps {
    authorize: Arc<dyn Authorize>,
    principal: Principal,
    client: Option<ClientSummary>,
}

impl KeepListed for PolicyKeeps {
    fn keeps(&self, kind: ListedKind, name: &str) -> bool {
        let action = match kind {
            ListedKind::Tool => Action::CallTool,
            ListedKind::Prompt => Action::GetPrompt,
            ListedKind::Resource | ListedKind::ResourceTemplate => Action::ReadResource,
            _ => return true,
        };
        let call = Call::listing(&self.principal, self.client.as_ref(), action, name);
        self.authorize.could_allow(&call)
    }
}
