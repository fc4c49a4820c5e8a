use std::future::Future;
use std::pin::Pin;

use http::Request;
use mcp_auth_core::{AuthFuture, Rejection};

/// The rare asynchronous path: the issuer's keys are being fetched before the token can be
/// checked.
pub type Verifying<ReqBody> =
    Pin<Box<dyn Future<Output = Result<Request<ReqBody>, Rejection>> + Send>>;

/// Response future of [`Verify`](super::Verify).
pub type ResponseFuture<S, ReqBody> = AuthFuture<S, Request<ReqBody>, Verifying<ReqBody>>;
