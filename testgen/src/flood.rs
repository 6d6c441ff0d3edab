//! Captures that stress the flow table, written packet by packet to any `Write` (the big
//! ones go straight to a file): a port scan of SYNs, a SYN flood hiding one connection's
//! illegal Close, and many WebSocket connections open at once.
//!
//! Every connection is a real-looking exchange: three-way handshake, HTTP Upgrade and 101
//! (with the RFC 6455 §1.3 example key and its accept value), masked client frames. Client
//! `i` is 10.(i>>16).(i>>8).i port 50000, the server 192.168.0.1 port 80 (the scan's
//! targets vary the port instead). Packets are 10 µs apart.

use std::io::{self, Write};

use crate::close::close_body;
use crate::packet::{TcpPacket, ACK, FIN, PSH, RST, SYN};
use crate::pcap::PcapWriter;
use crate::ws::frame;

const SERVER_IP: [u8; 4] = [192, 168, 0, 1];
const SERVER_PORT: u16 = 80;
const CLIENT_PORT: u16 = 50000;
const MASK: [u8; 4] = [1, 2, 3, 4];
const REQUEST: &[u8] = b"GET /ws HTTP/1.1\r\nHost: flood.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// The address of client `i`.
pub fn client_ip(i: u32) -> [u8; 4] {
    [10, (i >> 16) as u8, (i >> 8) as u8, i as u8]
}

/// A capture being written, with its clock.
struct Out<W: Write> {
    pcap: PcapWriter<W>,
    ts_us: u64,
    buf: Vec<u8>,
}

impl<W: Write> Out<W> {
    fn new(out: W) -> io::Result<Self> {
        Ok(Out {
            pcap: PcapWriter::new(out, 1)?,
            ts_us: 1_700_000_000_000_000,
            buf: Vec::with_capacity(256),
        })
    }

    fn packet(&mut self, p: &TcpPacket<'_>) -> io::Result<()> {
        self.buf.clear();
        p.write(&mut self.buf)?;
        self.ts_us += 10;
        self.pcap.record(self.ts_us, &self.buf)
    }

    fn finish(self) -> io::Result<W> {
        self.pcap.finish()
    }
}

/// Client `i`'s connection to the server: both sequence numbers as they stand.
struct Conn {
    ip: [u8; 4],
    client_seq: u32,
    server_seq: u32,
}

impl Conn {
    fn new(i: u32) -> Conn {
        Conn {
            ip: client_ip(i),
            client_seq: 1000 + i,
            server_seq: 900_000 + i,
        }
    }

    fn send<W: Write>(
        &mut self,
        out: &mut Out<W>,
        from_client: bool,
        flags: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        let (src_ip, dst_ip, src_port, dst_port, seq, ack) = if from_client {
            let seq = self.client_seq;
            (
                self.ip,
                SERVER_IP,
                CLIENT_PORT,
                SERVER_PORT,
                seq,
                self.server_seq,
            )
        } else {
            let seq = self.server_seq;
            (
                SERVER_IP,
                self.ip,
                SERVER_PORT,
                CLIENT_PORT,
                seq,
                self.client_seq,
            )
        };
        out.packet(&TcpPacket {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip,
            dst_ip,
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window: 65535,
            payload,
        })?;
        let used = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        if from_client {
            self.client_seq = self.client_seq.wrapping_add(used);
        } else {
            self.server_seq = self.server_seq.wrapping_add(used);
        }
        Ok(())
    }

    /// Three-way handshake, Upgrade request and 101.
    fn open<W: Write>(&mut self, out: &mut Out<W>) -> io::Result<()> {
        self.send(out, true, SYN, b"")?;
        self.send(out, false, SYN | ACK, b"")?;
        self.send(out, true, ACK, b"")?;
        self.send(out, true, PSH | ACK, REQUEST)?;
        self.send(out, false, PSH | ACK, RESPONSE)
    }

    /// One masked text message from the client.
    fn message<W: Write>(&mut self, out: &mut Out<W>, text: &[u8]) -> io::Result<()> {
        self.send(out, true, PSH | ACK, &frame(true, 1, Some(MASK), text))
    }

