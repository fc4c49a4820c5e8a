//! `cargo run -p grpc-server`: a gRPC health service that needs a bearer token.

use std::time::Duration;

use mcp_auth::{IssuerConfig, ResourceId, Verifier, VerifyLayer};
use mcp_auth_testing::MockIssuer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
    let resource = format!("http://{}", listener.local_addr()?);
    let issuer = MockIssuer::builder().audience(&resource).start().await;
    let verifier = Verifier::builder(ResourceId::parse(&resource)?)
        .issuer(IssuerConfig::static_keys(issuer.issuer(), issuer.jwks()))
        .build()?;
    let (addr, task) = grpc_server::serve(listener, VerifyLayer::new(verifier)).await?;
    let token = issuer.token().expires_in(Duration::from_secs(3600)).sign();
    println!("gRPC health service on {addr}, protected by mcp-auth.\n");
    println!("TOKEN={token}\n");
    println!(
        "grpcurl -plaintext {addr} grpc.health.v1.Health/Check                      # grpc-status 16"
    );
    println!(
        "grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" {addr} grpc.health.v1.Health/Check"
    );
    task.await?;
    Ok(())
}
