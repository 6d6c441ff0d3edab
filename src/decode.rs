//! Link, IP and TCP decoding: `RawPacket` bytes -> `Segment`.
//!
//! The Ethernet header and its VLAN tags are sliced with etherparse, one layer at a time in
//! a loop of ours; Linux cooked v1/v2 and BSD null are a few fixed offsets read here. IP
//! (with IPv6 extension headers) and TCP are sliced with etherparse, laxly, so that packets
//! cut by the snap length still yield their TCP header and the payload bytes that were
//! captured. Never panics on input; anything that is not TCP over IPv4/IPv6 on a supported
//! link type is reported as a `Skip` reason.
//!
//! Why not `etherparse::LaxSlicedPacket::from_ethernet` for the whole walk: it follows at
//! most three link extensions where we follow four VLAN tags, it unwraps MACsec where we
//! skip it as not TCP, and it slices every transport (UDP, ICMP, ARP) into a large result:
//! on a synthetic all-TCP capture it more than doubled the instructions of `decode` (the
//! one function run for every packet), while the layer-by-layer slicing here costs no more
//! than the hand-written offsets it replaced.

use std::net::IpAddr;

use etherparse::{
    ether_type, EtherType, Ethernet2Slice, IpNumber, LaxIpSlice, SingleVlanSlice, TcpSlice,
};

use crate::tcp::Seq;

/// LINKTYPE_* values this decoder understands (tcpdump.org/linktypes.html), named after
/// pcap-parser's `Linktype` where it has them.
pub mod linktype {
    use pcap_parser::Linktype;

    /// `Linktype` holds the number as an `i32`; these are all small and positive.
    const fn value(l: Linktype) -> u32 {
        l.0 as u32
    }

    /// BSD loopback: a 4-byte address family in host byte order.
    pub const NULL: u32 = value(Linktype::NULL);
    /// Ethernet II, possibly VLAN-tagged.
    pub const ETHERNET: u32 = value(Linktype::ETHERNET);
    /// Raw IP as OpenBSD numbers it (pcap-parser has no name for it).
    pub const RAW_OPENBSD: u32 = 12;
    /// Raw IP as BSD/OS numbers it (pcap-parser has no name for it).
    pub const RAW_BSDOS: u32 = 14;
    /// Raw IP, version from the first nibble.
    pub const RAW: u32 = value(Linktype::RAW);
    /// OpenBSD loopback: the address family in network byte order.
    pub const LOOP: u32 = value(Linktype::LOOP);
    /// Linux cooked capture v1 (`tcpdump -i any`).
    pub const LINUX_SLL: u32 = value(Linktype::LINUX_SLL);
    /// Raw IPv4.
    pub const IPV4: u32 = value(Linktype::IPV4);
    /// Raw IPv6.
    pub const IPV6: u32 = value(Linktype::IPV6);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: u32 = value(Linktype::LINUX_SLL2);
}

/// Length of the Linux cooked v1 header (pcap-linktype(7)).
const SLL_HEADER: usize = 16;
/// Length of the Linux cooked v2 header.
const SLL2_HEADER: usize = 20;
/// Length of the BSD loopback/null header (a 4-byte address family).
const NULL_HEADER: usize = 4;

/// TCP flags the reassembler uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// One TCP segment, borrowed from the packet.
#[derive(Debug)]
pub struct Segment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: Seq,
    pub ack: Seq,
    pub flags: TcpFlags,
    pub payload: &'a [u8],
    /// Payload bytes that were on the wire but not captured (snap length).
    pub missing: u32,
    /// The receive window field, unscaled (RFC 9293 §3.1).
    pub window: u16,
    /// The window scale option's shift count, read on SYNs only (RFC 7323 §2.2).
    pub wscale: Option<u8>,
}

/// Why a packet yielded no TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Link type not supported (the value is reported once per file).
    UnsupportedLinktype(u32),
    /// Not IPv4/IPv6, or not TCP: normal traffic, not counted as a problem.
    NotTcp,
    /// IP fragment: fragments are not reassembled.
    IpFragment,
    /// Cut before the TCP header was complete.
    Truncated,
    /// More stacked VLAN tags than `MAX_VLAN_TAGS`: not followed.
    VlanDepth,
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b: [u8; 2] = data.get(at..at + 2)?.try_into().ok()?;
    Some(u16::from_be_bytes(b))
}

