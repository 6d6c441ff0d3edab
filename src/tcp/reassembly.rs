//! Per-direction TCP stream reassembly.
//!
//! Takes segments in capture order and delivers the stream's bytes in order, each byte once,
//! through a callback, as `StreamEvent::Data` borrowed from the packet when it arrives in
//! order (the common case: no copy) or from a bounded out-of-order buffer otherwise. Bytes
//! that cannot be had (capture started mid-connection, segments missing from the capture,
//! snap length cuts, buffer limit reached) are delivered as `StreamEvent::Gap` at the right
//! stream offset, so the consumer can resynchronise.
//!
//! What the receiving stack would not deliver is not delivered either, and is counted in
//! `StreamStats`: bytes the sender sent after its own RST (`reset`), and segments starting
//! beyond the window the receiver advertised (`acked` learns it), or beyond any TCP window
//! (2^30 bytes, RFC 7323 §2.3) while that is unknown. Overlapping copies of the same
//! stream bytes are compared wherever they meet (a retransmission of delivered bytes, a
//! segment over buffered ones, in-order bytes over buffered ones): each copy that differs
//! is counted, and the copy kept is the one Linux keeps (measured on Linux 6.18: in-order
//! bytes win over buffered ones; a buffered copy is replaced only by a longer one starting
//! with it or covering it; otherwise the copy starting first wins). Buffered data is delivered with the packet that completed it (the one that
//! filled the hole before it), as the receiver's application got it then.
//!
//! Invariants: `offset` is the stream offset of `next_seq`; every key in `pending` is greater
//! than `offset`; no buffered segment lies inside another (their starts and ends grow
//! together); `pending_bytes` is the sum of the lengths buffered in `pending` and never
//! exceeds the configured cap. Sequence numbers are `Seq`s: wrapping arithmetic only.
//! Never panics on input.

use std::collections::BTreeMap;

use crate::capture::Ts;
use crate::tcp::Seq;

/// Why bytes of a stream are missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapKind {
    /// The capture starts after the connection did: the bytes before are unknown.
    MidStream,
    /// The packet was cut by the capture's snap length.
    SnapLen,
    /// Segments are missing from the capture (a hole later data or the peer's ACK proves).
    Missing,
    /// The out-of-order buffer cap was reached and the hole was given up on.
    BufferLimit,
}

/// What the reassembler hands to the stream's consumer.
#[derive(Debug)]
pub enum StreamEvent<'a> {
    /// In-order bytes starting at stream `offset`, carried by packet `frame_no`.
    Data {
        offset: u64,
        bytes: &'a [u8],
        frame_no: u64,
        ts: Ts,
    },
    /// `len` bytes at `offset` will never be delivered (`len` is 0 when unknown, as at a
    /// mid-stream start).
    Gap {
        offset: u64,
        len: u64,
        kind: GapKind,
        frame_no: u64,
        ts: Ts,
    },
}

/// What the reassembler saw that the report mentions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Retransmitted or overlapping segments whose bytes differ from another copy.
    pub inconsistent_overlaps: u64,
    /// The packet carrying the first of them (0 when there is none).
    pub first_inconsistent_frame: u64,
    /// Bytes the sender sent after its own RST (by capture order, or beyond its sequence
    /// number), not delivered.
    pub after_reset_bytes: u64,
    /// The packet carrying the first of them (0 when there is none).
    pub first_after_reset_frame: u64,
    /// Segments (or RSTs) outside the receiver's window, not delivered.
    pub out_of_window: u64,
    /// The first of them: packet and how far beyond the window's right edge it started.
    pub first_out_of_window: Option<(u64, u64)>,
}

/// The largest window TCP can advertise: 65,535 shifted by the largest scale, 14 (RFC 7323
/// §2.3), rounded up to 2^30. No stack accepts a segment starting further than this beyond
/// what it acknowledged, whatever the windows the capture shows.
pub const MAX_WINDOW: u32 = 1 << 30;
/// The largest window scale shift (RFC 7323 §2.3): a larger one is read as 14.
pub const MAX_WINDOW_SHIFT: u8 = 14;

struct Pending {
    frame_no: u64,
    ts: Ts,
    data: Vec<u8>,
    /// Bytes after `data` cut by the snap length.
    missing: u32,
}

impl Pending {
    fn span(&self) -> u64 {
        self.data.len() as u64 + u64::from(self.missing)
    }
}

/// One direction of a TCP connection.
pub struct Stream {
    next_seq: Option<Seq>,
    offset: u64,
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    max_pending: usize,
    /// Sequence number, length and digest of the last in-order segment, to tell a faithful
    /// retransmission from one carrying different bytes.
    last_segment: Option<(Seq, usize, u64)>,
    pub stats: StreamStats,
    isn: Option<Seq>,
    /// The window scale option of the SYN with `isn` (RFC 7323 §2.2).
    syn_wscale: Option<u8>,
    /// Another SYN with a different ISN, before the peer's SYN-ACK chose between them (the
    /// latest such SYN, and its window scale option).
    other_syn: Option<(Seq, Option<u8>)>,
    /// The right edge of the receiver's window: the furthest `ack + window` it advertised.
    right_edge: Option<Seq>,
    /// The shift applied to the receiver's window field: its scale once both SYNs are
    /// known, `MAX_WINDOW_SHIFT` until then.
    peer_shift: u8,
    /// The sender reset the connection: nothing more of this stream is delivered.
    reset: bool,
    /// A RST further on than the next byte expected, with no data from the sender since.
    unconfirmed_rst: bool,
}

