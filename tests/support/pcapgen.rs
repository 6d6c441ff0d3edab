//! Builds small pcap files in memory for tests: Ethernet + IPv4 + TCP packets with chosen
//! sequence numbers, flags and payloads, and WebSocket frames to put in them.
#![allow(dead_code)]

pub const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
pub const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 80);

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH: u8 = 0x08;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;

#[derive(Clone)]
pub struct Pkt {
    pub ts_us: u64,
    pub from_client: bool,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: Vec<u8>,
}

/// Ethernet/IPv4/TCP bytes of one packet.
pub fn packet(p: &Pkt) -> Vec<u8> {
    let (src, dst) = if p.from_client {
        (CLIENT, SERVER)
    } else {
        (SERVER, CLIENT)
    };
    let mut v = vec![0u8; 12];
    v.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 20 + p.payload.len()) as u16;
    v.extend_from_slice(&[
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
    v.extend_from_slice(&src.0);
    v.extend_from_slice(&dst.0);
    v.extend_from_slice(&src.1.to_be_bytes());
    v.extend_from_slice(&dst.1.to_be_bytes());
    v.extend_from_slice(&p.seq.to_be_bytes());
    v.extend_from_slice(&p.ack.to_be_bytes());
    v.extend_from_slice(&[0x50, p.flags, 0xff, 0xff, 0, 0, 0, 0]);
    v.extend_from_slice(&p.payload);
    v
}

/// A microsecond pcap (Ethernet link type) holding `pkts`.
pub fn pcap(pkts: &[Pkt]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for p in pkts {
        let data = packet(p);
        out.extend_from_slice(&((p.ts_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((p.ts_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
    }
    out
}

/// A WebSocket frame: `masked` frames use a fixed key.
pub fn frame(fin: bool, opcode: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![(if fin { 0x80 } else { 0 }) | opcode];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => v.push(m | n as u8),
        n if n <= 0xffff => {
            v.push(m | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(m | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [0x37, 0xfa, 0x21, 0x3d];
    if masked {
        v.extend_from_slice(&key);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        v.extend_from_slice(payload);
    }
    v
}

/// A Close frame body: code and reason.
pub fn close_body(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut v = code.to_be_bytes().to_vec();
    v.extend_from_slice(reason);
    v
}

pub const REQUEST: &[u8] =
    b"GET /chat HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
pub const RESPONSE: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// A conversation builder tracking both sequence numbers.
pub struct Conv {
    pub pkts: Vec<Pkt>,
    pub cseq: u32,
    pub sseq: u32,
    pub ts_us: u64,
}

impl Conv {
    /// SYN, SYN-ACK, ACK, then the Upgrade request and the 101.
    pub fn handshake(cisn: u32, sisn: u32) -> Conv {
        let mut c = Conv {
            pkts: Vec::new(),
            cseq: cisn,
            sseq: sisn,
            ts_us: 1_700_000_000_000_000,
        };
        c.raw(true, SYN, &[]);
        c.cseq = c.cseq.wrapping_add(1);
        c.raw(false, SYN | ACK, &[]);
        c.sseq = c.sseq.wrapping_add(1);
        c.raw(true, ACK, &[]);
        c.send(true, REQUEST);
        c.send(false, RESPONSE);
        c
    }

    /// Appends a packet without advancing sequence numbers.
    pub fn raw(&mut self, from_client: bool, flags: u8, payload: &[u8]) {
        self.ts_us += 1000;
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

    pub fn pcap(&self) -> Vec<u8> {
        pcap(&self.pkts)
    }
}
