#![no_main]
//! Structure-aware: plausible TCP/WebSocket conversations, chosen by the fuzzer through
//! `arbitrary`, written as a pcap with testgen and analysed as the capture target does.
//!
//! A conversation is a few connections (ports drawn from a small set, so 4-tuples get
//! reused), each with an opening (three-way handshake, or picked up mid-stream), an Upgrade
//! handshake (plain, permessage-deflate, rejected, bad accept, none, garbage), frames of
//! every opcode (masked or not, RSV bits, fragmented and compressed messages, Close codes
//! legal and not, TLS alerts, raw bytes) cut into segments of a chosen size, and an ending
//! (FINs, RSTs, data after them). The connections are interleaved, then edited as a network
//! and a hostile sender would: segments split, reordered, duplicated with conflicting
//! bytes, lost, shifted far outside the window, RST/FIN injected at odd places, flags
//! rewritten, time running backwards.
//!
//! Checked on every run, beyond not panicking:
//! - the counts of connections are at most the distinct 4-tuples plus the SYNs seen (no
//!   count inflates past what the capture could hold);
//! - within a connection, closes are listed in capture (packet) order;
//! - every packet number the report names (`frame`, `*_frame`) is one of the capture's;
//! - the file's packet count is the number of records written;
//! - each connection and the file report serialise to JSON.
//!
//! `WSCLOSE_FUZZ_PCAP=FILE` writes the capture of each run to FILE (see `dump_path`).
use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use std::io::Write;
use wsclose_testgen::packet::{TcpPacket, ACK, FIN, PSH, RST, SYN};

const MAX_CONNS: usize = 4;
const MAX_MSGS: usize = 12;
const MAX_EDITS: usize = 16;
/// Payloads repeated to a length: up to past the 16-bit length encoding.
const MAX_REPEAT: usize = 70_000;

#[derive(Arbitrary, Debug)]
struct Input {
    conns: Vec<ConnSpec>,
    /// Which connection sends its next packet, in turn (then the rest in order).
    interleave: Vec<u8>,
    edits: Vec<Edit>,
}

#[derive(Arbitrary, Debug)]
struct ConnSpec {
    /// 40000 + this % 3: connections share 4-tuples often.
    client_port: u8,
    second_client: bool,
    server_port: ServerPort,
    cisn: u32,
    sisn: u32,
    opening: Opening,
    handshake: Handshake,
    msgs: Vec<Msg>,
    end: End,
    /// Largest segment payload: 1 + this % 64, or a full one when 0.
    mss: u8,
}

#[derive(Arbitrary, Debug)]
enum ServerPort {
    Http,
    Https,
    Alt,
    Other(u16),
}

#[derive(Arbitrary, Debug)]
enum Opening {
    /// SYN, SYN-ACK, ACK.
    ThreeWay,
    /// The SYN-ACK lost.
    NoSynAck,
    /// Picked up mid-stream.
    MidStream,
    /// Two SYNs with different ISNs, the SYN-ACK answering the first or the second.
    TwoSyns { other_isn: u32, answer_second: bool },
    /// A SYN answered by RST (refused), then the rest anyway.
    Refused,
}

#[derive(Arbitrary, Debug)]
enum Handshake {
    None,
    Plain,
    Deflate {
        client_no_context: bool,
        server_no_context: bool,
        window_bits: Option<u8>,
    },
    Subprotocol,
    Rejected {
        status: u16,
    },
    BadAccept,
    RequestOnly,
    Garbage {
        request: Vec<u8>,
        response: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug)]
enum Msg {
    Frame {
        from_client: bool,
        fin: bool,
        rsv: u8,
        opcode: u8,
        mask: Mask,
        payload: Payload,
    },
    /// A data message in `fragments` frames (1 + this % 5), optionally compressed (RSV1 on
    /// the first frame), with a ping between fragments.
    Message {
        from_client: bool,
        text: bool,
        compressed: bool,
        fragments: u8,
        ping_inside: bool,
        payload: Payload,
    },
    Close {
        from_client: bool,
        code: Code,
        reason: Vec<u8>,
        mask: Mask,
    },
    Ping {
        from_client: bool,
        payload: Vec<u8>,
    },
    Pong {
        from_client: bool,
        payload: Vec<u8>,
    },
    TlsAlert {
        from_client: bool,
        level: u8,
        description: u8,
    },
    Raw {
        from_client: bool,
        bytes: Vec<u8>,
    },
    /// Nothing sent for a while (milliseconds).
    Idle(u16),
}

