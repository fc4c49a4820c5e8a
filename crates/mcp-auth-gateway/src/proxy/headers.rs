//! Which headers cross the gateway, in each direction.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Hop-by-hop headers (RFC 9110 §7.6.1, and the older ones proxies still see): they describe
/// one connection and never cross a proxy.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
];

/// Request headers that carry the client's credentials: the server behind the gateway must
/// never see them (token passthrough is forbidden).
const CREDENTIALS: [&str; 3] = ["authorization", "dpop", "proxy-authorization"];

/// Headers about the original request that only the gateway may set, unless the operator trusts
/// the proxy in front of it.
const FORWARDING: [&str; 5] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];

/// How the gateway describes the original request to the server.
#[derive(Clone, Debug)]
pub(crate) struct Forwarding {
    /// Keep and extend the forwarding headers a client sent.
    pub(crate) trust: bool,
    /// The scheme clients use (the resource identifier's).
    pub(crate) proto: HeaderValue,
}

/// Removes the headers the `Connection` header names, and the hop-by-hop ones.
fn drop_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The headers of the request sent upstream: everything the client sent but hop-by-hop
/// headers and credentials; `Host` naming the server; forwarding headers describing the
/// client; and no compression, so that the layers that read answers (filtered listings) see
/// them as they are.
pub(crate) fn upstream_request(
    mut headers: HeaderMap,
    upstream_host: &HeaderValue,
    peer: Option<SocketAddr>,
    forwarding: &Forwarding,
) -> HeaderMap {
    drop_hop_by_hop(&mut headers);
    for name in CREDENTIALS {
        headers.remove(name);
    }
    let original_host = headers.remove(header::HOST);
    let previous_for = headers.get("x-forwarded-for").cloned();
    let previous_host = headers.get("x-forwarded-host").cloned();
    let previous_proto = headers.get("x-forwarded-proto").cloned();
    if !forwarding.trust {
        for name in FORWARDING {
            headers.remove(name);
        }
    }
    headers.insert(header::HOST, upstream_host.clone());
    if let Some(peer) = peer {
        let ip = peer.ip().to_string();
        let value = match previous_for.filter(|_| forwarding.trust) {
            Some(previous) => format!("{}, {ip}", previous.to_str().unwrap_or_default()),
            None => ip,
        };
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert("x-forwarded-for", value);
        }
    }
    let host = previous_host.filter(|_| forwarding.trust).or(original_host);
    if let Some(host) = host {
        headers.insert("x-forwarded-host", host);
    }
    let proto = previous_proto
        .filter(|_| forwarding.trust)
        .unwrap_or_else(|| forwarding.proto.clone());
    headers.insert("x-forwarded-proto", proto);
    headers.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    headers
}

/// The headers of the response sent to the client: the server's, but hop-by-hop headers and
/// any challenge of its own (clients authenticate to the gateway; a challenge from behind it
/// would send them to the wrong place).
pub(crate) fn client_response(headers: &mut HeaderMap) {
    drop_hop_by_hop(headers);
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
