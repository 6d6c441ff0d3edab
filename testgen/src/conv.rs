//! Small captures built in memory for tests: one client (10.0.0.1:40000) and one server
//! (10.0.0.2:80). Takes packets as [`Pkt`] (timestamp, direction, sequence numbers, flags,
//! payload), usually through [`Conv`], which keeps both sequence numbers and the clock;
//! yields Ethernet/IPv4/TCP bytes ([`packet`]) and whole pcap files ([`pcap`]).
//!
//! Frames made here ([`frame`]) use one fixed masking key, so captures are reproducible.

use crate::packet::TcpPacket;

pub use crate::close::close_body;
pub use crate::packet::{ACK, FIN, PSH, RST, SYN};

/// The client's address and port.
pub const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
/// The server's address and port.
pub const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 80);
/// Both MAC addresses: the analysis ignores them.
pub const MAC: [u8; 6] = [0; 6];
/// Receive window of every packet.
pub const WINDOW: u16 = 0xffff;
/// Masking key of every masked frame made by [`frame`].
pub const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// Timestamp of the first packet of [`Conv::handshake`] (November 2023), in microseconds.
pub const START_US: u64 = 1_700_000_000_000_000;
/// Clock step between two packets of a [`Conv`]: 1 ms.
pub const STEP_US: u64 = 1000;

/// One packet of a conversation.
#[derive(Clone, Debug)]
pub struct Pkt {
    /// Capture time, microseconds since the epoch.
    pub ts_us: u64,
    /// Sent by the client (else by the server).
    pub from_client: bool,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (written whatever the flags).
    pub ack: u32,
    /// TCP flags ([`SYN`], [`ACK`], ...).
    pub flags: u8,
    /// TCP payload.
    pub payload: Vec<u8>,
}

/// Ethernet/IPv4/TCP bytes of one packet.
///
/// # Panics
/// When the payload does not fit in one IPv4 packet
/// ([`crate::packet::MAX_PAYLOAD`]).
pub fn packet(p: &Pkt) -> Vec<u8> {
    let (src, dst) = if p.from_client {
        (CLIENT, SERVER)
    } else {
        (SERVER, CLIENT)
    };
    TcpPacket {
        src_mac: MAC,
        dst_mac: MAC,
        src_ip: src.0,
        dst_ip: dst.0,
        src_port: src.1,
        dst_port: dst.1,
        seq: p.seq,
        ack: p.ack,
        flags: p.flags,
        window: WINDOW,
        payload: &p.payload,
    }
    .to_vec()
}

/// A microsecond pcap (Ethernet link type) holding `pkts`, in the order given.
pub fn pcap(pkts: &[Pkt]) -> Vec<u8> {
    let mut out = crate::pcap::file_header(crate::pcap::LINKTYPE_ETHERNET).to_vec();
    for p in pkts {
        crate::pcap::push_record(&mut out, p.ts_us, &packet(p));
    }
    out
}

/// A WebSocket frame; `masked` frames use [`MASK_KEY`]. See [`crate::ws::encode_frame`].
pub fn frame(fin: bool, opcode: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
    crate::ws::frame(fin, opcode, masked.then_some(MASK_KEY), payload)
}

/// A valid Upgrade request (RFC 6455 §1.3).
pub const REQUEST: &[u8] =
    b"GET /chat HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// The 101 answering [`REQUEST`], with the Sec-WebSocket-Accept of its key.
pub const RESPONSE: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// A conversation builder tracking both sequence numbers. Fields are public so tests can
/// reorder, drop or retime packets and skip sequence space.
pub struct Conv {
    /// Packets so far, in capture order.
    pub pkts: Vec<Pkt>,
    /// Client's next sequence number.
    pub cseq: u32,
    /// Server's next sequence number.
    pub sseq: u32,
    /// Timestamp of the last packet; the next one is [`STEP_US`] later.
    pub ts_us: u64,
}

