//! The close story of one connection: who closed first, whether the other side answered,
//! how TCP ended, what each application observed, and the likely cause of a drop (`cause`);
//! for TLS connections, whether the handshake failed and why (`tls`).
//!
//! A pure function of the connection's report model and a few facts the model does not
//! carry (`Evidence`); it fills in the story, the closes' peer reactions and the story's
//! findings. The observed codes follow RFC 6455 §7.1.5-§7.1.6 and the WebSocket API: the
//! code of the first Close frame received, 1005 when it had none, 1006 when the connection
//! ended without one.

mod cause;
pub mod tls;

use crate::capture::Ts;
use crate::close::catalog;
use crate::close::code::CloseCode;
use crate::report::{
    CloseReport, ConnReport, DecryptionStatus, Detection, EndKind, Finding, Observed, Outcome,
    Story, TcpEnd, TlsReport, Verdict,
};
use crate::rules::Rule;
use crate::tcp::{Direction, PerDirection, Side};
use crate::timefmt::ms_between;

/// A FIN or RST: who sent it, in which packet, when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct End {
    pub side: Side,
    pub frame: u64,
    pub ts: Ts,
    pub kind: EndKind,
}

/// Which way `side` sends, given the client's side.
pub fn direction_of(side: Side, client: Side) -> Direction {
    if side == client {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    }
}

/// What the story needs beyond the report model.
#[derive(Clone, Debug)]
pub struct Evidence {
    /// The client's side of the connection.
    pub client: Side,
    /// The first FIN or RST.
    pub first_end: Option<End>,
    /// A RST: side A's when both sides sent one.
    pub rst: Option<End>,
    /// Time without payload either way before the first FIN or RST, in nanoseconds.
    pub idle_before_end_ns: Option<i64>,
    /// The last data frame of each direction: packet and time.
    pub last_data: PerDirection<Option<(u64, Ts)>>,
    /// Data frames were sent after the sender's own Close.
    pub data_after_close: bool,
    /// The HTTP Upgrade was refused.
    pub refused: bool,
}

impl Evidence {
    fn by(&self, end: &End) -> Direction {
        direction_of(end.side, self.client)
    }
}

/// The first Close frame of each direction.
struct FirstCloses<'a> {
    client: Option<&'a CloseReport>,
    server: Option<&'a CloseReport>,
}

impl<'a> FirstCloses<'a> {
    fn of(closes: &'a [CloseReport]) -> FirstCloses<'a> {
        let first = |d: Direction| closes.iter().find(|c| c.direction == d);
        FirstCloses {
            client: first(Direction::ClientToServer),
            server: first(Direction::ServerToClient),
        }
    }

    fn from(&self, d: Direction) -> Option<&'a CloseReport> {
        match d {
            Direction::ClientToServer => self.client,
            Direction::ServerToClient => self.server,
        }
    }

    /// Who sent Close first (by packet).
    fn first(&self) -> Option<Direction> {
        match (self.client, self.server) {
            (Some(c), Some(s)) if c.frame <= s.frame => Some(Direction::ClientToServer),
            (Some(_), Some(_)) | (None, Some(_)) => Some(Direction::ServerToClient),
            (Some(_), None) => Some(Direction::ClientToServer),
            (None, None) => None,
        }
    }
}

fn observed(code: u16, why: String) -> Observed {
    Observed {
        code,
        name: catalog::lookup(code).name,
        why,
    }
}

/// Fills `report.story`, the closes' peer reactions, and adds the story's findings.
pub fn tell(report: &mut ConnReport, ev: &Evidence) {
    let mut story = Story::open();
    story.data_after_close = ev.data_after_close;
    story.idle_before_end_ms = ev.idle_before_end_ns.map(|ns| (ns / 1000) as f64 / 1000.0);
    let closes = FirstCloses::of(&report.closes);
    let first = closes.first();
    story.first_closer = first;
    if let Some(first) = first {
        let answer = closes.from(first.reverse());
        story.answered = Some(answer.is_some());
        if let (Some(a), Some(b)) = (closes.from(first), answer) {
            story.close_delay_ms = Some(ms_between(b.ts, a.ts));
        }
    }
    if let Some(end) = ev.first_end {
        story.tcp_end = Some(TcpEnd {
            kind: end.kind,
            by: ev.by(&end),
            frame: end.frame,
            ts: end.ts,
            after_close_ms: first
                .and_then(|d| closes.from(d))
                .map(|c| ms_between(end.ts, c.ts)),
            tls_close_notify: None,
        });
    }
    let tcp_ended = ev.first_end.is_some();
    story.outcome = outcome(ev.refused, tcp_ended, first, &closes);
    if !ev.refused {
        story.client_observed = observed_by(&closes, Direction::ClientToServer, tcp_ended);
        story.server_observed = observed_by(&closes, Direction::ServerToClient, tcp_ended);
    }
    peer_reactions(&mut report.closes, tcp_ended);
    story.likely_cause = cause::likely_cause(report, ev, &story);
    if let Some(tls) = &report.tls {
        tls_story(tls, report.detection, &mut story, &mut report.findings);
    }
    if let Some(f) = story_finding(&story, ev) {
        report.findings.push(f);
    }
    report.story = story;
}

