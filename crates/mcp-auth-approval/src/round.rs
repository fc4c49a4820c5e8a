//! One round of an approval: the first call starts it, each retry asks how it went.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::Request;
use mcp_auth_core::mcp::McpRequest;
use mcp_auth_core::record::{ApprovalCheck, ApprovalOutcome, RequestRecord};
use mcp_auth_core::{AuthBody, Principal, Rejection, untrusted_text};
use mcp_auth_jwt::{ProofId, ReplayCheck};
use serde_json::{Value, json};

use crate::ciba::{Backchannel, CibaError, Poll};
use crate::digest::{CallDigest, canonical_json};
use crate::layer::Gate;
use crate::mrtr::{self, CallParams};
use crate::state::{self, PendingApproval, StateRefused, unix_millis, unix_seconds};

/// The most of a call's arguments the summary shown on the person's device quotes.
const SUMMARY_CHARS: usize = 200;

pub(crate) struct Round {
    pub gate: Arc<Gate>,
    pub principal: Principal,
    pub tool: String,
    pub digest: CallDigest,
    pub params: CallParams,
    pub id: Option<Value>,
    pub check: ApprovalCheck,
}

/// How a round ends: the call goes on, or the client is answered.
enum End {
    Run,
    Answer(Value),
}

impl Round {
    /// Plays the round out and records it for the audit event.
    pub async fn play<B>(
        mut self,
        req: Request<AuthBody<B>>,
        mcp: McpRequest,
    ) -> Result<Request<AuthBody<B>>, Rejection> {
        let end = match self.params.request_state.take() {
            None => self.start().await,
            Some(sealed) => self.resume(&sealed).await,
        };
        let outcome = match end {
            End::Run => {
                let headers = req.headers().clone();
                return match crate::layer::approved_request(req, &mcp) {
                    Ok(req) => {
                        self.check.outcomes.push(ApprovalOutcome::Executed);
                        RequestRecord::update_in(req.extensions(), |r| {
                            r.approval = Some(self.check.clone());
                        });
                        Ok(req)
                    }
                    Err((error, record)) => {
                        self.failed("unreadable_call");
                        if let Some(record) = record {
                            record.update(|r| r.approval = Some(self.check.clone()));
                        }
                        Err(self.gate.rejector.reject(error, &headers))
                    }
                };
            }
            End::Answer(result) => result,
        };
        RequestRecord::update_in(req.extensions(), |r| r.approval = Some(self.check.clone()));
        Err(Rejection::answer(mrtr::answer(self.id.as_ref(), outcome)))
    }

    fn now(&self) -> SystemTime {
        (self.gate.clock)()
    }

    fn failed(&mut self, reason: &str) {
        self.check.outcomes.push(ApprovalOutcome::Failed);
        self.check.reason = Some(reason.to_owned());
    }

