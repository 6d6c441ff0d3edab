//! Other protocols, so that detection without a handshake leaves them alone: the
//! well-known ports of protocols that are not WebSocket, and the first bytes of a segment
//! that name one (an SSH banner, a Kerberos or DNS message over TCP, a Modbus/TCP header,
//! HTTP/2 frames, SMB, ONC RPC, MySQL and PostgreSQL packets).
//!
//! A signature is checked where a frame header would start (the start of a segment), and
//! each asks for more than a few fixed bytes: a length field that matches the bytes that
//! follow, or a header whose fields all hold their legal values, so that a WebSocket frame
//! (first byte 0x00-0x02, 0x80-0x8a or 0xc1-0xc2) does not match by chance. Pure functions;
//! never panic.

/// Well-known TCP ports of protocols that are not WebSocket (IANA service names, plus the
/// usual ports of the databases and brokers that use none). Plaintext WebSocket does not
/// share these; 443 and the other TLS ports are listed because a stream there that does not
/// start with TLS records is TLS joined mid-record. Sorted, for the binary search.
const OTHER_PORTS: [(u16, &str); 61] = [
    (20, "FTP data"),
    (21, "FTP"),
    (22, "SSH"),
    (23, "Telnet"),
    (25, "SMTP"),
    (53, "DNS"),
    (79, "Finger"),
    (88, "Kerberos"),
    (102, "ISO-TSAP (S7)"),
    (110, "POP3"),
    (111, "ONC RPC portmapper"),
    (113, "Ident"),
    (119, "NNTP"),
    (135, "MS RPC endpoint mapper"),
    (139, "NetBIOS session"),
    (143, "IMAP"),
    (179, "BGP"),
    (389, "LDAP"),
    (443, "HTTPS (TLS)"),
    (445, "SMB"),
    (464, "Kerberos password change"),
    (465, "SMTP over TLS"),
    (502, "Modbus/TCP"),
    (513, "rlogin"),
    (514, "rsh"),
    (515, "LPD"),
    (548, "AFP"),
    (554, "RTSP"),
    (587, "SMTP submission"),
    (636, "LDAP over TLS"),
    (749, "Kerberos administration"),
    (853, "DNS over TLS"),
    (873, "rsync"),
    (990, "FTP over TLS"),
    (993, "IMAP over TLS"),
    (995, "POP3 over TLS"),
    (1433, "Microsoft SQL Server"),
    (1521, "Oracle database"),
    (1883, "MQTT"),
    (2049, "NFS"),
    (2404, "IEC 60870-5-104"),
    (3260, "iSCSI"),
    (3268, "LDAP global catalog"),
    (3306, "MySQL"),
    (3389, "RDP"),
    (5060, "SIP"),
    (5061, "SIP over TLS"),
    (5432, "PostgreSQL"),
    (5672, "AMQP"),
    (5900, "VNC"),
    (5901, "VNC"),
    (6379, "Redis"),
    (6697, "IRC over TLS"),
    (8443, "HTTPS (TLS)"),
    (8883, "MQTT over TLS"),
    (9042, "Cassandra"),
    (9092, "Kafka"),
    (11211, "memcached"),
    (20000, "DNP3"),
    (27017, "MongoDB"),
    (44818, "EtherNet/IP"),
];

/// The protocol a well-known port belongs to, when it is not WebSocket's.
pub fn other_port(port: u16) -> Option<&'static str> {
    OTHER_PORTS
        .binary_search_by_key(&port, |(p, _)| *p)
        .ok()
        .and_then(|i| OTHER_PORTS.get(i))
        .map(|(_, name)| *name)
}

/// A signature check and the protocol it names.
type Check = (fn(&[u8]) -> bool, &'static str);

/// The protocol whose message starts `bytes` (the start of a segment), when one does.
pub fn other_protocol(bytes: &[u8]) -> Option<&'static str> {
    const CHECKS: [Check; 10] = [
        (ssh, "SSH"),
        (http2_preface, "HTTP/2"),
        (http2_frames, "HTTP/2"),
        (kerberos, "Kerberos"),
        (modbus, "Modbus/TCP"),
        (dns, "DNS over TCP"),
        (smb, "SMB"),
        (onc_rpc, "ONC RPC"),
        (postgres, "PostgreSQL"),
        (mysql, "MySQL"),
    ];
    CHECKS.iter().find(|(f, _)| f(bytes)).map(|(_, name)| *name)
}

