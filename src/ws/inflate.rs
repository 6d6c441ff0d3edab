//! permessage-deflate (RFC 7692) inflation, streaming and bounded, and the streaming UTF-8
//! check of text messages.
//!
//! A sender compresses each message as raw DEFLATE, ends it with a sync flush and drops the
//! flush's last four bytes (`00 00 ff ff`, §7.2.1); with context takeover (the default) the
//! next message may refer back to the previous ones' bytes, so one inflater follows a whole
//! direction. The inflated bytes are passed on in pieces and never kept: the size of a
//! message is counted, its first bytes and its UTF-8 validity are judged by the caller.
//!
//! Work is bounded twice: a message stops inflating at `MAX_MESSAGE_INFLATE` bytes (the rest
//! of it is not inflated, and with context takeover neither are the direction's later
//! messages), and all connections of a capture share an `InflateBudget` that grows with the
//! compressed bytes seen, so that a capture of deflate bombs costs a bounded multiple of its
//! size rather than a stall. Never panics on input.

use std::sync::atomic::{AtomicU64, Ordering};

use flate2::{Decompress, FlushDecompress, Status};

/// Most bytes one message is inflated to; beyond, its size is only known to be larger.
pub const MAX_MESSAGE_INFLATE: u64 = 64 << 20;
/// Inflated bytes any capture may produce before the budget depends on its compressed bytes.
const BUDGET_BASE: u64 = 256 << 20;
/// Inflated bytes allowed per compressed byte seen, beyond `BUDGET_BASE`: text and JSON
/// deflate to a tenth or less, rarely to a hundredth; a bomb reaches a thousandth.
const BUDGET_RATIO: u64 = 16;
/// The sync flush's tail that senders drop and receivers put back (RFC 7692 §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// Output is produced in pieces of this size.
const PIECE: usize = 4 * 1024;

/// The inflation all connections of a capture may do, shared between them.
#[derive(Debug, Default)]
pub struct InflateBudget {
    compressed: AtomicU64,
    inflated: AtomicU64,
}

impl InflateBudget {
    pub fn new() -> InflateBudget {
        InflateBudget::default()
    }

    /// Inflated bytes still allowed.
    fn left(&self) -> u64 {
        let allowed = BUDGET_BASE.saturating_add(
            self.compressed
                .load(Ordering::Relaxed)
                .saturating_mul(BUDGET_RATIO),
        );
        allowed.saturating_sub(self.inflated.load(Ordering::Relaxed))
    }

    fn spend(&self, compressed: u64, inflated: u64) {
        self.compressed.fetch_add(compressed, Ordering::Relaxed);
        self.inflated.fetch_add(inflated, Ordering::Relaxed);
    }
}

/// Why a message stopped inflating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The compressed bytes are not valid DEFLATE (what a peer fails with 1007 or 1002).
    Invalid(String),
    /// The message reached `MAX_MESSAGE_INFLATE`.
    MessageCap,
    /// The capture's `InflateBudget` ran out.
    Budget,
}

/// A stored DEFLATE block of 32 KiB (the largest window), without its bytes: fed before a
/// message whose earlier context is unknown, so that its back-references land in known
/// bytes and its size comes out right (its content then may not).
const PRIME_HEADER: [u8; 5] = [0x00, 0x00, 0x80, 0xff, 0x7f];
const PRIME_LEN: usize = 32 * 1024;
static ZEROS: [u8; 4096] = [0; 4096];

/// One direction's inflater.
pub struct Inflater {
    z: Box<Decompress>,
    /// Where output is produced before it is passed on.
    buf: Vec<u8>,
    /// Inflated so far in the current message.
    message_out: u64,
    /// The current message's DEFLATE stream ended (BFINAL): the rest is not compressed data
    /// and the next message starts a new stream.
    stream_ended: bool,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater::new()
    }
}

impl Inflater {
    pub fn new() -> Inflater {
        Inflater {
            z: Box::new(Decompress::new(false)),
            buf: vec![0; PIECE],
            message_out: 0,
            stream_ended: false,
        }
    }

