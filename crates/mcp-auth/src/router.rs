//! Mounting the stack on an axum [`Router`] so that discovery survives any composition.
//!
//! `router.layer(auth)` alone serves the metadata document through the router's fallback, which
//! axum hands to the layer only while nothing else claims it: `merge` after `layer`,
//! `route_layer` and `nest` can all leave the well-known URLs answered by 404 or 401, and clients
//! then cannot find the issuer. The document is therefore also offered as real routes.

use axum::Router;

use crate::McpAuthLayer;

impl McpAuthLayer {
    /// The RFC 9728 metadata document as routes of their own (the resource's suffixed
    /// well-known path and the root one), unauthenticated. Merge it into the outermost router
    /// whatever else wraps the MCP routes:
    ///
    /// ```no_run
    /// # use mcp_auth::{IssuerConfig, McpAuth};
    /// # async fn handler() {}
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let auth = McpAuth::builder("https://mcp.example.com/mcp")
    ///     .issuer(IssuerConfig::discover("https://auth.example.com"))
    ///     .build()?;
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/mcp", axum::routing::post(handler))
    ///     .route_layer(auth.clone())
    ///     .merge(auth.metadata_router());
    /// # let _ = app; Ok(()) }
    /// ```
    pub fn metadata_router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let [suffixed, root] = self.metadata.paths();
        let router = Router::new().route_service(suffixed, self.metadata.service());
        if suffixed == root {
            router
        } else {
            router.route_service(root, self.metadata.service())
        }
    }

    /// The metadata document at the resource's own well-known path only
    /// (`/.well-known/oauth-protected-resource/<resource path>`), without the root one that
    /// [`metadata_router`](Self::metadata_router) adds. For several resources served by one
    /// router (a gateway's routes), where the root path could name any of them.
    pub fn resource_metadata_router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let [suffixed, _] = self.metadata.paths();
        Router::new().route_service(suffixed, self.metadata.service())
    }

    /// Protects every route of `router` with the stack and serves the metadata document beside
    /// them as routes of its own: `router.layer(auth).merge(auth.metadata_router())`. The
    /// result can be merged, nested or layered further without losing discovery.
    ///
    /// ```no_run
    /// # use mcp_auth::{IssuerConfig, McpAuth};
    /// # async fn handler() {}
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let auth = McpAuth::builder("https://mcp.example.com/mcp")
    ///     .issuer(IssuerConfig::discover("https://auth.example.com"))
    ///     .build()?;
    /// let mcp = axum::Router::new().route("/mcp", axum::routing::post(handler));
    /// let app: axum::Router = auth
    ///     .protect(mcp)
    ///     .merge(axum::Router::new().route("/health", axum::routing::get(|| async { "ok" })));
    /// # let _ = app; Ok(()) }
    /// ```
    pub fn protect<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.layer(self.clone()).merge(self.metadata_router())
    }
}
