//! Synthetic capture generator, for benchmarks and memory tests: many interleaved WebSocket
//! connections over Ethernet/IPv4 with an MTU of 1500, small masked client messages and
//! server replies (mostly around 500 bytes), ACKs, and every close outcome (clean 1000 for
//! a third of the connections, a 1008 policy close, an empty Close, an illegal 1015
//! answered with 1002, and a RST without any Close); all but the RST end with FINs. Takes a [`SynthConfig`]; yields a microsecond pcap on any `io::Write` and
//! [`SynthStats`]. Deterministic for a given configuration; written as a stream, so any
//! size can be produced with constant memory.
//!
//! The benches and the README's performance figures measure this traffic: changing what is
//! generated for a configuration (packet count, sizes, connections, outcomes) changes them.

use std::io::{self, Write};

use crate::close::push_close_body;
use crate::packet::{TcpPacket, ACK, FIN, PSH, RST, SYN};
use crate::pcap::{PcapWriter, LINKTYPE_ETHERNET};
use crate::ws::{encode_frame, CLOSE, TEXT};

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct SynthConfig {
    /// Stop after this many bytes of capture (roughly; the last connection is finished).
    pub target_bytes: u64,
    /// Data messages per connection, each way.
    pub messages: u32,
    /// Connections open at the same time (their packets interleave).
    pub concurrent: usize,
    /// Seed of the generator that picks connections, ISNs and message sizes.
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
    /// Packets (pcap records).
    pub packets: u64,
    /// Bytes of the file, headers included.
    pub bytes: u64,
    /// Connections, each finished (closed, reset or ended by FIN).
    pub connections: u64,
}

/// Largest TCP payload at an MTU of 1500 (1500 - 20 IPv4 - 20 TCP).
const MSS: usize = 1460;
/// Timestamp of the capture's start (November 2023), in microseconds.
const START_US: u64 = 1_700_000_000_000_000;
/// Clock step between two packets, in microseconds.
const STEP_US: u64 = 7;
/// The server every client talks to.
const SERVER_IP: [u8; 4] = [10, 1, 0, 1];
/// See [`SERVER_IP`].
const SERVER_PORT: u16 = 8080;
/// First client port; connection `n` uses `CLIENT_PORT_BASE + n % CLIENT_PORTS`.
const CLIENT_PORT_BASE: u16 = 1024;
/// Client ports in use before they repeat (client addresses differ anyway).
const CLIENT_PORTS: u64 = 60_000;
/// Ethernet addresses, the same pair in both directions (the analysis ignores them).
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
/// See [`DST_MAC`].
const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];
/// Receive window of every packet.
const WINDOW: u16 = 501;
/// Masking key of every client frame.
const MASK_KEY: [u8; 4] = [0x5a, 0xc3, 0x0f, 0x96];
/// Ways a connection ends, chosen by connection number: see [`Ending`].
const ENDINGS: u64 = 6;

/// How a connection ends; connection `n` ends as `n % ENDINGS`.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Client closes with 1000, the server echoes (twice as often as the others).
    Clean,
    /// Server closes with 1008 "rate limit exceeded", the client echoes.
    Policy,
    /// Both send an empty Close.
    Empty,
    /// Server sends the illegal 1015; the client answers 1002.
    Illegal1015,
    /// The server resets the connection without a Close.
    Reset,
}

impl Ending {
    fn of(id: u64) -> Ending {
        match id % ENDINGS {
            0 | 1 => Ending::Clean,
            2 => Ending::Policy,
            3 => Ending::Empty,
            4 => Ending::Illegal1015,
            _ => Ending::Reset,
        }
    }
}

/// xorshift64*: small, fast and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
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
    /// Next step of this connection; packets are generated lazily step by step.
    step: u32,
    messages: u32,
    ending: Ending,
}

struct Writer<W: Write> {
    pcap: PcapWriter<W>,
    packets: u64,
    ts_us: u64,
    buf: Vec<u8>,
}