impl Stream {
    /// A stream that buffers at most `max_pending` out-of-order bytes.
    pub fn new(max_pending: usize) -> Stream {
        Stream {
            next_seq: None,
            offset: 0,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            max_pending,
            last_segment: None,
            stats: StreamStats::default(),
            isn: None,
            syn_wscale: None,
            other_syn: None,
            right_edge: None,
            peer_shift: MAX_WINDOW_SHIFT,
            reset: false,
            unconfirmed_rst: false,
        }
    }

    /// Stream offset of the next byte expected.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes currently buffered out of order.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// A SYN with initial sequence number `isn` and window scale option `wscale`. A SYN
    /// with another ISN before any data is kept as a candidate until the peer's SYN-ACK (or
    /// the first data) chooses (`choose_isn`).
    pub fn syn(&mut self, isn: Seq, wscale: Option<u8>) {
        match self.isn {
            None if self.next_seq.is_none() => {
                self.next_seq = Some(isn + 1);
                self.isn = Some(isn);
                self.syn_wscale = wscale;
            }
            Some(known) if known != isn && self.offset == 0 && self.pending.is_empty() => {
                self.other_syn = Some((isn, wscale));
            }
            _ => {}
        }
    }

    /// The initial sequence number, when the SYN was seen.
    pub fn isn(&self) -> Option<Seq> {
        self.isn
    }

    /// The window scale option of the SYN (when the SYN was seen and carried one).
    pub fn syn_wscale(&self) -> Option<u8> {
        self.syn_wscale
    }

    /// The peer's SYN-ACK acknowledged `isn + 1`: when another SYN offered `isn`, that SYN
    /// started the connection.
    pub fn choose_isn(&mut self, isn: Seq) {
        let Some((other, wscale)) = self.other_syn else {
            return;
        };
        if other == isn && self.offset == 0 && self.pending.is_empty() {
            self.isn = Some(other);
            self.next_seq = Some(other + 1);
            self.syn_wscale = wscale;
            self.other_syn = None;
        } else if self.isn == Some(isn) {
            self.other_syn = None;
        }
    }

    /// The shift count of the receiver's window (RFC 7323 §2.2): its own SYN's option when
    /// both SYNs carried one, 0 when either did not.
    pub fn set_peer_shift(&mut self, shift: u8) {
        self.peer_shift = shift.min(MAX_WINDOW_SHIFT);
    }

    /// The shift applied to the receiver's window field.
    pub fn peer_shift(&self) -> u8 {
        self.peer_shift
    }

    /// Does a segment starting at `seq` start at or beyond the right edge of the receiver's
    /// window? Measured from the edge it advertised, or from `next` plus the largest
    /// window when it advertised none; in-order bytes beyond the edge prove it was further.
    fn beyond_window(&self, seq: Seq, next: Seq) -> Option<u64> {
        let edge = match self.right_edge {
            Some(edge) if edge.since(next) > 0 => edge,
            // None advertised, or the data has gone past it (the window updates are not in
            // the capture): the largest window is the bound.
            _ => next + MAX_WINDOW,
        };
        let beyond = seq.since(edge);
        (beyond >= 0).then_some(beyond as u64)
    }