/// EtherTypes of the tags that may sit between the Ethernet header and the IP header:
/// 802.1Q, 802.1ad, and the pre-standard 0x9100 QinQ outer tag.
const VLAN_TAGS: [EtherType; 3] = [
    ether_type::VLAN_TAGGED_FRAME,
    ether_type::PROVIDER_BRIDGING,
    ether_type::VLAN_DOUBLE_TAGGED_FRAME,
];
/// Most stacked VLAN tags followed (QinQ uses two). One more than etherparse's own walk
/// follows (`LaxSlicedPacket::LINK_EXTS_CAP`), as this decoder always has.
pub const MAX_VLAN_TAGS: usize = 4;

/// The IP packet inside an Ethernet frame, after any VLAN tags. A frame cut inside its
/// header or a tag is `Truncated`; one with more than `MAX_VLAN_TAGS` tags is `VlanDepth`.
fn ethernet_payload(data: &[u8]) -> Result<&[u8], Skip> {
    let mut inner = Ethernet2Slice::from_slice_without_fcs(data)
        .map_err(|_| Skip::Truncated)?
        .payload();
    for _ in 0..MAX_VLAN_TAGS {
        if !VLAN_TAGS.contains(&inner.ether_type) {
            break;
        }
        inner = SingleVlanSlice::from_slice(inner.payload)
            .map_err(|_| Skip::Truncated)?
            .payload();
    }
    if VLAN_TAGS.contains(&inner.ether_type) {
        return Err(Skip::VlanDepth);
    }
    ip_payload_of(inner.ether_type, inner.payload)
}

fn ip_payload_of(ether_type: EtherType, rest: &[u8]) -> Result<&[u8], Skip> {
    if ether_type == ether_type::IPV4 || ether_type == ether_type::IPV6 {
        Ok(rest)
    } else {
        Err(Skip::NotTcp)
    }
}

/// Decodes one packet.
pub fn decode(linktype: u32, data: &[u8], orig_len: u32) -> Result<Segment<'_>, Skip> {
    let ip = match linktype {
        linktype::ETHERNET => ethernet_payload(data)?,
        linktype::RAW
        | linktype::RAW_OPENBSD
        | linktype::RAW_BSDOS
        | linktype::IPV4
        | linktype::IPV6 => data,
        linktype::NULL | linktype::LOOP => {
            let family: [u8; NULL_HEADER] = data
                .get(..NULL_HEADER)
                .and_then(|f| f.try_into().ok())
                .ok_or(Skip::Truncated)?;
            // AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD),
            // 30 (macOS), 10 (Linux). The header is in host byte order (NULL) or network
            // order (LOOP): accept either.
            let is_ip = |v: u32| matches!(v, 2 | 10 | 24 | 28 | 30);
            if !is_ip(u32::from_le_bytes(family)) && !is_ip(u32::from_be_bytes(family)) {
                return Err(Skip::NotTcp);
            }
            data.get(NULL_HEADER..).unwrap_or_default()
        }
        // Read by hand: etherparse's `LinuxSllSlice` refuses ARPHRD types it does not know,
        // loopback (772) and tun devices (0xfffe) among them, and has no v2.
        linktype::LINUX_SLL => {
            let ether_type = EtherType(be16(data, 14).ok_or(Skip::Truncated)?);
            ip_payload_of(ether_type, data.get(SLL_HEADER..).unwrap_or_default())?
        }
        linktype::LINUX_SLL2 => {
            let ether_type = EtherType(be16(data, 0).ok_or(Skip::Truncated)?);
            ip_payload_of(ether_type, data.get(SLL2_HEADER..).ok_or(Skip::Truncated)?)?
        }
        other => return Err(Skip::UnsupportedLinktype(other)),
    };
    let (ip, _ext_err) = LaxIpSlice::from_slice(ip).map_err(|_| Skip::Truncated)?;
    let payload = ip.payload();
    if payload.ip_number != IpNumber::TCP {
        return Err(Skip::NotTcp);
    }
    if payload.fragmented {
        return Err(Skip::IpFragment);
    }
    let tcp = TcpSlice::from_slice(payload.payload).map_err(|_| Skip::Truncated)?;
    let missing = if payload.incomplete {
        orig_len.saturating_sub(u32::try_from(data.len()).unwrap_or(u32::MAX))
    } else {
        0
    };
    Ok(Segment {
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: Seq(tcp.sequence_number()),
        ack: Seq(tcp.acknowledgment_number()),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        payload: tcp.payload(),
        missing,
        window: tcp.window_size(),
        wscale: if tcp.syn() { window_scale(&tcp) } else { None },
    })
}

