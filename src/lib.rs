//! wsclose: why did this WebSocket close?
//!
//! `analyze_file` reads one capture packet by packet and hands each finished WebSocket
//! connection to a callback as a `ConnReport`; the stages, in order:
//!
//! capture (pcap/pcapng) -> decode (link/IP/TCP) -> tcp::reassembly (per direction) ->
//! conn (HTTP Upgrade and TLS detection, frame reader, rules; tls/tlsconn for TLS) ->
//! close::story (outcome, observed codes, cause) -> report (text, JSON, JSONL).
//! With `Options::pipelined`, capture and decode run on a second thread (`pipeline`).
//!
//! Memory is bounded by the open connections (`Options::max_flows`), with a capture-wide
//! budget for buffered bytes (`Options::max_total_pending`), not by the file: finished
//! connections leave the flow table as soon as they are reported.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod capture;
pub mod check;
pub mod close;
pub mod conn;
pub mod decode;
pub mod error;
pub mod explain;
pub mod http;
pub mod output;
pub mod pipeline;
pub mod report;
pub mod tcp;
pub mod tls;
pub mod tlsconn;
pub mod ws;

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::capture::{CaptureInfo, Ts};
use crate::conn::{Conn, ConnOptions};
use crate::decode::{Segment, Skip};
use crate::error::Error;
use crate::report::{ConnReport, FileReport, FileWarning, Summary};
use crate::tcp::FlowKey;

/// Default cap on connections tracked at once. At a few hundred bytes each this keeps the
/// flow table well under the 64 MiB memory budget.
pub const DEFAULT_MAX_FLOWS: usize = 100_000;
/// Default cap on out-of-order bytes buffered per direction of a connection: four full
/// 64 KiB receive windows.
pub const DEFAULT_MAX_PENDING: usize = 256 * 1024;
/// Bytes buffered across all connections at once: out-of-order segments, and handshakes in
/// progress (HTTP heads, TLS messages). Per-connection caps alone would allow `max_flows`
/// times theirs; past this budget the connection that wants to buffer more gives up on its
/// holes and drops its partial handshakes instead (reported on the connection).
pub const MAX_TOTAL_PENDING: usize = 32 << 20;
/// A finished connection stays in the table this long (capture time) so that its last
/// packets (a late Close, the final ACKs) still reach it.
const LINGER_NS: i64 = 2_000_000_000;
/// Packets between sweeps of finished connections.
const SWEEP_EVERY: u64 = 4096;

/// Analysis options.
#[derive(Clone, Debug)]
pub struct Options {
    pub conn: ConnOptions,
    pub max_flows: usize,
    /// Out-of-order bytes buffered across all connections (`MAX_TOTAL_PENDING`).
    pub max_total_pending: usize,
    /// Read and decode on a second thread while this one analyzes (the output is the same).
    pub pipelined: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            conn: ConnOptions {
                ws_ports: Vec::new(),
                max_pending: DEFAULT_MAX_PENDING,
            },
            max_flows: DEFAULT_MAX_FLOWS,
            max_total_pending: MAX_TOTAL_PENDING,
            pipelined: true,
        }
    }
}

struct Analyzer<'a> {
    opts: &'a Options,
    flows: FxHashMap<FlowKey, Conn>,
    closed: FxHashSet<FlowKey>,
    next_id: u64,
    summary: Summary,
    unsupported: BTreeMap<u32, u64>,
    fragments: u64,
    cut: u64,
    evicted: u64,
    /// Out-of-order bytes buffered across the flow table.
    pending_total: usize,
    now: Ts,
    on_conn: &'a mut dyn FnMut(&ConnReport),
}

/// Most keys remembered for finished connections (to ignore their stray late packets).
const MAX_CLOSED_KEYS: usize = 65_536;

