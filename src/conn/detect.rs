//! Protocol detection: what a stream speaks, from its first bytes. An HTTP head (the
//! Upgrade request or its answer), TLS records, a plaintext answer to a ClientHello, or,
//! with no handshake in the capture, WebSocket frames: forced by `--ws-port`, or recognised
//! from frame structure.
//!
//! Recognition without a handshake must not claim other protocols. A connection is left
//! alone when a stream's first byte is in the capture and is not an HTTP head (WebSocket
//! opens with the Upgrade), when a port belongs to another protocol, or when a segment
//! starts with another protocol's message (`signature`). Otherwise each side's frames are
//! followed across segments (`FrameChain`) and the connection is WebSocket only once they
//! hold together: over two segments that end where frames end on one side, or once on
//! each side with the client's frames masked and the server's not. The frame readers then
//! start from the kept segments, and they are `heuristic`: what no peer would send (an
//! implausible Close included) loses sync instead of being reported.

use crate::capture::Ts;
use crate::conn::signature::{other_port, other_protocol};
use crate::conn::{App, Held, Mode};
use crate::http::{self, Head, Request, Response};
use crate::report::Detection;
use crate::rules::Rule;
use crate::tcp::reassembly::{GapKind, StreamEvent};
use crate::tcp::{PerSide, Side};
use crate::tls::record::looks_like_tls;
use crate::ws::reader::{ChainStep, FrameChain};

