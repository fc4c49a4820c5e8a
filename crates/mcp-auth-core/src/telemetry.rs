//! OpenTelemetry: where the layers' metrics and spans go, and the trace context of the request
//! that caused them.
//!
//! The layers speak only the OpenTelemetry API (the `opentelemetry` crate). The application
//! chooses the SDK and the exporter and installs them as the global providers *before* it builds
//! the layers (the facade's `otlp` feature has one way to do it); instruments are created when a
//! layer is built, so without a provider installed by then every instrument is a no-op, and the
//! hot path costs a virtual call per measurement.
//!
//! Names and units follow the OpenTelemetry conventions (dotted names, seconds); every
//! attribute value comes from a small fixed set or from configuration, never from a request.
//!
//! ```
//! use mcp_auth_core::telemetry::TraceParent;
//!
//! let mut headers = http::HeaderMap::new();
//! headers.insert(
//!     "traceparent",
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
//! );
//! let parent = TraceParent::from_headers(&headers).unwrap();
//! assert_eq!(parent.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! ```

use http::{HeaderMap, HeaderName};
use opentelemetry::global::{self, BoxedSpan, BoxedTracer};
use opentelemetry::metrics::{Counter, Meter};
use opentelemetry::trace::{
    SpanBuilder, SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

pub use opentelemetry::trace::{FutureExt, Span};

/// The instrumentation scope of every instrument and span mcp-auth creates.
pub const SCOPE: &str = "mcp-auth";

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// The meter of the global provider installed now. Layers call it when they are built.
pub fn meter() -> Meter {
    global::meter_with_scope(scope())
}

/// The tracer of the global provider installed now.
pub fn tracer() -> BoxedTracer {
    global::tracer_with_scope(scope())
}

/// Starts a span for a slow path (a key fetch, a document fetch, an exchange) as a child of the
/// current context: wrap the request's future in [`request_context`] with
/// [`FutureExt::with_context`] so that it is the incoming request's trace.
pub fn start_span(name: &'static str, attributes: Vec<KeyValue>) -> BoxedSpan {
    let tracer = tracer();
    tracer.build(SpanBuilder::from_name(name).with_attributes(attributes))
}

/// Ends a slow path's span with its outcome: an error's description becomes the span's status.
pub fn end_span<T, E: std::fmt::Display>(mut span: BoxedSpan, result: &Result<T, E>) {
    if let Err(e) = result {
        span.set_status(Status::error(e.to_string()));
    }
    span.end();
}

/// The trace context of a request: its `traceparent`'s span as a remote parent, or the current
/// context when it has none (or a malformed one).
pub fn request_context(headers: &HeaderMap) -> Context {
    match TraceParent::from_headers(headers) {
        Some(parent) => parent.context(),
        None => Context::current(),
    }
}

/// A counter of cache lookups (`mcp_auth.cache.lookups`, by `cache` and `result`), whose
/// ratio of hits is what operators watch.
pub fn cache_lookups(meter: &Meter) -> Counter<u64> {
    meter
        .u64_counter("mcp_auth.cache.lookups")
        .with_description("Cache lookups by cache and result (hit, miss)")
        .build()
}

/// The `cache` and `result` attributes of one lookup.
pub fn lookup(cache: &'static str, hit: bool) -> [KeyValue; 2] {
    [
        KeyValue::new("cache", cache),
        KeyValue::new("result", if hit { "hit" } else { "miss" }),
    ]
}

/// The W3C trace context a request came with (`traceparent`: version, a non-zero trace id of 32
/// lowercase hex digits, a non-zero parent span id of 16, flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
}

impl TraceParent {
    /// The request's `traceparent`, when well formed.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        Self::parse(headers.get(&TRACEPARENT)?.to_str().ok()?)
    }

    /// Parses a `traceparent` value.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
        if !hex(version, 2)
            || version == "ff"
            || !hex(trace, 32)
            || !nonzero(trace)
            || !hex(span, 16)
            || !nonzero(span)
            || !hex(flags, 2)
            || (version == "00" && parts.next().is_some())
        {
            return None;
        }
        Some(Self {
            trace_id: TraceId::from_hex(trace).ok()?,
            span_id: SpanId::from_hex(span).ok()?,
            flags: TraceFlags::new(u8::from_str_radix(flags, 16).ok()?),
        })
    }

    /// The trace the request belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The caller's span: the parent of the spans this request causes.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The current context with this span as its remote parent.
    pub fn context(&self) -> Context {
        Context::current().with_remote_span_context(SpanContext::new(
            self.trace_id,
            self.span_id,
            self.flags,
            true,
            TraceState::NONE,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_trace_parents_are_read() {
        let good =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(
            good.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(good.span_id().to_string(), "00f067aa0ba902b7");
        let span = good.context().span().span_context().clone();
        assert!(span.is_remote() && span.is_sampled());
        assert_eq!(span.trace_id(), good.trace_id());
        // A later version may add fields.
        assert!(
            TraceParent::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-x")
                .is_some()
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            assert!(TraceParent::parse(bad).is_none(), "{bad}");
        }
        assert!(TraceParent::from_headers(&HeaderMap::new()).is_none());
    }
}
