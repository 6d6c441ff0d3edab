//! What one side of a WebSocket connection sent, kept for the evidence before a close: its
//! last messages (type, wire and inflated size, UTF-8 validity, first bytes when payloads
//! are shown), the times of its recent messages (for counts and bursts), its pings and
//! pongs, and the first message that was not valid UTF-8 or did not inflate.
//!
//! Bounded: `RECENT` messages and `TIMES` message times per side, `HEAD` bytes per message.
//! Plain payloads are looked at once, in the pieces the frame reader passes, and never
//! stored; a text message is judged as UTF-8 only as far as it is seen whole.
//!
//! Compressed messages (permessage-deflate, when the handshake gave its parameters) are
//! inflated only when needed: a small one keeps its compressed bytes (up to `KEEP`) while it
//! is among the recent messages, and `resolve` inflates those, in order, when a Close asks
//! for the evidence; a larger one is inflated as it arrives. One inflater follows the side's
//! messages in order: when some were never inflated (no Close asked while they were recent),
//! it starts again from a window of zeros (`Inflater::prime`), so sizes stay exact while the
//! content, which may refer back to the unseen bytes, is no longer judged.

use std::collections::VecDeque;

use crate::capture::Ts;
use crate::ws::frame::{unmask, FrameHeader, Opcode};
use crate::ws::inflate::{InflateBudget, Inflater, Stop, Utf8Stream};

/// Completed messages kept per side.
pub const RECENT: usize = 8;
/// Message completion times kept per side: counts over the last ten seconds are exact up
/// to this many.
pub const TIMES: usize = 1024;
/// First bytes kept of each message, when payloads are shown.
pub const HEAD: usize = 64;
/// Ping times kept per side.
const PINGS: usize = 32;
/// Reaction times kept per side.
const REACTIONS: usize = 16;
/// Bytes unmasked at once.
const PIECE: usize = 1024;
/// Compressed bytes a message keeps for a later inflation; a larger message is inflated as
/// it arrives.
pub const KEEP: usize = 16 * 1024;

/// How big a message became once inflated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inflated {
    /// Not compressed: the wire size is the size.
    No,
    /// Inflated whole to this many bytes.
    Size(u64),
    /// Inflation stopped (the cap, the budget, a gap, or invalid data) after this many.
    AtLeast(u64),
    /// Compressed, but not inflated (the extension's parameters are unknown, the message was
    /// cut, or it was not needed).
    Unknown,
}

/// One message as the side sent it.
#[derive(Clone, Debug)]
pub struct Message {
    /// Packet that completed it (while in progress: that started it), and when.
    pub frame: u64,
    pub ts: Ts,
    pub text: bool,
    pub frames: u32,
    /// Payload bytes on the wire (declared by its frames' headers).
    pub wire: u64,
    /// Of those, bytes seen (fewer when the message is still in progress or cut by a gap).
    pub received: u64,
    pub compressed: bool,
    pub inflated: Inflated,
    /// Offset of the first byte that is not UTF-8 (text messages seen whole).
    pub invalid_utf8_at: Option<u64>,
    /// The text was judged as UTF-8 (whole, no gap, inflated when compressed).
    pub utf8_checked: bool,
    /// Part of the payload is missing from the capture.
    pub gap: bool,
    /// Compressed: its place among the side's compressed messages (from 1).
    seq: u64,
    /// What few messages have: kept apart so that moving a message stays cheap.
    extra: Option<Box<Extra>>,
}

/// A message's rarer parts.
#[derive(Clone, Debug, Default)]
struct Extra {
    /// Why inflation failed, when the compressed bytes are not valid DEFLATE.
    error: Option<String>,
    /// First bytes (unmasked, inflated), kept only when payloads are shown.
    head: Vec<u8>,
    /// Compressed bytes waiting for `resolve`.
    z: Option<Vec<u8>>,
}

impl Message {
    /// Why inflation failed, when the compressed bytes are not valid DEFLATE.
    pub fn inflate_error(&self) -> Option<&str> {
        self.extra.as_ref().and_then(|e| e.error.as_deref())
    }

    /// First bytes (unmasked, inflated), kept only when payloads are shown.
    pub fn head(&self) -> &[u8] {
        self.extra.as_ref().map_or(&[], |e| e.head.as_slice())
    }

