//! Reading the caller inside rmcp tool, prompt and resource handlers.

use mcp_auth_core::Principal;
use rmcp::ErrorData;
use rmcp::handler::server::common::{AsRequestContext, FromContextPart};

/// The verified caller, as an rmcp handler argument.
///
/// rmcp's Streamable HTTP service puts the request's `http::request::Parts` in the handler
/// context; the verification layer put the [`Principal`] in their extensions. This extractor
/// finds it, so a tool reads `Auth(principal): Auth` instead of digging through parts.
///
/// ```no_run
/// # use mcp_auth::rmcp::Auth;
/// # use rmcp::{tool, tool_router};
/// # #[derive(Clone)] struct Server;
/// # #[tool_router] impl Server {
/// #[tool(description = "Who am I?")]
/// async fn whoami(&self, Auth(principal): Auth) -> String {
///     principal.subject().to_owned()
/// }
/// # }
/// ```
///
/// A handler reached without the verification layer in front gets an internal error rather
/// than running unauthenticated.
#[derive(Clone, Debug)]
pub struct Auth(pub Principal);

impl Auth {
    /// Finds the principal in an rmcp request context's extensions.
    pub fn from_extensions(extensions: &rmcp::model::Extensions) -> Option<Principal> {
        extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
            .or_else(|| extensions.get::<Principal>())
            .cloned()
    }
}

impl<C: AsRequestContext> FromContextPart<C> for Auth {
    fn from_context_part(context: &mut C) -> Result<Self, ErrorData> {
        Self::from_extensions(&context.as_request_context().extensions).map(Auth).ok_or_else(|| {
            ErrorData::internal_error(
                "no authenticated principal: is mcp-auth's verification layer in front of this server?",
                None,
            )
        })
    }
}

/// The on-behalf-of handle, as an rmcp handler argument: exchange the caller's token for a
/// downstream API.
///
/// ```no_run
/// # use mcp_auth::ExchangeRequest;
/// # use mcp_auth::rmcp::Obo;
/// # use rmcp::{tool, tool_router};
/// # #[derive(Clone)] struct Server;
/// # #[tool_router] impl Server {
/// #[tool(description = "Read my calendar")]
/// async fn calendar(&self, Obo(obo): Obo) -> Result<String, rmcp::ErrorData> {
///     let request = ExchangeRequest::audience("https://calendar.example").scope("calendar:read");
///     let token = obo.get_token_or_deny(request).await.map_err(|e| {
///         rmcp::ErrorData::internal_error(e.to_auth_error().description().to_owned(), None)
///     })?;
///     let events = token.apply_to(reqwest::Client::new().get("https://calendar.example/events"));
/// #   let _ = events;
///     Ok(String::new())
/// }
/// # }
/// ```
///
/// A handler reached without token exchange configured gets an internal error.
#[cfg(feature = "obo")]
#[derive(Clone, Debug)]
pub struct Obo(pub mcp_auth_obo::OnBehalfOf);

#[cfg(feature = "obo")]
impl<C: AsRequestContext> FromContextPart<C> for Obo {
    fn from_context_part(context: &mut C) -> Result<Self, ErrorData> {
        let extensions = &context.as_request_context().extensions;
        extensions
            .get::<http::request::Parts>()
            .and_then(|parts| mcp_auth_obo::OnBehalfOf::from_extensions(&parts.extensions))
            .cloned()
            .map(Obo)
            .ok_or_else(|| {
                ErrorData::internal_error(
                    "no on-behalf-of handle: is token exchange configured in front of this server?",
                    None,
                )
            })
    }
}
