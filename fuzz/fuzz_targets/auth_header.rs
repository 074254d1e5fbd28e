//! Arbitrary Authorization and apiToken header bytes: picking the presented
//! token and parsing it never panics.
#![no_main]

use http::{header, HeaderMap, HeaderValue};
use latchkey::server::rest::presented_token;
use latchkey::tokens::secret::PlainToken;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, second) = data.split_at(data.len() / 2);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(first) {
        headers.insert(header::AUTHORIZATION, value);
    }
    if let Ok(value) = HeaderValue::from_bytes(second) {
        headers.insert("apitoken", value);
    }
    if let Some(token) = presented_token(&headers) {
        let _ = PlainToken::parse(token);
    }
});
