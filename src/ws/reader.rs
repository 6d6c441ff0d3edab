//! Incremental WebSocket frame reader for one direction of a connection.
//!
//! Takes the reassembled stream (`StreamEvent`s: in-order data and gaps) and yields one
//! `FrameEvent` per frame: the header, where it ended, and for Close frames the unmasked
//! payload (bounded by `MAX_CLOSE_CAPTURE`). Data payloads are skipped by length, never
//! stored, so a gap inside a data payload costs nothing. A gap that hides a frame boundary
//! loses sync; the reader then looks for a plausible frame header at the start of each later
//! segment and resumes there. On a connection recognised without a handshake the reader is
//! `heuristic`: a header or a Close that a WebSocket peer would not send is taken as a misread
//! (sync lost) rather than reported as a violation.
//!
//! `FrameChain` is the evidence behind such a recognition: it follows one direction's bytes
//! frame by frame across segments and says whether they hold together as WebSocket (legal
//! opcodes and fragmentation, one masking, UTF-8 text, plausible Close frames, segments
//! that end where frames end). Never panics on input.

use crate::capture::Ts;
use crate::close::code::CloseCode;
use crate::tcp::reassembly::StreamEvent;
use crate::ws::close::{parse_close_payload, ClosePayload};
use crate::ws::frame::{
    masked_is_ascii, parse_frame_header, unmask, unmasked_pieces, FrameHeader, Opcode,
    MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
use crate::ws::inflate::Utf8Stream;

/// Most bytes of a Close payload kept for the report. Legal bodies have at most 125; an
/// oversized one is kept up to this much so its reason can still be shown.
pub const MAX_CLOSE_CAPTURE: usize = 8 * 1024;
/// Largest frame a resynchronising reader believes in: a header claiming more is taken as a
/// misread rather than a frame.
const MAX_PLAUSIBLE_LEN: u64 = 1 << 31;

/// A complete frame, or a change of sync.
#[derive(Debug)]
pub enum FrameEvent<'a> {
    /// A frame header was read (its payload may follow much later, or never), and it is
    /// one to look at before its payload: payloads are passed on (`payloads`), or it sets a
    /// bit, opcode, length or mask that may break a rule. A header that breaks none is
    /// delivered with its frame's end only.
    Header { header: FrameHeader, frame_no: u64 },
    Frame {
        header: FrameHeader,
        /// Packet that carried the last byte (the frame Wireshark reports it in).
        frame_no: u64,
        ts: Ts,
        /// Unmasked payload, for Close frames only.
        close_payload: Option<&'a [u8]>,
        /// Part of the payload fell in a capture gap or beyond `MAX_CLOSE_CAPTURE`.
        payload_incomplete: bool,
        /// For the last frame of an uncompressed text message seen whole: whether it is
        /// UTF-8.
        text: TextVerdict,
        /// Payload bytes of this frame that fell in capture gaps.
        missing: u64,
    },
    /// A piece of a data frame's payload, as it arrives (only when `payloads` is set):
    /// masked as on the wire; `pos` is its offset in the frame's payload.
    Payload {
        chunk: &'a [u8],
        pos: u64,
        masking_key: Option<[u8; 4]>,
    },
    /// Part of a data frame's payload is missing from the capture (only when `payloads`).
    PayloadGap,
    /// Frames are not known from `offset` on, until a plausible frame header starts a
    /// later segment: a gap hid a frame boundary, or (heuristic reader) the bytes there are
    /// not a frame a WebSocket peer sends.
    LostSync {
        offset: u64,
        frame_no: u64,
        cause: SyncLoss,
    },
}

/// What a text message's bytes are, as UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextVerdict {
    /// Not judged: not the end of an uncompressed text message, or part of it is missing.
    None,
    Valid,
    /// Not UTF-8 from this offset in the message.
    InvalidAt(u64),
}

/// Why a reader lost its frame boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncLoss {
    /// A capture gap hid a frame boundary.
    Gap,
    /// On a connection recognised without a handshake: a header, or a Close payload, that
    /// no WebSocket peer sends (the bytes were probably not frames).
    NotAFrame,
}

enum State {
    Header,
    Payload {
        header: FrameHeader,
        remaining: u64,
        pos: u64,
    },
    Lost,
}

/// Frame reader for one direction.
pub struct FrameReader {
    state: State,
    hdr: [u8; MAX_HEADER_LEN],
    hdr_len: usize,
    /// Packet that carried the first byte of a header read in pieces.
    hdr_frame_no: u64,
    close_buf: Vec<u8>,
    close_incomplete: bool,
    /// Latest packet that carried bytes of the current frame: with reordering, the frame is
    /// complete only when its last missing piece arrives, not when its last byte does.
    latest: (u64, Ts),
    /// Whether frames in this direction must be masked (client) or must not (server); `None`
    /// while unknown. Used only to judge plausibility when resynchronising.
    pub expect_masked: Option<bool>,
    /// Whether RSV1 is plausible (permessage-deflate negotiated or unknown).
    pub rsv1_ok: bool,
    /// The connection was recognised without a handshake: an unlikely header or Close
    /// loses sync instead of being read as a frame.
    pub heuristic: bool,
    /// Data frames' payloads are passed on (`FrameEvent::Payload`).
    pub payloads: bool,
    /// Uncompressed text messages are judged as UTF-8 as their bytes pass.
    pub judge_text: bool,
    /// The text message being judged, when one is.
    text: Option<Utf8Stream>,
    /// Payload bytes of the current frame that fell in capture gaps.
    missing: u64,
    /// Packet that carried the current frame's first byte.
    frame_start: u64,
}

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader::new()
    }
}