/// Largest HTTP/2 frame payload unless the peer raised it (RFC 9113 §4.2).
const H2_MAX_FRAME: usize = 1 << 14;
/// Largest Modbus/TCP length field: unit id plus a 253-byte PDU (Modbus/TCP spec §3.1.3).
const MODBUS_MAX_LEN: usize = 254;
/// A DNS header is 12 bytes (RFC 1035 §4.1.1).
const DNS_HEADER: usize = 12;
/// PostgreSQL startup codes (protocol 3.0, SSLRequest, GSSENCRequest, CancelRequest).
const PG_STARTUP: [u32; 4] = [0x0003_0000, 80_877_103, 80_877_104, 80_877_102];

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    match b.get(at..at + 2)? {
        [x, y] => Some(usize::from(u16::from_be_bytes([*x, *y]))),
        _ => None,
    }
}

fn u24_at(b: &[u8], at: usize) -> Option<usize> {
    match b.get(at..at + 3)? {
        [x, y, z] => Some((usize::from(*x) << 16) | (usize::from(*y) << 8) | usize::from(*z)),
        _ => None,
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at + 4)? {
        [w, x, y, z] => Some(u32::from_be_bytes([*w, *x, *y, *z])),
        _ => None,
    }
}

/// Messages of `len(rest)` bytes each, laid end to end, fill `bytes` exactly (the last may
/// run past its end when `open_end`); `msg` returns a message's length and whether its
/// fields are legal. At least one whole message is required.
fn tiles(bytes: &[u8], open_end: bool, msg: impl Fn(&[u8]) -> Option<usize>) -> bool {
    let mut rest = bytes;
    let mut whole = 0;
    while !rest.is_empty() {
        let Some(n) = msg(rest).filter(|n| *n > 0) else {
            return false;
        };
        match rest.get(n..) {
            Some(next) => {
                whole += 1;
                rest = next;
            }
            None => return open_end && whole > 0,
        }
    }
    whole > 0
}

/// The SSH identification string (RFC 4253 §4.2).
fn ssh(b: &[u8]) -> bool {
    b.starts_with(b"SSH-")
}

/// The HTTP/2 connection preface (RFC 9113 §3.4).
fn http2_preface(b: &[u8]) -> bool {
    b.starts_with(b"PRI * HTTP/2.0\r\n")
}

/// HTTP/2 frames (RFC 9113 §4.1): 24-bit length within the default maximum, a known type
/// with the length and stream its definition requires, the reserved bit clear.
fn http2_frames(b: &[u8]) -> bool {
    tiles(b, true, |m| {
        let len = u24_at(m, 0)?;
        let kind = *m.get(3)?;
        let stream = u32_at(m, 5)?;
        if len > H2_MAX_FRAME || stream >> 31 != 0 {
            return None;
        }
        let on_stream = stream != 0;
        let ok = match kind {
            0 | 1 | 2 | 5 | 9 => on_stream, // DATA, HEADERS, PRIORITY, PUSH_PROMISE, CONTINUATION
            3 => on_stream && len == 4,     // RST_STREAM
            4 => !on_stream && len % 6 == 0, // SETTINGS
            6 => !on_stream && len == 8,    // PING
            7 => !on_stream && len >= 8,    // GOAWAY
            8 => len == 4,                  // WINDOW_UPDATE
            _ => false,
        };
        ok.then_some(9 + len)
    })
}

