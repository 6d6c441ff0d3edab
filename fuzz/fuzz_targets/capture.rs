#![no_main]
//! The whole path from arbitrary bytes (taken as a capture file) to the rendered reports.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Box::new(std::io::Cursor::new(data.to_vec()));
    let opts = wsclose::Options::default();
    let _ = wsclose::analyze_reader("fuzz", input, false, &opts, &mut |c| {
        let _ = wsclose::render::text::connection(
            c,
            wsclose::render::text::Style { color: false },
            &mut Default::default(),
        );
        let _ = serde_json::to_string(c);
    });
});
