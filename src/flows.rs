//! The flow table: every decoded packet to its connection, connections created on their
//! first packet and reported as soon as they are over (or evicted when too many are open),
//! the capture-wide budget for buffered bytes, and the file's own warnings (unsupported
//! link types, IP fragments, cut headers, evictions).
//!
//! The table is keyed by addresses taken from the capture, so it hashes with a per-process
//! random seed: a crafted capture cannot aim its flows at one bucket.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::capture::Ts;
use crate::conn::{Conn, ConnOptions};
use crate::decode::{Segment, Skip};
use crate::report::{ConnReport, FileWarning, Summary, WarningKind};
use crate::tcp::FlowKey;
use crate::tls::keylog::KeyLog;

/// A finished connection stays in the table this long (capture time) so that its last
/// packets (a late Close, the final ACKs) still reach it.
const LINGER_NS: i64 = 2_000_000_000;
/// Packets between sweeps of finished connections.
const SWEEP_EVERY: u64 = 4096;
/// Most keys remembered for finished connections (to ignore their stray late packets).
const MAX_CLOSED_KEYS: usize = 65_536;

/// Limits of the flow table.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections tracked at once.
    pub max_flows: usize,
    /// Bytes buffered across all connections (out-of-order data, handshakes in progress).
    pub max_total_pending: usize,
}

/// The connections of one capture being analyzed.
pub struct Flows<'a> {
    conn_opts: &'a ConnOptions,
    limits: Limits,
    flows: HashMap<FlowKey, Conn, RandomState>,
    closed: HashSet<FlowKey, RandomState>,
    next_id: u64,
    summary: Summary,
    unsupported: BTreeMap<u32, u64>,
    fragments: u64,
    cut: u64,
    evicted: u64,
    /// Bytes buffered across the flow table.
    pending_total: usize,
    now: Ts,
    /// The first packet's time.
    first: Option<Ts>,
    /// The TLS secrets known so far: the key logs given, plus the capture's own blocks.
    keylog: Option<Arc<KeyLog>>,
    /// Decryption Secrets Blocks read, and their lines that were not key log lines.
    secret_blocks: u64,
    malformed_secrets: u64,
    on_conn: &'a mut dyn FnMut(ConnReport),
}

