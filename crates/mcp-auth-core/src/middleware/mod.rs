//! The two middleware every stack shares: the request inspector, which reads the MCP content of
//! a request once for every layer that authorises by it, and the layer that serves the RFC 9728
//! metadata document.

pub mod inspect;
pub mod metadata;
