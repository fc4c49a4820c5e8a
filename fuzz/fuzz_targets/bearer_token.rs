//! The bearer-token front end: splitting, base64, header and claims parsing, issuer and key
//! selection, up to and including the signature check. No input may panic; none may verify.
#![no_main]

use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use mcp_auth_core::ResourceId;
use mcp_auth_jwt::{IssuerConfig, Verifier};

const JWKS: &str = include_str!("../fixtures/jwks.json");

fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        Verifier::builder(ResourceId::parse("https://mcp.example.com/mcp").unwrap())
            .issuer(IssuerConfig::static_keys(
                "https://issuer.example",
                serde_json::from_str(JWKS).unwrap(),
            ))
            .build()
            .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let mut future = std::pin::pin!(verifier().verify(token));
    // Static keys never wait for the network: the first poll decides.
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(Ok(_)) => panic!("a fuzzed token verified"),
        Poll::Ready(Err(e)) => assert!(!e.description().is_empty()),
        Poll::Pending => panic!("static keys made verification wait"),
    }
});