impl<'a> Flows<'a> {
    /// An empty table; every finished connection goes to `on_conn`.
    pub fn new(
        conn_opts: &'a ConnOptions,
        limits: Limits,
        on_conn: &'a mut dyn FnMut(ConnReport),
    ) -> Flows<'a> {
        Flows {
            conn_opts,
            limits,
            flows: HashMap::default(),
            closed: HashSet::default(),
            next_id: 0,
            summary: Summary::default(),
            unsupported: BTreeMap::new(),
            fragments: 0,
            cut: 0,
            evicted: 0,
            pending_total: 0,
            now: Ts(0),
            first: None,
            keylog: conn_opts.keylog.clone(),
            secret_blocks: 0,
            malformed_secrets: 0,
            on_conn,
        }
    }

    /// A block of TLS secrets embedded in the capture (pcapng Decryption Secrets Block):
    /// they decrypt the sessions whose ServerHello comes after it, open connections
    /// included.
    pub fn tls_secrets(&mut self, text: &[u8]) {
        self.secret_blocks += 1;
        let mut keylog = self.keylog.as_deref().cloned().unwrap_or_default();
        self.malformed_secrets += keylog.add(text).malformed;
        let keylog = Arc::new(keylog);
        for conn in self.flows.values_mut() {
            conn.set_keylog(&keylog);
        }
        self.keylog = Some(keylog);
    }

    /// TCP connections in the table now.
    pub fn open_connections(&self) -> usize {
        self.flows.len()
    }

    /// One packet of the capture, decoded (or the reason it yielded no TCP segment).
    pub fn packet(&mut self, frame_no: u64, ts: Ts, decoded: Result<Segment<'_>, Skip>) {
        self.now = ts;
        if self.first.is_none() {
            self.first = Some(ts);
        }
        if frame_no % SWEEP_EVERY == 0 {
            self.sweep();
        }
        let seg = match decoded {
            Ok(seg) => seg,
            Err(Skip::UnsupportedLinktype(l)) => {
                *self.unsupported.entry(l).or_default() += 1;
                return;
            }
            Err(Skip::IpFragment) => {
                self.fragments += 1;
                return;
            }
            Err(Skip::Truncated) => {
                self.cut += 1;
                return;
            }
            Err(Skip::NotTcp) => return,
        };
        let src = SocketAddr::new(seg.src, seg.src_port);
        let dst = SocketAddr::new(seg.dst, seg.dst_port);
        let key = FlowKey::new(src, dst);
        let new_syn = seg.flags.syn && !seg.flags.ack;
        if let Some(conn) = self.flows.get_mut(&key) {
            if !(new_syn && conn.is_new_connection(src, seg.seq)) {
                let before = conn.buffered();
                conn.segment(&seg, frame_no, ts);
                let mut after = conn.buffered();
                if after > before
                    && self.pending_total + after - before > self.limits.max_total_pending
                {
                    conn.shed_buffers();
                    after = conn.buffered();
                }
                self.pending_total = (self.pending_total + after).saturating_sub(before);
                return;
            }
            // Port reuse: a new connection on the same four-tuple.
            if let Some(old) = self.flows.remove(&key) {
                self.emit(old, false);
            }
        }
        if !seg.flags.syn && seg.payload.is_empty() && seg.missing == 0 {
            return;
        }
        if !new_syn && self.closed.contains(&key) {
            return;
        }
        if self.flows.len() >= self.limits.max_flows {
            self.evict();
        }
        self.next_id += 1;
        self.summary.tcp_connections += 1;
        let mut conn = Conn::new(self.next_id, src, dst, frame_no, ts, self.conn_opts);
        if let Some(keylog) = &self.keylog {
            conn.set_keylog(keylog);
        }
        conn.segment(&seg, frame_no, ts);
        self.pending_total += conn.buffered();
        self.flows.insert(key, conn);
    }

    fn emit(&mut self, conn: Conn, evicted: bool) {
        self.pending_total = self.pending_total.saturating_sub(conn.buffered());
        if let Some(mut report) = conn.finish(evicted) {
            report.capture_start = self.first.unwrap_or(report.start);
            self.summary.add(&report);
            (self.on_conn)(report);
        }
    }

    /// Reports connections that ended more than `LINGER_NS` ago, in connection order.
    fn sweep(&mut self) {
        let now = self.now;
        let mut done: Vec<(u64, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, c)| {
                (c.ended() && now.since(c.last_ts) > LINGER_NS) || (c.passive() && c.ended())
            })
            .map(|(k, c)| (c.id, *k))
            .collect();
        done.sort_unstable_by_key(|(id, _)| *id);
        if self.closed.len() + done.len() > MAX_CLOSED_KEYS {
            self.closed.clear();
        }
        for (_, key) in done {
            if let Some(conn) = self.flows.remove(&key) {
                self.closed.insert(key);
                self.emit(conn, false);
            }
        }
    }

    /// The table is full: report finished connections, then the least recently active
    /// eighth of the rest.
    fn evict(&mut self) {
        let before = self.flows.len();
        let now = self.now;
        self.now = Ts(i64::MAX);
        self.sweep();
        self.now = now;
        if self.flows.len() < self.limits.max_flows {
            return;
        }
        let mut by_age: Vec<(Ts, u64, FlowKey)> = self
            .flows
            .iter()
            .map(|(k, c)| (c.last_ts, c.id, *k))
            .collect();
        by_age.sort_unstable_by_key(|(ts, id, _)| (*ts, *id));
        let n = (before / 8).max(1);
        let mut victims: Vec<(u64, FlowKey)> = by_age
            .into_iter()
            .take(n)
            .map(|(_, id, k)| (id, k))
            .collect();
        victims.sort_unstable_by_key(|(id, _)| *id);
        for (_, key) in victims {
            if let Some(conn) = self.flows.remove(&key) {
                self.evicted += 1;
                self.closed.insert(key);
                self.emit(conn, true);
            }
        }
    }

    /// The capture is over: reports every connection still open, in connection order, and
    /// returns the counts and the file's warnings.
    pub fn finish(mut self) -> (Summary, Vec<FileWarning>) {
        let mut rest: Vec<Conn> = self.flows.drain().map(|(_, c)| c).collect();
        rest.sort_unstable_by_key(|c| c.id);
        for conn in rest {
            self.emit(conn, false);
        }
        let mut warnings = Vec::new();
        for (lt, n) in &self.unsupported {
            warnings.push(FileWarning {
                kind: WarningKind::UnsupportedLinktype,
                message: format!("link type {lt} is not supported: {n} packet(s) skipped"),
            });
        }
        if self.fragments > 0 {
            warnings.push(FileWarning {
                kind: WarningKind::IpFragments,
                message: format!(
                    "{} IP fragment(s) carrying TCP skipped: fragments are not reassembled",
                    self.fragments
                ),
            });
        }
        if self.cut > 0 {
            warnings.push(FileWarning {
                kind: WarningKind::CutHeaders,
                message: format!(
                    "{} packet(s) cut before their TCP header ended (snap length too small?)",
                    self.cut
                ),
            });
        }
        if self.evicted > 0 {
            warnings.push(FileWarning {
                kind: WarningKind::FlowsEvicted,
                message: format!(
                    "{} connection(s) evicted because more than {} were open at once (raise --max-flows)",
                    self.evicted, self.limits.max_flows
                ),
            });
        }
        if self.malformed_secrets > 0 {
            warnings.push(FileWarning {
                kind: WarningKind::KeyLog,
                message: format!(
                    "{} line(s) of the capture's {} Decryption Secrets Block(s) are not key log lines and were skipped",
                    self.malformed_secrets, self.secret_blocks
                ),
            });
        }
        (self.summary, warnings)
    }
}
