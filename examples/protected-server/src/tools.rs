//! The example's MCP tools: an in-memory notebook whose tools need different powers.

use std::sync::{Arc, Mutex};

use mcp_auth::rmcp::Auth;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, schemars, tool, tool_handler, tool_router};
use serde_json::{Value, json};

/// Shared notebook state.
#[derive(Clone, Default)]
pub struct Notebook {
    notes: Arc<Mutex<Vec<String>>>,
}

/// The MCP server: one instance per session, sharing the notebook.
#[derive(Clone)]
pub struct NotesServer {
    notebook: Notebook,
}

impl NotesServer {
    /// A server over `notebook`.
    pub fn new(notebook: Notebook) -> Self {
        Self { notebook }
    }
}

/// Arguments of `add_note`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct AddNote {
    /// The note's text.
    pub text: String,
}

#[tool_router]
impl NotesServer {
    /// Returns the caller as the tools see it.
    #[tool(
        description = "Who am I? Returns the verified caller: issuer, subject, client, scopes, audiences, expiry, delegation chain."
    )]
    fn whoami(&self, Auth(principal): Auth) -> String {
        let actors: Vec<Value> = principal
            .actor()
            .map(|a| a.chain().map(|a| json!(a.subject)).collect())
            .unwrap_or_default();
        json!({
            "issuer": principal.issuer(),
            "subject": principal.subject(),
            "client_id": principal.client_id(),
            "scopes": principal.scopes(),
            "audiences": principal.audiences(),
            "expires_at": principal.expires_at(),
            "actors": actors,
            "token_fingerprint": principal.token().fingerprint(),
        })
        .to_string()
    }

    /// Lists the notes.
    #[tool(description = "List the notes in the shared notebook (needs mcp:read).")]
    fn list_notes(&self) -> String {
        let notes = self.notebook.notes.lock().expect("notes");
        json!(*notes).to_string()
    }

    /// Adds a note, signed by the caller.
    #[tool(description = "Add a note to the shared notebook (needs mcp:write).")]
    fn add_note(
        &self,
        Auth(principal): Auth,
        Parameters(AddNote { text }): Parameters<AddNote>,
    ) -> String {
        let mut notes = self.notebook.notes.lock().expect("notes");
        notes.push(format!("{}: {text}", principal.subject()));
        format!("{} notes", notes.len())
    }

    /// Removes every note.
    #[tool(description = "Delete every note (needs mcp:admin).")]
    fn clear_notes(&self) -> String {
        let mut notes = self.notebook.notes.lock().expect("notes");
        let removed = notes.len();
        notes.clear();
        format!("removed {removed} notes")
    }
}

#[tool_handler]
impl ServerHandler for NotesServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_instructions(
            "A shared notebook protected by mcp-auth. Call whoami to see who you are.",
        )
    }
}
