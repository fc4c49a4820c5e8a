//! The `requestState` a client echoes back: any string. No input may panic, and none may open
//! as a state for the caller and call (only the server's own seal does).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_auth_approval::internals::next_state;
use mcp_auth_approval::{CallFacts, SecretKeys};

fuzz_target!(|data: &[u8]| {
    let Ok(state) = std::str::from_utf8(data) else {
        return;
    };
    let keys = SecretKeys::new("k1", &[7; 32]).unwrap();
    let arguments = serde_json::json!({"amount": 5});
    let facts = CallFacts {
        issuer: "https://issuer.example",
        subject: "alice",
        client: None,
        resource: "https://mcp.example.com/mcp",
        tool: "transfer_funds",
        arguments: &arguments,
    };
    assert!(next_state(&keys, &facts, state).is_err(), "a fuzzed state opened");
});
