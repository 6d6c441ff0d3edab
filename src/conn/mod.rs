//! One TCP connection, stage by stage:
//!
//! - `tcp`: its life: segments into the two reassembled streams, FIN and RST, the buffer
//!   budget, whether a SYN starts a new connection on the same four-tuple;
//! - `detect`: what each stream speaks: an HTTP head, TLS records, or WebSocket frames
//!   recognised without a handshake (and `signature`: the ports and first bytes of other
//!   protocols, which it leaves alone);
//! - `upgrade`: the HTTP Upgrade request and the server's answer;
//! - `frames`: the WebSocket frame readers and the RFC 6455 rules checked on every frame;
//! - `tls`: the TLS records of a wss:// (or any TLS) connection;
//! - `report`: the finished connection as a `ConnReport`, with its close story.
//!
//! The two endpoints are `Side::A` (the sender of the first packet seen) and `Side::B`;
//! which one is the client is learnt from the SYN, the HTTP request, the ClientHello or
//! frame masking, and only then are frames read. Never panics on input; every buffer here
//! is bounded.

mod detect;
mod evidence;
mod frames;
mod report;
mod signature;
mod tcp;
mod tls;
mod upgrade;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::capture::Ts;
use crate::http::{DeflateParams, Request, Response};
use crate::report::{CloseEvidence, Detection, FrameTrace};
use crate::rules::Rule;
use crate::tcp::reassembly::{Stream, StreamEvent};
use crate::tcp::{Direction, PerSide, Side};
use crate::tls::keylog::KeyLog;
use crate::tls::record::TlsReader;
use crate::tls::session::Session;
use crate::ws::history::History;
use crate::ws::inflate::InflateBudget;
use crate::ws::reader::FrameReader;

/// Close frames listed per connection; more are counted, not listed.
pub const MAX_CLOSES_LISTED: usize = 32;

/// Analysis options that reach the connection level.
#[derive(Clone, Debug)]
pub struct ConnOptions {
    /// Ports whose traffic is WebSocket even without a handshake in the capture.
    pub ws_ports: Vec<u16>,
    /// Out-of-order bytes buffered per direction.
    pub max_pending: usize,
    /// TLS secrets (`--keylog`) for decrypting wss://.
    pub keylog: Option<Arc<KeyLog>>,
    /// Keep the first bytes of messages for the report (`--payloads`).
    pub payloads: bool,
    /// The inflation all connections of the capture may do (permessage-deflate); each
    /// file analyzed gets a fresh one.
    pub inflate_budget: Arc<InflateBudget>,
}

/// What one side's stream is being read as.
enum Mode {
    /// Looking at the first bytes: HTTP head being gathered, or frames being recognised.
    Probe { buf: Vec<u8>, probes: u32 },
    /// Client data after the Upgrade request, waiting for the server's answer.
    Hold { pieces: Vec<Held>, held: usize },
    /// WebSocket frames (the reader is out of its slot only while it runs).
    Frames(Option<Box<FrameReader>>),
    /// Not WebSocket, or nothing more to learn.
    Ignore,
}

/// Client bytes held while the Upgrade request waits for its answer.
struct Held {
    offset: u64,
    frame_no: u64,
    ts: Ts,
    bytes: Vec<u8>,
}

/// What one side did at the WebSocket level.
struct SideState {
    /// TLS records, when the stream speaks TLS: under `mode`, which reads what they
    /// decrypt to (the reader is out of its slot only while it runs).
    tls: Option<Box<TlsReader>>,
    /// The stream speaks TLS (`tls` is set, or out of its slot while it runs).
    speaks_tls: bool,
    /// What the stream (or its decrypted plaintext) is read as.
    mode: Mode,
    in_message: bool,
    frames: u64,
    messages: u64,
    /// Index in `App::closes` of this side's first Close.
    close: Option<usize>,
    data_after_close: u64,
    /// The last data frame: packet and time.
    last_data: Option<(u64, Ts)>,
    /// The last frames, to link the legs of a proxied session.
    trace: FrameTrace,
    /// What the side sent, for the evidence before a close (made when frames start).
    history: Option<Box<History>>,
}

impl SideState {
    fn new() -> SideState {
        SideState {
            tls: None,
            speaks_tls: false,
            mode: Mode::Probe {
                buf: Vec::new(),
                probes: 0,
            },
            in_message: false,
            frames: 0,
            messages: 0,
            close: None,
            data_after_close: 0,
            last_data: None,
            trace: FrameTrace::default(),
            history: None,
        }
    }
}

