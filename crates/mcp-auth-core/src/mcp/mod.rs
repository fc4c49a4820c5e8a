//! JSON-RPC message parsing: just enough of each message to authorise it.

mod headers;
mod limits;

pub use headers::{MIRRORED_HEADERS_SINCE, check_mirrored_headers};
pub use limits::{InspectLimits, LimitsConfig};

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::AuthError;

/// The MCP (JSON-RPC) content of one HTTP request: a single message or a batch.
///
/// Produced once per request by the inspector and shared through the request extensions; cloning
/// is a reference-count increment.
///
/// ```
/// use mcp_auth_core::mcp::{McpRequest, Target};
///
/// let body = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search","arguments":{}}}"#;
/// let request = McpRequest::parse(body, &Default::default()).unwrap();
/// let message = &request.messages()[0];
/// assert_eq!(message.method(), Some("tools/call"));
/// assert_eq!(message.target(), Some(&Target::Tool("search".into())));
/// ```
#[derive(Clone, Debug)]
pub struct McpRequest(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    messages: Vec<McpMessage>,
    batch: bool,
    /// The body as it arrived, shared with the request (no copy): each message's `params` is a
    /// range of it, read again only by those who need more than the target (a policy reading
    /// a tool's arguments).
    body: Bytes,
}

/// One JSON-RPC message of a request.
#[derive(Clone, Debug, PartialEq)]
pub struct McpMessage {
    kind: MessageKind,
    method: Option<String>,
    id: Option<serde_json::Value>,
    target: Option<Target>,
    /// `Err` when `params._meta` is there but unreadable (not an object, a version that is not
    /// a string, a key given twice).
    protocol_version: Result<Option<String>, ()>,
    /// Where `params` is in the body.
    params: Option<Range<usize>>,
}

/// What a JSON-RPC message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// Has a `method` and an `id`: expects a response.
    Request,
    /// Has a `method` and no `id`.
    Notification,
    /// Has `result` or `error`: the client answering a server-initiated request.
    Response,
}

/// The named thing a message acts on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// A tool, by name (`tools/call`).
    Tool(String),
    /// A resource, by URI (`resources/read`, `resources/subscribe`, `resources/unsubscribe`,
    /// and resource completions).
    Resource(String),
    /// A prompt, by name (`prompts/get` and prompt completions).
    Prompt(String),
}

impl Target {
    /// The tool name, resource URI or prompt name.
    pub fn name(&self) -> &str {
        match self {
            Target::Tool(n) | Target::Resource(n) | Target::Prompt(n) => n,
        }
    }
}

impl McpRequest {
    /// Parses a request body: one JSON-RPC message or a non-empty batch, within `limits`.
    ///
    /// # Errors
    /// A 400 [`AuthError`] naming what is wrong: not JSON, not JSON-RPC 2.0, a message with
    /// neither `method` nor `result`/`error`, a known method whose target parameter is missing
    /// or of the wrong type, an empty or oversized batch, nesting deeper than allowed.
    pub fn parse(body: &[u8], limits: &InspectLimits) -> Result<Self, AuthError> {
        Self::parse_bytes(Bytes::copy_from_slice(body), limits)
    }

    /// Like [`parse`](Self::parse), keeping `body` itself (a reference-counted handle, no copy)
    /// for [`params`](Self::params).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_bytes(body: Bytes, limits: &InspectLimits) -> Result<Self, AuthError> {
        let base = body.as_ptr() as usize;
        let max_batch = limits.max_batch;
        if let Some(depth) = nesting_exceeds(&body, limits.max_depth) {
            return Err(AuthError::bad_request(
                "nesting_too_deep",
                format!("JSON nesting deeper than {depth} levels is not accepted"),
            ));
        }
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        let (messages, batch) = if first == Some(&b'[') {
            let wire: Vec<&RawValue> = serde_json::from_slice(&body).map_err(not_json)?;
            if wire.is_empty() {
                return Err(malformed("a JSON-RPC batch must not be empty"));
            }
            if wire.len() > max_batch {
                return Err(AuthError::bad_request(
                    "batch_too_large",
                    format!(
                        "JSON-RPC batch of {} messages exceeds the limit of {max_batch}",
                        wire.len()
                    ),
                ));
            }
            let messages = wire
                .iter()
                .enumerate()
                .map(|(i, raw)| {
                    McpMessage::parse(raw.get(), base)
                        .map_err(|e| malformed(format!("batch message {i}: {}", e.description())))
                })
                .collect::<Result<Vec<_>, _>>()?;
            (messages, true)
        } else {
            let text = std::str::from_utf8(&body)
                .map_err(|_| malformed("request body is not valid UTF-8"))?;
            (vec![McpMessage::parse(text, base)?], false)
        };
        Ok(Self(Arc::new(Inner {
            messages,
            batch,
            body,
        })))
    }

    /// The raw JSON of `message`'s `params` (one of [`messages`](Self::messages)), as it
    /// arrived.
    pub fn params(&self, message: &McpMessage) -> Option<&str> {
        let range = message.params.clone()?;
        std::str::from_utf8(self.0.body.get(range)?).ok()
    }

    /// The body as it arrived.
    pub fn body(&self) -> &Bytes {
        &self.0.body
    }

    /// The messages, in request order.
    pub fn messages(&self) -> &[McpMessage] {
        &self.0.messages
    }

    /// True when the body was a JSON-RPC batch (even of one message).
    pub fn is_batch(&self) -> bool {
        self.0.batch
    }
}

