//! Request ids: the caller's, or the trace id of its `traceparent`, or a new one.

use http::{HeaderMap, HeaderName};
use mcp_auth_core::telemetry::TraceParent;

// Names parsed once, not on every lookup.
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of a request, as recorded in its audit events; in the request extensions for
/// handlers that want to log it too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The caller's `X-Request-Id`, else the trace id of its `traceparent` (`trace`, read once
/// by the caller), else a new id: 32 hex digits from a per-process random prefix and a counter
/// (unique, no system call per request).
pub(crate) fn request_id(headers: &HeaderMap, trace: Option<&TraceParent>) -> String {
    if let Some(id) = header_text(headers, &X_REQUEST_ID, 128) {
        return id;
    }
    trace.map_or_else(new_request_id, |p| p.trace_id().to_string())
}

/// The W3C trace context of a request (its `traceparent`), for audit records exported to
/// tracing backends.
pub(crate) fn trace_context(parent: &TraceParent) -> crate::TraceInfo {
    crate::TraceInfo {
        trace_id: parent.trace_id().to_string(),
        span_id: parent.span_id().to_string(),
    }
}

fn new_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
    // Written digit by digit: `format!` costs more than the rest of the id's making together.
    let mut id = String::with_capacity(32);
    for value in [prefix, COUNTER.fetch_add(1, Ordering::Relaxed)] {
        for shift in (0..16).rev() {
            id.push(char::from(
                HEX_DIGITS[((value >> (shift * 4)) & 0xf) as usize],
            ));
        }
    }
    id
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// A header value usable in an event: visible ASCII, at most `max` bytes.
pub(crate) fn header_text(headers: &HeaderMap, name: &HeaderName, max: usize) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty() && value.len() <= max && value.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| value.to_owned())
}

#[cfg(test)]
mod trace_tests {
    use super::*;

    /// As the layer reads it: the header parsed once.
    fn traced(headers: &HeaderMap) -> Option<crate::TraceInfo> {
        TraceParent::from_headers(headers).map(|p| trace_context(&p))
    }

    #[test]
    fn trace_context_is_read_only_when_well_formed() {
        let headers = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert("traceparent", value.parse().unwrap());
            h
        };
        let good = traced(&headers(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .unwrap();
        assert_eq!(good.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(good.span_id, "00f067aa0ba902b7");
        // Which values are malformed is the core parser's to test; here, that one is not read.
        assert!(traced(&headers("garbage")).is_none());
        assert!(traced(&HeaderMap::new()).is_none());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the layer reads it: the header parsed once.
    fn id(headers: &HeaderMap) -> String {
        request_id(headers, TraceParent::from_headers(headers).as_ref())
    }

    #[test]
    fn request_ids() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", "abc-123".parse().unwrap());
        assert_eq!(id(&h), "abc-123");
        let mut h = HeaderMap::new();
        h.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert_eq!(id(&h), "4bf92f3577b34da6a3ce929d0e0e4736");
        let mut h = HeaderMap::new();
        h.insert("x-request-id", "has space".parse().unwrap());
        h.insert("traceparent", "garbage".parse().unwrap());
        let generated = id(&h);
        assert_eq!(generated.len(), 32, "generated");
        assert!(
            generated
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let next = id(&h);
        let counter = |id: &str| u64::from_str_radix(&id[16..], 16).unwrap();
        assert_eq!(
            counter(&next),
            counter(&generated) + 1,
            "{generated} then {next}"
        );
        assert_eq!(next[..16], generated[..16], "one prefix per process");
        assert_ne!(generated, id(&h), "unique");
        h.insert("x-request-id", "x".repeat(200).parse().unwrap());
        assert_eq!(id(&h).len(), 32);
    }
}
