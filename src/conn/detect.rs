//! Protocol detection: what a stream speaks, from its first bytes. An HTTP head (the
//! Upgrade request or its answer), TLS records, a plaintext HTTP answer to a ClientHello,
//! or, with no handshake in the capture, WebSocket frames: forced by `--ws-port`, or
//! recognised from frame structure once two segments agree (one alone is too often random
//! data).

use crate::capture::Ts;
use crate::conn::{App, Candidate, Mode};
use crate::http::{self, Head, Request, Response};
use crate::report::Detection;
use crate::rules::Rule;
use crate::tcp::reassembly::{GapKind, StreamEvent};
use crate::tcp::Side;
use crate::tls::record::looks_like_tls;
use crate::ws::frame::parse_frame_header;
use crate::ws::reader::plausible_frames;

/// Segments per side inspected for HTTP or frames before a stream is ignored.
const MAX_PROBES: u32 = 8;
/// Longest first segment kept while waiting for a second one to confirm a WebSocket guess.
pub(super) const MAX_CANDIDATE: usize = 4096;
/// A TLS record header is this long; fewer bytes cannot be told from other protocols yet.
const TLS_HEADER: usize = 5;
/// Longest status line quoted from a plaintext answer to a ClientHello.
const MAX_STATUS_LINE: usize = 80;

/// An HTTP head found at the start of a stream.
enum Message {
    Request(Request),
    Response(Response),
}

/// In-order bytes of a stream: where they start, and the packet that brought them.
struct Bytes<'a> {
    offset: u64,
    bytes: &'a [u8],
    frame_no: u64,
    ts: Ts,
}

impl Bytes<'_> {
    fn event(&self) -> StreamEvent<'_> {
        StreamEvent::Data {
            offset: self.offset,
            bytes: self.bytes,
            frame_no: self.frame_no,
            ts: self.ts,
        }
    }
}

impl App {
    /// The first bytes of `side`'s stream: decides what reads it from now on.
    pub(super) fn probe(&mut self, side: Side, ev: StreamEvent<'_>) {
        let Mode::Probe { buf, .. } = &mut self.sides[side].mode else {
            return;
        };
        let StreamEvent::Data {
            offset,
            bytes,
            frame_no,
            ts,
        } = ev
        else {
            buf.clear();
            return;
        };
        let start = offset.saturating_sub(buf.len() as u64);
        buf.extend_from_slice(bytes);
        let joined = std::mem::take(buf);
        let seen = Bytes {
            offset: start,
            bytes: &joined,
            frame_no,
            ts,
        };
        // TLS inside TLS is not looked for: a decrypted stream is HTTP and frames.
        let in_tls = self.sides[side].speaks_tls;
        if !in_tls && looks_like_tls(&joined) {
            if joined.len() < TLS_HEADER {
                self.keep_probing(side, joined);
            } else {
                self.start_tls(side, frame_no);
                self.on_stream(side, seen.event());
            }
            return;
        }
        if !in_tls && http::looks_like_response(&joined) && self.answers_client_hello(side) {
            self.http_answer_to_tls(side, &joined, frame_no);
            return;
        }
        let head = if http::looks_like_request(&joined) {
            Some(http::parse_request(&joined).map(Message::Request))
        } else if http::looks_like_response(&joined) {
            Some(http::parse_response(&joined).map(Message::Response))
        } else {
            None
        };
        match head {
            Some(Head::Partial) => self.keep_probing(side, joined),
            Some(Head::Invalid) => self.ignore(side),
            Some(Head::Complete(message, n)) => self.on_head(side, message, n, &seen),
            None => {
                let current = Bytes {
                    offset,
                    bytes,
                    frame_no,
                    ts,
                };
                self.no_head(side, &current);
            }
        }
    }

    /// Not enough bytes to decide: keep them for the next segment.
    fn keep_probing(&mut self, side: Side, bytes: Vec<u8>) {
        if let Mode::Probe { buf, .. } = &mut self.sides[side].mode {
            *buf = bytes;
        }
    }

