//! The 2026-07-28 protocol's multi-round-trip requests, as far as the approval layer speaks
//! them: reading a `tools/call` and its retry fields, answering `input_required` or a tool
//! error, and handing on the call without the retry fields.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The first protocol version with multi-round-trip requests.
pub const MRTR_SINCE: &str = "2026-07-28";

/// Where a 2026-07-28 request declares what the client can do.
const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// The key of the one input request the layer makes.
pub(crate) const INPUT_KEY: &str = "approval";

/// What the layer reads of a `tools/call`'s `params`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallParams {
    #[serde(default)]
    pub arguments: Value,
    #[serde(default)]
    pub request_state: Option<String>,
    #[serde(default)]
    pub input_responses: Option<Map<String, Value>>,
    #[serde(default, rename = "_meta")]
    pub meta: Option<Map<String, Value>>,
}

impl CallParams {
    /// Reads `params`; `None` when they are not an object of the expected shape.
    pub fn read(params: Option<&str>) -> Option<Self> {
        match params {
            None => Some(Self::default()),
            // An object only: serde would also read a struct from an array.
            Some(text) => match serde_json::from_str::<Value>(text).ok()? {
                value @ Value::Object(_) => serde_json::from_value(value).ok(),
                _ => None,
            },
        }
    }

    /// Whether the client declared it can show elicitations (form mode).
    pub fn can_elicit(&self) -> bool {
        self.meta
            .as_ref()
            .and_then(|meta| meta.get(CLIENT_CAPABILITIES))
            .and_then(|caps| caps.get("elicitation"))
            .is_some_and(|elicitation| {
                // `{}` means form mode; an explicit list of modes must include it.
                elicitation.get("form").is_some() || elicitation.get("url").is_none()
            })
    }

    /// The client's answer to the layer's elicitation, when it sent one: `accept`,
    /// `decline` or `cancel`. Only ever a reason to stop: accepting is not approving.
    pub fn elicitation_action(&self) -> Option<&str> {
        self.input_responses
            .as_ref()?
            .get(INPUT_KEY)?
            .get("action")?
            .as_str()
    }
}

/// Whether `version` (a `YYYY-MM-DD` protocol version) has multi-round-trip requests.
pub(crate) fn speaks_mrtr(version: Option<&str>) -> bool {
    version.is_some_and(|v| v.len() == MRTR_SINCE.len() && v >= MRTR_SINCE)
}

/// The `input_required` result: an elicitation the client shows its user when it can, and the
/// sealed state it echoes back.
pub(crate) fn input_required(message: Option<&str>, state: &str) -> Value {
    let mut result = json!({
        "resultType": "input_required",
        "requestState": state,
    });
    if let Some(message) = message {
        result["inputRequests"] = json!({
            INPUT_KEY: {
                "method": "elicitation/create",
                "params": {
                    "mode": "form",
                    "message": message,
                    "requestedSchema": {"type": "object", "properties": {}},
                },
            },
        });
    }
    result
}

/// A tool result reporting an error the model can read (the call did not run).
pub(crate) fn tool_error(text: &str) -> Value {
    json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
    })
}

/// A JSON-RPC response with `result`, answering the request `id`.
pub(crate) fn answer(id: Option<&Value>, result: Value) -> Response<Bytes> {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "result": result,
    });
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The request body with `requestState` and `inputResponses` taken out of the one message's
/// `params`: the server sees the call as if it had been approved beforehand.
pub(crate) fn without_retry_fields(body: &[u8]) -> Option<Bytes> {
    let mut message: Map<String, Value> = serde_json::from_slice(body).ok()?;
    if let Some(Value::Object(params)) = message.get_mut("params") {
        params.remove("requestState");
        params.remove("inputResponses");
    }
    serde_json::to_vec(&message).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_before_2026_07_28_cannot_take_part() {
        assert!(speaks_mrtr(Some("2026-07-28")));
        assert!(speaks_mrtr(Some("2027-01-01")));
        assert!(!speaks_mrtr(Some("2025-11-25")));
        assert!(!speaks_mrtr(Some("2026-07-28-draft")));
        assert!(!speaks_mrtr(None));
    }

    #[test]
    fn capabilities_and_answers_are_read_from_the_retry() {
        let params = CallParams::read(Some(
            r#"{"name":"t","arguments":{"a":1},"requestState":"S",
                "inputResponses":{"approval":{"action":"decline"}},
                "_meta":{"io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}}"#,
        ))
        .expect("reads");
        assert!(params.can_elicit());
        assert_eq!(params.elicitation_action(), Some("decline"));
        assert_eq!(params.request_state.as_deref(), Some("S"));
        let url_only = CallParams::read(Some(
            r#"{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"url":{}}}}}"#,
        ))
        .expect("reads");
        assert!(!url_only.can_elicit());
        assert!(!CallParams::read(None).expect("empty").can_elicit());
        assert!(CallParams::read(Some("[1]")).is_none());
    }

    #[test]
    fn the_call_handed_on_has_no_retry_fields() {
        let body = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"t","arguments":{"a":1},"requestState":"S","inputResponses":{}}}"#;
        let clean: Value =
            serde_json::from_slice(&without_retry_fields(body).expect("json")).expect("json");
        assert_eq!(
            clean,
            json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"t","arguments":{"a":1}}})
        );
    }
}
