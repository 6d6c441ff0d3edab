//! TLS adapter: one direction of a reassembled TCP stream -> TLS records and the handshake
//! facts the report needs (ClientHello, ServerHello, HelloRetryRequest, Certificate chain,
//! alerts, encrypted records). tls-parser parses handshake messages and extensions; its
//! nom 7 types never leave this module. Records are framed here, incrementally, so that a
//! record split across segments or a gap in the capture costs nothing but that record.
//!
//! Bounded: a record body is kept only when it is plaintext handshake or alert data (at most
//! `MAX_RECORD`), handshake messages are reassembled up to `MAX_HANDSHAKE`. Never panics on
//! input.

use tls_parser::{
    parse_tls_extensions, parse_tls_message_handshake, parse_tls_server_hello_extensions, SNIType,
    TlsExtension, TlsMessage, TlsMessageHandshake,
};

use crate::capture::Ts;
use crate::tcp::reassembly::StreamEvent;
use crate::tls::{
    CipherSuite, TlsAlertDescription, TlsAlertSeverity, TlsCipherSuiteID, TlsHandshakeType,
    TlsRecordType, Version,
};

/// Longest record body allowed: 2^14 plus the 2048 bytes of expansion TLS 1.2 permits
/// (RFC 5246 §6.2.3); a header claiming more is not TLS.
pub const MAX_RECORD: usize = (1 << 14) + 2048;
/// Longest handshake message reassembled (certificate chains run to 10-20 KiB).
pub const MAX_HANDSHAKE: usize = 64 * 1024;

/// The record types a TLS stream may carry, lowest to highest (RFC 8446 §5.1).
const FIRST_TYPE: TlsRecordType = TlsRecordType::ChangeCipherSpec;
const LAST_TYPE: TlsRecordType = TlsRecordType::ApplicationData;
/// Major version byte of every TLS and SSL 3 record header.
const MAJOR_VERSION: u8 = 3;
/// Highest minor version byte a record header carries (TLS 1.3 records still say 1.2).
const MAX_MINOR_VERSION: u8 = 4;
/// Record header: type, version, length.
const RECORD_HEADER: usize = 5;

/// A record type this reader knows.
fn known_type(t: u8) -> bool {
    (FIRST_TYPE.0..=LAST_TYPE.0).contains(&t)
}

/// The random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Could `bytes` start a TLS record? Content type 20-23, major version 3, minor 0-4.
pub fn looks_like_tls(bytes: &[u8]) -> bool {
    match bytes {
        [t, MAJOR_VERSION, minor, ..] => known_type(*t) && *minor <= MAX_MINOR_VERSION,
        [t, MAJOR_VERSION] | [t] => known_type(*t),
        _ => false,
    }
}

/// What the ClientHello offers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub sni: Option<String>,
    /// Versions offered: supported_versions when present, else the legacy version field.
    pub versions: Vec<Version>,
    pub alpn: Vec<String>,
    pub ciphers: Vec<TlsCipherSuiteID>,
}

/// What the ServerHello chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    pub version: Version,
    pub cipher: CipherSuite,
    pub alpn: Option<String>,
    /// A HelloRetryRequest (RFC 8446 §4.1.4), not the final ServerHello.
    pub retry: bool,
}

/// One thing seen in a TLS stream.
#[derive(Debug)]
pub enum TlsEvent<'a> {
    ClientHello(ClientHello),
    ServerHello(ServerHello),
    /// DER certificates, leaf first as sent.
    Certificate(Vec<&'a [u8]>),
    /// Another plaintext handshake message.
    Handshake(TlsHandshakeType),
    ChangeCipherSpec,
    /// A plaintext alert.
    Alert {
        level: TlsAlertSeverity,
        description: TlsAlertDescription,
    },
    /// An alert record whose body is encrypted (content type 21, body longer than 2).
    EncryptedAlert {
        len: usize,
    },
    /// An encrypted record of another type (application_data, or TLS 1.3 handshake).
    Encrypted {
        content_type: TlsRecordType,
        len: usize,
    },
    /// The bytes are not TLS (or framing was lost): nothing more is read in this direction.
    NotTls,
}

