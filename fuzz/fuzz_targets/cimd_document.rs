//! Client ID Metadata Documents: the URL rules for any client id, and validation of any JSON as
//! a document. No input may panic, and an accepted document always names its own URL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_auth_cimd::{CimdUrl, ClientInfo};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line is a client id; the rest, a document.
    let (id, document) = text.split_once('\n').unwrap_or((&text, ""));
    if let Ok(url) = CimdUrl::parse(id, false) {
        assert!(url.as_str().starts_with("https://"));
    }
    let url = CimdUrl::parse("https://client.example/metadata.json", false).expect("valid id");
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(document)
        && let Ok(info) = ClientInfo::from_document(&url, &value)
    {
        assert_eq!(info.id(), "https://client.example/metadata.json");
        assert!(!info.redirect_uris().is_empty());
    }
});
