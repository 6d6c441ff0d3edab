//! The flow table: every decoded packet to its connection, connections created on their
//! first packet and reported as soon as they are over, the capture-wide budget for buffered
//! bytes, and the file's own warnings (unsupported link types and nesting, IP fragments, cut
//! headers, time running backwards, evictions).
//!
//! Cost is bounded by what is open, and small for what carries nothing:
//!
//! - A flow that has carried no payload yet (a SYN, a refused or half-open attempt, a
//!   handshake not yet followed by data) is a `Light` record of its few control segments,
//!   144 bytes and a 72-byte table entry; it becomes a full connection (the segments
//!   replayed into it) at its first payload. A port scan costs that per open attempt.
//! - Expiry goes by capture time, per state, from queues in time order (no scan of the
//!   table), in rounds every 4,096 packets: a finished connection is reported 2 s after its
//!   last packet (at the next round when nothing is read from it); a finished flow without
//!   payload (a refused attempt) goes at the next round, and one still open after 60 s
//!   without a packet, as half-open flows go first in Zeek and Suricata. Open connections
//!   with payload never expire: an idle WebSocket is still open.
//! - When `max_flows` are open, finished connections go first, then an eighth of the rest in
//!   this order: flows without payload, connections nothing more is read from (not
//!   WebSocket), connections not yet recognised, then WebSocket and TLS connections, the
//!   least recently active first within each.
//! - Every eviction is accounted for: a connection evicted while still being read is
//!   reported once with a `FlowEvicted` finding (which fails `check` by default), and its
//!   key is remembered (a bounded tombstone) so its later packets are counted as not
//!   analysed instead of starting a connection mid-stream that would count it twice.
//!
//! The table is keyed by addresses taken from the capture, so it hashes with a per-process
//! random seed: a crafted capture cannot aim its flows at one bucket.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use foldhash::fast::RandomState;

use crate::capture::Ts;
use crate::conn::{Conn, ConnOptions};
use crate::decode::{Segment, Skip, TcpFlags};
use crate::report::{ConnReport, FileWarning, WarningKind};
use crate::tcp::{FlowKey, Seq};
use crate::tls::keylog::KeyLog;

/// A finished connection stays in the table this long (capture time) so that its last
/// packets (a late Close, the final ACKs) still reach it.
const LINGER_NS: i64 = 2_000_000_000;
/// A flow that has carried no payload goes after this long without a packet.
const HALF_OPEN_NS: i64 = 60_000_000_000;
/// Packets between expiry rounds (each round is as long as what expires).
const EXPIRE_EVERY: u64 = 4096;
/// Control segments a flow without payload keeps (SYN, SYN-ACK, ACK, and a FIN or RST)
/// before it becomes a full connection.
const LIGHT_SEGS: usize = 4;
/// Keys remembered for connections no longer in the table (finished or evicted); past it the
/// oldest are forgotten.
const MAX_TOMBS: usize = 1 << 18;

/// Limits of the flow table.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections tracked at once.
    pub max_flows: usize,
    /// Bytes buffered across all connections (out-of-order data, handshakes in progress).
    pub max_total_pending: usize,
}

/// A control segment of a flow without payload, kept to be replayed (32 bytes: a flood
/// keeps many).
#[derive(Clone, Copy)]
struct LightSeg {
    from_a: bool,
    flags: TcpFlags,
    wscale: Option<u8>,
    window: u16,
    seq: Seq,
    ack: Seq,
    /// Packets after the flow's first.
    frame_after: u32,
    ts: Ts,
}

/// A flow that has carried no payload: its control segments, and enough to tell its ends
/// from its key.
#[derive(Default)]
struct Light {
    /// The sender of the first packet is the key's `lo` end.
    a_is_lo: bool,
    /// Both ends are IPv4 addresses (the key holds them IPv4-mapped).
    v4: bool,
    /// The first packet's number.
    first_frame: u64,
    segs: [Option<LightSeg>; LIGHT_SEGS],
}