impl McpMessage {
    /// Parses one message; `base` is the address of the body `text` is part of.
    fn parse(text: &str, base: usize) -> Result<Self, AuthError> {
        let wire: WireMessage<'_> = serde_json::from_str(text).map_err(not_json)?;
        if wire.jsonrpc.as_deref() != Some("2.0") {
            return Err(malformed(
                "message is not JSON-RPC 2.0 (`\"jsonrpc\": \"2.0\"` missing)",
            ));
        }
        let id = match wire.id {
            Some(raw) => Some(parse_id(raw)?),
            None => None,
        };
        let Some(method) = wire.method else {
            if wire.result.is_some() || wire.error.is_some() {
                return Ok(Self {
                    kind: MessageKind::Response,
                    method: None,
                    id,
                    target: None,
                    protocol_version: Ok(None),
                    params: None,
                });
            }
            return Err(malformed(
                "JSON-RPC message has neither `method` nor `result`/`error`",
            ));
        };
        let target = target_of(&method, wire.params)?;
        let protocol_version = wire.params.map_or(Ok(None), protocol_version_of);
        let kind = if id.is_some() {
            MessageKind::Request
        } else {
            MessageKind::Notification
        };
        // `params` borrows from the body: its offset locates it there.
        let params = wire.params.map(|raw| {
            let start = raw.get().as_ptr() as usize - base;
            start..start + raw.get().len()
        });
        Ok(Self {
            kind,
            method: Some(method.into_owned()),
            id,
            target,
            protocol_version,
            params,
        })
    }

    /// Request, notification or response.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The JSON-RPC method (absent for responses).
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// The JSON-RPC id (a string or a number), absent for notifications.
    pub fn id(&self) -> Option<&serde_json::Value> {
        self.id.as_ref()
    }

    /// The tool, resource or prompt the message acts on.
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }

    /// The protocol version the message names in
    /// `params._meta["io.modelcontextprotocol/protocolVersion"]` (2026-07-28 and later send it
    /// on every request).
    pub fn protocol_version(&self) -> Option<&str> {
        self.protocol_version.as_ref().ok()?.as_deref()
    }

    /// True when `params._meta` is present but cannot be read the one way every reader would
    /// (not an object, a version that is not a string, `_meta` or the version given twice).
    pub fn meta_is_malformed(&self) -> bool {
        self.protocol_version.is_err()
    }
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
    #[serde(default)]
    result: Option<IgnoredAny>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct NameParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
struct UriParams<'a> {
    #[serde(borrow)]
    uri: Cow<'a, str>,
}

#[derive(Deserialize)]
struct CompleteParams<'a> {
    #[serde(borrow, rename = "ref")]
    reference: CompleteRef<'a>,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum CompleteRef<'a> {
    #[serde(rename = "ref/prompt")]
    Prompt {
        #[serde(borrow)]
        name: Cow<'a, str>,
    },
    #[serde(rename = "ref/resource")]
    Resource {
        #[serde(borrow)]
        uri: Cow<'a, str>,
    },
}

#[derive(Deserialize)]
struct MetaParams<'a> {
    #[serde(borrow, rename = "_meta", default)]
    meta: Option<Meta<'a>>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(borrow, rename = "io.modelcontextprotocol/protocolVersion", default)]
    protocol_version: Option<Cow<'a, str>>,
}

