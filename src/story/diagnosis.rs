//! What a close was for, read from its code, its reason and the evidence before it
//! (`CloseEvidence`): 1008 as a rate limit, a lifetime, authentication, an Origin or
//! forbidden content; 1009 with the message over the limit; 1007 with the message that is
//! not UTF-8 or does not inflate; 1003 with the message type; 1011 with the pings left
//! unanswered or the message it followed; 1001 and 1012 with the other connections closed
//! at the same instant. Each diagnosis says its confidence: high when the reason and the
//! numbers agree, lower when only one of them speaks.

use crate::proxy::duration;
use crate::report::{
    Activity, CloseEvidence, CloseReport, Confidence, Diagnosis, DiagnosisKind, MessageKind,
    MessageReport,
};

/// A burst this long, this many times faster than before it, is a rate limit's doing even
/// when the reason does not say so.
const BURST_LIKELY: u64 = 10;
const BURST_SPEEDUP: f64 = 5.0;
/// Others closed at the same instant that make a restart.
const RESTART_OTHERS: u64 = 2;

/// Words a reason names a policy with (lowercase).
const RATE_WORDS: &[&str] = &[
    "rate",
    "too many",
    "too fast",
    "limit",
    "quota",
    "throttl",
    "flood",
    "slow down",
    "spam",
];
const AUTH_WORDS: &[&str] = &[
    "token",
    "auth",
    "expired",
    "expir",
    "jwt",
    "session",
    "credential",
    "login",
    "unauthori",
    "signed out",
    "logged out",
    "revoked",
];
const ORIGIN_WORDS: &[&str] = &["origin", "cors"];
const CONTENT_WORDS: &[&str] = &[
    "forbidden",
    "not allowed",
    "prohibited",
    "banned",
    "blocked",
    "profan",
    "content",
    "inappropriate",
    "abuse",
    "invalid message",
    "unsupported message",
];

/// The diagnosis of `close`, when its code is one the evidence can explain.
pub fn diagnose(close: &CloseReport) -> Option<Diagnosis> {
    let ev = close.evidence.as_deref()?;
    let code = close.code?;
    let reason = close.reason.as_deref().unwrap_or("").to_lowercase();
    let sender = close.direction.sender();
    let peer = close.direction.reverse().sender();
    let d = Reading {
        ev,
        reason: &reason,
        quoted: close.reason.as_deref(),
        sender,
        peer,
    };
    match code {
        1008 => Some(d.policy()),
        1009 => Some(d.too_big()),
        1007 => Some(d.invalid()),
        1003 => Some(d.unsupported()),
        1011 => Some(d.internal()),
        1001 | 1012 => Some(d.going_away(code)),
        _ => None,
    }
}

struct Reading<'a> {
    ev: &'a CloseEvidence,
    /// The reason, lowercase ("" when none).
    reason: &'a str,
    quoted: Option<&'a str>,
    sender: &'static str,
    peer: &'static str,
}

fn diag(cause: DiagnosisKind, confidence: Confidence, summary: String) -> Diagnosis {
    Diagnosis {
        cause,
        confidence,
        summary,
    }
}

