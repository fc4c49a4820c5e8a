//! The RFC 9728 protected-resource metadata document: what it says and how it is validated.
//! [`MetadataLayer`](crate::middleware::metadata::MetadataLayer) serves it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{ResourceId, Scopes};

/// The well-known path prefix of RFC 9728.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// An RFC 9728 protected-resource metadata document.
///
/// Build it with [`ProtectedResourceMetadata::builder`], which enforces what MCP clients rely on:
/// `resource` byte-identical to the configured identifier, at least one authorization server,
/// `bearer_methods_supported: ["header"]`, and no `offline_access` in `scopes_supported`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtectedResourceMetadata {
    /// The resource identifier.
    pub resource: String,
    /// Issuer URLs of the authorization servers that issue tokens for this resource.
    pub authorization_servers: Vec<String>,
    /// Scopes clients may request; a minimal set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How tokens may be presented: only the `Authorization` header.
    pub bearer_methods_supported: Vec<String>,
    /// Human-readable name of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// URL of documentation for developers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// Further members, serialised as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Why a metadata document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// MCP requires at least one authorization server.
    #[error("metadata needs at least one authorization server (authorization_servers)")]
    NoAuthorizationServer,
    /// An authorization server entry is not an absolute http(s) URL.
    #[error("authorization server `{0}` is not an absolute http(s) URL")]
    BadAuthorizationServer(String),
    /// A scope is not a valid RFC 6749 scope token.
    #[error("scopes_supported entry `{0}` is not a valid scope token")]
    BadScope(String),
    /// `offline_access` must not be advertised by a resource (MCP).
    #[error(
        "scopes_supported must not list `offline_access`; it is the authorization server's business"
    )]
    OfflineAccess,
    /// The `resource` member is not a usable identifier.
    #[error(transparent)]
    Resource(#[from] crate::ResourceIdError),
}

impl ProtectedResourceMetadata {
    /// Starts a document for `resource`.
    pub fn builder(resource: &ResourceId) -> ProtectedResourceMetadataBuilder {
        ProtectedResourceMetadataBuilder {
            doc: ProtectedResourceMetadata {
                resource: resource.as_str().to_owned(),
                authorization_servers: Vec::new(),
                scopes_supported: Vec::new(),
                bearer_methods_supported: vec!["header".into()],
                resource_name: None,
                resource_documentation: None,
                extra: Map::new(),
            },
        }
    }

    /// Checks the rules the builder enforces; useful for documents read from configuration.
    ///
    /// # Errors
    /// See [`MetadataError`].
    pub fn validate(&self) -> Result<ResourceId, MetadataError> {
        let resource = ResourceId::parse(&self.resource)?;
        if self.authorization_servers.is_empty() {
            return Err(MetadataError::NoAuthorizationServer);
        }
        for server in &self.authorization_servers {
            let ok = url::Url::parse(server)
                .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.has_host());
            if !ok {
                return Err(MetadataError::BadAuthorizationServer(server.clone()));
            }
        }
        for scope in &self.scopes_supported {
            if scope == "offline_access" {
                return Err(MetadataError::OfflineAccess);
            }
            if !Scopes::is_valid_token(scope) {
                return Err(MetadataError::BadScope(scope.clone()));
            }
        }
        Ok(resource)
    }
}

/// Builds a [`ProtectedResourceMetadata`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ProtectedResourceMetadataBuilder {
    doc: ProtectedResourceMetadata,
}

impl ProtectedResourceMetadataBuilder {
    /// Adds an authorization server (its issuer URL).
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.doc.authorization_servers.push(issuer.into());
        self
    }

    /// Sets the scopes clients may request.
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.doc.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the human-readable name.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.doc.resource_name = Some(name.into());
        self
    }

    /// Sets the documentation URL.
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.doc.resource_documentation = Some(url.into());
        self
    }

    /// Adds another member.
    pub fn extra(mut self, name: impl Into<String>, value: Value) -> Self {
        self.doc.extra.insert(name.into(), value);
        self
    }

    /// Validates and finishes the document.
    ///
    /// # Errors
    /// See [`MetadataError`].
    pub fn build(self) -> Result<ProtectedResourceMetadata, MetadataError> {
        self.doc.validate()?;
        Ok(self.doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource() -> ResourceId {
        ResourceId::parse("https://Mcp.example.com/mcp").unwrap()
    }

    #[test]
    fn serialises_the_fields_clients_read() {
        let doc = ProtectedResourceMetadata::builder(&resource())
            .authorization_server("https://as.example.com")
            .scopes_supported(["a", "b"])
            .resource_name("Example")
            .build()
            .unwrap();
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "resource": "https://Mcp.example.com/mcp",
                "authorization_servers": ["https://as.example.com"],
                "scopes_supported": ["a", "b"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Example",
            })
        );
    }

    #[test]
    fn refuses_what_mcp_forbids() {
        let b = ProtectedResourceMetadata::builder(&resource());
        assert_eq!(b.clone().build(), Err(MetadataError::NoAuthorizationServer));
        let b = b.authorization_server("https://as");
        assert_eq!(
            b.clone().scopes_supported(["offline_access"]).build(),
            Err(MetadataError::OfflineAccess)
        );
        assert!(matches!(
            b.clone().scopes_supported(["a b"]).build(),
            Err(MetadataError::BadScope(_))
        ));
        assert!(matches!(
            ProtectedResourceMetadata::builder(&resource())
                .authorization_server("as.example")
                .build(),
            Err(MetadataError::BadAuthorizationServer(_))
        ));
    }
}
