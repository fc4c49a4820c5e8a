//! The example's MCP tools: an in-memory notebook whose tools need different powers.

use std::sync::{Arc, Mutex};

use mcp_auth::obo::ExchangeRequest;
use mcp_auth::rmcp::{Auth, Obo};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde_json::{Value, json};

/// Shared notebook state.
#[derive(Clone, Default)]
pub struct Notebook {
    notes: Arc<Mutex<Vec<String>>>,
    transfers: Arc<Mutex<Vec<Value>>>,
}

/// The MCP server: one instance per request, sharing the notebook.
#[derive(Clone)]
pub struct NotesServer {
    notebook: Notebook,
    downstream: Option<String>,
    http: reqwest::Client,
}

impl NotesServer {
    /// A server over `notebook`; `downstream` is the URL of the API `call_downstream` calls.
    pub fn new(notebook: Notebook, downstream: Option<String>, http: reqwest::Client) -> Self {
        Self {
            notebook,
            downstream,
            http,
        }
    }
}

/// Arguments of `add_note`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct AddNote {
    /// The note's text.
    pub text: String,
}

/// Arguments of `approve_expense`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct ApproveExpense {
    /// The amount, in whole currency units.
    pub amount: i64,
    /// What it was for.
    #[serde(default)]
    pub text: Option<String>,
}

/// Arguments of `transfer_funds`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct TransferFunds {
    /// The amount, in whole currency units.
    pub amount: i64,
    /// The recipient's account.
    pub to: String,
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

    /// Calls the downstream API with a token obtained by exchange, never the caller's own.
    #[tool(
        description = "Call the downstream API on your behalf (token exchange) and return what it saw of you (needs mcp:read)."
    )]
    async fn call_downstream(&self, Obo(obo): Obo) -> Result<String, ErrorData> {
        let api = self
            .downstream
            .as_deref()
            .ok_or_else(|| ErrorData::internal_error("no downstream API is configured", None))?;
        // On failure the layer answers 401 (caller's token refused), 403 (target or scope
        // refused) or 503 (authorization server unreachable).
        let token = obo
            .get_token_or_deny(ExchangeRequest::resource(api).scope("api:read"))
            .await
            .map_err(|e| {
                ErrorData::internal_error(e.to_auth_error().description().to_owned(), None)
            })?;
        let answer = token
            .apply_to(self.http.get(api))
            .send()
            .await
            .map_err(|e| {
                ErrorData::internal_error(format!("downstream API unreachable: {e}"), None)
            })?;
        let status = answer.status();
        let text = answer
            .text()
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        if !status.is_success() {
            return Err(ErrorData::internal_error(
                format!("downstream API answered {status}: {text}"),
                None,
            ));
        }
        Ok(text)
    }

    /// Approves an expense. Who may approve how much is the policy's business
    /// (`policies/expenses.cedar`): by the time this runs, it has decided.
    #[tool(
        description = "Approve an expense of `amount` (the CFO any amount, a manager up to 1000, an intern never)."
    )]
    fn approve_expense(
        &self,
        Auth(principal): Auth,
        Parameters(ApproveExpense { amount, text }): Parameters<ApproveExpense>,
    ) -> String {
        json!({
            "approved": amount,
            "for": text.unwrap_or_default(),
            "by": principal.subject(),
        })
        .to_string()
    }

    /// Moves money. The approval layer holds every call until the person behind the token has
    /// approved this exact call (amount and recipient) on their own device: by the time this
    /// runs, they have, and it runs once per approval.
    #[tool(
        description = "Transfer `amount` to the account `to` (needs mcp:write, and the approval of the person you act for, on their device)."
    )]
    fn transfer_funds(
        &self,
        Auth(principal): Auth,
        Parameters(TransferFunds { amount, to }): Parameters<TransferFunds>,
    ) -> String {
        let mut transfers = self.notebook.transfers.lock().expect("transfers");
        let transfer = json!({
            "transfer": transfers.len() + 1,
            "amount": amount,
            "to": to,
            "by": principal.subject(),
        });
        transfers.push(transfer.clone());
        transfer.to_string()
    }

    /// The transfers made so far.
    #[tool(description = "List the transfers made so far (needs mcp:read).")]
    fn list_transfers(&self) -> String {
        Value::Array(self.notebook.transfers.lock().expect("transfers").clone()).to_string()
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
