//! One TCP segment in an Ethernet II frame over IPv4, built with etherparse's
//! `PacketBuilder`. Takes MAC and IP addresses, ports, sequence and acknowledgment numbers,
//! flags, window and payload ([`TcpPacket`]); yields the frame's bytes: 14 bytes of
//! Ethernet, 20 of IPv4 (no options, identification 0, Don't Fragment, TTL 64), 20 of TCP
//! (no options), then the payload. Lengths and both checksums are filled in by the builder.
//!
//! The acknowledgment number is written whether or not the ACK flag is set, and every flag
//! byte is accepted as is, so tests can send odd flag combinations.
//!
//! What the builder cannot make on purpose (IPv4 fragments, wrong length fields, other link
//! types, cut packets) stays with the test that needs it: it patches the bytes at the fixed
//! offsets below (checksums are not checked by wsclose), or writes arbitrary bytes as a pcap
//! record with [`crate::pcap::push_record`].

use std::io;

use etherparse::{PacketBuilder, TcpHeader};

/// Bytes of the Ethernet II header (destination MAC, source MAC, EtherType).
pub const ETHERNET_LEN: usize = 14;
/// Bytes of an IPv4 header without options.
pub const IPV4_LEN: usize = 20;
/// Bytes of a TCP header without options.
pub const TCP_LEN: usize = 20;
/// Bytes before the payload.
pub const HEADERS_LEN: usize = ETHERNET_LEN + IPV4_LEN + TCP_LEN;
/// Offset of the IPv4 header in the frame.
pub const IPV4_OFFSET: usize = ETHERNET_LEN;
/// Offset of the IPv4 flags and fragment offset (flags in the top 3 bits).
pub const IPV4_FLAGS_OFFSET: usize = IPV4_OFFSET + 6;
/// Offset of the TCP header (source port, then destination port) in the frame.
pub const TCP_OFFSET: usize = ETHERNET_LEN + IPV4_LEN;
/// Time to live of every packet, the usual Linux default.
pub const TTL: u8 = 64;
/// Largest payload: the IPv4 total length is 16 bits and counts both headers.
pub const MAX_PAYLOAD: usize = u16::MAX as usize - IPV4_LEN - TCP_LEN;

/// TCP flag bits, as in the 14th byte of the TCP header (RFC 9293 §3.1, RFC 3168 §6.1).
pub const FIN: u8 = 0x01;
/// See [`FIN`].
pub const SYN: u8 = 0x02;
/// See [`FIN`].
pub const RST: u8 = 0x04;
/// See [`FIN`].
pub const PSH: u8 = 0x08;
/// See [`FIN`].
pub const ACK: u8 = 0x10;
/// See [`FIN`]. The urgent pointer is always 0.
pub const URG: u8 = 0x20;
/// See [`FIN`].
pub const ECE: u8 = 0x40;
/// See [`FIN`].
pub const CWR: u8 = 0x80;

/// One TCP segment, addressed at every layer.
#[derive(Clone, Copy, Debug)]
pub struct TcpPacket<'a> {
    /// Ethernet source.
    pub src_mac: [u8; 6],
    /// Ethernet destination.
    pub dst_mac: [u8; 6],
    /// IPv4 source.
    pub src_ip: [u8; 4],
    /// IPv4 destination.
    pub dst_ip: [u8; 4],
    /// TCP source port.
    pub src_port: u16,
    /// TCP destination port.
    pub dst_port: u16,
    /// Sequence number of the first payload byte (or of the SYN/FIN).
    pub seq: u32,
    /// Acknowledgment number, written even without [`ACK`].
    pub ack: u32,
    /// Any combination of [`FIN`] .. [`CWR`].
    pub flags: u8,
    /// Receive window, unscaled.
    pub window: u16,
    /// TCP payload, at most [`MAX_PAYLOAD`] bytes.
    pub payload: &'a [u8],
}

