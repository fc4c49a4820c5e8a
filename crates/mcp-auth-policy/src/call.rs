//! What a decision is about: one call of a tool, read of a resource or use of a prompt.

use std::sync::Arc;

use mcp_auth_core::mcp::{McpMessage, McpRequest, Target};
use mcp_auth_core::record::ClientSummary;
use mcp_auth_core::{AuthError, Principal};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// The action of a call, as the MCP schema names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// `tools/call` of a tool.
    CallTool,
    /// `resources/read` (and subscribing, and completing a resource template) of a resource.
    ReadResource,
    /// `prompts/get` (and completing a prompt's arguments) of a prompt.
    GetPrompt,
}

impl Action {
    /// The action's id in the MCP schema (`Mcp::Action::"tools/call"` …).
    pub fn id(self) -> &'static str {
        match self {
            Self::CallTool => "tools/call",
            Self::ReadResource => "resources/read",
            Self::GetPrompt => "prompts/get",
        }
    }

    /// What the target is called in messages.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Self::CallTool => "tool",
            Self::ReadResource => "resource",
            Self::GetPrompt => "prompt",
        }
    }

    fn of(target: &Target) -> Option<Self> {
        Some(match target {
            Target::Tool(_) => Self::CallTool,
            Target::Resource(_) => Self::ReadResource,
            Target::Prompt(_) => Self::GetPrompt,
            _ => return None,
        })
    }
}

/// One call to decide: who, through which client, does what to which target, with which
/// arguments. Cheap to clone (shared parts).
#[derive(Clone, Debug)]
pub struct Call {
    /// The verified caller.
    pub principal: Principal,
    /// The client, as client identity admitted it (or as the token names it).
    pub client: Option<ClientSummary>,
    /// What is done.
    pub action: Action,
    /// The tool or prompt name, or the resource URI.
    pub target: String,
    /// The call's arguments (`params.arguments`), `Null` when it has none; `None` when they are
    /// not known (deciding whether to list the target).
    pub arguments: Option<Arc<Value>>,
}

#[derive(Deserialize)]
struct ArgumentsOnly<'a> {
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

impl Call {
    /// The calls `mcp` makes (one per message acting on a target). Arguments over
    /// `max_argument_bytes` refuse the request (413-like 400) rather than be decided on a part.
    ///
    /// # Errors
    /// Arguments too large, or not JSON.
    pub fn all_in(
        mcp: &McpRequest,
        principal: &Principal,
        client: Option<&ClientSummary>,
        max_argument_bytes: usize,
    ) -> Result<Vec<Call>, AuthError> {
        let client = client
            .cloned()
            .or_else(|| principal.client_id().map(ClientSummary::new));
        mcp.messages()
            .iter()
            .filter_map(|message| {
                let target = message.target()?;
                let action = Action::of(target)?;
                Some(
                    arguments_of(mcp, message, action, max_argument_bytes).map(|arguments| Call {
                        principal: principal.clone(),
                        client: client.clone(),
                        action,
                        target: target.name().to_owned(),
                        arguments: Some(arguments),
                    }),
                )
            })
            .collect()
    }

    /// The target as it may be echoed to the caller: it comes from the request, so through
    /// the one sanitiser.
    pub(crate) fn shown_target(&self) -> String {
        mcp_auth_core::untrusted_text(&self.target, 80)
    }

    /// A call of `target` with arguments not known: could some call be allowed?
    pub fn listing(
        principal: &Principal,
        client: Option<&ClientSummary>,
        action: Action,
        target: &str,
    ) -> Self {
        Self {
            principal: principal.clone(),
            client: client
                .cloned()
                .or_else(|| principal.client_id().map(ClientSummary::new)),
            action,
            target: target.to_owned(),
            arguments: None,
        }
    }
}

fn arguments_of(
    mcp: &McpRequest,
    message: &McpMessage,
    action: Action,
    max: usize,
) -> Result<Arc<Value>, AuthError> {
    // Only tool calls and prompts take arguments; a completion's `argument` is not one.
    if message.method() == Some("completion/complete") || action == Action::ReadResource {
        return Ok(Arc::new(Value::Null));
    }
    let Some(params) = mcp.params(message) else {
        return Ok(Arc::new(Value::Null));
    };
    let raw = serde_json::from_str::<ArgumentsOnly<'_>>(params)
        .map_err(|_| AuthError::bad_request("malformed_arguments", "`params` is not an object"))?
        .arguments;
    let Some(raw) = raw else {
        return Ok(Arc::new(Value::Null));
    };
    if raw.get().len() > max {
        return Err(AuthError::bad_request(
            "arguments_too_large",
            format!("the call's arguments exceed {max} bytes, the most a policy decides on"),
        ));
    }
    serde_json::from_str(raw.get())
        .map(Arc::new)
        .map_err(|_| AuthError::bad_request("malformed_arguments", "`arguments` is not JSON"))
}