    /// Starts over with a 32 KiB window of zeros: what follows may refer back to bytes
    /// that were never seen.
    pub fn prime(&mut self) {
        self.z.reset(false);
        self.stream_ended = false;
        let mut input: &[u8] = &PRIME_HEADER;
        let mut left = PRIME_LEN;
        loop {
            let before = self.z.total_in();
            if self
                .z
                .decompress(input, &mut self.buf, FlushDecompress::None)
                .is_err()
            {
                return;
            }
            let used = usize::try_from(self.z.total_in() - before).unwrap_or(input.len());
            input = input.get(used..).unwrap_or_default();
            if input.is_empty() {
                if left == 0 {
                    return;
                }
                let n = left.min(ZEROS.len());
                input = ZEROS.get(..n).unwrap_or_default();
                left -= n;
            }
        }
    }

    /// A new compressed message starts. Without context takeover the sender's compressor
    /// started afresh, but its message cannot refer back past its own start, so the
    /// inflater goes on as it is (a reset would clear the 32 KiB window each message); only a
    /// stream that ended (BFINAL) starts a new one.
    pub fn begin(&mut self) {
        if self.stream_ended {
            self.z.reset(false);
        }
        self.message_out = 0;
        self.stream_ended = false;
    }

    /// Inflates one piece of the message's (unmasked) compressed payload, passing the
    /// output to `out`. Returns the bytes inflated.
    pub fn feed(
        &mut self,
        input: &[u8],
        budget: &InflateBudget,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<u64, Stop> {
        self.run(input, FlushDecompress::None, budget, out)
    }

    /// The message's last byte was fed: the dropped tail is put back and the rest of the
    /// output flushed. Returns the bytes inflated.
    pub fn end(&mut self, budget: &InflateBudget, out: &mut dyn FnMut(&[u8])) -> Result<u64, Stop> {
        self.run(&TAIL, FlushDecompress::Sync, budget, out)
    }

    fn run(
        &mut self,
        mut input: &[u8],
        flush: FlushDecompress,
        budget: &InflateBudget,
        out: &mut dyn FnMut(&[u8]),
    ) -> Result<u64, Stop> {
        let mut produced = 0u64;
        let mut consumed = 0u64;
        let result = loop {
            if self.stream_ended {
                break Ok(());
            }
            let room = MAX_MESSAGE_INFLATE.saturating_sub(self.message_out);
            if room == 0 {
                break Err(Stop::MessageCap);
            }
            let left = budget.left().saturating_sub(produced);
            if left == 0 {
                break Err(Stop::Budget);
            }
            let cap = usize::try_from(room.min(left)).unwrap_or(PIECE).min(PIECE);
            let Some(dst) = self.buf.get_mut(..cap) else {
                break Ok(());
            };
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let status = self.z.decompress(input, dst, flush);
            let used = usize::try_from(self.z.total_in() - in0).unwrap_or(input.len());
            let made = usize::try_from(self.z.total_out() - out0).unwrap_or(0);
            input = input.get(used..).unwrap_or_default();
            consumed += used as u64;
            produced += made as u64;
            self.message_out += made as u64;
            if let Some(piece) = dst.get(..made) {
                if !piece.is_empty() {
                    out(piece);
                }
            }
            match status {
                Err(e) => break Err(Stop::Invalid(e.to_string())),
                Ok(Status::StreamEnd) => self.stream_ended = true,
                Ok(_) => {}
            }
            // More output may be pending while the piece was filled; otherwise done once
            // the input is used up (or nothing moved: the inflater wants more input).
            if made < cap && (input.is_empty() || (used == 0 && made == 0)) {
                break Ok(());
            }
        };
        budget.spend(consumed, produced);
        result.map(|()| produced)
    }
}

/// A message's bytes judged as UTF-8 piece by piece: a sequence may be split anywhere.
#[derive(Clone, Debug, Default)]
pub struct Utf8Stream {
    carry: [u8; 4],
    carry_len: usize,
    /// Offset in the message of the first byte not yet judged (where `carry` starts).
    pos: u64,
    /// Offset in the message of the first byte that is not UTF-8.
    pub bad_at: Option<u64>,
}

impl Utf8Stream {
    pub fn feed(&mut self, bytes: &[u8]) {
        // ASCII, the common case, with nothing pending: valid as it stands.
        if self.carry_len == 0 && bytes.is_ascii() {
            self.pos += bytes.len() as u64;
            return;
        }
        self.feed_any(bytes);
    }

