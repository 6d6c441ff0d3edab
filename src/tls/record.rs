//! TLS adapter: one direction of a reassembled TCP stream -> TLS records and the handshake
//! facts the report needs (ClientHello, ServerHello, HelloRetryRequest, Certificate chain,
//! alerts, encrypted records). tls-parser parses handshake messages and extensions; its
//! nom 7 types never leave this module. Records are framed here, incrementally, so that a
//! record split across segments or a gap in the capture costs nothing but that record.
//!
//! Bounded: a record body is kept only when something reads it (handshake and alert data,
//! protected records when there are keys to open them), at most `MAX_RECORD`; one that
//! arrives whole is read in a buffer per thread rather than in the reader's own. Handshake
//! messages are reassembled up to `MAX_HANDSHAKE`. Never panics on input.

use tls_parser::{
    parse_tls_extensions, parse_tls_message_handshake, parse_tls_server_hello_extensions, SNIType,
    TlsExtension, TlsExtensionType, TlsMessage, TlsMessageHandshake,
};

use crate::capture::Ts;
use crate::tcp::reassembly::StreamEvent;
use crate::tls::crypto::DecryptError;
use crate::tls::decrypt::{Keys, Opened};
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
/// The encrypt_then_mac extension (RFC 7366).
const ENCRYPT_THEN_MAC: u16 = 22;
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
    /// The client random: the key a key log files the session's secrets under.
    pub random: [u8; 32],
    /// Extension types in the order sent, GREASE values included: with the lists below,
    /// what tells one client's TLS stack from another's.
    pub extensions: Vec<u16>,
    pub signature_algorithms: Vec<u16>,
    pub groups: Vec<u16>,
    /// A GREASE value (RFC 8701) among the cipher suites or extensions.
    pub grease: bool,
}

/// What the ServerHello chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHello {
    pub version: Version,
    pub cipher: CipherSuite,
    pub alpn: Option<String>,
    /// A HelloRetryRequest (RFC 8446 §4.1.4), not the final ServerHello.
    pub retry: bool,
    pub random: [u8; 32],
    /// encrypt_then_mac (RFC 7366) was agreed: CBC records are MAC'd after encryption.
    pub encrypt_then_mac: bool,
}

/// One thing seen in a TLS stream.
#[derive(Debug)]
pub enum TlsEvent<'a> {
    ClientHello(ClientHello),
    ServerHello(ServerHello),
    /// DER certificates, leaf first as sent (empty: a client declining to send one).
    Certificate(Vec<&'a [u8]>),
    /// Another handshake message (plaintext, or decrypted).
    Handshake(TlsHandshakeType),
    ChangeCipherSpec,
    /// An alert: in plaintext, or `protected` and decrypted.
    Alert {
        level: TlsAlertSeverity,
        description: TlsAlertDescription,
        protected: bool,
    },
    /// An alert record whose body is encrypted (content type 21, body longer than 2).
    EncryptedAlert {
        len: usize,
    },
    /// A protected record (application_data, a TLS 1.3 handshake or alert, a TLS 1.2
    /// Finished): sent for every one, decrypted or not.
    Encrypted {
        content_type: TlsRecordType,
        len: usize,
    },
    /// Decrypted application data: the bytes at `offset` of the direction's plaintext.
    Plaintext {
        offset: u64,
        bytes: &'a [u8],
    },
    /// A protected record lost to a capture gap: at most `len` plaintext bytes at `offset`.
    PlaintextGap {
        offset: u64,
        len: u64,
    },
    /// A record did not open with the session's keys: decryption stops in this direction.
    DecryptFailed(DecryptError),
    /// The bytes are not TLS (or framing was lost): nothing more is read in this direction.
    NotTls,
}

/// What a sink may hand back: the keys of the direction being read, when the event was
/// its ServerHello.
pub type Reply = Option<Box<Keys>>;

thread_local! {
    /// Where records whose body arrives in one piece are opened: one buffer per thread,
    /// reused record after record (at most `MAX_RECORD` long, twice that in capacity).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
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
    /// The keys that open this direction's protected records, once known.
    keys: Option<Box<Keys>>,
    /// Plaintext bytes delivered so far.
    plain_offset: u64,
    /// Part of the current record was lost to a capture gap.
    damaged: bool,
    /// Latest packet that carried bytes of the current record.
    latest: (u64, Ts),
}

impl Default for TlsReader {
    fn default() -> Self {
        TlsReader::new()
    }
}

