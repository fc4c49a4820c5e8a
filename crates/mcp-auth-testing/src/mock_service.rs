//! A stand-in MCP server for policy tests.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use mcp_auth_core::mcp::{McpMessage, McpRequest, Target};
use serde_json::{Value, json};
use tower_service::Service;

/// A stand-in MCP server: what reaches it was allowed. It answers from the
/// [`McpRequest`] an inspector put in the extensions (it never reads the body):
///
/// - `tools/list`, `resources/list`, `prompts/list`: the tools, resources and prompts it was
///   given, so listing filters can be tested;
/// - `tools/call`: `{"content": [{"type": "text", "text": "called <tool>"}]}`;
/// - anything else: an empty result;
/// - a batch: an array of those answers, in order.
///
/// ```
/// use mcp_auth_testing::MockMcpService;
///
/// let server = MockMcpService::new()
///     .tool("read_file")
///     .tool("write_file")
///     .resource("file:///notes/1")
///     .prompt("summarise");
/// # let _ = server;
/// ```
#[derive(Clone, Debug, Default)]
pub struct MockMcpService {
    catalogue: Arc<Catalogue>,
}

#[derive(Debug, Default, Clone)]
struct Catalogue {
    tools: Vec<String>,
    resources: Vec<String>,
    prompts: Vec<String>,
}

impl MockMcpService {
    /// A server with nothing to list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lists a tool named `name`.
    #[must_use]
    pub fn tool(mut self, name: &str) -> Self {
        Arc::make_mut(&mut self.catalogue).tools.push(name.into());
        self
    }

    /// Lists a resource at `uri`.
    #[must_use]
    pub fn resource(mut self, uri: &str) -> Self {
        Arc::make_mut(&mut self.catalogue)
            .resources
            .push(uri.into());
        self
    }

    /// Lists a prompt named `name`.
    #[must_use]
    pub fn prompt(mut self, name: &str) -> Self {
        Arc::make_mut(&mut self.catalogue).prompts.push(name.into());
        self
    }

    /// The answer to a request: one response, or an array for a batch.
    fn answer(&self, mcp: Option<&McpRequest>) -> Value {
        match mcp {
            Some(mcp) if mcp.is_batch() => mcp
                .messages()
                .iter()
                .map(|message| self.answer_one(message))
                .collect(),
            Some(mcp) if !mcp.messages().is_empty() => self.answer_one(&mcp.messages()[0]),
            _ => json!({"jsonrpc": "2.0", "id": 1, "result": {}}),
        }
    }

    fn answer_one(&self, message: &McpMessage) -> Value {
        let id = message.id().cloned().unwrap_or(Value::Null);
        let named = |key: &str, names: &[String]| -> Value {
            names.iter().map(|n| json!({key: n})).collect()
        };
        let result = match message.method().unwrap_or_default() {
            "tools/list" => json!({"tools": named("name", &self.catalogue.tools)}),
            "resources/list" => json!({"resources": named("uri", &self.catalogue.resources)}),
            "prompts/list" => json!({"prompts": named("name", &self.catalogue.prompts)}),
            "tools/call" => {
                let tool = message.target().map_or("", Target::name);
                json!({"content": [{"type": "text", "text": format!("called {tool}")}]})
            }
            _ => json!({}),
        };
        json!({"jsonrpc": "2.0", "id": id, "result": result})
    }
}

impl<B> Service<Request<B>> for MockMcpService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let body = self.answer(req.extensions().get::<McpRequest>());
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        ready(Ok(response))
    }
}
