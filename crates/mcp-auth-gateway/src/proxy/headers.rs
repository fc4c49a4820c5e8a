//! Which headers cross the gateway, in each direction.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Hop-by-hop headers (RFC 9110 §7.6.1, and the older ones proxies still see): they describe
/// one connection and never cross a proxy.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
];

/// Request headers that carry the client's credentials: the server behind the gateway must
/// never see them (token passthrough is forbidden).
const CREDENTIALS: [HeaderName; 3] = [
    header::AUTHORIZATION,
    HeaderName::from_static("dpop"),
    header::PROXY_AUTHORIZATION,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Headers about the original request that only the gateway may set, unless the operator trusts
/// the proxy in front of it.
const FORWARDING: [HeaderName; 5] = [
    header::FORWARDED,
    X_FORWARDED_FOR,
    X_FORWARDED_HOST,
    X_FORWARDED_PROTO,
    HeaderName::from_static("x-real-ip"),
];

/// How the gateway describes the original request to the server.
#[derive(Clone, Debug)]
pub(crate) struct Forwarding {
    /// Keep and extend the forwarding headers a client sent.
    pub(crate) trust: bool,
    /// The scheme clients use (the resource identifier's).
    pub(crate) proto: HeaderValue,
}

/// The names a `Connection` header lists: hop-by-hop for this message too.
fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect()
}

/// The headers of the request sent upstream: everything the client sent but hop-by-hop
/// headers and credentials; `Host` naming the server; forwarding headers describing the
/// client; and no compression, so that the layers that read answers (filtered listings) see
/// them as they are. One pass over the client's headers, moved, not copied.
pub(crate) fn upstream_request(
    headers: HeaderMap,
    upstream_host: &HeaderValue,
    peer: Option<SocketAddr>,
    forwarding: &Forwarding,
) -> HeaderMap {
    let named = if headers.contains_key(header::CONNECTION) {
        connection_named(&headers)
    } else {
        Vec::new()
    };
    let mut out = HeaderMap::with_capacity(headers.len() + 4);
    let (mut original_host, mut previous_for, mut previous_host, mut previous_proto) =
        (None, None, None, None);
    let mut current: Option<HeaderName> = None;
    for (name, value) in headers {
        // `into_iter` names a header once, then yields its further values with `None`.
        if let Some(name) = name {
            current = Some(name);
        }
        let Some(name) = &current else { continue };
        if HOP_BY_HOP.contains(name) || CREDENTIALS.contains(name) || named.contains(name) {
            continue;
        }
        if name == header::HOST {
            original_host = Some(value);
        } else if name == header::ACCEPT_ENCODING {
            // Replaced below.
        } else if FORWARDING.contains(name) {
            if forwarding.trust {
                if name == X_FORWARDED_FOR {
                    previous_for = Some(value);
                } else if name == X_FORWARDED_HOST {
                    previous_host = Some(value);
                } else if name == X_FORWARDED_PROTO {
                    previous_proto = Some(value);
                } else {
                    out.append(name.clone(), value);
                }
            }
        } else {
            out.append(name.clone(), value);
        }
    }
    out.insert(header::HOST, upstream_host.clone());
    if let Some(peer) = peer {
        let ip = peer.ip().to_string();
        let value = match previous_for {
            Some(previous) => format!("{}, {ip}", previous.to_str().unwrap_or_default()),
            None => ip,
        };
        if let Ok(value) = HeaderValue::try_from(value) {
            out.insert(X_FORWARDED_FOR, value);
        }
    }
    if let Some(host) = previous_host.or(original_host) {
        out.insert(X_FORWARDED_HOST, host);
    }
    out.insert(
        X_FORWARDED_PROTO,
        previous_proto.unwrap_or_else(|| forwarding.proto.clone()),
    );
    out.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    out
}