    /// A segment carrying `payload` at `seq`, with `missing` more bytes cut by the snap length.
    pub fn segment<F>(
        &mut self,
        seq: Seq,
        payload: &[u8],
        missing: u32,
        frame_no: u64,
        ts: Ts,
        sink: &mut F,
    ) where
        F: FnMut(StreamEvent<'_>),
    {
        let span = payload.len() as u64 + u64::from(missing);
        if span == 0 {
            return;
        }
        if self.reset {
            self.note_after_reset(span, frame_no);
            return;
        }
        // Data after a RST that was not at the next byte: the receiver challenged it.
        self.unconfirmed_rst = false;
        let next = match self.next_seq {
            Some(n) => n,
            None => {
                self.next_seq = Some(seq);
                sink(StreamEvent::Gap {
                    offset: 0,
                    len: 0,
                    kind: GapKind::MidStream,
                    frame_no,
                    ts,
                });
                seq
            }
        };
        let mut rel = i64::from(seq.since(next));
        if rel != 0 && self.other_syn.is_some_and(|(isn, _)| isn + 1 == seq) {
            // The first data follows the other SYN: that one started the connection.
            self.choose_isn(seq + u32::MAX);
            rel = 0;
        }
        if rel < 0 {
            let end = rel + span as i64;
            if end <= 0 {
                self.check_retransmission(seq, payload, frame_no);
                return;
            }
            // Partly old: deliver the new tail only.
            let skip = (-rel) as u64;
            let (bytes, missing) = split_tail(payload, missing, skip);
            self.check_buffered(self.offset, bytes, frame_no);
            self.deliver(bytes, missing, frame_no, ts, sink);
            self.drain(Some((frame_no, ts)), sink);
            return;
        }
        if rel == 0 {
            self.last_segment = Some((seq, payload.len(), digest(payload)));
            self.check_buffered(self.offset, payload, frame_no);
            self.deliver(payload, missing, frame_no, ts, sink);
            self.drain(Some((frame_no, ts)), sink);
            return;
        }
        self.out_of_order(seq, next, rel as u64, payload, missing, frame_no, ts, sink);
    }

    /// A segment `rel` bytes beyond the next one expected: dropped when the receiver would
    /// drop it, else buffered as Linux's out-of-order queue keeps it (RFC 9293 leaves the
    /// choice to each stack): a copy inside a buffered segment that starts at or before it
    /// adds nothing; a longer copy starting with a buffered segment replaces it, as it
    /// replaces the later ones it covers; other overlaps keep both, and where they overlap
    /// the one starting first is delivered.
    #[allow(clippy::too_many_arguments)]
    fn out_of_order<F>(
        &mut self,
        seq: Seq,
        next: Seq,
        rel: u64,
        payload: &[u8],
        missing: u32,
        frame_no: u64,
        ts: Ts,
        sink: &mut F,
    ) where
        F: FnMut(StreamEvent<'_>),
    {
        if let Some(beyond) = self.beyond_window(seq, next) {
            self.note_out_of_window(frame_no, beyond);
            return;
        }
        let key = self.offset + rel;
        let end = key + payload.len() as u64 + u64::from(missing);
        self.check_buffered(key, payload, frame_no);
        let before = self.pending.range(..=key).next_back();
        if before.is_some_and(|(k, p)| *k + p.span() >= end) {
            return;
        }
        let replaced: usize = self
            .pending
            .range(key..end)
            .take_while(|(k, p)| **k + p.span() <= end)
            .map(|(_, p)| p.data.len())
            .sum();
        let extra = payload.len().saturating_sub(replaced);
        // Buffer within the cap, giving up on the oldest hole when full.
        while self.pending_bytes + extra > self.max_pending && !self.pending.is_empty() {
            self.skip_to_pending(GapKind::BufferLimit, sink);
        }
        if key <= self.offset {
            // The flush above caught up with this segment.
            let (bytes, missing) = split_tail(payload, missing, self.offset - key);
            self.deliver(bytes, missing, frame_no, ts, sink);
            self.drain(Some((frame_no, ts)), sink);
            return;
        }
        if self.pending_bytes + extra > self.max_pending {
            // Larger than the whole buffer: skip the hole before it and deliver it now.
            let hole = key - self.offset;
            sink(StreamEvent::Gap {
                offset: self.offset,
                len: hole,
                kind: GapKind::BufferLimit,
                frame_no,
                ts,
            });
            self.advance(hole);
            self.deliver(payload, missing, frame_no, ts, sink);
            self.drain(Some((frame_no, ts)), sink);
            return;
        }
        // The buffered segments it covers go; so no buffered segment lies inside another.
        while let Some((&k, p)) = self.pending.range(key..end).next() {
            if k + p.span() > end {
                break;
            }
            if let Some(old) = self.pending.remove(&k) {
                self.pending_bytes -= old.data.len();
            }
        }
        self.pending_bytes += payload.len();
        self.pending.insert(
            key,
            Pending {
                frame_no,
                ts,
                data: payload.to_vec(),
                missing,
            },
        );
    }

    /// Buffered segments overlapping the stream bytes `[key, key + span)`: (start, span).
    fn overlapping(&self, key: u64, span: u64) -> impl Iterator<Item = (u64, &Pending)> {
        let end = key + span;
        // No buffered segment lies inside another: starts and ends grow together, so the
        // ones starting before `key` that reach into it come last before it.
        let before = self
            .pending
            .range(..key)
            .rev()
            .take_while(move |(k, p)| **k + p.span() > key);
        before
            .chain(self.pending.range(key..end))
            .map(|(k, p)| (*k, p))
    }

    /// Compares the bytes `bytes` at stream offset `key` with the buffered copies of the
    /// same stream bytes; a difference is counted once for the segment.
    fn check_buffered(&mut self, key: u64, bytes: &[u8], frame_no: u64) {
        if self.pending.is_empty() || bytes.is_empty() {
            return;
        }
        let end = key + bytes.len() as u64;
        let differs = self.overlapping(key, bytes.len() as u64).any(|(k, p)| {
            let from = k.max(key);
            let to = (k + p.data.len() as u64).min(end);
            from < to
                && p.data.get((from - k) as usize..(to - k) as usize)
                    != bytes.get((from - key) as usize..(to - key) as usize)
        });
        if differs {
            self.note_inconsistent(frame_no);
        }
    }

    /// The peer acknowledged up to `ack` and advertised `window` bytes beyond it (scaled):
    /// the window's right edge moves on; and if `ack` is beyond a hole we are waiting on,
    /// the bytes were sent but are not in the capture, so stop waiting for them.
    pub fn acked<F>(&mut self, ack: Seq, window: u32, frame_no: u64, ts: Ts, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        let edge = ack + window.min(MAX_WINDOW);
        if self.right_edge.is_none_or(|e| edge.since(e) > 0) {
            self.right_edge = Some(edge);
        }
        let Some(next) = self.next_seq else { return };
        if self.pending.is_empty() {
            return;
        }
        let ahead = ack.since(next);
        if ahead <= 0 {
            return;
        }
        let ack_offset = self.offset + ahead as u64;
        while let Some((&key, _)) = self.pending.iter().next() {
            if key > ack_offset {
                break;
            }
            self.skip_to_pending_at(GapKind::Missing, frame_no, ts, sink);
        }
    }

    /// The sender reset the connection with a RST at `seq`. A RST at the next byte
    /// expected (or when that is unknown) is accepted (RFC 5961 §3.2): what is buffered is
    /// dropped and counted, and nothing the sender sends later is delivered: its stack
    /// dropped the connection, and so does the receiver's (RFC 9293 §3.10.7.4). A RST
    /// further on in the window is unconfirmed: the receiver accepted it if it had the
    /// bytes before it (the capture may miss them), else it answered with a challenge ACK
    /// and the connection goes on; data from the sender afterwards says which
    /// (`rst_unconfirmed` turns false). An old RST, or one beyond the window, is ignored by
    /// the receiver and counted as out of the window. Returns whether the RST may have
    /// been accepted.
    pub fn reset(&mut self, seq: Seq, frame_no: u64) -> bool {
        if self.reset {
            return true;
        }
        if let Some(next) = self.next_seq {
            let ahead = seq.since(next);
            let beyond = self.beyond_window(seq, next);
            if ahead < 0 || beyond.is_some() {
                self.note_out_of_window(frame_no, beyond.unwrap_or(0));
                return false;
            }
            if ahead > 0 {
                // Until data says otherwise, the bytes before it may just be missing from
                // the capture; what is buffered is delivered at the end, after gaps.
                self.unconfirmed_rst = true;
                return true;
            }
            let dropped = std::mem::take(&mut self.pending);
            self.pending_bytes = 0;
            let dropped: usize = dropped.values().map(|p| p.data.len()).sum();
            if dropped > 0 {
                self.note_after_reset(dropped as u64, frame_no);
            }
        }
        self.reset = true;
        true
    }

    /// The sender's last RST was not at the next byte expected, and no data has come from
    /// it since.
    pub fn rst_unconfirmed(&self) -> bool {
        self.unconfirmed_rst
    }

    /// Has the sender reset the connection?
    pub fn is_reset(&self) -> bool {
        self.reset
    }

    /// End of the stream (FIN, RST or end of capture): deliver whatever is buffered, with
    /// gaps for the holes before it.
    pub fn flush<F>(&mut self, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        while !self.pending.is_empty() {
            self.skip_to_pending(GapKind::Missing, sink);
        }
    }

    /// Gives up on every hole now, delivering what is buffered after gaps marked as a
    /// buffer limit (the capture-wide budget for out-of-order data is spent).
    pub fn give_up<F>(&mut self, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        while !self.pending.is_empty() {
            self.skip_to_pending(GapKind::BufferLimit, sink);
        }
    }

    fn skip_to_pending<F>(&mut self, kind: GapKind, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        let (frame_no, ts) = match self.pending.values().next() {
            Some(p) => (p.frame_no, p.ts),
            None => return,
        };
        self.skip_to_pending_at(kind, frame_no, ts, sink);
    }

    fn skip_to_pending_at<F>(&mut self, kind: GapKind, frame_no: u64, ts: Ts, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        let Some((&key, _)) = self.pending.iter().next() else {
            return;
        };
        if key > self.offset {
            let hole = key - self.offset;
            sink(StreamEvent::Gap {
                offset: self.offset,
                len: hole,
                kind,
                frame_no,
                ts,
            });
            self.advance(hole);
        }
        self.drain(None, sink);
    }

    fn advance(&mut self, n: u64) {
        self.offset += n;
        if let Some(next) = self.next_seq.as_mut() {
            // Sequence numbers count modulo 2^32: dropping the high bits is the wrap.
            *next += n as u32;
        }
    }

    fn deliver<F>(&mut self, bytes: &[u8], missing: u32, frame_no: u64, ts: Ts, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        if !bytes.is_empty() {
            sink(StreamEvent::Data {
                offset: self.offset,
                bytes,
                frame_no,
                ts,
            });
            self.advance(bytes.len() as u64);
        }
        if missing > 0 {
            sink(StreamEvent::Gap {
                offset: self.offset,
                len: u64::from(missing),
                kind: GapKind::SnapLen,
                frame_no,
                ts,
            });
            self.advance(u64::from(missing));
        }
    }

    /// Delivers buffered segments that have become in order: with the packet `completed`
    /// (the one that filled the hole before them, when a packet did), else each with its
    /// own (a hole given up on: when the receiver got the missing bytes is not known).
    fn drain<F>(&mut self, completed: Option<(u64, Ts)>, sink: &mut F)
    where
        F: FnMut(StreamEvent<'_>),
    {
        while let Some(entry) = self.pending.first_entry() {
            let key = *entry.key();
            if key > self.offset {
                break;
            }
            let p = entry.remove();
            self.pending_bytes -= p.data.len();
            let end = key + p.span();
            if end <= self.offset {
                continue;
            }
            let (bytes, missing) = split_tail(&p.data, p.missing, self.offset - key);
            let (frame_no, ts) = completed.unwrap_or((p.frame_no, p.ts));
            self.deliver(bytes, missing, frame_no, ts, sink);
        }
    }

    fn check_retransmission(&mut self, seq: Seq, payload: &[u8], frame_no: u64) {
        if let Some((last_seq, last_len, last_digest)) = self.last_segment {
            if last_seq == seq && last_len == payload.len() && digest(payload) != last_digest {
                self.note_inconsistent(frame_no);
            }
        }
    }

    fn note_inconsistent(&mut self, frame_no: u64) {
        if self.stats.inconsistent_overlaps == 0 {
            self.stats.first_inconsistent_frame = frame_no;
        }
        self.stats.inconsistent_overlaps += 1;
    }

    #[cold]
    fn note_after_reset(&mut self, bytes: u64, frame_no: u64) {
        if self.stats.after_reset_bytes == 0 {
            self.stats.first_after_reset_frame = frame_no;
        }
        self.stats.after_reset_bytes += bytes;
    }

    #[cold]
    fn note_out_of_window(&mut self, frame_no: u64, beyond: u64) {
        self.stats
            .first_out_of_window
            .get_or_insert((frame_no, beyond));
        self.stats.out_of_window += 1;
    }
}

/// The part of a segment after its first `skip` bytes.
fn split_tail(payload: &[u8], missing: u32, skip: u64) -> (&[u8], u32) {
    let skip_bytes = usize::try_from(skip)
        .unwrap_or(usize::MAX)
        .min(payload.len());
    let rest = payload.get(skip_bytes..).unwrap_or_default();
    let skip_missing = skip.saturating_sub(payload.len() as u64);
    let missing = u64::from(missing).saturating_sub(skip_missing) as u32;
    (rest, missing)
}

/// A cheap digest used only to tell a faithful retransmission from one with different
/// bytes: the wrapping sum and the xor of the 8-byte words (both change when any single byte
/// does), plus the tail. Sums and xors vectorise; this runs on every in-order segment.
fn digest(bytes: &[u8]) -> u64 {
    let mut sum: u64 = 0;
    let mut xor: u64 = 0;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        sum = sum.wrapping_add(w);
        xor ^= w;
    }
    let mut tail = [0u8; 8];
    for (t, b) in tail.iter_mut().zip(chunks.remainder()) {
        *t = *b;
    }
    sum.wrapping_add(u64::from_le_bytes(tail)) ^ xor.rotate_left(29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Ev {
        D(u64, Vec<u8>),
        G(u64, u64, GapKind),
    }

    fn run(stream: &mut Stream, segs: &[(u32, &[u8])]) -> Vec<Ev> {
        let mut out = Vec::new();
        for (i, (seq, data)) in segs.iter().enumerate() {
            stream.segment(Seq(*seq), data, 0, i as u64 + 1, Ts(0), &mut |e| {
                push(&mut out, e)
            });
        }
        out
    }

    fn push(out: &mut Vec<Ev>, e: StreamEvent<'_>) {
        match e {
            StreamEvent::Data { offset, bytes, .. } => out.push(Ev::D(offset, bytes.to_vec())),
            StreamEvent::Gap {
                offset, len, kind, ..
            } => out.push(Ev::G(offset, len, kind)),
        }
    }

    fn bytes_of(evs: &[Ev]) -> Vec<u8> {
        evs.iter()
            .flat_map(|e| {
                if let Ev::D(_, b) = e {
                    b.clone()
                } else {
                    vec![]
                }
            })
            .collect()
    }

    #[test]
    fn in_order_reorder_duplicate() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(99), None);
        let evs = run(
            &mut s,
            &[
                (100, b"abc"),
                (106, b"ghi"),
                (103, b"def"),
                (103, b"def"),
                (109, b"j"),
            ],
        );
        // Each byte once, in order, as soon as the hole before it is filled; the
        // duplicate of the filler adds nothing.
        assert_eq!(
            evs,
            vec![
                Ev::D(0, b"abc".to_vec()),
                Ev::D(3, b"def".to_vec()),
                Ev::D(6, b"ghi".to_vec()),
                Ev::D(9, b"j".to_vec()),
            ]
        );
        assert_eq!(s.pending_bytes(), 0);
        assert_eq!(s.stats.inconsistent_overlaps, 0);
    }

    #[test]
    fn out_of_order_duplicate_is_buffered_once() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        let evs = run(&mut s, &[(4, b"def"), (4, b"def"), (4, b"de")]);
        assert!(evs.is_empty());
        assert_eq!(s.pending_bytes(), 3);
        let evs = run(&mut s, &[(1, b"abc")]);
        assert_eq!(
            evs,
            vec![Ev::D(0, b"abc".to_vec()), Ev::D(3, b"def".to_vec())]
        );
        assert_eq!(s.pending_bytes(), 0);
    }