#[derive(Arbitrary, Debug)]
enum Mask {
    /// As RFC 6455 says: masked from the client only.
    Right,
    Never,
    Always,
    Key([u8; 4]),
}

#[derive(Arbitrary, Debug)]
enum Payload {
    Bytes(Vec<u8>),
    Text(String),
    Repeat { byte: u8, len: u32 },
}

#[derive(Arbitrary, Debug)]
enum Code {
    Defined(u8),
    Illegal(u8),
    Application(u16),
    Any(u16),
    /// No body at all.
    Empty,
    /// One byte of body: not even a code.
    OneByte(u8),
}

#[derive(Arbitrary, Debug)]
enum End {
    None,
    Fins {
        client_first: bool,
    },
    Fin {
        from_client: bool,
    },
    Rst {
        from_client: bool,
    },
    /// RST, then the same side sends a Close anyway.
    RstThenClose {
        from_client: bool,
        code: u16,
    },
    /// FIN, then more data from the same side.
    FinThenData {
        from_client: bool,
        bytes: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Split {
        at: u16,
        cut: u16,
    },
    Swap {
        at: u16,
        distance: u8,
    },
    /// A copy, later in the capture, its bytes changed (conflicting) or its sequence number
    /// moved (a segment from elsewhere in the stream, or far outside the window).
    Duplicate {
        at: u16,
        later: u8,
        conflict: Option<(u16, u8)>,
        shift: Option<u32>,
    },
    Drop {
        at: u16,
    },
    Rst {
        at: u16,
        seq_delta: i16,
    },
    Fin {
        at: u16,
    },
    /// Far outside any window (and back: wrapping).
    Shift {
        at: u16,
        delta: u32,
    },
    Flags {
        at: u16,
        flags: u8,
    },
    TimeBack {
        at: u16,
        ms: u16,
    },
}

const DEFINED: [u16; 13] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015,
];
const ILLEGAL: [u16; 12] = [
    0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2999, 5000, 65535,
];
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

#[derive(Clone, Debug)]
struct Pkt {
    conn: usize,
    ts_us: u64,
    from_client: bool,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: Vec<u8>,
}

struct Addr {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
}

/// One connection's packets, tracking both sequence numbers.
struct Builder {
    conn: usize,
    pkts: Vec<Pkt>,
    cseq: u32,
    sseq: u32,
    mss: usize,
    idle_us: u64,
}

impl Builder {
    fn raw(&mut self, from_client: bool, flags: u8, payload: Vec<u8>) {
        let (seq, ack) = if from_client {
            (self.cseq, self.sseq)
        } else {
            (self.sseq, self.cseq)
        };
        self.pkts.push(Pkt {
            conn: self.conn,
            ts_us: std::mem::take(&mut self.idle_us),
            from_client,
            seq,
            ack,
            flags,
            payload,
        });
    }

    fn advance(&mut self, from_client: bool, n: u32) {
        let s = if from_client {
            &mut self.cseq
        } else {
            &mut self.sseq
        };
        *s = s.wrapping_add(n);
    }

    /// `bytes` in segments of at most `mss`.
    fn send(&mut self, from_client: bool, bytes: &[u8]) {
        for chunk in bytes.chunks(self.mss.max(1)) {
            self.raw(from_client, PSH | ACK, chunk.to_vec());
            self.advance(from_client, chunk.len() as u32);
        }
    }

    fn fin(&mut self, from_client: bool) {
        self.raw(from_client, FIN | ACK, Vec::new());
        self.advance(from_client, 1);
    }
}

impl Payload {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Payload::Bytes(b) => b.clone(),
            Payload::Text(s) => s.as_bytes().to_vec(),
            Payload::Repeat { byte, len } => vec![*byte; *len as usize % MAX_REPEAT],
        }
    }
}

