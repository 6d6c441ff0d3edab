#![no_main]
//! Close payload parser on arbitrary bytes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wsclose::ws::close::parse_close_payload(data);
});
