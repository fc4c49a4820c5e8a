//! The token-exchange response parser: any status, content type and body. No input may panic;
//! a secret the server echoes never survives into an error description.
#![no_main]

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use mcp_auth_core::Scopes;
use mcp_auth_fetch::FetchResponse;

fuzz_target!(|data: &[u8]| {
    let Some((&status_byte, body)) = data.split_first() else {
        return;
    };
    let statuses = [200u16, 201, 400, 401, 403, 429, 500, 503];
    let status = StatusCode::from_u16(statuses[usize::from(status_byte) % statuses.len()]).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if status_byte & 0x80 != 0 {
        headers.insert("retry-after", HeaderValue::from_static("7"));
    }
    let response = FetchResponse::from_parts(
        "https://as.example/token",
        status,
        headers,
        Bytes::copy_from_slice(body),
    );
    match mcp_auth_obo::fuzzing::read_response(&response, &Scopes::parse("api:read")) {
        Ok(token) => assert!(status.is_success() && !token.expose_secret().is_empty()),
        Err(e) => assert!(!format!("{e} {e:?}").contains("subject-secret")),
    }
});
