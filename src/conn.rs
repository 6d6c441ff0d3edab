//! One TCP connection: both reassembled streams, the HTTP Upgrade handshake, the WebSocket
//! frame readers, the rules checked on every frame, and the Close frames collected for the
//! close story. `Conn::finish` turns it into a `ConnReport`.
//!
//! Sides are numbered 0 (the endpoint that sent the first packet seen) and 1; which one is
//! the client is learnt from the SYN, the HTTP request, or frame masking, and only then are
//! frames read. Never panics on input; every buffer here is bounded.

use std::net::IpAddr;

use crate::capture::Ts;
use crate::close::story;
use crate::decode::Segment;
use crate::http::{self, Head, Request, Response};
use crate::report::{CloseReport, ConnReport, Detection, Finding, Handshake, Rule, Verdict};
use crate::tcp::reassembly::{GapKind, Stream, StreamEvent};
use crate::tcp::{endpoint, Direction, Seq};
use crate::tls::{self, TlsEvent, TlsReader};
use crate::tlsconn::{EndFacts, TlsState};
use crate::ws::close::{parse_close_payload, ClosePayload};
use crate::ws::frame::{FrameHeader, Opcode, MAX_CONTROL_PAYLOAD};
use crate::ws::reader::{plausible_frames, FrameEvent, FrameReader};

/// Client bytes held between the Upgrade request and the server's answer. A client must
/// wait for the 101 before sending frames, so anything here is early data or a pipelined
/// request; 64 KiB is plenty and bounds the wait.
const MAX_HOLD: usize = 64 * 1024;
/// Segments per side inspected for HTTP or frames before a stream is ignored.
const MAX_PROBES: u32 = 8;
/// Close frames listed per connection; more are counted, not listed.
pub const MAX_CLOSES_LISTED: usize = 32;

/// Analysis options that reach the connection level.
#[derive(Clone, Debug)]
pub struct ConnOptions {
    /// Ports whose traffic is WebSocket even without a handshake in the capture.
    pub ws_ports: Vec<u16>,
    /// Out-of-order bytes buffered per direction.
    pub max_pending: usize,
}

enum Mode {
    /// Looking at the first bytes: HTTP head being gathered, or frames being recognised.
    Probe { buf: Vec<u8>, probes: u32 },
    /// Client data after the Upgrade request, waiting for the server's answer.
    Hold {
        pieces: Vec<(u64, u64, Ts, Vec<u8>)>,
        held: usize,
    },
    /// WebSocket frames (the reader is out of its slot only while it runs).
    Frames(Option<Box<FrameReader>>),
    /// TLS records (same arrangement).
    Tls(Option<Box<TlsReader>>),
    /// Not WebSocket, or nothing more to learn.
    Ignore,
}

/// Longest first segment kept while waiting for a second one to confirm a WebSocket guess.
const MAX_CANDIDATE: usize = 4096;

/// A segment that looked like WebSocket frames, kept until a second one agrees.
struct Candidate {
    side: usize,
    masked: bool,
    offset: u64,
    frame_no: u64,
    ts: Ts,
    bytes: Vec<u8>,
    /// Bytes of the segment beyond `MAX_CANDIDATE`, not kept.
    cut: u64,
}

/// An HTTP head found at the start of a stream.
enum Message {
    Request(Request),
    Response(Response),
}

/// What one side did at the WebSocket level.
struct Side {
    mode: Mode,
    in_message: bool,
    frames: u64,
    messages: u64,
    /// Index in `App::closes` of this side's first Close.
    close: Option<usize>,
    data_after_close: u64,
    last_data: Option<(u64, Ts)>,
}

impl Side {
    fn new() -> Side {
        Side {
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
        }
    }
}

/// A finding while the client side may still be unknown: `side` is converted to a
/// direction when the report is built.
pub(crate) struct RawFinding {
    pub rule: Rule,
    pub side: Option<usize>,
    pub frame: u64,
    pub count: u64,
    pub message: String,
}

/// A Close frame as seen, before directions are final.
pub(crate) struct RawClose {
    pub side: usize,
    pub frame: u64,
    pub ts: Ts,
    pub code: Option<u16>,
    pub reason: Option<Vec<u8>>,
    pub payload_len: u64,
    pub problems: Vec<String>,
    pub illegal: bool,
}

/// Application-level state of a connection.
pub(crate) struct App {
    pub client: usize,
    client_known: bool,
    sides: [Side; 2],
    pub detection: Option<Detection>,
    pub request: Option<(Request, u64)>,
    pub response: Option<(Response, u64)>,
    pub refused: bool,
    deflate: bool,
    pub closes: Vec<RawClose>,
    pub closes_not_listed: u64,
    pub findings: Vec<RawFinding>,
    forced_server_port: Option<u16>,
    ports: [u16; 2],
    pub tls: Option<Box<TlsState>>,
    /// Sec-WebSocket-Accept matched the key (checked once, when the 101 arrives).
    accept_valid: Option<bool>,
    /// Buffers were dropped for the capture-wide budget: reported so that the loss shows.
    shed: bool,
    /// A first segment that looked like frames, waiting for confirmation.
    candidate: Option<Candidate>,
}

impl App {
    /// Worth a report: WebSocket, an Upgrade attempt, or TLS (which may carry wss://).
    pub fn is_reported(&self) -> bool {
        self.detection.is_some()
            || self.refused
            || self.tls.is_some()
            || self.request.is_some()
            || self.shed
    }