    /// Its place among the side's compressed messages (0 when not compressed).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    fn set_error(&mut self, e: String) {
        self.extra_mut().error = Some(e);
    }

    fn take_z(&mut self) -> Option<Vec<u8>> {
        self.extra.as_mut().and_then(|e| e.z.take())
    }

    fn z_mut(&mut self) -> Option<&mut Vec<u8>> {
        self.extra.as_mut().and_then(|e| e.z.as_mut())
    }
}

/// A message being received.
struct Building {
    msg: Message,
    utf8: Option<Utf8Stream>,
    /// Inflated so far, when it is inflated as it arrives.
    inflated: Option<u64>,
    stop: Option<Stop>,
}

/// The side's inflater, following its compressed messages in order.
struct Resolver {
    inf: Inflater,
    /// The `seq` of the next compressed message it expects.
    next: u64,
    /// Every compressed message before `next` went through it: content is judged.
    exact: bool,
}

/// One side's history.
pub struct History {
    pub recent: VecDeque<Message>,
    times: VecDeque<Ts>,
    /// Every message completed.
    pub messages: u64,
    current: Option<Building>,
    /// The handshake accepted permessage-deflate: compressed messages can be inflated.
    deflate: bool,
    /// The side's inflater, made when a message is first inflated.
    resolver: Option<Box<Resolver>>,
    /// Compressed messages started.
    compressed: u64,
    /// A compressed message was lost (a gap, lost frame boundaries): the context is not
    /// known from there on.
    context_lost: bool,
    no_context_takeover: bool,
    /// A buffer of a message that left the recent ones, for the next to keep its bytes in.
    spare: Vec<u8>,
    /// Where masked payload is unmasked.
    scratch: Vec<u8>,
    keep_head: bool,
    pub pings: u64,
    ping_times: VecDeque<Ts>,
    pub pongs: u64,
    pub last_pong: Option<Ts>,
    /// The first message that was not valid UTF-8 or did not inflate.
    pub first_invalid: Option<Message>,
    /// The first message that stopped inflating at the cap or the budget.
    pub first_capped: Option<Message>,
    /// Time from the other side's message to this side's next one, in nanoseconds.
    reactions: VecDeque<i64>,
    /// The `seq` of the messages the latest `resolve` inflated.
    newly_resolved: Vec<u64>,
    /// This side's latest frame (any), for the reaction times.
    pub last_sent: Option<Ts>,
}

impl History {
    /// `deflate`: the handshake accepted permessage-deflate, and this side's sender resets
    /// its context after each message (`Some(true)`) or not.
    pub fn new(deflate: Option<bool>, keep_head: bool) -> History {
        History {
            recent: VecDeque::new(),
            times: VecDeque::new(),
            messages: 0,
            current: None,
            deflate: deflate.is_some(),
            resolver: None,
            compressed: 0,
            context_lost: false,
            no_context_takeover: deflate.unwrap_or(false),
            spare: Vec::new(),
            scratch: Vec::new(),
            keep_head,
            pings: 0,
            ping_times: VecDeque::new(),
            pongs: 0,
            last_pong: None,
            first_invalid: None,
            first_capped: None,
            reactions: VecDeque::new(),
            newly_resolved: Vec::new(),
            last_sent: None,
        }
    }

    /// A frame header was read (its first byte in packet `frame`): a new message starts,
    /// or goes on.
    pub fn header(&mut self, header: &FrameHeader, frame: u64) {
        match header.opcode {
            Opcode::Text | Opcode::Binary => {
                // A message left unfinished (a new one started inside it) is dropped.
                if self.current.take().is_some_and(|b| b.msg.compressed) {
                    self.context_lost = true;
                }
                let compressed = header.rsv1;
                let text = header.opcode == Opcode::Text;
                let seq = if compressed {
                    self.compressed += 1;
                    self.compressed
                } else {
                    0
                };
                let keep = compressed && self.deflate;
                self.current = Some(Building {
                    msg: Message {
                        frame,
                        ts: Ts(0),
                        text,
                        frames: 1,
                        wire: header.payload_len,
                        received: 0,
                        compressed,
                        inflated: if compressed {
                            Inflated::Unknown
                        } else {
                            Inflated::No
                        },
                        invalid_utf8_at: None,
                        utf8_checked: false,
                        gap: false,
                        seq,
                        extra: keep.then(|| {
                            Box::new(Extra {
                                z: Some(std::mem::take(&mut self.spare)),
                                ..Extra::default()
                            })
                        }),
                    },
                    utf8: (text && !compressed).then(Utf8Stream::default),
                    inflated: None,
                    stop: None,
                });
            }
            Opcode::Continuation => {
                if let Some(b) = self.current.as_mut() {
                    b.msg.frames = b.msg.frames.saturating_add(1);
                    b.msg.wire = b.msg.wire.saturating_add(header.payload_len);
                }
            }
            _ => {}
        }
    }