impl<W: Write> Writer<W> {
    fn packet(
        &mut self,
        c: &SynthConn,
        from_client: bool,
        flags: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        self.ts_us += STEP_US;
        let (src_ip, src_port, dst_ip, dst_port, seq, ack) = if from_client {
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
        self.buf.clear();
        TcpPacket {
            src_mac: SRC_MAC,
            dst_mac: DST_MAC,
            src_ip,
            dst_ip,
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window: WINDOW,
            payload,
        }
        .write(&mut self.buf)?;
        self.pcap.record(self.ts_us, &self.buf)?;
        self.packets += 1;
        Ok(())
    }
}

/// Writes a pcap (microseconds, Ethernet) to `out`.
pub fn write_capture<W: Write>(out: W, cfg: &SynthConfig) -> io::Result<SynthStats> {
    let mut w = Writer {
        pcap: PcapWriter::new(out, LINKTYPE_ETHERNET)?,
        packets: 0,
        ts_us: START_US,
        buf: Vec::with_capacity(2048),
    };
    let mut connections = 0u64;
    let mut rng = Rng(cfg.seed | 1);
    let mut active: Vec<SynthConn> = Vec::new();
    let mut next_id = 0u64;
    let alphabet = b"abcdefghijklmnopqrstuvwxyz{}\":, 0123456789";
    let text: Vec<u8> = alphabet.iter().copied().cycle().take(MSS).collect();
    let mut frame = Vec::with_capacity(MSS + 16);
    let mut stopping = false;
    loop {
        if !stopping && w.pcap.bytes_written() >= cfg.target_bytes {
            stopping = true;
        }
        while !stopping && active.len() < cfg.concurrent.max(1) {
            next_id += 1;
            let [.., hi, lo] = next_id.to_be_bytes();
            active.push(SynthConn {
                id: next_id,
                client_port: CLIENT_PORT_BASE + (next_id % CLIENT_PORTS) as u16,
                client_ip: [10, 2, hi, lo],
                cseq: rng.next() as u32,
                sseq: rng.next() as u32,
                step: 0,
                messages: cfg.messages,
                ending: Ending::of(next_id),
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
            connections += 1;
            active.swap_remove(i);
        }
    }
    let stats = SynthStats {
        packets: w.packets,
        bytes: w.pcap.bytes_written(),
        connections,
    };
    w.pcap.finish()?;
    Ok(stats)
}

/// Encodes one final frame into `frame`, replacing what it held.
fn set_frame(frame: &mut Vec<u8>, opcode: u8, from_client: bool, payload: &[u8]) {
    frame.clear();
    encode_frame(
        frame,
        true,
        opcode,
        from_client.then_some(MASK_KEY),
        payload,
    );
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
            set_frame(frame, TEXT, from_client, text.get(..len).unwrap_or(text));
            send(w, c, from_client, frame)?;
            if n % 6 == 0 {
                w.packet(c, !from_client, ACK, &[])?;
            }
        }
        _ => {
            match c.ending {
                Ending::Clean => close_pair(w, c, frame, true, 1000, b"bye")?,
                Ending::Policy => close_pair(w, c, frame, false, 1008, b"rate limit exceeded")?,
                Ending::Empty => {
                    set_frame(frame, CLOSE, true, &[]);
                    send(w, c, true, frame)?;
                    set_frame(frame, CLOSE, false, &[]);
                    send(w, c, false, frame)?;
                }
                Ending::Illegal1015 => {
                    let mut body = Vec::new();
                    push_close_body(&mut body, 1015, b"upstream TLS failed");
                    set_frame(frame, CLOSE, false, &body);
                    send(w, c, false, frame)?;
                    body.clear();
                    push_close_body(&mut body, 1002, b"");
                    set_frame(frame, CLOSE, true, &body);
                    send(w, c, true, frame)?;
                }
                Ending::Reset => {
                    w.packet(c, false, RST, &[])?;
                    return Ok(true);
                }
            }
            w.packet(c, false, FIN | ACK, &[])?;
            c.sseq = c.sseq.wrapping_add(1);
            w.packet(c, true, FIN | ACK, &[])?;
            c.cseq = c.cseq.wrapping_add(1);
            w.packet(c, false, ACK, &[])?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Both Close frames with the same code and reason, `client_first` or server first.
fn close_pair<W: Write>(
    w: &mut Writer<W>,
    c: &mut SynthConn,
    frame: &mut Vec<u8>,
    client_first: bool,
    code: u16,
    reason: &[u8],
) -> io::Result<()> {
    let mut body = Vec::new();
    push_close_body(&mut body, code, reason);
    for from_client in [client_first, !client_first] {
        set_frame(frame, CLOSE, from_client, &body);
        send(w, c, from_client, frame)?;
    }
    Ok(())
}

/// Sends `payload` in MSS-sized segments, advancing the sender's sequence number.
fn send<W: Write>(
    w: &mut Writer<W>,
    c: &mut SynthConn,
    from_client: bool,
    payload: &[u8],
) -> io::Result<()> {
    for chunk in payload.chunks(MSS) {
        w.packet(c, from_client, PSH | ACK, chunk)?;
        let n = chunk.len() as u32;
        if from_client {
            c.cseq = c.cseq.wrapping_add(n);
        } else {
            c.sseq = c.sseq.wrapping_add(n);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{HEADERS_LEN, TCP_OFFSET};
    use crate::pcap::{FILE_HEADER_LEN, RECORD_HEADER_LEN};

    fn small() -> SynthConfig {
        SynthConfig {
            target_bytes: 200_000,
            messages: 4,
            concurrent: 8,
            seed: 42,
        }
    }

    /// Walks the records: (captured length, flags, payload) of each.
    fn records(bytes: &[u8]) -> Vec<(usize, u8, &[u8])> {
        let mut out = Vec::new();
        let mut off = FILE_HEADER_LEN;
        while off < bytes.len() {
            let len = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
            let pkt = &bytes[off + RECORD_HEADER_LEN..off + RECORD_HEADER_LEN + len];
            out.push((len, pkt[TCP_OFFSET + 13], &pkt[HEADERS_LEN..]));
            off += RECORD_HEADER_LEN + len;
        }
        assert_eq!(off, bytes.len());
        out
    }

    #[test]
    fn same_config_same_bytes() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let sa = write_capture(&mut a, &small()).unwrap();
        let sb = write_capture(&mut b, &small()).unwrap();
        assert_eq!(sa, sb);
        // Not assert_eq: a failure would print the whole capture.
        assert!(a == b, "two runs differ");
        let mut other = small();
        other.seed = 44; // the seed's low bit is forced to 1, so 43 would equal 42
        let mut c = Vec::new();
        write_capture(&mut c, &other).unwrap();
        assert!(a != c, "the seed changes nothing");
    }

    #[test]
    fn stats_describe_the_file() {
        let mut v = Vec::new();
        let s = write_capture(&mut v, &small()).unwrap();
        assert_eq!(s.bytes, v.len() as u64);
        assert!(s.bytes >= small().target_bytes);
        let recs = records(&v);
        assert_eq!(s.packets, recs.len() as u64);
        let syns = recs.iter().filter(|r| r.1 == SYN).count() as u64;
        assert_eq!(s.connections, syns, "every started connection is finished");
        assert!(recs.iter().all(|r| r.2.len() <= MSS));
    }

    #[test]
    fn every_ending_appears() {
        let mut v = Vec::new();
        let s = write_capture(&mut v, &small()).unwrap();
        assert!(s.connections >= ENDINGS);
        let recs = records(&v);
        let resets = recs.iter().filter(|r| r.1 == RST).count() as u64;
        // Connections are numbered from 1 and the RST ones are those with n % 6 == 5.
        assert_eq!(resets, (s.connections + 1) / ENDINGS);
        let has = |needle: &[u8]| {
            recs.iter()
                .any(|r| r.2.windows(needle.len()).any(|w| w == needle))
        };
        // Server Close frames are unmasked, so their bodies are readable on the wire.
        assert!(has(&[0x88, 21, 0x03, 0xf7])); // 1015 + reason
        assert!(has(&[0x88, 21, 0x03, 0xf0])); // 1008 + "rate limit exceeded"
        assert!(has(&[0x88, 5, 0x03, 0xe8, b'b', b'y', b'e'])); // 1000 echo
        assert!(has(&[0x88, 0])); // empty Close
    }
}