enum State {
    Header,
    Body {
        content_type: TlsRecordType,
        remaining: usize,
        keep: bool,
    },
    Lost,
}

/// Reads TLS records of one direction.
pub struct TlsReader {
    state: State,
    hdr: [u8; RECORD_HEADER],
    hdr_len: usize,
    body: Vec<u8>,
    handshake: Vec<u8>,
    /// Records in this direction are protected (after ChangeCipherSpec, or after a TLS 1.3
    /// ServerHello).
    pub encrypted: bool,
    /// Set by the connection once a TLS 1.3 ServerHello is seen: later handshake records
    /// are encrypted even though their outer type says handshake (never, in practice).
    pub tls13: bool,
    /// Latest packet that carried bytes of the current record.
    latest: (u64, Ts),
}

impl Default for TlsReader {
    fn default() -> Self {
        TlsReader::new()
    }
}

impl TlsReader {
    pub fn new() -> TlsReader {
        TlsReader {
            state: State::Header,
            hdr: [0; RECORD_HEADER],
            hdr_len: 0,
            body: Vec::new(),
            handshake: Vec::new(),
            encrypted: false,
            tls13: false,
            latest: (0, Ts(0)),
        }
    }

    /// Bytes held for records and handshake messages not yet complete.
    pub fn buffered(&self) -> usize {
        self.body.capacity() + self.handshake.capacity()
    }

    /// Drops what is buffered and stops reading (the capture-wide buffer budget is spent).
    pub fn shed(&mut self) {
        self.body = Vec::new();
        self.handshake = Vec::new();
        self.state = State::Lost;
    }

