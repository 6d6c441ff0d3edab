//! Arbitrary bytes into every parser and into the whole pipeline: nothing may panic. The
//! stable-toolchain companion of the cargo-fuzz targets.

// The conversation builder, under the name the tests use for it.
use wsclose_testgen::conv as pcapgen;

use std::io::Cursor;

use proptest::prelude::*;

use wsclose::capture::{self, CaptureInfo};
use wsclose::tcp::reassembly::StreamEvent;
use wsclose::ws::reader::FrameReader;

fn analyze_bytes(bytes: Vec<u8>) {
    let mut info = CaptureInfo::default();
    let _ = capture::read_packets("fuzz", Box::new(Cursor::new(bytes)), &mut info, |record| {
        if let capture::Record::Packet(pkt) = record {
            let _ = wsclose::decode::decode(pkt.linktype, pkt.data, pkt.orig_len);
        }
    });
}

fn pipeline(bytes: &[u8]) {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("no-panic-{}.pcap", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let p = path.to_str().unwrap();
    let mut n = 0;
    let (_report, _err) = wsclose::analyze_file(p, &wsclose::Options::default(), &mut |c| {
        // Rendering must not panic either.
        let _ = wsclose::render::text::connection(
            c,
            wsclose::render::text::Style { color: false },
            &mut Default::default(),
        );
        n += serde_json::to_string(c).map(|s| s.len()).unwrap_or(0);
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parsers_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = wsclose::ws::frame::parse_frame_header(&bytes);
        let _ = wsclose::ws::close::parse_close_payload(&bytes);
        let _ = wsclose::http::parse_request(&bytes);
        let _ = wsclose::http::parse_response(&bytes);
        for lt in [0u32, 1, 101, 108, 113, 276, 228, 229] {
            let _ = wsclose::decode::decode(lt, &bytes, bytes.len() as u32 + 3);
        }
        let mut reader = FrameReader::new();
        reader.feed(&StreamEvent::Data { offset: 0, bytes: &bytes, frame_no: 1, ts: wsclose::capture::Ts(0) }, &mut |_| {});
        let _ = wsclose::ws::reader::plausible_frames(&bytes, None, true);
    }

    /// TLS records with arbitrary bodies (handshake messages, certificates, alerts), split
    /// anywhere, through the TLS adapter and the per-connection TLS analysis.
    #[test]
    fn tls_adapter_takes_any_records(
        records in proptest::collection::vec((20u8..=23, proptest::collection::vec(any::<u8>(), 0..400)), 1..6),
        split in any::<usize>(),
    ) {
        let mut bytes = Vec::new();
        for (ty, body) in &records {
            bytes.extend_from_slice(&[*ty, 3, 3]);
            bytes.extend_from_slice(&(body.len() as u16).to_be_bytes());
            bytes.extend_from_slice(body);
        }
        let cut = split % (bytes.len() + 1);
        let mut reader = wsclose::tls::record::TlsReader::new();
        let mut state = wsclose::tls::session::Session::default();
        for (i, (offset, chunk)) in [(0, &bytes[..cut]), (cut, &bytes[cut..])].into_iter().enumerate() {
            let ev = StreamEvent::Data { offset: offset as u64, bytes: chunk, frame_no: i as u64 + 1, ts: wsclose::capture::Ts(0) };
            let side = if i % 2 == 0 { wsclose::tcp::Side::A } else { wsclose::tcp::Side::B };
            reader.feed(&ev, &mut |e, f, ts| {
            state.on_event(side, e, f, ts);
            None
        });
        }
        let _ = wsclose::story::tls::report(&state, wsclose::tcp::Side::A, None, false);
    }

    #[test]
    fn capture_reader_takes_any_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..400), magic in 0usize..3) {
        let heads: [&[u8]; 3] = [&[0xd4, 0xc3, 0xb2, 0xa1], &[0x0a, 0x0d, 0x0d, 0x0a], &[]];
        let mut v = heads[magic].to_vec();
        v.append(&mut bytes);
        analyze_bytes(v);
    }

    /// Valid pcap and TCP framing around arbitrary payloads: every later stage sees them.
    #[test]
    fn pipeline_takes_any_payloads(
        payloads in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..200), any::<u8>()), 1..20),
        with_handshake in any::<bool>(),
    ) {
        let mut c = if with_handshake {
            pcapgen::Conv::handshake(5, 9)
        } else {
            pcapgen::Conv { pkts: Vec::new(), cseq: 5, sseq: 9, ts_us: 1 }
        };
        for (from_client, data, flags) in payloads {
            if flags % 7 == 0 {
                c.raw(from_client, flags & 0x1f, &data);
            } else {
                c.send(from_client, &data);
            }
        }
        pipeline(&c.pcap());
    }
}

#[test]
fn every_prefix_of_a_sample_is_handled() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/wire-1015.pcap"
    ))
    .unwrap();
    for n in (0..bytes.len()).step_by(3) {
        pipeline(&bytes[..n]);
    }
}