/// A finding while the client side may still be unknown: `side` becomes a direction when
/// the report is built.
struct RawFinding {
    rule: Rule,
    side: Option<Side>,
    frame: u64,
    count: u64,
    message: String,
}

/// A Close frame as seen, before directions are final.
struct RawClose {
    side: Side,
    frame: u64,
    ts: Ts,
    code: Option<u16>,
    reason: Option<Vec<u8>>,
    payload_len: u64,
    problems: Vec<String>,
    illegal: bool,
    /// What came before it, when it started the closing handshake.
    evidence: Option<Box<CloseEvidence>>,
}

/// The application level of a connection: what each stream is read as, and what was
/// learnt from it.
struct App {
    client: Side,
    client_known: bool,
    sides: PerSide<SideState>,
    detection: Option<Detection>,
    request: Option<(Request, u64)>,
    response: Option<(Response, u64)>,
    refused: bool,
    /// permessage-deflate was negotiated: RSV1 is legal on data frames.
    deflate: bool,
    /// The permessage-deflate parameters, when the handshake accepted that extension.
    deflate_params: Option<DeflateParams>,
    /// When the server's 101 came: the connection's age is counted from it.
    opened: Option<Ts>,
    /// The connection's first packet: its age when the handshake is not in the capture.
    first_seen: Ts,
    /// Keep messages' first bytes (`--payloads`).
    payloads: bool,
    inflate_budget: Arc<InflateBudget>,
    closes: Vec<RawClose>,
    closes_not_listed: u64,
    findings: Vec<RawFinding>,
    /// The server's port, when `--ws-port` names one of the connection's ports.
    forced_server_port: Option<u16>,
    ports: PerSide<u16>,
    tls: Option<Box<Session>>,
    /// What each side's TLS reader was last told of the protocol version (`feed_tls`): a
    /// HelloRetryRequest or TLS 1.3 seen, TLS 1.3 seen. Kept here, beside the session, so
    /// that a record does not have to look at the other side's reader.
    tls_told: PerSide<(bool, bool)>,
    /// What each side's application layer buffers (`side_buffered`), as counted after its
    /// latest stream event: the connection's share of the capture-wide buffer budget.
    buffered: PerSide<usize>,
    /// The TLS secrets known when the connection's ServerHello arrives.
    keylog: Option<Arc<KeyLog>>,
    /// Sec-WebSocket-Accept matched the key (checked once, when the 101 arrives).
    accept_valid: Option<bool>,
    /// Buffers were dropped for the capture-wide budget: reported so that the loss shows.
    shed: bool,
    /// Each side's frames followed before the connection is recognised without a
    /// handshake.
    sniff: PerSide<Option<Box<detect::Sniff>>>,
    /// Why the connection is not WebSocket when that is known without a handshake
    /// (another protocol's port or signature): no frames are looked for.
    other_protocol: Option<&'static str>,
}

impl App {
    fn new(
        ports: PerSide<u16>,
        forced_server_port: Option<u16>,
        first_seen: Ts,
        opts: &ConnOptions,
    ) -> App {
        // Until the SYN or the handshake says otherwise, the side with the higher
        // (ephemeral-looking) port is taken for the client.
        let client = if ports.a >= ports.b { Side::A } else { Side::B };
        App {
            client,
            client_known: false,
            sides: PerSide::new(SideState::new(), SideState::new()),
            detection: None,
            request: None,
            response: None,
            refused: false,
            deflate: false,
            deflate_params: None,
            opened: None,
            first_seen,
            payloads: opts.payloads,
            inflate_budget: Arc::clone(&opts.inflate_budget),
            closes: Vec::new(),
            closes_not_listed: 0,
            findings: Vec::new(),
            forced_server_port,
            ports,
            tls: None,
            tls_told: PerSide::new((false, false), (false, false)),
            buffered: PerSide::new(0, 0),
            keylog: None,
            accept_valid: None,
            shed: false,
            sniff: PerSide::new(None, None),
            other_protocol: None,
        }
    }

    /// Worth a report: WebSocket, an Upgrade attempt, or TLS (which may carry wss://).
    /// A decrypted TLS session whose plaintext is not WebSocket (HTTPS, say) is not.
    fn is_reported(&self) -> bool {
        self.detection.is_some()
            || self.refused
            || self.request.is_some()
            || self.shed
            || self
                .findings
                .iter()
                .any(|f| f.rule == Rule::HandshakeTooLarge)
            || self
                .tls
                .as_ref()
                .is_some_and(|t| !t.read_and_not_websocket())
    }

