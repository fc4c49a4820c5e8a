//! CimdLayer around a test service: admission, refusals, outages, the audit record, readiness.

mod support;

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth_cimd::{
    ChangedDocument, CimdLayer, ClientAllowList, ClientInfo, ClientPolicy, ClientResolver,
    ClientWarning, PreRegisteredClients, Registry,
};
use mcp_auth_core::record::RequestRecord;
use mcp_auth_core::{AuthBody, AuthError, BearerToken, Principal};
use mcp_auth_fetch::FetchPolicy;
use mcp_auth_testing::StrictReadiness;
use serde_json::{Value, json};
use support::{DocServer, Reply, document, temp_dir};
use tower::{Service, ServiceExt};

const PATH: &str = "/client.json";
const METADATA: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";

type Body = Full<Bytes>;

fn resolver() -> ClientResolver {
    ClientResolver::builder()
        .fetch_policy(
            FetchPolicy::default()
                .allow_loopback(true)
                .timeout(Duration::from_millis(400)),
        )
        .build()
        .unwrap()
}

fn layer(policy: ClientPolicy) -> CimdLayer {
    CimdLayer::new(resolver(), policy).rejector(mcp_auth_core::Rejector::new(METADATA))
}

/// Answers 200 with the admitted client's name (or `-`) in `x-client-name`.
async fn echo(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let name = req
        .extensions()
        .get::<ClientInfo>()
        .map_or("-".to_owned(), |c| c.name().to_owned());
    let warnings: Vec<&str> = req
        .extensions()
        .get::<ClientInfo>()
        .map(|c| c.warnings().iter().map(ClientWarning::code).collect())
        .unwrap_or_default();
    // What inner layers (a policy) are told about the admitted client.
    let approved = req
        .extensions()
        .get::<mcp_auth_core::record::ClientSummary>()
        .map_or("-", |c| if c.approved { "yes" } else { "no" });
    Ok(Response::builder()
        .header("x-client-name", name)
        .header("x-client-approved", approved)
        .header("x-client-warnings", warnings.join(","))
        .body(Full::new(Bytes::from_static(b"ok")))
        .unwrap())
}

fn request(client_id: Option<&str>) -> Request<Body> {
    let mut builder = Principal::builder(
        "https://auth.example.com",
        "alice",
        BearerToken::new("secret-token"),
    );
    if let Some(id) = client_id {
        builder = builder.client_id(id);
    }
    let mut request = Request::post("/mcp").body(Full::default()).unwrap();
    request.extensions_mut().insert(builder.build());
    request
}

async fn call(layer: &CimdLayer, request: Request<Body>) -> Response<AuthBody<Body>> {
    tower::ServiceBuilder::new()
        .layer(layer.clone())
        .service_fn(echo)
        .oneshot(request)
        .await
        .unwrap()
}

async fn json_body(response: Response<AuthBody<Body>>) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

async fn assert_denied(response: Response<AuthBody<Body>>, status: u16, reason: &str) -> String {
    assert_eq!(response.status(), status);
    assert!(response.headers().get("www-authenticate").is_none());
    let error = response
        .extensions()
        .get::<AuthError>()
        .expect("the AuthError rides along")
        .clone();
    assert_eq!(error.reason(), reason);
    let body = json_body(response).await;
    assert_eq!(
        body["error"],
        if status == 403 {
            "access_denied"
        } else {
            "temporarily_unavailable"
        }
    );
    body["error_description"].as_str().unwrap().to_owned()
}

async fn valid_server() -> (DocServer, String) {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    server.set(
        PATH,
        Reply::json(&document(&id, "https://client.example/callback")),
    );
    (server, id)
}