impl Light {
    fn new(key: &FlowKey, src: SocketAddr, first_frame: u64) -> Light {
        Light {
            a_is_lo: sends_from_lo(key, src),
            v4: src.is_ipv4(),
            first_frame,
            segs: [None; LIGHT_SEGS],
        }
    }

    /// The sender of the first packet, then its peer.
    fn ends(&self, key: &FlowKey) -> (SocketAddr, SocketAddr) {
        let (lo, hi) = (end_of(key.lo, self.v4), end_of(key.hi, self.v4));
        if self.a_is_lo {
            (lo, hi)
        } else {
            (hi, lo)
        }
    }

    fn ended(&self) -> bool {
        let segs = || self.segs.iter().flatten();
        let fin_from = |a: bool| segs().any(|s| s.from_a == a && s.flags.fin);
        segs().any(|s| s.flags.rst) || (fin_from(true) && fin_from(false))
    }

    /// Both ends have sent something.
    fn answered(&self) -> bool {
        let segs = || self.segs.iter().flatten();
        segs().any(|s| s.from_a) && segs().any(|s| !s.from_a)
    }

    /// Keeps `seg` when it changes nothing a full connection would act on differently: no
    /// payload, room left, and not a SYN that could start another connection (after the end,
    /// or with another sequence number than this side's first SYN).
    fn take(&mut self, seg: &Segment<'_>, from_a: bool, frame: u64, ts: Ts) -> bool {
        if !seg.payload.is_empty() || seg.missing > 0 {
            return false;
        }
        if seg.flags.syn && !seg.flags.ack {
            let other_isn = self
                .segs
                .iter()
                .flatten()
                .any(|s| s.from_a == from_a && s.flags.syn && !s.flags.ack && s.seq != seg.seq);
            if other_isn || self.ended() {
                return false;
            }
        }
        let Ok(frame_after) = u32::try_from(frame.saturating_sub(self.first_frame)) else {
            return false;
        };
        let Some(slot) = self.segs.iter_mut().find(|s| s.is_none()) else {
            return false;
        };
        *slot = Some(LightSeg {
            from_a,
            flags: seg.flags,
            wscale: seg.wscale,
            window: seg.window,
            seq: seg.seq,
            ack: seg.ack,
            frame_after,
            ts,
        });
        true
    }

    /// The full connection, as if it had seen every kept segment.
    fn into_conn(
        self,
        key: &FlowKey,
        id: u64,
        opts: &ConnOptions,
        keylog: Option<&Arc<KeyLog>>,
    ) -> Box<Conn> {
        let (a, b) = self.ends(key);
        let segs = self.segs.iter().flatten();
        let first_ts = segs.clone().next().map_or(Ts(0), |s| s.ts);
        let mut conn = Box::new(Conn::new(id, a, b, self.first_frame, first_ts, opts));
        if let Some(keylog) = keylog {
            conn.set_keylog(keylog);
        }
        for s in segs {
            let (src, dst) = if s.from_a { (a, b) } else { (b, a) };
            let seg = Segment {
                src: src.ip(),
                dst: dst.ip(),
                src_port: src.port(),
                dst_port: dst.port(),
                seq: s.seq,
                ack: s.ack,
                flags: s.flags,
                window: s.window,
                wscale: s.wscale,
                payload: &[],
                missing: 0,
            };
            conn.segment(&seg, self.first_frame + u64::from(s.frame_after), s.ts);
        }
        conn
    }
}

/// Is `src` the key's `lo` end?
fn sends_from_lo(key: &FlowKey, src: SocketAddr) -> bool {
    end_of(key.lo, src.is_ipv4()) == src
}

/// One end of a key as an address: IPv4 when the flow's addresses are.
fn end_of((ip, port): ([u8; 16], u16), v4: bool) -> SocketAddr {
    let v6 = Ipv6Addr::from(ip);
    match v6.to_ipv4_mapped() {
        Some(ip) if v4 => SocketAddr::new(IpAddr::V4(ip), port),
        _ => SocketAddr::new(IpAddr::V6(v6), port),
    }
}