/// What the handshake messages of one record asked of the record layer.
#[derive(Default)]
struct After {
    /// A TLS 1.3 Finished: the direction's next record uses its application keys.
    finished: bool,
    /// A TLS 1.3 KeyUpdate: the next record uses the next generation of keys.
    key_update: bool,
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
            keys: None,
            plain_offset: 0,
            damaged: false,
            latest: (0, Ts(0)),
        }
    }

    /// The keys of this direction: protected records are opened from now on.
    pub fn set_keys(&mut self, keys: Box<Keys>) {
        self.keys = Some(keys);
    }

    /// Protected records are being opened.
    pub fn decrypting(&self) -> bool {
        self.keys.is_some()
    }

    /// Bytes held for records and handshake messages not yet complete, and the keys.
    pub fn buffered(&self) -> usize {
        self.body.capacity()
            + self.handshake.capacity()
            + self.keys.as_ref().map_or(0, |k| k.size())
    }

    /// Drops what is buffered and stops reading (the capture-wide buffer budget is spent).
    pub fn shed(&mut self) {
        self.body = Vec::new();
        self.handshake = Vec::new();
        self.keys = None;
        self.state = State::Lost;
    }

    /// Feeds one stream event; `sink` gets each event with the packet that completed it.
    pub fn feed<F>(&mut self, ev: &StreamEvent<'_>, sink: &mut F)
    where
        F: FnMut(TlsEvent<'_>, u64, Ts) -> Reply,
    {
        match *ev {
            StreamEvent::Gap {
                len, frame_no, ts, ..
            } => match &mut self.state {
                State::Body {
                    remaining, keep, ..
                } if len > 0
                    && (len as usize) < *remaining
                    && (!*keep || self.encrypted && self.keys.is_some()) =>
                {
                    // Inside a record whose body is not needed, or whose loss costs only
                    // this record's plaintext: the record boundary is still known.
                    *remaining -= len as usize;
                    if *keep {
                        self.damaged = true;
                        *keep = false;
                    }
                }
                State::Lost => {}
                _ => {
                    // A record boundary may be hidden: stop rather than misread.
                    self.state = State::Lost;
                    if self.keys.take().is_some() {
                        let offset = self.plain_offset;
                        sink(TlsEvent::PlaintextGap { offset, len }, frame_no, ts);
                    }
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
        F: FnMut(TlsEvent<'_>, u64, Ts) -> Reply,
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
                    // plaintext alert after the peer has started encrypting. Protected
                    // records are kept when there are keys to open them.
                    let keep = content_type == TlsRecordType::Alert
                        || if self.encrypted {
                            self.keys.is_some() && content_type != TlsRecordType::ChangeCipherSpec
                        } else {
                            matches!(
                                content_type,
                                TlsRecordType::Handshake | TlsRecordType::ChangeCipherSpec
                            )
                        };
                    self.body.clear();
                    self.damaged = false;
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
                    *remaining -= n;
                    let done = *remaining == 0;
                    let keep = *keep;
                    bytes = rest;
                    // The whole body in this piece (most records) is opened in the thread's
                    // scratch buffer rather than copied into this reader's.
                    let whole = keep && done && self.body.is_empty();
                    if !(whole && self.finish_whole(chunk, sink)) {
                        if keep {
                            self.body.extend_from_slice(chunk);
                        }
                        if done {
                            self.finish_record(sink);
                        }
                    }
                }
            }
        }
    }

    /// The current record's body is complete in the reader's buffer.
    fn finish_record<F>(&mut self, sink: &mut F)
    where
        F: FnMut(TlsEvent<'_>, u64, Ts) -> Reply,
    {
        let mut body = std::mem::take(&mut self.body);
        self.finish_body(&mut body, sink);
        self.keep_body(body);
    }

    /// The current record's body arrived whole in `chunk`: it is copied into the thread's
    /// scratch buffer, which recent records left in cache, and opened there. (The reader's
    /// own buffer, last touched at this connection's previous record, is cold by now.)
    /// Returns false, the record left to the reader's own buffer, when another record is
    /// being handed on from the scratch buffer (bytes fed from within its events).
    fn finish_whole<F>(&mut self, chunk: &[u8], sink: &mut F) -> bool
    where
        F: FnMut(TlsEvent<'_>, u64, Ts) -> Reply,
    {
        SCRATCH.with(|cell| {
            let Ok(mut scratch) = cell.try_borrow_mut() else {
                return false;
            };
            scratch.clear();
            scratch.extend_from_slice(chunk);
            self.finish_body(&mut scratch, sink);
            true
        })
    }

    /// Handles a complete record whose body is `body` (opened in place when protected).
    fn finish_body<F>(&mut self, body: &mut [u8], sink: &mut F)
    where
        F: FnMut(TlsEvent<'_>, u64, Ts) -> Reply,
    {
        let State::Body { content_type, .. } = std::mem::replace(&mut self.state, State::Header)
        else {
            return;
        };
        let (frame_no, ts) = self.latest;
        let len_hint = body.len();
        if self.encrypted {
            // Only the length matters when nothing opens the record, and it is in the
            // header we consumed.
            let len = self.record_len();
            if content_type == TlsRecordType::Alert && body.len() == 2 {
                // A protected record is at least a tag long: two bytes with a valid level
                // are a plaintext alert (OpenSSL sends one when it rejects a TLS 1.3
                // certificate before switching its own keys).
                if let Some(alert) = plain_alert(body, false) {
                    sink(alert, frame_no, ts);
                    return;
                }
            }
            if content_type == TlsRecordType::ChangeCipherSpec {
                sink(TlsEvent::ChangeCipherSpec, frame_no, ts);
            } else if content_type == TlsRecordType::Alert && self.keys.is_none() {
                sink(TlsEvent::EncryptedAlert { len }, frame_no, ts);
            } else {
                sink(TlsEvent::Encrypted { content_type, len }, frame_no, ts);
                if self.damaged {
                    self.lost_record(len, frame_no, ts, sink);
                } else if self.keys.is_some() {
                    self.open_record(body, frame_no, ts, sink);
                }
            }
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
            TlsRecordType::Alert => match plain_alert(body, false) {
                Some(alert) if body.len() == 2 => {
                    sink(alert, frame_no, ts);
                }
                _ => {
                    sink(TlsEvent::EncryptedAlert { len: len_hint }, frame_no, ts);
                }
            },
            TlsRecordType::Handshake => {
                if !self.add_handshake(body) {
                    return;
                }
                self.drain_handshake(frame_no, ts, sink);
            }
            _ => {
                let len = self.record_len();
                sink(TlsEvent::Encrypted { content_type, len }, frame_no, ts);
            }
        }
    }

    /// The body length the current record's header gives.
    fn record_len(&self) -> usize {
        let [_, _, _, hi, lo] = self.hdr;
        usize::from(u16::from_be_bytes([hi, lo]))
    }

    /// Appends handshake bytes; false (and reading stops) past `MAX_HANDSHAKE`.
    fn add_handshake(&mut self, bytes: &[u8]) -> bool {
        if self.handshake.len() + bytes.len() > MAX_HANDSHAKE {
            self.handshake.clear();
            self.state = State::Lost;
            return false;
        }
        self.handshake.extend_from_slice(bytes);
        true
    }

    /// A protected record that lost bytes to a capture gap: its sequence number is
    /// skipped and the plaintext stream learns of the hole.
    fn lost_record<F>(&mut self, len: usize, frame_no: u64, ts: Ts, sink: &mut F)
    where
        F: FnMut(TlsEvent<'_>, u64, Ts) -> Reply,
    {
        if let Some(keys) = self.keys.as_mut() {
            keys.skip();
            let offset = self.plain_offset;
            self.plain_offset += len as u64;
            sink(
                TlsEvent::PlaintextGap {
                    offset,
                    len: len as u64,
                },
                frame_no,
                ts,
            );
        }
    }

    /// Opens a protected record with this direction's keys and hands on what it holds.
    fn open_record<F>(&mut self, body: &mut [u8], frame_no: u64, ts: Ts, sink: &mut F)
    where
        F: FnMut(TlsEvent<'_>, u64, Ts) -> Reply,
    {
        let Some(keys) = self.keys.as_mut() else {
            return;
        };
        let (content_type, range) = match keys.open(&self.hdr, body) {
            Opened::Plain(t, range) => (TlsRecordType(t), range),
            Opened::Unreadable => return,
            Opened::Failed(e) => {
                self.keys = None;
                sink(TlsEvent::DecryptFailed(e), frame_no, ts);
                let offset = self.plain_offset;
                if offset > 0 {
                    sink(TlsEvent::PlaintextGap { offset, len: 0 }, frame_no, ts);
                }
                return;
            }
        };
        let plain = body.get(range).unwrap_or_default();
        match content_type {
            TlsRecordType::ApplicationData => {
                let offset = self.plain_offset;
                self.plain_offset += plain.len() as u64;
                if !plain.is_empty() {
                    sink(
                        TlsEvent::Plaintext {
                            offset,
                            bytes: plain,
                        },
                        frame_no,
                        ts,
                    );
                }
            }
            TlsRecordType::Alert => {
                if let Some(alert) = plain_alert(plain, true) {
                    sink(alert, frame_no, ts);
                }
            }
            TlsRecordType::Handshake => {
                if !self.add_handshake(plain) {
                    return;
                }
                let after = self.drain_handshake(frame_no, ts, sink);
                if let Some(keys) = self.keys.as_mut() {
                    if after.finished && self.tls13 {
                        keys.finished();
                    }
                    if after.key_update {
                        keys.key_update();
                    }
                }
            }
            _ => {}
        }
    }

    /// Keeps the record buffer for reuse when small; a large one is freed.
    fn keep_body(&mut self, mut body: Vec<u8>) {
        body.clear();
        if body.capacity() <= 4096 {
            self.body = body;
        }
    }

    /// Parses every complete handshake message buffered.
    fn drain_handshake<F>(&mut self, frame_no: u64, ts: Ts, sink: &mut F) -> After
    where
        F: FnMut(TlsEvent<'_>, u64, Ts) -> Reply,
    {
        let mut after = After::default();
        loop {
            let total = match self.handshake.get(..4) {
                Some([_, a, b, c]) => {
                    4 + ((usize::from(*a) << 16) | (usize::from(*b) << 8) | usize::from(*c))
                }
                _ => return after,
            };
            if self.handshake.len() < total {
                return after;
            }
            let msg: Vec<u8> = self.handshake.drain(..total).collect();
            if self.handshake.is_empty() && self.handshake.capacity() > 4096 {
                self.handshake = Vec::new();
            }
            let htype = TlsHandshakeType(msg.first().copied().unwrap_or(0));
            match htype {
                TlsHandshakeType::Finished => after.finished = true,
                TlsHandshakeType::KeyUpdate => after.key_update = true,
                _ => {}
            }
            if self.tls13 && htype == TlsHandshakeType::Certificate {
                // TLS 1.3 certificates carry a request context and per-entry extensions.
                match tls13_certificates(msg.get(4..).unwrap_or_default()) {
                    Some(chain) => sink(TlsEvent::Certificate(chain), frame_no, ts),
                    None => sink(TlsEvent::Handshake(htype), frame_no, ts),
                };
                continue;
            }
            let parsed = match draft_server_hello(&msg) {
                Some(hello) => Ok((&[][..], TlsMessage::Handshake(hello))),
                None => parse_tls_message_handshake(&msg),
            };
            match parsed {
                Ok((_, TlsMessage::Handshake(hs))) => {
                    let (hello, reply) = emit_handshake(hs, htype, frame_no, ts, sink);
                    if let Some(keys) = reply {
                        self.keys = Some(keys);
                    }
                    if let Some((is13, retry)) = hello {
                        if is13 || retry {
                            self.tls13 = true;
                        }
                        if is13 && !retry {
                            // Everything after a TLS 1.3 ServerHello is protected.
                            self.encrypted = true;
                            self.handshake.clear();
                            return after;
                        }
                    }
                }
                _ => {
                    sink(TlsEvent::Handshake(htype), frame_no, ts);
                }
            }
        }
    }
}

/// The high byte of a TLS 1.3 draft version (0x7f00 + draft number).
const DRAFT_MAJOR: u8 = 0x7f;
/// The last draft whose ServerHello carries its version directly, without a session id or
/// compression method (draft 22 moved to the TLS 1.2 layout with supported_versions).
const LAST_BARE_DRAFT: u8 = 21;

/// A ServerHello of a TLS 1.3 draft up to 21 (draft-ietf-tls-tls13-21 §4.1.3): version,
/// random, cipher suite, extensions. tls-parser reads only draft 18 of these, so all are
/// read here, as a ServerHello with the draft version.
fn draft_server_hello(msg: &[u8]) -> Option<TlsMessageHandshake<'_>> {
    let [htype, ..] = *msg.first_chunk::<4>()?;
    let body = msg.get(4..)?;
    let [major, draft] = *body.first_chunk::<2>()?;
    if TlsHandshakeType(htype) != TlsHandshakeType::ServerHello
        || major != DRAFT_MAJOR
        || draft > LAST_BARE_DRAFT
    {
        return None;
    }
    let random = body.get(2..34)?;
    let [c0, c1] = *body.get(34..)?.first_chunk::<2>()?;
    let ext = body.get(36..).and_then(|rest| {
        let [l0, l1] = *rest.first_chunk::<2>()?;
        rest.get(2..2 + usize::from(u16::from_be_bytes([l0, l1])))
    });
    Some(TlsMessageHandshake::ServerHello(
        tls_parser::TlsServerHelloContents {
            version: tls_parser::TlsVersion(u16::from_be_bytes([major, draft])),
            random,
            session_id: None,
            cipher: TlsCipherSuiteID(u16::from_be_bytes([c0, c1])),
            compression: tls_parser::TlsCompressionID(0),
            ext,
        },
    ))
}

/// The alert in `body`, when it is one (two bytes, a known level).
fn plain_alert(body: &[u8], protected: bool) -> Option<TlsEvent<'static>> {
    match body {
        [level, description, ..] => {
            let level = TlsAlertSeverity(*level);
            matches!(level, TlsAlertSeverity::Warning | TlsAlertSeverity::Fatal).then_some(
                TlsEvent::Alert {
                    level,
                    description: TlsAlertDescription(*description),
                    protected,
                },
            )
        }
        _ => None,
    }
}

/// The DER certificates of a TLS 1.3 Certificate message body (RFC 8446 §4.4.2): request
/// context, then entries of certificate and extensions. None when malformed.
fn tls13_certificates(body: &[u8]) -> Option<Vec<&[u8]>> {
    let ctx_len = usize::from(*body.first()?);
    let rest = body.get(1 + ctx_len..)?;
    let list_len = u24(rest)?;
    let mut list = rest.get(3..3 + list_len)?;
    let mut chain = Vec::new();
    while !list.is_empty() {
        let cert_len = u24(list)?;
        chain.push(list.get(3..3 + cert_len)?);
        let ext = list.get(3 + cert_len..)?;
        let ext_len = usize::from(u16::from_be_bytes([*ext.first()?, *ext.get(1)?]));
        list = ext.get(2 + ext_len..)?;
    }
    Some(chain)
}

/// A 24-bit big-endian length at the start of `b`.
fn u24(b: &[u8]) -> Option<usize> {
    match b {
        [x, y, z, ..] => Some((usize::from(*x) << 16) | (usize::from(*y) << 8) | usize::from(*z)),
        _ => None,
    }
}

/// Emits the event for one handshake message; for a ServerHello (or HelloRetryRequest)
/// returns (TLS 1.3 chosen, is a retry), with the sink's reply.
fn emit_handshake<F>(
    hs: TlsMessageHandshake<'_>,
    htype: TlsHandshakeType,
    frame_no: u64,
    ts: Ts,
    sink: &mut F,
) -> (Option<(bool, bool)>, Reply)
where
    F: FnMut(TlsEvent<'_>, u64, Ts) -> Reply,
{
    match hs {
        TlsMessageHandshake::ClientHello(ch) => {
            let mut hello = ClientHello {
                ciphers: ch.ciphers.clone(),
                versions: vec![Version(ch.version)],
                random: random32(ch.random),
                ..ClientHello::default()
            };
            hello.extensions = ch.ext.map(extension_types).unwrap_or_default();
            if let Some(Ok((_, exts))) = ch.ext.map(parse_tls_extensions) {
                for ext in exts {
                    match ext {
                        TlsExtension::SignatureAlgorithms(algs) => {
                            hello.signature_algorithms = algs;
                        }
                        TlsExtension::EllipticCurves(groups) => {
                            hello.groups = groups.iter().map(|g| g.0).collect();
                        }
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
            hello.grease = hello.ciphers.iter().any(|c| is_grease(c.0))
                || hello.extensions.iter().any(|&t| is_grease(t));
            hello.ciphers.retain(|c| !is_grease(c.0));
            sink(TlsEvent::ClientHello(hello), frame_no, ts);
        }
        TlsMessageHandshake::ServerHello(sh) => {
            let mut hello = ServerHello {
                version: Version(sh.version),
                cipher: CipherSuite(sh.cipher),
                alpn: None,
                retry: sh.random == HRR_RANDOM,
                random: random32(sh.random),
                encrypt_then_mac: false,
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
                        // tls-parser 0.12 files type 21 (padding) as EncryptThenMac and
                        // leaves the real one, 22 (RFC 7366), unknown.
                        TlsExtension::Unknown(TlsExtensionType(ENCRYPT_THEN_MAC), _) => {
                            hello.encrypt_then_mac = true
                        }
                        _ => {}
                    }
                }
            }
            let result = (hello.version.is_tls13(), hello.retry);
            let reply = sink(TlsEvent::ServerHello(hello), frame_no, ts);
            return (Some(result), reply);
        }
        TlsMessageHandshake::HelloRetryRequest(hrr) => {
            sink(
                TlsEvent::ServerHello(ServerHello {
                    version: Version(hrr.version),
                    cipher: CipherSuite(hrr.cipher),
                    alpn: None,
                    retry: true,
                    random: HRR_RANDOM,
                    encrypt_then_mac: false,
                }),
                frame_no,
                ts,
            );
            return (Some((true, true)), None);
        }
        TlsMessageHandshake::Certificate(c) => {
            sink(
                TlsEvent::Certificate(c.cert_chain.iter().map(|c| c.data).collect()),
                frame_no,
                ts,
            );
        }
        _ => {
            sink(TlsEvent::Handshake(htype), frame_no, ts);
        }
    }
    (None, None)
}

/// A 32-byte hello random (tls-parser checks its length; a short one reads as zeros).
fn random32(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    if let Some(src) = bytes.get(..32) {
        out.copy_from_slice(src);
    }
    out
}

/// GREASE values (RFC 8701): 0x?A?A.
/// The type of each extension in a hello's extensions block, in order; stops at the first
/// one that overruns the block.
fn extension_types(mut block: &[u8]) -> Vec<u16> {
    let mut types = Vec::new();
    while let [t0, t1, l0, l1, rest @ ..] = block {
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let Some(next) = rest.get(len..) else {
            break;
        };
        types.push(u16::from_be_bytes([*t0, *t1]));
        block = next;
    }
    types
}

pub fn is_grease(v: u16) -> bool {
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
            r.feed(&ev, &mut |e, f, _| {
                out.push(format!("{f}:{e:?}"));
                None
            });
            offset += c.len() as u64;
        }
        out
    }

    #[test]
    fn draft_server_hellos_are_tls13() {
        // ServerHello of draft 16 (0x7f10): version, random, cipher, empty extensions.
        let mut body = vec![0x7f, 0x10];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0x13, 0x03, 0x00, 0x00]);
        let mut msg = vec![2, 0, 0, body.len() as u8];
        msg.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1, 0, msg.len() as u8];
        rec.extend_from_slice(&msg);
        // Then an encrypted handshake record, which a TLS 1.3 reader does not parse.
        rec.extend_from_slice(&[23, 3, 1, 0, 4, 1, 2, 3, 4]);
        let out = events(&[&rec]);
        assert!(out[0].starts_with("1:ServerHello("), "{out:?}");
        assert!(out[0].contains("0x7f10"), "{out:?}");
        assert!(out[0].contains("TLS_CHACHA20_POLY1305_SHA256"), "{out:?}");
        // Everything after a TLS 1.3 ServerHello is protected.
        assert_eq!(
            out.get(1).map(String::as_str),
            Some("1:Encrypted { content_type: ApplicationData, len: 4 }")
        );
        // Every truncation of the message is read without a panic.
        for n in 0..msg.len() {
            let _ = draft_server_hello(&msg[..n]);
        }
        assert!(draft_server_hello(&msg).is_some());
        // Draft 22 and later use the TLS 1.2 layout: not read here.
        msg[5] = 22;
        assert!(draft_server_hello(&msg).is_none());
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

    /// A record that arrives whole while the thread's buffer is taken (bytes fed from within
    /// another record's events) is read from the reader's own buffer, to the same events.
    #[test]
    fn a_whole_record_reads_the_same_with_the_scratch_buffer_taken() {
        let rec = client_hello();
        let free = events(&[&rec]);
        let taken = SCRATCH.with(|cell| {
            let _busy = cell.borrow_mut();
            events(&[&rec])
        });
        assert_eq!(free.len(), 1, "{free:?}");
        assert!(free[0].contains("sni: Some(\"a.test\")"), "{}", free[0]);
        assert_eq!(free, taken);
    }

    #[test]
    fn alerts_plain_and_encrypted() {
        let out = events(&[&[21, 3, 3, 0, 2, 2, 40]]);
        assert_eq!(
            out,
            vec!["1:Alert { level: TlsAlertSeverity(2), description: TlsAlertDescription(40), protected: false }"]
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