    /// A piece of the current message's payload, masked as on the wire.
    pub fn payload(
        &mut self,
        chunk: &[u8],
        pos: u64,
        key: Option<[u8; 4]>,
        budget: &InflateBudget,
    ) {
        let Some(b) = self.current.as_mut() else {
            return;
        };
        b.msg.received = b.msg.received.saturating_add(chunk.len() as u64);
        let wanted = if b.msg.compressed {
            b.msg.z_mut().is_some() || b.inflated.is_some()
        } else {
            b.utf8.is_some() || (self.keep_head && b.msg.head().len() < HEAD)
        };
        if !wanted {
            return;
        }
        let Some(k) = key else {
            self.take(chunk, budget);
            return;
        };
        // Unmasked in a buffer the side keeps (zeroing a fresh one each time costs more
        // than the unmasking).
        let mut buf = std::mem::take(&mut self.scratch);
        buf.resize(PIECE, 0);
        let mut at = pos;
        for piece in chunk.chunks(PIECE) {
            let Some(plain) = buf.get_mut(..piece.len()) else {
                break;
            };
            plain.copy_from_slice(piece);
            unmask(plain, k, at);
            at += piece.len() as u64;
            self.take(plain, budget);
        }
        self.scratch = buf;
    }

    /// Unmasked payload bytes of the current message.
    fn take(&mut self, plain: &[u8], budget: &InflateBudget) {
        let keep_head = self.keep_head;
        let Some(b) = self.current.as_mut() else {
            return;
        };
        if !b.msg.compressed {
            see(&mut b.msg, &mut b.utf8, plain, keep_head);
            return;
        }
        if let Some(z) = b.msg.z_mut() {
            if z.len() + plain.len() <= KEEP {
                z.extend_from_slice(plain);
                return;
            }
            // Too big to keep: inflated from here on, as it arrives.
            let held = b.msg.take_z().unwrap_or_default();
            let seq = b.msg.seq;
            let text = b.msg.text;
            self.catch_up(budget);
            let exact = self.start_message(seq);
            let Some(b) = self.current.as_mut() else {
                return;
            };
            b.inflated = Some(0);
            if exact && text {
                b.utf8 = Some(Utf8Stream::default());
            }
            self.inflate_current(&held, budget);
        }
        self.inflate_current(plain, budget);
    }

    /// Inflates bytes of the current message with the side's inflater.
    fn inflate_current(&mut self, bytes: &[u8], budget: &InflateBudget) {
        let keep_head = self.keep_head;
        let (Some(b), Some(r)) = (self.current.as_mut(), self.resolver.as_mut()) else {
            return;
        };
        let Some(done) = b.inflated else {
            return;
        };
        let judge = r.exact;
        let mut made = 0;
        let result = r.inf.feed(bytes, budget, &mut |out| {
            made += out.len() as u64;
            if judge {
                see(&mut b.msg, &mut b.utf8, out, keep_head);
            }
        });
        b.inflated = Some(done + made);
        if let Err(stop) = result {
            b.msg.inflated = Inflated::AtLeast(done + made);
            b.inflated = None;
            b.utf8 = None;
            b.stop = Some(stop);
            self.context_lost = true;
        }
    }

    /// The side's inflater, ready for compressed message `seq`: made, or started again
    /// from a primed window when messages before it were never inflated. Returns whether
    /// the message's content can be judged.
    fn start_message(&mut self, seq: u64) -> bool {
        let no_ctx = self.no_context_takeover;
        let lost = self.context_lost;
        let r = self.resolver.get_or_insert_with(|| {
            let mut inf = Inflater::new(no_ctx);
            let exact = seq == 1 && !lost;
            if !exact {
                inf.prime();
            }
            Box::new(Resolver {
                inf,
                next: seq,
                exact,
            })
        });
        if r.next != seq || (lost && !no_ctx) {
            if !no_ctx {
                r.inf.prime();
                r.exact = false;
            }
            self.context_lost = false;
        }
        r.next = seq + 1;
        r.inf.begin();
        no_ctx || r.exact
    }

