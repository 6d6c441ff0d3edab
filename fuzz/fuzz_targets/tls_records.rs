#![no_main]
//! The TLS adapter and the per-connection TLS analysis on arbitrary record streams.
use libfuzzer_sys::fuzz_target;
use wsclose::capture::Ts;
use wsclose::tcp::reassembly::StreamEvent;
use wsclose::tls::TlsReader;
use wsclose::tlsconn::{EndFacts, TlsState};

fuzz_target!(|data: &[u8]| {
    let mut state = TlsState::default();
    let mut readers = [TlsReader::new(), TlsReader::new()];
    // Alternate directions at every 0xff byte, as two peers would.
    for (i, chunk) in data.split(|b| *b == 0xff).enumerate() {
        let side = i % 2;
        let ev = StreamEvent::Data {
            offset: 0,
            bytes: chunk,
            frame_no: i as u64 + 1,
            ts: Ts(i as i64),
        };
        if let Some(r) = readers.get_mut(side) {
            r.feed(&ev, &mut |e, f, ts| state.on_event(side, e, f, ts));
        }
    }
    let _ = state.report(&EndFacts {
        client: 0,
        end: None,
    });
});