    /// The client's Close with `code`, the server's Close 1000, then both FINs.
    fn close<W: Write>(&mut self, out: &mut Out<W>, code: u16) -> io::Result<()> {
        let body = close_body(code, b"");
        self.send(out, true, PSH | ACK, &frame(true, 8, Some(MASK), &body))?;
        self.send(
            out,
            false,
            PSH | ACK,
            &frame(true, 8, None, &close_body(1000, b"")),
        )?;
        self.send(out, false, FIN | ACK, b"")?;
        self.send(out, true, FIN | ACK, b"")
    }
}

/// A port scan: `n` SYNs from 10.99.0.1 to ports of 192.168.0.1..=192.168.0.255, each
/// answered by a RST (port closed) when `answered`, else by nothing (filtered). No
/// WebSocket at all.
pub fn syn_scan<W: Write>(out: W, n: u32, answered: bool) -> io::Result<W> {
    let mut out = Out::new(out)?;
    for i in 0..n {
        let target = [192, 168, 0, 1 + (i % 255) as u8];
        let port = 1 + (i / 255 % 65_000) as u16;
        let sport = 20_000 + (i / (255 * 65_000)) as u16;
        let mut p = TcpPacket {
            src_mac: [2, 0, 0, 0, 0, 3],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src_ip: [10, 99, 0, 1],
            dst_ip: target,
            src_port: sport,
            dst_port: port,
            seq: i.wrapping_mul(2_654_435_761),
            ack: 0,
            flags: SYN,
            window: 1024,
            payload: b"",
        };
        out.packet(&p)?;
        if !answered {
            continue;
        }
        std::mem::swap(&mut p.src_ip, &mut p.dst_ip);
        std::mem::swap(&mut p.src_port, &mut p.dst_port);
        p.ack = p.seq.wrapping_add(1);
        p.seq = 0;
        p.flags = RST | ACK;
        out.packet(&p)?;
    }
    out.finish()
}

/// One WebSocket connection opens, `syns` spoofed SYNs (never answered) reach the server,
/// then the client sends a Close with `code` (1004: illegal on the wire) and the server
/// answers 1000.
pub fn syn_flood_hiding_close<W: Write>(out: W, syns: u32, code: u16) -> io::Result<W> {
    let mut out = Out::new(out)?;
    let mut ws = Conn::new(0);
    ws.open(&mut out)?;
    ws.message(&mut out, b"hello")?;
    for i in 1..=syns {
        Conn::new(i).send(&mut out, true, SYN, b"")?;
    }
    ws.close(&mut out, code)?;
    out.finish()
}

/// `n` WebSocket connections open one after the other and stay open; then each sends one
/// message, in the same order; then each closes, the first `bad` with Close `code`, the
/// rest with 1000.
pub fn concurrent<W: Write>(out: W, n: u32, bad: u32, code: u16) -> io::Result<W> {
    let mut out = Out::new(out)?;
    let mut conns: Vec<Conn> = (0..n).map(Conn::new).collect();
    for c in conns.iter_mut() {
        c.open(&mut out)?;
    }
    for c in conns.iter_mut() {
        c.message(&mut out, b"hello")?;
    }
    for (i, c) in conns.iter_mut().enumerate() {
        c.close(&mut out, if (i as u32) < bad { code } else { 1000 })?;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(pcap: &[u8]) -> usize {
        let mut at = 24;
        let mut n = 0;
        while at + 16 <= pcap.len() {
            let len = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
            at += 16 + len;
            n += 1;
        }
        assert_eq!(at, pcap.len());
        n
    }

    #[test]
    fn packet_counts() {
        assert_eq!(records(&syn_scan(Vec::new(), 7, true).unwrap()), 14);
        assert_eq!(records(&syn_scan(Vec::new(), 7, false).unwrap()), 7);
        // 5 to open, 1 message, 4 to close; one SYN per flood packet.
        assert_eq!(
            records(&syn_flood_hiding_close(Vec::new(), 9, 1004).unwrap()),
            19
        );
        assert_eq!(records(&concurrent(Vec::new(), 3, 1, 1004).unwrap()), 30);
    }

    #[test]
    fn clients_are_distinct() {
        let ips: std::collections::HashSet<_> = (0..200_000).map(client_ip).collect();
        assert_eq!(ips.len(), 200_000);
    }
}