/// The version in `params._meta`, if the params say one. Params that are not an object (JSON-RPC
/// allows arrays) name none; an object whose `_meta` cannot be read unambiguously is `Err`, since
/// another parser might read a version there that this one did not.
fn protocol_version_of(params: &RawValue) -> Result<Option<String>, ()> {
    if !params.get().trim_start().starts_with('{') {
        return Ok(None);
    }
    let meta = serde_json::from_str::<MetaParams<'_>>(params.get()).map_err(|_| ())?;
    Ok(meta
        .meta
        .and_then(|m| m.protocol_version)
        .map(Cow::into_owned))
}

fn target_of(method: &str, params: Option<&RawValue>) -> Result<Option<Target>, AuthError> {
    let params = || {
        params
            .map(RawValue::get)
            .ok_or_else(|| malformed(format!("`{method}` needs `params`")))
    };
    let bad = |e: serde_json::Error| malformed(format!("`{method}` has invalid params: {e}"));
    Ok(Some(match method {
        "tools/call" => Target::Tool(
            serde_json::from_str::<NameParams<'_>>(params()?)
                .map_err(bad)?
                .name
                .into(),
        ),
        "prompts/get" => Target::Prompt(
            serde_json::from_str::<NameParams<'_>>(params()?)
                .map_err(bad)?
                .name
                .into(),
        ),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Target::Resource(
            serde_json::from_str::<UriParams<'_>>(params()?)
                .map_err(bad)?
                .uri
                .into(),
        ),
        "completion/complete" => {
            match serde_json::from_str::<CompleteParams<'_>>(params()?)
                .map_err(bad)?
                .reference
            {
                CompleteRef::Prompt { name } => Target::Prompt(name.into()),
                CompleteRef::Resource { uri } => Target::Resource(uri.into()),
            }
        }
        _ => return Ok(None),
    }))
}

fn parse_id(raw: &RawValue) -> Result<serde_json::Value, AuthError> {
    let value: serde_json::Value = serde_json::from_str(raw.get()).map_err(not_json)?;
    match value {
        serde_json::Value::String(_) | serde_json::Value::Number(_) => Ok(value),
        _ => Err(malformed("JSON-RPC `id` must be a string or a number")),
    }
}

