//! What one side of a WebSocket connection sent, kept for the evidence before a close: its
//! last messages (type, wire and inflated size, UTF-8 validity, first bytes when payloads
//! are shown), the times of its recent messages (for counts and bursts), its pings and
//! pongs, and the first message that was not valid UTF-8 or did not inflate.
//!
//! Bounded: `RECENT` messages and `TIMES` message times per side, `HEAD` bytes per message.
//! This runs for every message of every connection, so a message costs a few stores: the
//! one being received is built in place, a finished one is one 64-byte record written into
//! a ring, and anything larger (an inflation error, first bytes, compressed bytes) lives
//! apart, in the few messages that have it. Plain payloads are looked at once, in the
//! pieces the frame reader passes, and never stored; a text message is judged as UTF-8 only
//! as far as it is seen whole.
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
use crate::ws::frame::{unmasked_pieces, FrameHeader, Opcode};
use crate::ws::inflate::{InflateBudget, Inflater, Stop, Utf8Stream};
use crate::ws::reader::TextVerdict;

/// Messages kept per side: the last `RECENT - 1` completed, and the one being received.
pub const RECENT: usize = 8;
/// Message completion times kept per side: counts over the last ten seconds are exact up
/// to this many.
pub const TIMES: usize = 1024;
/// First bytes kept of each message, when payloads are shown.
pub const HEAD: usize = 64;
/// `History::last_sent` before the side's first frame.
const NEVER: Ts = Ts(i64::MIN);
/// Ping times kept per side.
const PINGS: usize = 32;
/// Reaction times kept per side.
const REACTIONS: usize = 16;
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
    /// Why inflation failed, when the compressed bytes are not valid DEFLATE.
    pub inflate_error: Option<String>,
    /// Offset of the first byte that is not UTF-8 (text messages seen whole).
    pub invalid_utf8_at: Option<u64>,
    /// The text was judged as UTF-8 (whole, no gap, inflated when compressed).
    pub utf8_checked: bool,
    /// Part of the payload is missing from the capture.
    pub gap: bool,
    /// First bytes (unmasked, inflated), kept only when payloads are shown.
    pub head: Vec<u8>,
    /// Its place among the side's compressed messages (from 1; 0 when not compressed).
    pub seq: u64,
}

// A record's flags.
const TEXT: u8 = 1;
const COMPRESSED: u8 = 2;
const UTF8_CHECKED: u8 = 4;
const GAP: u8 = 8;
/// `inflated` holds the whole inflated size.
const SIZE: u8 = 16;
/// `inflated` holds a lower bound: inflation stopped.
const AT_LEAST: u8 = 32;
/// `invalid_at` is set.
const INVALID: u8 = 64;

/// A message, flat: what every message has, in one cache line (aligned to it, so that
/// writing a record touches one line).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Rec {
    frame: u64,
    ts: Ts,
    wire: u64,
    received: u64,
    inflated: u64,
    invalid_at: u64,
    seq: u64,
    frames: u32,
    flags: u8,
}

impl Rec {
    /// The record of a message whose first frame is `header` (its first byte in packet
    /// `frame`), `seq` its place among the compressed ones.
    fn opening(header: &FrameHeader, frame: u64, seq: u64) -> Rec {
        let mut flags = if header.opcode == Opcode::Text {
            TEXT
        } else {
            0
        };
        if header.rsv1 {
            flags |= COMPRESSED;
        }
        Rec {
            frame,
            wire: header.payload_len,
            seq,
            frames: 1,
            flags,
            ..Rec::default()
        }
    }

    /// One more frame of the message.
    fn add_frame(&mut self, header: &FrameHeader) {
        self.frames = self.frames.saturating_add(1);
        self.wire = self.wire.saturating_add(header.payload_len);
    }

    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn set(&mut self, flag: u8) {
        self.flags |= flag;
    }

    /// Inflation stopped at `n` bytes.
    fn stopped(&mut self, n: u64) {
        self.inflated = n;
        self.flags = (self.flags & !SIZE) | AT_LEAST;
    }

    fn invalid(&mut self, at: u64) {
        self.invalid_at = at;
        self.set(INVALID);
    }

    fn notable(&self) -> bool {
        self.flags & (INVALID | AT_LEAST) != 0
    }