/// Segments per side inspected for HTTP or frames before a stream is ignored.
const MAX_PROBES: u32 = 32;
/// Segments per side inspected for HTTP or TLS (STARTTLS) once the connection is known to
/// speak another protocol.
const MAX_PROBES_OTHER: u32 = 8;
/// Bytes of a side's frame chain kept until the connection is recognised (what lies beyond
/// is not read); a chain needs a few segments, and large frames cost only their headers.
pub(super) const MAX_SNIFF_BYTES: usize = 64 * 1024;
/// Segments ending where a frame ends (and frames) one side's chain needs to be believed
/// alone; with the other side's frames agreeing, one each is enough.
const ALIGNED_ALONE: u32 = 2;
/// A TLS record header is this long; fewer bytes cannot be told from other protocols yet.
const TLS_HEADER: usize = 5;
/// Longest first line quoted from a plaintext answer to a ClientHello.
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
        let sniff = match self.other_protocol {
            None => Some(self.sniff[side].get_or_insert_with(|| Box::new(Sniff::new()))),
            Some(_) => None,
        };
        let StreamEvent::Data {
            offset,
            bytes,
            frame_no,
            ts,
        } = ev
        else {
            buf.clear();
            if let Some(sniff) = sniff {
                sniff.opened_without_http.get_or_insert(false);
                sniff.chain.lose();
                sniff.clear();
            }
            return;
        };
        if let Some(sniff) = sniff {
            let http = http::looks_like_request(bytes) || http::looks_like_response(bytes);
            sniff.opened_without_http.get_or_insert(!http);
        }
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
        if !in_tls && self.answers_client_hello(side) {
            self.plaintext_answer_to_tls(side, &joined, frame_no);
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
            Some(Head::Invalid) => {
                self.invalid_head(side, &joined, frame_no);
                self.ignore(side);
            }
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

    /// An HTTP head that could not be read. Over the size limits, and naming WebSocket, it
    /// is an Upgrade wsclose dropped: a finding says so (the handshake is not checked).
    #[cold]
    fn invalid_head(&mut self, side: Side, head: &[u8], frame_no: u64) {
        let lines = head.iter().filter(|b| **b == b'\n').count();
        let too_large = head.len() >= http::MAX_HEAD || lines > http::MAX_HEADERS;
        let names_websocket = head
            .windows(b"websocket".len())
            .any(|w| w.eq_ignore_ascii_case(b"websocket"));
        if !too_large || !names_websocket {
            return;
        }
        let what = if http::looks_like_request(head) {
            "Upgrade request"
        } else {
            "answer to the Upgrade"
        };
        let (len, max, max_lines) = (head.len(), http::MAX_HEAD, http::MAX_HEADERS);
        self.note(Rule::HandshakeTooLarge, Some(side), frame_no, || {
            format!("the {what} is longer than wsclose reads ({len} bytes or more over {lines} lines; it reads {max} bytes and {max_lines} headers): the handshake was not read or checked")
        });
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

    /// A plaintext answer to a TLS ClientHello (an HTTP status line, an HTML page, a
    /// banner): the port does not speak TLS, as when wss:// is spoken to a ws:// port. Its
    /// first line is kept for the report.
    fn plaintext_answer_to_tls(&mut self, side: Side, bytes: &[u8], frame_no: u64) {
        if let Some(t) = self.tls.as_mut() {
            t.http_answer.get_or_insert((frame_no, first_line(bytes)));
        }
        self.ignore(side);
        self.sniff[side] = None;
    }

    /// A complete HTTP head of `n` bytes: the Upgrade request or its answer; what follows
    /// it goes to whatever reads the stream next.
    fn on_head(&mut self, side: Side, message: Message, n: usize, seen: &Bytes<'_>) {
        match message {
            Message::Request(req) => self.on_request(side, req, seen.frame_no),
            Message::Response(resp) => self.on_response(side, resp, seen.frame_no, seen.ts),
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
            self.on_plain(side, current.event());
            return;
        }
        if let Some(port) = self.forced_server_port {
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
            self.on_plain(side, current.event());
            return;
        }
        if self.other_protocol.is_none() {
            self.other_protocol = self.not_websocket(side, current.bytes);
        }
        if self.other_protocol.is_some() {
            // Not WebSocket: no frames are followed, but TLS may still start (STARTTLS).
            self.sniff = PerSide::new(None, None);
            if probes >= MAX_PROBES_OTHER {
                self.ignore(side);
            }
            return;
        }
        self.follow_frames(side, current);
        if self.detection.is_none() && probes >= MAX_PROBES {
            self.ignore(side);
            self.sniff[side] = None;
        }
    }

    /// Why `side`'s stream, whose segment `bytes` is not an HTTP head, is not WebSocket,
    /// when something says so: its first bytes are in the capture (a WebSocket connection
    /// opens with an HTTP Upgrade, RFC 6455 §4.1), a port of another protocol, or another
    /// protocol's signature.
    fn not_websocket(&self, side: Side, bytes: &[u8]) -> Option<&'static str> {
        if self.sniff[side]
            .as_ref()
            .is_some_and(|s| s.opened_without_http == Some(true))
        {
            return Some("a stream that starts in the capture without an HTTP Upgrade");
        }
        if !self.sides[side].speaks_tls {
            let ports = [self.ports.a, self.ports.b];
            if let Some(name) = ports.into_iter().find_map(other_port) {
                return Some(name);
            }
        }
        other_protocol(bytes)
    }

    /// Follows `side`'s frames through `current`; recognises the connection as WebSocket
    /// once the frames of one or both sides hold together well enough (`recognised`).
    fn follow_frames(&mut self, side: Side, current: &Bytes<'_>) {
        let Some(sniff) = self.sniff[side].as_mut() else {
            return;
        };
        match sniff.chain.segment(current.bytes) {
            ChainStep::Lost => sniff.clear(),
            ChainStep::Started => {
                sniff.clear();
                sniff.keep(current);
            }
            ChainStep::Continued => sniff.keep(current),
        }
        if let Some(client) = self.recognised() {
            self.recognise(client, current.frame_no);
        }
    }

    /// The client side, when the frame chains are evidence enough of WebSocket: one side's
    /// frames held together over `ALIGNED_ALONE` segments that ended where frames ended, or
    /// both sides' frames did at least once each with opposite masking. Clients mask and
    /// servers do not (RFC 6455 §5.1), so the masked side is the client; chains that mask
    /// alike, or a masking that contradicts a client known from the SYN, are no evidence.
    fn recognised(&self) -> Option<Side> {
        let evidence = |side: Side| {
            self.sniff[side]
                .as_ref()
                .filter(|s| s.chain.synced() && s.chain.frames() > 0)
                .and_then(|s| Some((s.chain.aligned(), s.chain.frames(), s.chain.masked()?)))
        };
        let alone = |(aligned, frames, _): (u32, u32, bool)| {
            aligned >= ALIGNED_ALONE && frames >= ALIGNED_ALONE
        };
        let client_of = |side: Side, masked: bool| if masked { side } else { side.other() };
        let client = match (evidence(Side::A), evidence(Side::B)) {
            (Some(a), Some(b)) => {
                let agree = a.2 != b.2 && ((a.0 >= 1 && b.0 >= 1) || alone(a) || alone(b));
                agree.then(|| client_of(Side::A, a.2))
            }
            (Some(a), None) => alone(a).then(|| client_of(Side::A, a.2)),
            (None, Some(b)) => alone(b).then(|| client_of(Side::B, b.2)),
            (None, None) => None,
        }?;
        (!self.client_known || self.client == client).then_some(client)
    }

    /// The frames held together: the connection is WebSocket (lower confidence), and each
    /// side's kept segments go to its frame reader.
    fn recognise(&mut self, client: Side, frame_no: u64) {
        self.client = client;
        self.client_known = true;
        self.detection = Some(Detection::Heuristic);
        self.note(Rule::HeuristicDetection, None, frame_no, || {
            "no HTTP Upgrade handshake in the capture: recognised as WebSocket from frame structure (lower confidence)".to_string()
        });
        for side in [Side::A, Side::B] {
            let sniff = self.sniff[side].take();
            match sniff {
                Some(s) if s.chain.synced() && !s.pieces.is_empty() => {
                    self.start_frames(side, false);
                    for p in &s.pieces {
                        let piece = Bytes {
                            offset: p.offset,
                            bytes: &p.bytes,
                            frame_no: p.frame_no,
                            ts: p.ts,
                        };
                        self.feed_frames(side, &piece.event());
                    }
                    if let Some(cut) = s.cut {
                        self.feed_frames(side, &cut.event());
                    }
                }
                _ => {
                    if matches!(self.sides[side].mode, Mode::Probe { .. }) {
                        self.start_frames(side, true);
                    }
                }
            }
        }
    }
}