impl Analyzer<'_> {
    fn packet(&mut self, frame_no: u64, ts: Ts, decoded: Result<Segment<'_>, Skip>) {
        self.now = ts;
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
        let (key, _) = FlowKey::new((seg.src, seg.src_port), (seg.dst, seg.dst_port));
        let new_syn = seg.flags.syn && !seg.flags.ack;
        if let Some(conn) = self.flows.get_mut(&key) {
            if !(new_syn && conn.is_new_connection((seg.src, seg.src_port), seg.seq)) {
                let before = conn.buffered();
                conn.segment(&seg, frame_no, ts);
                let mut after = conn.buffered();
                if after > before
                    && self.pending_total + after - before > self.opts.max_total_pending
                {
                    conn.give_up_holes();
                    conn.shed_app_buffers();
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
        if self.flows.len() >= self.opts.max_flows {
            self.evict();
        }
        self.next_id += 1;
        self.summary.tcp_connections += 1;
        let mut conn = Conn::new(
            self.next_id,
            (seg.src, seg.src_port),
            (seg.dst, seg.dst_port),
            frame_no,
            ts,
            &self.opts.conn,
        );
        conn.segment(&seg, frame_no, ts);
        self.pending_total += conn.buffered();
        self.flows.insert(key, conn);
    }

    fn emit(&mut self, conn: Conn, evicted: bool) {
        self.pending_total = self.pending_total.saturating_sub(conn.buffered());
        if let Some(report) = conn.finish(evicted) {
            self.summary.add(&report);
            (self.on_conn)(&report);
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
        if self.flows.len() < self.opts.max_flows {
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

    fn finish(mut self, report: &mut FileReport) {
        let mut rest: Vec<Conn> = self.flows.drain().map(|(_, c)| c).collect();
        rest.sort_unstable_by_key(|c| c.id);
        for conn in rest {
            self.emit(conn, false);
        }
        for (lt, n) in &self.unsupported {
            report.warnings.push(FileWarning {
                kind: "unsupported_linktype",
                message: format!("link type {lt} is not supported: {n} packet(s) skipped"),
            });
        }
        if self.fragments > 0 {
            report.warnings.push(FileWarning {
                kind: "ip_fragments",
                message: format!(
                    "{} IP fragment(s) carrying TCP skipped: fragments are not reassembled",
                    self.fragments
                ),
            });
        }
        if self.cut > 0 {
            report.warnings.push(FileWarning {
                kind: "cut_headers",
                message: format!(
                    "{} packet(s) cut before their TCP header ended (snap length too small?)",
                    self.cut
                ),
            });
        }
        if self.evicted > 0 {
            report.warnings.push(FileWarning {
                kind: "flows_evicted",
                message: format!(
                    "{} connection(s) evicted because more than {} were open at once (raise --max-flows)",
                    self.evicted, self.opts.max_flows
                ),
            });
        }
        report.summary = self.summary;
    }
}

/// Analyzes one capture (`-` for standard input). Every finished WebSocket connection is
/// passed to `on_conn` as soon as it is known. Returns the file's report (summary and
/// warnings); a fatal problem is returned too, after everything before it was analyzed.
///
/// ```
/// let mut codes = Vec::new();
/// let (report, err) = wsclose::analyze_file("samples/policy.pcap", &wsclose::Options::default(), &mut |c| {
///     codes.extend(c.closes.iter().filter_map(|close| close.code));
/// });
/// assert!(err.is_none());
/// assert_eq!(codes, [1008, 1008]); // the server's rate-limit close and the client's echo
/// assert_eq!(report.summary.websocket_connections, 1);
/// ```
pub fn analyze_file(
    path: &str,
    opts: &Options,
    on_conn: &mut dyn FnMut(&ConnReport),
) -> (FileReport, Option<Error>) {
    match capture::open(path) {
        Ok((input, gzip)) => analyze_reader(path, input, gzip, opts, on_conn),
        Err(e) => {
            let report = FileReport {
                path: path.to_string(),
                error: Some(e.to_string()),
                ..FileReport::default()
            };
            (report, Some(e))
        }
    }
}

/// As `analyze_file`, from an already opened (and decompressed) capture stream; `path`
/// names it in messages.
pub fn analyze_reader(
    path: &str,
    input: Box<dyn std::io::Read + Send>,
    gzip: bool,
    opts: &Options,
    on_conn: &mut dyn FnMut(&ConnReport),
) -> (FileReport, Option<Error>) {
    let mut report = FileReport {
        path: path.to_string(),
        gzip,
        ..FileReport::default()
    };
    let mut info = CaptureInfo::default();
    let mut analyzer = Analyzer {
        opts,
        flows: FxHashMap::default(),
        closed: FxHashSet::default(),
        next_id: 0,
        summary: Summary::default(),
        unsupported: BTreeMap::new(),
        fragments: 0,
        cut: 0,
        evicted: 0,
        pending_total: 0,
        now: Ts(0),
        on_conn,
    };
    let result = if opts.pipelined {
        pipeline::read_segments(path, input, &mut info, |frame_no, ts, seg| {
            analyzer.packet(frame_no, ts, seg)
        })
    } else {
        capture::read_packets(path, input, &mut info, |pkt| {
            analyzer.packet(
                pkt.frame_no,
                pkt.ts,
                decode::decode(pkt.linktype, pkt.data, pkt.orig_len),
            )
        })
    };
    analyzer.finish(&mut report);
    report.format = info.format;
    report.summary.packets = info.packets;
    match result {
        Ok(()) => (report, None),
        Err(e) => {
            report.error = Some(e.to_string());
            (report, Some(e))
        }
    }
}
pub mod cli;
