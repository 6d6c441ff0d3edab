//! The WebSocket frame rules (RFC 6455 §5, §7.4; RFC 7692 for RSV1): each side's frame
//! reader, the rules a header alone can break (checked as soon as it is read), message
//! fragmentation, data after Close, and each Close frame's code, reason and length.

use crate::capture::Ts;
use crate::close::code::CloseCode;
use crate::conn::{App, Mode, RawClose, MAX_CLOSES_LISTED};
use crate::report::{Detection, TracedFrame};
use crate::rules::Rule;
use crate::tcp::reassembly::StreamEvent;
use crate::tcp::{Direction, Side};
use crate::ws::close::{parse_close_payload, ClosePayload};
use crate::ws::frame::{FrameHeader, Opcode, MAX_CONTROL_PAYLOAD};
use crate::ws::reader::{FrameEvent, FrameReader, SyncLoss, TextVerdict};

/// The code only clients may send (RFC 6455 §7.4.1).
const MANDATORY_EXTENSION: u16 = 1010;

/// Whether the verdict on a close with `code` reads the messages before it (their
/// inflated sizes, their UTF-8): protocol errors, invalid data, policy, too big, internal
/// error.
fn reads_messages(code: u16) -> bool {
    matches!(code, 1002 | 1007 | 1008 | 1009 | 1011)
}

/// What the reader learnt of a data frame's payload as it passed.
pub(super) struct FrameSeen {
    /// The UTF-8 verdict, at the end of a plain text message.
    pub text: TextVerdict,
    /// Payload bytes that fell in capture gaps.
    pub missing: u64,
}

/// A Close frame as the reader delivered it.
struct CloseSeen<'a> {
    payload_len: u64,
    payload: &'a [u8],
    /// Part of the payload is missing from the capture (or beyond what is kept).
    incomplete: bool,
    frame: u64,
    ts: Ts,
}

impl App {
    /// RSV1 may be set: permessage-deflate was negotiated, or the handshake was not seen.
    fn rsv1_allowed(&self) -> bool {
        self.deflate || self.detection != Some(Detection::Handshake)
    }

    /// Starts reading frames on `side`; `lost` when the stream is joined mid-way (the
    /// reader first looks for a plausible frame boundary).
    pub(super) fn start_frames(&mut self, side: Side, lost: bool) {
        let rsv1_ok = self.rsv1_allowed();
        let masked = side == self.client;
        let state = &mut self.sides[side];
        if matches!(state.mode, Mode::Frames(_)) {
            return;
        }
        let mut reader = if lost {
            FrameReader::lost()
        } else {
            FrameReader::new()
        };
        reader.expect_masked = Some(masked);
        reader.rsv1_ok = rsv1_ok;
        reader.heuristic = self.detection == Some(Detection::Heuristic);
        // Payload pieces go to the history only for what it inflates or shows; the reader
        // itself judges text as UTF-8.
        reader.payloads = self.deflate_params.is_some() || self.payloads;
        reader.judge_text = true;
        state.mode = Mode::Frames(Some(Box::new(reader)));
        self.start_history(side, lost);
    }

    /// One stream event to `side`'s frame reader.
    pub(super) fn feed_frames(&mut self, side: Side, ev: &StreamEvent<'_>) {
        // The reader leaves its slot while it runs, so that its frames can update the rest
        // of the connection; moving the box costs a pointer.
        let Mode::Frames(slot) = &mut self.sides[side].mode else {
            return;
        };
        let Some(mut reader) = slot.take() else {
            return;
        };
        reader.feed(ev, &mut |fe| self.on_frame(side, fe));
        if let Mode::Frames(slot) = &mut self.sides[side].mode {
            *slot = Some(reader);
        }
    }

    fn on_frame(&mut self, side: Side, fe: FrameEvent<'_>) {
        match fe {
            FrameEvent::Frame {
                header,
                frame_no,
                ts,
                close_payload,
                payload_incomplete,
                text,
                missing,
            } => {
                let close = close_payload.map(|payload| CloseSeen {
                    payload_len: header.payload_len,
                    payload,
                    incomplete: payload_incomplete,
                    frame: frame_no,
                    ts,
                });
                let seen = FrameSeen { text, missing };
                self.on_whole_frame(side, &header, frame_no, ts, close, seen);
            }
            FrameEvent::Payload {
                chunk,
                pos,
                masking_key,
            } => {
                if let Some(h) = self.sides[side].history.as_mut() {
                    h.payload(chunk, pos, masking_key, &self.inflate_budget);
                }
            }
            FrameEvent::PayloadGap => {
                if let Some(h) = self.sides[side].history.as_mut() {
                    h.payload_gap();
                }
            }
            FrameEvent::LostSync {
                offset,
                frame_no,
                cause,
            } => {
                if let Some(h) = self.sides[side].history.as_mut() {
                    h.lost();
                }
                self.note(Rule::LostFrameSync, Some(side), frame_no, || match cause {
                    SyncLoss::Gap => format!("a capture gap at stream offset {offset} hid a frame boundary; frames were skipped until a plausible header was found again"),
                    SyncLoss::NotAFrame => format!("the bytes at stream offset {offset} are not a frame a WebSocket peer sends (the connection was recognised without its handshake, so they were probably misread); frames were skipped until a plausible header was found again"),
                });
            }
            FrameEvent::Header { header, frame_no } => {
                if let Some(h) = self.sides[side].history.as_mut() {
                    if h.wants_headers() {
                        h.header(&header, frame_no);
                    }
                }
                self.check_header(side, &header, frame_no);
            }
        }
    }