    /// The first call: asks the issuer to reach the person, and tells the client to wait.
    async fn start(&mut self) -> End {
        let gate = self.gate.clone();
        if self.principal.acts_for_itself() {
            self.failed("no_person");
            return End::Answer(mrtr::tool_error(&format!(
                "Calling `{}` needs the approval of the person you act for, and this token was issued to a client acting for itself: there is nobody to ask.",
                self.tool
            )));
        }
        let Some(hint) = gate.login_hint.for_principal(&self.principal) else {
            self.failed("no_login_hint");
            return End::Answer(mrtr::tool_error(&format!(
                "Calling `{}` needs the approval of the person you act for, but their token does not say how to reach them.",
                self.tool
            )));
        };
        let who = state::principal_key(self.principal.issuer(), self.principal.subject());
        if !gate.may_send(&who, self.now()) {
            self.failed("too_many_requests");
            return End::Answer(mrtr::tool_error(&format!(
                "Calling `{}` needs the approval of the person you act for, and they have been asked too often in the last minute. Wait a minute, then call again.",
                self.tool
            )));
        }
        let code = self.digest.binding_code();
        let details = json!({
            "type": gate.detail_type,
            "locations": [gate.resource],
            "actions": ["call"],
            "tool": self.tool,
            "summary": self.summary(),
            "digest": self.digest.as_str(),
        });
        let started = gate
            .ciba
            .start(
                self.principal.issuer(),
                &Backchannel {
                    login_hint: &hint,
                    binding_message: &code,
                    authorization_details: &details,
                    requested_expiry: gate.requested_expiry,
                    resource: &gate.resource,
                    acr_values: gate.acr_values.as_deref(),
                },
            )
            .await;
        let started = match started {
            Ok(started) => started,
            Err(error) => {
                tracing::warn!(tool = %self.tool, %error, "an approval could not be requested");
                self.failed("request_failed");
                let then = match error {
                    CibaError::Unavailable(_) => " Try again later.",
                    _ => "",
                };
                return End::Answer(mrtr::tool_error(&format!(
                    "Calling `{}` needs the approval of the person you act for, and it could not be requested ({error}).{then}",
                    self.tool
                )));
            }
        };
        self.check.outcomes.push(ApprovalOutcome::Requested);
        let now = self.now();
        let pending = PendingApproval {
            digest: self.digest.as_str().to_owned(),
            auth_req_id: started.auth_req_id,
            issuer: self.principal.issuer().to_owned(),
            principal: state::principal_key(self.principal.issuer(), self.principal.subject()),
            tool: self.tool.clone(),
            expires_at: unix_seconds(now) + started.expires_in.as_secs(),
            next_poll_ms: unix_millis(now + started.interval),
            interval: started.interval.as_secs(),
        };
        self.not_yet(&pending, &code, true)
    }

    /// A retry: checks the state, then asks the token endpoint, waiting within the round's
    /// bound for the person to decide.
    async fn resume(&mut self, sealed: &str) -> End {
        let gate = self.gate.clone();
        let principal = state::principal_key(self.principal.issuer(), self.principal.subject());
        let mut pending =
            match state::open(&gate.keys, sealed, &principal, &self.digest, self.now()) {
                Ok(pending) => pending,
                Err(refused) => {
                    self.check
                        .outcomes
                        .push(if refused == StateRefused::Expired {
                            ApprovalOutcome::Expired
                        } else {
                            ApprovalOutcome::StateRefused
                        });
                    self.check.reason = Some(refused.reason().to_owned());
                    return End::Answer(mrtr::tool_error(refused.message()));
                }
            };
        if let Some(action) = self.params.elicitation_action()
            && action != "accept"
        {
            // The person dismissed the prompt in the client: stop asking. An `accept` only means
            // "ask again"; the approval itself comes from the issuer alone.
            self.failed("dismissed_in_client");
            return End::Answer(mrtr::tool_error(&format!(
                "The call of `{}` was not made: the approval prompt was dismissed.",
                self.tool
            )));
        }
        let code = self.digest.binding_code();
        let interactive = self.params.can_elicit();
        let deadline = self.now() + gate.round_wait;
        loop {
            let next_poll = SystemTime::UNIX_EPOCH + Duration::from_millis(pending.next_poll_ms);
            if next_poll > deadline || unix_seconds(next_poll) >= pending.expires_at {
                return self.not_yet(&pending, &code, false);
            }
            if let Ok(wait) = next_poll.duration_since(self.now()) {
                tokio::time::sleep(wait).await;
            }
            let answer = gate.ciba.poll(&pending.issuer, &pending.auth_req_id).await;
            let now = self.now();
            match answer {
                Ok(Poll::Pending) => {
                    pending.next_poll_ms = unix_millis(now) + pending.interval * 1000;
                    if interactive {
                        return self.not_yet(&pending, &code, false);
                    }
                }
                Ok(Poll::SlowDown) => {
                    // CIBA Core §11 / RFC 8628 §3.5: five seconds more, from now on.
                    pending.interval = (pending.interval + 5).min(60);
                    pending.next_poll_ms = unix_millis(now) + pending.interval * 1000;
                }
                Ok(Poll::Denied) => {
                    self.check.outcomes.push(ApprovalOutcome::Denied);
                    return End::Answer(mrtr::tool_error(&format!(
                        "The person you act for refused this call of `{}`. It was not made.",
                        self.tool
                    )));
                }
                Ok(Poll::Expired) => {
                    self.check.outcomes.push(ApprovalOutcome::Expired);
                    return End::Answer(mrtr::tool_error(&format!(
                        "Nobody approved this call of `{}` in time. It was not made; call the tool again to ask again.",
                        self.tool
                    )));
                }
                Ok(Poll::Approved(grant)) => {
                    self.check.acr = grant.acr;
                    self.check.amr = grant.amr;
                    let matches = grant.authorization_details.iter().any(|detail| {
                        detail.get("type").and_then(Value::as_str) == Some(&gate.detail_type)
                            && detail.get("digest").and_then(Value::as_str)
                                == Some(self.digest.as_str())
                    });
                    if !matches {
                        self.failed("details_mismatch");
                        return End::Answer(mrtr::tool_error(&format!(
                            "The approval the authorization server returned is not for this call of `{}`. It was not made.",
                            self.tool
                        )));
                    }
                    self.check.outcomes.push(ApprovalOutcome::Granted);
                    return match self.first_use(&pending, now).await {
                        Ok(true) => End::Run,
                        Ok(false) => self.replayed(),
                        Err(()) => {
                            self.failed("store_unavailable");
                            End::Answer(mrtr::tool_error(
                                "The approval cannot be checked now. It was not used; try again later.",
                            ))
                        }
                    };
                }
                Err(CibaError::Refused(code)) if code == "invalid_grant" => {
                    // The issuer no longer knows the request: used up by an earlier retry (a
                    // replay), or revoked.
                    return match self.first_use(&pending, now).await {
                        Ok(false) => self.replayed(),
                        _ => {
                            self.failed("request_unknown");
                            End::Answer(mrtr::tool_error(&format!(
                                "The approval request for `{}` is no longer known to the authorization server; call the tool again to start over.",
                                self.tool
                            )))
                        }
                    };
                }
                Err(error) => {
                    tracing::warn!(tool = %self.tool, %error, "an approval could not be checked");
                    self.failed("poll_failed");
                    return End::Answer(mrtr::tool_error(&format!(
                        "The approval of `{}` cannot be checked now ({error}). Call the tool again later.",
                        self.tool
                    )));
                }
            }
        }
    }

