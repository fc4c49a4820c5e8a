//! The whole stack (`McpAuth::builder`) in front of a tonic service: gRPC calls are protected
//! and answered in gRPC, and the RFC 9728 document is reachable without a token.

use mcp_auth::{IssuerConfig, McpAuth};
use mcp_auth_testing::MockIssuer;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn the_whole_stack_protects_a_tonic_service_and_serves_its_metadata() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let resource = format!("{url}/grpc");
    let issuer = MockIssuer::builder().audience(&resource).start().await;
    let auth = McpAuth::builder(&resource)
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()
        .unwrap();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let _server = tokio::spawn(async move {
        let _keep = reporter;
        tonic::transport::Server::builder()
            .accept_http1(true)
            .layer(auth)
            .add_service(health)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .unwrap();
    });

    // The metadata document, over plain HTTP/1.1, without a token.
    let metadata = reqwest::get(format!("{url}/.well-known/oauth-protected-resource/grpc"))
        .await
        .unwrap();
    assert_eq!(metadata.status(), 200);
    let document: serde_json::Value =
        serde_json::from_slice(&metadata.bytes().await.unwrap()).unwrap();
    assert_eq!(document["resource"], resource.as_str());
    assert_eq!(document["authorization_servers"][0], issuer.issuer());

    // gRPC without a token: unauthenticated, the challenge pointing at that document.
    let channel = tonic::transport::Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let status = client
        .check(HealthCheckRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let challenge = status.metadata().get("www-authenticate").unwrap();
    assert!(
        challenge
            .to_str()
            .unwrap()
            .contains(&format!("{url}/.well-known/oauth-protected-resource/grpc")),
        "{challenge:?}"
    );

    // With a token: served.
    let mut request = tonic::Request::new(HealthCheckRequest::default());
    let token = issuer.token().sign();
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    assert_eq!(client.check(request).await.unwrap().into_inner().status, 1);
}