    /// Feeds one stream event; `sink` gets each event with the packet that completed it.
    pub fn feed<F>(&mut self, ev: &StreamEvent<'_>, sink: &mut F)
    where
        F: FnMut(TlsEvent<'_>, u64, Ts),
    {
        match *ev {
            StreamEvent::Gap { len, .. } => match &mut self.state {
                State::Body {
                    remaining, keep, ..
                } if len > 0 && (len as usize) < *remaining && !*keep => {
                    *remaining -= len as usize;
                }
                State::Lost => {}
                _ => {
                    // A record boundary may be hidden: stop rather than misread.
                    self.state = State::Lost;
                }
            },
            StreamEvent::Data {
                bytes,
                frame_no,
                ts,
                ..
            } => self.data(bytes, frame_no, ts, sink),
        }
    }

    fn data<F>(&mut self, mut bytes: &[u8], frame_no: u64, ts: Ts, sink: &mut F)
    where
        F: FnMut(TlsEvent<'_>, u64, Ts),
    {
        while !bytes.is_empty() {
            if frame_no > self.latest.0 {
                self.latest = (frame_no, ts);
            }
            match &mut self.state {
                State::Lost => return,
                State::Header => {
                    if self.hdr_len == 0 {
                        self.latest = (frame_no, ts);
                    }
                    let take = (RECORD_HEADER - self.hdr_len).min(bytes.len());
                    if let (Some(dst), Some(src)) = (
                        self.hdr.get_mut(self.hdr_len..self.hdr_len + take),
                        bytes.get(..take),
                    ) {
                        dst.copy_from_slice(src);
                    }
                    self.hdr_len += take;
                    bytes = bytes.get(take..).unwrap_or_default();
                    if self.hdr_len < RECORD_HEADER {
                        return;
                    }
                    self.hdr_len = 0;
                    let [content_type, major, minor, l0, l1] = self.hdr;
                    let content_type = TlsRecordType(content_type);
                    let len = usize::from(u16::from_be_bytes([l0, l1]));
                    let is_tls = known_type(content_type.0)
                        && major == MAJOR_VERSION
                        && minor <= MAX_MINOR_VERSION
                        && len <= MAX_RECORD;
                    if !is_tls {
                        self.state = State::Lost;
                        sink(TlsEvent::NotTls, frame_no, ts);
                        return;
                    }
                    // Alert bodies are always kept (they are tiny): some stacks send a
                    // plaintext alert after the peer has started encrypting.
                    let keep = content_type == TlsRecordType::Alert
                        || (!self.encrypted
                            && matches!(
                                content_type,
                                TlsRecordType::Handshake | TlsRecordType::ChangeCipherSpec
                            ));
                    self.body.clear();
                    self.state = State::Body {
                        content_type,
                        remaining: len,
                        keep,
                    };
                    if len == 0 {
                        self.finish_record(sink);
                    }
                }
                State::Body {
                    remaining, keep, ..
                } => {
                    let n = (*remaining).min(bytes.len());
                    let (chunk, rest) = bytes.split_at(n);
                    if *keep {
                        self.body.extend_from_slice(chunk);
                    }
                    *remaining -= n;
                    bytes = rest;
                    if *remaining == 0 {
                        self.finish_record(sink);
                    }
                }
            }
        }
    }

    fn finish_record<F>(&mut self, sink: &mut F)
    where
        F: FnMut(TlsEvent<'_>, u64, Ts),
    {
        let State::Body { content_type, .. } = std::mem::replace(&mut self.state, State::Header)
        else {
            return;
        };
        let (frame_no, ts) = self.latest;
        let body = std::mem::take(&mut self.body);
        let len_hint = body.len();
        if self.encrypted {
            // Nothing kept: only the length matters, and it is in the header we consumed.
            let len = usize::from(u16::from_be_bytes([self.hdr[3], self.hdr[4]]));
            if content_type == TlsRecordType::Alert {
                // A protected record is at least a tag long: two bytes with a valid level
                // are a plaintext alert (OpenSSL sends one when it rejects a TLS 1.3
                // certificate before switching its own keys).
                let level = body.first().map(|l| TlsAlertSeverity(*l));
                match (level, body.as_slice()) {
                    (
                        Some(level @ (TlsAlertSeverity::Warning | TlsAlertSeverity::Fatal)),
                        [_, description],
                    ) => sink(
                        TlsEvent::Alert {
                            level,
                            description: TlsAlertDescription(*description),
                        },
                        frame_no,
                        ts,
                    ),
                    _ => sink(TlsEvent::EncryptedAlert { len }, frame_no, ts),
                }
            } else if content_type == TlsRecordType::ChangeCipherSpec {
                sink(TlsEvent::ChangeCipherSpec, frame_no, ts);
            } else {
                sink(TlsEvent::Encrypted { content_type, len }, frame_no, ts);
            }
            self.keep_body(body);
            return;
        }
        match content_type {
            TlsRecordType::ChangeCipherSpec => {
                sink(TlsEvent::ChangeCipherSpec, frame_no, ts);
                // In TLS 1.3 ChangeCipherSpec is only a compatibility record (RFC 8446
                // §D.4); protection starts with the ServerHello instead.
                if !self.tls13 {
                    self.encrypted = true;
                }
            }
            TlsRecordType::Alert => match body.as_slice() {
                [level, description] => sink(
                    TlsEvent::Alert {
                        level: TlsAlertSeverity(*level),
                        description: TlsAlertDescription(*description),
                    },
                    frame_no,
                    ts,
                ),
                _ => sink(TlsEvent::EncryptedAlert { len: len_hint }, frame_no, ts),
            },
            TlsRecordType::Handshake => {
                if self.handshake.len() + body.len() > MAX_HANDSHAKE {
                    self.handshake.clear();
                    self.state = State::Lost;
                    return;
                }
                self.handshake.extend_from_slice(&body);
                self.drain_handshake(frame_no, ts, sink);
            }
            _ => {
                let len = usize::from(u16::from_be_bytes([self.hdr[3], self.hdr[4]]));
                sink(TlsEvent::Encrypted { content_type, len }, frame_no, ts);
            }
        }
        self.keep_body(body);
    }

    /// Keeps the record buffer for reuse when small; a large one is freed.
    fn keep_body(&mut self, mut body: Vec<u8>) {
        body.clear();
        if body.capacity() <= 4096 {
            self.body = body;
        }
    }

    /// Parses every complete handshake message buffered.
    fn drain_handshake<F>(&mut self, frame_no: u64, ts: Ts, sink: &mut F)
    where
        F: FnMut(TlsEvent<'_>, u64, Ts),
    {
        loop {
            let total = match self.handshake.get(..4) {
                Some([_, a, b, c]) => {
                    4 + ((usize::from(*a) << 16) | (usize::from(*b) << 8) | usize::from(*c))
                }
                _ => return,
            };
            if self.handshake.len() < total {
                return;
            }
            let msg: Vec<u8> = self.handshake.drain(..total).collect();
            if self.handshake.is_empty() && self.handshake.capacity() > 4096 {
                self.handshake = Vec::new();
            }
            let htype = TlsHandshakeType(msg.first().copied().unwrap_or(0));
            match parse_tls_message_handshake(&msg) {
                Ok((_, TlsMessage::Handshake(hs))) => {
                    if let Some((is13, retry)) = emit_handshake(hs, htype, frame_no, ts, sink) {
                        if is13 || retry {
                            self.tls13 = true;
                        }
                        if is13 && !retry {
                            // Everything after a TLS 1.3 ServerHello is protected.
                            self.encrypted = true;
                            self.handshake.clear();
                            return;
                        }
                    }
                }
                _ => sink(TlsEvent::Handshake(htype), frame_no, ts),
            }
        }
    }
}

/// Emits the event for one handshake message; for a ServerHello (or HelloRetryRequest)
/// returns (TLS 1.3 chosen, is a retry).
fn emit_handshake<F>(
    hs: TlsMessageHandshake<'_>,
    htype: TlsHandshakeType,
    frame_no: u64,
    ts: Ts,
    sink: &mut F,
) -> Option<(bool, bool)>
where
    F: FnMut(TlsEvent<'_>, u64, Ts),
{
    match hs {
        TlsMessageHandshake::ClientHello(ch) => {
            let mut hello = ClientHello {
                ciphers: ch.ciphers.clone(),
                versions: vec![Version(ch.version)],
                ..ClientHello::default()
            };
            if let Some(Ok((_, exts))) = ch.ext.map(parse_tls_extensions) {
                for ext in exts {
                    match ext {
                        TlsExtension::SNI(names) => {
                            hello.sni = names
                                .iter()
                                .find(|(t, _)| *t == SNIType::HostName)
                                .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                        }
                        TlsExtension::SupportedVersions(v) => {
                            hello.versions = v
                                .iter()
                                .filter(|v| !is_grease(v.0))
                                .map(|v| Version(*v))
                                .collect();
                        }
                        TlsExtension::ALPN(protos) => {
                            hello.alpn = protos
                                .iter()
                                .map(|p| String::from_utf8_lossy(p).into_owned())
                                .collect();
                        }
                        _ => {}
                    }
                }
            }
            hello.ciphers.retain(|c| !is_grease(c.0));
            sink(TlsEvent::ClientHello(hello), frame_no, ts);
        }
        TlsMessageHandshake::ServerHello(sh) => {
            let mut hello = ServerHello {
                version: Version(sh.version),
                cipher: CipherSuite(sh.cipher),
                alpn: None,
                retry: sh.random == HRR_RANDOM,
            };
            if let Some(Ok((_, exts))) = sh.ext.map(parse_tls_server_hello_extensions) {
                for ext in exts {
                    match ext {
                        TlsExtension::SupportedVersions(v) => {
                            if let Some(v) = v.first() {
                                hello.version = Version(*v);
                            }
                        }
                        TlsExtension::ALPN(protos) => {
                            hello.alpn = protos
                                .first()
                                .map(|p| String::from_utf8_lossy(p).into_owned());
                        }
                        _ => {}
                    }
                }
            }
            let result = (hello.version.is_tls13(), hello.retry);
            sink(TlsEvent::ServerHello(hello), frame_no, ts);
            return Some(result);
        }
        TlsMessageHandshake::HelloRetryRequest(hrr) => {
            sink(
                TlsEvent::ServerHello(ServerHello {
                    version: Version(hrr.version),
                    cipher: CipherSuite(hrr.cipher),
                    alpn: None,
                    retry: true,
                }),
                frame_no,
                ts,
            );
            return Some((true, true));
        }
        TlsMessageHandshake::Certificate(c) => sink(
            TlsEvent::Certificate(c.cert_chain.iter().map(|c| c.data).collect()),
            frame_no,
            ts,
        ),
        _ => sink(TlsEvent::Handshake(htype), frame_no, ts),
    }
    None
}

/// GREASE values (RFC 8701): 0x?A?A.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ClientHello record: TLS 1.2 legacy version, one cipher, SNI "a.test",
    /// supported_versions [1.3, 1.2], ALPN ["http/1.1"].
    fn client_hello() -> Vec<u8> {
        let mut ext = Vec::new();
        // server_name
        let name = b"a.test";
        let sni_list_len = 3 + name.len();
        ext.extend_from_slice(&[0x00, 0x00]);
        ext.extend_from_slice(&((sni_list_len + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(sni_list_len as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
        ext.extend_from_slice(name);
        // supported_versions
        ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
        // ALPN
        ext.extend_from_slice(&[0x00, 0x10, 0x00, 0x0b, 0x00, 0x09, 0x08]);
        ext.extend_from_slice(b"http/1.1");
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7u8; 32]); // random
        body.push(0); // session id
        body.extend_from_slice(&[0x00, 0x02, 0x13, 0x01]); // ciphers
        body.extend_from_slice(&[0x01, 0x00]); // compression
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    fn events(chunks: &[&[u8]]) -> Vec<String> {
        let mut r = TlsReader::new();
        let mut out = Vec::new();
        let mut offset = 0;
        for (i, c) in chunks.iter().enumerate() {
            let ev = StreamEvent::Data {
                offset,
                bytes: c,
                frame_no: i as u64 + 1,
                ts: Ts(0),
            };
            r.feed(&ev, &mut |e, f, _| out.push(format!("{f}:{e:?}")));
            offset += c.len() as u64;
        }
        out
    }

    #[test]
    fn client_hello_facts_whatever_the_split() {
        let rec = client_hello();
        for cut in 0..rec.len() {
            let out = events(&[&rec[..cut], &rec[cut..]]);
            assert_eq!(out.len(), 1, "cut {cut}: {out:?}");
            assert!(out[0].contains("sni: Some(\"a.test\")"), "{}", out[0]);
            assert!(
                out[0].contains("versions: [Version(Tls13), Version(Tls12)]"),
                "{}",
                out[0]
            );
            assert!(out[0].contains("alpn: [\"http/1.1\"]"), "{}", out[0]);
        }
    }

    #[test]
    fn alerts_plain_and_encrypted() {
        let out = events(&[&[21, 3, 3, 0, 2, 2, 40]]);
        assert_eq!(
            out,
            vec!["1:Alert { level: TlsAlertSeverity(2), description: TlsAlertDescription(40) }"]
        );
        let out = events(&[&[20, 3, 3, 0, 1, 1], &[21, 3, 3, 0, 26], &[0u8; 26]]);
        assert_eq!(
            out,
            vec!["1:ChangeCipherSpec", "3:EncryptedAlert { len: 26 }"]
        );
    }

    #[test]
    fn not_tls_stops_the_reader() {
        assert_eq!(events(&[b"HTTP/1.1 400 Bad Request\r\n"]), vec!["1:NotTls"]);
        assert!(looks_like_tls(&[22, 3, 1, 0, 200]));
        assert!(!looks_like_tls(b"GET / HTTP/1.1"));
        assert!(!looks_like_tls(&[0x81, 0x05]));
    }

    #[test]
    fn grease() {
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && !is_grease(0x0304));
    }
}
