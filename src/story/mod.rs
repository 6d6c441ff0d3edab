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
pub mod diagnosis;
pub mod tls;

use crate::capture::Ts;
use crate::client::reports::{self, Ending, Reported};
use crate::client::Family;
use crate::close::catalog;
use crate::close::code::CloseCode;
use crate::report::{
    Alternative, CloseReport, ConnReport, DecryptionStatus, Detection, EndKind, FailureKind,
    Finding, Observed, Outcome, Story, TcpEnd, TlsReport, Verdict,
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
    let family = report.client_software.as_ref().map(|c| c.family);
    if !ev.refused {
        story.client_observed = observed_by(&closes, ev, family);
        story.server_observed = server_observed(&closes, ev.first_end);
    }
    peer_reactions(&mut report.closes, tcp_ended);
    if let Some((kind, text)) = cause::likely_cause(report, ev, &story) {
        story.cause = Some(kind);
        story.likely_cause = Some(text);
    }
    if let Some(tls) = &report.tls {
        tls_story(
            tls,
            report.detection,
            family,
            &mut story,
            &mut report.findings,
        );
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
    let Some(answer) = closes.from(first.reverse()) else {
        return Outcome::OneSided;
    };
    let failing = matches!(answer.code, Some(1002 | 1007));
    if failing
        && closes
            .from(first)
            .is_some_and(|c| c.verdict == Verdict::Illegal)
    {
        return Outcome::Failed;
    }
    match closes.from(first) {
        Some(c) if c.code.is_none() && c.payload_len == 0 => Outcome::NoStatus,
        _ => Outcome::Clean,
    }
}

/// How the connection ended for the application on the sending side of `d`: the peer's
/// first Close, or TCP ending without one; with the sentence that says so.
fn ending_for(
    closes: &FirstCloses<'_>,
    d: Direction,
    end: Option<End>,
) -> Option<(Ending, String)> {
    let peer = d.reverse().sender();
    let Some(c) = closes.from(d.reverse()) else {
        let end = end?;
        return Some((
            Ending::Dropped(end.kind),
            format!(
                "TCP ended ({}) with no Close frame from the {peer}",
                end.kind
            ),
        ));
    };
    let frame = c.frame;
    Some(match (c.code, c.verdict) {
        (Some(code), Verdict::Legal) => (
            Ending::Close(code),
            format!("the {peer}'s Close frame (packet {frame}) carried {code}"),
        ),
        (code, Verdict::Illegal) => (
            Ending::IllegalClose(code),
            match code {
                Some(code) if !CloseCode(code).is_legal_on_wire() => format!("the {peer}'s Close frame (packet {frame}) carried {code}, which must never be sent"),
                Some(code) => format!("the {peer}'s Close frame (packet {frame}) carried {code} in a malformed frame ({})", c.problems.first().map_or("see the close", String::as_str)),
                None => format!("the {peer}'s Close frame (packet {frame}) had a malformed body"),
            },
        ),
        (None, _) => (
            Ending::EmptyClose,
            format!("the {peer}'s Close frame (packet {frame}) had no status code"),
        ),
    })
}

/// The answer a side gave on the wire to an illegal Close: its own Close's code (None for
/// an empty one), or no Close at all.
fn answer_to(closes: &FirstCloses<'_>, d: Direction) -> Option<Option<u16>> {
    closes.from(d).map(|c| c.code)
}

/// Whether `family`'s measured answer to an illegal Close is `answer`: Firefox answers
/// with an empty Close, the strict ones with 1002 (1007 for a reason that is not UTF-8).
fn answers_like(family: Family, answer: Option<u16>) -> bool {
    match family {
        Family::Firefox => answer.is_none(),
        _ => matches!(answer, Some(1002 | 1007)),
    }
}

/// What the application on the sending side of `d` was told: the identified family's
/// measured behaviour, else what every measured client reports, else the families side by
/// side. For an illegal Close, the side's own answer on the wire narrows it down.
fn observed_by(
    closes: &FirstCloses<'_>,
    ev: &Evidence,
    family: Option<Family>,
) -> Option<Observed> {
    let d = Direction::ClientToServer;
    let end = ev.first_end;
    if let Some(own) = end.filter(|e| ev.by(e) == d && closes.from(d.reverse()).is_none()) {
        // Nothing came from the server: the client's own code or library ended it.
        let none = Reported {
            code: None,
            was_clean: None,
            error_event: None,
            error: None,
        };
        let why = format!(
            "the client ended TCP itself ({}, packet {}) with no Close frame either way: its own code or library closed the socket (a timeout, an abort, a killed process), so it reports what made it quit, not a close from the server",
            own.kind, own.frame
        );
        return Some(observed(family, none, why, Vec::new()));
    }
    let (ending, mut why) = ending_for(closes, d, end)?;
    let mut family = family;
    let mut alternatives = reports::alternatives(ending);
    if let Ending::IllegalClose(code) = ending {
        match answer_to(closes, d) {
            Some(answer) => {
                let said = match answer {
                    Some(a) => format!("answered {a}"),
                    None => "answered with an empty Close".to_string(),
                };
                why.push_str(&format!("; this side {said}"));
                if family.is_some_and(|f| !answers_like(f, answer)) {
                    why.push_str(", not what its identified family does, so the answer on the wire is what counts");
                    family = None;
                }
                alternatives.retain(|(fs, _)| fs.iter().any(|&f| answers_like(f, answer)));
                if alternatives.is_empty() && answer == code {
                    why.push_str(": it passed the code through unchecked");
                    alternatives.push((
                        Vec::new(),
                        Reported {
                            code,
                            was_clean: Some(true),
                            error_event: None,
                            error: None,
                        },
                    ));
                }
            }
            None => why.push_str("; this side never answered it"),
        }
    }
    Some(resolve(family, ending, why, alternatives))
}

/// What a client of `family` (None: not identified) was told on `ending`.
fn observed_for(family: Option<Family>, ending: Ending, why: String) -> Observed {
    resolve(family, ending, why, reports::alternatives(ending))
}

/// The identified family's measured behaviour, else the one answer every measured family
/// gives, else the families side by side.
fn resolve(
    family: Option<Family>,
    ending: Ending,
    mut why: String,
    mut alternatives: Vec<(Vec<Family>, Reported)>,
) -> Observed {
    if let Some(f) = family {
        if let Some(r) = reports::reported(f, ending) {
            return observed(Some(f), r, why, Vec::new());
        }
        why.push_str(&format!(
            "; what {} reports here was not measured (measured: {})",
            f.label(),
            reports::measured_with(f)
        ));
    }
    match alternatives.len() {
        0 => observed(None, rfc(ending), why, Vec::new()),
        1 => {
            let (_, r) = alternatives.remove(0);
            observed(None, r, why, Vec::new())
        }
        _ => {
            why.push_str("; clients differ, and this one is not identified");
            let list = alternatives
                .into_iter()
                .map(|(families, reported)| Alternative { families, reported })
                .collect();
            let none = Reported {
                code: None,
                was_clean: None,
                error_event: None,
                error: None,
            };
            observed(None, none, why, list)
        }
    }
}

/// What the server's application was told. Server software is rarely named in a capture:
/// RFC 6455's answer, with the server's own answer to an illegal Close as the evidence of
/// how strict it is.
fn server_observed(closes: &FirstCloses<'_>, end: Option<End>) -> Option<Observed> {
    let d = Direction::ServerToClient;
    let (ending, mut why) = ending_for(closes, d, end)?;
    let mut reported = rfc(ending);
    if let Ending::IllegalClose(code) = ending {
        match answer_to(closes, d) {
            Some(a) if a == code && a.is_some() => {
                why.push_str("; the server echoed it: a lenient library that hands the code on");
                reported.code = code;
            }
            Some(Some(1002)) => why
                .push_str("; the server answered 1002: a strict library that fails the connection"),
            Some(Some(a)) => why.push_str(&format!("; the server answered {a}")),
            Some(None) => why.push_str("; the server answered with an empty Close"),
            None => why.push_str("; the server never answered it"),
        }
    }
    Some(observed(None, reported, why, Vec::new()))
}

/// A cause's first clause (up to its first colon or full stop): the finding names the
/// failure; the TLS section gives the rest.
fn first_clause(cause: &str) -> &str {
    let end = [": ", ". "]
        .iter()
        .filter_map(|sep| cause.find(sep))
        .min()
        .unwrap_or(cause.len());
    cause.get(..end).unwrap_or(cause)
}

/// What RFC 6455 §7.1.5 says the application is told.
fn rfc(ending: Ending) -> Reported {
    let code = match ending {
        Ending::Close(code) => Some(code),
        Ending::EmptyClose => Some(1005),
        Ending::IllegalClose(_) | Ending::Dropped(_) => Some(1006),
        Ending::TlsFailed { .. } => Some(1015),
    };
    Reported {
        code,
        was_clean: None,
        error_event: None,
        error: None,
    }
}

fn observed(
    family: Option<Family>,
    reported: Reported,
    why: String,
    alternatives: Vec<Alternative>,
) -> Observed {
    Observed {
        family,
        name: reported.code.map(|c| catalog::lookup(c).name),
        reported,
        why,
        alternatives,
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
    family: Option<Family>,
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
    // A failed handshake ends with its alert or a hang-up: close_notify is not expected.
    if tls.failure.is_none() {
        truncation(tls, story, findings);
    }
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
        let (ending, mut why) = if fail.kind == FailureKind::PlainHttpToTls {
            (
                Ending::Dropped(EndKind::Fin),
                "the Upgrade request was never answered: the server speaks TLS on this port"
                    .to_string(),
            )
        } else {
            (
                Ending::TlsFailed {
                    problem: fail.problem,
                    tls13: tls.version.map(|v| v.is_tls13()),
                },
                "the TLS handshake failed, so no WebSocket connection was made (cause under tls)"
                    .to_string(),
            )
        };
        if fail.confidence.is_some() {
            why.push_str("; inferred, as the failure is (its confidence is under tls)");
        }
        story.client_observed = Some(observed_for(family, ending, why));
        story.server_observed = None;
        story.likely_cause = Some(fail.cause.clone());
        findings.push(Finding::new(
            Rule::TlsHandshakeFailed,
            None,
            fail.frame,
            format!("the TLS handshake failed: {}", first_clause(&fail.cause)),
        ));
    } else if detection == Detection::Tls {
        // A completed handshake, or a session the capture joined after its handshake:
        // either way the WebSocket frames, Close frames included, are inside TLS and
        // nothing is known of the codes.
        story.outcome = Outcome::Encrypted;
        story.client_observed = None;
        story.server_observed = None;
        story.likely_cause = None;
        story.cause = None;
    }
}

/// Each Close's diagnosis from the evidence before it; the first one names the likely
/// cause when nothing else did.
pub fn diagnose(report: &mut ConnReport) {
    for c in &mut report.closes {
        c.diagnosis = diagnosis::diagnose(c);
    }
    if report.story.likely_cause.is_none() {
        report.story.likely_cause = report
            .closes
            .iter()
            .find_map(|c| c.diagnosis.as_ref())
            .map(|d| d.summary.clone());
    }
}
