use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use reqwest::dns::Resolve as _;

/// A one-route HTTP/1.1 server on 127.0.0.1 answering every request with `response` (raw bytes),
/// or never answering when `response` is `None`. Returns its base URL and a request counter.
async fn serve(response: Option<Vec<u8>>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                match response {
                    Some(bytes) => {
                        let _ = socket.write_all(&bytes).await;
                        let _ = socket.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    (format!("http://{addr}"), count)
}

fn http_response(status: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

fn dev() -> Fetcher {
    Fetcher::new(
        FetchPolicy::default()
            .allow_loopback(true)
            .timeout(Duration::from_millis(500)),
    )
    .unwrap()
}

#[tokio::test]
async fn fetches_json_from_loopback_under_the_development_switch() {
    let body = r#"{"keys":[]}"#;
    let (base, count) = serve(Some(http_response(
        "200 OK",
        &[
            ("content-type", "application/json"),
            ("cache-control", "public, max-age=60"),
        ],
        body,
    )))
    .await;
    let (value, response): (serde_json::Value, _) =
        dev().get_json(&format!("{base}/jwks")).await.unwrap();
    assert_eq!(value, serde_json::json!({"keys": []}));
    let fresh = response.freshness(
        Duration::from_secs(10),
        Duration::from_secs(3600),
        Duration::from_secs(300),
    );
    assert_eq!(fresh, Duration::from_secs(60));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn loopback_is_refused_by_default_without_connecting() {
    let (base, count) = serve(Some(http_response("200 OK", &[], "{}"))).await;
    let strict = Fetcher::new(FetchPolicy::default()).unwrap();
    let err = strict.get(&format!("{base}/x")).await.unwrap_err();
    assert!(matches!(err, FetchError::Scheme { .. }), "{err}");
    let https = base.replace("http://", "https://");
    let err = strict.get(&format!("{https}/x")).await.unwrap_err();
    assert!(matches!(err, FetchError::ForbiddenAddress { .. }), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn odd_spellings_of_internal_addresses_are_refused() {
    let strict = Fetcher::new(FetchPolicy::default()).unwrap();
    for url in [
        "https://2130706433/", // 127.0.0.1 in decimal
        "https://0177.0.0.1/", // octal
        "https://0x7f.1/",     // hex, short form
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:a9fe:a9fe]/", // 169.254.169.254, IPv4-mapped
        "https://169.254.169.254/",
        "https://10.0.0.1/",
        "https://172.16.5.4/",
        "https://192.168.0.1/",
        "https://0.0.0.0/",
        "https://[fc00::1]/",
        "https://[fe80::1]/",
        "https://localhost/",
        "https://api.localhost/",
    ] {
        let err = strict.check_url(url).unwrap_err();
        assert!(
            matches!(err, FetchError::ForbiddenAddress { .. }),
            "{url}: {err}"
        );
    }
    for url in [
        "ftp://example.com/",
        "http://example.com/",
        "https://u:p@example.com/",
        "nope",
    ] {
        assert!(strict.check_url(url).is_err(), "{url}");
    }
    assert!(strict.check_url("https://example.com/jwks").is_ok());
}

#[tokio::test]
async fn private_networks_need_their_own_switch_and_metadata_never_opens() {
    let internal = Fetcher::new(FetchPolicy::default().allow_private_networks(true)).unwrap();
    assert!(internal.check_url("https://10.1.2.3/jwks").is_ok());
    assert!(internal.check_url("https://169.254.169.254/").is_err());
    assert!(internal.check_url("https://127.0.0.1/").is_err());
    let dev = Fetcher::new(FetchPolicy::default().allow_loopback(true)).unwrap();
    assert!(dev.check_url("https://10.1.2.3/").is_err());
    assert!(
        dev.check_url("http://example.com/").is_err(),
        "http only to loopback hosts"
    );
}

#[tokio::test]
async fn names_resolving_to_refused_addresses_are_dropped_by_the_resolver() {
    use std::str::FromStr;
    let resolver = resolver::GuardedResolver::new(&FetchPolicy::default());
    let err = match resolver
        .resolve(reqwest::dns::Name::from_str("localhost").unwrap())
        .await
    {
        Ok(_) => panic!("localhost resolved while loopback is refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("refused addresses"), "{err}");
    let dev = resolver::GuardedResolver::new(&FetchPolicy::default().allow_loopback(true));
    let addrs: Vec<_> = match dev
        .resolve(reqwest::dns::Name::from_str("localhost").unwrap())
        .await
    {
        Ok(a) => a.collect(),
        Err(e) => panic!("{e}"),
    };
    assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (target, target_count) = serve(Some(http_response("200 OK", &[], "{}"))).await;
    let (base, _) = serve(Some(http_response(
        "302 Found",
        &[("location", &format!("{target}/x"))],
        "",
    )))
    .await;
    let err = dev().get(&format!("{base}/a")).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Redirect { status: 302, .. }),
        "{err}"
    );
    assert_eq!(target_count.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let fetcher = Fetcher::new(
        FetchPolicy::default()
            .allow_loopback(true)
            .max_body_bytes(100),
    )
    .unwrap();
    let big = "x".repeat(1000);
    let (declared, _) = serve(Some(http_response("200 OK", &[], &big))).await;
    let err = fetcher.get(&declared).await.unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { limit: 100, .. }),
        "{err}"
    );

    // No Content-Length: the limit applies while streaming.
    let mut chunked =
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
    for _ in 0..20 {
        chunked.extend_from_slice(b"a\r\n0123456789\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (streamed, _) = serve(Some(chunked)).await;
    let err = fetcher.get(&streamed).await.unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn a_peer_that_never_answers_times_out() {
    let (base, _) = serve(None).await;
    let start = Instant::now();
    let err = dev().get(&base).await.unwrap_err();
    assert!(matches!(err, FetchError::Timeout(_)), "{err}");
    assert!(err.is_transient());
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn non_json_and_error_statuses() {
    let (html, _) = serve(Some(http_response(
        "200 OK",
        &[("content-type", "text/html")],
        "<html>",
    )))
    .await;
    let err = dev()
        .get_json::<serde_json::Value>(&html)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::ContentType { .. }), "{err}");
    let (bad, _) = serve(Some(http_response(
        "200 OK",
        &[("content-type", "application/json")],
        "{nope",
    )))
    .await;
    let err = dev().get_json::<serde_json::Value>(&bad).await.unwrap_err();
    assert!(matches!(err, FetchError::Json { .. }), "{err}");
    let (down, _) = serve(Some(http_response("503 Service Unavailable", &[], ""))).await;
    let err = dev()
        .get_json::<serde_json::Value>(&down)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 503, .. }) && err.is_transient(),
        "{err}"
    );
}

#[tokio::test]
async fn freshness_rules() {
    let response = |cc: Option<&str>| {
        let mut headers = http::HeaderMap::new();
        if let Some(cc) = cc {
            headers.insert("cache-control", cc.parse().unwrap());
        }
        FetchResponse::new(
            "u".into(),
            http::StatusCode::OK,
            headers,
            bytes::Bytes::new(),
        )
    };
    let (min, max, def) = (
        Duration::from_secs(60),
        Duration::from_secs(3600),
        Duration::from_secs(600),
    );
    assert_eq!(response(None).freshness(min, max, def), def);
    assert_eq!(response(Some("max-age=5")).freshness(min, max, def), min);
    assert_eq!(
        response(Some("max-age=999999")).freshness(min, max, def),
        max
    );
    assert_eq!(
        response(Some("public, max-age=120")).freshness(min, max, def),
        Duration::from_secs(120)
    );
    assert_eq!(response(Some("no-store")).freshness(min, max, def), min);
    assert_eq!(response(Some("no-cache")).freshness(min, max, def), min);
}

#[tokio::test]
async fn a_name_resolving_only_to_refused_addresses_is_a_refusal_not_an_outage() {
    // `localhost` itself is stopped by the URL check; a name the URL check cannot recognise
    // (the machine's host name, or an /etc/hosts alias) reaches the resolver, which refuses it.
    let strict = Fetcher::new(FetchPolicy::default().timeout(Duration::from_secs(2))).unwrap();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = [
        hostname.trim(),
        "ip6-localhost",
        "ip6-loopback",
        "localhost.localdomain",
    ]
    .into_iter()
    .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case("localhost"))
    .find(|n| {
        std::net::ToSocketAddrs::to_socket_addrs(&(*n, 443)).is_ok_and(|a| {
            a.map(|a| classify(a.ip()))
                .all(|c| c != AddressClass::Public)
        })
    });
    let Some(name) = name else {
        panic!(
            "no name on this machine resolves to a non-public address (hostname, /etc/hosts aliases)"
        )
    };
    let err = strict.get(&format!("https://{name}/x")).await.unwrap_err();
    assert!(matches!(err, FetchError::ForbiddenAddress { .. }), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn dns_rebinding_cannot_move_a_checked_connection_to_loopback() {
    use std::net::{IpAddr, Ipv4Addr};
    let (base, reached) = serve(Some(http_response(
        "200 OK",
        &[("content-type", "application/json")],
        "{}",
    )))
    .await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    // The attacker's name server: a public address when checked, loopback when asked again.
    let lookups = Arc::new(AtomicUsize::new(0));
    let counter = lookups.clone();
    let policy = FetchPolicy::default()
        .connect_timeout(Duration::from_millis(300))
        .timeout(Duration::from_secs(1))
        .resolve_with(move |_host| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                Ok(vec![if n == 0 {
                    IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34))
                } else {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                }])
            })
        });
    let fetcher = Fetcher::new(policy).unwrap();
    let url = format!("https://rebind.example:{port}/doc");
    let err = fetcher.get(&url).await.unwrap_err();
    // The connection went to the address that was checked (unreachable from here), and the
    // name was not asked again to connect somewhere else.
    assert!(
        matches!(err, FetchError::Connect { .. } | FetchError::Timeout(_)),
        "{err}"
    );
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        1,
        "one lookup per connection"
    );
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "loopback was never reached"
    );
    // The next fetch is answered with loopback: refused as such.
    let err = fetcher.get(&url).await.unwrap_err();
    assert!(matches!(err, FetchError::ForbiddenAddress { .. }), "{err}");
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}
