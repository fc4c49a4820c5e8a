//! One exchange: cache, single-flight, back-off, the request, and remembering the outcome.

use std::borrow::Cow;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderName, HeaderValue};
use mcp_auth_fetch::FetchResponse;
use opentelemetry::KeyValue;

use super::TokenExchangeClient;
use super::flight::Landed;
use crate::error::{ExchangeError, OAuthErrorCode};
use crate::request::{
    ACCESS_TOKEN_TYPE, ExchangeKey, ExchangeRequest, Subject, TOKEN_EXCHANGE_GRANT,
};
use crate::response;
use crate::store::{Claim, StoredExchange};
use crate::token::{DPOP, ExchangedToken};

/// How often a replica waiting for another's exchange looks in the store.
const CLAIM_POLL: Duration = Duration::from_millis(20);

/// What waiting for another replica's exchange came to.
enum Awaited {
    /// Its outcome is in the store.
    Landed(Result<ExchangedToken, ExchangeError>),
    /// It gave up its claim; this replica holds it now.
    Claimed,
    /// It did not finish in time; this replica exchanges without a claim.
    TimedOut,
}

/// The outcome of one call, with whether it was answered without a request of its own.
pub(crate) struct Outcome {
    pub(crate) result: Result<ExchangedToken, ExchangeError>,
    pub(crate) cached: bool,
}

impl TokenExchangeClient {
    pub(crate) async fn exchange(
        &self,
        subject: Subject<'_>,
        request: &ExchangeRequest,
    ) -> Outcome {
        let started = Instant::now();
        let telemetry = &self.inner.telemetry;
        let key = ExchangeKey::new(&self.inner.namespace, subject.token, request);
        // An invalid request is never stored, so it cannot hit: checking it after the lookup
        // keeps the hot path short.
        let found = self.lookup(&key).await;
        telemetry.looked_up(found.is_some());
        if let Some(result) = found {
            telemetry.answered(started.elapsed(), false, &result);
            return Outcome {
                result,
                cached: true,
            };
        }
        if let Err(e) = request.validate() {
            let result = Err(e);
            telemetry.answered(started.elapsed(), false, &result);
            return Outcome {
                result,
                cached: false,
            };
        }
        let ticket = self.inner.flights.join(key);
        let mut led = false;
        let landed = ticket
            .cell()
            .get_or_init(|| {
                led = true;
                async {
                    // A flight that landed between the lookup above and joining this one has
                    // left its outcome in the store.
                    if let Some(result) = self.lookup(&key).await {
                        return Landed {
                            result,
                            contacted: false,
                        };
                    }
                    self.exchange_now(subject, request, key).await
                }
            })
            .await
            .clone();
        drop(ticket);
        let cached = !(led && landed.contacted);
        telemetry.answered(started.elapsed(), !cached, &landed.result);
        tracing::debug!(
            downstream = %request.target(),
            subject = %subject.token.fingerprint(),
            cached,
            outcome = landed.result.as_ref().err().map_or("ok", |e| e.code()),
            "token exchange"
        );
        Outcome {
            result: landed.result.map(|t| t.served(cached)),
            cached,
        }
    }

    /// The remembered outcome for `key`, if still valid.
    async fn lookup(&self, key: &ExchangeKey) -> Option<Result<ExchangedToken, ExchangeError>> {
        let inner = &*self.inner;
        let entry = inner.store.get(key).await?;
        let now = (inner.clock)();
        let live = now < entry.valid_until()
            && match &entry {
                StoredExchange::Token { token, .. } => now < token.expires_at(),
                StoredExchange::Failure { .. } => true,
            };
        if !live {
            inner.store.remove(key).await;
            return None;
        }
        Some(match entry {
            StoredExchange::Token { token, .. } => Ok(token.served(true)),
            StoredExchange::Failure { error, .. } => Err(error),
        })
    }

    /// Contacts the authorization server (unless backing off) and remembers the outcome.
    async fn exchange_now(
        &self,
        subject: Subject<'_>,
        request: &ExchangeRequest,
        key: ExchangeKey,
    ) -> Landed {
        let inner = &*self.inner;
        let now = (inner.clock)();
        if let Some(wait) = inner.backoff.remaining(now) {
            return Landed {
                result: Err(ExchangeError::Unavailable {
                    reason: "backing off after the authorization server failed".into(),
                    retry_after: wait,
                }),
                contacted: false,
            };
        }
        // Replicas sharing the store make one exchange between them: the one that claims the
        // key exchanges; the others wait a little for its outcome in the store.
        let held = match inner.store.claim(&key, self.claim_ttl()).await {
            Claim::Held => match self.await_claimed(&key).await {
                Awaited::Landed(result) => {
                    return Landed {
                        result,
                        contacted: false,
                    };
                }
                Awaited::Claimed => true,
                Awaited::TimedOut => false,
            },
            Claim::Granted => {
                // Another replica may have stored it between the lookup and the claim.
                if let Some(result) = self.lookup(&key).await {
                    inner.store.release(&key).await;
                    return Landed {
                        result,
                        contacted: false,
                    };
                }
                true
            }
        };
        let span = mcp_auth_core::telemetry::start_span(
            "mcp_auth.token_exchange",
            vec![KeyValue::new("downstream", request.target())],
        );
        let result = self.send(subject, request).await;
        mcp_auth_core::telemetry::end_span(span, &result);
        let landed = self.remember(subject, key, result).await;
        // Only a claim this replica holds is given up: one it waited out is another's.
        if held {
            inner.store.release(&key).await;
        }
        landed
    }

