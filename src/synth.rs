//! Synthetic capture generator, for benchmarks and memory tests: many interleaved WebSocket
//! connections over Ethernet/IPv4 with an MTU of 1500, small masked client messages and
//! server replies (mostly around 500 bytes), ACKs, and every close outcome (clean 1000, a
//! 1008 policy close, an empty Close, an illegal 1015 answered with 1002, a RST drop and a
//! FIN drop). Deterministic for a given configuration; written as a stream, so any size can
//! be produced with constant memory.
//!
//! This module writes data it builds itself and reads no input, so it indexes freely.
#![allow(clippy::indexing_slicing)]

use std::io::{self, Write};

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct SynthConfig {
    /// Stop after this many bytes of capture (roughly; the last connection is finished).
    pub target_bytes: u64,
    /// Data messages per connection, each way.
    pub messages: u32,
    /// Connections open at the same time (their packets interleave).
    pub concurrent: usize,
    pub seed: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            target_bytes: 300 << 20,
            messages: 40,
            concurrent: 64,
            seed: 0x5eed,
        }
    }
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynthStats {
    pub packets: u64,
    pub bytes: u64,
    pub connections: u64,
}

/// Largest TCP payload at an MTU of 1500 (1500 - 20 IPv4 - 20 TCP).
const MSS: usize = 1460;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct SynthConn {
    id: u64,
    client_port: u16,
    client_ip: [u8; 4],
    cseq: u32,
    sseq: u32,
    /// Remaining packets of this connection, generated lazily step by step.
    step: u32,
    messages: u32,
    ending: u8,
}

struct Writer<W: Write> {
    out: W,
    stats: SynthStats,
    ts_us: u64,
    buf: Vec<u8>,
}

const SERVER_IP: [u8; 4] = [10, 1, 0, 1];
const SERVER_PORT: u16 = 8080;

