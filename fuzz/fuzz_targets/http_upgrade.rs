#![no_main]
//! HTTP Upgrade request and response parsers on arbitrary bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wsclose::http::parse_request(data);
    let _ = wsclose::http::parse_response(data);
});
