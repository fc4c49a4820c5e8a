//! The resolver against a real document server on 127.0.0.1: fetch rules, SSRF refusals,
//! validation, cache lifetime and single flight.

mod support;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use mcp_auth_cimd::{
    ClientResolver, DocumentError, MAX_DOCUMENT_BYTES, ResolveError, UrlRuleError,
};
use mcp_auth_fetch::{AddressClass, FetchError, FetchPolicy, classify};
use serde_json::json;
use support::{DocServer, Gate, Reply, TestCa, document};

const PATH: &str = "/client.json";

fn strict() -> ClientResolver {
    ClientResolver::builder().build().unwrap()
}

fn dev() -> ClientResolver {
    dev_builder().build().unwrap()
}

fn dev_builder() -> mcp_auth_cimd::ClientResolverBuilder {
    ClientResolver::builder().fetch_policy(
        FetchPolicy::default()
            .allow_loopback(true)
            .timeout(Duration::from_millis(500)),
    )
}

/// A server answering `PATH` with a valid document for its own URL.
async fn serving_valid_document() -> (DocServer, String) {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    server.set(
        PATH,
        Reply::json(&document(&id, "https://client.example/callback")),
    );
    (server, id)
}

fn assert_refused_address(result: Result<mcp_auth_cimd::ClientInfo, ResolveError>, what: &str) {
    let err = result.expect_err(what);
    assert!(
        matches!(
            err,
            ResolveError::Refused(FetchError::ForbiddenAddress { .. })
        ),
        "{what}: {err:?}"
    );
    let denial = err.to_auth_error();
    assert_eq!(denial.status(), 403, "{what}");
    assert_eq!(
        denial.description(),
        "the client id URL points to an address this server does not fetch from"
    );
}

#[tokio::test]
async fn internal_addresses_are_refused_in_every_spelling() {
    let strict = strict();
    for host in [
        "10.0.0.1",
        "10.255.255.254",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.0.1",
        "192.168.255.254",
        "127.0.0.1",
        "127.8.9.10",
        "0.0.0.0",
        "169.254.169.254",
        "[::1]",
        "[fc00::1]",
        "[fdff:ffff::1]",
        "[fe80::1]",
        "[febf::1]",
        "[::ffff:10.0.0.1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[::ffff:a9fe:a9fe]",
        "2130706433",          // 127.0.0.1, decimal
        "167772161",           // 10.0.0.1, decimal
        "3232235521",          // 192.168.0.1, decimal
        "2852039166",          // 169.254.169.254, decimal
        "0177.0.0.1",          // 127.0.0.1, octal
        "012.0.0.1",           // 10.0.0.1, octal
        "0251.0376.0251.0376", // 169.254.169.254, octal
        "0300.0250.0.1",       // 192.168.0.1, octal
        "0x7f.0.0.1",          // 127.0.0.1, hex
        "0xa9fea9fe",          // 169.254.169.254, hex
        "127.1",               // short form
        "localhost",
        "LOCALHOST",
        "localhost.",
        "api.localhost",
    ] {
        let id = format!("https://{host}/client.json");
        assert_refused_address(strict.resolve(&id).await, &id);
    }

    // The development switch opens loopback only: private, link-local and metadata addresses
    // stay closed.
    let dev = dev();
    for host in [
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "[fc00::1]",
        "[fe80::1]",
        "[::ffff:169.254.169.254]",
        "2852039166",
    ] {
        let id = format!("https://{host}/client.json");
        assert_refused_address(dev.resolve(&id).await, &id);
    }
}

#[tokio::test]
async fn loopback_documents_need_the_development_switch() {
    let (server, id) = serving_valid_document().await;
    let err = strict().resolve(&id).await.unwrap_err();
    assert_eq!(
        err,
        ResolveError::InvalidClientId(UrlRuleError::Scheme),
        "http is refused"
    );
    let https_id = id.replace("http://", "https://");
    assert_refused_address(strict().resolve(&https_id).await, &https_id);
    assert_eq!(server.requests(), 0, "nothing was fetched");

    let info = dev().resolve(&id).await.unwrap();
    assert_eq!(info.id(), id);
    assert_eq!(info.name(), "Test Client");
    assert_eq!(server.requests(), 1);
}