enum Body {
    Light(Box<Light>),
    Full(Box<Conn>),
}

/// One entry of the table.
struct Flow {
    id: u64,
    last_ts: Ts,
    body: Body,
}

impl Flow {
    fn ended(&self) -> bool {
        match &self.body {
            Body::Light(l) => l.ended(),
            Body::Full(c) => c.ended(),
        }
    }

    /// Eviction order, lowest first (flows without payload are taken from their queue
    /// before any full connection is ranked).
    fn rank(&self) -> u8 {
        match &self.body {
            Body::Light(_) => 0,
            Body::Full(c) if c.passive() => 1,
            Body::Full(c) if !c.recognised() => 2,
            Body::Full(_) => 3,
        }
    }
}

/// A flow queued for expiry: its time then, key and id (stale once the id differs).
type Queued = (Ts, FlowKey, u64);

/// What is remembered of a key no longer in the table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tomb {
    /// Finished: its stray late packets are ignored.
    Closed,
    /// Evicted while still being read: later data is counted as not analysed.
    Evicted,
    /// Evicted before it carried payload: if it goes on, it is analysed from there, and says
    /// that its beginning was dropped.
    EvictedLight,
}

/// Keys of connections no longer in the table, oldest forgotten first.
#[derive(Default)]
struct Tombs {
    /// Key hash -> (what it was, insertion number).
    map: HashMap<u64, (Tomb, u64), RandomState>,
    order: VecDeque<(u64, u64)>,
    next: u64,
}

impl Tombs {
    fn insert(&mut self, hash: u64, tomb: Tomb) {
        if self.order.len() >= MAX_TOMBS {
            if let Some((old, n)) = self.order.pop_front() {
                if self.map.get(&old).is_some_and(|(_, m)| *m == n) {
                    self.map.remove(&old);
                }
            }
        }
        self.next += 1;
        self.map.insert(hash, (tomb, self.next));
        self.order.push_back((hash, self.next));
    }

    fn get(&self, hash: u64) -> Option<Tomb> {
        self.map.get(&hash).map(|(t, _)| *t)
    }

    fn remove(&mut self, hash: u64) {
        self.map.remove(&hash);
    }
}

/// What the table gave up, for the file's warning.
#[derive(Default)]
struct Evictions {
    /// Connections evicted while still being read.
    read: u64,
    /// Connections evicted with nothing more to read (not WebSocket).
    idle: u64,
    /// Flows without payload evicted.
    light: u64,
    /// Of those, flows that went on afterwards (analysed from there).
    light_resumed: u64,
    /// Packets with payload of connections evicted while being read, after their eviction.
    late_packets: u64,
    late_bytes: u64,
}

/// The connections of one capture being analyzed.
pub struct Flows<'a> {
    conn_opts: &'a ConnOptions,
    limits: Limits,
    flows: HashMap<FlowKey, Flow, RandomState>,
    /// Finished flows to report at the next expiry round; finished flows to report once
    /// they have lingered; flows without payload, to drop once idle.
    ended_now: VecDeque<Queued>,
    ended: VecDeque<Queued>,
    half_open: VecDeque<Queued>,
    tombs: Tombs,
    next_id: u64,
    /// TCP connections seen: flows made (a flow going on after its eviction is not counted
    /// again).
    tcp_connections: u64,
    unsupported: BTreeMap<u32, u64>,
    fragments: u64,
    cut: u64,
    deep_vlan: u64,
    evictions: Evictions,
    /// Packets earlier than the packet before them, and the largest step back.
    backwards: u64,
    max_back_ns: i64,
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
    on_ended: &'a mut dyn FnMut(Ended),
}