impl Conv {
    /// SYN, SYN-ACK, ACK, then the Upgrade request and the 101.
    pub fn handshake(cisn: u32, sisn: u32) -> Conv {
        let mut c = Conv::connect(cisn, sisn);
        c.send(true, REQUEST);
        c.send(false, RESPONSE);
        c
    }

    /// SYN, SYN-ACK, ACK: the TCP handshake alone.
    pub fn connect(cisn: u32, sisn: u32) -> Conv {
        let mut c = Conv {
            pkts: Vec::new(),
            cseq: cisn,
            sseq: sisn,
            ts_us: START_US,
        };
        c.raw(true, SYN, &[]);
        c.cseq = c.cseq.wrapping_add(1);
        c.raw(false, SYN | ACK, &[]);
        c.sseq = c.sseq.wrapping_add(1);
        c.raw(true, ACK, &[]);
        c
    }

    /// Appends a packet at sequence number `seq` of its sender (anywhere in the sequence
    /// space), leaving both sequence numbers as they are.
    pub fn at(&mut self, from_client: bool, seq: u32, flags: u8, payload: &[u8]) {
        self.raw(from_client, flags, payload);
        if let Some(p) = self.pkts.last_mut() {
            p.seq = seq;
        }
    }

    /// Appends a packet without advancing sequence numbers.
    pub fn raw(&mut self, from_client: bool, flags: u8, payload: &[u8]) {
        self.ts_us += STEP_US;
        let (seq, ack) = if from_client {
            (self.cseq, self.sseq)
        } else {
            (self.sseq, self.cseq)
        };
        self.pkts.push(Pkt {
            ts_us: self.ts_us,
            from_client,
            seq,
            ack,
            flags,
            payload: payload.to_vec(),
        });
    }

    /// Sends `payload` in one segment and advances the sender's sequence number.
    pub fn send(&mut self, from_client: bool, payload: &[u8]) {
        self.raw(from_client, PSH | ACK, payload);
        let n = payload.len() as u32;
        if from_client {
            self.cseq = self.cseq.wrapping_add(n);
        } else {
            self.sseq = self.sseq.wrapping_add(n);
        }
    }

    /// FIN from one side.
    pub fn fin(&mut self, from_client: bool) {
        self.raw(from_client, FIN | ACK, &[]);
        if from_client {
            self.cseq = self.cseq.wrapping_add(1);
        } else {
            self.sseq = self.sseq.wrapping_add(1);
        }
    }

    /// The conversation as a pcap file.
    pub fn pcap(&self) -> Vec<u8> {
        pcap(&self.pkts)
    }
}

/// Both Close frames with `code`, client first, then both FINs.
pub fn clean_close(c: &mut Conv, code: u16) {
    c.send(true, &frame(true, 8, true, &close_body(code, b"bye")));
    c.send(false, &frame(true, 8, false, &close_body(code, b"bye")));
    c.fin(false);
    c.fin(true);
}

/// The TCP stories of edge cases: captures where what a naive reassembler assembles is not
/// what the endpoints' stacks delivered. Each returns a conversation between [`CLIENT`] and
/// [`SERVER`]; the comments say what the stacks did.
pub mod stories {
    use super::*;

    /// The client sends Close 1000; the server resets the connection (RST), and then a
    /// Close 1000 "from the server" follows its own RST. The server's stack had dropped
    /// the connection: that Close was not sent by it, and the client's stack, reset, drops
    /// it (the application sees 1006). The client's FIN closes the capture.
    pub fn close_after_own_rst() -> Conv {
        let mut c = Conv::handshake(1000, 5000);
        c.send(true, &frame(true, 1, true, b"hello"));
        c.send(true, &frame(true, 8, true, &close_body(1000, b"bye")));
        c.raw(false, RST | ACK, &[]);
        c.send(false, &frame(true, 8, false, &close_body(1000, b"bye")));
        c
    }

