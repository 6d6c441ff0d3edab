//! Incremental WebSocket frame reader for one direction of a connection.
//!
//! Takes the reassembled stream (`StreamEvent`s: in-order data and gaps) and yields one
//! `FrameEvent` per frame: the header, where it ended, and for Close frames the unmasked
//! payload (bounded by `MAX_CLOSE_CAPTURE`). Data payloads are skipped by length, never
//! stored, so a gap inside a data payload costs nothing. A gap that hides a frame boundary
//! loses sync; the reader then looks for a plausible frame header at the start of each later
//! segment and resumes there. Never panics on input.

use crate::capture::Ts;
use crate::tcp::reassembly::StreamEvent;
use crate::ws::frame::{
    parse_frame_header, unmask, FrameHeader, Opcode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};

/// Most bytes of a Close payload kept for the report. Legal bodies have at most 125; an
/// oversized one is kept up to this much so its reason can still be shown.
pub const MAX_CLOSE_CAPTURE: usize = 8 * 1024;
/// Largest frame a resynchronising reader believes in: a header claiming more is taken as a
/// misread rather than a frame.
const MAX_PLAUSIBLE_LEN: u64 = 1 << 31;

/// A complete frame, or a change of sync.
#[derive(Debug)]
pub enum FrameEvent<'a> {
    /// A frame header was read (its payload may follow much later, or never).
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
    },
    /// A gap hid a frame boundary: frames are not known from `offset` on, until a
    /// plausible frame header starts a later segment.
    LostSync { offset: u64, frame_no: u64 },
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

    /// Feeds one stream event.
    pub fn feed<F>(&mut self, ev: &StreamEvent<'_>, sink: &mut F)
    where
        F: FnMut(FrameEvent<'_>),
    {
        match *ev {
            StreamEvent::Data {
                bytes,
                frame_no,
                ts,
                ..
            } => self.data(bytes, frame_no, ts, sink),
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
                }
                if *remaining == 0 {
                    self.finish(frame_no, ts, sink);
                }
            }
            State::Lost => {}
            _ => {
                self.hdr_len = 0;
                self.state = State::Lost;
                sink(FrameEvent::LostSync { offset, frame_no });
            }
        }
    }

    fn data<F>(&mut self, mut bytes: &[u8], frame_no: u64, ts: Ts, sink: &mut F)
    where
        F: FnMut(FrameEvent<'_>),
    {
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
                    }
                    *remaining -= n as u64;
                    *pos += n as u64;
                    bytes = rest;
                    if *remaining == 0 {
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
        sink(FrameEvent::Header {
            header,
            frame_no: first_frame_no,
        });
        self.close_buf.clear();
        if self.close_buf.capacity() > 256 {
            // An oversized Close came before: do not keep its buffer for the connection's life.
            self.close_buf = Vec::new();
        }
        self.close_incomplete = false;
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
            });
        }
    }

    /// Could `bytes` start with a frame header? Used to resynchronise and to recognise
    /// WebSocket traffic whose handshake is not in the capture.
    pub fn plausible_at(&self, bytes: &[u8]) -> bool {
        plausible_frames(bytes, self.expect_masked, self.rsv1_ok) > 0
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
        let ok = !matches!(h.opcode, Opcode::Reserved(_))
            && !h.rsv2
            && !h.rsv3
            && (!h.rsv1 || (rsv1_ok && matches!(h.opcode, Opcode::Text | Opcode::Binary)))
            && (!h.opcode.is_control() || (h.fin && h.payload_len <= MAX_CONTROL_PAYLOAD))
            && h.minimal_length
            && h.payload_len < MAX_PLAUSIBLE_LEN
            && expect.is_none_or(|m| m == h.masked);
        if !ok {
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
                    FrameEvent::Header { .. } => return,
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