    #[inline(never)]
    fn feed_any(&mut self, mut bytes: &[u8]) {
        if self.bad_at.is_some() {
            return;
        }
        if self.carry_len > 0 {
            let need = seq_len(self.carry[0]);
            while self.carry_len < need {
                let Some((&b, rest)) = bytes.split_first() else {
                    return;
                };
                if let Some(slot) = self.carry.get_mut(self.carry_len) {
                    *slot = b;
                }
                self.carry_len += 1;
                bytes = rest;
            }
            if std::str::from_utf8(self.carry.get(..need).unwrap_or_default()).is_err() {
                self.bad_at = Some(self.pos);
                return;
            }
            self.pos += need as u64;
            self.carry_len = 0;
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => self.pos += bytes.len() as u64,
            Err(e) => {
                let valid = e.valid_up_to();
                let tail = bytes.get(valid..).unwrap_or_default();
                if e.error_len().is_some() || tail.len() > 3 {
                    self.bad_at = Some(self.pos + valid as u64);
                    return;
                }
                self.pos += valid as u64;
                self.carry_len = tail.len();
                if let Some(dst) = self.carry.get_mut(..tail.len()) {
                    dst.copy_from_slice(tail);
                }
            }
        }
    }

    /// `n` bytes known to be ASCII (checked by the caller): valid wherever they fall,
    /// unless a sequence is pending. Returns false when they must be fed instead.
    pub fn ascii(&mut self, n: usize) -> bool {
        if self.carry_len > 0 {
            return false;
        }
        self.pos += n as u64;
        true
    }