    fn message(&self, extra: Option<&Extra>) -> Message {
        let compressed = self.has(COMPRESSED);
        Message {
            frame: self.frame,
            ts: self.ts,
            text: self.has(TEXT),
            frames: self.frames,
            wire: self.wire,
            received: self.received,
            compressed,
            inflated: if self.has(SIZE) {
                Inflated::Size(self.inflated)
            } else if self.has(AT_LEAST) {
                Inflated::AtLeast(self.inflated)
            } else if compressed {
                Inflated::Unknown
            } else {
                Inflated::No
            },
            inflate_error: extra.and_then(|e| e.error.clone()),
            invalid_utf8_at: self.has(INVALID).then_some(self.invalid_at),
            utf8_checked: self.has(UTF8_CHECKED),
            gap: self.has(GAP),
            head: extra.map(|e| e.head.clone()).unwrap_or_default(),
            seq: self.seq,
        }
    }
}

/// The record flags of the reader's UTF-8 verdict on a plain text message, and the offset
/// of its first invalid byte (0 when valid or not judged).
fn verdict_flags(text: TextVerdict) -> (u8, u64) {
    match text {
        TextVerdict::None => (0, 0),
        TextVerdict::Valid => (UTF8_CHECKED, 0),
        TextVerdict::InvalidAt(at) => (UTF8_CHECKED | INVALID, at),
    }
}

/// A message's rarer parts, apart from its record.
#[derive(Clone, Debug, Default)]
struct Extra {
    /// Why inflation failed, when the compressed bytes are not valid DEFLATE.
    error: Option<String>,
    /// First bytes (unmasked, inflated), kept only when payloads are shown.
    head: Vec<u8>,
    /// Compressed bytes waiting for `resolve`.
    z: Option<Vec<u8>>,
}

/// What a message's payload is looked at for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Want {
    /// Nothing (binary, or compressed without the extension's parameters).
    #[default]
    Nothing,
    /// More: compressed bytes to keep or inflate, first bytes to keep.
    More,
}

/// The message being received (its record and extras are built in the ring's next slot).
#[derive(Default)]
struct Cur {
    want: Want,
    /// Payload bytes that fell in capture gaps.
    missing: u64,
    /// Its text is being judged as UTF-8.
    judging: bool,
    utf8: Utf8Stream,
    /// Inflated so far, when it is inflated as it arrives.
    inflating: Option<u64>,
    stop: Option<Stop>,
}

/// The last messages, in place: with `completed` messages so far, the slot `completed %
/// RECENT` is where the message being received is built, and the `kept` (at most
/// `RECENT - 1`) completed ones are the slots before it. The count lives in the history's
/// first cache line; the records each have a line of their own.
#[derive(Default)]
#[repr(C)]
struct Ring {
    recs: [Rec; RECENT],
    extra: [Option<Box<Extra>>; RECENT],
}

/// The ring slot of the message being received, after `completed` messages.
fn next_slot(completed: u64) -> usize {
    (completed % RECENT as u64) as usize
}

/// Completed messages the ring keeps, after `completed` messages.
fn kept(completed: u64) -> usize {
    completed.min(RECENT as u64 - 1) as usize
}

impl Ring {
    /// The slot of the `i`-th kept message, oldest first.
    fn slot(completed: u64, i: usize) -> usize {
        (next_slot(completed) + RECENT - kept(completed) + i) % RECENT
    }

    fn last(completed: u64) -> Option<usize> {
        let len = kept(completed);
        (len > 0).then(|| Ring::slot(completed, len - 1))
    }

    /// The record and extras of the message being received.
    fn building(&mut self, completed: u64) -> Option<(&mut Rec, &mut Option<Box<Extra>>)> {
        let slot = next_slot(completed);
        Some((self.recs.get_mut(slot)?, self.extra.get_mut(slot)?))
    }
}

/// The side's inflater, following its compressed messages in order.
struct Resolver {
    inf: Inflater,
    /// The `seq` of the next compressed message it expects.
    next: u64,
    /// Every compressed message before `next` went through it: content is judged.
    exact: bool,
}

