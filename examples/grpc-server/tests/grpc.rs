//! A real tonic client against the protected health service.

use mcp_auth::{IssuerConfig, ResourceId, Verifier, VerifyLayer};
use mcp_auth_testing::MockIssuer;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

async fn setup() -> (MockIssuer, String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resource = format!("http://{}", listener.local_addr().unwrap());
    let issuer = MockIssuer::builder().audience(&resource).start().await;
    let verifier = Verifier::builder(ResourceId::parse(&resource).unwrap())
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()
        .unwrap();
    let (_, task) = grpc_server::serve(listener, VerifyLayer::new(verifier))
        .await
        .unwrap();
    (issuer, resource, task)
}

async fn client(url: &str) -> HealthClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
}

#[tokio::test]
async fn without_a_token_the_call_is_unauthenticated_with_the_challenge_in_metadata() {
    let (_issuer, url, _task) = setup().await;
    let mut client = client(&url).await;
    let status = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let challenge = status
        .metadata()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(
        challenge,
        format!(r#"Bearer resource_metadata="{url}/.well-known/oauth-protected-resource""#)
    );
}

#[tokio::test]
async fn a_bad_token_is_unauthenticated_with_invalid_token() {
    let (issuer, url, _task) = setup().await;
    let mut client = client(&url).await;
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    let token = issuer.token().expired(600).sign();
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let status = client.check(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(status.message().contains("expired"), "{}", status.message());
    let challenge = status
        .metadata()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
}

#[tokio::test]
async fn with_a_token_the_call_succeeds() {
    let (issuer, url, _task) = setup().await;
    let mut client = client(&url).await;
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    let token = issuer.token().sign();
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let response = client.check(request).await.unwrap();
    assert_eq!(response.into_inner().status, 1); // SERVING
}
