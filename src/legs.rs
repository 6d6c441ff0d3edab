//! The two legs of a proxied session, linked: a client -> proxy connection and a
//! proxy -> backend connection that carried the same frames (same opcodes and payload
//! sizes, in the same order, each relayed within `RELAY_WINDOW_NS` the right way round)
//! and whose TCP ends came within `END_WINDOW_NS` of each other. Both reports then tell
//! one story across the proxy: who ended the session first, on which leg, and how soon the
//! proxy passed it on.
//!
//! `Linker` sits between the flow table and the caller: it holds each finished connection
//! a while (at most `MAX_HELD` of them, and no longer than `HOLD_NS` of capture time) so
//! that its partner can still arrive, and hands them on in the order they came. Never
//! panics.

use std::collections::VecDeque;

use crate::proxy;
use crate::report::{
    Confidence, ConnReport, Detection, DropCause, EndKind, FrameTrace, LegRole, LinkedLeg, Outcome,
    Party, ProxySide, TcpEnd, TracedFrame,
};
use crate::tcp::Direction;
use crate::timefmt::ms_between;

/// Most a proxy takes to relay a frame (capture time, nanoseconds): proxies copy frames
/// as they come, within a few milliseconds.
const RELAY_WINDOW_NS: i64 = 20_000_000;
/// Most between the two legs' first FIN or RST: a proxy passes an end on at once.
const END_WINDOW_NS: i64 = 1_000_000_000;
/// Frames that must match: fewer could be chance.
const MIN_MATCHED: u64 = 2;
/// Frames that must match, both ways, when a leg's handshake is not in the capture.
const MIN_MATCHED_WITHOUT_HANDSHAKE: u64 = 4;
/// Connections held at most while their partner may come.
const MAX_HELD: usize = 256;
/// Capture time a connection is held past its end: the flow table reports a connection
/// 2 s after its end at the earliest, so its partner has come by then.
const HOLD_NS: i64 = 30_000_000_000;

/// Holds finished connections, links proxied legs, and passes every connection on.
pub struct Linker<'a> {
    held: VecDeque<ConnReport>,
    on_conn: &'a mut dyn FnMut(&ConnReport),
}

