//! The likely cause of a connection that ended without a complete close handshake: an idle
//! period matching a proxy's timeout (`crate::proxy`), a RST right after the peer's
//! message, an Upgrade never answered, a drop right after the handshake, a drop by a named
//! proxy, or a closer that did not wait.

use crate::proxy;
use crate::report::{ConnReport, DropCause, Outcome, Story};
use crate::story::Evidence;
use crate::tcp::Direction;

/// A RST this soon after the peer's message is taken as a reaction to that message.
const REACTION_WINDOW_NS: i64 = 2_000_000_000;

/// The likely cause, for refused upgrades, abnormal drops and one-sided closes: its name
/// and the sentence that tells it.
pub fn likely_cause(
    report: &ConnReport,
    ev: &Evidence,
    story: &Story,
) -> Option<(DropCause, String)> {
    if ev.refused {
        return Some((DropCause::UpgradeRefused, "the HTTP Upgrade was refused: look at the HTTP status and the server's access rules, not at close codes".to_string()));
    }
    let end = ev.first_end?;
    let by_dir = ev.by(&end);
    let by = by_dir.sender();
    let kind = end.kind;
    let frame = end.frame;
    match story.outcome {
        Outcome::OneSided => return one_sided(story, by_dir),
        Outcome::Abnormal => {}
        _ => return None,
    }
    // The proxy the handshake names, when it is the side that ended TCP.
    let proxy = report
        .handshake
        .as_ref()
        .and_then(proxy::identify)
        .filter(|p| p.side.sends() == by_dir);
    if let (Some(idle_ms), Some(tcp_end)) = (story.idle_before_end_ms, &story.tcp_end) {
        if let Some(t) = proxy::match_idle(idle_ms, proxy.as_ref()) {
            return Some((
                DropCause::IdleTimeout,
                proxy::idle_cause(&t, proxy.as_ref(), by, tcp_end, idle_ms),
            ));
        }
    }
    if let Some(cause) = reset_after_message(ev) {
        return Some((DropCause::ResetAfterMessage, cause));
    }
    if report
        .handshake
        .as_ref()
        .is_some_and(|h| h.response_frame.is_none())
    {
        return Some((DropCause::UpgradeNotAnswered, format!(
            "the {by} closed the connection ({kind}, packet {frame}) without answering the HTTP Upgrade request: a wss:// (TLS) port reached with ws:// (TLS servers drop plaintext), a server that crashed on the request, or a proxy that refused it"
        )));
    }
    if report.frames.client_to_server + report.frames.server_to_client == 0 {
        return Some((DropCause::NoFrames, format!(
            "no WebSocket frame was exchanged: the {by} closed TCP ({kind}) right after the handshake. Check authentication and the {by}'s logs"
        )));
    }
    if let (Some(p), Some(tcp_end)) = (&proxy, &story.tcp_end) {
        return Some((DropCause::ProxyDrop, proxy::proxy_drop_cause(p, tcp_end)));
    }
    let idle = story
        .idle_before_end_ms
        .map(|ms| format!(", {} after the last payload,", proxy::duration(ms)))
        .unwrap_or_default();
    Some((DropCause::DroppedWithoutClose, format!(
        "the {by} closed TCP ({kind}, packet {frame}){idle} without sending Close: a crash, a killed process, or a middlebox on the {by}'s side"
    )))
}

/// One side sent Close and TCP ended without the answer.
fn one_sided(story: &Story, ended_by: Direction) -> Option<(DropCause, String)> {
    let by = ended_by.sender();
    let closer = story.first_closer?;
    if closer == ended_by {
        let after = story
            .tcp_end
            .as_ref()
            .and_then(|e| e.after_close_ms)
            .unwrap_or(0.0);
        return Some((DropCause::CloserDidNotWait, format!(
            "the {by} sent Close and closed TCP {} later without waiting for the answer: the {by}'s application sees 1006 even though it closed on purpose",
            proxy::duration(after)
        )));
    }
    Some((DropCause::CloseNotAnswered, format!(
        "the {} never answered the Close: it may be stuck, or a proxy dropped the frame; the {by} then closed TCP",
        closer.reverse().sender()
    )))
}

/// A RST soon after the peer's last message: a reaction to that message.
fn reset_after_message(ev: &Evidence) -> Option<String> {
    let rst = ev.rst?;
    let rst_dir = ev.by(&rst);
    let peer = rst_dir.reverse();
    let (msg_frame, msg_ts) = ev.last_data[peer]?;
    let gap = rst.ts.since(msg_ts);
    (0..=REACTION_WINDOW_NS).contains(&gap).then(|| {
        format!(
            "the {} reset the connection (packet {}) {} after the {}'s message in packet {msg_frame}: it (or a proxy in front of it) rejected or crashed on that message. Check its logs at {}",
            rst_dir.sender(),
            rst.frame,
            proxy::duration(gap as f64 / 1e6),
            peer.sender(),
            rst.ts
        )
    })
}