    /// Is `side` answering a ClientHello its peer sent?
    fn answers_client_hello(&self, side: Side) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|t| t.client_side() == Some(side.other()))
    }

    /// A plaintext HTTP answer to a TLS ClientHello: wss:// spoken to a ws:// port.
    fn http_answer_to_tls(&mut self, side: Side, bytes: &[u8], frame_no: u64) {
        let line_end = bytes
            .iter()
            .position(|b| *b == b'\r' || *b == b'\n')
            .unwrap_or(bytes.len())
            .min(MAX_STATUS_LINE);
        let status =
            String::from_utf8_lossy(bytes.get(..line_end).unwrap_or_default()).into_owned();
        if let Some(t) = self.tls.as_mut() {
            t.http_answer.get_or_insert((frame_no, status));
        }
        self.ignore(side);
    }

    /// A complete HTTP head of `n` bytes: the Upgrade request or its answer; what follows
    /// it goes to whatever reads the stream next.
    fn on_head(&mut self, side: Side, message: Message, n: usize, seen: &Bytes<'_>) {
        match message {
            Message::Request(req) => self.on_request(side, req, seen.frame_no),
            Message::Response(resp) => self.on_response(side, resp, seen.frame_no),
        }
        let rest = seen.bytes.get(n..).unwrap_or_default();
        if !rest.is_empty() {
            let after = Bytes {
                offset: seen.offset + n as u64,
                bytes: rest,
                frame_no: seen.frame_no,
                ts: seen.ts,
            };
            self.on_plain(side, after.event());
        }
    }

    /// Not HTTP. WebSocket without a handshake in the capture?
    fn no_head(&mut self, side: Side, current: &Bytes<'_>) {
        let probes = match &mut self.sides[side].mode {
            Mode::Probe { probes, .. } => {
                *probes += 1;
                *probes
            }
            _ => return,
        };
        let other = side.other();
        if self.detection.is_some() {
            // The other side is already known to speak WebSocket: read frames here too.
            self.start_frames(side, true);
        } else if let Some(port) = self.forced_server_port {
            let server = if self.ports[side] == port {
                side
            } else {
                other
            };
            self.client = server.other();
            self.client_known = true;
            self.detection = Some(Detection::Forced);
            self.start_frames(side, true);
            self.start_frames(other, true);
        } else if !self.heuristic(side, current) {
            // Not a frame boundary here: a candidate from this side was a coincidence.
            if self.candidate.as_ref().is_some_and(|c| c.side == side) {
                self.candidate = None;
            }
            if probes >= MAX_PROBES {
                self.ignore(side);
            }
            return;
        } else if self.detection.is_none() {
            // A first plausible segment, kept until another agrees.
            return;
        }
        self.on_plain(side, current.event());
    }

    /// Frame structure without a handshake. False when `current` does not start with
    /// plausible frames; true when it does, after which `detection` is set only if a
    /// second segment agreed with a kept candidate (the segment itself is then read).
    fn heuristic(&mut self, side: Side, current: &Bytes<'_>) -> bool {
        let bytes = current.bytes;
        let n = plausible_frames(bytes, None, true);
        if n < 2 && !(n == 1 && single_frame_fills(bytes)) {
            return false;
        }
        let masked = bytes.get(1).is_some_and(|b| b & 0x80 != 0);
        // A second segment must agree: from the same side with the same masking, or from
        // the other side with the opposite masking.
        let agrees = self
            .candidate
            .as_ref()
            .is_some_and(|c| (c.side == side) == (c.masked == masked));
        if !agrees {
            let kept = bytes.len().min(MAX_CANDIDATE);
            self.candidate = Some(Candidate {
                side,
                masked,
                offset: current.offset,
                frame_no: current.frame_no,
                ts: current.ts,
                bytes: bytes.get(..kept).unwrap_or_default().to_vec(),
                cut: (bytes.len() - kept) as u64,
            });
            return true;
        }
        let other = side.other();
        self.client = if masked { side } else { other };
        self.client_known = true;
        self.detection = Some(Detection::Heuristic);
        self.note(Rule::HeuristicDetection, None, current.frame_no, || {
            "no HTTP Upgrade handshake in the capture: recognised as WebSocket from frame structure (lower confidence)".to_string()
        });
        self.start_frames(side, true);
        self.start_frames(other, true);
        if let Some(c) = self.candidate.take() {
            self.replay_candidate(c);
        }
        true
    }

    /// The kept first segment, read now that a second one confirmed it.
    fn replay_candidate(&mut self, c: Candidate) {
        let kept = Bytes {
            offset: c.offset,
            bytes: &c.bytes,
            frame_no: c.frame_no,
            ts: c.ts,
        };
        self.feed_frames(c.side, &kept.event());
        if c.cut > 0 {
            let gap = StreamEvent::Gap {
                offset: c.offset + c.bytes.len() as u64,
                len: c.cut,
                kind: GapKind::BufferLimit,
                frame_no: c.frame_no,
                ts: c.ts,
            };
            self.feed_frames(c.side, &gap);
        }
    }
}

/// True when `bytes` is exactly one frame, header and payload.
fn single_frame_fills(bytes: &[u8]) -> bool {
    match parse_frame_header(bytes) {
        Ok((rest, h)) => rest.len() as u64 == h.payload_len,
        Err(_) => false,
    }
}
