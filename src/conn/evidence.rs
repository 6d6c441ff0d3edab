//! The evidence before a Close: each side's `History` kept as frames are read (with the
//! findings a message alone reveals: text that is not UTF-8, compressed bytes that do not
//! inflate, a deflate bomb), and a snapshot of both when a Close starts the closing
//! handshake: the connection's age, the peer's last messages and the one that triggered
//! the Close, counts over the last second and ten, bursts, and pings left unanswered.

use crate::capture::Ts;
use crate::conn::frames::FrameSeen;
use crate::conn::{App, Mode};
use crate::report::{
    Activity, AgeSince, Burst, CloseEvidence, MessageKind, MessageReport, Trigger,
};
use crate::rules::Rule;
use crate::tcp::Side;
use crate::timefmt::ms_between;
use crate::ws::frame::FrameHeader;
use crate::ws::history::{History, Inflated, Message};
use crate::ws::inflate::MAX_MESSAGE_INFLATE;

/// The peer's last messages listed before a Close.
const RUN_UP: usize = 5;
/// The sender's own last messages listed.
const OWN: usize = 2;
/// A Close at most this long after a message reacted to it, whatever the sender's usual
/// reaction time ("a few milliseconds").
const TRIGGER_FLOOR_NS: i64 = 5_000_000;
/// Or at most this many times the sender's typical reaction on the connection.
const TRIGGER_REACTIONS: i64 = 3;
/// And never more than this.
const TRIGGER_CEILING_NS: i64 = 1_000_000_000;
/// Messages at most this far apart belong to one burst.
const BURST_GAP_NS: i64 = 100_000_000;
/// A burst has at least this many messages.
const BURST_MIN: u64 = 5;
const SECOND_NS: i64 = 1_000_000_000;
/// Round lifetimes, in seconds: token, session and proxy connection limits are set in these.
const ROUND_LIFETIMES_S: &[u64] = &[
    5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 600, 900, 1200, 1800, 3600, 7200, 10800,
    14400, 21600, 28800, 43200, 86400,
];
/// A round lifetime matches an age within this (plus `LIFETIME_SLACK_PER_MILLE` of it): a
/// server's timer fires a few milliseconds late.
const LIFETIME_SLACK_NS: i64 = 50_000_000;
const LIFETIME_SLACK_PER_MILLE: i64 = 1;
/// A message inflating to at least this much, this many times its wire size, is a bomb.
const BOMB_SIZE: u64 = 16 << 20;
const BOMB_RATIO: u64 = 200;

impl App {
    /// `side`'s frames start being read; `lost` when the stream was joined mid-way (an
    /// inflater's context is then unknown).
    #[cold]
    #[inline(never)]
    pub(super) fn start_history(&mut self, side: Side, lost: bool) {
        if self.sides[side].history.is_some() {
            return;
        }
        let deflate = self.deflate_params.map(|p| {
            if side == self.client {
                p.client_no_context_takeover
            } else {
                p.server_no_context_takeover
            }
        });
        let mut h = History::new(deflate, self.payloads);
        if lost {
            h.lost();
        }
        self.sides[side].history = Some(Box::new(h));
    }

    /// A data frame of `side` ended: its message, when `fin`, is complete. Notes the
    /// reaction time and what the message alone breaks.
    pub(super) fn message_frame_end(
        &mut self,
        side: Side,
        header: &FrameHeader,
        frame: u64,
        ts: Ts,
        seen: FrameSeen,
    ) {
        let fin = header.fin;
        // The peer's latest data frame (kept beside the frame counts, not in its history,
        // which is cold here).
        let peer_last = self.sides[side.other()].last_data.map(|(_, ts)| ts);
        let Some(h) = self.sides[side].history.as_mut() else {
            return;
        };
        if fin {
            if let Some(p) = peer_last {
                if h.last_sent().is_none_or(|l| l < p) && ts >= p {
                    h.reaction(ts.since(p));
                }
            }
        }
        let done = h.frame_end(
            header,
            frame,
            ts,
            seen.text,
            seen.missing,
            &self.inflate_budget,
        );
        if done == Some(true) {
            if let Some(seen) = h.last_message().as_ref().map(Seen::of) {
                self.note_message(side, &seen);
            }
        }
    }

    /// Before a Close's evidence is taken: both sides' compressed messages that wait are
    /// inflated, and what they reveal noted.
    #[cold]
    #[inline(never)]
    pub(super) fn resolve_histories(&mut self) {
        for side in Side::BOTH {
            let Some(h) = self.sides[side].history.as_mut() else {
                continue;
            };
            let resolved = h.resolve(&self.inflate_budget);
            let seen: Vec<Seen> = h
                .recent()
                .iter()
                .filter(|m| m.compressed && resolved.contains(&m.seq) && notable(m))
                .map(Seen::of)
                .collect();
            for s in &seen {
                self.note_message(side, s);
            }
        }
    }

