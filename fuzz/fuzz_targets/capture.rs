#![no_main]
//! The whole path from arbitrary bytes (taken as a capture file) to the rendered reports.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Box::new(std::io::Cursor::new(data.to_vec()));
    // On this thread: the pipelined reader spawns a thread per capture, and its
    // allocator arena hands the 1 MiB read buffer back to the kernel every time (page
    // faults on every run); the analysis is the same either way.
    let opts = wsclose::Options {
        pipelined: false,
        ..Default::default()
    };
    let _ = wsclose::analyze_reader("fuzz", input, false, &opts, &mut |c| {
        let _ = wsclose::render::text::connection(
            c,
            wsclose::render::text::Style { color: false },
            &mut Default::default(),
        );
        let _ = serde_json::to_string(c);
    });
});