    /// Inflates the recent messages whose compressed bytes wait, in order.
    fn catch_up(&mut self, budget: &InflateBudget) {
        let keep_head = self.keep_head;
        for i in 0..self.recent.len() {
            let Some(z) = self.recent.get_mut(i).and_then(Message::take_z) else {
                continue;
            };
            let seq = self.recent.get(i).map_or(0, |m| m.seq);
            let exact = self.start_message(seq);
            let (Some(m), Some(r)) = (self.recent.get_mut(i), self.resolver.as_mut()) else {
                continue;
            };
            let mut utf8 = (exact && m.text).then(Utf8Stream::default);
            let mut made = 0u64;
            let mut sink = |out: &[u8]| {
                made += out.len() as u64;
                if exact {
                    see(m, &mut utf8, out, keep_head);
                }
            };
            let result = r
                .inf
                .feed(&z, budget, &mut sink)
                .and_then(|_| r.inf.end(budget, &mut sink));
            finish_inflation(m, result.err(), made, utf8);
            if m.inflate_error().is_some() || matches!(m.inflated, Inflated::AtLeast(_)) {
                self.context_lost = true;
            }
            if self.first_invalid.is_none()
                && (m.invalid_utf8_at.is_some() || m.inflate_error().is_some())
            {
                self.first_invalid = Some(m.clone());
            }
            if self.first_capped.is_none()
                && matches!(m.inflated, Inflated::AtLeast(_))
                && m.inflate_error().is_none()
            {
                self.first_capped = Some(m.clone());
            }
            self.newly_resolved.push(m.seq);
        }
    }

    /// Inflates what waits (a Close asks for the evidence). Returns the recent messages
    /// inflated now, newest last, for the findings they reveal.
    pub fn resolve(&mut self, budget: &InflateBudget) -> Vec<u64> {
        self.newly_resolved.clear();
        if self.deflate {
            self.catch_up(budget);
        }
        std::mem::take(&mut self.newly_resolved)
    }

    /// Part of the current message's payload is missing.
    pub fn payload_gap(&mut self) {
        if let Some(b) = self.current.as_mut() {
            b.msg.gap = true;
            b.utf8 = None;
            if b.msg.compressed {
                b.msg.take_z();
                self.context_lost = true;
            }
            if let Some(done) = b.inflated.take() {
                b.msg.inflated = Inflated::AtLeast(done);
            }
        }
    }

    /// The frames lost their boundaries: the message in progress is gone, and so is the
    /// inflater's context.
    pub fn lost(&mut self) {
        self.current = None;
        self.context_lost = true;
    }

    /// A data frame ended, in packet `frame` at `ts`; `fin` ends its message.
    pub fn frame_end(&mut self, fin: bool, frame: u64, ts: Ts, budget: &InflateBudget) {
        self.last_sent = Some(ts);
        if !fin {
            return;
        }
        let Some(mut b) = self.current.take() else {
            return;
        };
        b.msg.frame = frame;
        b.msg.ts = ts;
        if let (Some(done), Some(r)) = (b.inflated, self.resolver.as_mut()) {
            let mut made = 0;
            let keep = self.keep_head;
            let judge = r.exact || self.no_context_takeover;
            let result = r.inf.end(budget, &mut |out| {
                made += out.len() as u64;
                if judge {
                    see(&mut b.msg, &mut b.utf8, out, keep);
                }
            });
            let utf8 = b.utf8.take();
            finish_inflation(&mut b.msg, result.err(), done + made, utf8);
            if matches!(b.msg.inflated, Inflated::AtLeast(_)) {
                self.context_lost = true;
            }
        } else if let Some(stop) = b.stop.take() {
            // Stopped while it arrived: the size is a lower bound, already set.
            if let Stop::Invalid(e) = stop {
                b.msg.set_error(e);
            }
        } else if let Some(mut u) = b.utf8.take() {
            b.msg.utf8_checked = true;
            if !u.end() {
                b.msg.invalid_utf8_at = u.bad_at;
            }
        }
        if matches!(b.msg.inflated, Inflated::AtLeast(_))
            && b.msg.inflate_error().is_none()
            && !b.msg.gap
            && self.first_capped.is_none()
        {
            self.first_capped = Some(b.msg.clone());
        }
        if (b.msg.invalid_utf8_at.is_some() || b.msg.inflate_error().is_some())
            && self.first_invalid.is_none()
        {
            self.first_invalid = Some(b.msg.clone());
        }
        self.messages += 1;
        if self.times.len() == TIMES {
            self.times.pop_front();
        }
        self.times.push_back(ts);
        if self.recent.len() == RECENT {
            if let Some(mut old) = self.recent.pop_front().and_then(|mut m| m.take_z()) {
                old.clear();
                if old.capacity() <= KEEP {
                    self.spare = old;
                }
            }
        }
        self.recent.push_back(b.msg);
    }