    /// The findings one message of `side` reveals.
    #[cold]
    #[inline(never)]
    fn note_message(&mut self, side: Side, m: &Seen) {
        let sender = self.dir(side).sender();
        let at = Some(side);
        let (kind, wire, frame) = (m.kind, m.wire, m.frame);
        if let Some(e) = &m.error {
            self.note(Rule::InflateFailed, at, frame, || {
                format!("{sender} sent a compressed {kind} message that does not inflate ({e}): a peer fails the connection with 1007 (or 1002)")
            });
        } else if let Some(bad) = m.bad {
            self.note(Rule::InvalidUtf8Text, at, frame, || {
                format!("{sender} sent a text message that is not UTF-8 (first bad byte at offset {bad}): a peer fails the connection with 1007 (RFC 6455 §8.1)")
            });
        }
        if let Some((inflated, capped)) = m.bomb {
            let ratio = inflated / wire.max(1);
            let budget_spent = m.budget_spent;
            self.note(Rule::DeflateBomb, at, frame, || {
                if capped && budget_spent {
                    format!("{sender} sent a compressed message that inflated to {inflated} bytes or more from {wire}; wsclose stopped inflating it (the capture's inflation budget is spent)")
                } else if capped {
                    format!("{sender} sent a {wire}-byte compressed message that inflates past {inflated} bytes (over {ratio}:1): a deflate bomb; wsclose stopped inflating it")
                } else {
                    format!("{sender} sent a {wire}-byte compressed message that inflates to {inflated} bytes ({ratio}:1): a deflate bomb")
                }
            });
        }
    }

    /// Bytes of `side`'s current frame still to come.
    fn owed(&self, side: Side) -> (u64, Option<(FrameHeader, u64)>) {
        match &self.sides[side].mode {
            Mode::Frames(Some(r)) => (r.payload_owed(), r.current_frame()),
            _ => (0, None),
        }
    }

    /// The evidence before `side`'s Close in packet `frame` at `ts`.
    #[cold]
    #[inline(never)]
    pub(super) fn evidence_at_close(&self, side: Side, ts: Ts) -> CloseEvidence {
        let (since, age_since) = match self.opened {
            Some(t) => (t, AgeSince::Handshake),
            None => (self.first_seen, AgeSince::FirstPacket),
        };
        let age_ns = ts.since(since);
        let sender = self.sides[side].history.as_deref();
        let peer = self.sides[side.other()].history.as_deref();
        let trigger = peer.and_then(|p| {
            let m = p.last_message()?;
            let reaction = sender.and_then(History::typical_reaction);
            let within = reaction
                .map_or(TRIGGER_FLOOR_NS, |r| r.saturating_mul(TRIGGER_REACTIONS))
                .clamp(TRIGGER_FLOOR_NS, TRIGGER_CEILING_NS);
            let gap = ts.since(m.ts);
            (gap <= within && gap >= 0).then(|| Trigger {
                frame: m.frame,
                ms_before: ns_ms(gap),
                reaction_ms: reaction.map(ns_ms),
                within_ms: ns_ms(within),
            })
        });
        CloseEvidence {
            age_ms: ns_ms(age_ns),
            age_since,
            round_lifetime_s: round_lifetime(age_ns),
            trigger,
            sender: activity(sender, peer, ts, OWN, since, self.owed(side)),
            peer: activity(peer, sender, ts, RUN_UP, since, self.owed(side.other())),
            same_instant: None,
        }
    }
}

/// What the findings need of a message.
struct Seen {
    kind: &'static str,
    frame: u64,
    wire: u64,
    error: Option<String>,
    bad: Option<u64>,
    bomb: Option<(u64, bool)>,
    budget_spent: bool,
}

impl Seen {
    fn of(m: &Message) -> Seen {
        Seen {
            kind: if m.text { "text" } else { "binary" },
            frame: m.frame,
            wire: m.wire,
            error: m.inflate_error.clone(),
            bad: m.invalid_utf8_at,
            bomb: bomb(m),
            budget_spent: matches!(m.inflated, Inflated::AtLeast(n) if n < MAX_MESSAGE_INFLATE),
        }
    }
}

