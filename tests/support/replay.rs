//! Recorded conversations replayed: the TCP payloads of a capture in order, and a new
//! capture that sends them again, as one session or many, cut into segments of chosen
//! sizes. Shared by the decryption tests and the wss:// bench.

use std::fs::File;
use std::path::Path;

use wsclose_testgen::conv::{Conv, ACK, START_US, SYN};

/// The TCP payloads of the capture at `path` in order: (from the client, bytes). The client
/// is the sender of the first packet (recorded sessions start with the SYN).
pub fn payloads(path: &Path) -> Vec<(bool, Vec<u8>)> {
    let file = File::open(path).expect("capture");
    let mut info = wsclose::capture::CaptureInfo::default();
    let mut client = None;
    let mut out = Vec::new();
    let r = wsclose::capture::read_packets("replay", Box::new(file), &mut info, |r| {
        let wsclose::capture::Record::Packet(p) = r else {
            return;
        };
        if let Ok(seg) = wsclose::decode::decode(p.linktype, p.data, p.orig_len) {
            let port = *client.get_or_insert(seg.src_port);
            if !seg.payload.is_empty() {
                out.push((seg.src_port == port, seg.payload.to_vec()));
            }
        }
    });
    assert!(r.is_ok(), "{}: {r:?}", path.display());
    out
}

/// An empty conversation to replay sessions into.
pub fn conv() -> Conv {
    Conv {
        pkts: Vec::new(),
        cseq: 1,
        sseq: 1,
        ts_us: START_US,
    }
}

/// One session on `c`: SYN, SYN-ACK, ACK from initial sequence numbers `isn`, every
/// payload cut into segments of the sizes in `cuts` (taken in turn; empty: whole), then a
/// FIN each way.
pub fn session(c: &mut Conv, isn: (u32, u32), payloads: &[(bool, Vec<u8>)], cuts: &[usize]) {
    (c.cseq, c.sseq) = isn;
    c.raw(true, SYN, &[]);
    c.cseq = c.cseq.wrapping_add(1);
    c.raw(false, SYN | ACK, &[]);
    c.sseq = c.sseq.wrapping_add(1);
    c.raw(true, ACK, &[]);
    let mut sizes = cuts.iter().cycle();
    for (from_client, bytes) in payloads {
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = sizes
                .next()
                .copied()
                .unwrap_or(rest.len())
                .clamp(1, rest.len());
            let (piece, tail) = rest.split_at(n);
            c.send(*from_client, piece);
            rest = tail;
        }
    }
    c.fin(true);
    c.fin(false);
}