impl Reading<'_> {
    fn says(&self, words: &[&str]) -> bool {
        words.iter().any(|w| self.reason.contains(w))
    }

    /// `, and the reason says "..."`, when there is one.
    fn and_reason(&self) -> String {
        match self.quoted {
            Some(r) if !r.is_empty() => format!(", and the reason says {r:?}"),
            _ => String::new(),
        }
    }

    /// The peer's message the Close followed at once.
    fn trigger(&self) -> Option<&MessageReport> {
        let t = self.ev.trigger.as_ref()?;
        self.ev
            .peer
            .recent
            .iter()
            .rev()
            .find(|m| m.frame == t.frame)
    }

    /// "the client's text message of 23 bytes (packet 140), 0.08 ms before the close"
    fn message(&self, m: &MessageReport) -> String {
        format!(
            "the {}'s {} message of {} (packet {}), {} before the close",
            self.peer,
            m.kind.name(),
            sizes(m),
            m.frame,
            duration(m.ms_before)
        )
    }

    /// "closed 5.000 s after the handshake, a round 5 s, with no client message in the last 1.10 s"
    fn lifetime_text(&self, lifetime: u64) -> String {
        let quiet = match self.ev.peer.recent.last() {
            Some(m) => format!(
                "the {}'s last message came {} before",
                self.peer,
                duration(m.ms_before)
            ),
            None => format!("the {} sent no message", self.peer),
        };
        format!(
            "closed {} after the handshake (a round {lifetime} s) and {quiet}: a lifetime (a token or session expiring), not a reaction to a message",
            duration(self.ev.age_ms)
        )
    }

    fn policy(&self) -> Diagnosis {
        use Confidence::*;
        use DiagnosisKind::*;
        let peer = &self.ev.peer;
        let burst = burst_text(peer, self.peer);
        let lifetime = self
            .ev
            .round_lifetime_s
            .filter(|_| self.ev.trigger.is_none());
        if self.says(RATE_WORDS) && !self.says(AUTH_WORDS) {
            let numbers = burst
                .clone()
                .unwrap_or_else(|| counts_text(peer, self.peer));
            let confidence = if burst.is_some() || self.ev.trigger.is_some() {
                High
            } else {
                Medium
            };
            return diag(
                RateLimit,
                confidence,
                format!("rate limit: {numbers}{}", self.and_reason()),
            );
        }
        if self.says(AUTH_WORDS) {
            return match lifetime {
                Some(l) => diag(
                    Lifetime,
                    High,
                    format!("{}{}", self.lifetime_text(l), self.and_reason()),
                ),
                None => diag(
                    Auth,
                    High,
                    format!(
                        "authentication: the reason names it; the connection was {} old{}",
                        duration(self.ev.age_ms),
                        self.and_reason()
                    ),
                ),
            };
        }
        if self.says(ORIGIN_WORDS) {
            return diag(
                Origin,
                High,
                format!("the page's Origin is not allowed{}", self.and_reason()),
            );
        }
        if self.says(CONTENT_WORDS) {
            return match self.trigger() {
                Some(m) => diag(ForbiddenContent, High, format!("forbidden content: {}{}", self.message(m), self.and_reason())),
                None => diag(ForbiddenContent, Medium, format!("forbidden content, by the reason; no {} message came just before the close{}", self.peer, self.and_reason())),
            };
        }
        if peer.burst.as_ref().is_some_and(bursty) {
            return diag(
                RateLimit,
                Medium,
                format!("probably a rate limit: {}", burst.unwrap_or_default()),
            );
        }
        if let Some(l) = lifetime {
            return diag(Lifetime, Medium, self.lifetime_text(l));
        }
        if let Some(m) = self.trigger() {
            return diag(
                ForbiddenContent,
                Low,
                format!("the policy was broken by {}", self.message(m)),
            );
        }
        diag(PolicyUnknown, Low, format!("no burst, round lifetime or message behind it: the connection was {} old and the {} sent {} message(s) in the last 10 s{}", duration(self.ev.age_ms), self.peer, peer.last_10s, self.and_reason()))
    }

    fn too_big(&self) -> Diagnosis {
        use Confidence::*;
        let peer = &self.ev.peer;
        let (m, confidence) = match (peer.in_progress.as_ref(), self.trigger()) {
            (Some(m), _) => (Some(m), High),
            (None, Some(m)) => (Some(m), High),
            (None, None) => {
                // The largest recent message; it is the one when it is also the last (the
                // receiver took its time reading or inflating it, nothing came after it).
                let largest = peer
                    .recent
                    .iter()
                    .max_by_key(|m| m.inflated_bytes.unwrap_or(m.wire_bytes));
                let last = largest.is_some_and(|m| Some(m) == peer.recent.last());
                (largest, if last { High } else { Medium })
            }
        };
        let Some(m) = m else {
            return diag(DiagnosisKind::MessageTooBig, Low, format!("no {} message is in the capture before the close: the limit is the receiver's, on a message not seen", self.peer));
        };
        let progress = if peer.in_progress.as_ref() == Some(m) {
            "still arriving: "
        } else {
            ""
        };
        let inflated = m.inflated_bytes.unwrap_or(0);
        if m.compressed
            && (m.inflated_at_least || inflated / m.wire_bytes.max(1) >= 200)
            && inflated >= 1 << 20
        {
            return diag(
                DiagnosisKind::DeflateBomb,
                confidence,
                format!("a deflate bomb: {progress}{}", self.message(m)),
            );
        }
        diag(
            DiagnosisKind::MessageTooBig,
            confidence,
            format!(
                "message over the {}'s size limit: {progress}{}",
                self.sender,
                self.message(m)
            ),
        )
    }

    fn invalid(&self) -> Diagnosis {
        use Confidence::*;
        let peer = &self.ev.peer;
        if let Some(m) = peer.first_invalid.as_ref() {
            let recent = self.trigger().is_some_and(|t| t.frame == m.frame);
            let confidence = if recent { High } else { Medium };
            return match (&m.inflate_error, m.invalid_utf8_at) {
                (Some(e), _) => diag(
                    DiagnosisKind::InflateFailed,
                    confidence,
                    format!("{} does not inflate ({e})", self.message(m)),
                ),
                (None, Some(at)) => diag(
                    DiagnosisKind::InvalidUtf8,
                    confidence,
                    format!(
                        "{} is not UTF-8 (first bad byte at offset {at})",
                        self.message(m)
                    ),
                ),
                _ => diag(DiagnosisKind::InvalidDataUnknown, Low, self.message(m)),
            };
        }
        if let Some(m) = peer
            .in_progress
            .as_ref()
            .or(self.trigger())
            .filter(|m| m.utf8_valid.is_none() && m.kind == MessageKind::Text)
        {
            return diag(
                DiagnosisKind::InvalidDataUnknown,
                Low,
                format!(
                    "{} could not be checked (compressed and not inflated, or cut)",
                    self.message(m)
                ),
            );
        }
        diag(DiagnosisKind::InvalidDataUnknown, Low, format!("every {} text message seen is UTF-8: the {} judged the content itself (a schema or an encoding it expects){}", self.peer, self.sender, self.and_reason()))
    }

    fn unsupported(&self) -> Diagnosis {
        use Confidence::*;
        match self.trigger().or(self.ev.peer.in_progress.as_ref()) {
            Some(m) => diag(
                DiagnosisKind::UnsupportedType,
                High,
                format!(
                    "the {} does not take {} messages: {}",
                    self.sender,
                    m.kind.name(),
                    self.message(m)
                ),
            ),
            None => match self.ev.peer.recent.last() {
                Some(m) => diag(
                    DiagnosisKind::UnsupportedType,
                    Medium,
                    format!(
                        "the {} does not take {} messages, probably: the last was {}",
                        self.sender,
                        m.kind.name(),
                        self.message(m)
                    ),
                ),
                None => diag(
                    DiagnosisKind::UnsupportedType,
                    Low,
                    format!(
                        "no {} message is in the capture before the close{}",
                        self.peer,
                        self.and_reason()
                    ),
                ),
            },
        }
    }

    fn internal(&self) -> Diagnosis {
        use Confidence::*;
        let own = &self.ev.sender;
        // Unanswered pings from the closer: the peer never answered one, or several went
        // unanswered, or the reason names the keepalive.
        let unanswered = own.unanswered_pings;
        let keepalive_reason = self.says(&["ping", "keepalive", "pong", "timeout"]);
        if unanswered >= 2 || (unanswered > 0 && (self.ev.peer.pongs == 0 || keepalive_reason)) {
            let last = own
                .last_ping_ms_before
                .map(|ms| format!(", the last {} before the close", duration(ms)))
                .unwrap_or_default();
            let pongs = match self.ev.peer.pongs {
                0 => format!("the {} never answered one", self.peer),
                n => format!("the {} answered {n} before going silent", self.peer),
            };
            return diag(
                DiagnosisKind::KeepaliveTimeout,
                High,
                format!(
                    "keepalive timeout: the {} sent {} ping(s) left unanswered{last}; {pongs}{}",
                    self.sender,
                    own.unanswered_pings,
                    self.and_reason()
                ),
            );
        }
        if let Some(m) = self.trigger() {
            return diag(
                DiagnosisKind::ServerErrorOnMessage,
                Medium,
                format!(
                    "the {} failed handling {}{}",
                    self.sender,
                    self.message(m),
                    self.and_reason()
                ),
            );
        }
        diag(DiagnosisKind::ServerErrorUnknown, Low, format!("no message or unanswered ping behind it: look at the {}'s logs at the time of the close{}", self.sender, self.and_reason()))
    }

    fn going_away(&self, code: u16) -> Diagnosis {
        use Confidence::*;
        let others = self.ev.same_instant.as_ref();
        match others {
            Some(s) if s.others >= RESTART_OTHERS => diag(DiagnosisKind::Restart, High, format!("a restart or deploy: {} other connection(s) to the same server closed with {code} within {} of this one", s.others, duration(s.window_ms))),
            _ if self.sender == "client" => diag(DiagnosisKind::GoingAway, Medium, format!("the client went away (a page closed or navigated, an app shutting down){}", self.and_reason())),
            Some(_) | None => diag(DiagnosisKind::GoingAway, Medium, format!("the server closed this connection with {code}, and no other connection to it in the capture closed at the same instant (a shutdown with only this one open, or the server ending this one){}", self.and_reason())),
        }
    }
}