    /// Marks the approval used; `Ok(false)` when it was used before.
    async fn first_use(&self, pending: &PendingApproval, now: SystemTime) -> Result<bool, ()> {
        let id = ProofId::new("mcp-auth approval", &pending.auth_req_id);
        let answer = match self
            .gate
            .used
            .first_use(id, pending.expires_at + 60, unix_seconds(now))
        {
            ReplayCheck::Ready(answer) => answer,
            ReplayCheck::Pending(future) => future.await,
        };
        answer.map_err(|_| ())
    }

    fn replayed(&mut self) -> End {
        self.check.outcomes.push(ApprovalOutcome::Replayed);
        End::Answer(mrtr::tool_error(&format!(
            "This approval of `{}` was already used; an approval runs its call once. Call the tool again to ask again.",
            self.tool
        )))
    }

    /// "Not yet": a fresh state, and the prompt for clients that can show one.
    fn not_yet(&mut self, pending: &PendingApproval, code: &str, first: bool) -> End {
        if !first {
            self.check.outcomes.push(ApprovalOutcome::Pending);
        }
        let Some(sealed) = state::seal(&self.gate.keys, pending) else {
            self.failed("seal_failed");
            return End::Answer(mrtr::tool_error("The approval state cannot be issued now."));
        };
        let message = self.params.can_elicit().then(|| {
            format!(
                "Approve on your device: code {code} (calling `{}`: {}), then continue.",
                self.tool,
                self.summary()
            )
        });
        End::Answer(mrtr::input_required(message.as_deref(), &sealed))
    }

    /// What the person reads about the call: the tool and its arguments, clipped.
    fn summary(&self) -> String {
        let mut arguments = String::new();
        canonical_json(&self.params.arguments, &mut arguments);
        format!(
            "{} {}",
            self.tool,
            untrusted_text(&arguments, SUMMARY_CHARS)
        )
    }
}
