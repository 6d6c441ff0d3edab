#![no_main]
//! The TLS adapter and the per-connection TLS analysis on arbitrary record streams.
use libfuzzer_sys::fuzz_target;
use wsclose::capture::Ts;
use wsclose::tcp::reassembly::StreamEvent;
use wsclose::tcp::{PerSide, Side};
use wsclose::tls::record::TlsReader;
use wsclose::tls::session::Session;

fuzz_target!(|data: &[u8]| {
    let mut state = Session::default();
    let mut readers = PerSide::new(TlsReader::new(), TlsReader::new());
    // Alternate directions at every 0xff byte, as two peers would.
    for (i, chunk) in data.split(|b| *b == 0xff).enumerate() {
        let side = if i % 2 == 0 { Side::A } else { Side::B };
        let ev = StreamEvent::Data {
            offset: 0,
            bytes: chunk,
            frame_no: i as u64 + 1,
            ts: Ts(i as i64),
        };
        readers[side].feed(&ev, &mut |e, f, ts| {
            state.on_event(side, e, f, ts);
            None
        });
    }
    let _ = wsclose::story::tls::report(&state, Side::A, None, false);
});
