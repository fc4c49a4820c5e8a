//! One round of an approval: the first call starts it, each retry asks how it went.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::Request;
use mcp_auth_core::record::{ApprovalCheck, ApprovalOutcome, RequestRecord};
use mcp_auth_core::{AuthBody, Principal, Rejection, untrusted_text};
use mcp_auth_jwt::{ProofId, ReplayCheck};
use serde_json::{Value, json};

use crate::ciba::{Backchannel, CibaError, Grant, Poll};
use crate::digest::{CallDigest, canonical_json};
use crate::layer::{Approved, Gate};
use crate::mrtr::{self, CallParams};
use crate::state::{self, PendingApproval, StateRefused, unix_millis, unix_seconds};

pub(crate) struct Round {
    pub gate: Arc<Gate>,
    /// The call as it goes on when approved (retries only).
    pub approved: Option<Approved>,
    pub principal: Principal,
    pub tool: String,
    pub digest: CallDigest,
    pub params: CallParams,
    pub id: Option<Value>,
    pub check: ApprovalCheck,
}

/// How a round ends: the call goes on, or the client is answered.
enum End {
    Run(Approved),
    Answer(Value),
}

impl Round {
    /// Plays the round out and records it for the audit event.
    pub async fn play<B>(
        mut self,
        req: Request<AuthBody<B>>,
    ) -> Result<Request<AuthBody<B>>, Rejection> {
        let end = match self.params.request_state.take() {
            None => self.start().await,
            Some(sealed) => self.resume(&sealed).await,
        };
        match end {
            End::Run(approved) => {
                self.check.outcomes.push(ApprovalOutcome::Executed);
                RequestRecord::update_in(req.extensions(), |r| {
                    r.approval = Some(self.check.clone())
                });
                Ok(approved.into_request(req))
            }
            End::Answer(result) => {
                RequestRecord::update_in(req.extensions(), |r| {
                    r.approval = Some(self.check.clone())
                });
                Err(Rejection::answer(mrtr::answer(self.id.as_ref(), result)))
            }
        }
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
        let Some(summary) = self.summary() else {
            self.failed("arguments_too_long");
            return End::Answer(mrtr::tool_error(&format!(
                "Calling `{}` needs the approval of the person you act for, and its arguments are too long to show them in full on their device ({} characters at most). Send a shorter call.",
                self.tool, gate.max_summary_chars
            )));
        };
        let code = self.digest.binding_code();
        let details = json!({
            "type": gate.detail_type,
            "locations": [gate.resource],
            "actions": ["call"],
            "tool": self.tool,
            "summary": summary,
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
                return End::Answer(mrtr::tool_error(&format!(
                    "Calling `{}` needs the approval of the person you act for, and it could not be requested: {}",
                    self.tool,
                    error.for_caller()
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
        let Some(approved) = self.approved.take() else {
            unreachable!("a retry's call is prepared before its round")
        };
        let code = self.digest.binding_code();
        let interactive = self.params.can_elicit();
        let deadline = self.now() + gate.round_wait;
        loop {
            // The next poll this process allows for the request, whatever state the client
            // sent (an older copy, many at once): the issuer is never polled early.
            let Some(slot) = gate.reserve_poll(&pending, unix_millis(deadline)) else {
                return self.not_yet(&pending, &code, false);
            };
            let at = SystemTime::UNIX_EPOCH + Duration::from_millis(slot);
            if let Ok(wait) = at.duration_since(self.now()) {
                tokio::time::sleep(wait).await;
            }
            let answer = gate.ciba.poll(&pending.issuer, &pending.auth_req_id).await;
            let now = self.now();
            pending.next_poll_ms = unix_millis(now) + pending.interval * 1000;
            match answer {
                Ok(Poll::Pending) => {
                    if interactive {
                        return self.not_yet(&pending, &code, false);
                    }
                }
                Ok(Poll::SlowDown) => {
                    // CIBA Core §11 / RFC 8628 §3.5: five seconds more, from now on.
                    pending.interval += 5;
                    pending.next_poll_ms = unix_millis(now) + pending.interval * 1000;
                    gate.slowed_down(&pending);
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
                    return self.approved(grant, &pending, now, approved).await;
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
                Err(CibaError::Unavailable(error)) => {
                    // A passing outage: the request stands, and the client asks again later.
                    tracing::warn!(tool = %self.tool, %error, "an approval could not be checked now");
                    self.check.reason = Some("poll_unavailable".into());
                    return self.not_yet(&pending, &code, false);
                }
                Err(error) => {
                    tracing::warn!(tool = %self.tool, %error, "an approval could not be checked");
                    self.failed("poll_failed");
                    return End::Answer(mrtr::tool_error(&format!(
                        "The approval of `{}` cannot be checked: {}",
                        self.tool,
                        error.for_caller()
                    )));
                }
            }
        }
    }

    /// The issuer approved: this exact call, by the person the token names, at the level asked
    /// for, and for the first time; then the call goes on.
    async fn approved(
        &mut self,
        grant: Grant,
        pending: &PendingApproval,
        now: SystemTime,
        approved: Approved,
    ) -> End {
        let gate = self.gate.clone();
        self.check.acr.clone_from(&grant.acr);
        self.check.amr.clone_from(&grant.amr);
        let matches = grant.authorization_details.iter().any(|detail| {
            detail.get("type").and_then(Value::as_str) == Some(&gate.detail_type)
                && detail.get("digest").and_then(Value::as_str) == Some(self.digest.as_str())
        });
        let refusal = if !matches {
            Some(("details_mismatch", "is not for this call"))
        } else if grant
            .subject
            .as_deref()
            .is_some_and(|sub| sub != self.principal.subject())
        {
            Some((
                "other_approver",
                "was given by someone other than the person you act for",
            ))
        } else if let Some(wanted) = &gate.acr_values
            && !grant
                .acr
                .as_deref()
                .is_some_and(|acr| wanted.split(' ').any(|w| w == acr))
        {
            Some((
                "acr_not_met",
                "was not given at the authentication level required",
            ))
        } else {
            None
        };
        if let Some((reason, why)) = refusal {
            self.failed(reason);
            return End::Answer(mrtr::tool_error(&format!(
                "The approval the authorization server returned {why} (`{}`). The call was not made.",
                self.tool
            )));
        }
        self.check.outcomes.push(ApprovalOutcome::Granted);
        match self.first_use(pending, now).await {
            Ok(true) => End::Run(approved),
            Ok(false) => self.replayed(),
            Err(()) => {
                self.failed("store_unavailable");
                End::Answer(mrtr::tool_error(
                    "The approval cannot be checked now. It was not used; try again later.",
                ))
            }
        }
    }

    /// Marks the approval used; `Ok(false)` when it was used before.
    async fn first_use(&self, pending: &PendingApproval, now: SystemTime) -> Result<bool, ()> {
        let id = ProofId::new(&pending.issuer, &pending.auth_req_id);
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
                "Approve on your device: code {code} (calling {}), then continue.",
                self.summary().unwrap_or_else(|| format!("`{}`", self.tool))
            )
        });
        End::Answer(mrtr::input_required(message.as_deref(), &sealed))
    }

    /// What the person reads about the call: the tool and all of its arguments, or nothing
    /// when they would not fit whole (a clipped summary could hide what matters).
    fn summary(&self) -> Option<String> {
        let mut arguments = String::new();
        canonical_json(&self.params.arguments, &mut arguments);
        let shown = untrusted_text(&arguments, self.gate.max_summary_chars);
        (arguments.chars().count() <= self.gate.max_summary_chars)
            .then(|| format!("{} {shown}", self.tool))
    }
}
