//! The MCP request inspector: single and batch JSON-RPC. No input may panic; a parsed request
//! never has more messages than the batch limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_auth_core::mcp::{InspectLimits, McpRequest};

fuzz_target!(|data: &[u8]| {
    let limits = InspectLimits::default().max_batch(16).max_depth(32);
    match McpRequest::parse(data, &limits) {
        Ok(request) => assert!(!request.messages().is_empty() && request.messages().len() <= 16),
        Err(e) => assert!(matches!(e.status().as_u16(), 400 | 413)),
    }
});