/// One side's activity before a Close at `at`; `other` is the other side's history (for
/// its pongs).
fn activity(
    h: Option<&History>,
    other: Option<&History>,
    at: Ts,
    listed: usize,
    opened: Ts,
    (owed, current): (u64, Option<(FrameHeader, u64)>),
) -> Activity {
    let Some(h) = h else {
        return Activity::default();
    };
    let (last_1s, capped_1) = h.count_within(at, SECOND_NS);
    let (last_10s, capped_10) = h.count_within(at, 10 * SECOND_NS);
    let burst = h.burst(BURST_GAP_NS).and_then(|(n, first)| {
        (n >= BURST_MIN).then(|| {
            let from = Ts(first.0.saturating_sub(10 * SECOND_NS)).max(opened);
            let window = first.since(from);
            let before = h.count_between(from, first);
            Burst {
                messages: n,
                span_ms: ns_ms(at.since(first)),
                rate_before_per_s: (window >= SECOND_NS / 10)
                    .then(|| round2(before as f64 * 1e9 / window as f64)),
            }
        })
    });
    let report = |m: &Message| message_report(m, at);
    Activity {
        messages: h.messages(),
        last_1s,
        last_10s,
        counts_at_least: capped_1 || capped_10,
        burst,
        recent: {
            let recent = h.recent();
            let skip = recent.len().saturating_sub(listed);
            recent.iter().skip(skip).map(report).collect()
        },
        in_progress: h
            .in_progress(at, owed, current.as_ref())
            .map(|m| message_report(&m, at)),
        first_invalid: h.first_invalid.as_ref().map(report),
        first_capped: h.first_capped.as_ref().map(report),
        pings: h.pings,
        pongs: h.pongs,
        unanswered_pings: h.pings_after(other.and_then(|o| o.last_pong)),
        last_ping_ms_before: h.last_ping().map(|t| ns_ms(at.since(t))),
    }
}

fn message_report(m: &Message, at: Ts) -> MessageReport {
    let (inflated_bytes, inflated_at_least) = match m.inflated {
        Inflated::No | Inflated::Unknown => (None, false),
        Inflated::Size(n) => (Some(n), false),
        Inflated::AtLeast(n) => (Some(n), true),
    };
    MessageReport {
        frame: m.frame,
        ms_before: ms_between(at, m.ts),
        kind: if m.text {
            MessageKind::Text
        } else {
            MessageKind::Binary
        },
        frames: m.frames,
        wire_bytes: m.wire,
        received_bytes: (m.received < m.wire).then_some(m.received),
        compressed: m.compressed,
        inflated_bytes,
        inflated_at_least,
        inflate_error: m.inflate_error.clone(),
        utf8_valid: m.utf8_checked.then_some(m.invalid_utf8_at.is_none()),
        invalid_utf8_at: m.invalid_utf8_at,
        head: (!m.head.is_empty()).then(|| head_text(&m.head, m.text)),
    }
}

/// First bytes as shown: text as (lossy) text, binary as hex.
fn head_text(head: &[u8], text: bool) -> String {
    if text {
        String::from_utf8_lossy(head).into_owned()
    } else {
        head.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// A message with something to note: not UTF-8, not inflating, or a bomb.
fn notable(m: &Message) -> bool {
    m.invalid_utf8_at.is_some() || m.inflate_error.is_some() || bomb(m).is_some()
}

/// (inflated size, stopped) when a message inflates like a bomb.
fn bomb(m: &Message) -> Option<(u64, bool)> {
    match m.inflated {
        Inflated::AtLeast(n) if m.inflate_error.is_none() && !m.gap => Some((n, true)),
        Inflated::Size(n) if n >= BOMB_SIZE && n / m.wire.max(1) >= BOMB_RATIO => Some((n, false)),
        _ => None,
    }
}

/// The round lifetime `age_ns` matches, in seconds.
fn round_lifetime(age_ns: i64) -> Option<u64> {
    ROUND_LIFETIMES_S.iter().copied().find(|s| {
        let l = i64::try_from(*s)
            .unwrap_or(i64::MAX)
            .saturating_mul(SECOND_NS);
        let slack = LIFETIME_SLACK_NS + l / 1000 * LIFETIME_SLACK_PER_MILLE;
        (age_ns - l).abs() <= slack
    })
}

fn ns_ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_lifetimes_match_within_a_timer_slack() {
        assert_eq!(round_lifetime(5_003_000_000), Some(5));
        assert_eq!(round_lifetime(4_990_000_000), Some(5));
        assert_eq!(round_lifetime(5_200_000_000), None);
        assert_eq!(round_lifetime(3_600_900_000_000), Some(3600));
        assert_eq!(round_lifetime(3_610_000_000_000), None);
        assert_eq!(round_lifetime(1_000_000), None);
    }
}