/// The headers of the response sent to the client: the server's, but hop-by-hop headers and
/// any challenge of its own (clients authenticate to the gateway; a challenge from behind it
/// would send them to the wrong place). Most answers have none of them: one look, no change.
pub(crate) fn client_response(headers: &mut HeaderMap) {
    let unwanted =
        |name: &HeaderName| HOP_BY_HOP.contains(name) || name == header::WWW_AUTHENTICATE;
    if !headers.keys().any(unwanted) {
        return;
    }
    for name in connection_named(headers) {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::WWW_AUTHENTICATE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::try_from(*k).unwrap(),
                    HeaderValue::try_from(*v).unwrap(),
                )
            })
            .collect()
    }

    fn forward(pairs: &[(&str, &str)], trust: bool) -> HeaderMap {
        upstream_request(
            request_headers(pairs),
            &HeaderValue::from_static("127.0.0.1:3000"),
            Some("192.0.2.7:5555".parse().unwrap()),
            &Forwarding {
                trust,
                proto: HeaderValue::from_static("https"),
            },
        )
    }

    #[test]
    fn credentials_and_hop_by_hop_headers_stay_behind() {
        let sent = forward(
            &[
                ("authorization", "Bearer secret-token"),
                ("dpop", "proof"),
                ("connection", "keep-alive, x-private"),
                ("x-private", "1"),
                ("te", "trailers"),
                ("transfer-encoding", "chunked"),
                ("host", "gw.example.com"),
                ("mcp-session-id", "s-1"),
                ("mcp-protocol-version", "2025-11-25"),
                ("accept", "application/json, text/event-stream"),
                ("accept-encoding", "gzip"),
            ],
            false,
        );
        for gone in [
            "authorization",
            "dpop",
            "connection",
            "x-private",
            "te",
            "transfer-encoding",
        ] {
            assert!(!sent.contains_key(gone), "{gone} crossed: {sent:?}");
        }
        assert_eq!(sent["host"], "127.0.0.1:3000");
        assert_eq!(sent["mcp-session-id"], "s-1");
        assert_eq!(sent["mcp-protocol-version"], "2025-11-25");
        assert_eq!(sent["accept"], "application/json, text/event-stream");
        assert_eq!(sent["accept-encoding"], "identity");
        assert_eq!(sent["x-forwarded-for"], "192.0.2.7");
        assert_eq!(sent["x-forwarded-host"], "gw.example.com");
        assert_eq!(sent["x-forwarded-proto"], "https");
    }

    #[test]
    fn repeated_headers_cross_with_every_value() {
        let mut headers = request_headers(&[("x-trace", "a"), ("cookie", "a=1")]);
        headers.append("x-trace", HeaderValue::from_static("b"));
        headers.append("cookie", HeaderValue::from_static("b=2"));
        let sent = upstream_request(
            headers,
            &HeaderValue::from_static("127.0.0.1:3000"),
            None,
            &Forwarding {
                trust: false,
                proto: HeaderValue::from_static("http"),
            },
        );
        let values = |name: &str| -> Vec<&str> {
            sent.get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect()
        };
        assert_eq!(values("x-trace"), ["a", "b"]);
        assert_eq!(values("cookie"), ["a=1", "b=2"]);
        assert!(!sent.contains_key("x-forwarded-for"), "no peer, no claim");
    }

    #[test]
    fn a_clients_forwarding_headers_count_only_when_trusted() {
        let claimed = [
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "http"),
            ("x-real-ip", "10.0.0.1"),
            ("host", "gw.example.com"),
        ];
        let sent = forward(&claimed, false);
        assert_eq!(sent["x-forwarded-for"], "192.0.2.7");
        assert_eq!(sent["x-forwarded-proto"], "https");
        assert!(!sent.contains_key("x-real-ip"));
        let sent = forward(&claimed, true);
        assert_eq!(sent["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(sent["x-forwarded-proto"], "http");
    }

    #[test]
    fn the_servers_challenges_do_not_reach_the_client() {
        let mut headers = request_headers(&[
            ("www-authenticate", "Bearer realm=\"upstream\""),
            ("transfer-encoding", "chunked"),
            ("content-type", "text/event-stream"),
            ("mcp-session-id", "s-1"),
        ]);
        client_response(&mut headers);
        assert!(!headers.contains_key("www-authenticate"));
        assert!(!headers.contains_key("transfer-encoding"));
        assert_eq!(headers["content-type"], "text/event-stream");
        assert_eq!(headers["mcp-session-id"], "s-1");
    }
}