fn outcome(
    refused: bool,
    tcp_ended: bool,
    first: Option<Direction>,
    closes: &FirstCloses<'_>,
) -> Outcome {
    if refused {
        return Outcome::Refused;
    }
    let Some(first) = first else {
        return if tcp_ended {
            Outcome::Abnormal
        } else {
            Outcome::Open
        };
    };
    if closes.from(first.reverse()).is_none() {
        return Outcome::OneSided;
    }
    match closes.from(first) {
        Some(c) if c.code.is_none() && c.payload_len == 0 => Outcome::NoStatus,
        _ => Outcome::Clean,
    }
}

/// What the application on the sending side of `d` observed: the code in the peer's Close.
fn observed_by(closes: &FirstCloses<'_>, d: Direction, tcp_ended: bool) -> Option<Observed> {
    let peer = d.reverse().sender();
    match closes.from(d.reverse()) {
        Some(c) => {
            let frame = c.frame;
            Some(match (c.code, c.verdict) {
                (Some(code), Verdict::Legal) => observed(
                    code,
                    format!("the {peer}'s Close frame (packet {frame}) carried {code}"),
                ),
                (Some(code), Verdict::Illegal) => observed(
                    1006,
                    format!("the {peer}'s Close frame (packet {frame}) carried {code}, which is illegal: a strict library fails the connection (answering 1002), so its application sees 1006; lenient ones pass {code} through"),
                ),
                (None, _) if c.payload_len == 0 => observed(
                    1005,
                    format!("the {peer}'s Close frame (packet {frame}) had no status code"),
                ),
                (None, _) => observed(
                    1006,
                    format!("the {peer}'s Close frame (packet {frame}) had a malformed body: the connection is failed"),
                ),
            })
        }
        None if tcp_ended => Some(observed(
            1006,
            format!("the connection ended without a Close frame from the {peer}"),
        )),
        None => None,
    }
}

/// How the other side answered each illegal Close.
fn peer_reactions(closes: &mut [CloseReport], tcp_ended: bool) {
    let answers: Vec<(Direction, u64, Option<u16>)> = closes
        .iter()
        .map(|c| (c.direction, c.frame, c.code))
        .collect();
    for c in closes.iter_mut().filter(|c| c.verdict == Verdict::Illegal) {
        let answer = answers
            .iter()
            .find(|(d, frame, _)| *d == c.direction.reverse() && *frame >= c.frame);
        let other = c.direction.reverse().sender();
        c.peer_reaction = Some(match answer {
            Some((_, frame, Some(1002))) => format!("the {other} answered 1002 Protocol Error (packet {frame}): strict library behaviour"),
            Some((_, frame, Some(code))) if Some(*code) == c.code => format!("the {other} echoed {code} (packet {frame}): a lenient peer that did not check the code"),
            Some((_, frame, Some(code))) => format!("the {other} answered {} (packet {frame})", CloseCode(*code)),
            Some((_, frame, None)) => format!("the {other} answered with an empty Close (packet {frame})"),
            None if tcp_ended => format!("the {other} dropped the connection without answering"),
            None => format!("no answer from the {other} in the capture"),
        });
    }
}

/// The finding an unfinished close handshake is.
fn story_finding(story: &Story, ev: &Evidence) -> Option<Finding> {
    let end = ev.first_end;
    let frame = end.map_or(0, |e| e.frame);
    match story.outcome {
        Outcome::Abnormal => Some(Finding::new(
            Rule::NoCloseHandshake,
            end.map(|e| ev.by(&e)),
            frame,
            format!(
                "the connection ended ({}) without any Close frame: applications see 1006",
                end.map(|e| format!("{} from the {}", e.kind, ev.by(&e).sender()))
                    .unwrap_or_default()
            ),
        )),
        Outcome::OneSided if end.is_some() => {
            let first = story.first_closer;
            let who = first.map_or("?", Direction::sender);
            let other = first.map_or("?", |d| d.reverse().sender());
            Some(Finding::new(
                Rule::CloseNotAnswered,
                first,
                frame,
                format!("the {who} sent Close but the {other} never answered before TCP closed (RFC 6455 §5.5.1 expects an answering Close)"),
            ))
        }
        _ => None,
    }
}

