//! The handle handlers use: exchange the caller's token, lazily, and propagate failures.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mcp_auth_core::record::{ExchangeSummary, RequestRecord};
use mcp_auth_core::telemetry::{FutureExt as _, TraceParent};
use mcp_auth_core::{AuthError, Principal};

use crate::ExchangeAllowlist;
use crate::client::TokenExchangeClient;
use crate::error::ExchangeError;
use crate::request::ExchangeRequest;
use crate::token::ExchangedToken;

/// Exchanges the current caller's token on their behalf. [`OboLayer`](crate::OboLayer) puts
/// one in the extensions of every request that carries a verified [`Principal`]; nothing is
/// exchanged until a handler asks.
///
/// Every exchange made through the handle is appended to the request's
/// [`RequestRecord`] (when an audit layer put one there) as an [`ExchangeSummary`].
///
/// A handler that cannot go on without the token uses [`OnBehalfOf::get_token_or_deny`]: on
/// failure the layer replaces whatever the handler answers with the status the failure calls
/// for (401 `invalid_token`, 403, or 503 — see [`ExchangeError::to_auth_error`]). Clones share
/// that state, so it also works from a copy of the request's extensions (rmcp hands tools a copy).
#[derive(Clone)]
pub struct OnBehalfOf {
    client: TokenExchangeClient,
    principal: Principal,
    state: Arc<HandleState>,
    trace: Option<TraceParent>,
    /// The tool the request calls, when it calls exactly one.
    tool: Option<Arc<str>>,
    allowlist: Option<Arc<ExchangeAllowlist>>,
}

pub(crate) struct HandleState {
    record: Option<RequestRecord>,
    denial: Mutex<Option<AuthError>>,
}

impl HandleState {
    pub(crate) fn take_denial(&self) -> Option<AuthError> {
        self.denial.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl OnBehalfOf {
    /// A handle for `principal`'s requests. `record` receives a summary of each exchange.
    pub fn new(
        client: TokenExchangeClient,
        principal: Principal,
        record: Option<RequestRecord>,
    ) -> Self {
        Self {
            client,
            principal,
            state: Arc::new(HandleState {
                record,
                denial: Mutex::new(None),
            }),
            trace: None,
            tool: None,
            allowlist: None,
        }
    }

    /// Binds the handle to the tool the request calls (`None`: none, or several) and the
    /// exchanges it may make (see [`ExchangeAllowlist`]).
    pub fn limited_to(mut self, tool: Option<&str>, allowlist: Arc<ExchangeAllowlist>) -> Self {
        self.tool = tool.map(Arc::from);
        self.allowlist = Some(allowlist);
        self
    }

    /// Puts the spans of this handle's exchanges in the trace of the request it serves (the
    /// layer passes the request's `traceparent`).
    pub fn within_trace(mut self, parent: TraceParent) -> Self {
        self.trace = Some(parent);
        self
    }

    /// The handle in a request's extensions, if the layer put one there (it does for every
    /// request with a verified caller).
    pub fn from_extensions(extensions: &http::Extensions) -> Option<&OnBehalfOf> {
        extensions.get::<OnBehalfOf>()
    }

    /// The caller whose token is exchanged.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The client that exchanges.
    pub fn client(&self) -> &TokenExchangeClient {
        &self.client
    }

    /// Exchanges the caller's token for one described by `request` (from the cache when
    /// possible), like Auth0's `getTokenOnBehalfOf`. A failure is returned and otherwise left
    /// to the handler.
    ///
    /// # Errors
    /// See [`ExchangeError`].
    pub async fn get_token_on_behalf_of(
        &self,
        request: ExchangeRequest,
    ) -> Result<ExchangedToken, ExchangeError> {
        let started = Instant::now();
        if let Some(allowlist) = &self.allowlist
            && !allowlist.permits(self.tool.as_deref(), &request)
        {
            let error = ExchangeError::NotAllowed {
                tool: self.tool.as_deref().map(str::to_owned),
                target: request.target(),
            };
            tracing::warn!(target: "mcp_auth::obo", %error, "token exchange refused by the allowlist");
            self.record(&request, |summary| summary.error(error.code()), started);
            return Err(error);
        }
        let trace = self
            .trace
            .map_or_else(opentelemetry::Context::current, |p| p.context());
        let outcome = self
            .client
            .exchange((&self.principal).into(), &request)
            .with_context(trace)
            .await;
        let cached = outcome.cached;
        self.record(
            &request,
            |summary| match &outcome.result {
                Ok(token) => summary
                    .cached(cached)
                    .granted(token.granted_scope().clone()),
                Err(error) => summary.cached(cached).error(error.code()),
            },
            started,
        );
        outcome.result
    }

    /// Puts one exchange in the request's audit record.
    fn record(
        &self,
        request: &ExchangeRequest,
        outcome: impl FnOnce(ExchangeSummary) -> ExchangeSummary,
        started: Instant,
    ) {
        if let Some(record) = &self.state.record {
            let summary = ExchangeSummary::new(request.target(), request.scope.clone())
                .tool(self.tool.as_deref().map(str::to_owned))
                .latency(started.elapsed());
            let summary = outcome(summary);
            record.update(|r| r.exchanges.push(summary));
        }
    }

    /// Like [`get_token_on_behalf_of`](Self::get_token_on_behalf_of), and on failure also
    /// [`deny`](Self::deny): the layer will answer the request with the failure's status,
    /// whatever the handler returns.
    ///
    /// # Errors
    /// See [`ExchangeError`].
    pub async fn get_token_or_deny(
        &self,
        request: ExchangeRequest,
    ) -> Result<ExchangedToken, ExchangeError> {
        self.get_token_on_behalf_of(request)
            .await
            .map_err(|e| self.deny(e))
    }

    /// Makes `error` the outcome of the request: [`OboLayer`](crate::OboLayer) replaces the
    /// response with [`ExchangeError::to_auth_error`] rendered (status, challenge, JSON body).
    /// Returns the error, for `?`. The first denial wins.
    pub fn deny(&self, error: ExchangeError) -> ExchangeError {
        let mut denial = self.state.denial.lock().unwrap_or_else(|p| p.into_inner());
        if denial.is_none() {
            *denial = Some(error.to_auth_error());
        }
        error
    }

    /// The denial the layer will render, if a handler made one.
    pub fn denial(&self) -> Option<AuthError> {
        self.state
            .denial
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn state(&self) -> &Arc<HandleState> {
        &self.state
    }
}

impl fmt::Debug for OnBehalfOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnBehalfOf")
            .field("client_id", &self.client.client_id())
            .field("principal", &self.principal)
            .field("denial", &self.denial())
            .finish_non_exhaustive()
    }
}
