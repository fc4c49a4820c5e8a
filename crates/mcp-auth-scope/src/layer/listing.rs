//! What the scope policy keeps in a caller's listings.

use mcp_auth_core::listing::{KeepListed, ListedKind};
use mcp_auth_core::{Principal, Scopes};

use crate::{ScopePolicy, TargetKind};

/// The items a caller's scopes let it use (users-only tools hidden from a client acting for
/// itself).
pub(super) struct ScopeKeeps {
    policy: ScopePolicy,
    effective: Scopes,
    acts_for_itself: bool,
}

impl ScopeKeeps {
    pub(super) fn new(policy: &ScopePolicy, principal: &Principal) -> Self {
        Self {
            policy: policy.clone(),
            effective: policy.effective(principal.scopes()),
            acts_for_itself: principal.acts_for_itself(),
        }
    }
}

impl KeepListed for ScopeKeeps {
    fn keeps(&self, kind: ListedKind, name: &str) -> bool {
        let kind = match kind {
            ListedKind::Tool => TargetKind::Tool,
            ListedKind::Prompt => TargetKind::Prompt,
            ListedKind::Resource | ListedKind::ResourceTemplate => TargetKind::Resource,
            _ => return true,
        };
        self.policy.may_use(&self.effective, kind, name)
            && !(self.acts_for_itself
                && kind == TargetKind::Tool
                && self.policy.is_users_only(name))
    }
}
