//! A client identified by a Client ID Metadata Document, through `McpAuth::builder().clients()`:
//! its document fetched over https from a server with a test CA, its identity handed to the
//! handler, and the client policy enforced.

#[path = "../../mcp-auth-cimd/tests/support/mod.rs"]
mod support;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use mcp_auth::{
    ClientAllowList, ClientInfo, ClientPolicy, ClientResolver, FetchPolicy, IssuerConfig, McpAuth,
};
use mcp_auth_testing::MockIssuer;
use support::{DocServer, Reply, TestCa, document};
use tower::{Layer, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const PATH: &str = "/oauth/client.json";

/// Calls a tool through the stack with a token issued to `client_id`; the handler answers with
/// the name of the client it was told about.
async fn call(
    issuer: &MockIssuer,
    docs: &DocServer,
    ca: &TestCa,
    policy: ClientPolicy,
    client_id: &str,
) -> (u16, String) {
    let resolver = ClientResolver::builder()
        .fetch_policy(
            FetchPolicy::default()
                .allow_loopback(true)
                .root_certificate_pem(ca.ca_pem().as_bytes().to_vec()),
        )
        .build()
        .unwrap();
    let auth = McpAuth::builder(RESOURCE)
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .clients(resolver, policy)
        .build()
        .unwrap();
    let inner = tower::service_fn(|req: Request<_>| async move {
        let name = req
            .extensions()
            .get::<ClientInfo>()
            .map_or("none".to_owned(), |c| c.name().to_owned());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(name))))
    });
    let token = issuer.token().client_id(client_id).sign();
    let request = Request::post("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}"#,
        )))
        .unwrap();
    let response = auth.layer(inner).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let _ = docs;
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_metadata_document_client_is_admitted_by_policy_and_named_to_the_handler() {
    let ca = TestCa::new();
    let docs = DocServer::https(&ca).await;
    let id = docs.url(PATH);
    docs.set(
        PATH,
        Reply::json(&document(&id, "https://client.example/cb")),
    );
    let issuer = MockIssuer::builder().audience(RESOURCE).start().await;

    let (status, name) = call(&issuer, &docs, &ca, ClientPolicy::any_valid_document(), &id).await;
    assert_eq!((status, name.as_str()), (200, "Test Client"));
    assert_eq!(docs.requests_to(PATH), 1, "the document was fetched");

    // An allow list naming another client: refused, whatever the document says.
    let others = ClientPolicy::allow_list(ClientAllowList::new().host("client.example"));
    let (status, _) = call(&issuer, &docs, &ca, others, &id).await;
    assert_eq!(status, 403);

    // A document that does not name itself: refused.
    let liar = docs.url("/oauth/liar.json");
    docs.set(
        "/oauth/liar.json",
        Reply::json(&document(&id, "https://client.example/cb")),
    );
    let (status, _) = call(
        &issuer,
        &docs,
        &ca,
        ClientPolicy::any_valid_document(),
        &liar,
    )
    .await;
    assert_eq!(status, 403);
}