/// A connection that left the table, analyzed to its end: what remains is its report,
/// which reads nothing else (so it can be built on another thread).
pub struct Ended {
    conn: Box<Conn>,
    evicted: bool,
    /// The capture's first packet.
    capture_start: Option<Ts>,
}

impl Ended {
    /// The connection's report.
    pub fn report(self) -> Option<ConnReport> {
        let mut report = self.conn.into_report(self.evicted)?;
        report.capture_start = self.capture_start.unwrap_or(report.start);
        Some(report)
    }
}

impl<'a> Flows<'a> {
    /// An empty table; every connection to report goes to `on_ended` as it leaves.
    pub fn new(
        conn_opts: &'a ConnOptions,
        limits: Limits,
        on_ended: &'a mut dyn FnMut(Ended),
    ) -> Flows<'a> {
        Flows {
            conn_opts,
            limits,
            flows: HashMap::default(),
            ended_now: VecDeque::new(),
            ended: VecDeque::new(),
            half_open: VecDeque::new(),
            tombs: Tombs::default(),
            next_id: 0,
            tcp_connections: 0,
            unsupported: BTreeMap::new(),
            fragments: 0,
            cut: 0,
            deep_vlan: 0,
            evictions: Evictions::default(),
            backwards: 0,
            max_back_ns: 0,
            pending_total: 0,
            now: Ts(0),
            first: None,
            keylog: conn_opts.keylog.clone(),
            secret_blocks: 0,
            malformed_secrets: 0,
            on_ended,
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
        for flow in self.flows.values_mut() {
            if let Body::Full(conn) = &mut flow.body {
                conn.set_keylog(&keylog);
            }
        }
        self.keylog = Some(keylog);
    }

    /// TCP connections in the table now.
    pub fn open_connections(&self) -> usize {
        self.flows.len()
    }