    /// A RST from the server 100 bytes beyond its next sequence number (in the window, not
    /// at the next byte): the client's stack answers it with a challenge ACK and keeps the
    /// connection (RFC 5961 §3.2), and the server goes on with a message and a clean close.
    pub fn rst_off_the_next_byte() -> Conv {
        let mut c = Conv::handshake(1000, 5000);
        c.send(true, &frame(true, 1, true, b"hello"));
        let far = c.sseq.wrapping_add(100);
        c.at(false, far, RST | ACK, &[]);
        c.raw(true, ACK, &[]);
        c.send(false, &frame(true, 1, false, b"still here"));
        clean_close(&mut c, 1000);
        c
    }

    /// A Close 4006 from the client `distance` bytes beyond its next sequence number, far
    /// outside any window the server advertised (65,535 bytes, no window scaling), then an
    /// ordinary closing handshake. The server's stack drops the far segment (RFC 9293
    /// §3.10.7.4: it is not acceptable), so the connection closed with 1000 both ways.
    pub fn segment_beyond_window(distance: u32) -> Conv {
        let mut c = Conv::handshake(1000, 5000);
        c.send(true, &frame(true, 1, true, b"hello"));
        let far = c.cseq.wrapping_add(distance);
        c.at(
            true,
            far,
            PSH | ACK,
            &frame(true, 8, true, &close_body(4006, b"")),
        );
        clean_close(&mut c, 1000);
        c
    }

    /// The client's SYN with ISN `first`, a second SYN with ISN `second`, and the server's
    /// SYN-ACK acknowledging the first (`ack_first`) or the second; the rest of the
    /// connection follows the acknowledged one: Upgrade, 101, a message and a clean close.
    pub fn duplicate_syn(first: u32, second: u32, ack_first: bool) -> Conv {
        let chosen = if ack_first { first } else { second };
        let mut c = Conv {
            pkts: Vec::new(),
            cseq: first,
            sseq: 9000,
            ts_us: START_US,
        };
        c.raw(true, SYN, &[]);
        c.cseq = second;
        c.raw(true, SYN, &[]);
        c.cseq = chosen.wrapping_add(1);
        c.raw(false, SYN | ACK, &[]);
        c.sseq = c.sseq.wrapping_add(1);
        c.raw(true, ACK, &[]);
        c.send(true, REQUEST);
        c.send(false, RESPONSE);
        c.send(true, &frame(true, 1, true, b"hello"));
        clean_close(&mut c, 1000);
        c
    }

    /// The server sends a binary message of `message_len` bytes and a Close 1001 in
    /// segments of `seg_len` bytes, captured in reverse order: the receiver holds them all
    /// until the last packet, which fills the first hole, and only then delivers the
    /// message and the Close. The client answers the Close 1 ms later; both FINs follow.
    pub fn reversed_stream(message_len: usize, seg_len: usize) -> Conv {
        let mut c = Conv::handshake(1000, 5000);
        let mut bytes = frame(true, 2, false, &vec![b'x'; message_len]);
        bytes.extend(frame(true, 8, false, &close_body(1001, b"going away")));
        let start = c.sseq;
        let mut pieces: Vec<(usize, &[u8])> = Vec::new();
        let mut at = 0;
        for chunk in bytes.chunks(seg_len.max(1)) {
            pieces.push((at, chunk));
            at += chunk.len();
        }
        for (off, chunk) in pieces.into_iter().rev() {
            c.at(false, start.wrapping_add(off as u32), PSH | ACK, chunk);
        }
        c.sseq = start.wrapping_add(bytes.len() as u32);
        c.send(true, &frame(true, 8, true, &close_body(1001, b"")));
        c.fin(false);
        c.fin(true);
        c
    }

