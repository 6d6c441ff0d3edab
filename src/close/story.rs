//! The close story of one connection: who closed first, whether the other side answered,
//! how TCP ended, what each application observed, and the likely cause of a drop.
//!
//! Pure function of the facts collected by `conn`; adds its conclusions to the report and
//! findings. The observed codes follow RFC 6455 §7.1.5-§7.1.6 and the WebSocket API: the
//! code of the first Close frame received, 1005 when it had none, 1006 when the connection
//! ended without one.

use crate::capture::Ts;
use crate::close::catalog;
use crate::close::code::CloseCode;
use crate::conn::Conn;
use crate::report::timefmt::{ms_between, rfc3339};
use crate::report::{ConnReport, Finding, Observed, Outcome, Rule, Story, TcpEnd, Verdict};
use crate::tcp::Direction;

/// Idle timeouts of common proxies and load balancers, in seconds, with who uses them.
pub const IDLE_TIMEOUTS: &[(f64, &str)] = &[
    (
        60.0,
        "the 60 s default idle timeout of nginx (proxy_read_timeout) and AWS ALB",
    ),
    (100.0, "Cloudflare's 100 s proxy idle timeout"),
    (270.0, "Cloudflare Gateway's 270 s idle timeout"),
];
/// How close an idle period must be to a known timeout to match it: 2 %, at least 1 s.
const TIMEOUT_TOLERANCE: f64 = 0.02;
/// A RST this soon after the peer's message is taken as a reaction to that message.
const REACTION_WINDOW_NS: i64 = 2_000_000_000;

/// What `tell` needs from a finished connection.
pub struct Facts<'a> {
    pub conn: &'a Conn,
    pub client: usize,
    pub last_data: [Option<(u64, Ts)>; 2],
    pub data_after_close: bool,
    pub refused: bool,
}

