//! On-behalf-of token exchange (RFC 8693) for MCP servers.
//!
//! An MCP server must never pass the caller's token to a downstream API. It trades it at the
//! authorization server for a token scoped to that API and still tied to the caller (`sub` is
//! the user, `act` names this server):
//!
//! - [`TokenExchangeClient`]: the token endpoint configured or discovered from the issuer's
//!   metadata; client authentication by [`ClientAuth`] (`client_secret_basic`,
//!   `client_secret_post`, `private_key_jwt` with a [`PrivateKey`] from PEM or JWK); strict
//!   parsing of answers; typed errors carrying the OAuth error code; a bounded cache with
//!   single-flight exchanges, expiry bounded by the subject token's, remembered failures and
//!   back-off; a pluggable [`ExchangeStore`].
//! - [`ExchangeRequest`] and [`ExchangedToken`]: the Auth0-shaped call
//!   `get_token_on_behalf_of(subject, ExchangeRequest { audience, scope, .. })`, returning a
//!   token that cannot be printed and attaches itself to a `reqwest` request.
//! - [`OboLayer`]: an [`OnBehalfOf`] handle in the request extensions for handlers, exchange
//!   summaries for the audit record, and failures rendered as 401 / 403 / 503 (see [`layer`]).
//!
//! # Example
//!
//! A route behind the verification layer that calls a downstream API with an exchanged token:
//!
//! ```no_run
//! use axum::{Extension, Router, routing::post};
//! use mcp_auth_core::ResourceId;
//! use mcp_auth_fetch::FetchPolicy;
//! use mcp_auth_jwt::{IssuerConfig, Verifier, VerifyLayer};
//! use mcp_auth_obo::{ClientAuth, ExchangeRequest, OboLayer, OnBehalfOf, TokenExchangeClient};
//! use tower::ServiceBuilder;
//!
//! # #[tokio::main] async fn main() {
//! let resource = ResourceId::parse("https://mcp.example.com/mcp").unwrap();
//! let verifier = Verifier::builder(resource.clone())
//!     .issuer(IssuerConfig::discover("https://auth.example.com"))
//!     .build()
//!     .unwrap();
//! let exchange = TokenExchangeClient::builder(ClientAuth::client_secret_basic("mcp-server", "s3cret"))
//!     .issuer("https://auth.example.com")
//!     .fetch_policy(FetchPolicy::default())
//!     .build()
//!     .unwrap();
//!
//! async fn orders(Extension(obo): Extension<OnBehalfOf>) -> Result<String, axum::http::StatusCode> {
//!     let request = ExchangeRequest::audience("https://orders.example.com").scope("orders:read");
//!     // On failure the layer answers 401 / 403 / 503 whatever this returns.
//!     let token = obo.get_token_or_deny(request).await.map_err(|_| axum::http::StatusCode::BAD_GATEWAY)?;
//!     let answer = token
//!         .apply_to(reqwest::Client::new().get("https://orders.example.com/v1/orders"))
//!         .send()
//!         .await
//!         .map_err(|_| axum::http::StatusCode::BAD_GATEWAY)?;
//!     answer.text().await.map_err(|_| axum::http::StatusCode::BAD_GATEWAY)
//! }
//!
//! let app: Router = Router::new().route("/mcp", post(orders)).layer(
//!     ServiceBuilder::new()
//!         .layer(VerifyLayer::new(verifier))
//!         .layer(OboLayer::new(exchange, &resource)),
//! );
//! # let _ = app;
//! # }
//! ```
//!
//! # With rmcp
//!
//! rmcp's Streamable HTTP service hands tools a copy of the request's `http::request::Parts`;
//! the handle is in their extensions. Run the service statelessly with JSON responses, so the
//! layer can still set the status when a tool propagates a failure:
//!
//! ```ignore
//! #[tool(description = "Lists the caller's orders from the orders API.")]
//! async fn orders(&self, Extension(parts): Extension<http::request::Parts>) -> Result<String, ErrorData> {
//!     let obo = OnBehalfOf::from_extensions(&parts.extensions)
//!         .ok_or_else(|| ErrorData::internal_error("no OboLayer in front of this server", None))?;
//!     let token = obo
//!         .get_token_or_deny(ExchangeRequest::audience("https://orders.example.com").scope("orders:read"))
//!         .await
//!         .map_err(|e| ErrorData::internal_error(e.to_auth_error().description().to_owned(), None))?;
//!     let answer = token.apply_to(reqwest::Client::new().get("https://orders.example.com/v1/orders"))
//!         .send().await.map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
//!     answer.text().await.map_err(|e| ErrorData::internal_error(e.to_string(), None))
//! }
//! ```
//!
//! # Caching
//!
//! Exchanged tokens are cached under a key derived from the SHA-256 digest of the subject
//! token, the client, the target (`audience` / `resource`), the normalised scope set, the
//! requested token type and any actor token. An entry is served until the exchanged token's
//! expiry minus [a skew](TokenExchangeClientBuilder::expiry_skew), and never beyond the subject
//! token's own expiry (an opaque subject token of unknown expiry is exchanged every time).
//! Concurrent calls for one key make exactly one request. Refusals are repeated from memory for
//! [a short while](TokenExchangeClientBuilder::failure_ttl); an unreachable or failing
//! authorization server puts the whole client into [back-off](TokenExchangeClientBuilder::backoff).
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod allowlist;
mod auth;
mod client;
mod config;
mod dpop;
mod error;
mod handle;
mod key;
pub mod layer;

/// Entry points for the fuzz targets (feature `fuzzing`); not a public API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use std::time::{Duration, SystemTime};

    /// Reads a token-endpoint answer as the client does.
    pub fn read_response(
        response: &mcp_auth_fetch::FetchResponse,
        requested: &mcp_auth_core::Scopes,
    ) -> Result<crate::ExchangedToken, crate::ExchangeError> {
        crate::response::read(
            response,
            requested,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            Duration::from_secs(1),
            &["subject-secret"],
            None,
        )
    }
}
mod request;
mod response;
mod sealing;
mod store;
mod token;

#[cfg(test)]
mod tests;

pub use allowlist::{AllowEntry, ExchangeAllowlist};
pub use auth::{ClientAuth, ClientSecret, JWT_BEARER_ASSERTION};
pub use client::{TokenExchangeClient, TokenExchangeClientBuilder};
pub use config::{ExchangeAuthEntry, TokenExchangeEntry, client_auth_from_env};
pub use error::{ConfigError, ExchangeError, OAuthErrorCode, ResponseProblem};
pub use handle::OnBehalfOf;
pub use key::PrivateKey;
pub use layer::{Obo, OboLayer};
pub use mcp_auth_core::Algorithm;
pub use request::{
    ACCESS_TOKEN_TYPE, ActorToken, ExchangeKey, ExchangeRequest, JWT_TOKEN_TYPE, Subject,
    TOKEN_EXCHANGE_GRANT,
};
pub use sealing::SecretKeys;
pub use store::{Claim, ExchangeStore, MemoryStore, StoreFuture, StoredExchange};
pub use token::{AuthorizeRequest, DPOP, ExchangedToken, TokenType};
