use std::future::Future;
use std::pin::Pin;

use http::Request;
use mcp_auth_core::{AuthFuture, Rejection};

/// The network path: the client's metadata document is being fetched before the client can be
/// admitted.
pub type Resolving<ReqBody> =
    Pin<Box<dyn Future<Output = Result<Request<ReqBody>, Rejection>> + Send>>;

/// Response future of [`Cimd`](super::Cimd).
pub type ResponseFuture<S, ReqBody> = AuthFuture<S, Request<ReqBody>, Resolving<ReqBody>>;
