#![no_main]
//! Frame header parser and the incremental frame reader on arbitrary bytes.
use libfuzzer_sys::fuzz_target;
use wsclose::capture::Ts;
use wsclose::tcp::reassembly::StreamEvent;
use wsclose::ws::reader::FrameReader;

fuzz_target!(|data: &[u8]| {
    let _ = wsclose::ws::frame::parse_frame_header(data);
    let _ = wsclose::ws::reader::plausible_frames(data, None, true);
    let mut reader = FrameReader::new();
    let cut = data
        .first()
        .map(|b| usize::from(*b))
        .unwrap_or(0)
        .min(data.len());
    let (a, b) = data.split_at(cut);
    reader.feed(
        &StreamEvent::Data {
            offset: 0,
            bytes: a,
            frame_no: 1,
            ts: Ts(0),
        },
        &mut |_| {},
    );
    reader.feed(
        &StreamEvent::Data {
            offset: cut as u64,
            bytes: b,
            frame_no: 2,
            ts: Ts(0),
        },
        &mut |_| {},
    );
});
