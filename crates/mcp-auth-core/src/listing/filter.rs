//! Which list requests a request holds, and filtering their answers item by item.

use std::collections::HashMap;

use serde_json::Value;

use crate::mcp::{McpRequest, MessageKind};

/// What a listing lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListedKind {
    /// `tools/list`: tools, by name.
    Tool,
    /// `resources/list`: resources, by URI.
    Resource,
    /// `resources/templates/list`: resource templates, by URI template.
    ResourceTemplate,
    /// `prompts/list`: prompts, by name.
    Prompt,
}

/// Decides which listed items a caller sees: those it could use.
pub trait KeepListed: Send + Sync + 'static {
    /// Whether the item of `kind` called `name` (a tool or prompt name, a resource URI or URI
    /// template) stays in the listing.
    fn keeps(&self, kind: ListedKind, name: &str) -> bool;
}

impl<F> KeepListed for F
where
    F: Fn(ListedKind, &str) -> bool + Send + Sync + 'static,
{
    fn keeps(&self, kind: ListedKind, name: &str) -> bool {
        self(kind, name)
    }
}

/// What a pending list request lists, and where its items live in the result.
#[derive(Clone, Copy, Debug)]
struct Listing {
    kind: ListedKind,
    field: &'static str,
    name: &'static str,
}

fn listing(method: &str) -> Option<Listing> {
    Some(match method {
        "tools/list" => Listing {
            kind: ListedKind::Tool,
            field: "tools",
            name: "name",
        },
        "prompts/list" => Listing {
            kind: ListedKind::Prompt,
            field: "prompts",
            name: "name",
        },
        "resources/list" => Listing {
            kind: ListedKind::Resource,
            field: "resources",
            name: "uri",
        },
        "resources/templates/list" => Listing {
            kind: ListedKind::ResourceTemplate,
            field: "resourceTemplates",
            name: "uriTemplate",
        },
        _ => return None,
    })
}

/// The list requests of one HTTP request and who decides what their answers keep. Answers are
/// matched to requests by JSON-RPC id.
pub struct ListFilter {
    keep: Box<dyn KeepListed>,
    /// JSON-RPC id (serialised) of each list request.
    pending: HashMap<String, Listing>,
    /// The largest listing filtered; a larger one is an error rather than passed on unfiltered.
    max_bytes: usize,
}

impl std::fmt::Debug for ListFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListFilter")
            .field("pending", &self.pending)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// Whether `mcp` holds a list request whose answer a [`ListFilter`] would filter.
pub fn lists_anything(mcp: &McpRequest) -> bool {
    mcp.messages()
        .iter()
        .any(|m| m.kind() == MessageKind::Request && m.method().and_then(listing).is_some())
}

impl ListFilter {
    /// A filter when `mcp` contains list requests, else `None`. `keep` is asked about every
    /// listed item; a listing larger than `max_bytes` fails rather than pass unfiltered.
    pub fn for_request(
        mcp: &McpRequest,
        keep: impl FnOnce() -> Box<dyn KeepListed>,
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
            keep: keep(),
            pending,
            max_bytes,
        }))
    }

    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
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
                .is_some_and(|name| self.keep.keeps(listing.kind, name))
        });
        items.len() != before
    }
}
