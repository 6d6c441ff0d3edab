#![no_main]
//! Arbitrary TCP conversations in a valid pcap: each record of the input is
//! [flags][seq delta][len] + payload, sent by the client or the server, so the fuzzer
//! drives reassembly, the Upgrade handshake, frames and TLS past the capture framing.
use libfuzzer_sys::fuzz_target;

fn packet(
    out: &mut Vec<u8>,
    ts: u32,
    from_client: bool,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) {
    let (src, dst, sport, dport) = if from_client {
        ([10, 0, 0, 1], [10, 0, 0, 2], 40000u16, 80u16)
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000)
    };
    let mut p = vec![0u8; 12];
    p.extend_from_slice(&[0x08, 0x00]);
    let total = (40 + payload.len()) as u16;
    p.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ack.to_be_bytes());
    p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    out.extend_from_slice(&ts.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(p.len() as u32).to_le_bytes());
    out.extend_from_slice(&(p.len() as u32).to_le_bytes());
    out.extend_from_slice(&p);
}

fuzz_target!(|data: &[u8]| {
    let mut file = Vec::new();
    for v in [
        0xa1b2c3d4u32.to_le_bytes(),
        [2, 0, 4, 0],
        [0; 4],
        [0; 4],
        65535u32.to_le_bytes(),
        1u32.to_le_bytes(),
    ] {
        file.extend_from_slice(&v);
    }
    let mut seq = [1000u32, 5000u32];
    let mut rest = data;
    let mut ts = 1;
    while let [flags, delta, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        let side = usize::from(flags & 0x80 != 0);
        let s = seq[side].wrapping_add(u32::from(*delta) & 0x0f);
        packet(
            &mut file,
            ts,
            side == 0,
            s,
            seq[1 - side],
            flags & 0x3f,
            payload,
        );
        seq[side] = s.wrapping_add(n as u32);
        ts += 1;
        rest = next;
    }
    let input = Box::new(std::io::Cursor::new(file));
    let _ = wsclose::analyze_reader(
        "fuzz",
        input,
        false,
        &wsclose::Options::default(),
        &mut |c| {
            let _ = serde_json::to_string(c);
        },
    );
});