/// The shift count of a SYN's window scale option (RFC 7323 §2.2), when it has one. Options
/// are read only on SYNs: the option is not valid elsewhere.
#[cold]
fn window_scale(tcp: &TcpSlice<'_>) -> Option<u8> {
    tcp.options_iterator().find_map(|o| match o {
        Ok(etherparse::TcpOptionElement::WindowScale(shift)) => Some(shift),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv4 + TCP, 127.0.0.1:1234 -> 127.0.0.1:80, seq 1000, PSH|ACK, payload "hi".
    fn ipv4_tcp() -> Vec<u8> {
        let mut p = vec![
            0x45, 0x00, 0x00, 0x2a, // version/IHL, DSCP, total length 42
            0x00, 0x01, 0x40, 0x00, // id, flags DF
            0x40, 0x06, 0x00, 0x00, // TTL, protocol TCP, checksum (unchecked)
            127, 0, 0, 1, 127, 0, 0, 1, // src, dst
            0x04, 0xd2, 0x00, 0x50, // ports 1234 -> 80
            0x00, 0x00, 0x03, 0xe8, // seq 1000
            0x00, 0x00, 0x00, 0x01, // ack 1
            0x50, 0x18, 0xff, 0xff, // data offset 5, PSH|ACK, window
            0x00, 0x00, 0x00, 0x00, // checksum, urgent
        ];
        p.extend_from_slice(b"hi");
        p
    }

    #[test]
    fn raw_ip() {
        let p = ipv4_tcp();
        let s = decode(linktype::RAW, &p, p.len() as u32).unwrap();
        assert_eq!(
            (s.src_port, s.dst_port, s.seq, s.ack),
            (1234, 80, Seq(1000), Seq(1))
        );
        assert!(s.flags.ack && !s.flags.syn);
        assert_eq!(s.payload, b"hi");
        assert_eq!(s.missing, 0);
    }

    #[test]
    fn window_and_window_scale() {
        let p = ipv4_tcp();
        let s = decode(linktype::RAW, &p, p.len() as u32).unwrap();
        assert_eq!((s.window, s.wscale), (0xffff, None));
        // A SYN with the window scale option: data offset 6, kind 3, length 3, shift 7.
        let mut syn = p[..40].to_vec();
        syn[3] = 44; // IPv4 total length
        syn[32] = 0x60; // data offset 6
        syn[33] = 0x02; // SYN
        syn.extend_from_slice(&[3, 3, 7, 0]);
        let s = decode(linktype::RAW, &syn, syn.len() as u32).unwrap();
        assert!(s.flags.syn);
        assert_eq!(s.wscale, Some(7));
        // The option is not read on other segments.
        syn[33] = 0x10;
        let s = decode(linktype::RAW, &syn, syn.len() as u32).unwrap();
        assert_eq!(s.wscale, None);
    }

    #[test]
    fn null_sll_sll2_and_vlan() {
        let ip = ipv4_tcp();
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        assert_eq!(decode(linktype::NULL, &null, 0).unwrap().payload, b"hi");
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        assert_eq!(decode(linktype::LINUX_SLL, &sll, 0).unwrap().payload, b"hi");
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ip);
        assert_eq!(
            decode(linktype::LINUX_SLL2, &sll2, 0).unwrap().payload,
            b"hi"
        );
        // Ethernet with two VLAN tags (QinQ).
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00]);
        eth.extend_from_slice(&ip);
        assert_eq!(decode(linktype::ETHERNET, &eth, 0).unwrap().payload, b"hi");
    }

    /// `ip` behind an Ethernet header whose EtherType chain is `types` (each VLAN tag
    /// carries TCI 0x000a and the next type).
    fn ethernet(types: &[u16], ip: &[u8]) -> Vec<u8> {
        let mut eth = vec![0u8; 12]; // destination and source MAC
        for (i, t) in types.iter().enumerate() {
            if i > 0 {
                eth.extend_from_slice(&[0x00, 0x0a]); // TCI of the tag announced before
            }
            eth.extend_from_slice(&t.to_be_bytes());
        }
        eth.extend_from_slice(ip);
        eth
    }

    #[test]
    fn ethernet_tags_up_to_four() {
        let ip = ipv4_tcp();
        let decode_eth = |types: &[u16]| {
            let eth = ethernet(types, &ip);
            decode(linktype::ETHERNET, &eth, 0).map(|s| s.payload.to_vec())
        };
        assert_eq!(decode_eth(&[0x0800]), Ok(b"hi".to_vec()));
        assert_eq!(decode_eth(&[0x8100, 0x0800]), Ok(b"hi".to_vec()));
        assert_eq!(decode_eth(&[0x9100, 0x8100, 0x0800]), Ok(b"hi".to_vec()));
        let four = [0x88a8, 0x8100, 0x8100, 0x8100, 0x0800];
        assert_eq!(decode_eth(&four), Ok(b"hi".to_vec()));
        let five = [0x88a8, 0x8100, 0x8100, 0x8100, 0x8100, 0x0800];
        assert_eq!(decode_eth(&five), Err(Skip::VlanDepth));
        // MACsec (not unwrapped) and ARP are not TCP.
        assert_eq!(decode_eth(&[0x88e5, 0x0800]), Err(Skip::NotTcp));
        assert_eq!(decode_eth(&[0x0806]), Err(Skip::NotTcp));
        // Cut inside the Ethernet header, inside a tag, or inside the IP header.
        let tagged = ethernet(&[0x8100, 0x0800], &ip);
        for n in [0, 13, 14, 17, 18, 18 + 19] {
            let got = decode(linktype::ETHERNET, &tagged[..n], 0);
            assert_eq!(got.unwrap_err(), Skip::Truncated, "cut at {n}");
        }
    }

    #[test]
    fn sll_accepts_any_hardware_type() {
        let ip = ipv4_tcp();
        // Packet type 0 (to us), ARPHRD_LOOPBACK (772), address length 6, address, IPv4.
        let mut sll = vec![0x00, 0x00, 0x03, 0x04, 0x00, 0x06];
        sll.extend_from_slice(&[0u8; 8]);
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        assert_eq!(decode(linktype::LINUX_SLL, &sll, 0).unwrap().payload, b"hi");
        // Packet type 9 (no such type) still decodes.
        sll[1] = 9;
        assert_eq!(decode(linktype::LINUX_SLL, &sll, 0).unwrap().payload, b"hi");
        sll[14] = 0x86; // EtherType 0x8600: not IP
        assert_eq!(
            decode(linktype::LINUX_SLL, &sll, 0).unwrap_err(),
            Skip::NotTcp
        );
    }

    #[test]
    fn fragments_udp_and_cut_tcp_headers() {
        let mut frag = ipv4_tcp();
        frag[6] = 0x20; // more fragments
        assert_eq!(
            decode(linktype::RAW, &frag, 0).unwrap_err(),
            Skip::IpFragment
        );
        let mut udp = ipv4_tcp();
        udp[9] = 17;
        assert_eq!(decode(linktype::RAW, &udp, 0).unwrap_err(), Skip::NotTcp);
        let p = ipv4_tcp();
        assert_eq!(
            decode(linktype::RAW, &p[..20 + 19], 42).unwrap_err(),
            Skip::Truncated
        );
        assert_eq!(
            decode(linktype::IPV6, &p[..10], 42).unwrap_err(),
            Skip::Truncated
        );
    }

    #[test]
    fn snaplen_cut_counts_missing_bytes() {
        let p = ipv4_tcp();
        let cut = &p[..p.len() - 1];
        let s = decode(linktype::RAW, cut, p.len() as u32).unwrap();
        assert_eq!(s.payload, b"h");
        assert_eq!(s.missing, 1);
    }

    #[test]
    fn every_prefix_is_safe() {
        let p = ipv4_tcp();
        for n in 0..p.len() {
            let _ = decode(linktype::RAW, &p[..n], p.len() as u32);
            let _ = decode(linktype::ETHERNET, &p[..n], p.len() as u32);
            let _ = decode(linktype::LINUX_SLL2, &p[..n], p.len() as u32);
        }
        assert_eq!(
            decode(999, &p, 0).unwrap_err(),
            Skip::UnsupportedLinktype(999)
        );
    }
}