fn mask_key(mask: &Mask, from_client: bool) -> Option<[u8; 4]> {
    match mask {
        Mask::Right => from_client.then_some([0x37, 0xfa, 0x21, 0x3d]),
        Mask::Never => None,
        Mask::Always => Some([1, 2, 3, 4]),
        Mask::Key(k) => Some(*k),
    }
}

fn right_mask(from_client: bool) -> Option<[u8; 4]> {
    mask_key(&Mask::Right, from_client)
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(data);
    let mut out = e.finish().unwrap_or_default();
    // permessage-deflate drops the final empty block's 00 00 ff ff (RFC 7692 §7.2.1).
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    out
}

fn handshake(b: &mut Builder, h: &Handshake) {
    let request = |ext: &str| {
        format!(
            "GET /fuzz HTTP/1.1\r\nHost: fuzz.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
        )
    };
    let response = |accept: &str, ext: &str| {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: {accept}\r\n{ext}\r\n"
        )
    };
    match h {
        Handshake::None => {}
        Handshake::Plain => {
            b.send(true, request("").as_bytes());
            b.send(false, response(ACCEPT, "").as_bytes());
        }
        Handshake::Deflate {
            client_no_context,
            server_no_context,
            window_bits,
        } => {
            let mut ext = String::from("permessage-deflate");
            if *client_no_context {
                ext.push_str("; client_no_context_takeover");
            }
            if *server_no_context {
                ext.push_str("; server_no_context_takeover");
            }
            if let Some(bits) = window_bits {
                ext.push_str(&format!("; server_max_window_bits={}", 8 + bits % 8));
            }
            let line = format!("Sec-WebSocket-Extensions: {ext}\r\n");
            b.send(true, request(&line).as_bytes());
            b.send(false, response(ACCEPT, &line).as_bytes());
        }
        Handshake::Subprotocol => {
            b.send(
                true,
                request("Sec-WebSocket-Protocol: chat, superchat\r\n").as_bytes(),
            );
            b.send(
                false,
                response(ACCEPT, "Sec-WebSocket-Protocol: chat\r\n").as_bytes(),
            );
        }
        Handshake::Rejected { status } => {
            b.send(true, request("").as_bytes());
            let r = format!(
                "HTTP/1.1 {} Nope\r\nContent-Length: 0\r\n\r\n",
                100 + status % 500
            );
            b.send(false, r.as_bytes());
        }
        Handshake::BadAccept => {
            b.send(true, request("").as_bytes());
            b.send(
                false,
                response("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "").as_bytes(),
            );
        }
        Handshake::RequestOnly => b.send(true, request("").as_bytes()),
        Handshake::Garbage { request, response } => {
            let mut r = b"GET / HTTP/1.1\r\n".to_vec();
            r.extend_from_slice(request);
            b.send(true, &r);
            let mut s = b"HTTP/1.1 101 ".to_vec();
            s.extend_from_slice(response);
            b.send(false, &s);
        }
    }
}

