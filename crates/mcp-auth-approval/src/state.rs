//! The `requestState` the client echoes back: sealed, so it carries what the server needs to go
//! on without the client reading or changing any of it.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_auth_obo::SecretKeys;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::digest::CallDigest;

/// What the seal is bound to: a value sealed for anything else does not open as request state.
const CONTEXT: &str = "mcp-auth:approval:v1";

/// One pending approval, as it travels through the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingApproval {
    /// The call's digest.
    #[serde(rename = "d")]
    pub digest: String,
    /// The authorization server's request id: only the server ever reads it.
    #[serde(rename = "r")]
    pub auth_req_id: String,
    /// The issuer the request was made at.
    #[serde(rename = "i")]
    pub issuer: String,
    /// Who asked: a digest of issuer and subject.
    #[serde(rename = "p")]
    pub principal: String,
    /// The tool (for the audit of a state refused before its digest could be compared).
    #[serde(rename = "t")]
    pub tool: String,
    /// When the request expires at the authorization server (Unix seconds).
    #[serde(rename = "x")]
    pub expires_at: u64,
    /// The earliest time the token endpoint may be asked again (Unix milliseconds).
    #[serde(rename = "n")]
    pub next_poll_ms: u64,
    /// The polling interval the authorization server set, in seconds.
    #[serde(rename = "v")]
    pub interval: u64,
}

/// Why a `requestState` was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateRefused {
    /// It does not open with any of the keys (tampered, forged, or sealed by a key since
    /// retired).
    Unreadable,
    /// It was issued to another caller.
    OtherPrincipal,
    /// It was issued for another call (different arguments, another tool).
    OtherCall,
    /// Its approval request has expired.
    Expired,
}

impl StateRefused {
    /// A short machine-readable reason, for the audit event.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unreadable => "state_unreadable",
            Self::OtherPrincipal => "state_other_principal",
            Self::OtherCall => "state_other_call",
            Self::Expired => "state_expired",
        }
    }

    /// What the caller is told.
    pub fn message(self) -> &'static str {
        match self {
            Self::Unreadable => {
                "the approval state is not valid; call the tool again to start over"
            }
            Self::OtherPrincipal => {
                "the approval state belongs to another caller; call the tool again to start over"
            }
            Self::OtherCall => {
                "the approval state was issued for a different call (tool or arguments changed); call the tool again to start over"
            }
            Self::Expired => "the approval request expired; call the tool again to start over",
        }
    }
}

/// The principal as the state records it: a digest, so the state's plaintext holds no
/// identifier either.
pub(crate) fn principal_key(issuer: &str, subject: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(issuer.as_bytes());
    hasher.update([0]);
    hasher.update(subject.as_bytes());
    URL_SAFE_NO_PAD.encode(&hasher.finalize()[..18])
}

pub(crate) fn seal(keys: &SecretKeys, state: &PendingApproval) -> Option<String> {
    let plaintext = serde_json::to_vec(state).ok()?;
    keys.seal(&plaintext, CONTEXT)
}

/// Opens `sealed` and checks it belongs to `principal` and to the call with `digest`.
pub(crate) fn open(
    keys: &SecretKeys,
    sealed: &str,
    principal: &str,
    digest: &CallDigest,
    now: SystemTime,
) -> Result<PendingApproval, StateRefused> {
    // A bound on what is even tried: a state this server sealed is a few hundred bytes.
    if sealed.len() > 4096 {
        return Err(StateRefused::Unreadable);
    }
    let state: PendingApproval = keys
        .open(sealed, CONTEXT)
        .and_then(|plaintext| serde_json::from_slice(&plaintext).ok())
        .ok_or(StateRefused::Unreadable)?;
    if state.principal != principal {
        return Err(StateRefused::OtherPrincipal);
    }
    if state.digest != digest.as_str() {
        return Err(StateRefused::OtherCall);
    }
    if unix_seconds(now) >= state.expires_at {
        return Err(StateRefused::Expired);
    }
    Ok(state)
}

pub(crate) fn unix_seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(crate) fn unix_millis(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn keys() -> SecretKeys {
        SecretKeys::new("k1", &[3; 32]).expect("key")
    }

    fn pending(digest: &str, expires_at: u64) -> PendingApproval {
        PendingApproval {
            digest: digest.into(),
            auth_req_id: "secret-request-id".into(),
            issuer: "https://id.example".into(),
            principal: principal_key("https://id.example", "alice"),
            tool: "transfer_funds".into(),
            expires_at,
            next_poll_ms: 0,
            interval: 5,
        }
    }

    #[test]
    fn a_state_opens_only_for_its_caller_and_call_until_it_expires() {
        let now = SystemTime::now();
        let later = unix_seconds(now) + 60;
        let sealed = seal(&keys(), &pending("D1", later)).expect("sealed");
        assert!(
            !sealed.contains("secret-request-id"),
            "the request id is hidden"
        );
        let alice = principal_key("https://id.example", "alice");
        let bob = principal_key("https://id.example", "bob");
        let d1 = CallDigest::from_text("D1");
        let opened = open(&keys(), &sealed, &alice, &d1, now).expect("opens");
        assert_eq!(opened.auth_req_id, "secret-request-id");

        let refused = |sealed: &str, who: &str, digest: &str, at: SystemTime| {
            open(&keys(), sealed, who, &CallDigest::from_text(digest), at).expect_err("refused")
        };
        assert_eq!(
            refused(&sealed, &bob, "D1", now),
            StateRefused::OtherPrincipal
        );
        assert_eq!(refused(&sealed, &alice, "D2", now), StateRefused::OtherCall);
        assert_eq!(
            refused(&sealed, &alice, "D1", now + Duration::from_secs(61)),
            StateRefused::Expired
        );
        let mut tampered = sealed.clone().into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert_eq!(
            refused(&tampered, &alice, "D1", now),
            StateRefused::Unreadable
        );
        assert_eq!(
            refused(&"A".repeat(5000), &alice, "D1", now),
            StateRefused::Unreadable
        );
        let other_key = SecretKeys::new("k1", &[4; 32]).expect("key");
        assert!(open(&other_key, &sealed, &alice, &d1, now).is_err());
    }
}
