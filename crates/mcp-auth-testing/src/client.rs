//! A small MCP client over Streamable HTTP, for integration tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// The protocol version the client announces.
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// Sends JSON-RPC requests to an MCP endpoint as MCP clients do (the `Accept`, `Content-Type`
/// and `MCP-Protocol-Version` headers, a bearer token) and reads the answer whether it comes as
/// JSON or as an SSE stream, so integration tests need no hand-built requests.
///
/// ```no_run
/// use mcp_auth_testing::McpTestClient;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = McpTestClient::new("http://127.0.0.1:8080/mcp").bearer("eyJ...");
/// let reply = client.call_tool("whoami", serde_json::json!({})).await;
/// assert_eq!(reply.status, 200);
/// println!("{}", reply.text());
/// # }
/// ```
#[derive(Clone)]
pub struct McpTestClient {
    url: String,
    token: Option<String>,
    http: reqwest::Client,
    next_id: Arc<AtomicU64>,
    /// A DPoP proof sent with the token (then presented as `DPoP`, not `Bearer`).
    proof: Option<String>,
    /// Headers added to every request.
    headers: Vec<(String, String)>,
}

impl std::fmt::Debug for McpTestClient {
    /// The token is never printed, only whether there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTestClient")
            .field("url", &self.url)
            .field("bearer", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

impl McpTestClient {
    /// A client for the MCP endpoint at `url`, without credentials.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
            http: reqwest::Client::new(),
            next_id: Arc::new(AtomicU64::new(1)),
            proof: None,
            headers: Vec::new(),
        }
    }

    /// Sends `name: value` with every request from now on (e.g. a `traceparent`).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Presents `token` as `Authorization: DPoP` with `proof` in the `DPoP` header from now on
    /// (a proof is good for one request: set a fresh one before each).
    #[must_use]
    pub fn dpop(mut self, token: impl Into<String>, proof: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self.proof = Some(proof.into());
        self
    }

    /// Sends `Authorization: Bearer <token>` from now on.
    #[must_use]
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// `tools/call` of `name` with `arguments`.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> McpReply {
        self.request("tools/call", json!({"name": name, "arguments": arguments}))
            .await
    }

    /// `tools/list`.
    pub async fn list_tools(&self) -> McpReply {
        self.request("tools/list", json!({})).await
    }

    /// Any request: `method` with `params`.
    pub async fn request(&self, method: &str, params: Value) -> McpReply {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send(body.to_string()).await
    }

    /// Posts `body` as it is (a batch, a notification, something malformed).
    pub async fn send(&self, body: String) -> McpReply {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .body(body);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        match (&self.token, &self.proof) {
            (Some(token), Some(proof)) => {
                request = request
                    .header("authorization", format!("DPoP {token}"))
                    .header("dpop", proof);
            }
            (Some(token), None) => request = request.bearer_auth(token),
            _ => {}
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => panic!("MCP request to {} failed: {e}", self.url),
        };
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let event_stream = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        let text = response.text().await.unwrap_or_default();
        let body = if event_stream {
            last_sse_message(&text)
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        McpReply {
            status,
            challenge,
            body,
        }
    }
}

/// The JSON-RPC response in an SSE stream: the last `message` event carrying a result or error.
fn last_sse_message(stream: &str) -> Value {
    stream
        .split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            serde_json::from_str::<Value>(&data.join("\n")).ok()
        })
        .filter(|message| message.get("result").is_some() || message.get("error").is_some())
        .last()
        .unwrap_or(Value::Null)
}

/// What an MCP endpoint answered.
#[derive(Clone, Debug)]
pub struct McpReply {
    /// The HTTP status.
    pub status: u16,
    /// The `WWW-Authenticate` challenge, if any.
    pub challenge: Option<String>,
    /// The JSON-RPC response (from JSON or SSE), or the error document of a refusal; `Null`
    /// when the body was neither.
    pub body: Value,
}

impl McpReply {
    /// The `result` of the JSON-RPC response (`Null` without one).
    pub fn result(&self) -> &Value {
        &self.body["result"]
    }

    /// The text of a tool result's first text content (empty without one).
    pub fn text(&self) -> &str {
        self.result()["content"][0]["text"].as_str().unwrap_or("")
    }

    /// A challenge parameter, as clients read it (`scope`, `error`, `resource_metadata`).
    pub fn challenge_param(&self, name: &str) -> Option<String> {
        crate::challenge_param(self.challenge.as_deref()?, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let client = McpTestClient::new("http://127.0.0.1:1/mcp").bearer("very-secret-token");
        let printed = format!("{client:?}");
        assert!(!printed.contains("very-secret-token"), "{printed}");
        assert!(printed.contains("bearer: true"), "{printed}");
    }

    #[test]
    fn reads_the_response_out_of_an_event_stream() {
        let stream = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\nid: 2\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\ndata: \"result\":{\"ok\":true}}\n\n";
        let message = last_sse_message(stream);
        assert_eq!(message["result"]["ok"], true, "{message}");
    }
}