impl<W: Write> Writer<W> {
    fn packet(
        &mut self,
        c: &SynthConn,
        from_client: bool,
        flags: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        self.ts_us += 7;
        let b = &mut self.buf;
        b.clear();
        b.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
        let total = (40 + payload.len()) as u16;
        b.extend_from_slice(&[
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
        let (src, sport, dst, dport, seq, ack) = if from_client {
            (
                c.client_ip,
                c.client_port,
                SERVER_IP,
                SERVER_PORT,
                c.cseq,
                c.sseq,
            )
        } else {
            (
                SERVER_IP,
                SERVER_PORT,
                c.client_ip,
                c.client_port,
                c.sseq,
                c.cseq,
            )
        };
        b.extend_from_slice(&src);
        b.extend_from_slice(&dst);
        b.extend_from_slice(&sport.to_be_bytes());
        b.extend_from_slice(&dport.to_be_bytes());
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(&ack.to_be_bytes());
        b.extend_from_slice(&[0x50, flags, 0x01, 0xf5, 0, 0, 0, 0]);
        b.extend_from_slice(payload);
        let len = b.len() as u32;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&((self.ts_us / 1_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((self.ts_us % 1_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&len.to_le_bytes());
        rec[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(&self.buf)?;
        self.stats.packets += 1;
        self.stats.bytes += 16 + u64::from(len);
        Ok(())
    }
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;
const FIN_ACK: u8 = 0x11;
const RST: u8 = 0x04;

fn ws_frame(out: &mut Vec<u8>, opcode: u8, masked: bool, payload: &[u8]) {
    out.clear();
    out.push(0x80 | opcode);
    let m = if masked { 0x80 } else { 0 };
    if payload.len() < 126 {
        out.push(m | payload.len() as u8);
    } else {
        out.push(m | 126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    if masked {
        let key = [0x5a, 0xc3, 0x0f, 0x96];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
}

/// Writes a pcap (microseconds, Ethernet) to `out`.
pub fn write_capture<W: Write>(out: W, cfg: &SynthConfig) -> io::Result<SynthStats> {
    let mut w = Writer {
        out,
        stats: SynthStats::default(),
        ts_us: 1_700_000_000_000_000,
        buf: Vec::with_capacity(2048),
    };
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&[0u8; 8]);
    header.extend_from_slice(&65535u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    w.out.write_all(&header)?;
    w.stats.bytes = 24;
    let mut rng = Rng(cfg.seed | 1);
    let mut active: Vec<SynthConn> = Vec::new();
    let mut next_id = 0u64;
    let alphabet = b"abcdefghijklmnopqrstuvwxyz{}\":, 0123456789";
    let text: Vec<u8> = (0..MSS).map(|i| alphabet[i % alphabet.len()]).collect();
    let mut frame = Vec::with_capacity(MSS + 16);
    let mut stopping = false;
    loop {
        if !stopping && w.stats.bytes >= cfg.target_bytes {
            stopping = true;
        }
        while !stopping && active.len() < cfg.concurrent.max(1) {
            next_id += 1;
            active.push(SynthConn {
                id: next_id,
                client_port: 1024 + (next_id % 60_000) as u16,
                client_ip: [10, 2, (next_id >> 8 & 0xff) as u8, (next_id & 0xff) as u8],
                cseq: rng.next() as u32,
                sseq: rng.next() as u32,
                step: 0,
                messages: cfg.messages,
                ending: (next_id % 6) as u8,
            });
        }
        if active.is_empty() {
            break;
        }
        let i = rng.below(active.len() as u64) as usize;
        let done = {
            let Some(c) = active.get_mut(i) else { break };
            step(&mut w, c, &mut rng, &text, &mut frame)?
        };
        if done {
            w.stats.connections += 1;
            active.swap_remove(i);
        }
    }
    w.out.flush()?;
    Ok(w.stats)
}

/// Emits the next packet(s) of `c`; true when the connection is finished.
fn step<W: Write>(
    w: &mut Writer<W>,
    c: &mut SynthConn,
    rng: &mut Rng,
    text: &[u8],
    frame: &mut Vec<u8>,
) -> io::Result<bool> {
    let s = c.step;
    c.step += 1;
    let data_steps = c.messages * 2;
    match s {
        0 => {
            w.packet(c, true, SYN, &[])?;
            c.cseq = c.cseq.wrapping_add(1);
        }
        1 => {
            w.packet(c, false, SYN | ACK, &[])?;
            c.sseq = c.sseq.wrapping_add(1);
            w.packet(c, true, ACK, &[])?;
        }
        2 => {
            let req = format!(
                "GET /stream/{} HTTP/1.1\r\nHost: bench.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                c.id
            );
            send(w, c, true, req.as_bytes())?;
            let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
            send(w, c, false, resp)?;
        }
        n if n < 3 + data_steps => {
            let from_client = n % 2 == 1;
            // Mostly ~500-byte messages, some small, a few near the MSS.
            let len = match rng.below(10) {
                0 => 20 + rng.below(60),
                1 => 1000 + rng.below(440),
                _ => 540 + rng.below(120),
            } as usize;
            ws_frame(frame, 1, from_client, text.get(..len).unwrap_or(text));
            send(w, c, from_client, frame)?;
            if n % 6 == 0 {
                w.packet(c, !from_client, ACK, &[])?;
            }
        }
        _ => {
            match c.ending {
                0 | 1 => close_pair(w, c, frame, true, 1000, b"bye")?,
                2 => close_pair(w, c, frame, false, 1008, b"rate limit exceeded")?,
                3 => {
                    ws_frame(frame, 8, true, &[]);
                    send(w, c, true, frame)?;
                    ws_frame(frame, 8, false, &[]);
                    send(w, c, false, frame)?;
                }
                4 => {
                    let mut body = 1015u16.to_be_bytes().to_vec();
                    body.extend_from_slice(b"upstream TLS failed");
                    ws_frame(frame, 8, false, &body);
                    send(w, c, false, frame)?;
                    ws_frame(frame, 8, true, &1002u16.to_be_bytes());
                    send(w, c, true, frame)?;
                }
                _ => {
                    w.packet(c, false, RST, &[])?;
                    return Ok(true);
                }
            }
            w.packet(c, false, FIN_ACK, &[])?;
            c.sseq = c.sseq.wrapping_add(1);
            w.packet(c, true, FIN_ACK, &[])?;
            c.cseq = c.cseq.wrapping_add(1);
            w.packet(c, false, ACK, &[])?;
            return Ok(true);
        }
    }
    Ok(false)
}

fn close_pair<W: Write>(
    w: &mut Writer<W>,
    c: &mut SynthConn,
    frame: &mut Vec<u8>,
    client_first: bool,
    code: u16,
    reason: &[u8],
) -> io::Result<()> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason);
    for from_client in [client_first, !client_first] {
        ws_frame(frame, 8, from_client, &body);
        send(w, c, from_client, frame)?;
    }
    Ok(())
}

fn send<W: Write>(
    w: &mut Writer<W>,
    c: &mut SynthConn,
    from_client: bool,
    payload: &[u8],
) -> io::Result<()> {
    for chunk in payload.chunks(MSS) {
        w.packet(c, from_client, PSH_ACK, chunk)?;
        let n = chunk.len() as u32;
        if from_client {
            c.cseq = c.cseq.wrapping_add(n);
        } else {
            c.sseq = c.sseq.wrapping_add(n);
        }
    }
    Ok(())
}