fn message(b: &mut Builder, m: &Msg, compressed_ok: bool) {
    use wsclose_testgen::ws::encode_frame;
    let mut out = Vec::new();
    let from_client = match m {
        Msg::Frame {
            from_client,
            fin,
            rsv,
            opcode,
            mask,
            payload,
        } => {
            let first = (rsv & 0x7) << 4 | (opcode & 0xf);
            let key = mask_key(mask, *from_client);
            encode_frame(&mut out, *fin, first, key, &payload.bytes());
            *from_client
        }
        Msg::Message {
            from_client,
            text,
            compressed,
            fragments,
            ping_inside,
            payload,
        } => {
            let mut data = payload.bytes();
            let compressed = *compressed && compressed_ok;
            if compressed {
                data = deflate(&data);
            }
            let n = 1 + usize::from(*fragments % 5);
            let size = data.len().div_ceil(n).max(1);
            let mut parts: Vec<&[u8]> = data.chunks(size).collect();
            if parts.is_empty() {
                parts.push(&[]);
            }
            let key = right_mask(*from_client);
            let last = parts.len() - 1;
            for (i, part) in parts.iter().enumerate() {
                let opcode = match (i, *text) {
                    (0, true) => 0x1,
                    (0, false) => 0x2,
                    _ => 0x0,
                };
                let rsv1 = if i == 0 && compressed { 0x40 } else { 0 };
                encode_frame(&mut out, i == last, rsv1 | opcode, key, part);
                if *ping_inside && i == 0 && last > 0 {
                    encode_frame(&mut out, true, 0x9, key, b"in");
                }
            }
            *from_client
        }
        Msg::Close {
            from_client,
            code,
            reason,
            mask,
        } => {
            let mut body = Vec::new();
            match code {
                Code::Defined(i) => {
                    body.extend(DEFINED[usize::from(*i) % DEFINED.len()].to_be_bytes())
                }
                Code::Illegal(i) => {
                    body.extend(ILLEGAL[usize::from(*i) % ILLEGAL.len()].to_be_bytes())
                }
                Code::Application(c) => body.extend((3000 + c % 2000).to_be_bytes()),
                Code::Any(c) => body.extend(c.to_be_bytes()),
                Code::Empty => {}
                Code::OneByte(x) => body.push(*x),
            }
            if body.len() == 2 {
                body.extend_from_slice(&reason[..reason.len().min(200)]);
            }
            encode_frame(&mut out, true, 0x8, mask_key(mask, *from_client), &body);
            *from_client
        }
        Msg::Ping {
            from_client,
            payload,
        } => {
            encode_frame(&mut out, true, 0x9, right_mask(*from_client), payload);
            *from_client
        }
        Msg::Pong {
            from_client,
            payload,
        } => {
            encode_frame(&mut out, true, 0xa, right_mask(*from_client), payload);
            *from_client
        }
        Msg::TlsAlert {
            from_client,
            level,
            description,
        } => {
            out.extend_from_slice(&[0x15, 0x03, 0x03, 0x00, 0x02, *level, *description]);
            *from_client
        }
        Msg::Raw { from_client, bytes } => {
            out.extend_from_slice(bytes);
            *from_client
        }
        Msg::Idle(ms) => {
            b.idle_us += u64::from(*ms) * 1000;
            return;
        }
    };
    b.send(from_client, &out);
}

fn connection(conn: usize, spec: &ConnSpec) -> Vec<Pkt> {
    let mut b = Builder {
        conn,
        pkts: Vec::new(),
        cseq: spec.cisn,
        sseq: spec.sisn,
        mss: match spec.mss {
            0 => 1460,
            m => 1 + usize::from(m % 64),
        },
        idle_us: 0,
    };
    match &spec.opening {
        Opening::ThreeWay => {
            b.raw(true, SYN, Vec::new());
            b.advance(true, 1);
            b.raw(false, SYN | ACK, Vec::new());
            b.advance(false, 1);
            b.raw(true, ACK, Vec::new());
        }
        Opening::NoSynAck => {
            b.raw(true, SYN, Vec::new());
            b.advance(true, 1);
            b.advance(false, 1);
            b.raw(true, ACK, Vec::new());
        }
        Opening::MidStream => {}
        Opening::TwoSyns {
            other_isn,
            answer_second,
        } => {
            let first = b.cseq;
            b.raw(true, SYN, Vec::new());
            b.cseq = *other_isn;
            b.raw(true, SYN, Vec::new());
            b.cseq = if *answer_second { *other_isn } else { first };
            b.advance(true, 1);
            b.raw(false, SYN | ACK, Vec::new());
            b.advance(false, 1);
            b.raw(true, ACK, Vec::new());
        }
        Opening::Refused => {
            b.raw(true, SYN, Vec::new());
            b.advance(true, 1);
            b.raw(false, RST | ACK, Vec::new());
        }
    }
    handshake(&mut b, &spec.handshake);
    let deflate_ok = matches!(spec.handshake, Handshake::Deflate { .. });
    for m in spec.msgs.iter().take(MAX_MSGS) {
        message(&mut b, m, deflate_ok);
    }
    match &spec.end {
        End::None => {}
        End::Fins { client_first } => {
            b.fin(*client_first);
            b.fin(!*client_first);
            b.raw(*client_first, ACK, Vec::new());
        }
        End::Fin { from_client } => b.fin(*from_client),
        End::Rst { from_client } => b.raw(*from_client, RST | ACK, Vec::new()),
        End::RstThenClose { from_client, code } => {
            b.raw(*from_client, RST | ACK, Vec::new());
            let mut out = Vec::new();
            wsclose_testgen::ws::encode_frame(
                &mut out,
                true,
                0x8,
                right_mask(*from_client),
                &code.to_be_bytes(),
            );
            b.send(*from_client, &out);
        }
        End::FinThenData { from_client, bytes } => {
            b.fin(*from_client);
            b.send(*from_client, bytes);
        }
    }
    b.pkts
}