/// Returns the limit when brackets nest deeper than `max` outside strings. A single pass over the
/// bytes, so hostile nesting is refused before any parser recurses into it.
fn nesting_exceeds(body: &[u8], max: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(max);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn malformed(description: impl Into<Cow<'static, str>>) -> AuthError {
    AuthError::bad_request("malformed_jsonrpc", description)
}

fn not_json(e: serde_json::Error) -> AuthError {
    malformed(format!("request body is not valid JSON-RPC: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<McpRequest, AuthError> {
        McpRequest::parse(body.as_bytes(), &InspectLimits::default().max_batch(10))
    }

    fn err(body: &str) -> String {
        let e = parse(body).unwrap_err();
        assert_eq!(e.status(), 400, "{e:?}");
        e.description().to_string()
    }

    #[test]
    fn params_are_read_back_from_the_body_as_they_arrived() {
        let single = parse(r#" {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"amount": 5}}}"#).unwrap();
        let m = &single.messages()[0];
        assert_eq!(
            single.params(m),
            Some(r#"{"name":"t","arguments":{"amount": 5}}"#)
        );
        let batch = parse(
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},
                {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"u","arguments":[1]}},
                {"jsonrpc":"2.0","id":3,"result":{}}]"#,
        )
        .unwrap();
        let params: Vec<_> = batch.messages().iter().map(|m| batch.params(m)).collect();
        assert_eq!(
            params,
            [None, Some(r#"{"name":"u","arguments":[1]}"#), None]
        );
    }

    #[test]
    fn single_request_notification_and_response() {
        let r = parse(r#"{"jsonrpc":"2.0","id":"a","method":"tools/list"}"#).unwrap();
        assert!(!r.is_batch());
        let m = &r.messages()[0];
        assert_eq!(m.kind(), MessageKind::Request);
        assert_eq!(m.id(), Some(&serde_json::json!("a")));
        assert_eq!(m.target(), None);

        let r = parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert_eq!(r.messages()[0].kind(), MessageKind::Notification);

        let r = parse(r#"{"jsonrpc":"2.0","id":3,"result":{"roots":[]}}"#).unwrap();
        assert_eq!(r.messages()[0].kind(), MessageKind::Response);
        assert_eq!(r.messages()[0].method(), None);
        let r = parse(r#"{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"no"}}"#).unwrap();
        assert_eq!(r.messages()[0].kind(), MessageKind::Response);
    }

    #[test]
    fn targets_of_known_methods() {
        let cases = [
            (
                r#"{"method":"tools/call","params":{"name":"t","arguments":{"x":[1,{"y":2}]}}}"#,
                Target::Tool("t".into()),
            ),
            (
                r#"{"method":"prompts/get","params":{"name":"p"}}"#,
                Target::Prompt("p".into()),
            ),
            (
                r#"{"method":"resources/read","params":{"uri":"file:///a b"}}"#,
                Target::Resource("file:///a b".into()),
            ),
            (
                r#"{"method":"resources/subscribe","params":{"uri":"u"}}"#,
                Target::Resource("u".into()),
            ),
            (
                r#"{"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{}}}"#,
                Target::Prompt("p".into()),
            ),
            (
                r#"{"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"u"}}}"#,
                Target::Resource("u".into()),
            ),
            (
                r#"{"method":"tools/call","params":{"name":"esc\u0061ped"}}"#,
                Target::Tool("escaped".into()),
            ),
        ];
        for (body, target) in cases {
            let body = body.replacen('{', r#"{"jsonrpc":"2.0","id":1,"#, 1);
            let r = parse(&body).unwrap();
            assert_eq!(r.messages()[0].target(), Some(&target), "{body}");
        }
    }

    #[test]
    fn batches() {
        let r = parse(
            r#" [{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},
                {"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}]"#,
        )
        .unwrap();
        assert!(r.is_batch());
        assert_eq!(r.messages().len(), 2);
        assert_eq!(r.messages()[0].target(), Some(&Target::Tool("a".into())));
        assert!(err("[]").contains("must not be empty"));
        let big = format!("[{}]", [r#"{"jsonrpc":"2.0","method":"x"}"#; 11].join(","));
        let e = parse(&big).unwrap_err();
        assert_eq!(e.reason(), "batch_too_large");
        assert!(
            e.description()
                .contains("11 messages exceeds the limit of 10")
        );
        assert!(
            err(r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call"}]"#)
                .starts_with("batch message 0:")
        );
    }

    #[test]
    fn malformed_bodies_are_precise_400s() {
        assert!(err("").contains("not valid JSON-RPC"));
        assert!(err("not json").contains("not valid JSON-RPC"));
        assert!(err("{").contains("not valid JSON-RPC"));
        assert!(err("42").contains("not valid JSON-RPC"));
        assert!(err(r#"{"id":1,"method":"x"}"#).contains("JSON-RPC 2.0"));
        assert!(err(r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#).contains("JSON-RPC 2.0"));
        assert!(err(r#"{"jsonrpc":"2.0","id":1}"#).contains("neither `method`"));
        assert!(err(r#"{"jsonrpc":"2.0","id":1,"method":5}"#).contains("not valid JSON-RPC"));
        assert!(err(r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#).contains("`id` must be"));
        assert!(
            err(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#).contains("needs `params`")
        );
        assert!(
            err(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#)
                .contains("invalid params")
        );
        assert!(
            err(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1]}"#)
                .contains("invalid params")
        );
        assert!(
            err(r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{}}"#)
                .contains("missing field `uri`")
        );
        assert!(
            err(r#"{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}"#)
                .contains("duplicate field")
        );
        assert!(McpRequest::parse(b"\xff\xfe", &InspectLimits::default()).is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"t","arguments":{}{}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.reason(), "nesting_too_deep");
        assert!(e.description().contains("deeper than 64 levels"));
        // brackets inside strings do not count
        let strings = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"t","arguments":{{"s":"{}\"{}"}}}}}}"#,
            "[".repeat(1000),
            "{".repeat(1000)
        );
        assert!(parse(&strings).is_ok());
        let limited = InspectLimits::default().max_depth(3);
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":{"b":1}}}"#;
        assert!(McpRequest::parse(body, &limited).is_ok());
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":{"b":[1]}}}"#;
        assert!(McpRequest::parse(body, &limited).is_err());
    }

    #[test]
    fn unknown_methods_may_have_any_params() {
        let r =
            parse(r#"{"jsonrpc":"2.0","id":1,"method":"custom/thing","params":[1,2]}"#).unwrap();
        assert_eq!(r.messages()[0].method(), Some("custom/thing"));
    }
}