/// One side's history. Laid out for the per-message path: what every message reads or
/// writes first (one cache line), then the ring, then the rest.
#[repr(C)]
pub struct History {
    /// `header` is called at each frame's start (compressed bytes to keep, first bytes to
    /// show); otherwise a message is recorded as its frames end.
    headers: bool,
    /// A message is being received.
    active: bool,
    keep_head: bool,
    /// The handshake accepted permessage-deflate: compressed messages can be inflated.
    deflate: bool,
    no_context_takeover: bool,
    /// A compressed message was lost (a gap, lost frame boundaries): the context is not
    /// known from there on.
    context_lost: bool,
    /// Every message completed.
    completed: u64,
    /// This side's latest frame (any), for the reaction times (`NEVER` before the first).
    last_sent: Ts,
    times: Times,
    ring: Ring,
    cur: Cur,
    /// The side's inflater, made when a message is first inflated.
    resolver: Option<Box<Resolver>>,
    /// Compressed messages started.
    compressed: u64,
    /// Extras of messages that left the ring, for the next compressed message to reuse.
    spare: Option<Box<Extra>>,
    pub pings: u64,
    ping_times: VecDeque<Ts>,
    pub pongs: u64,
    pub last_pong: Option<Ts>,
    /// The first message that was not valid UTF-8 or did not inflate.
    pub first_invalid: Option<Message>,
    /// The first message that stopped inflating at the cap or the budget.
    pub first_capped: Option<Message>,
    /// Time from the other side's message to this side's next one, in nanoseconds.
    reactions: [i64; REACTIONS],
    /// Reaction times taken (the ring holds the latest `REACTIONS`).
    reacted: usize,
}

impl History {
    /// `deflate`: the handshake accepted permessage-deflate, and this side's sender resets
    /// its context after each message (`Some(true)`) or not.
    pub fn new(deflate: Option<bool>, keep_head: bool) -> History {
        History {
            active: false,
            cur: Cur::default(),
            ring: Ring::default(),
            times: Times::default(),
            completed: 0,
            last_sent: NEVER,
            keep_head,
            headers: deflate.is_some() || keep_head,
            deflate: deflate.is_some(),
            no_context_takeover: deflate.unwrap_or(false),
            resolver: None,
            compressed: 0,
            context_lost: false,
            spare: None,
            pings: 0,
            ping_times: VecDeque::new(),
            pongs: 0,
            last_pong: None,
            first_invalid: None,
            first_capped: None,
            reactions: [0; REACTIONS],
            reacted: 0,
        }
    }

    /// Every message completed.
    pub fn messages(&self) -> u64 {
        self.completed
    }

    /// This side's latest frame (any), for the reaction times.
    pub fn last_sent(&self) -> Option<Ts> {
        (self.last_sent != NEVER).then_some(self.last_sent)
    }

    /// Whether `header` wants each frame's header as it is read.
    pub fn wants_headers(&self) -> bool {
        self.headers
    }

    /// A frame header was read (its first byte in packet `frame`): a new message starts,
    /// or goes on.
    #[inline(never)]
    pub fn header(&mut self, header: &FrameHeader, frame: u64) {
        if self.header_seen(header, frame) && header.rsv1 && self.deflate {
            self.keep_compressed();
        }
    }

    /// A message starts with `header` (returns true), or goes on.
    fn header_seen(&mut self, header: &FrameHeader, frame: u64) -> bool {
        let c = &mut self.cur;
        let Some((rec, extra)) = self.ring.building(self.completed) else {
            return false;
        };
        match header.opcode {
            Opcode::Text | Opcode::Binary => {
                // A message left unfinished (a new one started inside it) is dropped.
                if self.active && rec.has(COMPRESSED) {
                    self.context_lost = true;
                }
                let mut seq = 0;
                if header.rsv1 {
                    self.compressed += 1;
                    seq = self.compressed;
                }
                *rec = Rec::opening(header, frame, seq);
                self.active = true;
                c.missing = 0;
                // Plain text is judged by the frame reader, which passes its verdict to
                // `frame_end`.
                c.judging = false;
                c.want = match (header.rsv1, self.keep_head) {
                    (true, _) if self.deflate => Want::More,
                    (true, _) => Want::Nothing,
                    (false, true) => Want::More,
                    (false, false) => Want::Nothing,
                };
                c.inflating = None;
                c.stop = None;
                // Extras left in the slot by the message that last used it are reused.
                if let Some(old) = extra.take() {
                    self.spare = Some(old);
                }
                true
            }
            Opcode::Continuation if self.active => {
                rec.add_frame(header);
                false
            }
            _ => false,
        }
    }

