//! Client identity for MCP servers: Client ID Metadata Documents fetched safely, validated,
//! cached, and admitted by an operator's policy.
//!
//! An MCP client that has no registration with the authorization server can use a URL as its
//! `client_id`: the URL names a JSON document the client hosts (its name, redirect URIs, how it
//! authenticates). Tokens issued to it carry that URL as their `client_id`. This crate lets a
//! resource server see who such a client claims to be and decide whether to serve it, the way
//! an administrator registers a client by its metadata URL:
//!
//! - [`CimdUrl`]: is a `client_id` a document URL? `https`, a host, a path, no fragment, no
//!   userinfo, no `.`/`..` segments — with the precise rule that fails ([`UrlRuleError`]).
//! - [`ClientResolver`]: fetches the document through [`mcp_auth_fetch::Fetcher`] (short
//!   timeout, 5 KiB cap, no redirects, JSON only, no private, loopback, link-local or
//!   cloud-metadata address, the resolved address pinned against DNS rebinding), validates it
//!   ([`ClientInfo::from_document`]: `client_id` string-equal to the URL, `client_name`,
//!   `redirect_uris`, no shared secret, well-formed URLs), and caches it within `Cache-Control`
//!   bounds. Failures and invalid documents are never cached; concurrent lookups of one URL
//!   make one fetch. Usable without tower, e.g. by an authorization server.
//! - [`ClientPolicy`]: any valid document, an allow list by URL or host
//!   ([`ClientAllowList`]), or only the clients approved in a [`Registry`] file — with a
//!   separate rule for pre-registered, non-URL client ids ([`PreRegisteredClients`]). A
//!   registry approval records the document's [digest](ClientInfo::digest); a document that
//!   later changes in a way that matters is refused until approved again
//!   ([`ChangedDocument`]).
//! - [`CimdLayer`]: the tower layer, placed inside the verification layer. Admitted requests get
//!   a [`ClientInfo`] in their extensions (and the audit record's client); refused ones a 403
//!   with a description that leaks nothing internal; a document that cannot be fetched a 503.
//!   See [`layer`] for the full table.
//!
//! Operators inspect, approve, list and revoke clients with the `mcp-auth` command
//! (`mcp-auth clients --help`), which writes the registry file this crate reads.
//!
//! # Example
//!
//! ```no_run
//! use mcp_auth_cimd::{CimdLayer, ClientPolicy, ClientResolver, Registry};
//! use mcp_auth_core::{Rejector, ResourceId};
//! use mcp_auth_jwt::{IssuerConfig, Verifier, VerifyLayer};
//! use tower::ServiceBuilder;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let resource = ResourceId::parse("https://mcp.example.com/mcp")?;
//! let verifier = Verifier::builder(resource.clone())
//!     .issuer(IssuerConfig::discover("https://auth.example.com"))
//!     .build()?;
//!
//! // Only clients an operator approved with `mcp-auth clients approve URL`.
//! let registry = Registry::open("/etc/mcp/mcp-clients.json")?;
//! let clients = CimdLayer::new(ClientResolver::builder().build()?, ClientPolicy::registry(registry))
//!     .rejector(Rejector::for_resource(&resource));
//!
//! let stack = ServiceBuilder::new()
//!     .layer(VerifyLayer::new(verifier)) // outside: establishes the Principal
//!     .layer(clients);                   // inside: admits its client
//! # let _ = stack; Ok(()) }
//! ```
//!
//! A handler reads the client from the request extensions:
//!
//! ```
//! use mcp_auth_cimd::ClientInfo;
//!
//! fn greet(extensions: &http::Extensions) -> String {
//!     match extensions.get::<ClientInfo>() {
//!         Some(client) => format!("hello, {} from {}", client.name(), client.host()),
//!         None => "hello, pre-registered client".to_owned(),
//!     }
//! }
//! # assert_eq!(greet(&http::Extensions::new()), "hello, pre-registered client");
//! ```
//!
//! # Development switch
//!
//! [`FetchPolicy::allow_loopback`](mcp_auth_fetch::FetchPolicy::allow_loopback) on the
//! resolver's fetch policy admits `http://` document URLs on loopback hosts and loopback
//! addresses, for local development and tests; with
//! [`FetchPolicy::root_certificate_pem`](mcp_auth_fetch::FetchPolicy::root_certificate_pem) a
//! self-signed certificate is trusted. Never enable it in production.
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod admission;
mod client_info;
mod config;
mod document;
mod error;
pub mod layer;
mod policy;
mod registry;
mod resolver;
mod url_rules;

pub use client_info::{ClientInfo, ClientWarning};
pub use config::{
    AllOrNone, ChangedDocumentEntry, ClientsEntry, ClientsPolicyEntry, PreRegisteredEntry,
};
pub use document::DocumentError;
pub use error::ResolveError;
pub use layer::{Cimd, CimdLayer};
pub use policy::{Admission, ChangedDocument, ClientAllowList, ClientPolicy, PreRegisteredClients};
pub use registry::{Approval, ApprovedClient, Registry, RegistryError, RegistryFeed};
pub use resolver::{
    ClientResolver, ClientResolverBuilder, MAX_DOCUMENT_BYTES, ResolverConfigError,
};
pub use url_rules::{CimdUrl, MAX_CLIENT_ID_LEN, UrlRuleError};