    fn dir(&self, side: usize) -> Direction {
        if side == self.client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    }

    fn note(
        &mut self,
        rule: Rule,
        side: Option<usize>,
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

    fn set_client(&mut self, side: usize) {
        if !self.client_known {
            self.client = side;
            self.client_known = true;
        }
    }

    fn on_stream(&mut self, s: usize, ev: StreamEvent<'_>) {
        if let StreamEvent::Gap {
            offset,
            len,
            kind,
            frame_no,
            ..
        } = ev
        {
            self.note_gap(s, offset, len, kind, frame_no);
        }
        let side = match self.sides.get_mut(s) {
            Some(side) => side,
            None => return,
        };
        match &mut side.mode {
            Mode::Ignore => {}
            Mode::Frames(_) => self.feed_frames(s, &ev),
            Mode::Tls(_) => self.feed_tls(s, &ev),
            Mode::Hold { pieces, held } => match ev {
                StreamEvent::Data {
                    offset,
                    bytes,
                    frame_no,
                    ts,
                } => {
                    if *held + bytes.len() <= MAX_HOLD {
                        *held += bytes.len();
                        pieces.push((offset, frame_no, ts, bytes.to_vec()));
                    }
                }
                StreamEvent::Gap { .. } => {}
            },
            Mode::Probe { .. } => self.probe(s, ev),
        }
    }

    fn note_gap(&mut self, s: usize, offset: u64, len: u64, kind: GapKind, frame: u64) {
        let side = Some(s);
        match kind {
            GapKind::MidStream => {
                self.note(Rule::MidStreamStart, side, frame, || {
                    "capture starts after this connection did (no SYN): its beginning is not in the capture".to_string()
                });
            }
            GapKind::SnapLen => self.note(Rule::SnapLenCut, side, frame, || {
                format!("packet cut by the capture's snap length: {len} bytes missing at stream offset {offset}")
            }),
            GapKind::Missing => self.note(Rule::CaptureGap, side, frame, || {
                format!("{len} bytes missing from the capture at stream offset {offset}")
            }),
            GapKind::BufferLimit => self.note(Rule::CaptureGap, side, frame, || {
                format!("out-of-order buffer limit reached: gave up on {len} missing bytes at stream offset {offset}")
            }),
        }
    }

    fn probe(&mut self, s: usize, ev: StreamEvent<'_>) {
        let StreamEvent::Data {
            offset,
            bytes,
            frame_no,
            ts,
        } = ev
        else {
            if let Some(Side {
                mode: Mode::Probe { buf, .. },
                ..
            }) = self.sides.get_mut(s)
            {
                buf.clear();
            }
            return;
        };
        let Some(Side {
            mode: Mode::Probe { buf, probes },
            ..
        }) = self.sides.get_mut(s)
        else {
            return;
        };
        let start_offset = offset.saturating_sub(buf.len() as u64);
        buf.extend_from_slice(bytes);
        let joined = std::mem::take(buf);
        if tls::looks_like_tls(&joined) {
            if joined.len() < 5 {
                *buf = joined;
                return;
            }
            self.start_tls(s, frame_no);
            self.on_stream(
                s,
                StreamEvent::Data {
                    offset: start_offset,
                    bytes: &joined,
                    frame_no,
                    ts,
                },
            );
            return;
        }
        if http::looks_like_response(&joined)
            && self
                .tls
                .as_ref()
                .is_some_and(|t| t.client_side() == Some(1 - s))
        {
            // A plaintext HTTP answer to a TLS ClientHello: wss:// spoken to a ws:// port.
            let line_end = joined
                .iter()
                .position(|b| *b == b'\r' || *b == b'\n')
                .unwrap_or(joined.len())
                .min(80);
            let status =
                String::from_utf8_lossy(joined.get(..line_end).unwrap_or_default()).into_owned();
            if let Some(t) = self.tls.as_mut() {
                t.http_answer.get_or_insert((frame_no, status));
            }
            self.ignore(s);
            return;
        }
        let head = if http::looks_like_request(&joined) {
            Some(http::parse_request(&joined).map(Message::Request))
        } else if http::looks_like_response(&joined) {
            Some(http::parse_response(&joined).map(Message::Response))
        } else {
            None
        };
        if let Some(head) = head {
            match head {
                Head::Partial => *buf = joined,
                Head::Invalid => self.ignore(s),
                Head::Complete(message, n) => {
                    match message {
                        Message::Request(req) => self.on_request(s, req, frame_no),
                        Message::Response(resp) => self.on_response(s, resp, frame_no),
                    }
                    let rest = joined.get(n..).unwrap_or_default();
                    if !rest.is_empty() {
                        let offset = start_offset + n as u64;
                        self.on_stream(
                            s,
                            StreamEvent::Data {
                                offset,
                                bytes: rest,
                                frame_no,
                                ts,
                            },
                        );
                    }
                }
            }
            return;
        }
        *probes += 1;
        let probes = *probes;
        // Not HTTP. WebSocket without a handshake in the capture?
        let other = 1 - s;
        if self.detection.is_some() {
            // The other side is already known to speak WebSocket: read frames here too.
            self.start_frames(s, true);
        } else if let Some(port) = self.forced_server_port {
            let server = if self.ports.get(s) == Some(&port) {
                s
            } else {
                other
            };
            self.client = 1 - server;
            self.client_known = true;
            self.detection = Some(Detection::Forced);
            self.start_frames(s, true);
            self.start_frames(other, true);
        } else {
            let n = plausible_frames(bytes, None, true);
            let exact = n == 1 && single_frame_fills(bytes);
            if n >= 2 || exact {
                let masked = bytes.get(1).is_some_and(|b| b & 0x80 != 0);
                // One plausible segment is not enough (random data passes now and then): a
                // second one must agree, from the same side with the same masking or from
                // the other side with the opposite masking.
                let agrees = self
                    .candidate
                    .as_ref()
                    .is_some_and(|c| (c.side == s) == (c.masked == masked));
                if !agrees {
                    let kept = bytes.len().min(MAX_CANDIDATE);
                    self.candidate = Some(Candidate {
                        side: s,
                        masked,
                        offset,
                        frame_no,
                        ts,
                        bytes: bytes.get(..kept).unwrap_or_default().to_vec(),
                        cut: (bytes.len() - kept) as u64,
                    });
                    return;
                }
                let client = if masked { s } else { other };
                self.client = client;
                self.client_known = true;
                self.detection = Some(Detection::Heuristic);
                self.note(Rule::HeuristicDetection, None, frame_no, || {
                    "no HTTP Upgrade handshake in the capture: recognised as WebSocket from frame structure (lower confidence)".to_string()
                });
                self.start_frames(s, true);
                self.start_frames(other, true);
                if let Some(c) = self.candidate.take() {
                    self.feed_frames(
                        c.side,
                        &StreamEvent::Data {
                            offset: c.offset,
                            bytes: &c.bytes,
                            frame_no: c.frame_no,
                            ts: c.ts,
                        },
                    );
                    if c.cut > 0 {
                        let at = c.offset + c.bytes.len() as u64;
                        let gap = StreamEvent::Gap {
                            offset: at,
                            len: c.cut,
                            kind: GapKind::BufferLimit,
                            frame_no: c.frame_no,
                            ts: c.ts,
                        };
                        self.feed_frames(c.side, &gap);
                    }
                }
            } else {
                // Not a frame boundary here: a candidate from this side was a coincidence.
                if self.candidate.as_ref().is_some_and(|c| c.side == s) {
                    self.candidate = None;
                }
                if probes >= MAX_PROBES {
                    self.ignore(s);
                }
                return;
            }
        }
        self.on_stream(
            s,
            StreamEvent::Data {
                offset,
                bytes,
                frame_no,
                ts,
            },
        );
    }

    fn ignore(&mut self, s: usize) {
        if let Some(side) = self.sides.get_mut(s) {
            side.mode = Mode::Ignore;
        }
    }

    fn start_tls(&mut self, s: usize, frame: u64) {
        let tls = self.tls.get_or_insert_with(Box::default);
        if self.request.is_some() && s != self.client {
            // The client spoke plain HTTP and the server answers in TLS.
            tls.plain_to_tls.get_or_insert(frame);
            if let Some(side) = self.sides.get_mut(1 - s) {
                side.mode = Mode::Ignore;
            }
        }
        if let Some(side) = self.sides.get_mut(s) {
            if !matches!(side.mode, Mode::Tls(_)) {
                side.mode = Mode::Tls(Some(Box::new(TlsReader::new())));
            }
        }
    }

    fn feed_tls(&mut self, s: usize, ev: &StreamEvent<'_>) {
        let Some(side) = self.sides.get_mut(s) else {
            return;
        };
        let Mode::Tls(slot) = &mut side.mode else {
            return;
        };
        let Some(mut reader) = slot.take() else {
            return;
        };
        reader.feed(ev, &mut |e, frame, ts| self.on_tls(s, e, frame, ts));
        let (retry, tls13) = self
            .tls
            .as_ref()
            .map(|t| (t.hello_retry(), t.tls13))
            .unwrap_or_default();
        if let Some(Side {
            mode: Mode::Tls(Some(other)),
            ..
        }) = self.sides.get_mut(1 - s)
        {
            // A HelloRetryRequest or ServerHello choosing TLS 1.3 changes how the other
            // direction's records read: ChangeCipherSpec no longer starts protection, the
            // ServerHello does.
            other.tls13 |= retry || tls13;
            other.encrypted |= tls13;
        }
        if let Some(Side {
            mode: Mode::Tls(slot),
            ..
        }) = self.sides.get_mut(s)
        {
            *slot = Some(reader);
        }
    }

    fn on_tls(&mut self, s: usize, ev: TlsEvent<'_>, frame: u64, ts: Ts) {
        match &ev {
            TlsEvent::ClientHello(_) | TlsEvent::Handshake(1) => self.set_client(s),
            TlsEvent::ServerHello(_) => self.set_client(1 - s),
            _ => {}
        }
        if let Some(t) = self.tls.as_mut() {
            t.on_event(s, ev, frame, ts);
        }
    }

    fn start_frames(&mut self, s: usize, lost: bool) {
        let deflate = self.deflate || self.detection != Some(Detection::Handshake);
        let masked = s == self.client;
        let Some(side) = self.sides.get_mut(s) else {
            return;
        };
        if matches!(side.mode, Mode::Frames(_)) {
            return;
        }
        let mut reader = if lost {
            FrameReader::lost()
        } else {
            FrameReader::new()
        };
        reader.expect_masked = Some(masked);
        reader.rsv1_ok = deflate;
        side.mode = Mode::Frames(Some(Box::new(reader)));
    }

    fn on_request(&mut self, s: usize, req: Request, frame: u64) {
        self.set_client(s);
        if !req.upgrade_websocket || self.request.is_some() {
            // Plain HTTP: not our business (an Upgrade later on the same connection is rare).
            self.ignore(s);
            if self.request.is_none() {
                self.ignore(1 - s);
            }
            return;
        }
        self.request = Some((req, frame));
        if let Some(side) = self.sides.get_mut(s) {
            side.mode = Mode::Hold {
                pieces: Vec::new(),
                held: 0,
            };
        }
    }

    fn on_response(&mut self, s: usize, resp: Response, frame: u64) {
        let Some((req, _)) = self.request.as_ref() else {
            // Response without its request (capture started in between).
            if resp.status == 101 && resp.upgrade_websocket {
                self.set_client(1 - s);
                self.deflate = resp.deflate();
                self.response = Some((resp, frame));
                self.detection = Some(Detection::Handshake);
                self.start_frames(s, false);
                self.start_frames(1 - s, true);
            } else {
                self.ignore(s);
                self.ignore(1 - s);
            }
            return;
        };
        if resp.status != 101 {
            if resp.status == 100 {
                return;
            }
            self.refused = true;
            let status = resp.status;
            let reason = resp.reason.clone();
            self.note(Rule::UpgradeRefused, Some(s), frame, || {
                format!("the server answered the Upgrade request with HTTP {status} {reason}: no WebSocket connection was made (this is an HTTP status, not a close code)")
            });
            self.response = Some((resp, frame));
            self.ignore(s);
            self.ignore(1 - s);
            return;
        }
        match (&req.key, &resp.accept) {
            (Some(key), Some(accept)) => {
                let expected = http::expected_accept(key);
                let valid = expected == *accept;
                self.accept_valid = Some(valid);
                if !valid {
                    let got = accept.clone();
                    self.note(Rule::AcceptMismatch, Some(s), frame, || {
                        format!("Sec-WebSocket-Accept is {got:?} but the key requires {expected:?} (RFC 6455 §4.2.2): a compliant client fails the connection")
                    });
                }
            }
            (Some(_), None) => self.note(Rule::MissingAccept, Some(s), frame, || {
                "101 response without Sec-WebSocket-Accept (RFC 6455 §4.2.2)".to_string()
            }),
            _ => {}
        }
        self.deflate = resp.deflate();
        self.response = Some((resp, frame));
        self.detection = Some(Detection::Handshake);
        self.start_frames(s, false);
        // Release the client's held bytes into its frame reader.
        let client = 1 - s;
        let held = match self
            .sides
            .get_mut(client)
            .map(|sd| std::mem::replace(&mut sd.mode, Mode::Ignore))
        {
            Some(Mode::Hold { pieces, .. }) => Some(pieces),
            Some(other) => {
                if let Some(sd) = self.sides.get_mut(client) {
                    sd.mode = other;
                }
                None
            }
            None => None,
        };
        match held {
            Some(pieces) => {
                self.start_frames(client, false);
                for (offset, frame_no, ts, bytes) in pieces {
                    self.feed_frames(
                        client,
                        &StreamEvent::Data {
                            offset,
                            bytes: &bytes,
                            frame_no,
                            ts,
                        },
                    );
                }
            }
            None => self.start_frames(client, true),
        }
    }

    fn feed_frames(&mut self, s: usize, ev: &StreamEvent<'_>) {
        let Some(side) = self.sides.get_mut(s) else {
            return;
        };
        // The reader leaves its slot while it runs, so that its frames can update the rest
        // of the connection; moving the box costs a pointer.
        let Mode::Frames(slot) = &mut side.mode else {
            return;
        };
        let Some(mut reader) = slot.take() else {
            return;
        };
        reader.feed(ev, &mut |fe| self.on_frame(s, fe));
        if let Some(Side {
            mode: Mode::Frames(slot),
            ..
        }) = self.sides.get_mut(s)
        {
            *slot = Some(reader);
        }
    }

    fn on_frame(&mut self, s: usize, fe: FrameEvent<'_>) {
        let (header, frame_no, ts, close_payload, incomplete) = match fe {
            FrameEvent::Frame {
                header,
                frame_no,
                ts,
                close_payload,
                payload_incomplete,
                ..
            } => (header, frame_no, ts, close_payload, payload_incomplete),
            FrameEvent::LostSync {
                offset, frame_no, ..
            } => {
                self.note(Rule::LostFrameSync, Some(s), frame_no, || {
                    format!("a capture gap at stream offset {offset} hid a frame boundary; frames were skipped until a plausible header was found again")
                });
                return;
            }
            FrameEvent::Resynced { .. } => return,
            FrameEvent::Header { header, frame_no } => {
                self.check_header(s, &header, frame_no);
                return;
            }
        };
        let dir = self.dir(s);
        let sender = dir.sender();
        let op = header.opcode;
        let sd = Some(s);
        let Some(side) = self.sides.get_mut(s) else {
            return;
        };
        side.frames += 1;
        let closed = side.close.is_some();
        match op {
            Opcode::Continuation | Opcode::Text | Opcode::Binary => {
                let in_message = side.in_message;
                side.last_data = Some((frame_no, ts));
                if header.fin {
                    side.messages += 1;
                }
                side.in_message = !header.fin;
                if closed {
                    side.data_after_close += 1;
                    self.note(Rule::DataAfterClose, sd, frame_no, || {
                        format!("{sender} sent a data frame after its own Close (RFC 6455 §5.5.1)")
                    });
                }
                if op == Opcode::Continuation && !in_message {
                    self.note(Rule::ContinuationWithoutStart, sd, frame_no, || {
                        format!("{sender} sent a continuation frame with no message in progress (RFC 6455 §5.4)")
                    });
                } else if op != Opcode::Continuation && in_message {
                    self.note(Rule::NewMessageInsideFragmented, sd, frame_no, || {
                        format!("{sender} started a new {op:?} message before finishing a fragmented one (RFC 6455 §5.4)")
                    });
                }
            }
            Opcode::Close => {
                if closed {
                    self.note(Rule::SecondClose, sd, frame_no, || {
                        format!("{sender} sent a second Close frame (RFC 6455 §5.5.1 allows one)")
                    });
                }
                let payload = close_payload.unwrap_or_default();
                self.on_close(s, header.payload_len, payload, incomplete, frame_no, ts);
            }
            _ => {}
        }
    }

    /// The rules a frame header alone can break (RFC 6455 §5.1-§5.5), checked as soon as the
    /// header is read: a frame whose payload never arrives (a huge or bogus length) is still
    /// judged.
    fn check_header(&mut self, s: usize, header: &FrameHeader, frame_no: u64) {
        let dir = self.dir(s);
        let sender = dir.sender();
        let deflate = self.deflate || self.detection != Some(Detection::Handshake);
        let op = header.opcode;
        let sd = Some(s);
        if let Opcode::Reserved(v) = op {
            self.note(Rule::ReservedOpcode, sd, frame_no, || {
                format!("{sender} sent reserved opcode 0x{v:x} (RFC 6455 §5.2)")
            });
        }
        let rsv1_allowed = deflate && matches!(op, Opcode::Text | Opcode::Binary);
        if (header.rsv1 && !rsv1_allowed) || header.rsv2 || header.rsv3 {
            self.note(Rule::ReservedBitsSet, sd, frame_no, || {
                format!("{sender} set RSV bits (rsv1={} rsv2={} rsv3={}) on a {op:?} frame without an extension that defines them (RFC 6455 §5.2, RFC 7692 §6)", header.rsv1 as u8, header.rsv2 as u8, header.rsv3 as u8)
            });
        }
        if op.is_control() {
            if header.payload_len > MAX_CONTROL_PAYLOAD {
                let n = header.payload_len;
                self.note(Rule::ControlFrameTooLong, sd, frame_no, || {
                    format!("{sender} sent a {op:?} frame with a {n}-byte payload; control frames carry at most 125 (RFC 6455 §5.5)")
                });
            }
            if !header.fin {
                self.note(Rule::FragmentedControlFrame, sd, frame_no, || {
                    format!("{sender} sent a fragmented {op:?} frame; control frames must not be fragmented (RFC 6455 §5.5)")
                });
            }
        }
        match (dir, header.masked) {
            (Direction::ClientToServer, false) => {
                self.note(Rule::UnmaskedClientFrame, sd, frame_no, || {
                    "client sent an unmasked frame; clients must mask every frame (RFC 6455 §5.1)"
                        .to_string()
                })
            }
            (Direction::ServerToClient, true) => {
                self.note(Rule::MaskedServerFrame, sd, frame_no, || {
                    "server sent a masked frame; servers must not mask (RFC 6455 §5.1)".to_string()
                })
            }
            _ => {}
        }
        if !header.minimal_length {
            let n = header.payload_len;
            self.note(Rule::NonMinimalLength, sd, frame_no, || {
                format!(
                    "{sender} encoded a length of {n} in more bytes than needed (RFC 6455 §5.2)"
                )
            });
        }
        if header.length_msb_set {
            self.note(Rule::LengthMsbSet, sd, frame_no, || {
                format!("{sender} sent a 64-bit length with its most significant bit set (RFC 6455 §5.2)")
            });
        }
    }

    fn on_close(
        &mut self,
        s: usize,
        payload_len: u64,
        payload: &[u8],
        incomplete: bool,
        frame: u64,
        ts: Ts,
    ) {
        let sender = self.dir(s).sender();
        let sd = Some(s);
        let mut problems = Vec::new();
        let mut illegal = false;
        let (code, reason) = match parse_close_payload(payload) {
            ClosePayload::Empty => (None, None),
            ClosePayload::OneByte(_) => {
                illegal = true;
                problems.push(
                    "1-byte Close payload: the status code needs 2 bytes (RFC 6455 §5.5.1)"
                        .to_string(),
                );
                self.note(Rule::OneByteClosePayload, sd, frame, || {
                    format!("{sender} sent a Close frame with a 1-byte payload (RFC 6455 §5.5.1)")
                });
                (None, None)
            }
            ClosePayload::Status { code, reason } => {
                let cc = crate::close::code::CloseCode(code);
                if let Some(why) = cc.illegal_reason() {
                    illegal = true;
                    problems.push(why.to_string());
                    self.note(Rule::IllegalCloseCode, sd, frame, || {
                        format!("{sender} sent close code {cc}: {why}")
                    });
                }
                if code == 1010 && self.dir(s) == Direction::ServerToClient {
                    self.note(Rule::ServerSentMandatoryExtension, sd, frame, || {
                        "server sent 1010 (Mandatory Extension), a code only clients send (RFC 6455 §7.4.1): legal on the wire, but the server is misusing it".to_string()
                    });
                }
                if std::str::from_utf8(reason).is_err() && !incomplete {
                    illegal = true;
                    problems.push("reason is not valid UTF-8 (RFC 6455 §5.5.1)".to_string());
                    self.note(Rule::InvalidUtf8Reason, sd, frame, || {
                        format!("{sender} sent a Close reason that is not valid UTF-8 (RFC 6455 §5.5.1)")
                    });
                }
                (
                    Some(code),
                    if reason.is_empty() {
                        None
                    } else {
                        Some(reason.to_vec())
                    },
                )
            }
        };
        if payload_len > MAX_CONTROL_PAYLOAD {
            illegal = true;
            problems.push(format!("{payload_len}-byte payload: control frames carry at most 125 bytes, so a reason has at most 123 (RFC 6455 §5.5)"));
        }
        if incomplete {
            self.note(Rule::CloseIncomplete, sd, frame, || {
                format!("part of {sender}'s Close payload is missing from the capture (or longer than wsclose keeps); its reason may be cut")
            });
        }
        let Some(side) = self.sides.get_mut(s) else {
            return;
        };
        if self.closes.len() >= MAX_CLOSES_LISTED {
            self.closes_not_listed += 1;
            return;
        }
        if side.close.is_none() {
            side.close = Some(self.closes.len());
        }
        self.closes.push(RawClose {
            side: s,
            frame,
            ts,
            code,
            reason,
            payload_len,
            problems,
            illegal,
        });
    }
}

/// True when `bytes` is exactly one frame, header and payload.
fn single_frame_fills(bytes: &[u8]) -> bool {
    match crate::ws::frame::parse_frame_header(bytes) {
        Ok((rest, h)) => rest.len() as u64 == h.payload_len,
        Err(_) => false,
    }
}

/// A TCP connection being analyzed.
pub struct Conn {
    pub id: u64,
    ends: [(IpAddr, u16); 2],
    streams: [Stream; 2],
    pub(crate) app: App,
    pub first_frame: u64,
    pub first_ts: Ts,
    pub last_frame: u64,
    pub last_ts: Ts,
    pub(crate) fin: [Option<(u64, Ts)>; 2],
    pub(crate) rst: [Option<(u64, Ts)>; 2],
    /// Latest packet with payload, either way.
    last_payload: Option<Ts>,
    /// Idle time before the first FIN or RST.
    pub(crate) idle_before_end: Option<i64>,
}

impl Conn {
    /// A connection whose first packet seen goes from `src` to `dst`.
    pub fn new(
        id: u64,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        frame: u64,
        ts: Ts,
        opts: &ConnOptions,
    ) -> Conn {
        let forced = opts
            .ws_ports
            .iter()
            .copied()
            .find(|p| *p == src.1 || *p == dst.1);
        // Until the SYN or the handshake says otherwise, the side with the higher
        // (ephemeral-looking) port is taken for the client.
        let client = if src.1 >= dst.1 { 0 } else { 1 };
        Conn {
            id,
            ends: [src, dst],
            streams: [Stream::new(opts.max_pending), Stream::new(opts.max_pending)],
            app: App {
                client,
                client_known: false,
                sides: [Side::new(), Side::new()],
                detection: None,
                request: None,
                response: None,
                refused: false,
                deflate: false,
                closes: Vec::new(),
                closes_not_listed: 0,
                findings: Vec::new(),
                forced_server_port: forced,
                ports: [src.1, dst.1],
                tls: None,
                accept_valid: None,
                shed: false,
                candidate: None,
            },
            first_frame: frame,
            first_ts: ts,
            last_frame: frame,
            last_ts: ts,
            fin: [None, None],
            rst: [None, None],
            last_payload: None,
            idle_before_end: None,
        }
    }