/// What detection without a handshake knows of one side's stream.
pub(super) struct Sniff {
    /// The stream's first bytes are in the capture (no gap came before them) and are not
    /// the start of an HTTP head (which a later gap may cut); unknown until its first event.
    opened_without_http: Option<bool>,
    /// The frames followed so far.
    chain: FrameChain,
    /// The chain's segments from its first byte, for the frame reader once recognised.
    pieces: Vec<Held>,
    /// Bytes in `pieces`.
    kept: usize,
    /// The chain's bytes beyond `MAX_SNIFF_BYTES`, not kept: the gap they leave.
    cut: Option<Cut>,
}

/// Bytes of a chain not kept (they stay unread when the connection is recognised).
struct Cut {
    offset: u64,
    len: u64,
    frame_no: u64,
    ts: Ts,
}

impl Cut {
    fn event(&self) -> StreamEvent<'static> {
        StreamEvent::Gap {
            offset: self.offset,
            len: self.len,
            kind: GapKind::BufferLimit,
            frame_no: self.frame_no,
            ts: self.ts,
        }
    }
}

impl Sniff {
    pub(super) fn new() -> Sniff {
        Sniff {
            opened_without_http: None,
            // Without the handshake, permessage-deflate may have been negotiated.
            chain: FrameChain::new(true),
            pieces: Vec::new(),
            kept: 0,
            cut: None,
        }
    }

    /// Bytes held, for the capture-wide budget.
    pub(super) fn buffered(&self) -> usize {
        self.kept
    }

    fn clear(&mut self) {
        self.pieces = Vec::new();
        self.kept = 0;
        self.cut = None;
    }

    /// One more segment of the chain, kept while within `MAX_SNIFF_BYTES`.
    fn keep(&mut self, b: &Bytes<'_>) {
        let len = b.bytes.len();
        if self.cut.is_none() && self.kept + len <= MAX_SNIFF_BYTES {
            self.kept += len;
            self.pieces.push(Held {
                offset: b.offset,
                frame_no: b.frame_no,
                ts: b.ts,
                bytes: b.bytes.to_vec(),
            });
            return;
        }
        let cut = self.cut.get_or_insert(Cut {
            offset: b.offset,
            len: 0,
            frame_no: b.frame_no,
            ts: b.ts,
        });
        cut.len += len as u64;
        cut.frame_no = b.frame_no;
        cut.ts = b.ts;
    }
}

/// The first non-empty line of `bytes`, at most `MAX_STATUS_LINE` bytes, with bytes other
/// than printable ASCII written `\xNN`.
fn first_line(bytes: &[u8]) -> String {
    let text = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|i| bytes.get(i..))
        .unwrap_or_default();
    let end = text
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(text.len())
        .min(MAX_STATUS_LINE);
    let mut line = String::new();
    for b in text.get(..end).unwrap_or_default() {
        if b.is_ascii_graphic() || *b == b' ' {
            line.push(char::from(*b));
        } else {
            line.push_str(&format!("\\x{b:02x}"));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines() {
        assert_eq!(
            first_line(b"HTTP/1.1 400 Bad Request\r\nServer: x\r\n"),
            "HTTP/1.1 400 Bad Request"
        );
        assert_eq!(
            first_line(b"<!DOCTYPE HTML>\n<html lang=\"en\">"),
            "<!DOCTYPE HTML>"
        );
        assert_eq!(first_line(b"\r\n\x00\xffok"), "\\x00\\xffok");
        assert_eq!(first_line(&[b'a'; 200]).len(), MAX_STATUS_LINE);
        assert_eq!(first_line(b""), "");
    }
}