#[tokio::test]
async fn an_admitted_client_reaches_the_handler_and_the_audit_record() {
    let (server, id) = valid_server().await;
    let layer = layer(ClientPolicy::any_valid_document());
    let record = RequestRecord::default();
    let mut req = request(Some(&id));
    req.extensions_mut().insert(record.clone());
    let response = call(&layer, req).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-client-name"], "Test Client");
    assert_eq!(
        response.headers()["x-client-approved"],
        "no",
        "any valid document"
    );
    let client = record.snapshot().client.expect("client recorded");
    assert_eq!(client.client_id, id);
    assert_eq!(client.name.as_deref(), Some("Test Client"));
    assert!(client.metadata_document);

    // A cache hit: decided without fetching again.
    let response = call(&layer, request(Some(&id))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_client_outside_the_allow_list_is_refused_before_any_fetch() {
    let (server, id) = valid_server().await;
    let layer = layer(ClientPolicy::allow_list(
        ClientAllowList::new().host("app.example.com"),
    ));
    let record = RequestRecord::default();
    let mut req = request(Some(&id));
    req.extensions_mut().insert(record.clone());
    let description = assert_denied(call(&layer, req).await, 403, "client_not_allowed").await;
    assert_eq!(
        description,
        "this client is not allowed by the server's client policy"
    );
    assert_eq!(server.requests(), 0);
    assert_eq!(
        record.snapshot().client.unwrap().client_id,
        id,
        "the refused client is recorded"
    );

    // By exact URL, and by host.
    for list in [
        ClientAllowList::new().url(&id),
        ClientAllowList::new().host("127.0.0.1"),
    ] {
        let response = call(&layer_with(list), request(Some(&id))).await;
        assert_eq!(response.status(), 200);
    }
}

fn layer_with(list: ClientAllowList) -> CimdLayer {
    layer(ClientPolicy::allow_list(list))
}

#[tokio::test]
async fn subdomains_only_when_explicitly_allowed() {
    // Host matching on resolved ClientInfo, through the cache: resolve first, then judge.
    let (_server, id) = valid_server().await;
    let exact = layer_with(ClientAllowList::new().host("0.0.1"));
    let response = call(&exact, request(Some(&id))).await;
    assert_eq!(
        response.status(),
        403,
        "a suffix of the host is not the host"
    );
    let list = ClientAllowList::new().host("example.com");
    assert!(!list.allows("https://app.example.com/c.json", "app.example.com"));
    let list = list.host_and_subdomains("example.com");
    assert!(list.allows("https://app.example.com/c.json", "app.example.com"));
    assert!(!list.allows("https://badexample.com/c.json", "badexample.com"));
}

#[tokio::test]
async fn registry_approval_and_changed_documents() {
    let (server, id) = valid_server().await;
    let dir = temp_dir("layer-registry");
    let path = dir.join("mcp-clients.json");
    let registry = Registry::open_or_empty(&path)
        .unwrap()
        .reload_interval(Duration::ZERO);
    let policy = ClientPolicy::registry(registry.clone());
    let refusing = layer(policy.clone());
    let warning = layer(policy.changed_document(ChangedDocument::Warn));

    let description = assert_denied(
        call(&refusing, request(Some(&id))).await,
        403,
        "client_not_approved",
    )
    .await;
    assert_eq!(
        description,
        "this client has not been approved by the server's operator"
    );
    assert_eq!(
        server.requests(),
        0,
        "an unapproved client's document is not fetched"
    );

    // Approve what the document says now (as `mcp-auth clients approve` does).
    let current = resolver().resolve_uncached(&id).await.unwrap();
    registry.approve(&current).unwrap();
    let response = call(&refusing, request(Some(&id))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-client-approved"], "yes");
    // The document's redirect host (client.example) is unlike its own host (127.0.0.1).
    assert_eq!(
        response.headers()["x-client-warnings"],
        "redirect_host_mismatch"
    );

    // The document gains a redirect URI: refused until approved again.
    let mut changed = document(&id, "https://client.example/callback");
    changed["redirect_uris"] = json!([
        "https://client.example/callback",
        "https://attacker.example/cb"
    ]);
    server.set(PATH, Reply::json(&changed));
    refusing.resolver().expect("enabled").invalidate(&id);
    let description = assert_denied(
        call(&refusing, request(Some(&id))).await,
        403,
        "client_document_changed",
    )
    .await;
    assert!(
        description.contains("changed since the operator approved it"),
        "{description}"
    );

    // Under ChangedDocument::Warn it passes, flagged.
    let response = call(&warning, request(Some(&id))).await;
    assert_eq!(response.status(), 200);
    // client.example and attacker.example are both unlike 127.0.0.1.
    assert_eq!(
        response.headers()["x-client-warnings"],
        "redirect_host_mismatch,redirect_host_mismatch,changed_since_approval"
    );

    // Approved again: admitted without the change warning. Revoked: refused.
    registry
        .approve(&resolver().resolve_uncached(&id).await.unwrap())
        .unwrap();
    let response = call(&refusing, request(Some(&id))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-client-warnings"],
        "redirect_host_mismatch,redirect_host_mismatch"
    );
    registry.revoke(&id).unwrap();
    assert_denied(
        call(&refusing, request(Some(&id))).await,
        403,
        "client_not_approved",
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_document_is_503_never_a_silent_allow() {
    for (reply, reason) in [
        (
            Reply::raw("text/plain", vec![]).status(503),
            "client_document_unavailable",
        ),
        (Reply::json(&json!({})).hang(), "client_document_timeout"),
    ] {
        let server = DocServer::http().await;
        let id = server.url(PATH);
        server.set(PATH, reply);
        let response = call(
            &layer(ClientPolicy::any_valid_document()),
            request(Some(&id)),
        )
        .await;
        assert!(response.headers().contains_key("retry-after"));
        let description = assert_denied(response, 503, reason).await;
        assert_eq!(
            description,
            "the client metadata document could not be fetched; try again later"
        );
    }
    // Nothing listens there at all.
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let id = format!("http://{gone}/client.json");
    let response = call(
        &layer(ClientPolicy::any_valid_document()),
        request(Some(&id)),
    )
    .await;
    assert_eq!(response.status(), 503);
    // A gRPC caller hears it as UNAVAILABLE (14), with the same retry advice.
    let mut req = request(Some(&id));
    req.headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    let response = call(&layer(ClientPolicy::any_valid_document()), req).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "14");
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn invalid_documents_and_urls_get_precise_403s() {
    let server = DocServer::http().await;
    let id = server.url(PATH);
    let mut doc = document(&id, "https://client.example/cb");
    doc["client_secret"] = json!("do-not-print-me");
    server.set(PATH, Reply::json(&doc));
    let layer = layer(ClientPolicy::any_valid_document());
    let description = assert_denied(
        call(&layer, request(Some(&id))).await,
        403,
        "client_document_secret",
    )
    .await;
    assert_eq!(
        description,
        "invalid client metadata document: the document contains `client_secret`; a public document cannot hold a secret"
    );

    let description = assert_denied(
        call(&layer, request(Some("https://app.example.com/"))).await,
        403,
        "client_id_no_path",
    )
    .await;
    assert!(
        description.ends_with(
            "the URL has no path (the document must live at a path such as /oauth/client.json)"
        ),
        "{description}"
    );

    // SSRF: refused, and the description names no address.
    let description = assert_denied(
        call(&layer, request(Some("https://10.1.2.3/client.json"))).await,
        403,
        "client_document_refused_address",
    )
    .await;
    assert!(!description.contains("10.1.2.3"), "{description}");
    assert!(!description.contains("private"), "{description}");
}

#[tokio::test]
async fn requests_without_a_principal_or_client_are_refused() {
    let layer =
        layer(ClientPolicy::any_valid_document().pre_registered(PreRegisteredClients::all()));
    let unauthenticated = Request::post("/mcp").body(Full::default()).unwrap();
    let description = assert_denied(call(&layer, unauthenticated).await, 403, "no_principal").await;
    assert_eq!(
        description,
        "the client cannot be identified: the request was not authenticated"
    );
    assert_denied(
        call(&layer, request(None)).await,
        403,
        "token_without_client",
    )
    .await;
}

#[tokio::test]
async fn pre_registered_client_ids_follow_their_own_rule() {
    let record = RequestRecord::default();
    let mut req = request(Some("svc"));
    req.extensions_mut().insert(record.clone());
    let description = assert_denied(
        call(&layer(ClientPolicy::any_valid_document()), req).await,
        403,
        "client_not_admitted",
    )
    .await;
    assert_eq!(
        description,
        "this server admits only clients identified by a Client ID Metadata Document URL"
    );
    assert!(!record.snapshot().client.unwrap().metadata_document);

    let all = layer(ClientPolicy::any_valid_document().pre_registered(PreRegisteredClients::all()));
    let record = RequestRecord::default();
    let mut req = request(Some("svc"));
    req.extensions_mut().insert(record.clone());
    let response = call(&all, req).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-client-name"],
        "-",
        "no ClientInfo for pre-registered clients"
    );
    assert_eq!(record.snapshot().client.unwrap().client_id, "svc");

    let only = layer(
        ClientPolicy::any_valid_document().pre_registered(PreRegisteredClients::only(["svc"])),
    );
    assert_eq!(call(&only, request(Some("svc"))).await.status(), 200);
    assert_denied(
        call(&only, request(Some("other"))).await,
        403,
        "client_not_admitted",
    )
    .await;
}

#[tokio::test]
async fn grpc_requests_get_trailers_only_denials() {
    let layer = layer(ClientPolicy::any_valid_document());
    let mut req = request(Some("svc"));
    req.headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    let response = call(&layer, req).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "7");
}

#[tokio::test]
async fn the_instance_polled_ready_is_the_one_called_on_the_network_path() {
    let (server, id) = valid_server().await;
    let inner = StrictReadiness::new(tower::service_fn(echo));
    let calls = inner.call_counter();
    let mut service = tower::ServiceBuilder::new()
        .layer(layer(ClientPolicy::any_valid_document()))
        .service(inner);
    // Network path (cache miss), then the synchronous path (cache hit), on one service value.
    for _ in 0..2 {
        let response = service
            .ready()
            .await
            .unwrap()
            .call(request(Some(&id)))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(server.requests(), 1);
}

#[test]
fn services_and_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn sync<T: Sync>(_: &T) {}
    let layer = layer(ClientPolicy::any_valid_document());
    let mut service = tower::ServiceBuilder::new().layer(layer).service_fn(echo);
    send(&service);
    sync(&service);
    let future = service.call(request(Some("svc")));
    send(&future);
}
