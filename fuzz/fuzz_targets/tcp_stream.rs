#![no_main]
//! Arbitrary TCP conversations in a valid pcap: each record of the input is
//! [flags][seq delta][len] + payload, sent by the client or the server, so the fuzzer
//! drives reassembly, the Upgrade handshake, frames and TLS past the capture framing.
use libfuzzer_sys::fuzz_target;
use wsclose_testgen::conv::{pcap, Pkt};

fuzz_target!(|data: &[u8]| {
    let mut pkts = Vec::new();
    let mut seq = [1000u32, 5000u32];
    let mut rest = data;
    let mut ts = 1u64;
    while let [flags, delta, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        let side = usize::from(flags & 0x80 != 0);
        let s = seq[side].wrapping_add(u32::from(*delta) & 0x0f);
        pkts.push(Pkt {
            ts_us: ts * 1_000_000,
            from_client: side == 0,
            seq: s,
            ack: seq[1 - side],
            flags: flags & 0x3f,
            payload: payload.to_vec(),
        });
        seq[side] = s.wrapping_add(n as u32);
        ts += 1;
        rest = next;
    }
    let input = Box::new(std::io::Cursor::new(pcap(&pkts)));
    let _ = wsclose::analyze_reader(
        "fuzz",
        input,
        false,
        // On this thread, as in the capture target (a thread per run costs more than the
        // analysis of a small capture).
        &wsclose::Options {
            pipelined: false,
            ..Default::default()
        },
        &mut |c| {
            let _ = serde_json::to_string(c);
        },
    );
});
