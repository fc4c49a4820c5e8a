//! What the client hears when the server behind the gateway fails: an HTTP status a proxy uses
//! for it, and a JSON-RPC error an MCP client can show.

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};
use mcp_auth::McpRequest;
use serde_json::{Value, json};

/// Why the gateway answered for the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UpstreamFailure {
    /// No connection, or the connection failed before an answer (502).
    Unreachable,
    /// No answer within the response timeout (504).
    TimedOut,
    /// The server refused the gateway's own credentials (502: the client can do nothing).
    RefusedCredentials,
    /// The gateway could not obtain the credentials it presents (502).
    NoCredentials,
    /// The request named a session another caller opened (404, as for an unknown session).
    ForeignSession,
}

impl UpstreamFailure {
    fn status(self) -> StatusCode {
        match self {
            Self::Unreachable | Self::RefusedCredentials | Self::NoCredentials => {
                StatusCode::BAD_GATEWAY
            }
            Self::TimedOut => StatusCode::GATEWAY_TIMEOUT,
            Self::ForeignSession => StatusCode::NOT_FOUND,
        }
    }

    /// JSON-RPC codes from the implementation-defined server-error range, as the MCP SDKs use
    /// them: -32001 is their "request timed out" and their "session not found".
    fn code(self) -> i64 {
        match self {
            Self::TimedOut | Self::ForeignSession => -32001,
            Self::Unreachable | Self::RefusedCredentials | Self::NoCredentials => -32000,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::Unreachable => "the MCP server behind the gateway could not be reached",
            Self::TimedOut => "the MCP server behind the gateway did not answer in time",
            Self::RefusedCredentials => {
                "the MCP server behind the gateway refused the gateway's credentials"
            }
            Self::NoCredentials => {
                "the gateway could not obtain credentials for the MCP server behind it"
            }
            Self::ForeignSession => "Session not found",
        }
    }

    /// A short name for logs and metrics.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::TimedOut => "timed_out",
            Self::RefusedCredentials => "refused_credentials",
            Self::NoCredentials => "no_credentials",
            Self::ForeignSession => "foreign_session",
        }
    }

    /// The response: the status, and a JSON-RPC error answering the request's id (`null` for a
    /// batch, a notification or a request that was not JSON-RPC).
    pub(crate) fn response(self, request: Option<&McpRequest>) -> Response<Body> {
        let id = request
            .filter(|r| !r.is_batch())
            .and_then(|r| r.messages().first())
            .and_then(|m| m.id().cloned())
            .unwrap_or(Value::Null);
        let body = json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {
                "code": self.code(),
                "message": self.message(),
                "data": { "status": self.status().as_u16() },
            },
        });
        let mut response = Response::new(Body::from(body.to_string()));
        *response.status_mut() = self.status();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn json(response: Response<Body>) -> Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn the_error_answers_the_requests_id() {
        let request = McpRequest::parse(
            br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x"}}"#,
            &Default::default(),
        )
        .unwrap();
        let response = UpstreamFailure::TimedOut.response(Some(&request));
        assert_eq!(response.status(), 504);
        let body = json(response).await;
        assert_eq!(body["id"], 7);
        assert_eq!(body["error"]["code"], -32001);

        let response = UpstreamFailure::Unreachable.response(None);
        assert_eq!(response.status(), 502);
        let body = json(response).await;
        assert_eq!(body["id"], Value::Null);
        assert_eq!(body["error"]["code"], -32000);
    }
}