impl FrameReader {
    pub fn new() -> FrameReader {
        FrameReader {
            state: State::Header,
            hdr: [0; MAX_HEADER_LEN],
            hdr_len: 0,
            hdr_frame_no: 0,
            close_buf: Vec::new(),
            close_incomplete: false,
            latest: (0, Ts(0)),
            expect_masked: None,
            rsv1_ok: true,
            heuristic: false,
            payloads: false,
            judge_text: false,
            text: None,
            missing: 0,
            frame_start: 0,
        }
    }

    /// A reader that starts without sync (capture started mid-stream).
    pub fn lost() -> FrameReader {
        let mut r = FrameReader::new();
        r.state = State::Lost;
        r
    }

    /// Bytes of a frame started but not finished (header bytes or payload still owed).
    pub fn unfinished(&self) -> Option<u64> {
        match &self.state {
            State::Header if self.hdr_len > 0 => Some(self.hdr_len as u64),
            State::Payload { remaining, .. } => Some(*remaining),
            _ => None,
        }
    }

    /// The frame being read, and the packet of its first byte, while its payload is still
    /// to come.
    pub fn current_frame(&self) -> Option<(FrameHeader, u64)> {
        match &self.state {
            State::Payload { header, .. } => Some((*header, self.frame_start)),
            _ => None,
        }
    }

    /// Payload bytes of the frame being read still to come (0 between frames).
    pub fn payload_owed(&self) -> u64 {
        match &self.state {
            State::Payload { remaining, .. } => *remaining,
            _ => 0,
        }
    }