fn edit(pkts: &mut Vec<Pkt>, e: &Edit) {
    if pkts.is_empty() {
        return;
    }
    let n = pkts.len();
    let at = |i: &u16| usize::from(*i) % n;
    match e {
        Edit::Split { at: i, cut } => {
            let i = at(i);
            let len = pkts[i].payload.len();
            if len > 1 {
                let cut = 1 + usize::from(*cut) % (len - 1);
                let mut second = pkts[i].clone();
                second.payload = pkts[i].payload.split_off(cut);
                second.seq = second.seq.wrapping_add(cut as u32);
                pkts[i].flags &= !(FIN | PSH);
                pkts.insert(i + 1, second);
            }
        }
        Edit::Swap { at: i, distance } => {
            let i = at(i);
            let j = (i + 1 + usize::from(*distance % 4)).min(n - 1);
            pkts.swap(i, j);
        }
        Edit::Duplicate {
            at: i,
            later,
            conflict,
            shift,
        } => {
            let i = at(i);
            let mut copy = pkts[i].clone();
            copy.seq = copy.seq.wrapping_add(shift.unwrap_or(0));
            if let Some((off, byte)) = conflict {
                if !copy.payload.is_empty() {
                    let k = usize::from(*off) % copy.payload.len();
                    copy.payload[k] ^= byte | 1;
                }
            }
            let j = (i + 1 + usize::from(*later % 8)).min(n);
            pkts.insert(j, copy);
        }
        Edit::Drop { at: i } => {
            pkts.remove(at(i));
        }
        Edit::Rst { at: i, seq_delta } => {
            let i = at(i);
            let mut p = pkts[i].clone();
            p.flags = RST | ACK;
            p.seq = p.seq.wrapping_add(*seq_delta as i32 as u32);
            p.payload.clear();
            pkts.insert(i, p);
        }
        Edit::Fin { at: i } => {
            let i = at(i);
            pkts[i].flags |= FIN;
        }
        Edit::Shift { at: i, delta } => {
            let i = at(i);
            pkts[i].seq = pkts[i].seq.wrapping_add(*delta);
        }
        Edit::Flags { at: i, flags } => {
            let i = at(i);
            pkts[i].flags = *flags;
        }
        Edit::TimeBack { at: i, ms } => {
            let i = at(i);
            pkts[i].ts_us = pkts[i].ts_us.saturating_sub(u64::from(*ms) * 1000);
        }
    }
}

/// Walks a report's JSON: every packet number it names must be one of the capture's.
fn check_frames(v: &serde_json::Value, packets: u64, path: &mut String) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k == "frame" || k.ends_with("_frame") {
                    if let Some(n) = v.as_u64() {
                        assert!(
                            n <= packets,
                            "{path}.{k} = {n}, but the capture has {packets} packets"
                        );
                    }
                }
                let len = path.len();
                path.push('.');
                path.push_str(k);
                check_frames(v, packets, path);
                path.truncate(len);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                check_frames(item, packets, path);
            }
        }
        _ => {}
    }
}