    /// A frame whose payload has ended: message fragmentation, data after Close, Close.
    fn on_whole_frame(
        &mut self,
        side: Side,
        header: &FrameHeader,
        frame_no: u64,
        ts: Ts,
        close: Option<CloseSeen<'_>>,
        seen: FrameSeen,
    ) {
        let sender = self.dir(side).sender();
        let op = header.opcode;
        let at = Some(side);
        let state = &mut self.sides[side];
        state.frames += 1;
        state.trace.push(TracedFrame {
            frame: frame_no,
            ts,
            opcode: op,
            len: header.payload_len,
        });
        let closed = state.close.is_some();
        match op {
            Opcode::Continuation | Opcode::Text | Opcode::Binary => {
                let in_message = state.in_message;
                state.last_data = Some((frame_no, ts));
                if header.fin {
                    state.messages += 1;
                }
                state.in_message = !header.fin;
                if closed {
                    state.data_after_close += 1;
                    self.note(Rule::DataAfterClose, at, frame_no, || {
                        format!("{sender} sent a data frame after its own Close (RFC 6455 §5.5.1)")
                    });
                }
                self.message_frame_end(side, header, frame_no, ts, seen);
                if op == Opcode::Continuation && !in_message {
                    self.note(Rule::ContinuationWithoutStart, at, frame_no, || {
                        format!("{sender} sent a continuation frame with no message in progress (RFC 6455 §5.4)")
                    });
                } else if op != Opcode::Continuation && in_message {
                    self.note(Rule::NewMessageInsideFragmented, at, frame_no, || {
                        format!("{sender} started a new {op} message before finishing a fragmented one (RFC 6455 §5.4)")
                    });
                }
            }
            Opcode::Close => {
                if closed {
                    self.note(Rule::SecondClose, at, frame_no, || {
                        format!("{sender} sent a second Close frame (RFC 6455 §5.5.1 allows one)")
                    });
                }
                let close = close.unwrap_or(CloseSeen {
                    payload_len: header.payload_len,
                    payload: &[],
                    incomplete: false,
                    frame: frame_no,
                    ts,
                });
                self.on_close(side, &close);
            }
            Opcode::Ping => {
                if let Some(h) = state.history.as_mut() {
                    h.ping(ts);
                }
            }
            Opcode::Pong => {
                if let Some(h) = state.history.as_mut() {
                    h.pong(ts);
                }
            }
            _ => {}
        }
    }

    /// The rules a frame header alone can break (RFC 6455 §5.1-§5.5), checked as soon as the
    /// header is read: a frame whose payload never arrives (a huge or bogus length) is still
    /// judged.
    fn check_header(&mut self, side: Side, header: &FrameHeader, frame_no: u64) {
        let dir = self.dir(side);
        let sender = dir.sender();
        let op = header.opcode;
        let at = Some(side);
        if let Opcode::Reserved(v) = op {
            self.note(Rule::ReservedOpcode, at, frame_no, || {
                format!("{sender} sent reserved opcode 0x{v:x} (RFC 6455 §5.2)")
            });
        }
        let rsv1_allowed = self.rsv1_allowed() && matches!(op, Opcode::Text | Opcode::Binary);
        if (header.rsv1 && !rsv1_allowed) || header.rsv2 || header.rsv3 {
            self.note(Rule::ReservedBitsSet, at, frame_no, || {
                format!("{sender} set RSV bits (rsv1={} rsv2={} rsv3={}) on a {op} frame without an extension that defines them (RFC 6455 §5.2, RFC 7692 §6)", u8::from(header.rsv1), u8::from(header.rsv2), u8::from(header.rsv3))
            });
        }
        if op.is_control() {
            if header.payload_len > MAX_CONTROL_PAYLOAD {
                let n = header.payload_len;
                self.note(Rule::ControlFrameTooLong, at, frame_no, || {
                    format!("{sender} sent a {op} frame with a {n}-byte payload; control frames carry at most 125 (RFC 6455 §5.5)")
                });
            }
            if !header.fin {
                self.note(Rule::FragmentedControlFrame, at, frame_no, || {
                    format!("{sender} sent a fragmented {op} frame; control frames must not be fragmented (RFC 6455 §5.5)")
                });
            }
        }
        match (dir, header.masked) {
            (Direction::ClientToServer, false) => {
                self.note(Rule::UnmaskedClientFrame, at, frame_no, || {
                    "client sent an unmasked frame; clients must mask every frame (RFC 6455 §5.1)"
                        .to_string()
                })
            }
            (Direction::ServerToClient, true) => {
                self.note(Rule::MaskedServerFrame, at, frame_no, || {
                    "server sent a masked frame; servers must not mask (RFC 6455 §5.1)".to_string()
                })
            }
            _ => {}
        }
        if !header.minimal_length {
            let n = header.payload_len;
            self.note(Rule::NonMinimalLength, at, frame_no, || {
                format!(
                    "{sender} encoded a length of {n} in more bytes than needed (RFC 6455 §5.2)"
                )
            });
        }
        if header.length_msb_set {
            self.note(Rule::LengthMsbSet, at, frame_no, || {
                format!("{sender} sent a 64-bit length with its most significant bit set (RFC 6455 §5.2)")
            });
        }
    }