    /// The message ended: a sequence cut by its end is not UTF-8. Returns whether the
    /// whole message was.
    pub fn end(&mut self) -> bool {
        if self.bad_at.is_none() && self.carry_len > 0 {
            self.bad_at = Some(self.pos);
        }
        self.bad_at.is_none()
    }
}

/// Length of the UTF-8 sequence a lead byte starts (1 for a byte that cannot lead one, so
/// that it is judged at once).
fn seq_len(lead: u8) -> usize {
    match lead {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// One message compressed as RFC 7692 says: raw DEFLATE, sync flush, tail dropped.
    fn compress(c: &mut Compress, msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(msg.len() + 64);
        let start = c.total_in();
        loop {
            let done = usize::try_from(c.total_in() - start).unwrap();
            out.reserve(4096);
            c.compress_vec(&msg[done..], &mut out, FlushCompress::Sync)
                .unwrap();
            if usize::try_from(c.total_in() - start).unwrap() == msg.len() && out.ends_with(&TAIL) {
                break;
            }
        }
        out.truncate(out.len() - 4);
        out
    }

    fn inflate_all(
        inf: &mut Inflater,
        pieces: &[&[u8]],
        budget: &InflateBudget,
    ) -> (Vec<u8>, Result<(), Stop>) {
        let mut got = Vec::new();
        inf.begin();
        for p in pieces {
            if let Err(e) = inf.feed(p, budget, &mut |b| got.extend_from_slice(b)) {
                return (got, Err(e));
            }
        }
        let r = inf.end(budget, &mut |b| got.extend_from_slice(b));
        (got, r.map(|_| ()))
    }

    #[test]
    fn context_takeover_needs_the_earlier_messages() {
        let mut c = Compress::new(Compression::default(), false);
        let first = b"{\"type\":\"quote\",\"symbol\":\"ACME\",\"price\":101.5}".to_vec();
        let second = b"{\"type\":\"quote\",\"symbol\":\"ACME\",\"price\":101.7}".to_vec();
        let z1 = compress(&mut c, &first);
        let z2 = compress(&mut c, &second);
        assert!(z2.len() < z1.len(), "the second refers back to the first");
        let budget = InflateBudget::new();
        let mut inf = Inflater::new();
        assert_eq!(inflate_all(&mut inf, &[&z1], &budget).0, first);
        // Fed in one-byte pieces: the result does not depend on the cuts.
        let bytes: Vec<&[u8]> = z2.chunks(1).collect();
        assert_eq!(inflate_all(&mut inf, &bytes, &budget).0, second);
        // A fresh inflater (a reader that missed the first message) cannot read it.
        let mut fresh = Inflater::new();
        let (got, r) = inflate_all(&mut fresh, &[&z2], &budget);
        assert!(r.is_err() || got != second);
    }

    #[test]
    fn a_primed_inflater_gets_the_size_right_without_the_context() {
        let mut c = Compress::new(Compression::default(), false);
        let first = b"{\"type\":\"quote\",\"symbol\":\"ACME\",\"price\":101.5}".repeat(3);
        let second = b"{\"type\":\"quote\",\"symbol\":\"ACME\",\"price\":101.7}".to_vec();
        compress(&mut c, &first);
        let z2 = compress(&mut c, &second);
        let budget = InflateBudget::new();
        let mut inf = Inflater::new();
        inf.prime();
        let (got, r) = inflate_all(&mut inf, &[&z2], &budget);
        assert_eq!(r, Ok(()));
        assert_eq!(got.len(), second.len());
        assert_ne!(got, second, "the back-references read the primed zeros");
    }

    #[test]
    fn no_context_takeover_needs_no_reset() {
        let budget = InflateBudget::new();
        let mut inf = Inflater::new();
        for msg in [&b"hello hello hello"[..], b"world world world"] {
            let mut c = Compress::new(Compression::default(), false);
            let z = compress(&mut c, msg);
            assert_eq!(
                inflate_all(&mut inf, &[&z], &budget),
                (msg.to_vec(), Ok(()))
            );
        }
    }

    #[test]
    fn invalid_data_is_a_stop_not_a_panic() {
        let budget = InflateBudget::new();
        let mut inf = Inflater::new();
        // BTYPE 11 is reserved.
        let (_, r) = inflate_all(&mut inf, &[&[0xff, 0xff, 0xff]], &budget);
        assert!(matches!(r, Err(Stop::Invalid(_))), "{r:?}");
    }

    #[test]
    fn a_bomb_stops_at_the_message_cap() {
        let zeros = vec![0u8; 1 << 20];
        let mut c = Compress::new(Compression::best(), false);
        let mut z = Vec::new();
        // 96 MiB of zeros, compressed as one message (about 100 KB).
        for _ in 0..95 {
            let start = c.total_in();
            while c.total_in() - start < zeros.len() as u64 {
                let done = usize::try_from(c.total_in() - start).unwrap();
                z.reserve(1 << 16);
                c.compress_vec(&zeros[done..], &mut z, FlushCompress::None)
                    .unwrap();
            }
        }
        z.extend(compress(&mut c, &zeros));
        assert!(z.len() < 200_000, "{}", z.len());
        let budget = InflateBudget::new();
        let mut inf = Inflater::new();
        let mut n = 0u64;
        inf.begin();
        let r = inf.feed(&z, &budget, &mut |b| n += b.len() as u64);
        assert_eq!(r, Err(Stop::MessageCap));
        assert_eq!(n, MAX_MESSAGE_INFLATE);
    }

    #[test]
    fn the_budget_bounds_a_capture_of_bombs() {
        let zeros = vec![0u8; 4 << 20];
        let mut c = Compress::new(Compression::best(), false);
        let z = compress(&mut c, &zeros);
        let budget = InflateBudget::new();
        let mut total = 0u64;
        let mut stopped = false;
        for _ in 0..200 {
            let mut inf = Inflater::new();
            inf.begin();
            match inf.feed(&z, &budget, &mut |b| total += b.len() as u64) {
                Ok(_) => {}
                Err(Stop::Budget) => {
                    stopped = true;
                    break;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(stopped);
        let compressed = budget.compressed.load(Ordering::Relaxed);
        assert!(total <= BUDGET_BASE + BUDGET_RATIO * compressed, "{total}");
    }

    #[test]
    fn utf8_split_anywhere() {
        let text = "prix: 12 €, 価格 🎉 done".as_bytes();
        for cut in 0..text.len() {
            for cut2 in cut..text.len() {
                let mut u = Utf8Stream::default();
                u.feed(&text[..cut]);
                u.feed(&text[cut..cut2]);
                u.feed(&text[cut2..]);
                assert!(u.end(), "cuts {cut} {cut2}");
            }
        }
    }

    #[test]
    fn utf8_first_bad_byte_is_located() {
        let mut bad = b"abc \xe2\x82".to_vec(); // a euro sign cut short...
        bad.extend_from_slice(b"x tail"); // ...followed by ASCII
        for cut in 0..bad.len() {
            let mut u = Utf8Stream::default();
            u.feed(&bad[..cut]);
            u.feed(&bad[cut..]);
            assert!(!u.end(), "cut {cut}");
            assert_eq!(u.bad_at, Some(4), "cut {cut}");
        }
        let mut u = Utf8Stream::default();
        u.feed(b"ok \xf0\x9f");
        assert!(!u.end(), "a sequence cut by the end of the message");
        assert_eq!(u.bad_at, Some(3));
        let mut u = Utf8Stream::default();
        u.feed(b"\xff");
        assert_eq!(u.bad_at, Some(0));
    }
}