/// A Kerberos message over TCP (RFC 4120 §7.2.2): a 4-byte length, then the DER encoding
/// of an application-tagged message (AS-REQ 10 ... KRB-ERROR 30) of exactly that length.
fn kerberos(b: &[u8]) -> bool {
    const TAGS: [u8; 10] = [0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x74, 0x75, 0x76, 0x7e];
    let Some(record) = u32_at(b, 0).and_then(|n| usize::try_from(n).ok()) else {
        return false;
    };
    let Some(tag) = b.get(4) else {
        return false;
    };
    if !TAGS.contains(tag) {
        return false;
    }
    let der_len = match b.get(5) {
        Some(n) if *n < 0x80 => Some((1, usize::from(*n))),
        Some(0x81) => b.get(6).map(|n| (2, usize::from(*n))),
        Some(0x82) => u16_at(b, 6).map(|n| (3, n)),
        Some(0x83) => u24_at(b, 6).map(|n| (4, n)),
        _ => None,
    };
    der_len.is_some_and(|(len_bytes, n)| 1 + len_bytes + n == record)
}

/// Modbus/TCP application data units (MBAP header): protocol id 0, a length that covers
/// the unit id and the PDU, a function code (an exception sets its high bit).
fn modbus(b: &[u8]) -> bool {
    tiles(b, false, |m| {
        let protocol = u16_at(m, 2)?;
        let len = u16_at(m, 4)?;
        let function = *m.get(7)?;
        (protocol == 0 && (2..=MODBUS_MAX_LEN).contains(&len) && function & 0x7f != 0)
            .then_some(6 + len)
    })
}

/// DNS messages over TCP (RFC 1035 §4.2.2, RFC 7766): a 2-byte length, then a header with
/// a known opcode and response code, the Z bit clear, at most one question and fewer than
/// 256 records in each section.
fn dns(b: &[u8]) -> bool {
    tiles(b, false, |m| {
        let len = u16_at(m, 0)?;
        let flags = u16_at(m, 4)?;
        let questions = u16_at(m, 6)?;
        let records = [u16_at(m, 8)?, u16_at(m, 10)?, u16_at(m, 12)?];
        let opcode = (flags >> 11) & 0xf;
        let z = flags & 0x40;
        let rcode = flags & 0xf;
        (len >= DNS_HEADER
            && matches!(opcode, 0 | 1 | 2 | 4 | 5 | 6)
            && z == 0
            && rcode <= 10
            && questions <= 1
            && records.iter().all(|n| *n < 0x100))
        .then_some(2 + len)
    })
}

/// SMB over TCP (MS-SMB2 §2.1) or NetBIOS sessions (RFC 1002 §4.3): a session message
/// carrying an SMB1, SMB2 or SMB3-transform header.
fn smb(b: &[u8]) -> bool {
    matches!(b.first(), Some(0)) && matches!(b.get(4..8), Some([0xfd..=0xff, b'S', b'M', b'B']))
}

/// An ONC RPC message with record marking (RFC 5531 §11): a final-fragment marker, then
/// a call (RPC version 2) or a reply (accepted or denied).
fn onc_rpc(b: &[u8]) -> bool {
    let marker = u32_at(b, 0).unwrap_or(0);
    let kind = u32_at(b, 8);
    let next = u32_at(b, 12);
    marker >> 31 == 1
        && marker & 0x7fff_ffff >= 24
        && matches!((kind, next), (Some(0), Some(2)) | (Some(1), Some(0 | 1)))
}

/// PostgreSQL (protocol 3): a startup packet, or typed messages whose lengths fill the
/// segment.
fn postgres(b: &[u8]) -> bool {
    let startup = u32_at(b, 0).and_then(|n| usize::try_from(n).ok()) == Some(b.len())
        && u32_at(b, 4).is_some_and(|code| PG_STARTUP.contains(&code));
    startup
        || tiles(b, true, |m| {
            let kind = *m.first()?;
            let len = usize::try_from(u32_at(m, 1)?).ok()?;
            (kind.is_ascii_alphabetic() && (4..1 << 24).contains(&len)).then_some(1 + len)
        })
}