    /// One packet of the capture, decoded (or the reason it yielded no TCP segment).
    pub fn packet(&mut self, frame_no: u64, ts: Ts, decoded: Result<Segment<'_>, Skip>) {
        if self.first.is_none() {
            self.first = Some(ts);
        } else if ts < self.now {
            self.backwards += 1;
            self.max_back_ns = self.max_back_ns.max(self.now.since(ts));
        }
        self.now = ts;
        if frame_no % EXPIRE_EVERY == 0 {
            self.expire(false);
            self.compact();
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
            Err(Skip::VlanDepth) => {
                self.deep_vlan += 1;
                return;
            }
            Err(Skip::NotTcp) => return,
        };
        let src = SocketAddr::new(seg.src, seg.src_port);
        let dst = SocketAddr::new(seg.dst, seg.dst_port);
        let key = FlowKey::new(src, dst);
        let new_syn = seg.flags.syn && !seg.flags.ack;
        if let Some(flow) = self.flows.get_mut(&key) {
            flow.last_ts = ts;
            let id = flow.id;
            let mut reused = false;
            if let Body::Light(light) = &mut flow.body {
                let from_a = sends_from_lo(&key, src) == light.a_is_lo;
                let was_ended = light.ended();
                if light.take(&seg, from_a, frame_no, ts) {
                    if !was_ended && light.ended() {
                        self.ended_now.push_back((ts, key, id));
                    }
                    return;
                }
                if new_syn && was_ended {
                    // Port reuse after a flow that carried nothing: it just goes.
                    reused = true;
                } else {
                    // Its first payload: the full connection takes over.
                    let light = std::mem::take(&mut **light);
                    let conn = light.into_conn(&key, id, self.conn_opts, self.keylog.as_ref());
                    flow.body = Body::Full(conn);
                }
            }
            if let Body::Full(conn) = &mut flow.body {
                if !(new_syn && conn.is_new_connection(src, seg.seq)) {
                    let was_ended = conn.ended();
                    // What the connection buffered before this packet was counted after
                    // its previous one: only the new figure is taken.
                    let before = conn.accounted;
                    conn.segment(&seg, frame_no, ts);
                    let mut after = conn.buffered();
                    if after > before
                        && self.pending_total + after - before > self.limits.max_total_pending
                    {
                        conn.shed_buffers();
                        after = conn.buffered();
                    }
                    self.pending_total = (self.pending_total + after).saturating_sub(before);
                    conn.accounted = after;
                    if !was_ended && conn.ended() {
                        let queue = if conn.passive() {
                            &mut self.ended_now
                        } else {
                            &mut self.ended
                        };
                        queue.push_back((ts, key, id));
                    }
                    return;
                }
                // Port reuse: a new connection on the same four-tuple.
                reused = true;
            }
            if reused {
                if let Some(old) = self.flows.remove(&key) {
                    self.emit(old, false);
                }
            }
        }
        if !seg.flags.syn && seg.payload.is_empty() && seg.missing == 0 {
            return;
        }
        let hash = self.flows.hasher().hash_one(key);
        let mut resumed = false;
        match self.tombs.get(hash) {
            None => {}
            Some(_) if new_syn => self.tombs.remove(hash),
            Some(Tomb::Closed) => return,
            Some(Tomb::Evicted) => {
                self.evictions.late_packets += 1;
                self.evictions.late_bytes += seg.payload.len() as u64 + u64::from(seg.missing);
                return;
            }
            Some(Tomb::EvictedLight) => {
                self.tombs.remove(hash);
                self.evictions.light_resumed += 1;
                resumed = true;
            }
        }
        if self.flows.len() >= self.limits.max_flows {
            self.evict();
        }
        self.next_id += 1;
        let id = self.next_id;
        if !resumed {
            self.tcp_connections += 1;
        }
        // A flow starts light unless its first packet carries payload.
        let light = (!resumed && seg.payload.is_empty() && seg.missing == 0)
            .then(|| Box::new(Light::new(&key, src, frame_no)))
            .and_then(|mut l| l.take(&seg, true, frame_no, ts).then_some(l));
        let body = if let Some(light) = light {
            let queue = if light.ended() {
                &mut self.ended_now
            } else {
                &mut self.half_open
            };
            queue.push_back((ts, key, id));
            Body::Light(light)
        } else {
            let mut conn = Box::new(Conn::new(id, src, dst, frame_no, ts, self.conn_opts));
            if let Some(keylog) = &self.keylog {
                conn.set_keylog(keylog);
            }
            if resumed {
                conn.note_resumed_after_eviction(frame_no);
            }
            conn.segment(&seg, frame_no, ts);
            conn.accounted = conn.buffered();
            self.pending_total += conn.accounted;
            Body::Full(conn)
        };
        self.flows.insert(
            key,
            Flow {
                id,
                last_ts: ts,
                body,
            },
        );
    }

    /// Reports a flow leaving the table (a flow that carried no payload has nothing to
    /// report).
    fn emit(&mut self, flow: Flow, evicted: bool) {
        let Body::Full(mut conn) = flow.body else {
            return;
        };
        self.pending_total = self.pending_total.saturating_sub(conn.accounted);
        if conn.flush() {
            (self.on_ended)(Ended {
                conn,
                evicted,
                capture_start: self.first,
            });
        }
    }

    /// The flow a queue entry names, when the entry still describes it (same id).
    fn current(&self, (_, key, id): &Queued) -> Option<&Flow> {
        self.flows.get(key).filter(|f| f.id == *id)
    }