    fn dir(&self, side: Side) -> Direction {
        crate::story::direction_of(side, self.client)
    }

    /// Records a finding, or counts it again when the rule already fired on this side.
    fn note(
        &mut self,
        rule: Rule,
        side: Option<Side>,
        frame: u64,
        message: impl FnOnce() -> String,
    ) {
        if let Some(f) = self
            .findings
            .iter_mut()
            .find(|f| f.rule == rule && f.side == side)
        {
            f.count += 1;
            return;
        }
        self.findings.push(RawFinding {
            rule,
            side,
            frame,
            count: 1,
            message: message(),
        });
    }

    fn set_client(&mut self, side: Side) {
        if !self.client_known {
            self.client = side;
            self.client_known = true;
        }
    }

    fn ignore(&mut self, side: Side) {
        self.sides[side].mode = Mode::Ignore;
    }

    /// One event of `side`'s reassembled stream, to whatever reads that stream now: its
    /// TLS records, or the plaintext reader directly.
    fn on_stream(&mut self, side: Side, ev: StreamEvent<'_>) {
        if let StreamEvent::Gap {
            offset,
            len,
            kind,
            frame_no,
            ..
        } = ev
        {
            self.note_gap(side, offset, len, kind, frame_no);
        }
        if self.sides[side].tls.is_some() {
            self.feed_tls(side, &ev);
        } else {
            self.on_plain(side, ev);
        }
        // Once frames are read (or the side ignored), an event changes only its own side's
        // buffers (its TLS records); before, the other side's may change too (a 101 releases
        // held bytes, a recognition takes both sides' kept segments). Only ever downwards:
        // the other side's count may be high until its next event, never low.
        self.buffered[side] = self.side_buffered(side);
        if !matches!(self.sides[side].mode, Mode::Frames(_) | Mode::Ignore) {
            let other = side.other();
            self.buffered[other] = self.side_buffered(other);
        }
    }

    /// Bytes `side`'s application layer holds: HTTP heads being gathered, client bytes
    /// waiting for the 101, TLS records and handshake messages in progress, the segments
    /// kept while frames are followed without a handshake.
    fn side_buffered(&self, side: Side) -> usize {
        let s = &self.sides[side];
        let mode = match &s.mode {
            Mode::Probe { buf, .. } => buf.len(),
            Mode::Hold { held, .. } => *held,
            _ => 0,
        };
        mode + s.tls.as_ref().map_or(0, |r| r.buffered())
            + self.sniff[side].as_ref().map_or(0, |s| s.buffered())
    }

    /// One event of `side`'s plaintext (the TCP stream itself, or what TLS decrypted) to
    /// whatever reads it now.
    fn on_plain(&mut self, side: Side, ev: StreamEvent<'_>) {
        match &mut self.sides[side].mode {
            Mode::Ignore => {}
            Mode::Frames(_) => self.feed_frames(side, &ev),
            Mode::Hold { pieces, held } => {
                if let StreamEvent::Data {
                    offset,
                    bytes,
                    frame_no,
                    ts,
                } = ev
                {
                    if *held + bytes.len() <= upgrade::MAX_HOLD {
                        *held += bytes.len();
                        pieces.push(Held {
                            offset,
                            frame_no,
                            ts,
                            bytes: bytes.to_vec(),
                        });
                    }
                }
            }
            Mode::Probe { .. } => self.probe(side, ev),
        }
    }
}

/// A TCP connection being analyzed.
pub struct Conn {
    pub id: u64,
    ends: PerSide<SocketAddr>,
    streams: PerSide<Stream>,
    app: App,
    pub first_frame: u64,
    pub first_ts: Ts,
    pub last_frame: u64,
    pub last_ts: Ts,
    fin: PerSide<Option<(u64, Ts)>>,
    rst: PerSide<Option<(u64, Ts)>>,
    /// Latest packet with payload, either way.
    last_payload: Option<Ts>,
    /// Idle time before the first FIN or RST.
    idle_before_end: Option<i64>,
    /// Bytes of this connection counted in the capture-wide buffer total: `buffered()` as
    /// it was after the connection's latest packet.
    pub accounted: usize,
}
