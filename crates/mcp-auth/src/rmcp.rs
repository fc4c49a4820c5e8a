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
/// ```ignore
/// #[tool(description = "Who am I?")]
/// async fn whoami(&self, Auth(principal): Auth) -> String {
///     principal.subject().to_owned()
/// }
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