/// "2,048 bytes (2,097,152 inflated)"
fn sizes(m: &MessageReport) -> String {
    let mut s = format!("{} bytes", group(m.wire_bytes));
    if let Some(r) = m.received_bytes {
        s = format!("{s}, {} of them arrived", group(r));
    }
    match (m.compressed, m.inflated_bytes) {
        (true, Some(n)) if m.inflated_at_least => {
            s.push_str(&format!(", inflating to more than {}", group(n)))
        }
        (true, Some(n)) => s.push_str(&format!(", {} inflated", group(n))),
        (true, None) => s.push_str(", compressed"),
        _ => {}
    }
    s
}

/// Digits in groups of three.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bursty(b: &crate::report::Burst) -> bool {
    b.messages >= BURST_LIKELY
        && b.rate_before_per_s.is_none_or(|before| {
            let rate = b.messages as f64 * 1000.0 / b.span_ms.max(1.0);
            rate >= BURST_SPEEDUP * before
        })
}

/// "the client sent 50 messages in the 0.52 s before the close (96/s; 5/s before)"
fn burst_text(a: &Activity, who: &str) -> Option<String> {
    let b = a.burst.as_ref()?;
    let rate = b.messages as f64 * 1000.0 / b.span_ms.max(1.0);
    let before = b
        .rate_before_per_s
        .map(|r| format!("; {r:.1}/s before"))
        .unwrap_or_default();
    Some(format!(
        "the {who} sent {} messages in the {} before the close ({rate:.0}/s{before})",
        b.messages,
        duration(b.span_ms)
    ))
}

/// "the client sent 3 messages in the last second, 12 in the last ten"
fn counts_text(a: &Activity, who: &str) -> String {
    let more = if a.counts_at_least { "at least " } else { "" };
    format!(
        "the {who} sent {more}{} message(s) in the last second, {more}{} in the last ten",
        a.last_1s, a.last_10s
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_three() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(2_097_152), "2,097,152");
    }
}
