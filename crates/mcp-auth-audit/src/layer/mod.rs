//! The audit layer: outermost, one event per request after its response body ends (or the
//! client goes away), built from what every inner layer put in the
//! [`RequestRecord`](mcp_auth_core::record::RequestRecord).
//!
//! Denials by any layer are events too — a 401 without a principal, a 403 from the scope or
//! client layer — with the reason the denying layer attached to its response. Requests for the
//! protected-resource metadata document are not recorded unless configured.
//!
//! Bodies: the request goes on as it came; the response body is wrapped in
//! [`AuditBody`], which watches for its end.

mod body;
mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use body::AuditBody;
pub use future::ResponseFuture;
pub use layer::AuditLayer;
pub use service::Audit;