impl<'a> Linker<'a> {
    /// Every connection pushed goes to `on_conn`, in the same order, linked when it can be.
    pub fn new(on_conn: &'a mut dyn FnMut(&ConnReport)) -> Linker<'a> {
        Linker {
            held: VecDeque::new(),
            on_conn,
        }
    }

    /// One finished connection.
    pub fn push(&mut self, mut report: ConnReport) {
        if self.held.is_empty() && !candidate(&report) {
            (self.on_conn)(&report);
            return;
        }
        if candidate(&report) {
            let best = self
                .held
                .iter()
                .enumerate()
                .filter_map(|(i, other)| Some((i, link(other, &report)?)))
                .min_by_key(|(_, l)| l.end_gap_ns);
            if let Some((i, l)) = best {
                if let Some(other) = self.held.get_mut(i) {
                    apply(other, &mut report, &l);
                }
            }
        }
        let now = report.end;
        self.held.push_back(report);
        while let Some(front) = self.held.front() {
            if self.held.len() <= MAX_HELD && now.since(front.end) <= HOLD_NS {
                break;
            }
            if let Some(r) = self.held.pop_front() {
                (self.on_conn)(&r);
            }
        }
    }

    /// The capture is over: passes on every connection still held.
    pub fn finish(&mut self) {
        while let Some(r) = self.held.pop_front() {
            (self.on_conn)(&r);
        }
    }
}

/// Could be one leg of a proxied session: WebSocket frames read, TCP ended, not linked.
fn candidate(r: &ConnReport) -> bool {
    r.detection != Detection::Tls
        && r.story.tcp_end.is_some()
        && r.story.linked_leg.is_none()
        && r.trace.client_to_server.total + r.trace.server_to_client.total >= MIN_MATCHED
}

/// Two connections found to be the legs of one session.
struct Link {
    /// Which of the pair (held, new) is the client leg.
    held_is_client_leg: bool,
    matched: u64,
    end_gap_ns: i64,
}

/// Are `a` and `b` the two legs of one proxied session (either way round)?
fn link(a: &ConnReport, b: &ConnReport) -> Option<Link> {
    if !candidate(a) || a.id == b.id {
        return None;
    }
    let (ea, eb) = (a.story.tcp_end.as_ref()?, b.story.tcp_end.as_ref()?);
    let end_gap_ns = eb.ts.since(ea.ts).abs();
    if end_gap_ns > END_WINDOW_NS {
        return None;
    }
    let (held_is_client_leg, matched) = match legs_match(a, b) {
        Some(n) => (true, n),
        None => (false, legs_match(b, a)?),
    };
    Some(Link {
        held_is_client_leg,
        matched,
        end_gap_ns,
    })
}

/// With `cl` the client leg and `be` the backend leg: the frames they both carried, or
/// None when they are not one session.
fn legs_match(cl: &ConnReport, be: &ConnReport) -> Option<u64> {
    // The proxy's listening address is not the backend's, and the two legs share no end.
    if cl.server == be.server || cl.client == be.client || cl.client == be.server {
        return None;
    }
    // The Upgrade crosses the proxy inward, and its answer outward.
    let nested = match (&cl.handshake, &be.handshake) {
        (Some(c), Some(b)) => {
            let (Some(c_resp), Some(b_resp)) = (c.response_frame, b.response_frame) else {
                return None;
            };
            if !(c.request_frame < b.request_frame && b.request_frame < b_resp && b_resp < c_resp) {
                return None;
            }
            true
        }
        _ => false,
    };
    let inward = relayed(&cl.trace.client_to_server, &be.trace.client_to_server)?;
    let outward = relayed(&be.trace.server_to_client, &cl.trace.server_to_client)?;
    let matched = inward + outward;
    let enough = if nested {
        matched >= MIN_MATCHED
    } else {
        matched >= MIN_MATCHED_WITHOUT_HANDSHAKE && inward > 0 && outward > 0
    };
    enough.then_some(matched)
}

/// The frames `down` received from a proxy relaying `up`: the same frames, each a little
/// later. `up` may hold one more frame at its end (in flight when the session ended).
/// Returns how many matched, or None when they differ.
fn relayed(up: &FrameTrace, down: &FrameTrace) -> Option<u64> {
    let extra = up.total.checked_sub(down.total)?;
    if extra > 1 {
        return None;
    }
    let extra = usize::from(extra == 1);
    let up_frames: Vec<&TracedFrame> = up.last.iter().rev().skip(extra).collect();
    let n = up_frames.len().min(down.last.len());
    if n == 0 {
        // Nothing this way on either leg.
        return (down.total == 0).then_some(0);
    }
    let same = up_frames
        .iter()
        .zip(down.last.iter().rev())
        .take(n)
        .all(|(u, d)| {
            let lag = d.ts.since(u.ts);
            u.opcode == d.opcode
                && u.len == d.len
                && (0..=RELAY_WINDOW_NS).contains(&lag)
                && d.frame > u.frame
        });
    same.then_some(n as u64)
}

/// Fills both legs' `linked_leg`, and rewrites their causes with what the other leg shows.
fn apply(held: &mut ConnReport, new: &mut ConnReport, l: &Link) {
    let (cl, be) = if l.held_is_client_leg {
        (held, new)
    } else {
        (new, held)
    };
    let (Some(cl_end), Some(be_end)) = (cl.story.tcp_end.clone(), be.story.tcp_end.clone()) else {
        return;
    };
    let first_on_backend = (be_end.ts, be_end.frame) < (cl_end.ts, cl_end.frame);
    let (ended_on, first, second) = if first_on_backend {
        (LegRole::BackendLeg, &be_end, &cl_end)
    } else {
        (LegRole::ClientLeg, &cl_end, &be_end)
    };
    let ended_by = match (ended_on, first.by) {
        (LegRole::BackendLeg, Direction::ServerToClient) => Party::Backend,
        (LegRole::ClientLeg, Direction::ClientToServer) => Party::Client,
        _ => Party::Proxy,
    };
    let relay_ms = ms_between(second.ts, first.ts);
    // The proxy's name, from whichever handshake gives it.
    let proxy = cl.story.proxy.clone().or_else(|| be.story.proxy.clone());
    let name = proxy
        .as_ref()
        .map_or_else(|| "the proxy".to_string(), proxy::display_name);
    let ids = Ids {
        client_leg: cl.id,
        backend_leg: be.id,
    };
    let story = session_story(&name, ended_by, ended_on, first, second, relay_ms, ids);
    // The idle timeout, judged again now that the proxy that ended both legs is known.
    if ended_by == Party::Proxy {
        for leg in [&mut *cl, &mut *be] {
            let proxy_sends = leg.story.tcp_end.as_ref().map(|e| e.by);
            let ours = proxy.clone().map(|mut p| {
                p.side = if leg.id == ids.client_leg {
                    ProxySide::Server
                } else {
                    ProxySide::Client
                };
                p
            });
            let ours = ours.filter(|p| Some(p.side.sends()) == proxy_sends);
            if let (Some(idle), Outcome::Abnormal) =
                (leg.story.idle_before_end_ms, leg.story.outcome)
            {
                let mut timeout = proxy::match_idle(idle, ours.as_ref());
                if let Some(t) = timeout.as_mut().filter(|_| ours.is_none()) {
                    // Unnamed, but both legs show that the proxy ended the session.
                    t.confidence = if t.off_ms.abs() <= proxy::TIGHT_MS {
                        Confidence::High
                    } else {
                        Confidence::Medium
                    };
                }
                if let (Some(t), Some(end)) = (&timeout, &leg.story.tcp_end) {
                    leg.story.likely_cause =
                        Some(proxy::idle_cause(t, ours.as_ref(), "proxy", end, idle));
                    leg.story.cause = Some(DropCause::IdleTimeout);
                }
                leg.story.idle_timeout = timeout;
            }
        }
    }
    let relayed_cause = |leg: &ConnReport, from: &ConnReport, who: &str| {
        let end = from.story.tcp_end.as_ref()?;
        let mine = leg.story.tcp_end.as_ref()?;
        Some(format!(
            "the {who} ended the session, not {name}: it closed its connection to {name} ({} in packet {} of connection #{}) without a Close frame, and {name} passed that on as a {} {} later, as proxies do (they send no Close of their own). Look at the {who}: {}",
            end.kind,
            end.frame,
            from.id,
            mine.kind,
            proxy::duration(relay_ms),
            if who == "backend" {
                "a crash, a killed process or a restart"
            } else {
                "its own close path (it dropped TCP without a Close frame)"
            }
        ))
    };
    match ended_by {
        Party::Backend if cl.story.outcome == Outcome::Abnormal => {
            cl.story.likely_cause = relayed_cause(cl, be, "backend");
            cl.story.cause = Some(DropCause::RelayedDrop);
            if be.story.outcome == Outcome::Abnormal {
                be.story.likely_cause = Some(format!(
                    "the backend closed TCP with a {} (packet {}) without a Close frame{}: a crash, a killed process or a restart of the backend, not {name}, which passed it on to the client (connection #{})",
                    be_end.kind,
                    be_end.frame,
                    be.story
                        .idle_before_end_ms
                        .map(|ms| format!(", {} after the last message", proxy::duration(ms)))
                        .unwrap_or_default(),
                    cl.id
                ));
            }
        }
        Party::Client if be.story.outcome == Outcome::Abnormal => {
            be.story.likely_cause = relayed_cause(be, cl, "client");
            be.story.cause = Some(DropCause::RelayedDrop);
        }
        _ => {}
    }
    // The TCP client of the backend leg is the proxy: the User-Agent it relays names the
    // real client, whose application is on the other leg.
    if be.client_software.take().is_some() {
        if let Some(seen) = &mut be.story.client_observed {
            seen.family = None;
        }
    }
    if let Some(seen) = &mut be.story.client_observed {
        seen.why.push_str(&format!(
            "; the client of this leg is the proxy, which relays it to the real client (connection #{})",
            ids.client_leg
        ));
    }
    for (leg, other, role) in [
        (&mut *cl, ids.backend_leg, LegRole::BackendLeg),
        (&mut *be, ids.client_leg, LegRole::ClientLeg),
    ] {
        leg.story.linked_leg = Some(LinkedLeg {
            connection: other,
            role,
            frames_matched: l.matched,
            ended_by,
            ended_on,
            relay_ms,
            story: story.clone(),
        });
    }
}

#[derive(Clone, Copy)]
struct Ids {
    client_leg: u64,
    backend_leg: u64,
}

/// The end of the session across the proxy, in words.
fn session_story(
    name: &str,
    ended_by: Party,
    ended_on: LegRole,
    first: &TcpEnd,
    second: &TcpEnd,
    relay_ms: f64,
    ids: Ids,
) -> String {
    let leg = |role: LegRole| match role {
        LegRole::ClientLeg => ("client", ids.client_leg),
        LegRole::BackendLeg => ("backend", ids.backend_leg),
    };
    let other_role = match ended_on {
        LegRole::ClientLeg => LegRole::BackendLeg,
        LegRole::BackendLeg => LegRole::ClientLeg,
    };
    let (first_peer, first_id) = leg(ended_on);
    let (second_peer, second_id) = leg(other_role);
    let later = proxy::duration(relay_ms);
    let what = |e: &TcpEnd| match e.kind {
        EndKind::Fin => "FIN",
        EndKind::Rst => "RST",
    };
    match ended_by {
        Party::Proxy => format!(
            "{name} closed both legs itself: {} to the {first_peer} (connection #{first_id}, packet {}), then {} to the {second_peer} {later} later (connection #{second_id}, packet {})",
            what(first),
            first.frame,
            what(second),
            second.frame
        ),
        Party::Backend | Party::Client => format!(
            "the {first_peer} closed TCP first: its {} (connection #{first_id}, packet {}) reached {name}, which sent a {} to the {second_peer} {later} later (connection #{second_id}, packet {})",
            what(first),
            first.frame,
            what(second),
            second.frame
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Ts;

    fn trace(frames: &[(u64, i64, u64)]) -> FrameTrace {
        let mut t = FrameTrace::default();
        for &(frame, ms, len) in frames {
            t.push(TracedFrame {
                frame,
                ts: Ts(ms * 1_000_000),
                opcode: crate::ws::frame::Opcode::Text,
                len,
            });
        }
        t
    }

    #[test]
    fn relayed_frames_match_in_order_and_time() {
        let up = trace(&[(10, 0, 15), (20, 100, 16)]);
        assert_eq!(relayed(&up, &trace(&[(11, 1, 15), (21, 101, 16)])), Some(2));
        // One more frame in flight upstream is allowed.
        let up3 = trace(&[(10, 0, 15), (20, 100, 16), (30, 200, 9)]);
        assert_eq!(
            relayed(&up3, &trace(&[(11, 1, 15), (21, 101, 16)])),
            Some(2)
        );
        // Other sizes, the wrong order in time, or too late: not relayed.
        assert_eq!(relayed(&up, &trace(&[(11, 1, 15), (21, 101, 17)])), None);
        assert_eq!(relayed(&up, &trace(&[(9, 0, 15), (19, 99, 16)])), None);
        assert_eq!(relayed(&up, &trace(&[(11, 1, 15), (21, 150, 16)])), None);
        // More frames downstream than upstream: not a relay.
        assert_eq!(
            relayed(&up, &trace(&[(11, 1, 15), (21, 101, 16), (31, 201, 1)])),
            None
        );
        assert_eq!(relayed(&trace(&[]), &trace(&[])), Some(0));
    }
}