    /// How long a claim lasts: well past the slowest exchange (two token requests, each
    /// bounded by the fetch timeout, and discovery), so that it never lapses under the holder.
    fn claim_ttl(&self) -> Duration {
        self.inner
            .claim_wait
            .saturating_mul(2)
            .max(Duration::from_secs(60))
    }

    /// Waits up to the claim wait for another replica's outcome to appear in the store. When the
    /// other replica gives its claim up without storing a token (a failure stays in its own
    /// process), this one claims the key and exchanges itself.
    async fn await_claimed(&self, key: &ExchangeKey) -> Awaited {
        let deadline = tokio::time::Instant::now()
            .checked_add(self.inner.claim_wait)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400));
        loop {
            if let Some(result) = self.lookup(key).await {
                return Awaited::Landed(result);
            }
            if self.inner.store.claim(key, self.claim_ttl()).await == Claim::Granted {
                // Another replica may have stored one in between.
                if let Some(result) = self.lookup(key).await {
                    self.inner.store.release(key).await;
                    return Awaited::Landed(result);
                }
                return Awaited::Claimed;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::debug!(
                    "token exchange: another replica's exchange did not land in time; exchanging here"
                );
                return Awaited::TimedOut;
            }
            tokio::time::sleep(CLAIM_POLL).await;
        }
    }

    /// Remembers the outcome of an exchange made here.
    async fn remember(
        &self,
        subject: Subject<'_>,
        key: ExchangeKey,
        result: Result<ExchangedToken, ExchangeError>,
    ) -> Landed {
        let inner = &*self.inner;
        let now = (inner.clock)();
        let entry = match &result {
            Ok(token) => {
                inner.backoff.succeed();
                self.freshness(token, subject, now)
                    .map(|fresh_until| StoredExchange::Token {
                        token: token.clone(),
                        fresh_until,
                    })
            }
            Err(ExchangeError::InvalidRequest(_)) => None,
            // About this server's proof, not the caller: the next request carries the nonce.
            Err(ExchangeError::Refused {
                code: OAuthErrorCode::Other(code),
                ..
            }) if code == "use_dpop_nonce" => None,
            Err(error) => {
                let ttl = match error {
                    ExchangeError::Unavailable { retry_after, .. } => *retry_after,
                    _ => inner.failure_ttl,
                };
                (!ttl.is_zero()).then(|| StoredExchange::Failure {
                    error: error.clone(),
                    until: now + ttl,
                })
            }
        };
        if let Some(entry) = entry {
            inner.store.put(key, entry).await;
        }
        Landed {
            result,
            contacted: true,
        }
    }

    /// Until when `token` may be served: its expiry minus the skew, capped by the subject
    /// token's expiry. `None` when that is already past or the subject's expiry is unknown.
    fn freshness(
        &self,
        token: &ExchangedToken,
        subject: Subject<'_>,
        now: SystemTime,
    ) -> Option<SystemTime> {
        let subject_exp = UNIX_EPOCH + Duration::from_secs(subject.expires_at?);
        let token_fresh = token.expires_at().checked_sub(self.inner.skew)?;
        let until = token_fresh.min(subject_exp);
        (until > now).then_some(until)
    }

    /// Makes the request and reads the answer. Transient failures start or extend the
    /// back-off, and carry its delay as their `retry_after`.
    async fn send(
        &self,
        subject: Subject<'_>,
        request: &ExchangeRequest,
    ) -> Result<ExchangedToken, ExchangeError> {
        let inner = &*self.inner;
        let result = async {
            let endpoint = self.resolve_token_endpoint().await?;
            let mut nonce_retried = false;
            loop {
                let (dpop, sent_nonce) = self.dpop_header(endpoint)?;
                let answer = self.post(endpoint, subject, request, dpop).await?;
                if let Some(key) = &inner.dpop_key {
                    let nonce = self.remember_dpop_nonce(&answer);
                    // RFC 9449 §8: a server that wants a nonce refuses with `use_dpop_nonce`
                    // and sends one; the request is made again, once, with it (when it is not
                    // the nonce this proof already carried).
                    let fresh = nonce.is_some() && nonce != sent_nonce;
                    if fresh && !nonce_retried && asks_for_dpop_nonce(&answer) {
                        nonce_retried = true;
                        tracing::debug!(
                            jkt = %key.thumbprint(),
                            "the token endpoint asked for a DPoP nonce; retrying with it"
                        );
                        continue;
                    }
                }
                let mut redact = vec![subject.token.expose_secret()];
                redact.extend(inner.auth.secret());
                if let Some(actor) = &request.actor {
                    redact.push(actor.token.expose_secret());
                }
                break response::read(
                    &answer,
                    &request.scope,
                    (inner.clock)(),
                    Duration::ZERO,
                    &redact,
                    inner.dpop_key.as_ref(),
                );
            }
        }
        .await;
        match result {
            Err(ExchangeError::Unavailable {
                reason,
                retry_after,
            }) => {
                let delay = inner.backoff.fail((inner.clock)(), retry_after);
                Err(ExchangeError::Unavailable {
                    reason,
                    retry_after: delay,
                })
            }
            Err(error) if fails_every_caller(&error) => {
                inner.backoff.fail((inner.clock)(), Duration::ZERO);
                Err(error)
            }
            other => other,
        }
    }
}

