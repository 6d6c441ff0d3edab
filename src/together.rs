//! Closes that came together: a server that restarts or is redeployed closes every
//! connection it holds with 1001 (Going Away) or 1012 (Service Restart) within the same
//! instant. `Together` sits between the flow table and the rest: it holds each connection
//! whose first Close is one of those codes until every connection that closed within
//! `WINDOW_NS` of it has been reported too (at most `MAX_HELD` connections, no longer than
//! `HOLD_NS` of capture time), counts the others to the same server with the same code,
//! and diagnoses the close again with that count. Connections pass on in the order they
//! came. Never panics.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use crate::capture::Ts;
use crate::report::{ConnReport, SameInstant};
use crate::story;

/// Closes at most this far apart came "at the same instant".
const WINDOW_NS: i64 = 1_000_000_000;
/// Capture time a connection is held past its end: the flow table reports a connection at
/// most a few seconds after its end, so the others closed with it have come by then.
const HOLD_NS: i64 = 10_000_000_000;
/// Connections held at most.
const MAX_HELD: usize = 1024;
/// Close times kept per server and code.
const MAX_TIMES: usize = 65_536;

type Key = (SocketAddr, u16);

/// Holds restart-like closes until their siblings are known.
pub struct Together<'a> {
    held: VecDeque<ConnReport>,
    /// How many held connections wait for siblings (the rest of `held` only keeps order).
    waiting: usize,
    times: HashMap<Key, VecDeque<Ts>>,
    on_conn: &'a mut dyn FnMut(ConnReport),
}

/// The (server, code) and time of a connection's first Close, when the code is one a
/// restart sends.
fn restart_close(r: &ConnReport) -> Option<(Key, Ts)> {
    let c = r.closes.first()?;
    let code = c.code.filter(|c| matches!(c, 1001 | 1012))?;
    c.evidence.as_ref()?;
    Some(((r.server, code), c.ts))
}

impl<'a> Together<'a> {
    pub fn new(on_conn: &'a mut dyn FnMut(ConnReport)) -> Together<'a> {
        Together {
            held: VecDeque::new(),
            waiting: 0,
            times: HashMap::new(),
            on_conn,
        }
    }

    /// One finished connection.
    pub fn push(&mut self, report: ConnReport) {
        let now = report.end;
        let restart = restart_close(&report);
        if let Some((key, ts)) = restart {
            // Kept in time order (reports come nearly in order: the place is found from
            // the back), so that counting around a time is two binary searches.
            let times = self.times.entry(key).or_default();
            if times.len() == MAX_TIMES {
                times.pop_front();
            }
            let at = times.partition_point(|x| *x <= ts);
            times.insert(at, ts);
        }
        if restart.is_none() && self.held.is_empty() {
            (self.on_conn)(report);
            return;
        }
        if restart.is_some() {
            self.waiting += 1;
        }
        self.held.push_back(report);
        while let Some(front) = self.held.front() {
            if self.held.len() <= MAX_HELD && now.since(front.end) <= HOLD_NS {
                break;
            }
            self.release();
        }
        if self.waiting == 0 {
            while !self.held.is_empty() {
                self.release();
            }
        }
    }

    /// The capture is over: passes on every connection still held.
    pub fn finish(&mut self) {
        while !self.held.is_empty() {
            self.release();
        }
    }

    fn release(&mut self) {
        let Some(mut r) = self.held.pop_front() else {
            return;
        };
        if let Some((key, ts)) = restart_close(&r) {
            self.waiting = self.waiting.saturating_sub(1);
            let others = self.times.get(&key).map_or(0, |t| {
                let from = t.partition_point(|x| ts.since(*x) > WINDOW_NS);
                let to = t.partition_point(|x| x.since(ts) <= WINDOW_NS);
                to.saturating_sub(from) as u64
            });
            let others = others.saturating_sub(1);
            if let Some(ev) = r.closes.first_mut().and_then(|c| c.evidence.as_mut()) {
                ev.same_instant = Some(SameInstant {
                    others,
                    window_ms: WINDOW_NS as f64 / 1e6,
                });
            }
            let before = r.closes.first().and_then(|c| c.diagnosis.clone());
            story::diagnose(&mut r);
            let after = r.closes.first().and_then(|c| c.diagnosis.clone());
            if before != after && r.story.likely_cause == before.map(|d| d.summary) {
                r.story.likely_cause = after.map(|d| d.summary);
            }
            // Times long past every held connection are no longer needed.
            let oldest = self.held.front().map_or(r.end, |f| f.end.min(r.end));
            for t in self.times.values_mut() {
                while t
                    .front()
                    .is_some_and(|x| oldest.since(*x) > HOLD_NS + WINDOW_NS)
                {
                    t.pop_front();
                }
            }
            self.times.retain(|_, t| !t.is_empty());
        }
        (self.on_conn)(r);
    }
}