    /// The current message keeps its compressed bytes, in a reused buffer.
    #[inline(never)]
    fn keep_compressed(&mut self) {
        let mut extra = self.spare.take().unwrap_or_default();
        extra.error = None;
        extra.head.clear();
        let mut z = extra.z.take().unwrap_or_default();
        z.clear();
        extra.z = Some(z);
        if let Some((_, slot)) = self.ring.building(self.completed) {
            *slot = Some(extra);
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
        let c = &mut self.cur;
        if !self.active {
            return;
        }
        if c.want == Want::More {
            self.payload_slow(chunk, pos, key, budget);
        }
    }

    /// Payload that needs more than an ASCII check: unmasked and taken.
    #[inline(never)]
    fn payload_slow(
        &mut self,
        chunk: &[u8],
        pos: u64,
        key: Option<[u8; 4]>,
        budget: &InflateBudget,
    ) {
        unmasked_pieces(chunk, key, pos, &mut |plain| self.take(plain, budget));
    }

    /// Unmasked payload bytes of the current message.
    fn take(&mut self, plain: &[u8], budget: &InflateBudget) {
        let keep_head = self.keep_head;
        let c = &mut self.cur;
        let Some((rec, extra)) = self.ring.building(self.completed) else {
            return;
        };
        if !rec.has(COMPRESSED) {
            see(&mut c.utf8, c.judging, extra, plain, keep_head);
            return;
        }
        self.take_compressed(plain, budget);
    }

    /// Compressed payload bytes: kept, or inflated as they arrive (a large message).
    #[inline(never)]
    fn take_compressed(&mut self, plain: &[u8], budget: &InflateBudget) {
        let Some((rec, extra)) = self.ring.building(self.completed) else {
            return;
        };
        let (seq, text) = (rec.seq, rec.has(TEXT));
        if let Some(z) = extra.as_mut().and_then(|e| e.z.as_mut()) {
            if z.len() + plain.len() <= KEEP {
                z.extend_from_slice(plain);
                return;
            }
            // Too big to keep: inflated from here on, as it arrives.
            let held = extra.as_mut().and_then(|e| e.z.take()).unwrap_or_default();
            self.catch_up(budget);
            let exact = self.start_message(seq);
            self.cur.inflating = Some(0);
            self.cur.judging = exact && text;
            self.cur.utf8 = Utf8Stream::default();
            self.inflate_current(&held, budget);
        }
        self.inflate_current(plain, budget);
    }

    /// Inflates bytes of the current message with the side's inflater.
    #[inline(never)]
    fn inflate_current(&mut self, bytes: &[u8], budget: &InflateBudget) {
        let keep_head = self.keep_head;
        let (c, Some(r), Some((rec, extra))) = (
            &mut self.cur,
            self.resolver.as_mut(),
            self.ring.building(self.completed),
        ) else {
            return;
        };
        let Some(done) = c.inflating else {
            return;
        };
        let judge = r.exact || self.no_context_takeover;
        let mut made = 0;
        let result = r.inf.feed(bytes, budget, &mut |out| {
            made += out.len() as u64;
            if judge {
                see(&mut c.utf8, c.judging, extra, out, keep_head);
            }
        });
        c.inflating = Some(done + made);
        if let Err(stop) = result {
            rec.stopped(done + made);
            c.inflating = None;
            c.judging = false;
            c.stop = Some(stop);
            self.context_lost = true;
        }
    }

    /// The side's inflater, ready for compressed message `seq`: made, or started again
    /// from a primed window when messages before it were never inflated. Returns whether
    /// the message's content can be judged.
    #[cold]
    #[inline(never)]
    fn start_message(&mut self, seq: u64) -> bool {
        let no_ctx = self.no_context_takeover;
        let lost = self.context_lost;
        let r = self.resolver.get_or_insert_with(|| {
            let mut inf = Inflater::new();
            let exact = seq == 1 && !lost;
            if !exact && !no_ctx {
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

    /// Inflates the recent messages whose compressed bytes wait, in order. Returns the
    /// `seq` of each.
    #[cold]
    #[inline(never)]
    fn catch_up(&mut self, budget: &InflateBudget) -> Vec<u64> {
        let keep_head = self.keep_head;
        let mut done = Vec::new();
        for i in 0..kept(self.completed) {
            let slot = Ring::slot(self.completed, i);
            let Some(z) = self
                .ring
                .extra
                .get_mut(slot)
                .and_then(|e| e.as_mut())
                .and_then(|e| e.z.take())
            else {
                continue;
            };
            let seq = self.ring.recs.get(slot).map_or(0, |r| r.seq);
            let exact = self.start_message(seq);
            let (Some(rec), Some(extra), Some(r)) = (
                self.ring.recs.get_mut(slot),
                self.ring.extra.get_mut(slot),
                self.resolver.as_mut(),
            ) else {
                continue;
            };
            let judging = exact && rec.has(TEXT);
            let mut utf8 = Utf8Stream::default();
            let mut made = 0u64;
            let mut sink = |out: &[u8]| {
                made += out.len() as u64;
                if exact {
                    see(&mut utf8, judging, extra, out, keep_head);
                }
            };
            let result = r
                .inf
                .feed(&z, budget, &mut sink)
                .and_then(|_| r.inf.end(budget, &mut sink));
            finish_inflation(rec, extra, result.err(), made, judging.then_some(utf8));
            if rec.has(AT_LEAST) {
                self.context_lost = true;
            }
            done.push(seq);
            if rec.notable() {
                let m = rec.message(extra.as_deref());
                self.remember(m);
            }
        }
        done
    }

    /// Inflates what waits (a Close asks for the evidence). Returns the `seq` of the
    /// recent messages inflated now, for the findings they reveal.
    #[cold]
    #[inline(never)]
    pub fn resolve(&mut self, budget: &InflateBudget) -> Vec<u64> {
        if self.deflate {
            self.catch_up(budget)
        } else {
            Vec::new()
        }
    }

    /// Part of the current message's payload is missing.
    pub fn payload_gap(&mut self) {
        let c = &mut self.cur;
        if !self.active {
            return;
        }
        let Some((rec, extra)) = self.ring.building(self.completed) else {
            return;
        };
        rec.set(GAP);
        c.judging = false;

        if rec.has(COMPRESSED) {
            if let Some(e) = extra.as_mut() {
                e.z = None;
            }
            self.context_lost = true;
        }
        if let Some(done) = c.inflating.take() {
            rec.stopped(done);
        }
    }

    /// The frames lost their boundaries: the message in progress is gone, and so is the
    /// inflater's context.
    pub fn lost(&mut self) {
        self.active = false;
        self.context_lost = true;
    }

    /// A data frame ended, in packet `frame` at `ts`; `fin` ends its message, and `text`
    /// is the reader's verdict on a plain text message. Returns, when a message completed,
    /// whether it has something to note (not UTF-8, not inflating, inflation stopped).
    #[inline(never)]
    pub fn frame_end(
        &mut self,
        header: &FrameHeader,
        frame: u64,
        ts: Ts,
        text: TextVerdict,
        missing: u64,
        budget: &InflateBudget,
    ) -> Option<bool> {
        if !self.headers
            && header.fin
            && !header.rsv1
            && !self.active
            && matches!(header.opcode, Opcode::Text | Opcode::Binary)
        {
            return Some(self.whole_plain(header, frame, ts, text, missing));
        }
        if !self.headers {
            // No `header` call came for this frame of a plain message.
            self.header_seen(header, frame);
        }
        self.last_sent = ts;
        self.cur.missing = self.cur.missing.saturating_add(missing);
        if !header.fin || !self.active {
            return None;
        }
        self.active = false;
        if self.cur.inflating.is_some() || self.cur.stop.is_some() {
            self.end_inflation(budget);
        }
        let c = &mut self.cur;
        let (rec, _) = self.ring.building(self.completed)?;
        rec.frame = frame;
        rec.ts = ts;
        rec.received = rec.wire.saturating_sub(c.missing);
        if c.missing > 0 {
            rec.set(GAP);
        }
        let (flags, invalid_at) = verdict_flags(text);
        rec.set(flags);
        if flags & INVALID != 0 {
            rec.invalid_at = invalid_at;
        }
        let notable = rec.notable();
        self.complete(ts, notable);
        Some(notable)
    }

    /// A plain message in one frame, nothing kept beside its record (most messages): the
    /// record written whole into the next slot. Returns whether it is notable.
    fn whole_plain(
        &mut self,
        header: &FrameHeader,
        frame: u64,
        ts: Ts,
        text: TextVerdict,
        missing: u64,
    ) -> bool {
        self.last_sent = ts;
        let (mut flags, invalid_at) = verdict_flags(text);
        if header.opcode == Opcode::Text {
            flags |= TEXT;
        }
        if missing > 0 {
            flags |= GAP;
        }
        let rec = Rec {
            frame,
            ts,
            wire: header.payload_len,
            received: header.payload_len.saturating_sub(missing),
            inflated: 0,
            invalid_at,
            seq: 0,
            frames: 1,
            flags,
        };
        let notable = rec.notable();
        let next = next_slot(self.completed);
        if let Some(slot) = self.ring.recs.get_mut(next) {
            *slot = rec;
        }
        // Extras are made only when `headers` is set: a slot never holds one here.
        debug_assert!(self.ring.extra.get(next).is_some_and(Option::is_none));
        self.complete(ts, notable);
        notable
    }

    /// The message in the ring's next slot is complete: counted, its time kept, the slot
    /// moved on; a notable one remembered.
    #[inline]
    fn complete(&mut self, ts: Ts, notable: bool) {
        self.completed += 1;
        self.times.push(ts);
        if notable {
            if let Some(m) = self.last_message() {
                self.remember(m);
            }
        }
    }

    /// The end of a message inflated as it arrived.
    #[inline(never)]
    fn end_inflation(&mut self, budget: &InflateBudget) {
        let keep = self.keep_head;
        let c = &mut self.cur;
        let Some((rec, extra)) = self.ring.building(self.completed) else {
            return;
        };
        if let (Some(done), Some(r)) = (c.inflating, self.resolver.as_mut()) {
            let mut made = 0;
            let judge = r.exact || self.no_context_takeover;
            let result = r.inf.end(budget, &mut |out| {
                made += out.len() as u64;
                if judge {
                    see(&mut c.utf8, c.judging, extra, out, keep);
                }
            });
            let utf8 = std::mem::take(&mut c.utf8);
            let judging = std::mem::take(&mut c.judging);
            finish_inflation(
                rec,
                extra,
                result.err(),
                done + made,
                judging.then_some(utf8),
            );
            if rec.has(AT_LEAST) {
                self.context_lost = true;
            }
        } else if let Some(Stop::Invalid(e)) = c.stop.take() {
            // Stopped while it arrived: the size is a lower bound, already set.
            extra.get_or_insert_with(Box::default).error = Some(e);
        }
        c.inflating = None;
    }

    /// The first message that was not valid UTF-8 or did not inflate, and the first that
    /// stopped inflating, kept for the evidence.
    #[cold]
    #[inline(never)]
    fn remember(&mut self, m: Message) {
        if matches!(m.inflated, Inflated::AtLeast(_))
            && m.inflate_error.is_none()
            && !m.gap
            && self.first_capped.is_none()
        {
            self.first_capped = Some(m.clone());
        }
        if (m.invalid_utf8_at.is_some() || m.inflate_error.is_some())
            && self.first_invalid.is_none()
        {
            self.first_invalid = Some(m);
        }
    }

    /// The latest completed message.
    pub fn last_message(&self) -> Option<Message> {
        let slot = Ring::last(self.completed)?;
        let rec = self.ring.recs.get(slot)?;
        Some(rec.message(self.ring.extra.get(slot).and_then(|e| e.as_deref())))
    }

    /// The completed messages kept, oldest first.
    pub fn recent(&self) -> Vec<Message> {
        (0..kept(self.completed))
            .filter_map(|i| {
                let slot = Ring::slot(self.completed, i);
                let rec = self.ring.recs.get(slot)?;
                Some(rec.message(self.ring.extra.get(slot).and_then(|e| e.as_deref())))
            })
            .collect()
    }

    /// The message in progress at `at`, as far as it came: `owed` bytes of its current
    /// frame still to come, `current` that frame and the packet that started it (its packet
    /// is the one that started the message).
    pub fn in_progress(
        &self,
        at: Ts,
        owed: u64,
        current: Option<&(FrameHeader, u64)>,
    ) -> Option<Message> {
        let c = &self.cur;
        let slot = next_slot(self.completed);
        let mut rec = if self.active {
            *self.ring.recs.get(slot)?
        } else {
            Rec::default()
        };
        let mut missing = if self.active { c.missing } else { 0 };
        if !self.headers {
            // Messages are recorded as their frames end: the frame being read is added here.
            match current {
                Some((h, start)) if matches!(h.opcode, Opcode::Text | Opcode::Binary) => {
                    rec = Rec::opening(h, *start, 0);
                    missing = 0;
                }
                Some((h, _)) if h.opcode == Opcode::Continuation && self.active => {
                    rec.add_frame(h);
                }
                _ if !self.active => return None,
                _ => {}
            }
        } else if !self.active {
            return None;
        }
        rec.ts = at;
        rec.received = rec.wire.saturating_sub(missing.saturating_add(owed));
        if let Some(done) = c.inflating {
            rec.stopped(done);
        }
        let extra = if self.active {
            self.ring.extra.get(slot).and_then(|e| e.as_deref())
        } else {
            None
        };
        Some(rec.message(extra))
    }

    pub fn ping(&mut self, ts: Ts) {
        self.pings += 1;
        self.last_sent = ts;
        if self.ping_times.len() == PINGS {
            self.ping_times.pop_front();
        }
        self.ping_times.push_back(ts);
    }

    pub fn pong(&mut self, ts: Ts) {
        self.pongs += 1;
        self.last_sent = ts;
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
        let n = self.times.count_since(Ts(at.0.saturating_sub(window_ns)));
        let saturated = n == self.times.len() as u64 && self.completed > n;
        (n, saturated)
    }

    /// The burst that ends with the latest message: the messages whose gaps are all at
    /// most `gap_ns`, as (count, time of the first).
    pub fn burst(&self, gap_ns: i64) -> Option<(u64, Ts)> {
        let mut it = self.times.iter().rev();
        let mut first = it.next()?;
        let mut n = 1u64;
        for t in it {
            if first.since(t) > gap_ns {
                break;
            }
            first = t;
            n += 1;
        }
        Some((n, first))
    }

    /// Messages completed in `[from, to)` (as far as the kept times go).
    pub fn count_between(&self, from: Ts, to: Ts) -> u64 {
        self.times
            .count_since(from)
            .saturating_sub(self.times.count_since(to))
    }

    /// One reaction time: this side answered the other side's message after `ns`.
    pub fn reaction(&mut self, ns: i64) {
        if let Some(slot) = self.reactions.get_mut(self.reacted % REACTIONS) {
            *slot = ns;
        }
        self.reacted += 1;
    }

    /// The median of the side's recent reaction times.
    pub fn typical_reaction(&self) -> Option<i64> {
        let kept = self.reacted.min(REACTIONS);
        let mut v: Vec<i64> = self.reactions.iter().take(kept).copied().collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    }
}

/// Message times, compact: microseconds after `base`, the latest `TIMES` in a ring that
/// grows as it fills (`head` is the oldest once it is full).
#[derive(Default)]
struct Times {
    base: Ts,
    offsets: Vec<u32>,
    head: usize,
}

impl Times {
    fn push(&mut self, ts: Ts) {
        if self.offsets.is_empty() {
            self.base = ts;
        }
        let mut off = ts.since(self.base).max(0) / 1000;
        if off > i64::from(u32::MAX) {
            off = self.rebase(ts);
        }
        let off = u32::try_from(off).unwrap_or(u32::MAX);
        if self.offsets.len() < TIMES {
            self.offsets.push(off);
        } else if let Some(slot) = self.offsets.get_mut(self.head) {
            *slot = off;
            self.head = (self.head + 1) % TIMES;
        }
    }

    /// Counts from an hour before `ts`; returns `ts`'s offset.
    #[cold]
    #[inline(never)]
    fn rebase(&mut self, ts: Ts) -> i64 {
        // After 71 minutes: counted from an hour ago, the older times pinned there (counts
        // look back ten seconds at most).
        let base = Ts(ts.0.saturating_sub(3_600_000_000_000));
        let old = self.base;
        for o in &mut self.offsets {
            let t = old.0.saturating_add(i64::from(*o) * 1000);
            *o = u32::try_from((t - base.0).max(0) / 1000).unwrap_or(0);
        }
        self.base = base;
        ts.since(base) / 1000
    }

    fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Times at or after `from` (found by halving: times only grow, and when a capture's
    /// clock steps back the count is approximate, never wrong in kind).
    fn count_since(&self, from: Ts) -> u64 {
        let from_us = from.since(self.base) / 1000;
        let (newer, older) = self.offsets.split_at(self.head.min(self.offsets.len()));
        let at_or_after = |part: &[u32]| {
            let first = part.partition_point(|o| i64::from(*o) < from_us);
            (part.len() - first) as u64
        };
        at_or_after(older) + at_or_after(newer)
    }

    /// Oldest first.
    fn iter(&self) -> impl DoubleEndedIterator<Item = Ts> + '_ {
        let base = self.base;
        let (newer, older) = self.offsets.split_at(self.head.min(self.offsets.len()));
        older
            .iter()
            .chain(newer.iter())
            .map(move |o| Ts(base.0.saturating_add(i64::from(*o) * 1000)))
    }
}

/// A compressed message inflated to its end (`stop` unset) or stopped: its size, its
/// inflation error, and its UTF-8 verdict when its content was judged.
fn finish_inflation(
    rec: &mut Rec,
    extra: &mut Option<Box<Extra>>,
    stop: Option<Stop>,
    made: u64,
    utf8: Option<Utf8Stream>,
) {
    match stop {
        None => {
            rec.inflated = made;
            rec.set(SIZE);
        }
        Some(Stop::Invalid(e)) => {
            rec.stopped(made);
            extra.get_or_insert_with(Box::default).error = Some(e);
        }
        Some(Stop::MessageCap | Stop::Budget) => rec.stopped(made),
    }
    if let Some(mut u) = utf8 {
        if rec.has(SIZE) {
            rec.set(UTF8_CHECKED);
            if !u.end() {
                rec.invalid(u.bad_at.unwrap_or(0));
            }
        }
    }
}

/// Bytes of the message's first bytes kept so far.
fn head_len(extra: &Option<Box<Extra>>) -> usize {
    extra.as_ref().map_or(0, |e| e.head.len())
}

/// Inflated (or plain) bytes of the message: judged as UTF-8 when `judging`, first bytes
/// kept when `keep_head`.
fn see(
    utf8: &mut Utf8Stream,
    judging: bool,
    extra: &mut Option<Box<Extra>>,
    bytes: &[u8],
    keep_head: bool,
) {
    if judging {
        utf8.feed(bytes);
    }
    if keep_head && head_len(extra) < HEAD {
        let head = &mut extra.get_or_insert_with(Box::default).head;
        let take = (HEAD - head.len()).min(bytes.len());
        head.extend_from_slice(bytes.get(..take).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_the_latest_in_order_once_full() {
        let mut t = Times::default();
        let ms = 1_000_000i64;
        for i in 0..(TIMES as i64 + 37) {
            t.push(Ts(5_000 * ms + i * ms));
        }
        let all: Vec<i64> = t.iter().map(|x| x.0).collect();
        assert_eq!(all.len(), TIMES);
        assert_eq!(all.first(), Some(&(5_000 * ms + 37 * ms)));
        assert_eq!(all.last(), Some(&(5_000 * ms + (TIMES as i64 + 36) * ms)));
        assert!(all.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn counts_and_bursts_read_the_times() {
        let mut h = History::new(None, false);
        let ms = 1_000_000i64;
        // Five messages a second apart, then ten 10 ms apart.
        let mut ts = Vec::new();
        for i in 0..5 {
            ts.push(i * 1000 * ms);
        }
        for i in 0..10 {
            ts.push(5000 * ms + i * 10 * ms);
        }
        for t in &ts {
            h.times.push(Ts(*t));
            h.completed += 1;
        }
        let at = Ts(5100 * ms);
        assert_eq!(h.count_within(at, 1_000_000_000), (10, false));
        assert_eq!(h.count_within(at, 10_000_000_000), (15, false));
        let (n, first) = h.burst(100 * ms).unwrap();
        assert_eq!((n, first), (10, Ts(5000 * ms)));
        assert_eq!(h.count_between(Ts(0), first), 5);
    }

    /// The per-message path reads and writes the first cache line (flags, message count,
    /// last frame time, message times); each record sits in a line of its own.
    #[test]
    fn per_message_fields_share_a_cache_line() {
        assert_eq!(std::mem::offset_of!(History, ring), 64);
        assert!(std::mem::offset_of!(History, completed) < 64);
        assert!(std::mem::offset_of!(History, last_sent) < 64);
        assert!(std::mem::offset_of!(History, times) + std::mem::size_of::<Times>() <= 64);
        assert_eq!(std::mem::size_of::<Rec>(), 64);
        assert_eq!(std::mem::align_of::<Rec>(), 64);
        assert_eq!(std::mem::offset_of!(Ring, recs) % 64, 0);
    }
}