    /// A Close frame: its code and reason judged (RFC 6455 §5.5.1, §7.4), then listed.
    #[cold]
    #[inline(never)]
    fn on_close(&mut self, side: Side, close: &CloseSeen<'_>) {
        let dir = self.dir(side);
        let sender = dir.sender();
        let at = Some(side);
        let frame = close.frame;
        let mut problems = Vec::new();
        let (code, reason) = match parse_close_payload(close.payload) {
            ClosePayload::Empty => (None, None),
            ClosePayload::OneByte(_) => {
                problems.push(
                    "1-byte Close payload: the status code needs 2 bytes (RFC 6455 §5.5.1)"
                        .to_string(),
                );
                self.note(Rule::OneByteClosePayload, at, frame, || {
                    format!("{sender} sent a Close frame with a 1-byte payload (RFC 6455 §5.5.1)")
                });
                (None, None)
            }
            ClosePayload::Status { code, reason } => {
                let cc = CloseCode(code);
                if let Some(why) = cc.illegal_reason() {
                    problems.push(why.to_string());
                    self.note(Rule::IllegalCloseCode, at, frame, || {
                        format!("{sender} sent close code {cc}: {why}")
                    });
                }
                if code == MANDATORY_EXTENSION && dir == Direction::ServerToClient {
                    self.note(Rule::ServerSentMandatoryExtension, at, frame, || {
                        "server sent 1010 (Mandatory Extension), a code only clients send (RFC 6455 §7.4.1): legal on the wire, but the server is misusing it".to_string()
                    });
                }
                if std::str::from_utf8(reason).is_err() && !close.incomplete {
                    problems.push("reason is not valid UTF-8 (RFC 6455 §5.5.1)".to_string());
                    self.note(Rule::InvalidUtf8Reason, at, frame, || {
                        format!("{sender} sent a Close reason that is not valid UTF-8 (RFC 6455 §5.5.1)")
                    });
                }
                (Some(code), (!reason.is_empty()).then(|| reason.to_vec()))
            }
        };
        let payload_len = close.payload_len;
        if payload_len > MAX_CONTROL_PAYLOAD {
            problems.push(format!("{payload_len}-byte payload: control frames carry at most 125 bytes, so a reason has at most 123 (RFC 6455 §5.5)"));
        }
        if close.incomplete {
            self.note(Rule::CloseIncomplete, at, frame, || {
                format!("part of {sender}'s Close payload is missing from the capture (or longer than wsclose keeps); its reason may be cut")
            });
        }
        if self.closes.len() >= MAX_CLOSES_LISTED {
            self.closes_not_listed += 1;
            return;
        }
        // A Close that answers the peer's has its cause there.
        let evidence = if self.sides[side.other()].close.is_none() {
            // Compressed messages are inflated only for the closes whose verdict reads
            // their sizes or content: inflating every message costs more than the rest of
            // the analysis of a compressed connection.
            if code.is_some_and(reads_messages) {
                self.resolve_histories();
            }
            Some(Box::new(self.evidence_at_close(side, close.ts)))
        } else {
            None
        };
        let state = &mut self.sides[side];
        if state.close.is_none() {
            state.close = Some(self.closes.len());
        }
        self.closes.push(RawClose {
            evidence,
            side,
            frame,
            ts: close.ts,
            code,
            reason,
            payload_len,
            // Every problem found makes the close illegal.
            illegal: !problems.is_empty(),
            problems,
        });
    }
}
