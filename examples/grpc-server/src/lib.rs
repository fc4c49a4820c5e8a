//! A tonic gRPC service (the standard health service) behind mcp-auth's `VerifyLayer`.
//!
//! Calls without a valid token get a trailers-only response with `grpc-status` 16
//! (unauthenticated) and the Bearer challenge in the `www-authenticate` metadata; calls with one
//! reach the service.
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms)]

use std::net::SocketAddr;

use mcp_auth::VerifyLayer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// Serves the health service behind `verify` on `listener` until the task is dropped.
///
/// # Errors
/// The listener's address cannot be read.
pub async fn serve(
    listener: TcpListener,
    verify: VerifyLayer,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let addr = listener.local_addr()?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let task = tokio::spawn(async move {
        let _keep = reporter;
        let result = tonic::transport::Server::builder()
            .layer(verify)
            .add_service(health)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await;
        if let Err(e) = result {
            eprintln!("grpc server stopped: {e}");
        }
    });
    Ok((addr, task))
}