/// MySQL client/server packets: a 3-byte little-endian length and consecutive sequence
/// numbers, filling the segment exactly.
fn mysql(b: &[u8]) -> bool {
    let Some(&first_seq) = b.get(3) else {
        return false;
    };
    let mut seq = first_seq;
    let mut rest = b;
    let mut packets = 0;
    while !rest.is_empty() {
        let (Some(len), Some(s)) = (
            rest.get(..3)
                .map(|l| l.iter().rev().fold(0usize, |a, x| a << 8 | usize::from(*x))),
            rest.get(3),
        ) else {
            return false;
        };
        if len == 0 || *s != seq {
            return false;
        }
        let Some(next) = rest.get(4 + len..) else {
            return false;
        };
        rest = next;
        seq = seq.wrapping_add(1);
        packets += 1;
    }
    packets > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert!(OTHER_PORTS.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
        assert_eq!(other_port(22), Some("SSH"));
        assert_eq!(other_port(88), Some("Kerberos"));
        assert_eq!(other_port(502), Some("Modbus/TCP"));
        assert_eq!(other_port(80), None);
        assert_eq!(other_port(8080), None);
    }

    #[test]
    fn signatures() {
        assert_eq!(other_protocol(b"SSH-2.0-OpenSSH_9.6\r\n"), Some("SSH"));
        assert_eq!(
            other_protocol(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            Some("HTTP/2")
        );
        // SETTINGS (two settings), then WINDOW_UPDATE on stream 0.
        let h2 = [
            0, 0, 12, 4, 0, 0, 0, 0, 0, // SETTINGS, 12 bytes, stream 0
            0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0, // two settings
            0, 0, 4, 8, 0, 0, 0, 0, 0, // WINDOW_UPDATE, stream 0
            0, 0x0f, 0, 1, // increment
        ];
        assert_eq!(other_protocol(&h2), Some("HTTP/2"));
        // Kerberos AS-REQ: record length 0x16, tag 0x6a, DER length 0x14.
        let mut krb = vec![0, 0, 0, 0x16, 0x6a, 0x14];
        krb.extend_from_slice(&[0x30; 0x14]);
        assert_eq!(other_protocol(&krb), Some("Kerberos"));
        // Modbus: read holding registers (function 3), unit 1.
        let mb = [0x00, 0x01, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2];
        assert_eq!(other_protocol(&mb), Some("Modbus/TCP"));
        // DNS query: length 17, id, RD flag, one question.
        let mut q = vec![0, 17, 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(&[1, b'a', 0, 0, 1]);
        assert_eq!(other_protocol(&q), Some("DNS over TCP"));
        assert_eq!(
            other_protocol(&[0, 0, 0, 0x40, 0xfe, b'S', b'M', b'B']),
            Some("SMB")
        );
        let rpc = [0x80, 0, 0, 40, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 2];
        assert_eq!(other_protocol(&rpc), Some("ONC RPC"));
        assert_eq!(
            other_protocol(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]),
            Some("PostgreSQL")
        );
        assert_eq!(
            other_protocol(b"Z\x00\x00\x00\x05I"),
            Some("PostgreSQL"),
            "ReadyForQuery"
        );
        assert_eq!(
            other_protocol(&[5, 0, 0, 1, 3, b'a', b'b', b'c', b'd']),
            Some("MySQL")
        );
    }

    #[test]
    fn websocket_frames_match_none() {
        let frames: [&[u8]; 6] = [
            &[0x81, 0x02, b'h', b'i'],
            &[0x82, 0x00],
            &[0x88, 0x02, 0x03, 0xe8],
            &[0x81, 0x85, 1, 2, 3, 4, 0x69, 0x67, 0x6f, 0x68, 0x6e],
            &[0xc1, 0x03, 0xf2, 0x48, 0x05],
            &[0x89, 0x00, 0x8a, 0x00],
        ];
        for f in frames {
            assert_eq!(other_protocol(f), None, "{f:02x?}");
        }
    }

    #[test]
    fn every_prefix_is_safe() {
        let mut krb = vec![0, 0, 0, 0x16, 0x6a, 0x14];
        krb.extend_from_slice(&[0x30; 0x14]);
        for n in 0..krb.len() {
            let _ = other_protocol(&krb[..n]);
        }
    }
}
