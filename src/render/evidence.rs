//! The evidence before a Close in the human report: the connection's age, the peer's
//! activity and last messages (the trigger marked), pings, and the diagnosis.

use std::fmt::Write as _;

use crate::proxy::duration;
use crate::render::text::confidence_word;
use crate::render::wrap::wrap;
use crate::report::{Activity, CloseEvidence, CloseReport, MessageReport};
use crate::story::diagnosis::group;

/// Indent of a field's value under a close.
const FIELD: &str = "                      ";
/// The peer's messages listed, newest first.
const LISTED: usize = 3;

/// The lines under a Close that started the closing handshake.
pub fn block(o: &mut String, close: &CloseReport, cont: &str) {
    let Some(ev) = close.evidence.as_deref() else {
        return;
    };
    let peer = close.direction.reverse().sender();
    let sender = close.direction.sender();
    let _ = writeln!(o, "{cont}age      {}", age(ev));
    let _ = writeln!(
        o,
        "{cont}{:<9}{}",
        peer,
        wrap(&activity(&ev.peer), 76, FIELD)
    );
    let trigger = ev.trigger.as_ref().map(|t| t.frame);
    let mut listed: Vec<String> = Vec::new();
    if let Some(m) = &ev.peer.in_progress {
        listed.push(format!(
            "{} (still arriving, from packet {})",
            message(m),
            m.frame
        ));
    }
    for m in ev.peer.recent.iter().rev().take(LISTED) {
        let mark = if Some(m.frame) == trigger {
            ", the trigger"
        } else {
            ""
        };
        listed.push(format!(
            "{}, {} before (packet {}{mark})",
            message(m),
            duration(m.ms_before),
            m.frame
        ));
    }
    if !listed.is_empty() {
        let _ = writeln!(o, "{cont}last     {}", wrap(&listed.join("; "), 76, FIELD));
    }
    if let Some(t) = &ev.trigger {
        let reaction = t
            .reaction_ms
            .map(|r| {
                format!(
                    "; it answers messages in {} on this connection",
                    duration(r)
                )
            })
            .unwrap_or_default();
        let line = format!(
            "the Close came {} after packet {}, within the {} a reaction takes{reaction}",
            duration(t.ms_before),
            t.frame,
            duration(t.within_ms)
        );
        let _ = writeln!(o, "{cont}trigger  {}", wrap(&line, 76, FIELD));
    }
    if ev.sender.pings + ev.peer.pings > 0 {
        let line = format!("{}; {}", pings(sender, &ev.sender), pings(peer, &ev.peer));
        let _ = writeln!(o, "{cont}pings    {}", wrap(&line, 76, FIELD));
    }
    if let Some(d) = &close.diagnosis {
        let line = format!(
            "{} confidence: {}",
            confidence_word(d.confidence),
            d.summary
        );
        let _ = writeln!(o, "{cont}verdict  {}", wrap(&line, 76, FIELD));
    }
}

fn age(ev: &CloseEvidence) -> String {
    let since = match ev.age_since {
        crate::report::AgeSince::Handshake => "since the handshake",
        crate::report::AgeSince::FirstPacket => {
            "since the first packet (the handshake is not in the capture)"
        }
    };
    let round = ev
        .round_lifetime_s
        .map(|l| format!(", a round {l} s"))
        .unwrap_or_default();
    format!("{} {since}{round}", duration(ev.age_ms))
}

/// "53 messages; 50 in the last second, 53 in the last ten; a burst of 50 in 580 ms (86/s, 4.1/s before)"
fn activity(a: &Activity) -> String {
    let more = if a.counts_at_least { "at least " } else { "" };
    let mut s = format!(
        "{} message(s); {more}{} in the last second, {more}{} in the last ten",
        a.messages, a.last_1s, a.last_10s
    );
    if let Some(b) = &a.burst {
        let rate = b.messages as f64 * 1000.0 / b.span_ms.max(1.0);
        let before = b
            .rate_before_per_s
            .map(|r| format!(", {r:.1}/s before"))
            .unwrap_or_default();
        let _ = write!(
            s,
            "; a burst of {} in {} ({rate:.0}/s{before})",
            b.messages,
            duration(b.span_ms)
        );
    }
    s
}

/// "text 2,097,152 bytes inflated from 146,211"
fn message(m: &MessageReport) -> String {
    let kind = m.kind.name();
    let mut s = match (m.compressed, m.inflated_bytes) {
        (true, Some(n)) if m.inflated_at_least => format!(
            "{kind} over {} bytes inflated from {}",
            group(n),
            group(m.wire_bytes)
        ),
        (true, Some(n)) => format!(
            "{kind} {} bytes inflated from {}",
            group(n),
            group(m.wire_bytes)
        ),
        (true, None) => format!("{kind} {} bytes compressed", group(m.wire_bytes)),
        (false, _) => format!("{kind} {} bytes", group(m.wire_bytes)),
    };
    if let Some(r) = m.received_bytes {
        let _ = write!(s, " ({} arrived)", group(r));
    }
    if let Some(at) = m.invalid_utf8_at {
        let _ = write!(s, ", not UTF-8 at byte {at}");
    }
    if m.inflate_error.is_some() {
        s.push_str(", does not inflate");
    }
    if let Some(h) = &m.head {
        let _ = write!(s, " {}", crate::render::text::quoted(h));
    }
    s
}

/// "server 3 ping(s), 2 unanswered (the last 1.002 s before), 0 pong(s)"
fn pings(who: &str, a: &Activity) -> String {
    let last = a
        .last_ping_ms_before
        .map(|ms| format!(", the last {} before", duration(ms)))
        .unwrap_or_default();
    let unanswered = if a.pings > 0 {
        format!(" ({} unanswered{last})", a.unanswered_pings)
    } else {
        String::new()
    };
    format!("{who} {} ping(s){unanswered}, {} pong(s)", a.pings, a.pongs)
}