impl Story {
    pub fn empty() -> Story {
        Story {
            outcome: Outcome::Open,
            first_closer: None,
            answered: None,
            close_delay_ms: None,
            tcp_end: None,
            data_after_close: false,
            idle_before_end_ms: None,
            client_observed: None,
            server_observed: None,
            likely_cause: None,
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

/// Fills `report.story`, the closes' peer reactions, and the story's findings.
pub fn tell(f: &Facts<'_>, report: &mut ConnReport, findings: &mut Vec<Finding>) {
    let conn = f.conn;
    let side_dir = |side: usize| {
        if side == f.client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    };
    let mut story = Story::empty();
    story.data_after_close = f.data_after_close;

    // TCP teardown: the earliest FIN or RST ("fin"/"rst" as the report spells it).
    let end: Option<(&'static str, usize, u64, Ts)> =
        conn.first_end().map(|(side, frame, ts, kind)| {
            (if kind == "RST" { "rst" } else { "fin" }, side, frame, ts)
        });
    let rst = (0..2).find_map(|side| conn.rst.get(side).copied().flatten().map(|r| (side, r)));
    story.idle_before_end_ms = conn.idle_before_end.map(|ns| (ns / 1000) as f64 / 1000.0);

    let first_close_of = |d: Direction| {
        report
            .closes
            .iter()
            .find(|c| c.direction == d)
            .map(|c| (c.frame, c.code, c.payload_len, c.verdict, c.ts.clone()))
    };
    let client_close = first_close_of(Direction::ClientToServer);
    let server_close = first_close_of(Direction::ServerToClient);
    let close_ts = |d: Direction| conn_close_ts(conn, f.client, d);

    let first = match (client_close.as_ref(), server_close.as_ref()) {
        (Some(c), Some(s)) => Some(if c.0 <= s.0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }),
        (Some(_), None) => Some(Direction::ClientToServer),
        (None, Some(_)) => Some(Direction::ServerToClient),
        (None, None) => None,
    };
    story.first_closer = first;
    if let Some(first) = first {
        let answered = match first {
            Direction::ClientToServer => server_close.is_some(),
            Direction::ServerToClient => client_close.is_some(),
        };
        story.answered = Some(answered);
        if answered {
            if let (Some(a), Some(b)) = (close_ts(first), close_ts(first.reverse())) {
                story.close_delay_ms = Some(ms_between(b, a));
            }
        }
    }
    if let Some((kind, side, frame, ts)) = end {
        let after_close_ms = first.and_then(close_ts).map(|c| ms_between(ts, c));
        story.tcp_end = Some(TcpEnd {
            kind,
            by: side_dir(side),
            frame,
            ts: rfc3339(ts),
            after_close_ms,
        });
    }

    let tcp_ended = end.is_some();
    story.outcome = if f.refused {
        Outcome::Refused
    } else {
        match (first, story.answered) {
            (None, _) if tcp_ended => Outcome::Abnormal,
            (None, _) => Outcome::Open,
            (Some(_), Some(true)) => {
                let first_close = if first == Some(Direction::ClientToServer) {
                    &client_close
                } else {
                    &server_close
                };
                if first_close
                    .as_ref()
                    .is_some_and(|c| c.1.is_none() && c.2 == 0)
                {
                    Outcome::NoStatus
                } else {
                    Outcome::Clean
                }
            }
            (Some(_), _) => Outcome::OneSided,
        }
    };

    // What each application observed: the code in the peer's Close frame.
    if !f.refused {
        for d in [Direction::ClientToServer, Direction::ServerToClient] {
            let peer_close = if d == Direction::ClientToServer {
                &server_close
            } else {
                &client_close
            };
            let peer = d.reverse().sender();
            let obs = match peer_close {
                Some((frame, Some(code), _, Verdict::Legal, _)) => {
                    Some(observed(*code, format!("the {peer}'s Close frame (packet {frame}) carried {code}")))
                }
                Some((frame, Some(code), _, Verdict::Illegal, _)) => Some(observed(
                    1006,
                    format!("the {peer}'s Close frame (packet {frame}) carried {code}, which is illegal: a strict library fails the connection (answering 1002), so its application sees 1006; lenient ones pass {code} through"),
                )),
                Some((frame, None, len, _, _)) if *len == 0 => {
                    Some(observed(1005, format!("the {peer}'s Close frame (packet {frame}) had no status code")))
                }
                Some((frame, None, _, _, _)) => Some(observed(
                    1006,
                    format!("the {peer}'s Close frame (packet {frame}) had a malformed body: the connection is failed"),
                )),
                None if tcp_ended => Some(observed(
                    1006,
                    format!("the connection ended without a Close frame from the {peer}"),
                )),
                None => None,
            };
            match d {
                Direction::ClientToServer => story.client_observed = obs,
                Direction::ServerToClient => story.server_observed = obs,
            }
        }
    }

    // Peer reactions to illegal closes.
    let closes_snapshot: Vec<(Direction, u64, Option<u16>)> = report
        .closes
        .iter()
        .map(|c| (c.direction, c.frame, c.code))
        .collect();
    for c in report
        .closes
        .iter_mut()
        .filter(|c| c.verdict == Verdict::Illegal)
    {
        let answer = closes_snapshot
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

    story.likely_cause = likely_cause(f, &story, end, rst, first, report);
    if let Some(tls) = &report.tls {
        tls_story(tls, report.detection, &mut story, findings);
    }
    match story.outcome {
        Outcome::Abnormal => findings.push(Finding {
            rule: Rule::NoCloseHandshake,
            severity: Rule::NoCloseHandshake.severity(),
            direction: end.map(|(_, side, _, _)| side_dir(side)),
            frame: end.map(|e| e.2).unwrap_or(0),
            count: 1,
            message: format!(
                "the connection ended ({}) without any Close frame: applications see 1006",
                end.map(|(k, side, _, _)| format!(
                    "{} from the {}",
                    k.to_uppercase(),
                    side_dir(side).sender()
                ))
                .unwrap_or_default()
            ),
        }),
        Outcome::OneSided if tcp_ended => {
            let who = first.map(|d| d.sender()).unwrap_or("?");
            let other = first.map(|d| d.reverse().sender()).unwrap_or("?");
            findings.push(Finding {
                rule: Rule::CloseNotAnswered,
                severity: Rule::CloseNotAnswered.severity(),
                direction: first,
                frame: end.map(|e| e.2).unwrap_or(0),
                count: 1,
                message: format!("the {who} sent Close but the {other} never answered before TCP closed (RFC 6455 §5.5.1 expects an answering Close)"),
            });
        }
        _ => {}
    }
    report.story = story;
}

/// The TLS part of the story: a failed handshake is what a client reports as 1015; a
/// completed one hides the WebSocket frames.
fn tls_story(
    tls: &crate::tlsconn::TlsReport,
    detection: crate::report::Detection,
    story: &mut Story,
    findings: &mut Vec<Finding>,
) {
    let tls_only = detection == crate::report::Detection::Tls;
    for problem in &tls.certificate_problems {
        findings.push(Finding {
            rule: Rule::CertificateProblem,
            severity: Rule::CertificateProblem.severity(),
            direction: Some(Direction::ServerToClient),
            frame: tls.server_hello_frame.unwrap_or(0),
            count: 1,
            message: problem.clone(),
        });
    }
    for hint in &tls.certificate_hints {
        findings.push(Finding {
            rule: Rule::CertificateHint,
            severity: Rule::CertificateHint.severity(),
            direction: Some(Direction::ServerToClient),
            frame: tls.server_hello_frame.unwrap_or(0),
            count: 1,
            message: hint.clone(),
        });
    }
    for a in tls
        .alerts
        .iter()
        .filter(|a| !a.encrypted && a.level == Some(1))
    {
        findings.push(Finding {
            rule: Rule::TlsAlert,
            severity: Rule::TlsAlert.severity(),
            direction: Some(a.direction),
            frame: a.frame,
            count: 1,
            message: format!(
                "{} sent a warning-level TLS alert: {}",
                a.direction.sender(),
                a.name.unwrap_or("unknown")
            ),
        });
    }
    if let Some(fail) = &tls.failure {
        story.outcome = Outcome::TlsFailed;
        let why = if fail.client_observed_code == 1015 {
            "the TLS handshake failed, so no WebSocket connection was made (cause under tls)"
        } else {
            "the connection ended before any WebSocket handshake (cause under tls)"
        };
        story.client_observed = Some(observed(fail.client_observed_code, why.to_string()));
        story.server_observed = None;
        story.likely_cause = Some(fail.cause.clone());
        let code = fail.client_observed_code;
        let what = if code == 1015 {
            "TLS handshake failed"
        } else {
            "abnormal closure"
        };
        findings.push(Finding {
            rule: Rule::TlsHandshakeFailed,
            severity: Rule::TlsHandshakeFailed.severity(),
            direction: None,
            frame: fail.frame,
            count: 1,
            message: format!(
                "a client would report close code {code} ({what}): {}",
                fail.cause
            ),
        });
    } else if tls_only {
        // A completed handshake, or a session the capture joined after its handshake:
        // either way the WebSocket frames are inside TLS.
        story.outcome = Outcome::Encrypted;
        // Close frames, if any, are inside TLS: nothing is known of the codes.
        story.client_observed = None;
        story.server_observed = None;
        story.likely_cause = None;
    }
}

fn conn_close_ts(conn: &Conn, client: usize, d: Direction) -> Option<Ts> {
    let side = if d == Direction::ClientToServer {
        client
    } else {
        1 - client
    };
    conn.app
        .closes
        .iter()
        .find(|c| c.side == side)
        .map(|c| c.ts)
}

fn likely_cause(
    f: &Facts<'_>,
    story: &Story,
    end: Option<(&'static str, usize, u64, Ts)>,
    rst: Option<(usize, (u64, Ts))>,
    first: Option<Direction>,
    report: &ConnReport,
) -> Option<String> {
    let side_dir = |side: usize| {
        if side == f.client {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        }
    };
    if f.refused {
        return Some("the HTTP Upgrade was refused: look at the HTTP status and the server's access rules, not at close codes".to_string());
    }
    let (kind, side, frame, _) = end?;
    let by = side_dir(side).sender();
    match story.outcome {
        Outcome::Abnormal | Outcome::OneSided => {}
        _ => return None,
    }
    if story.outcome == Outcome::OneSided {
        let closer = first?;
        if closer == side_dir(side) {
            let after = story
                .tcp_end
                .as_ref()
                .and_then(|e| e.after_close_ms)
                .unwrap_or(0.0);
            return Some(format!(
                "the {by} sent Close and closed TCP {after:.1} ms later without waiting for the answer: the {by}'s application sees 1006 even though it closed on purpose"
            ));
        }
        return Some(format!(
            "the {} never answered the Close: it may be stuck, or a proxy dropped the frame; the {by} then closed TCP",
            closer.reverse().sender()
        ));
    }
    if let Some(idle_ms) = story.idle_before_end_ms {
        let idle = idle_ms / 1000.0;
        for (secs, who) in IDLE_TIMEOUTS {
            if (idle - secs).abs() <= (secs * TIMEOUT_TOLERANCE).max(1.0) {
                return Some(format!(
                    "the connection was idle for {idle:.1} s before the {} from the {by}: that matches {who}. Send pings more often than that, or raise the timeout",
                    kind.to_uppercase()
                ));
            }
        }
    }
    if let Some((rst_side, (rst_frame, rst_ts))) = rst {
        let peer = 1 - rst_side;
        if let Some((msg_frame, msg_ts)) = f.last_data.get(peer).copied().flatten() {
            let gap = rst_ts.since(msg_ts);
            if (0..=REACTION_WINDOW_NS).contains(&gap) {
                return Some(format!(
                    "the {} reset the connection (packet {rst_frame}) {:.1} ms after the {}'s message in packet {msg_frame}: it (or a proxy in front of it) rejected or crashed on that message. Check its logs at {}",
                    side_dir(rst_side).sender(),
                    gap as f64 / 1e6,
                    side_dir(peer).sender(),
                    rfc3339(rst_ts)
                ));
            }
        }
    }
    if report
        .handshake
        .as_ref()
        .is_some_and(|h| h.response_frame.is_none())
    {
        return Some(format!(
            "the {by} closed the connection ({}, packet {frame}) without answering the HTTP Upgrade request: a wss:// (TLS) port reached with ws:// (TLS servers drop plaintext), a server that crashed on the request, or a proxy that refused it",
            kind.to_uppercase()
        ));
    }
    if report.frames.client_to_server + report.frames.server_to_client == 0 {
        return Some(format!(
            "no WebSocket frame was exchanged: the {by} closed TCP ({}) right after the handshake. Check authentication and the {by}'s logs",
            kind.to_uppercase()
        ));
    }
    let idle = story
        .idle_before_end_ms
        .map(|ms| format!(" after {:.1} s without traffic", ms / 1000.0))
        .unwrap_or_default();
    Some(format!(
        "the {by} closed TCP with a {} (packet {frame}){idle} without sending Close: a crash, a killed process, or a middlebox on the {by}'s side",
        kind.to_uppercase()
    ))
}
