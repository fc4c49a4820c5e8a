//! Filtering list answers down to what the caller may use.

use std::collections::HashMap;

use mcp_auth_core::mcp::{McpRequest, MessageKind};
use mcp_auth_core::{Principal, Scopes};
use serde_json::Value;

use crate::{ScopePolicy, TargetKind};

/// What a pending list request lists, and where its items live in the result.
#[derive(Clone, Copy, Debug)]
struct Listing {
    kind: TargetKind,
    field: &'static str,
    name: &'static str,
}

fn listing(method: &str) -> Option<Listing> {
    Some(match method {
        "tools/list" => Listing {
            kind: TargetKind::Tool,
            field: "tools",
            name: "name",
        },
        "prompts/list" => Listing {
            kind: TargetKind::Prompt,
            field: "prompts",
            name: "name",
        },
        "resources/list" => Listing {
            kind: TargetKind::Resource,
            field: "resources",
            name: "uri",
        },
        "resources/templates/list" => Listing {
            kind: TargetKind::Resource,
            field: "resourceTemplates",
            name: "uriTemplate",
        },
        _ => return None,
    })
}

/// The list requests of one HTTP request and the caller's effective scopes.
#[derive(Debug)]
pub(crate) struct ListFilter {
    policy: ScopePolicy,
    effective: Scopes,
    /// The caller is a client acting for itself: users-only tools are not listed.
    acts_for_itself: bool,
    /// JSON-RPC id (serialised) of each list request.
    pending: HashMap<String, Listing>,
    pub(crate) max_bytes: usize,
}

impl ListFilter {
    /// A filter when the request contains list requests, else `None`.
    pub(crate) fn for_request(
        policy: &ScopePolicy,
        principal: &Principal,
        mcp: &McpRequest,
        max_bytes: usize,
    ) -> Option<Box<Self>> {
        let pending: HashMap<String, Listing> = mcp
            .messages()
            .iter()
            .filter(|m| m.kind() == MessageKind::Request)
            .filter_map(|m| Some((m.id()?.to_string(), listing(m.method()?)?)))
            .collect();
        if pending.is_empty() {
            return None;
        }
        Some(Box::new(Self {
            policy: policy.clone(),
            effective: policy.effective(principal.scopes()),
            acts_for_itself: principal.acts_for_itself(),
            pending,
            max_bytes,
        }))
    }

    /// Filters a whole JSON body (one response or a batch). `None`: leave the body as it is.
    pub(crate) fn filter_json(&self, body: &[u8]) -> Option<Vec<u8>> {
        let mut value: Value = serde_json::from_slice(body).ok()?;
        let changed = match &mut value {
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |acc, item| self.filter_response(item) | acc),
            item => self.filter_response(item),
        };
        changed.then(|| serde_json::to_vec(&value).expect("a Value serialises"))
    }

    /// Filters one SSE event (without its terminating blank line). `None`: leave it as it is.
    pub(crate) fn filter_event(&self, event: &[u8]) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(event).ok()?;
        let mut data = String::new();
        let mut has_data = false;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("data:") {
                if has_data {
                    data.push('\n');
                }
                data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
                has_data = true;
            }
        }
        if !has_data {
            return None;
        }
        let filtered = self.filter_json(data.as_bytes())?;
        let filtered = String::from_utf8(filtered).ok()?;
        let mut out = String::with_capacity(text.len());
        let mut wrote_data = false;
        for line in text.lines() {
            if line.starts_with("data:") {
                if !wrote_data {
                    out.push_str("data: ");
                    out.push_str(&filtered);
                    out.push('\n');
                    wrote_data = true;
                }
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        Some(out.into_bytes())
    }

    fn filter_response(&self, response: &mut Value) -> bool {
        let Some(id) = response.get("id").map(Value::to_string) else {
            return false;
        };
        let Some(listing) = self.pending.get(&id) else {
            return false;
        };
        let Some(items) = response
            .get_mut("result")
            .and_then(|r| r.get_mut(listing.field))
            .and_then(Value::as_array_mut)
        else {
            return false;
        };
        let before = items.len();
        items.retain(|item| {
            item.get(listing.name)
                .and_then(Value::as_str)
                .is_some_and(|name| {
                    self.policy.may_use(&self.effective, listing.kind, name)
                        && !(self.acts_for_itself
                            && listing.kind == TargetKind::Tool
                            && self.policy.is_users_only(name))
                })
        });
        items.len() != before
    }
}
