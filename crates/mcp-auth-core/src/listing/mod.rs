//! Listings (`tools/list`, `resources/list`, `resources/templates/list`, `prompts/list`)
//! filtered down to what the caller could use, as their answers stream: the one filter the
//! scope and policy layers share, each deciding per item through [`KeepListed`].
//!
//! ```
//! use mcp_auth_core::listing::{ListFilter, ListedKind};
//! use mcp_auth_core::mcp::{InspectLimits, McpRequest};
//!
//! let request = McpRequest::parse(
//!     br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
//!     &InspectLimits::default(),
//! )
//! .unwrap();
//! let only_search = |kind: ListedKind, name: &str| kind == ListedKind::Tool && name == "search";
//! let filter = ListFilter::for_request(&request, || Box::new(only_search), 1 << 20);
//! assert!(filter.is_some());
//! ```

mod body;
mod filter;
mod service;

pub use body::ListFilterBody;
pub use filter::{KeepListed, ListFilter, ListedKind, lists_anything};
pub use service::{ListFiltered, ListFilteredFuture, PendingListing};
