//! Which caller opened which MCP session: the server behind the gateway knows no users, so the
//! gateway refuses a session id presented by anyone but the caller whose request created it.

use std::sync::Arc;

use http::HeaderValue;
use mcp_auth::Principal;
use sha2::{Digest as _, Sha256};

/// Session ids seen in this process, each with a digest of its owner (issuer and subject).
/// Bounded: the oldest are forgotten first, and a forgotten or never seen session (opened
/// through another replica) is let through, as the server decides about it.
#[derive(Clone)]
pub(crate) struct Sessions {
    owners: Arc<quick_cache::sync::Cache<Vec<u8>, [u8; 32]>>,
}

fn owner(principal: &Principal) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(principal.issuer().as_bytes());
    hash.update([0]);
    hash.update(principal.subject().as_bytes());
    hash.finalize().into()
}

impl Sessions {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            owners: Arc::new(quick_cache::sync::Cache::new(capacity)),
        }
    }

    /// Whether `principal` may use the session `id`.
    pub(crate) fn permits(&self, id: &HeaderValue, principal: &Principal) -> bool {
        self.owners
            .get(id.as_bytes())
            .is_none_or(|known| known == owner(principal))
    }

    /// Records that the server opened session `id` for `principal` (the first owner stays).
    pub(crate) fn opened(&self, id: &HeaderValue, principal: &Principal) {
        let key = id.as_bytes().to_vec();
        if self.owners.get(&key).is_none() {
            self.owners.insert(key, owner(principal));
        }
    }

    /// Forgets session `id` (the server ended it).
    pub(crate) fn ended(&self, id: &HeaderValue) {
        self.owners.remove(id.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_auth::BearerToken;

    fn who(subject: &str) -> Principal {
        Principal::builder("https://idp.example.com", subject, BearerToken::new("t")).build()
    }

    #[test]
    fn a_session_belongs_to_the_caller_that_opened_it() {
        let sessions = Sessions::new(16);
        let id = HeaderValue::from_static("s-1");
        assert!(sessions.permits(&id, &who("alice")), "unknown: let through");
        sessions.opened(&id, &who("alice"));
        sessions.opened(&id, &who("mallory"));
        assert!(sessions.permits(&id, &who("alice")));
        assert!(!sessions.permits(&id, &who("mallory")));
        sessions.ended(&id);
        assert!(sessions.permits(&id, &who("mallory")));
    }
}