    /// The message in progress at `at`, as far as it came (its packet is the one that
    /// started it).
    pub fn in_progress(&self, at: Ts) -> Option<Message> {
        let b = self.current.as_ref()?;
        let mut m = b.msg.clone();
        m.ts = at;
        if let Some(done) = b.inflated {
            m.inflated = Inflated::AtLeast(done);
        }
        Some(m)
    }

    pub fn ping(&mut self, ts: Ts) {
        self.pings += 1;
        self.last_sent = Some(ts);
        if self.ping_times.len() == PINGS {
            self.ping_times.pop_front();
        }
        self.ping_times.push_back(ts);
    }

    pub fn pong(&mut self, ts: Ts) {
        self.pongs += 1;
        self.last_sent = Some(ts);
        self.last_pong = Some(ts);
    }

    /// Pings sent after `since` (the other side's last pong; all of them when it sent none).
    pub fn pings_after(&self, since: Option<Ts>) -> u64 {
        match since {
            None => self.pings,
            Some(t) => self.ping_times.iter().filter(|p| **p > t).count() as u64,
        }
    }

    /// The side's latest ping.
    pub fn last_ping(&self) -> Option<Ts> {
        self.ping_times.back().copied()
    }

    /// Messages completed in the `window_ns` up to `at`; `true` when more may have come than
    /// the kept times show.
    pub fn count_within(&self, at: Ts, window_ns: i64) -> (u64, bool) {
        let n = self
            .times
            .iter()
            .rev()
            .take_while(|t| at.since(**t) <= window_ns)
            .count();
        let saturated = n == self.times.len() && self.messages > self.times.len() as u64;
        (n as u64, saturated)
    }

    /// The burst that ends with the latest message: the messages before `at` whose gaps are
    /// all at most `gap_ns`, as (count, time of the first).
    pub fn burst(&self, gap_ns: i64) -> Option<(u64, Ts)> {
        let mut it = self.times.iter().rev();
        let mut first = *it.next()?;
        let mut n = 1u64;
        for t in it {
            if first.since(*t) > gap_ns {
                break;
            }
            first = *t;
            n += 1;
        }
        Some((n, first))
    }

    /// Messages completed in `[from, to)` (as far as the kept times go).
    pub fn count_between(&self, from: Ts, to: Ts) -> u64 {
        self.times
            .iter()
            .filter(|t| **t >= from && **t < to)
            .count() as u64
    }

    /// One reaction time: this side answered the other side's message after `ns`.
    pub fn reaction(&mut self, ns: i64) {
        if self.reactions.len() == REACTIONS {
            self.reactions.pop_front();
        }
        self.reactions.push_back(ns);
    }

    /// The median of the side's recent reaction times.
    pub fn typical_reaction(&self) -> Option<i64> {
        let mut v: Vec<i64> = self.reactions.iter().copied().collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    }
}

/// A compressed message inflated to its end (`stop` unset) or stopped: its size, its
/// inflation error, and its UTF-8 verdict when its content was judged.
fn finish_inflation(m: &mut Message, stop: Option<Stop>, made: u64, utf8: Option<Utf8Stream>) {
    match stop {
        None => m.inflated = Inflated::Size(made),
        Some(Stop::Invalid(e)) => {
            m.inflated = Inflated::AtLeast(made);
            m.set_error(e);
        }
        Some(Stop::MessageCap | Stop::Budget) => m.inflated = Inflated::AtLeast(made),
    }
    if let (Some(mut u), None) = (utf8, m.inflate_error()) {
        if matches!(m.inflated, Inflated::Size(_)) {
            m.utf8_checked = true;
            if !u.end() {
                m.invalid_utf8_at = u.bad_at;
            }
        }
    }
}

/// Inflated (or plain) bytes of the message: judged as UTF-8, first bytes kept.
fn see(msg: &mut Message, utf8: &mut Option<Utf8Stream>, bytes: &[u8], keep_head: bool) {
    if let Some(u) = utf8.as_mut() {
        u.feed(bytes);
    }
    if keep_head && msg.head().len() < HEAD {
        let head = &mut msg.extra_mut().head;
        let take = (HEAD - head.len()).min(bytes.len());
        head.extend_from_slice(bytes.get(..take).unwrap_or_default());
    }
}