impl TcpPacket<'_> {
    /// Appends the frame to `out`; an `InvalidInput` error when the payload is longer than
    /// [`MAX_PAYLOAD`] (then nothing is appended).
    pub fn write(&self, out: &mut Vec<u8>) -> io::Result<()> {
        // Checked here: the builder would have written the Ethernet header already.
        if self.payload.len() > MAX_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TCP payload of {} bytes over IPv4", self.payload.len()),
            ));
        }
        let mut tcp = TcpHeader::new(self.src_port, self.dst_port, self.seq, self.window);
        tcp.acknowledgment_number = self.ack;
        tcp.fin = self.flags & FIN != 0;
        tcp.syn = self.flags & SYN != 0;
        tcp.rst = self.flags & RST != 0;
        tcp.psh = self.flags & PSH != 0;
        tcp.ack = self.flags & ACK != 0;
        tcp.urg = self.flags & URG != 0;
        tcp.ece = self.flags & ECE != 0;
        tcp.cwr = self.flags & CWR != 0;
        PacketBuilder::ethernet2(self.src_mac, self.dst_mac)
            .ipv4(self.src_ip, self.dst_ip, TTL)
            .tcp_header(tcp)
            .write_to_vec(out, self.payload)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }

    /// The frame's bytes.
    ///
    /// # Panics
    /// When the payload is longer than [`MAX_PAYLOAD`].
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(HEADERS_LEN + self.payload.len());
        if let Err(e) = self.write(&mut v) {
            panic!("{e}");
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn sample(flags: u8, payload: &[u8]) -> TcpPacket<'_> {
        TcpPacket {
            src_mac: [2, 0, 0, 0, 0, 2],
            dst_mac: [2, 0, 0, 0, 0, 1],
            src_ip: [10, 0, 0, 1],
            dst_ip: [10, 0, 0, 2],
            src_port: 40000,
            dst_port: 80,
            seq: 0x0102_0304,
            ack: 0x0506_0708,
            flags,
            window: 0xffff,
            payload,
        }
    }

    /// The layout that tests patch by offset, field by field.
    #[test]
    fn fields_sit_at_fixed_offsets() {
        let b = sample(SYN, b"hi").to_vec();
        assert_eq!(b.len(), HEADERS_LEN + 2);
        assert_eq!(b[0..6], [2, 0, 0, 0, 0, 1]); // destination MAC
        assert_eq!(b[6..12], [2, 0, 0, 0, 0, 2]); // source MAC
        assert_eq!(b[12..14], [0x08, 0x00]); // IPv4
        assert_eq!(b[IPV4_OFFSET], 0x45); // version 4, 5 words
        assert_eq!(b[16..18], 42u16.to_be_bytes()); // total length
        assert_eq!(b[18..20], [0, 0]); // identification
        assert_eq!(b[IPV4_FLAGS_OFFSET..IPV4_FLAGS_OFFSET + 2], [0x40, 0]); // DF
        assert_eq!(b[22..24], [TTL, 6]); // TTL, TCP
        assert_eq!(b[26..30], [10, 0, 0, 1]);
        assert_eq!(b[30..34], [10, 0, 0, 2]);
        assert_eq!(b[TCP_OFFSET..TCP_OFFSET + 2], 40000u16.to_be_bytes());
        assert_eq!(b[TCP_OFFSET + 2..TCP_OFFSET + 4], 80u16.to_be_bytes());
        assert_eq!(b[38..42], [1, 2, 3, 4]); // seq
        assert_eq!(b[42..46], [5, 6, 7, 8]); // ack, although ACK is not set
        assert_eq!(b[46..48], [0x50, SYN]); // 5 words, flags
        assert_eq!(b[48..50], [0xff, 0xff]); // window
        assert_eq!(b[52..54], [0, 0]); // urgent pointer
        assert_eq!(b[HEADERS_LEN..], *b"hi");
    }

    #[test]
    fn every_flag_byte_round_trips_with_valid_checksums() {
        for flags in 0..=u8::MAX {
            let b = sample(flags, b"payload").to_vec();
            assert_eq!(b[TCP_OFFSET + 13], flags);
            let p = SlicedPacket::from_ethernet(&b).unwrap();
            let Some(NetSlice::Ipv4(ip)) = p.net else {
                panic!("not IPv4")
            };
            let ip_header = ip.header().to_header();
            assert_eq!(ip_header.header_checksum, ip_header.calc_header_checksum());
            let Some(TransportSlice::Tcp(tcp)) = p.transport else {
                panic!("not TCP")
            };
            let want = tcp
                .to_header()
                .calc_checksum_ipv4(&ip_header, tcp.payload())
                .unwrap();
            assert_eq!(tcp.checksum(), want);
            assert_eq!(tcp.payload(), b"payload");
        }
    }

    #[test]
    fn payload_limit_is_an_error_not_a_wrap() {
        let big = vec![0u8; MAX_PAYLOAD + 1];
        let mut out = Vec::new();
        let err = sample(ACK, &big).write(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(out.is_empty());
        let max = vec![0u8; MAX_PAYLOAD];
        assert_eq!(sample(ACK, &max).to_vec().len(), HEADERS_LEN + MAX_PAYLOAD);
    }
}