    /// Feeds one stream event.
    pub fn feed<F>(&mut self, ev: &StreamEvent<'_>, sink: &mut F)
    where
        F: FnMut(FrameEvent<'_>),
    {
        match *ev {
            StreamEvent::Data {
                offset,
                bytes,
                frame_no,
                ts,
            } => self.data(offset, bytes, frame_no, ts, sink),
            StreamEvent::Gap {
                offset,
                len,
                frame_no,
                ts,
                ..
            } => self.gap(offset, len, frame_no, ts, sink),
        }
    }

    fn gap<F>(&mut self, offset: u64, len: u64, frame_no: u64, ts: Ts, sink: &mut F)
    where
        F: FnMut(FrameEvent<'_>),
    {
        match &mut self.state {
            State::Payload {
                header,
                remaining,
                pos,
                ..
            } if len > 0 && len <= *remaining => {
                *remaining -= len;
                *pos += len;
                if header.opcode == Opcode::Close {
                    self.close_incomplete = true;
                } else if header.opcode.is_data() {
                    self.text = None;
                    self.missing += len;
                    if self.payloads {
                        sink(FrameEvent::PayloadGap);
                    }
                }
                if *remaining == 0 {
                    if self.heuristic && !self.close_believable() {
                        self.not_a_frame(offset, frame_no, sink);
                        return;
                    }
                    self.finish(frame_no, ts, sink);
                }
            }
            State::Lost => {}
            _ => {
                self.hdr_len = 0;
                self.state = State::Lost;
                self.text = None;
                sink(FrameEvent::LostSync {
                    offset,
                    frame_no,
                    cause: SyncLoss::Gap,
                });
            }
        }
    }

    /// A heuristic reader met bytes no WebSocket peer sends at `offset`: frames are lost
    /// until a later segment starts with a likely header.
    fn not_a_frame<F>(&mut self, offset: u64, frame_no: u64, sink: &mut F)
    where
        F: FnMut(FrameEvent<'_>),
    {
        self.hdr_len = 0;
        self.state = State::Lost;
        self.text = None;
        sink(FrameEvent::LostSync {
            offset,
            frame_no,
            cause: SyncLoss::NotAFrame,
        });
    }

    /// Could a heuristic reader take `header` for a frame?
    fn believable(&self, header: &FrameHeader) -> bool {
        !self.heuristic || likely_header(header, self.expect_masked, self.rsv1_ok)
    }

    fn data<F>(&mut self, offset: u64, mut bytes: &[u8], frame_no: u64, ts: Ts, sink: &mut F)
    where
        F: FnMut(FrameEvent<'_>),
    {
        let end = offset + bytes.len() as u64;
        if let State::Lost = self.state {
            if !self.plausible_at(bytes) {
                return;
            }
            self.state = State::Header;
            self.hdr_len = 0;
        }
        while !bytes.is_empty() {
            if frame_no > self.latest.0 {
                self.latest = (frame_no, ts);
            }
            match &mut self.state {
                State::Lost => return,
                State::Header => {
                    if self.hdr_len == 0 {
                        // Fast path: whole header in this chunk.
                        if let Ok((rest, header)) = parse_frame_header(bytes) {
                            if !self.believable(&header) {
                                self.not_a_frame(end - bytes.len() as u64, frame_no, sink);
                                return;
                            }
                            self.start_payload(header, frame_no, frame_no, ts, sink);
                            bytes = rest;
                            continue;
                        }
                        self.hdr_frame_no = frame_no;
                    }
                    let room = MAX_HEADER_LEN - self.hdr_len;
                    let take = room.min(bytes.len());
                    if let (Some(dst), Some(src)) = (
                        self.hdr.get_mut(self.hdr_len..self.hdr_len + take),
                        bytes.get(..take),
                    ) {
                        dst.copy_from_slice(src);
                    }
                    let have = self.hdr_len + take;
                    match parse_frame_header(self.hdr.get(..have).unwrap_or_default()) {
                        Ok((rest, header)) => {
                            if !self.believable(&header) {
                                let at =
                                    (end - bytes.len() as u64).saturating_sub(self.hdr_len as u64);
                                self.not_a_frame(at, self.hdr_frame_no, sink);
                                return;
                            }
                            let used_now = have - rest.len() - self.hdr_len;
                            self.hdr_len = 0;
                            self.start_payload(header, self.hdr_frame_no, frame_no, ts, sink);
                            bytes = bytes.get(used_now..).unwrap_or_default();
                        }
                        Err(_) => {
                            self.hdr_len = have;
                            return;
                        }
                    }
                }
                State::Payload {
                    header,
                    remaining,
                    pos,
                    ..
                } => {
                    let n = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    let (chunk, rest) = bytes.split_at(n);
                    if header.opcode == Opcode::Close {
                        let room = MAX_CLOSE_CAPTURE.saturating_sub(self.close_buf.len());
                        let keep = room.min(chunk.len());
                        let start = self.close_buf.len();
                        self.close_buf
                            .extend_from_slice(chunk.get(..keep).unwrap_or_default());
                        if keep < chunk.len() {
                            self.close_incomplete = true;
                        }
                        if let (Some(key), Some(buf)) =
                            (header.masking_key, self.close_buf.get_mut(start..))
                        {
                            unmask(buf, key, *pos);
                        }
                    } else if header.opcode.is_data() && !chunk.is_empty() {
                        if let Some(u) = self.text.as_mut() {
                            judge(u, chunk, header.masking_key, *pos);
                        }
                        if self.payloads {
                            sink(FrameEvent::Payload {
                                chunk,
                                pos: *pos,
                                masking_key: header.masking_key,
                            });
                        }
                    }
                    *remaining -= n as u64;
                    *pos += n as u64;
                    let chunk_end = end - bytes.len() as u64 + n as u64;
                    let frame_start = chunk_end.saturating_sub(*pos + header.header_len as u64);
                    bytes = rest;
                    if *remaining == 0 {
                        if self.heuristic && !self.close_believable() {
                            self.not_a_frame(frame_start, frame_no, sink);
                            return;
                        }
                        self.finish(frame_no, ts, sink);
                    }
                }
            }
        }
    }

    fn start_payload<F>(
        &mut self,
        header: FrameHeader,
        first_frame_no: u64,
        frame_no: u64,
        ts: Ts,
        sink: &mut F,
    ) where
        F: FnMut(FrameEvent<'_>),
    {
        if self.payloads || !self.ordinary(&header) {
            sink(FrameEvent::Header {
                header,
                frame_no: first_frame_no,
            });
        }
        self.close_buf.clear();
        if self.close_buf.capacity() > 256 {
            // An oversized Close came before: do not keep its buffer for the connection's life.
            self.close_buf = Vec::new();
        }
        self.close_incomplete = false;
        self.missing = 0;
        self.frame_start = first_frame_no;
        match header.opcode {
            Opcode::Text if self.judge_text && !header.rsv1 => {
                self.text = Some(Utf8Stream::default());
            }
            Opcode::Text | Opcode::Binary => self.text = None,
            _ => {}
        }
        self.latest = (frame_no, ts);
        self.state = State::Payload {
            header,
            remaining: header.payload_len,
            pos: 0,
        };
        if header.payload_len == 0 {
            self.finish(frame_no, ts, sink);
        }
    }

    fn finish<F>(&mut self, frame_no: u64, ts: Ts, sink: &mut F)
    where
        F: FnMut(FrameEvent<'_>),
    {
        let state = std::mem::replace(&mut self.state, State::Header);
        let (frame_no, ts) = if self.latest.0 > frame_no {
            self.latest
        } else {
            (frame_no, ts)
        };
        if let State::Payload { header, .. } = state {
            let is_close = header.opcode == Opcode::Close;
            let text = match self.text.as_mut() {
                Some(u) if header.fin && header.opcode.is_data() => {
                    let verdict = if u.end() {
                        TextVerdict::Valid
                    } else {
                        TextVerdict::InvalidAt(u.bad_at.unwrap_or(0))
                    };
                    self.text = None;
                    verdict
                }
                _ => TextVerdict::None,
            };
            sink(FrameEvent::Frame {
                header,
                frame_no,
                ts,
                close_payload: if is_close {
                    Some(&self.close_buf)
                } else {
                    None
                },
                payload_incomplete: is_close && self.close_incomplete,
                text,
                missing: self.missing,
            });
        }
    }

    /// A header that breaks none of the rules a header alone can break (RFC 6455 §5.1-§5.5):
    /// plausible (`plausible_header`) with no RSV bit and masked as its known direction must
    /// be. Everything else is looked at by the connection (an RSV1 bit always, whatever was
    /// negotiated, and an implausibly long frame).
    fn ordinary(&self, h: &FrameHeader) -> bool {
        self.expect_masked.is_some() && plausible_header(h, self.expect_masked, false)
    }

    /// A Close whose payload is complete here: is it one a peer sends (heuristic reader)?
    /// Other frames always are.
    fn close_believable(&self) -> bool {
        match &self.state {
            State::Payload { header, .. } if header.opcode == Opcode::Close => {
                if self.close_incomplete {
                    // Part of the reason is missing: the code alone is judged.
                    return match self.close_buf.as_slice() {
                        [hi, lo, ..] => {
                            CloseCode(u16::from_be_bytes([*hi, *lo])).is_legal_on_wire()
                        }
                        _ => false,
                    };
                }
                likely_close(&self.close_buf)
            }
            _ => true,
        }
    }

    /// Could `bytes` start with a frame header? Used to resynchronise.
    pub fn plausible_at(&self, bytes: &[u8]) -> bool {
        if self.heuristic {
            return parse_frame_header(bytes)
                .is_ok_and(|(_, h)| likely_header(&h, self.expect_masked, self.rsv1_ok));
        }
        plausible_frames(bytes, self.expect_masked, self.rsv1_ok) > 0
    }
}

/// Could a peer send this header? Known opcode, RSV2/RSV3 clear, RSV1 only when allowed and
/// only on data frames, control frames final and short, shortest length encoding, masking
/// as expected (RFC 6455 §5.2, §5.5; RFC 7692 §6).
fn plausible_header(h: &FrameHeader, expect_masked: Option<bool>, rsv1_ok: bool) -> bool {
    !matches!(h.opcode, Opcode::Reserved(_))
        && !h.rsv2
        && !h.rsv3
        && (!h.rsv1 || (rsv1_ok && matches!(h.opcode, Opcode::Text | Opcode::Binary)))
        && (!h.opcode.is_control() || (h.fin && h.payload_len <= MAX_CONTROL_PAYLOAD))
        && h.minimal_length
        && h.payload_len < MAX_PLAUSIBLE_LEN
        && expect_masked.is_none_or(|m| m == h.masked)
}

/// Judges a piece of a text message: ASCII as it stands (masked without a copy), the rest
/// unmasked in small pieces.
#[inline(never)]
fn judge(u: &mut Utf8Stream, chunk: &[u8], key: Option<[u8; 4]>, pos: u64) {
    if masked_is_ascii(chunk, key.unwrap_or_default(), pos) && u.ascii(chunk.len()) {
        return;
    }
    judge_slow(u, chunk, key, pos);
}

#[inline(never)]
fn judge_slow(u: &mut Utf8Stream, chunk: &[u8], key: Option<[u8; 4]>, pos: u64) {
    unmasked_pieces(chunk, key, pos, &mut |plain| u.feed(plain));
}

/// Would a peer send this header? Plausible, and not one of the legal but pointless frames
/// that zeroed bytes spell: an empty non-final data frame (`00 00`), a Close with a 1-byte
/// payload. (An empty final continuation is real: python-websockets ends a fragmented
/// message with one.)
pub fn likely_header(h: &FrameHeader, expect_masked: Option<bool>, rsv1_ok: bool) -> bool {
    let empty_fragment = !h.opcode.is_control() && h.payload_len == 0 && !h.fin;
    plausible_header(h, expect_masked, rsv1_ok)
        && !empty_fragment
        && !(h.opcode == Opcode::Close && h.payload_len == 1)
}

/// Would a peer send this (unmasked) Close payload? Empty, or a code an endpoint may send
/// (RFC 6455 §7.4: registered or private range) with a UTF-8 reason.
pub fn likely_close(payload: &[u8]) -> bool {
    match parse_close_payload(payload) {
        ClosePayload::Empty => true,
        ClosePayload::OneByte(_) => false,
        ClosePayload::Status { code, reason } => {
            CloseCode(code).is_legal_on_wire() && std::str::from_utf8(reason).is_ok()
        }
    }
}

/// How many consecutive plausible frame headers start `bytes` (0 when the first is not):
/// known opcode, RSV2/RSV3 clear, RSV1 only when allowed and only on data frames, control
/// frames final and short, shortest length encoding, masking as expected. A frame that runs
/// past the end of `bytes` counts when its header is plausible.
pub fn plausible_frames(bytes: &[u8], expect_masked: Option<bool>, rsv1_ok: bool) -> usize {
    let mut count = 0;
    let mut rest = bytes;
    let mut expect = expect_masked;
    while !rest.is_empty() && count < 4 {
        let Ok((after, h)) = parse_frame_header(rest) else {
            return count;
        };
        if !plausible_header(&h, expect, rsv1_ok) {
            return count;
        }
        expect = Some(h.masked);
        count += 1;
        let Ok(len) = usize::try_from(h.payload_len) else {
            return count;
        };
        match after.get(len..) {
            Some(next) => rest = next,
            None => return count,
        }
    }
    count
}

/// Where a `FrameChain` stands in its direction's bytes.
#[derive(Debug)]
enum ChainState {
    /// No frame boundary known: the next segment's start is tried.
    Lost,
    /// At a frame boundary (header bytes may be gathering in `hdr`).
    Header,
    Payload {
        header: FrameHeader,
        remaining: u64,
        pos: u64,
    },
}

/// What one segment did to a `FrameChain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainStep {
    /// The chain is not synchronised after the segment: nothing learnt (a chain that
    /// broke here is lost too, with its evidence).
    Lost,
    /// A chain started at this segment's first byte and holds to its end.
    Started,
    /// The chain went on through this segment.
    Continued,
}

/// Evidence, for detection without a handshake, that one direction's bytes are WebSocket
/// frames: starting at a segment's first byte, every frame must follow the last exactly and
/// be one a peer sends (`likely_header`), fragmentation must be consistent (a continuation
/// only inside a message, a new message only after the last one ended), all frames carry the
/// same masking, uncompressed text must be UTF-8, a Close must carry an empty payload or a
/// code an endpoint may send with a UTF-8 reason, and nothing follows a Close. The first
/// violation drops the chain and its evidence; the next segment's start is tried afresh.
///
/// Bounded: it keeps at most a frame header, a control payload (125 bytes) and three bytes
/// of an unfinished UTF-8 character.
#[derive(Debug)]
pub struct FrameChain {
    state: ChainState,
    hdr: [u8; MAX_HEADER_LEN],
    hdr_len: usize,
    rsv1_ok: bool,
    masked: Option<bool>,
    /// A fragmented message is in progress; `None` until the first data frame (the chain
    /// may start inside a message).
    in_message: Option<bool>,
    /// The message in progress is uncompressed text, so its payload must be UTF-8.
    text: bool,
    /// The first bytes of a UTF-8 character that the next payload bytes finish.
    utf8_tail: Vec<u8>,
    close_seen: bool,
    close_buf: Vec<u8>,
    frames: u32,
    aligned: u32,
}

impl FrameChain {
    /// A chain not yet synchronised; `rsv1_ok` when compressed frames are possible.
    pub fn new(rsv1_ok: bool) -> FrameChain {
        FrameChain {
            state: ChainState::Lost,
            hdr: [0; MAX_HEADER_LEN],
            hdr_len: 0,
            rsv1_ok,
            masked: None,
            in_message: None,
            text: false,
            utf8_tail: Vec::new(),
            close_seen: false,
            close_buf: Vec::new(),
            frames: 0,
            aligned: 0,
        }
    }

    /// Whole frames that held together.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Segments of the chain that ended exactly where a frame ended.
    pub fn aligned(&self) -> u32 {
        self.aligned
    }

    /// Whether the chain's frames are masked (known after its first header).
    pub fn masked(&self) -> Option<bool> {
        self.masked
    }

    /// The chain follows the stream now.
    pub fn synced(&self) -> bool {
        !matches!(self.state, ChainState::Lost)
    }

    /// Drops the chain and its evidence.
    pub fn lose(&mut self) {
        *self = FrameChain::new(self.rsv1_ok);
    }

    /// The next in-order segment of the direction.
    pub fn segment(&mut self, bytes: &[u8]) -> ChainStep {
        let started = !self.synced();
        if started {
            if bytes.is_empty() {
                return ChainStep::Lost;
            }
            self.state = ChainState::Header;
        }
        if self.consume(bytes).is_none() {
            self.lose();
            return ChainStep::Lost;
        }
        if matches!(self.state, ChainState::Header) && self.hdr_len == 0 {
            self.aligned += 1;
        }
        if started {
            ChainStep::Started
        } else {
            ChainStep::Continued
        }
    }

    /// `len` bytes of the direction are missing: the chain survives only inside a binary
    /// or compressed payload.
    pub fn gap(&mut self, len: u64) {
        let inside = match &mut self.state {
            ChainState::Payload {
                header, remaining, ..
            } if len > 0 && len < *remaining && !header.opcode.is_control() && !self.text => {
                *remaining -= len;
                true
            }
            _ => false,
        };
        if !inside {
            self.lose();
        }
    }

    /// Follows `bytes`; None at the first thing a WebSocket peer would not send.
    fn consume(&mut self, mut bytes: &[u8]) -> Option<()> {
        while !bytes.is_empty() {
            match &mut self.state {
                ChainState::Lost => return None,
                ChainState::Header => {
                    let take = (MAX_HEADER_LEN - self.hdr_len).min(bytes.len());
                    self.hdr
                        .get_mut(self.hdr_len..self.hdr_len + take)?
                        .copy_from_slice(bytes.get(..take)?);
                    let have = self.hdr_len + take;
                    match parse_frame_header(self.hdr.get(..have)?) {
                        Ok((rest, header)) => {
                            let used = have - rest.len() - self.hdr_len;
                            self.hdr_len = 0;
                            bytes = bytes.get(used..)?;
                            self.start_frame(header)?;
                        }
                        Err(_) => {
                            self.hdr_len = have;
                            return Some(());
                        }
                    }
                }
                ChainState::Payload {
                    header,
                    remaining,
                    pos,
                } => {
                    let header = *header;
                    let n = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    let (chunk, rest) = bytes.split_at(n);
                    let at = *pos;
                    *remaining -= n as u64;
                    *pos += n as u64;
                    let done = *remaining == 0;
                    bytes = rest;
                    self.payload(&header, chunk, at)?;
                    if done {
                        self.end_frame(&header)?;
                    }
                }
            }
        }
        Some(())
    }

    /// A header at the chain's next frame boundary.
    fn start_frame(&mut self, h: FrameHeader) -> Option<()> {
        if self.close_seen || !likely_header(&h, self.masked, self.rsv1_ok) {
            return None;
        }
        match h.opcode {
            Opcode::Continuation => {
                if self.in_message == Some(false) {
                    return None;
                }
                self.in_message = Some(!h.fin);
            }
            Opcode::Text | Opcode::Binary => {
                if self.in_message == Some(true) {
                    return None;
                }
                self.in_message = Some(!h.fin);
                self.text = h.opcode == Opcode::Text && !h.rsv1;
                self.utf8_tail.clear();
            }
            _ => {}
        }
        self.masked = Some(h.masked);
        self.close_buf.clear();
        self.state = ChainState::Payload {
            header: h,
            remaining: h.payload_len,
            pos: 0,
        };
        if h.payload_len == 0 {
            self.end_frame(&h)?;
        }
        Some(())
    }

    /// Payload bytes `chunk` at `pos` in the frame: kept for a Close, checked for text.
    fn payload(&mut self, h: &FrameHeader, chunk: &[u8], pos: u64) -> Option<()> {
        let is_close = h.opcode == Opcode::Close;
        let check_text = self.text && !h.opcode.is_control();
        if !is_close && !check_text {
            return Some(());
        }
        let mut plain = chunk.to_vec();
        if let Some(key) = h.masking_key {
            unmask(&mut plain, key, pos);
        }
        if is_close {
            // A likely Close is at most 125 bytes.
            self.close_buf.extend_from_slice(&plain);
            return Some(());
        }
        let mut buf = std::mem::take(&mut self.utf8_tail);
        buf.extend_from_slice(&plain);
        match std::str::from_utf8(&buf) {
            Ok(_) => Some(()),
            Err(e) if e.error_len().is_none() => {
                self.utf8_tail = buf.get(e.valid_up_to()..)?.to_vec();
                Some(())
            }
            Err(_) => None,
        }
    }

    /// A frame's last byte: the Close judged, a text message's end checked.
    fn end_frame(&mut self, h: &FrameHeader) -> Option<()> {
        self.state = ChainState::Header;
        self.frames += 1;
        match h.opcode {
            Opcode::Close => {
                self.close_seen = true;
                likely_close(&self.close_buf).then_some(())
            }
            Opcode::Continuation | Opcode::Text | Opcode::Binary if h.fin => {
                let unfinished = self.text && !self.utf8_tail.is_empty();
                self.text = false;
                (!unfinished).then_some(())
            }
            _ => Some(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::reassembly::GapKind;

    #[derive(Debug, PartialEq)]
    enum Out {
        F(Opcode, u64, Option<Vec<u8>>, bool),
        Lost(u64),
    }

    fn collect(reader: &mut FrameReader, events: &[StreamEvent<'_>]) -> Vec<Out> {
        let mut out = Vec::new();
        for ev in events {
            reader.feed(ev, &mut |f| {
                out.push(match f {
                    FrameEvent::Header { .. }
                    | FrameEvent::Payload { .. }
                    | FrameEvent::PayloadGap => return,
                    FrameEvent::Frame {
                        header,
                        frame_no,
                        close_payload,
                        payload_incomplete,
                        ..
                    } => Out::F(
                        header.opcode,
                        frame_no,
                        close_payload.map(|p| p.to_vec()),
                        payload_incomplete,
                    ),
                    FrameEvent::LostSync { offset, .. } => Out::Lost(offset),
                })
            });
        }
        out
    }

    fn data(offset: u64, bytes: &[u8], frame_no: u64) -> StreamEvent<'_> {
        StreamEvent::Data {
            offset,
            bytes,
            frame_no,
            ts: Ts(0),
        }
    }

    /// Text "hi" (unmasked), then a masked Close 1000 "bye".
    fn two_frames() -> Vec<u8> {
        let mut v = vec![0x81, 0x02, b'h', b'i'];
        let key = [0x11, 0x22, 0x33, 0x44];
        let mut body = vec![0x03, 0xe8, b'b', b'y', b'e'];
        unmask(&mut body, key, 0);
        v.extend_from_slice(&[0x88, 0x85]);
        v.extend_from_slice(&key);
        v.extend_from_slice(&body);
        v
    }

    #[test]
    fn frames_split_at_every_byte() {
        let bytes = two_frames();
        for cut in 0..=bytes.len() {
            let mut r = FrameReader::new();
            let (a, b) = bytes.split_at(cut);
            let out = collect(&mut r, &[data(0, a, 1), data(cut as u64, b, 2)]);
            assert_eq!(out.len(), 2, "cut {cut}: {out:?}");
            let close_body = [0x03, 0xe8, b'b', b'y', b'e'].to_vec();
            assert_eq!(
                out[1],
                Out::F(
                    Opcode::Close,
                    if cut == bytes.len() { 1 } else { 2 },
                    Some(close_body),
                    false
                )
            );
        }
    }

    #[test]
    fn gap_inside_data_payload_keeps_sync() {
        let mut frame = vec![0x82, 126, 0x01, 0x00];
        frame.extend_from_slice(&[0u8; 256]);
        frame.extend_from_slice(&[0x88, 0x02, 0x03, 0xe9]);
        let mut r = FrameReader::new();
        let out = collect(
            &mut r,
            &[
                data(0, &frame[..10], 1),
                StreamEvent::Gap {
                    offset: 10,
                    len: 100,
                    kind: GapKind::Missing,
                    frame_no: 2,
                    ts: Ts(0),
                },
                data(110, &frame[110..], 3),
            ],
        );
        assert_eq!(
            out,
            vec![
                Out::F(Opcode::Binary, 3, None, false),
                Out::F(Opcode::Close, 3, Some(vec![0x03, 0xe9]), false)
            ]
        );
    }

    #[test]
    fn gap_over_boundary_loses_then_resyncs() {
        let mut r = FrameReader::new();
        r.expect_masked = Some(false);
        let out = collect(
            &mut r,
            &[
                data(0, &[0x81, 0x01, b'a'], 1),
                StreamEvent::Gap {
                    offset: 3,
                    len: 7,
                    kind: GapKind::Missing,
                    frame_no: 2,
                    ts: Ts(0),
                },
                data(10, &[0x7f, 0x7f], 3), // not a plausible header: skipped
                data(12, &[0x88, 0x02, 0x03, 0xe8], 4),
            ],
        );
        assert_eq!(
            out,
            vec![
                Out::F(Opcode::Text, 1, None, false),
                Out::Lost(3),
                // The implausible bytes are skipped; the Close after them is read.
                Out::F(Opcode::Close, 4, Some(vec![0x03, 0xe8]), false)
            ]
        );
    }

    #[test]
    fn oversized_close_is_kept_up_to_cap() {
        let mut frame = vec![0x88, 126, 0x01, 0x00, 0x03, 0xe8];
        frame.extend_from_slice(&[b'C'; 254]);
        let mut r = FrameReader::new();
        let out = collect(&mut r, &[data(0, &frame, 1)]);
        match &out[0] {
            Out::F(Opcode::Close, 1, Some(p), false) => assert_eq!(p.len(), 256),
            other => panic!("{other:?}"),
        }
    }

    /// Feeds `segments` to a fresh chain: the step of each.
    fn chain_steps(segments: &[&[u8]]) -> (Vec<ChainStep>, FrameChain) {
        let mut c = FrameChain::new(true);
        let steps = segments.iter().map(|s| c.segment(s)).collect();
        (steps, c)
    }

    #[test]
    fn chain_follows_frames_across_segments() {
        let key = Some([1, 2, 3, 4]);
        let mut bytes = Vec::new();
        wsclose_testgen::ws::encode_frame(&mut bytes, true, 1, key, b"hi");
        wsclose_testgen::ws::encode_frame(&mut bytes, true, 8, key, &[0x03, 0xe8, b'b', b'y']);
        // Text "hi" ends with the first segment; the Close is cut in two.
        let (steps, c) = chain_steps(&[&bytes[..8], &bytes[8..13], &bytes[13..]]);
        assert_eq!(
            steps,
            vec![
                ChainStep::Started,
                ChainStep::Continued,
                ChainStep::Continued
            ]
        );
        assert_eq!((c.frames(), c.aligned(), c.masked()), (2, 2, Some(true)));
        // One masking per side: an unmasked text then a masked Close break the chain.
        let mixed = two_frames();
        let (steps, c) = chain_steps(&[&mixed[..4], &mixed[4..]]);
        assert_eq!(steps, vec![ChainStep::Started, ChainStep::Lost]);
        assert_eq!(c.frames(), 0);
    }

    #[test]
    fn chain_rejects_what_peers_do_not_send() {
        let cases: [(&str, &[&[u8]]); 8] = [
            ("Close 30840", &[&[0x88, 0x02, b'x', b'x']]),
            ("Close 1005", &[&[0x88, 0x02, 0x03, 0xed]]),
            ("Close reason not UTF-8", &[&[0x88, 0x03, 0x03, 0xe8, 0xff]]),
            ("1-byte Close", &[&[0x88, 0x01, 0x03]]),
            ("text not UTF-8", &[&[0x81, 0x02, 0xc3, 0x28]]),
            ("empty non-final fragment", &[&[0x01, 0x00, 0x80, 0x00]]),
            (
                "new message inside one",
                &[&[0x01, 0x01, b'a', 0x81, 0x01, b'b']],
            ),
            ("frame after Close", &[&[0x88, 0x00], &[0x81, 0x01, b'a']]),
        ];
        for (what, segments) in cases {
            let (steps, c) = chain_steps(segments);
            assert_eq!(steps.last(), Some(&ChainStep::Lost), "{what}");
            assert_eq!(c.frames(), 0, "{what}");
        }
    }

    #[test]
    fn chain_accepts_compressed_and_fragmented_text() {
        // A compressed text frame (RSV1, payload not UTF-8), then a text message in two
        // fragments whose 2-byte character is split between them, then Close 1000.
        let segments: [&[u8]; 3] = [
            &[0xc1, 0x03, 0xf2, 0x48, 0x05],
            &[0x01, 0x02, b'a', 0xc3, 0x80, 0x01, 0xa9],
            &[0x88, 0x02, 0x03, 0xe8],
        ];
        let (steps, c) = chain_steps(&segments);
        assert!(steps.iter().all(|s| *s != ChainStep::Lost), "{steps:?}");
        assert_eq!((c.frames(), c.aligned()), (4, 3));
        // A message that ends inside a character is not UTF-8.
        let (steps, _) = chain_steps(&[&[0x81, 0x02, b'a', 0xc3]]);
        assert_eq!(steps, vec![ChainStep::Lost]);
    }

    #[test]
    fn chain_prefixes_never_panic() {
        let bytes = two_frames();
        for cut in 0..bytes.len() {
            let _ = chain_steps(&[&bytes[..cut], &bytes[cut..]]);
            let _ = chain_steps(&[&bytes[cut..]]);
        }
    }

    #[test]
    fn heuristic_reader_drops_implausible_closes() {
        let mut r = FrameReader::new();
        r.heuristic = true;
        r.expect_masked = Some(false);
        let out = collect(
            &mut r,
            &[
                data(0, &[0x88, 0x02, b'x', b'x'], 1), // Close 30840: not read
                data(4, &[0x81, 0x01, b'a'], 2),       // resync here
                data(7, &[0x88, 0x02, 0x03, 0xe9], 3), // Close 1001
            ],
        );
        assert_eq!(
            out,
            vec![
                Out::Lost(0),
                Out::F(Opcode::Text, 2, None, false),
                Out::F(Opcode::Close, 3, Some(vec![0x03, 0xe9]), false)
            ]
        );
        // Without the flag the same bytes are a (reportable) Close frame.
        let mut r = FrameReader::new();
        let out = collect(&mut r, &[data(0, &[0x88, 0x02, b'x', b'x'], 1)]);
        assert_eq!(
            out,
            vec![Out::F(Opcode::Close, 1, Some(b"xx".to_vec()), false)]
        );
    }

    #[test]
    fn plausibility() {
        assert_eq!(plausible_frames(&two_frames()[..4], Some(false), true), 1);
        assert_eq!(
            plausible_frames(&[0x16, 0x03, 0x01, 0x02, 0x00], None, true),
            0,
            "TLS handshake record"
        );
        assert_eq!(
            plausible_frames(&[0x17, 0x03, 0x03], None, true),
            0,
            "TLS application data"
        );
        assert_eq!(plausible_frames(b"GET / HTTP/1.1\r\n", None, true), 0);
        assert_eq!(
            plausible_frames(&[0x89, 0xfe, 0, 0], None, true),
            0,
            "ping over 125 bytes"
        );
    }
}

#[cfg(test)]
mod split_invariance {
    //! However a valid frame sequence is cut into stream chunks, the reader reports the same
    //! frames with the same Close payloads.
    use super::*;
    use proptest::prelude::*;
    use wsclose_testgen::ws::encode_frame;

    /// Masking key of the masked frames.
    const MASK_KEY: [u8; 4] = [9, 8, 7, 6];

    fn frames_of(chunks: &[&[u8]]) -> Vec<(Opcode, u64, Option<Vec<u8>>)> {
        let mut r = FrameReader::new();
        let mut out = Vec::new();
        let mut offset = 0u64;
        for (i, c) in chunks.iter().enumerate() {
            let ev = StreamEvent::Data {
                offset,
                bytes: c,
                frame_no: i as u64 + 1,
                ts: Ts(0),
            };
            r.feed(&ev, &mut |f| {
                if let FrameEvent::Frame {
                    header,
                    close_payload,
                    ..
                } = f
                {
                    out.push((
                        header.opcode,
                        header.payload_len,
                        close_payload.map(<[u8]>::to_vec),
                    ));
                }
            });
            offset += c.len() as u64;
        }
        out
    }

    proptest! {
        #[test]
        fn same_frames_whatever_the_cuts(
            frames in proptest::collection::vec(
                (prop_oneof![Just(1u8), Just(2), Just(8), Just(9), Just(10)], any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)),
                1..8),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let mut bytes = Vec::new();
            for (op, masked, payload) in &frames {
                encode_frame(&mut bytes, true, *op, masked.then_some(MASK_KEY), payload);
            }
            let whole = frames_of(&[&bytes]);
            prop_assert_eq!(whole.len(), frames.len());
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            points.push(0);
            points.push(bytes.len());
            points.sort_unstable();
            let chunks: Vec<&[u8]> = points.windows(2).map(|w| &bytes[w[0]..w[1]]).collect();
            prop_assert_eq!(frames_of(&chunks), whole.clone());
            for ((op, _, payload), (got_op, len, close)) in frames.iter().zip(&whole) {
                prop_assert_eq!(Opcode::from_u8(*op), *got_op);
                prop_assert_eq!(payload.len() as u64, *len);
                if *op == 8 {
                    prop_assert_eq!(close.as_deref(), Some(payload.as_slice()));
                }
            }
        }
    }
}