/// Why a TLS session was not decrypted, or did not decrypt.
fn decryption_findings(tls: &TlsReport, findings: &mut Vec<Finding>) {
    let Some(d) = &tls.decryption else {
        return;
    };
    let rule = match d.status {
        DecryptionStatus::Decrypted => return,
        DecryptionStatus::WrongKey => Rule::DecryptionFailed,
        _ if tls.failure.is_some() => return,
        _ => Rule::NotDecrypted,
    };
    findings.push(Finding::new(rule, None, d.frame, d.detail.clone()));
}

/// Decrypted TLS: did the side that ended TCP send close_notify first? Without it the TLS
/// stream was cut: the peer was killed, crashed, or something in between dropped it.
fn truncation(tls: &TlsReport, story: &mut Story, findings: &mut Vec<Finding>) {
    let decrypted = tls
        .decryption
        .as_ref()
        .is_some_and(|d| d.status == DecryptionStatus::Decrypted);
    let Some(end) = story.tcp_end.as_mut().filter(|_| decrypted) else {
        return;
    };
    // close_notify, or a fatal alert (which ends the session as surely).
    let notified = tls.alerts.iter().any(|a| {
        a.direction == end.by
            && a.frame <= end.frame
            && (a.name == Some("close_notify") || a.level == Some(2))
    });
    end.tls_close_notify = Some(notified);
    if !notified {
        findings.push(Finding::new(
            Rule::TlsTruncated,
            Some(end.by),
            end.frame,
            format!(
                "the {} ended TCP ({}, packet {}) without a TLS close_notify: the TLS stream was truncated, not closed",
                end.by.sender(),
                end.kind,
                end.frame
            ),
        ));
    }
}

/// The TLS part of the story: a failed handshake is what a client reports as 1015; a
/// completed one hides the WebSocket frames.
fn tls_story(
    tls: &TlsReport,
    detection: Detection,
    story: &mut Story,
    findings: &mut Vec<Finding>,
) {
    let server = Some(Direction::ServerToClient);
    let hello = tls.server_hello_frame.unwrap_or(0);
    for problem in &tls.certificate_problems {
        findings.push(Finding::new(
            Rule::CertificateProblem,
            server,
            hello,
            problem.clone(),
        ));
    }
    for hint in &tls.certificate_hints {
        findings.push(Finding::new(
            Rule::CertificateHint,
            server,
            hello,
            hint.clone(),
        ));
    }
    decryption_findings(tls, findings);
    truncation(tls, story, findings);
    // Warning-level alerts other than close_notify, the orderly end (its absence is told
    // by `truncation`).
    for a in tls
        .alerts
        .iter()
        .filter(|a| a.level == Some(1) && a.name != Some("close_notify"))
    {
        findings.push(Finding::new(
            Rule::TlsAlert,
            Some(a.direction),
            a.frame,
            format!(
                "{} sent a warning-level TLS alert: {}",
                a.direction.sender(),
                a.name.unwrap_or("unknown")
            ),
        ));
    }
    if tls.failure.is_none() {
        // Fatal alerts inside an established session (the handshake failures are told
        // below).
        for a in tls
            .alerts
            .iter()
            .filter(|a| a.decrypted && a.level == Some(2))
        {
            findings.push(Finding::new(
                Rule::TlsFatalAlert,
                Some(a.direction),
                a.frame,
                format!(
                    "the {} ended the TLS session with the fatal alert {} (decrypted)",
                    a.direction.sender(),
                    a.name.unwrap_or("unknown")
                ),
            ));
        }
    }
    if let Some(fail) = &tls.failure {
        story.outcome = Outcome::TlsFailed;
        let code = fail.client_observed_code;
        let (why, what) = if code == 1015 {
            (
                "the TLS handshake failed, so no WebSocket connection was made (cause under tls)",
                "TLS handshake failed",
            )
        } else {
            (
                "the connection ended before any WebSocket handshake (cause under tls)",
                "abnormal closure",
            )
        };
        story.client_observed = Some(observed(code, why.to_string()));
        story.server_observed = None;
        story.likely_cause = Some(fail.cause.clone());
        findings.push(Finding::new(
            Rule::TlsHandshakeFailed,
            None,
            fail.frame,
            format!(
                "a client would report close code {code} ({what}): {}",
                fail.cause
            ),
        ));
    } else if detection == Detection::Tls {
        // A completed handshake, or a session the capture joined after its handshake:
        // either way the WebSocket frames, Close frames included, are inside TLS and
        // nothing is known of the codes.
        story.outcome = Outcome::Encrypted;
        story.client_observed = None;
        story.server_observed = None;
        story.likely_cause = None;
    }
}