impl TokenExchangeClient {
    /// The token request itself: the form, client authentication (fresh for every attempt: an
    /// assertion's `jti` is single-use) and the DPoP proof.
    async fn post(
        &self,
        endpoint: &str,
        subject: Subject<'_>,
        request: &ExchangeRequest,
        dpop: Option<HeaderValue>,
    ) -> Result<FetchResponse, ExchangeError> {
        let inner = &*self.inner;
        let credentials = inner.auth.credentials(endpoint, (inner.clock)())?;
        let scope = request.scope.to_string();
        let mut form: Vec<(&str, Cow<'_, str>)> = vec![
            ("grant_type", TOKEN_EXCHANGE_GRANT.into()),
            ("subject_token", subject.token.expose_secret().into()),
            ("subject_token_type", ACCESS_TOKEN_TYPE.into()),
        ];
        if let Some(t) = &request.requested_token_type {
            form.push(("requested_token_type", t.as_str().into()));
        }
        if let Some(audience) = &request.audience {
            form.push(("audience", audience.as_str().into()));
        }
        if let Some(resource) = &request.resource {
            form.push(("resource", resource.as_str().into()));
        }
        if !scope.is_empty() {
            form.push(("scope", scope.as_str().into()));
        }
        if let Some(actor) = &request.actor {
            form.push(("actor_token", actor.token.expose_secret().into()));
            form.push(("actor_token_type", actor.token_type.as_str().into()));
        }
        form.extend(
            credentials
                .form
                .iter()
                .map(|(k, v)| (*k, v.as_str().into())),
        );
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_ref())).collect();
        let basic = credentials.basic.as_ref().map(|(u, p)| (&**u, &**p));
        let headers: Vec<(HeaderName, HeaderValue)> =
            dpop.into_iter().map(|proof| (DPOP, proof)).collect();
        inner
            .fetcher
            .post_form(endpoint, &pairs, basic, &headers)
            .await
            .map_err(|e| ExchangeError::from_fetch(e, Duration::ZERO))
    }

    /// A proof for a token request, with the endpoint's latest nonce (also returned); none
    /// without a key.
    fn dpop_header(
        &self,
        endpoint: &str,
    ) -> Result<(Option<HeaderValue>, Option<String>), ExchangeError> {
        let inner = &*self.inner;
        let Some(key) = &inner.dpop_key else {
            return Ok((None, None));
        };
        let nonce = inner
            .dpop_nonce
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let proof = crate::dpop::proof(
            key,
            "POST",
            endpoint,
            None,
            nonce.as_deref(),
            (inner.clock)(),
        )
        .map_err(|e| ExchangeError::Misconfigured(e.to_string()))?;
        Ok((Some(proof), nonce))
    }

    /// Keeps the answer's `DPoP-Nonce` for the next proof, and returns it.
    fn remember_dpop_nonce(&self, answer: &FetchResponse) -> Option<String> {
        let nonce = answer
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .filter(|n| !n.is_empty() && n.len() <= MAX_NONCE_BYTES)?
            .to_owned();
        *self
            .inner
            .dpop_nonce
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(nonce.clone());
        Some(nonce)
    }
}

/// Longest `DPoP-Nonce` kept.
const MAX_NONCE_BYTES: usize = 512;

/// A 400 or 401 whose OAuth error is `use_dpop_nonce` (RFC 9449 §8).
fn asks_for_dpop_nonce(answer: &FetchResponse) -> bool {
    matches!(answer.status().as_u16(), 400 | 401)
        && answer
            .json::<serde_json::Value>()
            .is_ok_and(|body| body["error"] == "use_dpop_nonce")
}

/// Failures that are this client's, not the caller's: every exchange would fail the same way,
/// so the authorization server is given the same rest as when it is down.
fn fails_every_caller(error: &ExchangeError) -> bool {
    match error {
        ExchangeError::Refused { code, .. } => {
            matches!(
                code,
                OAuthErrorCode::InvalidClient
                    | OAuthErrorCode::UnauthorizedClient
                    | OAuthErrorCode::UnsupportedGrantType
            ) || matches!(code, OAuthErrorCode::Other(c) if c == "invalid_dpop_proof")
        }
        ExchangeError::Misconfigured(_) => true,
        _ => false,
    }
}