    #[test]
    fn sequence_wraps() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(u32::MAX - 2), None);
        let evs = run(&mut s, &[(u32::MAX - 1, b"ab"), (0, b"cd"), (2, b"e")]);
        assert_eq!(bytes_of(&evs), b"abcde");
        assert_eq!(s.offset(), 5);
    }

    #[test]
    fn hole_and_ack_across_the_wrap() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(u32::MAX - 1), None);
        let mut out = Vec::new();
        // Offsets 0..2 sit at MAX and 0; the hole at offsets 2..4 (seq 1..3) is never sent.
        s.segment(Seq(u32::MAX), b"ab", 0, 1, Ts(0), &mut |e| {
            push(&mut out, e)
        });
        s.segment(Seq(3), b"ef", 0, 2, Ts(0), &mut |e| push(&mut out, e));
        // An old ACK from before the wrap releases nothing.
        s.acked(Seq(u32::MAX - 5), 1 << 16, 3, Ts(0), &mut |e| {
            push(&mut out, e)
        });
        assert_eq!(out, vec![Ev::D(0, b"ab".to_vec())]);
        s.acked(Seq(5), 1 << 16, 4, Ts(0), &mut |e| push(&mut out, e));
        assert_eq!(
            out,
            vec![
                Ev::D(0, b"ab".to_vec()),
                Ev::G(2, 2, GapKind::Missing),
                Ev::D(4, b"ef".to_vec())
            ]
        );
        assert_eq!(s.offset(), 6);
    }

    #[test]
    fn mid_stream_start_is_a_gap() {
        let mut s = Stream::new(1 << 20);
        let evs = run(&mut s, &[(5000, b"xy")]);
        assert_eq!(evs[0], Ev::G(0, 0, GapKind::MidStream));
        assert_eq!(evs[1], Ev::D(0, b"xy".to_vec()));
    }

    #[test]
    fn hole_flushed_at_end_and_by_ack() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        let mut out = Vec::new();
        s.segment(Seq(1), b"aa", 0, 1, Ts(0), &mut |e| push(&mut out, e));
        s.segment(Seq(5), b"cc", 0, 2, Ts(0), &mut |e| push(&mut out, e));
        assert_eq!(out.len(), 1);
        s.acked(Seq(7), 1 << 16, 3, Ts(0), &mut |e| push(&mut out, e));
        assert_eq!(out[1], Ev::G(2, 2, GapKind::Missing));
        assert_eq!(out[2], Ev::D(4, b"cc".to_vec()));
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        let mut out = Vec::new();
        s.segment(Seq(4), b"zz", 0, 1, Ts(0), &mut |e| push(&mut out, e));
        s.flush(&mut |e| push(&mut out, e));
        assert_eq!(
            out,
            vec![Ev::G(0, 3, GapKind::Missing), Ev::D(3, b"zz".to_vec())]
        );
    }

    #[test]
    fn buffer_cap_gives_up_on_hole() {
        let mut s = Stream::new(4);
        s.syn(Seq(0), None);
        let evs = run(&mut s, &[(3, b"cc"), (5, b"dd"), (7, b"ee")]);
        assert_eq!(evs[0], Ev::G(0, 2, GapKind::BufferLimit));
        assert!(s.pending_bytes() <= 4);
        assert_eq!(bytes_of(&evs), b"ccddee");
    }

    #[test]
    fn different_bytes_on_retransmission_are_noted() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        run(&mut s, &[(1, b"abc"), (1, b"abX")]);
        assert_eq!(s.stats.inconsistent_overlaps, 1);
        assert_eq!(s.stats.first_inconsistent_frame, 2);
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        run(&mut s, &[(5, b"abc"), (5, b"abX")]);
        assert_eq!(s.stats.inconsistent_overlaps, 1);
    }

    #[test]
    fn snaplen_cut_becomes_gap() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        let mut out = Vec::new();
        s.segment(Seq(1), b"ab", 3, 1, Ts(0), &mut |e| push(&mut out, e));
        s.segment(Seq(6), b"f", 0, 2, Ts(0), &mut |e| push(&mut out, e));
        assert_eq!(
            out,
            vec![
                Ev::D(0, b"ab".to_vec()),
                Ev::G(2, 3, GapKind::SnapLen),
                Ev::D(5, b"f".to_vec())
            ]
        );
    }

    /// Frame numbers of the data events.
    fn frames_of(stream: &mut Stream, segs: &[(u32, &[u8])]) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for (i, (seq, data)) in segs.iter().enumerate() {
            stream.segment(Seq(*seq), data, 0, i as u64 + 1, Ts(i as i64), &mut |e| {
                if let StreamEvent::Data {
                    offset, frame_no, ..
                } = e
                {
                    out.push((offset, frame_no));
                }
            });
        }
        out
    }

    #[test]
    fn buffered_data_goes_with_the_packet_that_completed_it() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        // Three segments in reverse: the third packet fills the first hole.
        let got = frames_of(&mut s, &[(7, b"ghi"), (4, b"def"), (1, b"abc")]);
        assert_eq!(got, vec![(0, 3), (3, 3), (6, 3)]);
        // A hole given up on (the end of the capture): each keeps its own packet.
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        frames_of(&mut s, &[(7, b"ghi"), (4, b"def")]);
        let mut out = Vec::new();
        s.flush(&mut |e| push(&mut out, e));
        assert_eq!(out[0], Ev::G(0, 3, GapKind::Missing));
    }

    #[test]
    fn conflicts_with_buffered_bytes_are_noted_and_resolved_as_linux_does() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        // [10, 20) buffered; [5, 15) differs over [10, 15); [0, 12) in order differs over
        // [5, 12) from the buffered [5, 10); [20, 22) ends it.
        let evs = run(
            &mut s,
            &[
                (11, b"kkkkkkkkkk"),
                (6, b"fffffXXXXX"),
                (1, b"aaaaaYYYYYYY"),
                (21, b"uu"),
            ],
        );
        assert_eq!(s.stats.inconsistent_overlaps, 2);
        assert_eq!(s.stats.first_inconsistent_frame, 2);
        // What Linux 6.18 delivered to the application for the same segments: the
        // in-order copy, then where buffered copies overlap, the one starting first.
        assert_eq!(bytes_of(&evs), b"aaaaaYYYYYYYXXXkkkkkuu");
        assert_eq!(s.pending_bytes(), 0);
        // A longer copy starting with a buffered segment replaces it (Linux 6.18 too).
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        let evs = run(
            &mut s,
            &[
                (6, b"kkkkk"),
                (6, b"XXXXXXXXXX"),
                (1, b"aaaaa"),
                (16, b"uu"),
            ],
        );
        assert_eq!(bytes_of(&evs), b"aaaaaXXXXXXXXXXuu");
        assert_eq!(s.stats.inconsistent_overlaps, 1);
        // Agreeing overlaps are not noted; a copy covering a buffered one replaces it.
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        run(&mut s, &[(11, b"klmno"), (9, b"ijklmnopq"), (12, b"lm")]);
        assert_eq!(s.stats.inconsistent_overlaps, 0);
        assert_eq!(s.pending_bytes(), 9);
    }

    #[test]
    fn segments_beyond_the_window_are_dropped_and_counted() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        let mut out = Vec::new();
        s.segment(Seq(1), b"ab", 0, 1, Ts(0), &mut |e| push(&mut out, e));
        // The receiver acknowledged 3 with a window of 100: bytes up to 102 are acceptable.
        s.acked(Seq(3), 100, 2, Ts(0), &mut |e| push(&mut out, e));
        s.segment(Seq(103), b"far", 0, 3, Ts(0), &mut |e| push(&mut out, e));
        s.segment(Seq(102), b"z", 0, 4, Ts(0), &mut |e| push(&mut out, e));
        assert_eq!(s.stats.out_of_window, 1);
        assert_eq!(s.stats.first_out_of_window, Some((3, 0)));
        assert_eq!(s.pending_bytes(), 1);
        // Without any window advertised, the bound is the largest window there is.
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        s.segment(Seq(1 + MAX_WINDOW), b"x", 0, 1, Ts(0), &mut |e| {
            push(&mut out, e)
        });
        s.segment(Seq(MAX_WINDOW), b"y", 0, 2, Ts(0), &mut |e| {
            push(&mut out, e)
        });
        assert_eq!(s.stats.out_of_window, 1);
        assert_eq!(s.pending_bytes(), 1);
    }

    #[test]
    fn nothing_after_the_senders_rst_is_delivered() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        let mut out = Vec::new();
        s.segment(Seq(1), b"ab", 0, 1, Ts(0), &mut |e| push(&mut out, e));
        s.segment(Seq(5), b"cd", 0, 2, Ts(0), &mut |e| push(&mut out, e));
        s.segment(Seq(9), b"ef", 0, 3, Ts(0), &mut |e| push(&mut out, e));
        // An old RST is ignored (RFC 5961 §3.2).
        assert!(!s.reset(Seq(2), 4));
        // One further on is unconfirmed; data from the sender then says it was challenged.
        assert!(s.reset(Seq(8), 5));
        assert!(s.rst_unconfirmed());
        s.segment(Seq(3), b"xy", 0, 6, Ts(0), &mut |e| push(&mut out, e));
        assert!(!s.rst_unconfirmed() && !s.is_reset());
        // A RST at the next byte resets: what is buffered and what comes later is dropped.
        assert!(s.reset(Seq(7), 7));
        s.segment(Seq(7), b"zz", 0, 8, Ts(0), &mut |e| push(&mut out, e));
        assert_eq!(
            out,
            vec![
                Ev::D(0, b"ab".to_vec()),
                Ev::D(2, b"xy".to_vec()),
                Ev::D(4, b"cd".to_vec())
            ]
        );
        assert_eq!(s.stats.after_reset_bytes, 4);
        assert_eq!(s.stats.first_after_reset_frame, 7);
        assert_eq!(s.stats.out_of_window, 1);
        assert_eq!(s.pending_bytes(), 0);
    }

    #[test]
    fn the_syn_ack_or_the_first_data_chooses_the_isn() {
        for (chosen, by_data) in [(100, false), (5000, false), (5000, true)] {
            let mut s = Stream::new(1 << 20);
            s.syn(Seq(100), None);
            s.syn(Seq(5000), Some(7));
            if !by_data {
                s.choose_isn(Seq(chosen));
            }
            let evs = run(&mut s, &[(chosen + 1, b"GET")]);
            assert_eq!(evs, vec![Ev::D(0, b"GET".to_vec())], "{chosen}");
            assert_eq!(s.isn(), Some(Seq(chosen)));
            assert_eq!(s.syn_wscale(), (chosen == 5000).then_some(7));
        }
    }

    #[test]
    fn partial_overlap_delivers_tail_once() {
        let mut s = Stream::new(1 << 20);
        s.syn(Seq(0), None);
        let evs = run(&mut s, &[(1, b"abcd"), (3, b"cdefg")]);
        assert_eq!(bytes_of(&evs), b"abcdefg");
    }
}