    /// Reports the finished connections whose time is up (every one when `all`), in
    /// connection order, and drops the flows without payload idle for `HALF_OPEN_NS`.
    /// Each queue is in time order, so a round looks only at what expires (and at flows
    /// touched since they were queued, which go back in line).
    fn expire(&mut self, all: bool) {
        let now = self.now;
        let mut done: Vec<(u64, FlowKey)> = Vec::new();
        while let Some(entry) = self.ended_now.pop_front() {
            if self.current(&entry).is_some_and(Flow::ended) {
                done.push((entry.2, entry.1));
            }
        }
        while let Some(&entry) = self.ended.front() {
            if !all && now.since(entry.0) <= LINGER_NS {
                break;
            }
            self.ended.pop_front();
            let Some(flow) = self.current(&entry).filter(|f| f.ended()) else {
                continue;
            };
            if !all && now.since(flow.last_ts) <= LINGER_NS {
                self.ended.push_back((flow.last_ts, entry.1, entry.2));
            } else {
                done.push((entry.2, entry.1));
            }
        }
        while let Some(&entry) = self.half_open.front() {
            if now.since(entry.0) <= HALF_OPEN_NS {
                break;
            }
            self.half_open.pop_front();
            let Some(flow) = self.current(&entry) else {
                continue;
            };
            if !matches!(flow.body, Body::Light(_)) || flow.ended() {
                continue;
            }
            if now.since(flow.last_ts) <= HALF_OPEN_NS {
                self.half_open.push_back((flow.last_ts, entry.1, entry.2));
            } else {
                self.flows.remove(&entry.1);
            }
        }
        done.sort_unstable_by_key(|(id, _)| *id);
        done.dedup();
        for (_, key) in done {
            if let Some(flow) = self.flows.remove(&key) {
                if matches!(flow.body, Body::Full(_)) {
                    let hash = self.flows.hasher().hash_one(key);
                    self.tombs.insert(hash, Tomb::Closed);
                }
                self.emit(flow, false);
            }
        }
    }

    /// Drops the queue entries of flows that left the table or the state they were queued
    /// for (a flow without payload that ended, or carried payload), once they outnumber
    /// the flows: otherwise a scan, whose flows end at once, would queue an entry per SYN
    /// until its half-open time is up.
    fn compact(&mut self) {
        let limit = 2 * self.flows.len() + 1024;
        let flows = &self.flows;
        let live = |(_, key, id): &Queued| flows.get(key).is_some_and(|f| f.id == *id);
        if self.ended.len() > limit {
            self.ended.retain(live);
        }
        if self.half_open.len() > limit {
            self.half_open.retain(|(_, key, id)| {
                flows
                    .get(key)
                    .is_some_and(|f| f.id == *id && matches!(f.body, Body::Light(_)) && !f.ended())
            });
        }
    }

    /// The table is full: reports the finished connections, then evicts an eighth of the
    /// rest, in the order of `Flow::rank`, least recently active first.
    fn evict(&mut self) {
        self.expire(true);
        if self.flows.len() < self.limits.max_flows {
            return;
        }
        let n = (self.flows.len() / 8).max(1);
        // Flows without payload first, from their queue: least recently active first.
        let mut victims: Vec<(u64, FlowKey)> = Vec::with_capacity(n);
        while victims.len() < n {
            let Some(entry) = self.half_open.pop_front() else {
                break;
            };
            let Some(flow) = self.current(&entry) else {
                continue;
            };
            if !matches!(flow.body, Body::Light(_)) || flow.ended() {
                continue;
            }
            if flow.last_ts > entry.0 {
                self.half_open.push_back((flow.last_ts, entry.1, entry.2));
            } else {
                victims.push((entry.2, entry.1));
            }
        }
        if victims.len() < n {
            let mut order: Vec<(u8, Ts, u64, FlowKey)> = self
                .flows
                .iter()
                .filter(|(_, f)| matches!(f.body, Body::Full(_)))
                .map(|(k, f)| (f.rank(), f.last_ts, f.id, *k))
                .collect();
            let more = n - victims.len();
            if more < order.len() {
                order.select_nth_unstable_by_key(more, |(rank, ts, id, _)| (*rank, *ts, *id));
                order.truncate(more);
            }
            victims.extend(order.into_iter().map(|(_, _, id, key)| (id, key)));
        }
        victims.sort_unstable_by_key(|(id, _)| *id);
        for (_, key) in victims {
            let Some(flow) = self.flows.remove(&key) else {
                continue;
            };
            let hash = self.flows.hasher().hash_one(key);
            match &flow.body {
                Body::Light(light) => {
                    self.evictions.light += 1;
                    // Remembered only when the peer answered: a SYN never answered (a
                    // filtered port, a spoofed flood) will not go on.
                    if light.answered() {
                        self.tombs.insert(hash, Tomb::EvictedLight);
                    }
                }
                Body::Full(conn) if conn.passive() => {
                    self.evictions.idle += 1;
                    self.tombs.insert(hash, Tomb::Closed);
                    self.emit(flow, false);
                }
                Body::Full(_) => {
                    self.evictions.read += 1;
                    self.tombs.insert(hash, Tomb::Evicted);
                    self.emit(flow, true);
                }
            }
        }
    }