/// The machine's own host name, when it resolves only to non-public addresses (it resolves to
/// 127.0.x.1 on common Linux set-ups and to a private address in containers).
async fn host_name_resolving_privately() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_owned();
    if name.is_empty() || name.eq_ignore_ascii_case("localhost") {
        return None;
    }
    let addrs: Vec<IpAddr> = tokio::net::lookup_host((name.as_str(), 0))
        .await
        .ok()?
        .map(|a| a.ip())
        .collect();
    (!addrs.is_empty() && addrs.iter().all(|ip| classify(*ip) != AddressClass::Public))
        .then_some(name)
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_is_refused_without_connecting() {
    let ca = TestCa::new();
    let server = DocServer::https(&ca).await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let resolver = ClientResolver::builder()
        .fetch_policy(FetchPolicy::default().root_certificate_pem(ca.ca_pem()))
        .build()
        .unwrap();

    let name = host_name_resolving_privately().await.unwrap_or_else(|| {
        panic!("this test needs a host name that resolves to a non-public address (/proc/sys/kernel/hostname)")
    });
    let id = format!("https://{name}:{port}/client.json");
    server.set(
        "/client.json",
        Reply::json(&document(&id, "https://client.example/cb")),
    );
    let err = resolver.resolve(&id).await.unwrap_err();
    assert!(
        matches!(
            err,
            ResolveError::Refused(FetchError::ForbiddenAddress { .. })
        ),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(err.to_auth_error().status(), 403);
    assert!(!err.to_auth_error().description().contains(&name));
    assert_eq!(
        server.requests(),
        0,
        "the guarded resolver refused before connecting"
    );
}

#[tokio::test]
async fn a_redirect_is_refused_and_never_followed() {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    server.set(
        PATH,
        Reply::raw("text/plain", vec![])
            .status(302)
            .header("location", &server.url("/elsewhere.json")),
    );
    server.set(
        "/elsewhere.json",
        Reply::json(&document(&id, "https://client.example/cb")),
    );
    let err = dev().resolve(&id).await.unwrap_err();
    assert!(
        matches!(
            err,
            ResolveError::Refused(FetchError::Redirect { status: 302, .. })
        ),
        "{err:?}"
    );
    assert_eq!(err.to_auth_error().status(), 403);
    assert_eq!(server.requests_to("/elsewhere.json"), 0);

    // To a cloud metadata address: refused the same way, the target never contacted.
    let meta = server.url("/meta.json");
    server.set(
        "/meta.json",
        Reply::raw("text/plain", vec![])
            .status(307)
            .header("location", "http://169.254.169.254/latest/meta-data/"),
    );
    let err = dev().resolve(&meta).await.unwrap_err();
    assert!(
        matches!(
            err,
            ResolveError::Refused(FetchError::Redirect { status: 307, .. })
        ),
        "{err:?}"
    );
}

/// A valid document padded to exactly `len` bytes.
fn padded_document(id: &str, len: usize) -> Vec<u8> {
    let mut doc = document(id, "https://client.example/cb");
    doc["x_padding"] = json!("");
    let base = doc.to_string().len();
    doc["x_padding"] = json!("p".repeat(len - base));
    let bytes = doc.to_string().into_bytes();
    assert_eq!(bytes.len(), len);
    bytes
}

#[tokio::test]
async fn documents_over_five_kilobytes_are_refused() {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    server.set(
        PATH,
        Reply::raw("application/json", padded_document(&id, MAX_DOCUMENT_BYTES)),
    );
    dev().resolve(&id).await.expect("exactly the limit is fine");

    server.set(
        PATH,
        Reply::raw(
            "application/json",
            padded_document(&id, MAX_DOCUMENT_BYTES + 1),
        ),
    );
    let err = dev().resolve(&id).await.unwrap_err();
    assert!(
        matches!(
            err,
            ResolveError::BadResponse(FetchError::TooLarge {
                limit: MAX_DOCUMENT_BYTES,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(err.to_auth_error().status(), 403);
    assert_eq!(
        err.to_auth_error().description(),
        "the client metadata document is larger than 5120 bytes"
    );
}

#[tokio::test]
async fn a_slow_document_times_out_as_unavailable() {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    server.set(
        PATH,
        Reply::json(&document(&id, "https://client.example/cb")).hang(),
    );
    let resolver = ClientResolver::builder()
        .fetch_policy(
            FetchPolicy::default()
                .allow_loopback(true)
                .timeout(Duration::from_millis(300)),
        )
        .build()
        .unwrap();
    let start = Instant::now();
    let err = resolver.resolve(&id).await.unwrap_err();
    assert!(
        matches!(err, ResolveError::Unavailable(FetchError::Timeout(_))),
        "{err:?}"
    );
    assert!(err.is_transient());
    let denial = err.to_auth_error();
    assert_eq!(denial.status(), 503);
    assert!(denial.retry_after().is_some());
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn non_json_answers_are_refused() {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    type Expected = fn(&ResolveError) -> bool;
    let cases: Vec<(Reply, Expected)> = vec![
        (Reply::raw("text/html", b"<html>hi</html>".to_vec()), |e| {
            matches!(e, ResolveError::BadResponse(FetchError::ContentType { .. }))
        }),
        (Reply::raw("application/json", b"{not json".to_vec()), |e| {
            matches!(e, ResolveError::BadResponse(FetchError::Json { .. }))
        }),
        (Reply::raw("application/json", b"[1,2]".to_vec()), |e| {
            matches!(e, ResolveError::InvalidDocument(DocumentError::NotAnObject))
        }),
        (Reply::raw("text/plain", vec![]).status(404), |e| {
            matches!(
                e,
                ResolveError::BadResponse(FetchError::Status { status: 404, .. })
            )
        }),
        (Reply::raw("text/plain", vec![]).status(500), |e| {
            matches!(
                e,
                ResolveError::Unavailable(FetchError::Status { status: 500, .. })
            )
        }),
    ];
    for (reply, expected) in cases {
        server.set(PATH, reply);
        let err = dev().resolve(&id).await.unwrap_err();
        assert!(expected(&err), "{err:?}");
        assert_eq!(
            err.to_auth_error().status(),
            if err.is_transient() { 503 } else { 403 }
        );
    }
}

#[tokio::test]
async fn mismatched_and_secret_bearing_documents_are_refused() {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    let with = |change: fn(&mut serde_json::Value)| {
        let mut doc = document(&id, "https://client.example/cb");
        change(&mut doc);
        Reply::json(&doc)
    };
    let cases: Vec<(Reply, DocumentError)> = vec![
        (
            with(|d| d["client_id"] = json!("https://impostor.example/client.json")),
            DocumentError::ClientIdMismatch,
        ),
        (
            with(|d| d["client_secret"] = json!("hunter2-hunter2")),
            DocumentError::ContainsSecret("client_secret"),
        ),
        (
            with(|d| d["client_secret_expires_at"] = json!(0)),
            DocumentError::ContainsSecret("client_secret_expires_at"),
        ),
        (
            with(|d| d["token_endpoint_auth_method"] = json!("client_secret_post")),
            DocumentError::SharedSecretMethod("client_secret_post"),
        ),
        (
            with(|d| d["token_endpoint_auth_method"] = json!("client_secret_basic")),
            DocumentError::SharedSecretMethod("client_secret_basic"),
        ),
        (
            with(|d| d["redirect_uris"] = json!([])),
            DocumentError::NoRedirectUris,
        ),
        (
            with(|d| {
                d.as_object_mut().unwrap().remove("client_name");
            }),
            DocumentError::Missing("client_name"),
        ),
    ];
    for (reply, expected) in cases {
        server.set(PATH, reply);
        let err = dev().resolve(&id).await.unwrap_err();
        assert_eq!(err, ResolveError::InvalidDocument(expected.clone()));
        let denial = err.to_auth_error();
        assert_eq!(denial.status(), 403);
        assert!(
            !denial.description().contains("hunter2"),
            "{}",
            denial.description()
        );
    }
    // The mismatched id is a different URL than the one fetched: it was refused, not fetched.
    assert_eq!(server.requests_to("/impostor.json"), 0);
}

#[tokio::test]
async fn failures_and_invalid_documents_are_never_cached() {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    let resolver = dev();
    server.set(PATH, Reply::json(&json!({"client_id": id})));
    resolver.resolve(&id).await.unwrap_err();
    resolver.resolve(&id).await.unwrap_err();
    assert_eq!(server.requests(), 2, "an invalid document is fetched again");
    server.set(PATH, Reply::raw("text/plain", vec![]).status(503));
    resolver.resolve(&id).await.unwrap_err();
    resolver.resolve(&id).await.unwrap_err();
    assert_eq!(server.requests(), 4, "an outage is not cached");
    assert_eq!(resolver.cached_len(), 0);

    server.set(
        PATH,
        Reply::json(&document(&id, "https://client.example/cb")),
    );
    resolver.resolve(&id).await.unwrap();
    resolver.resolve(&id).await.unwrap();
    assert_eq!(server.requests(), 5, "a valid document is cached");
    assert!(resolver.cached(&id).is_some());
}

/// A clock the test moves by hand.
#[derive(Clone)]
struct ManualClock {
    start: Instant,
    offset: Arc<Mutex<Duration>>,
}

impl ManualClock {
    fn new() -> ManualClock {
        ManualClock {
            start: Instant::now(),
            offset: Arc::default(),
        }
    }

    fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }

    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap()
    }
}

#[tokio::test]
async fn cache_lifetime_follows_cache_control_within_bounds() {
    let secs = Duration::from_secs;
    // (Cache-Control, how long the entry lives)
    let cases = [
        (Some("public, max-age=120"), secs(120)),
        (None, secs(300)),                    // the default
        (Some("max-age=999999"), secs(3600)), // clamped to the maximum
        (Some("max-age=5"), secs(60)),        // raised to the minimum
        (Some("no-store"), secs(60)),
        (Some("no-cache"), secs(60)),
    ];
    for (cache_control, lifetime) in cases {
        let server = DocServer::http().await;
        let id = server.url(PATH);
        let mut reply = Reply::json(&document(&id, "https://client.example/cb"));
        if let Some(cc) = cache_control {
            reply = reply.header("cache-control", cc);
        }
        server.set(PATH, reply);
        let clock = ManualClock::new();
        let resolver = dev_builder()
            .freshness(secs(60), secs(3600), secs(300))
            .clock({
                let clock = clock.clone();
                move || clock.now()
            })
            .build()
            .unwrap();

        resolver.resolve(&id).await.unwrap();
        clock.advance(lifetime - secs(1));
        resolver.resolve(&id).await.unwrap();
        assert_eq!(
            server.requests(),
            1,
            "{cache_control:?}: still fresh 1 s before {lifetime:?}"
        );
        assert!(resolver.cached(&id).is_some());
        clock.advance(secs(1));
        assert!(
            resolver.cached(&id).is_none(),
            "{cache_control:?}: stale at {lifetime:?}"
        );
        resolver.resolve(&id).await.unwrap();
        assert_eq!(
            server.requests(),
            2,
            "{cache_control:?}: fetched again after {lifetime:?}"
        );
    }
}

#[tokio::test]
async fn one_fetch_for_a_hundred_concurrent_lookups() {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    let gate = Gate::new();
    server.set(
        PATH,
        Reply::json(&document(&id, "https://client.example/cb")).held(&gate),
    );
    let resolver = dev();

    // join_all polls every lookup once before any completes: all 100 are waiting on the one
    // fetch when the server is released.
    let lookups = join_all((0..100).map(|_| resolver.resolve(&id)));
    let release = async {
        server.wait_for_requests(1).await;
        assert_eq!(resolver.in_flight(), 1);
        gate.open();
    };
    let (results, ()) = tokio::join!(lookups, release);
    assert_eq!(results.len(), 100);
    for result in &results {
        assert_eq!(result.as_ref().unwrap().id(), id);
    }
    assert_eq!(server.requests(), 1, "exactly one fetch");
    assert_eq!(resolver.in_flight(), 0);

    // From other tasks as well, once cached: still one.
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let (resolver, id) = (resolver.clone(), id.clone());
            tokio::spawn(async move { resolver.resolve(&id).await.map(|_| ()) })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn concurrent_lookups_share_a_failure_without_caching_it() {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    let gate = Gate::new();
    server.set(
        PATH,
        Reply::raw("text/plain", vec![]).status(503).held(&gate),
    );
    let resolver = dev();
    let lookups = join_all((0..100).map(|_| resolver.resolve(&id)));
    let release = async {
        server.wait_for_requests(1).await;
        gate.open();
    };
    let (results, ()) = tokio::join!(lookups, release);
    for result in results {
        assert!(
            matches!(result, Err(ResolveError::Unavailable(_))),
            "{result:?}"
        );
    }
    assert_eq!(server.requests(), 1, "one fetch, its failure shared");
    resolver.resolve(&id).await.unwrap_err();
    assert_eq!(server.requests(), 2, "the failure was not cached");
}

#[tokio::test]
async fn too_many_documents_in_flight_is_busy() {
    let server = DocServer::http().await;
    let gate = Gate::new();
    let (a, b) = (server.url("/a.json"), server.url("/b.json"));
    server.set(
        "/a.json",
        Reply::json(&document(&a, "https://client.example/cb")).held(&gate),
    );
    server.set(
        "/b.json",
        Reply::json(&document(&b, "https://client.example/cb")),
    );
    let resolver = dev_builder().max_in_flight(1).build().unwrap();
    let first = resolver.resolve(&a);
    let second = async {
        server.wait_for_requests(1).await;
        let busy = resolver.resolve(&b).await.unwrap_err();
        gate.open();
        busy
    };
    let (first, busy) = tokio::join!(first, second);
    first.unwrap();
    assert_eq!(busy, ResolveError::Busy);
    assert_eq!(busy.to_auth_error().status(), 503);
    resolver.resolve(&b).await.unwrap();
}

#[tokio::test]
async fn https_documents_under_a_test_certificate_authority() {
    let ca = TestCa::new();
    let server = DocServer::https(&ca).await;
    let id = server.url(PATH);
    server.set(
        PATH,
        Reply::json(&document(&id, "http://127.0.0.1:8976/callback")),
    );
    let resolver = ClientResolver::builder()
        .fetch_policy(
            FetchPolicy::default()
                .allow_loopback(true)
                .root_certificate_pem(ca.ca_pem()),
        )
        .build()
        .unwrap();
    let info = resolver.resolve(&id).await.unwrap();
    assert_eq!(info.host(), "127.0.0.1");
    assert_eq!(info.redirect_hosts(), ["127.0.0.1"]);

    // Without the CA, the certificate is not trusted.
    let err = dev().resolve(&id).await.unwrap_err();
    assert!(
        matches!(err, ResolveError::Unavailable(FetchError::Connect { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn uncached_resolution_leaves_the_cache_alone() {
    let (server, id) = serving_valid_document().await;
    let resolver = dev();
    resolver.resolve_uncached(&id).await.unwrap();
    resolver.resolve_uncached(&id).await.unwrap();
    assert_eq!(server.requests(), 2);
    assert_eq!(resolver.cached_len(), 0);
    resolver.resolve(&id).await.unwrap();
    resolver.invalidate(&id);
    resolver.resolve(&id).await.unwrap();
    assert_eq!(server.requests(), 4);
}

#[test]
fn invalid_configuration_is_refused() {
    use mcp_auth_cimd::ResolverConfigError;
    let s = Duration::from_secs;
    assert!(matches!(
        ClientResolver::builder().cache_capacity(0).build(),
        Err(ResolverConfigError::Capacity)
    ));
    assert!(matches!(
        ClientResolver::builder().max_in_flight(0).build(),
        Err(ResolverConfigError::MaxInFlight)
    ));
    assert!(matches!(
        ClientResolver::builder()
            .freshness(s(10), s(5), s(7))
            .build(),
        Err(ResolverConfigError::Freshness)
    ));
    let bad_ca = FetchPolicy::default()
        .root_certificate_pem("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n");
    assert!(matches!(
        ClientResolver::builder().fetch_policy(bad_ca).build(),
        Err(ResolverConfigError::Fetch(_))
    ));
}

#[tokio::test]
async fn the_document_cache_holds_no_more_than_its_capacity() {
    let server = DocServer::http().await;
    let resolver = dev_builder().cache_capacity(8).build().unwrap();
    for i in 0..40 {
        let path = format!("/clients/{i}.json");
        let id = server.url(&path);
        server.set(
            &path,
            Reply::json(&document(&id, "https://client.example/callback")),
        );
        resolver.resolve(&id).await.unwrap();
        assert!(
            resolver.cached_len() <= 8,
            "{} cached after {} clients",
            resolver.cached_len(),
            i + 1
        );
    }
    assert!(resolver.cached_len() > 0, "documents are cached at all");
    assert_eq!(server.requests(), 40);
}
