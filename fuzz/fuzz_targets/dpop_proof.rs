//! The DPoP proof parser: splitting, base64, header (`typ`, `alg`, `jwk`), key parsing, the
//! signature check and the claims. No input may panic; none may verify, since no fuzzed input
//! carries a valid signature by the key it names; normalising `htu` never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_auth_jwt::dpop::fuzzing::{normalise_htu, verify_proof};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(jkt) = verify_proof(text, "the-access-token", 1_800_000_000) {
        panic!("a fuzzed proof verified (key {jkt})");
    }
    if let Some(normal) = normalise_htu(text) {
        // The normal form is stable.
        assert_eq!(normalise_htu(&normal).as_deref(), Some(normal.as_str()));
    }
});