#[cfg(test)]
mod model {
    //! The reassembler against a naive model: a byte map of the original stream. Segments
    //! are cut at random, reordered, duplicated and some dropped; whatever is delivered must
    //! be the original bytes at their offsets, each offset at most once, and the gaps must
    //! cover exactly what was not delivered.
    use super::*;
    use proptest::prelude::*;

    fn segments(len: usize, cuts: &[usize]) -> Vec<(usize, usize)> {
        let mut points: Vec<usize> = cuts
            .iter()
            .map(|c| c % len.max(1))
            .filter(|c| *c > 0)
            .collect();
        points.push(0);
        points.push(len);
        points.sort_unstable();
        points.dedup();
        points.windows(2).map(|w| (w[0], w[1])).collect()
    }

    proptest! {
        #[test]
        fn matches_byte_map(
            data in proptest::collection::vec(any::<u8>(), 1..400),
            cuts in proptest::collection::vec(any::<usize>(), 0..20),
            order in proptest::collection::vec(any::<u32>(), 0..40),
            dup in proptest::collection::vec(any::<bool>(), 0..40),
            drop in proptest::collection::vec(any::<u8>(), 0..40),
            isn in any::<u32>(),
            cap in 16usize..600,
        ) {
            let segs = segments(data.len(), &cuts);
            // A permutation: sort by random keys, but keep it local so that small caps still
            // see in-order data from time to time.
            let mut plan: Vec<(u64, usize)> = segs.iter().enumerate()
                .map(|(i, _)| (i as u64 * 4 + u64::from(order.get(i).copied().unwrap_or(0) % 9), i))
                .collect();
            plan.sort_unstable();
            let mut sent = Vec::new();
            for (_, i) in plan {
                if drop.get(i).is_some_and(|d| d % 7 == 0) {
                    continue;
                }
                sent.push(i);
                if dup.get(i).copied().unwrap_or(false) {
                    sent.push(i);
                }
            }
            let mut stream = Stream::new(cap);
            stream.syn(Seq(isn), None);
            let mut delivered: Vec<Option<u8>> = vec![None; data.len()];
            let mut covered = vec![0u8; data.len()];
            let mut sink = |e: StreamEvent<'_>| match e {
                StreamEvent::Data { offset, bytes, .. } => {
                    for (k, b) in bytes.iter().enumerate() {
                        let at = offset as usize + k;
                        assert!(at < data.len(), "delivered past the end");
                        assert!(delivered[at].is_none(), "offset {at} delivered twice");
                        delivered[at] = Some(*b);
                        covered[at] += 1;
                    }
                }
                StreamEvent::Gap { offset, len, .. } => {
                    for at in offset as usize..(offset + len) as usize {
                        if at < covered.len() {
                            covered[at] += 1;
                        }
                    }
                }
            };
            for (n, i) in sent.iter().enumerate() {
                let (a, b) = segs[*i];
                let seq = Seq(isn) + 1 + a as u32;
                stream.segment(seq, &data[a..b], 0, n as u64 + 1, Ts(0), &mut sink);
                prop_assert!(stream.pending_bytes() <= cap);
            }
            stream.flush(&mut sink);
            for (at, d) in delivered.iter().enumerate() {
                if let Some(b) = d {
                    prop_assert_eq!(*b, data[at], "wrong byte at {}", at);
                }
            }
            // Everything up to the last delivered byte is data or gap, exactly once.
            let end = delivered.iter().rposition(|d| d.is_some()).map_or(0, |p| p + 1);
            for (at, c) in covered.iter().enumerate().take(end) {
                prop_assert_eq!(*c, 1, "offset {} covered {} times", at, c);
            }
            // Nothing lost when nothing was dropped.
            let all_sent = (0..segs.len()).all(|i| sent.contains(&i));
            if all_sent {
                prop_assert!(delivered.iter().all(Option::is_some) || cap < data.len(), "all data sent but not all delivered");
            }
        }
    }
}