    /// The server's 32-byte binary frame (a 30-byte payload of b'a') arrives in pieces,
    /// two of which carry different bytes for stream bytes another piece already holds:
    /// hole at 0..5; [10, 20) buffered; [5, 15) buffered with b'B' where it overlaps
    /// [10, 15); [0, 12) in order with b'C' over [5, 12); [20, 32) last. Two conflicting
    /// overlaps, both with out-of-order data. A clean close follows.
    pub fn conflicting_overlaps() -> Conv {
        let mut c = Conv::handshake(1000, 5000);
        let good = frame(true, 2, false, &[b'a'; 30]);
        let start = c.sseq;
        let seg = |from: usize, to: usize, bad: Option<(usize, usize, u8)>| {
            let mut piece = good[from..to].to_vec();
            if let Some((bf, bt, b)) = bad {
                for (i, byte) in piece.iter_mut().enumerate() {
                    if (bf..bt).contains(&(from + i)) {
                        *byte = b;
                    }
                }
            }
            (start.wrapping_add(from as u32), piece)
        };
        for (seq, piece) in [
            seg(10, 20, None),
            seg(5, 15, Some((10, 15, b'B'))),
            seg(0, 12, Some((5, 12, b'C'))),
            seg(20, 32, None),
        ] {
            c.at(false, seq, PSH | ACK, &piece);
        }
        c.sseq = start.wrapping_add(good.len() as u32);
        clean_close(&mut c, 1000);
        c
    }

    /// An Upgrade request with a header of `pad` bytes (past wsclose's 32 KiB limit on an
    /// HTTP head when `pad` is large), answered by a 101, then a clean close.
    pub fn oversized_handshake(pad: usize) -> Conv {
        let mut c = Conv::connect(1000, 5000);
        let mut req = REQUEST[..REQUEST.len() - 2].to_vec();
        req.extend_from_slice(b"X-Pad: ");
        req.extend(std::iter::repeat_n(b'p', pad));
        req.extend_from_slice(b"\r\n\r\n");
        for chunk in req.chunks(1400) {
            c.send(true, chunk);
        }
        c.send(false, RESPONSE);
        c.send(true, &frame(true, 1, true, b"hello"));
        clean_close(&mut c, 1000);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{HEADERS_LEN, TCP_OFFSET};
    use crate::pcap::{FILE_HEADER_LEN, RECORD_HEADER_LEN};

    #[test]
    fn handshake_counts_syn_and_payload_bytes() {
        let c = Conv::handshake(u32::MAX, 7);
        let flags: Vec<u8> = c.pkts.iter().map(|p| p.flags).collect();
        assert_eq!(flags, [SYN, SYN | ACK, ACK, PSH | ACK, PSH | ACK]);
        assert_eq!(c.pkts[0].seq, u32::MAX);
        assert_eq!(c.pkts[2].seq, 0, "the SYN takes one, wrapping");
        assert_eq!(c.pkts[3].ack, 8);
        assert_eq!(c.cseq, REQUEST.len() as u32);
        assert_eq!(c.sseq, 8 + RESPONSE.len() as u32);
        assert_eq!(c.ts_us, START_US + 5 * STEP_US);
    }

    /// Records follow each other without padding, ports at the packet module's offsets:
    /// the layout tests rely on to patch ports after the fact.
    #[test]
    fn pcap_layout_is_predictable() {
        let mut c = Conv::handshake(1, 1);
        c.send(false, b"abc");
        let bytes = c.pcap();
        let mut off = FILE_HEADER_LEN;
        for p in &c.pkts {
            let tcp = off + RECORD_HEADER_LEN + TCP_OFFSET;
            let (sport, dport) = if p.from_client {
                (CLIENT.1, SERVER.1)
            } else {
                (SERVER.1, CLIENT.1)
            };
            assert_eq!(bytes[tcp..tcp + 2], sport.to_be_bytes());
            assert_eq!(bytes[tcp + 2..tcp + 4], dport.to_be_bytes());
            off += RECORD_HEADER_LEN + HEADERS_LEN + p.payload.len();
        }
        assert_eq!(off, bytes.len());
    }

    #[test]
    fn frames_use_the_fixed_key() {
        assert_eq!(
            frame(true, 1, true, b"")[..],
            [0x81, 0x80, 0x37, 0xfa, 0x21, 0x3d]
        );
        assert_eq!(frame(false, 8, false, b"")[..], [0x08, 0x00]);
    }
}
