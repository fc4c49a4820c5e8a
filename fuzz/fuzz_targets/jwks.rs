//! JWKS parsing: any JSON as an issuer's static key set either builds a verifier or is refused
//! with a message; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_auth_core::ResourceId;
use mcp_auth_jwt::{IssuerConfig, Verifier};

fuzz_target!(|data: &[u8]| {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let result = Verifier::builder(ResourceId::parse("https://mcp.example.com/mcp").unwrap())
        .issuer(IssuerConfig::static_keys(
            "https://issuer.example",
            document,
        ))
        .build();
    if let Err(e) = result {
        assert!(!e.to_string().is_empty());
    }
});