/// `WSCLOSE_FUZZ_PCAP=FILE`: each run also writes its capture there, to look at an input
/// (`conversation INPUT` runs it once) with `wsclose analyze FILE` or tshark.
fn dump_path() -> Option<&'static std::path::Path> {
    static PATH: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    PATH.get_or_init(|| std::env::var_os("WSCLOSE_FUZZ_PCAP").map(Into::into))
        .as_deref()
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let conns: Vec<&ConnSpec> = input.conns.iter().take(MAX_CONNS).collect();
    let addrs: Vec<Addr> = conns
        .iter()
        .map(|c| Addr {
            client: (
                if c.second_client {
                    [10, 0, 0, 3]
                } else {
                    [10, 0, 0, 1]
                },
                40000 + u16::from(c.client_port % 3),
            ),
            server: (
                [10, 0, 0, 2],
                match c.server_port {
                    ServerPort::Http => 80,
                    ServerPort::Https => 443,
                    ServerPort::Alt => 8080,
                    ServerPort::Other(p) => p,
                },
            ),
        })
        .collect();
    let mut queues: Vec<std::collections::VecDeque<Pkt>> = conns
        .iter()
        .enumerate()
        .map(|(i, c)| connection(i, c).into())
        .collect();

    // Interleave: the choices first, then whatever is left, in connection order. Each
    // packet is 1 ms after the one before, plus its connection's idle time.
    let mut pkts = Vec::new();
    let mut clock = 1_700_000_000_000_000u64;
    let mut place = |p: Pkt, pkts: &mut Vec<Pkt>| {
        clock += 1000 + p.ts_us;
        pkts.push(Pkt { ts_us: clock, ..p });
    };
    if !queues.is_empty() {
        for c in &input.interleave {
            let q = usize::from(*c) % queues.len();
            if let Some(p) = queues[q].pop_front() {
                place(p, &mut pkts);
            }
        }
    }
    for q in &mut queues {
        while let Some(p) = q.pop_front() {
            place(p, &mut pkts);
        }
    }
    for e in input.edits.iter().take(MAX_EDITS) {
        edit(&mut pkts, e);
    }

    // The capture, and what it could at most hold: distinct 4-tuples, plus one
    // connection per SYN.
    let mut file =
        wsclose_testgen::pcap::file_header(wsclose_testgen::pcap::LINKTYPE_ETHERNET).to_vec();
    let mut tuples = HashSet::new();
    let mut syns = 0u64;
    for p in &pkts {
        let a = &addrs[p.conn];
        let (src, dst) = if p.from_client {
            (a.client, a.server)
        } else {
            (a.server, a.client)
        };
        tuples.insert(if src < dst { (src, dst) } else { (dst, src) });
        if p.flags & SYN != 0 {
            syns += 1;
        }
        let frame = TcpPacket {
            src_mac: [0; 6],
            dst_mac: [0; 6],
            src_ip: src.0,
            dst_ip: dst.0,
            src_port: src.1,
            dst_port: dst.1,
            seq: p.seq,
            ack: p.ack,
            flags: p.flags,
            window: 0xffff,
            payload: &p.payload,
        }
        .to_vec();
        wsclose_testgen::pcap::push_record(&mut file, p.ts_us, &frame);
    }
    if let Some(path) = dump_path() {
        std::fs::write(path, &file).expect("writing the capture");
    }
    let packets = pkts.len() as u64;
    let most = tuples.len() as u64 + syns;

    let opts = wsclose::Options {
        pipelined: false,
        ..Default::default()
    };
    let mut reported = 0u64;
    let (report, err) = wsclose::analyze_reader(
        "fuzz",
        Box::new(std::io::Cursor::new(file)),
        false,
        &opts,
        &mut |c| {
            reported += 1;
            let frames: Vec<u64> = c.closes.iter().map(|close| close.frame).collect();
            assert!(
                frames.windows(2).all(|w| w[0] <= w[1]),
                "connection #{}: closes not in capture order: packets {frames:?}",
                c.id
            );
            let json = serde_json::to_value(c).expect("a connection serialises to JSON");
            check_frames(&json, packets, &mut String::from("connection"));
        },
    );
    assert!(
        err.is_none(),
        "a well-formed pcap reads without error: {err:?}"
    );
    assert_eq!(report.summary.packets, packets);
    let s = &report.summary;
    assert!(
        reported <= most && s.websocket_connections <= most && s.tcp_connections <= most,
        "{reported} connections reported ({} WebSocket, {} TCP in the summary) from {} \
         4-tuples and {syns} SYNs",
        s.websocket_connections,
        s.tcp_connections,
        tuples.len()
    );
    let json = serde_json::to_value(&report).expect("the file report serialises to JSON");
    check_frames(&json, packets, &mut String::from("file"));
});