    /// The capture is over: reports every connection still open, in connection order, and
    /// returns the number of TCP connections and the file's warnings.
    pub fn finish(mut self) -> (u64, Vec<FileWarning>) {
        let mut rest: Vec<Flow> = self.flows.drain().map(|(_, f)| f).collect();
        rest.sort_unstable_by_key(|f| f.id);
        for flow in rest {
            self.emit(flow, false);
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
        if self.deep_vlan > 0 {
            warnings.push(FileWarning {
                kind: WarningKind::VlanDepth,
                message: format!(
                    "{} packet(s) with more than {} stacked VLAN tags skipped",
                    self.deep_vlan,
                    crate::decode::MAX_VLAN_TAGS
                ),
            });
        }
        if self.backwards > 0 {
            warnings.push(FileWarning {
                kind: WarningKind::TimeBackwards,
                message: format!(
                    "{} packet(s) are timestamped earlier than the packet before them (at most {}): durations and orders in time across them are not to be trusted",
                    self.backwards,
                    crate::proxy::duration(self.max_back_ns as f64 / 1e6)
                ),
            });
        }
        let ev = &self.evictions;
        if ev.read + ev.idle + ev.light > 0 {
            let max = self.limits.max_flows;
            let dropped = format!(
                "{} flow(s) without payload yet and {} not carrying WebSocket were dropped first",
                ev.light, ev.idle
            );
            let resumed = if ev.light_resumed > 0 {
                format!(
                    " ({} of the former went on and were analyzed from there)",
                    ev.light_resumed
                )
            } else {
                String::new()
            };
            let message = if ev.read > 0 {
                format!(
                    "more than {max} connections were open at once (raise --max-flows): {} connection(s) were evicted while still being analyzed (each reported with a FlowEvicted finding), and {} later packet(s) of theirs with data ({} bytes) were not analyzed; {dropped}{resumed}",
                    ev.read, ev.late_packets, ev.late_bytes
                )
            } else {
                format!(
                    "more than {max} connections were open at once: {dropped}{resumed}; no connection still being analyzed was evicted"
                )
            };
            warnings.push(FileWarning {
                kind: WarningKind::FlowsEvicted,
                message,
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
        (self.tcp_connections, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_without_payload_is_small() {
        // What a scan or a SYN flood costs per open attempt, besides the table's slack.
        assert_eq!(std::mem::size_of::<LightSeg>(), 32);
        assert!(std::mem::size_of::<Light>() <= 144);
        assert!(std::mem::size_of::<(FlowKey, Flow)>() <= 72);
    }

    #[test]
    fn key_ends_come_back_as_they_were() {
        for (src, dst) in [
            ("10.0.0.1:40000", "10.0.0.2:80"),
            ("10.0.0.2:80", "10.0.0.1:40000"),
            ("[2001:db8::1]:5", "[2001:db8::2]:443"),
            ("[::ffff:10.0.0.1]:5", "[::ffff:10.0.0.2]:443"),
        ] {
            let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
            let key = FlowKey::new(src, dst);
            assert_eq!(Light::new(&key, src, 1).ends(&key), (src, dst));
        }
    }
}