    /// The first FIN or RST: (side, frame, ts, "FIN"/"RST").
    pub(crate) fn first_end(&self) -> Option<(usize, u64, Ts, &'static str)> {
        let mut end: Option<(usize, u64, Ts, &'static str)> = None;
        for side in 0..2 {
            for (kind, slot) in [("FIN", self.fin.get(side)), ("RST", self.rst.get(side))] {
                if let Some(Some((frame, ts))) = slot {
                    if end.is_none_or(|(_, f0, _, _)| *frame < f0) {
                        end = Some((side, *frame, *ts, kind));
                    }
                }
            }
        }
        end
    }

    /// Bytes the application layer holds for this connection: HTTP heads being gathered,
    /// client bytes waiting for the 101, TLS records and handshake messages in progress.
    pub fn app_buffered(&self) -> usize {
        self.app
            .sides
            .iter()
            .map(|s| match &s.mode {
                Mode::Probe { buf, .. } => buf.len(),
                Mode::Hold { held, .. } => *held,
                Mode::Tls(Some(r)) => r.buffered(),
                _ => 0,
            })
            .sum::<usize>()
            + self.app.candidate.as_ref().map_or(0, |c| c.bytes.len())
    }

    /// Drops the application-layer buffers (the capture-wide budget is spent): what they
    /// held is not analyzed, and the connection says so.
    pub fn shed_app_buffers(&mut self) {
        let frame = self.last_frame;
        let mut shed = 0;
        for side in self.app.sides.iter_mut() {
            match &mut side.mode {
                Mode::Probe { buf, .. } => {
                    shed += buf.len();
                    side.mode = Mode::Ignore;
                }
                Mode::Hold { held, .. } => {
                    shed += *held;
                    side.mode = Mode::Ignore;
                }
                Mode::Tls(Some(r)) => {
                    shed += r.buffered();
                    r.shed();
                }
                _ => {}
            }
        }
        if shed > 0 {
            self.app.shed = true;
            self.app.note(Rule::CaptureGap, None, frame, || {
                format!("the capture-wide buffer budget (--max-buffer-total) was spent: {shed} buffered bytes of handshakes in progress were dropped and not analyzed")
            });
        }
    }

    /// Everything this connection buffers: reassembly and application layer.
    pub fn buffered(&self) -> usize {
        self.pending_bytes() + self.app_buffered()
    }

    /// Out-of-order bytes buffered in both directions.
    pub fn pending_bytes(&self) -> usize {
        self.streams.iter().map(Stream::pending_bytes).sum()
    }

    /// Gives up on the holes both directions wait on (the capture-wide buffer budget is
    /// spent): buffered data is delivered after gaps.
    pub fn give_up_holes(&mut self) {
        let Conn { streams, app, .. } = self;
        for (side, st) in streams.iter_mut().enumerate() {
            st.give_up(&mut |ev| app.on_stream(side, ev));
        }
    }

    /// Nothing more to learn: neither side is being read.
    pub fn passive(&self) -> bool {
        self.app
            .sides
            .iter()
            .all(|s| matches!(s.mode, Mode::Ignore))
    }

    /// Is a SYN from `src` with sequence number `isn` the start of another connection on
    /// this four-tuple? True when this one has ended, or when its initiator's SYN carried a
    /// different sequence number (the end of the old one is not in the capture); a
    /// retransmitted SYN is the same connection.
    pub fn is_new_connection(&self, src: (IpAddr, u16), isn: Seq) -> bool {
        if self.ended() {
            return true;
        }
        let side = if src == self.ends[0] { 0 } else { 1 };
        match self.streams.get(side).and_then(Stream::isn) {
            Some(known) => known != isn,
            // No SYN seen from that side before: a SYN now, after data, starts over.
            None => self.streams.get(side).is_some_and(|s| s.offset() > 0),
        }
    }

    /// Both directions finished (FIN each way, or a RST).
    pub fn ended(&self) -> bool {
        self.rst.iter().any(Option::is_some) || self.fin.iter().all(Option::is_some)
    }

    /// Handles one segment of this connection.
    pub fn segment(&mut self, seg: &Segment<'_>, frame: u64, ts: Ts) {
        let side = if (seg.src, seg.src_port) == self.ends[0] {
            0
        } else {
            1
        };
        self.last_frame = frame;
        self.last_ts = ts;
        let flags = seg.flags;
        if flags.syn {
            if let Some(st) = self.streams.get_mut(side) {
                st.syn(seg.seq);
            }
            self.app.set_client(if flags.ack { 1 - side } else { side });
        }
        let passive = self.passive();
        let Conn { streams, app, .. } = self;
        if !passive && (!seg.payload.is_empty() || seg.missing > 0) {
            let seq = if flags.syn { seg.seq + 1 } else { seg.seq };
            if let Some(st) = streams.get_mut(side) {
                st.segment(seq, seg.payload, seg.missing, frame, ts, &mut |ev| {
                    app.on_stream(side, ev)
                });
            }
        }
        if !passive && flags.ack {
            if let Some(st) = streams.get_mut(1 - side) {
                st.acked(seg.ack, frame, ts, &mut |ev| app.on_stream(1 - side, ev));
            }
        }
        if !seg.payload.is_empty() {
            self.last_payload = Some(ts);
        }
        if (flags.fin || flags.rst)
            && self.idle_before_end.is_none()
            && self.fin.iter().chain(&self.rst).all(Option::is_none)
        {
            self.idle_before_end = self.last_payload.map(|p| ts.since(p));
        }
        if flags.fin {
            if let Some(slot) = self.fin.get_mut(side) {
                slot.get_or_insert((frame, ts));
            }
        }
        if flags.rst {
            if let Some(slot) = self.rst.get_mut(side) {
                slot.get_or_insert((frame, ts));
            }
        }
    }

    /// Flushes both streams and builds the report, if this was a WebSocket connection (or an
    /// attempt at one). `evicted` says the flow table pushed it out before it ended.
    pub fn finish(mut self, evicted: bool) -> Option<ConnReport> {
        let Conn { streams, app, .. } = &mut self;
        for (side, st) in streams.iter_mut().enumerate() {
            st.flush(&mut |ev| app.on_stream(side, ev));
        }
        if !self.app.is_reported() {
            return None;
        }
        for side in 0..2 {
            let unfinished = match self.app.sides.get(side).map(|s| &s.mode) {
                Some(Mode::Frames(Some(r))) => r.unfinished(),
                _ => None,
            };
            if let Some(n) = unfinished {
                let frame = self.last_frame;
                self.app.note(Rule::TruncatedAtEnd, Some(side), frame, || {
                    format!("the stream ends inside a frame ({n} bytes still owed): the frame is not reported")
                });
            }
            let stats = self.streams.get(side).map(|s| s.stats).unwrap_or_default();
            if stats.inconsistent_overlaps > 0 {
                let n = stats.inconsistent_overlaps;
                self.app.note(Rule::InconsistentRetransmission, Some(side), stats.first_inconsistent_frame, || {
                    format!("{n} retransmitted or overlapping segment(s) carry different bytes than the first copy; the first copy was used")
                });
            }
        }
        if evicted {
            let frame = self.last_frame;
            self.app.note(Rule::FlowEvicted, None, frame, || {
                "the flow table was full (--max-flows): this connection was closed early, later packets are not analyzed".to_string()
            });
        }
        Some(self.report())
    }

    fn report(&self) -> ConnReport {
        let app = &self.app;
        let client_end = self.ends.get(app.client).copied().unwrap_or(self.ends[0]);
        let server_end = self
            .ends
            .get(1 - app.client)
            .copied()
            .unwrap_or(self.ends[1]);
        let dir = |side: usize| app.dir(side);
        let addr = |side: usize| {
            if side == app.client {
                endpoint(client_end)
            } else {
                endpoint(server_end)
            }
        };
        let mut frames = crate::report::PerDirection::default();
        let mut messages = crate::report::PerDirection::default();
        for (i, s) in app.sides.iter().enumerate() {
            frames.add(dir(i), s.frames);
            messages.add(dir(i), s.messages);
        }
        let closes: Vec<CloseReport> = app
            .closes
            .iter()
            .map(|c| {
                let reason = c.reason.as_deref();
                CloseReport {
                    frame: c.frame,
                    ts: crate::report::timefmt::rfc3339(c.ts),
                    direction: dir(c.side),
                    src: addr(c.side),
                    dst: addr(1 - c.side),
                    code: c.code,
                    reason: reason.map(|r| String::from_utf8_lossy(r).into_owned()),
                    reason_hex: reason.filter(|r| std::str::from_utf8(r).is_err()).map(hex),
                    payload_len: c.payload_len,
                    verdict: if c.illegal {
                        Verdict::Illegal
                    } else {
                        Verdict::Legal
                    },
                    problems: c.problems.clone(),
                    peer_reaction: None,
                    explanation: match (c.code, c.payload_len) {
                        (Some(code), _) => Some(crate::close::catalog::lookup(code)),
                        (None, 0) => Some(&crate::close::catalog::EMPTY_CLOSE),
                        (None, _) => None,
                    },
                }
            })
            .collect();
        let handshake = app.request.as_ref().map(|(req, frame)| {
            let resp = app.response.as_ref();
            let accept = resp.and_then(|(r, _)| r.accept.clone());
            Handshake {
                request_frame: *frame,
                response_frame: resp.map(|(_, f)| *f),
                path: req.path.clone(),
                host: req.host.clone(),
                origin: req.origin.clone(),
                user_agent: req.user_agent.clone(),
                server: resp.and_then(|(r, _)| r.server.clone()),
                status: resp.map(|(r, _)| r.status),
                key: req.key.clone(),
                accept_valid: app.accept_valid,
                accept,
                subprotocol: resp.and_then(|(r, _)| r.protocol.clone()),
                offered_extensions: req.extensions.clone(),
                extensions: resp.map(|(r, _)| r.extensions.clone()).unwrap_or_default(),
                permessage_deflate: resp.is_some_and(|(r, _)| r.deflate()),
            }
        });
        let mut findings: Vec<Finding> = app
            .findings
            .iter()
            .map(|f| Finding {
                rule: f.rule,
                severity: f.rule.severity(),
                direction: f.side.map(dir),
                frame: f.frame,
                count: f.count,
                message: f.message.clone(),
            })
            .collect();
        let mut report = ConnReport {
            id: self.id,
            client: endpoint(client_end),
            server: endpoint(server_end),
            first_frame: self.first_frame,
            last_frame: self.last_frame,
            start: crate::report::timefmt::rfc3339(self.first_ts),
            end: crate::report::timefmt::rfc3339(self.last_ts),
            duration_ms: crate::report::timefmt::ms_between(self.last_ts, self.first_ts),
            detection: app.detection.unwrap_or(if app.tls.is_some() {
                Detection::Tls
            } else {
                Detection::Handshake
            }),
            handshake,
            frames,
            messages,
            closes,
            closes_not_listed: app.closes_not_listed,
            tls: None,
            story: crate::report::Story::empty(),
            findings: Vec::new(),
        };
        let end = self.first_end();
        report.tls = app.tls.as_ref().map(|t| {
            t.report(&EndFacts {
                client: app.client,
                end,
            })
        });
        let facts = story::Facts {
            conn: self,
            client: app.client,
            last_data: [app.sides[0].last_data, app.sides[1].last_data],
            data_after_close: app.sides.iter().any(|s| s.data_after_close > 0),
            refused: app.refused,
        };
        story::tell(&facts, &mut report, &mut findings);
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.frame.cmp(&b.frame))
                .then(a.rule.cmp(&b.rule))
        });
        report.findings = findings;
        report
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
