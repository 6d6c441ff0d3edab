//! The TCP life of a connection: each segment into its side's reassembled stream (and the
//! peer's ACK into the other), FIN and RST, the idle time before the teardown, the bytes the
//! connection buffers (for the capture-wide budget), and whether a SYN on the same four-tuple
//! starts another connection.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::capture::Ts;
use crate::conn::{App, Conn, ConnOptions, Mode};
use crate::decode::Segment;
use crate::report::EndKind;
use crate::rules::Rule;
use crate::story::End;
use crate::tcp::reassembly::{GapKind, Stream};
use crate::tcp::{PerSide, Seq, Side};
use crate::tls::keylog::KeyLog;

impl Conn {
    /// A connection whose first packet seen goes from `src` to `dst`.
    pub fn new(
        id: u64,
        src: SocketAddr,
        dst: SocketAddr,
        frame: u64,
        ts: Ts,
        opts: &ConnOptions,
    ) -> Conn {
        let forced = opts
            .ws_ports
            .iter()
            .copied()
            .find(|p| *p == src.port() || *p == dst.port());
        Conn {
            id,
            ends: PerSide::new(src, dst),
            streams: PerSide::new(Stream::new(opts.max_pending), Stream::new(opts.max_pending)),
            app: App::new(PerSide::new(src.port(), dst.port()), forced, ts, opts),
            first_frame: frame,
            first_ts: ts,
            last_frame: frame,
            last_ts: ts,
            fin: PerSide::default(),
            rst: PerSide::default(),
            last_payload: None,
            idle_before_end: None,
            accounted: 0,
        }
    }

    /// The TLS secrets this connection decrypts with (the key log may grow while it is
    /// open: secrets embedded in a capture apply to the sessions after them).
    pub fn set_keylog(&mut self, keylog: &Arc<KeyLog>) {
        self.app.keylog = Some(Arc::clone(keylog));
    }

    /// The side that sends from `src`.
    fn side_of(&self, src: SocketAddr) -> Side {
        if src == self.ends.a {
            Side::A
        } else {
            Side::B
        }
    }

    /// The first FIN or RST (by packet; a FIN before a RST in the same packet).
    pub(super) fn first_end(&self) -> Option<End> {
        let mut first: Option<End> = None;
        for side in Side::BOTH {
            for (kind, seen) in [
                (EndKind::Fin, self.fin[side]),
                (EndKind::Rst, self.rst[side]),
            ] {
                if let Some((frame, ts)) = seen {
                    if first.is_none_or(|e| frame < e.frame) {
                        first = Some(End {
                            side,
                            frame,
                            ts,
                            kind,
                        });
                    }
                }
            }
        }
        first
    }

    /// A RST: side A's when both sides sent one.
    pub(super) fn a_rst(&self) -> Option<End> {
        Side::BOTH.into_iter().find_map(|side| {
            self.rst[side].map(|(frame, ts)| End {
                side,
                frame,
                ts,
                kind: EndKind::Rst,
            })
        })
    }

    /// Both directions finished (FIN each way, or a RST).
    pub fn ended(&self) -> bool {
        self.rst.a.is_some()
            || self.rst.b.is_some()
            || (self.fin.a.is_some() && self.fin.b.is_some())
    }

    /// Nothing more to learn: neither side is being read.
    pub fn passive(&self) -> bool {
        self.app
            .sides
            .iter()
            .all(|(_, s)| matches!(s.mode, Mode::Ignore) && s.tls.is_none())
    }

    /// Is a SYN from `src` with sequence number `isn` the start of another connection on
    /// this four-tuple? True when this one has ended, or when its initiator's SYN carried a
    /// different sequence number and the connection got past its handshake (the end of the
    /// old one is not in the capture); a retransmitted SYN is the same connection. A SYN
    /// with another ISN before the peer answered is a candidate of this connection: the
    /// peer's SYN-ACK chooses which SYN it accepted (`Conn::segment`).
    pub fn is_new_connection(&self, src: SocketAddr, isn: Seq) -> bool {
        if self.ended() {
            return true;
        }
        let side = self.side_of(src);
        let stream = &self.streams[side];
        match stream.isn() {
            Some(known) if known == isn => false,
            Some(_) => !self.awaits_syn_ack(side),
            // No SYN seen from that side before: a SYN now, after data, starts over.
            None => stream.offset() > 0,
        }
    }

    /// `side` sent a SYN and nothing else happened yet: no answer from the peer, no data.
    fn awaits_syn_ack(&self, side: Side) -> bool {
        let (own, peer) = (&self.streams[side], &self.streams[side.other()]);
        peer.isn().is_none()
            && peer.offset() == 0
            && own.offset() == 0
            && own.pending_bytes() == 0
            && peer.pending_bytes() == 0
    }

    /// Handles one segment of this connection.
    pub fn segment(&mut self, seg: &Segment<'_>, frame: u64, ts: Ts) {
        let side = self.side_of(SocketAddr::new(seg.src, seg.src_port));
        self.last_frame = frame;
        self.last_ts = ts;
        let flags = seg.flags;
        if flags.syn {
            self.syn(side, seg);
        }
        let passive = self.passive();
        let Conn { streams, app, .. } = self;
        let (own, peer) = streams.pair_mut(side);
        // The acknowledgment first: it says what the sender had received when it sent this
        // segment (a Close it acknowledges came before the Close it carries).
        if !passive && flags.ack {
            // Windows are not scaled on SYNs (RFC 7323 §2.2).
            let shift = if flags.syn { 0 } else { peer.peer_shift() };
            let window = u32::from(seg.window) << shift;
            peer.acked(seg.ack, window, frame, ts, &mut |ev| {
                app.on_stream(side.other(), ev)
            });
        }
        let mut rst_accepted = true;
        let mut rst_challenged = false;
        if !passive {
            if flags.rst {
                // What a RST carries is not data (RFC 9293 §3.5.3); it ends the stream.
                rst_accepted = own.reset(seg.seq, frame);
            } else if !seg.payload.is_empty() || seg.missing > 0 {
                let unconfirmed = own.rst_unconfirmed();
                let seq = if flags.syn { seg.seq + 1 } else { seg.seq };
                own.segment(seq, seg.payload, seg.missing, frame, ts, &mut |ev| {
                    app.on_stream(side, ev)
                });
                rst_challenged = unconfirmed && !own.rst_unconfirmed();
            }
        }
        if rst_challenged {
            // The side's RST was not at the next byte and it sent data since: the receiver
            // answered it with a challenge ACK (RFC 5961 §3.2), the connection goes on.
            self.rst[side] = None;
        }
        if !seg.payload.is_empty() {
            self.last_payload = Some(ts);
        }
        let first_end = [self.fin.a, self.fin.b, self.rst.a, self.rst.b]
            .iter()
            .all(Option::is_none);
        let ends = flags.fin || (flags.rst && rst_accepted);
        if ends && self.idle_before_end.is_none() && first_end {
            self.idle_before_end = self.last_payload.map(|p| ts.since(p));
        }
        if flags.fin {
            self.fin[side].get_or_insert((frame, ts));
        }
        if flags.rst && rst_accepted {
            self.rst[side].get_or_insert((frame, ts));
        }
    }

    /// A SYN from `side`: its ISN (a candidate until the SYN-ACK chooses), who the client
    /// is, which SYN a SYN-ACK accepted, and, once both SYNs are known, the window scales.
    fn syn(&mut self, side: Side, seg: &Segment<'_>) {
        self.streams[side].syn(seg.seq, seg.wscale);
        let initiator = if seg.flags.ack { side.other() } else { side };
        self.app.set_client(initiator);
        if seg.flags.ack {
            self.streams[initiator].choose_isn(seg.ack + u32::MAX);
        }
        let (a, b) = (&self.streams.a, &self.streams.b);
        if a.isn().is_some() && b.isn().is_some() {
            // Scaling is on only when both SYNs offer it; each side's windows are then
            // shifted by its own count (RFC 7323 §2.2).
            let (shift_a, shift_b) = match (a.syn_wscale(), b.syn_wscale()) {
                (Some(sa), Some(sb)) => (sa, sb),
                _ => (0, 0),
            };
            // Side A's stream is bounded by B's window, and B's by A's.
            self.streams.a.set_peer_shift(shift_b);
            self.streams.b.set_peer_shift(shift_a);
        }
    }

    /// Everything this connection buffers: reassembly and application layer.
    pub fn buffered(&self) -> usize {
        self.streams.a.pending_bytes() + self.streams.b.pending_bytes() + self.app_buffered()
    }

    /// Bytes the application layer holds, as counted after each side's latest stream event
    /// (`App::side_buffered`).
    fn app_buffered(&self) -> usize {
        self.app.buffered.a + self.app.buffered.b
    }

    /// The capture-wide budget is spent: gives up on the holes both directions wait on
    /// (buffered data is delivered after gaps) and drops the application-layer buffers
    /// (what they held is not analyzed, and the connection says so).
    pub fn shed_buffers(&mut self) {
        let Conn { streams, app, .. } = self;
        for (side, st) in streams.iter_mut() {
            st.give_up(&mut |ev| app.on_stream(side, ev));
        }
        let frame = self.last_frame;
        let mut shed = 0;
        for (_, side) in self.app.sides.iter_mut() {
            match &mut side.mode {
                Mode::Probe { buf, .. } => {
                    shed += buf.len();
                    side.mode = Mode::Ignore;
                }
                Mode::Hold { held, .. } => {
                    shed += *held;
                    side.mode = Mode::Ignore;
                }
                _ => {}
            }
            if let Some(r) = side.tls.as_mut() {
                shed += r.buffered();
                r.shed();
            }
        }
        for (_, sniff) in self.app.sniff.iter_mut() {
            shed += sniff.take().map_or(0, |s| s.buffered());
        }
        for side in Side::BOTH {
            self.app.buffered[side] = self.app.side_buffered(side);
        }
        if shed > 0 {
            self.app.shed = true;
            self.app.note(Rule::BufferLimit, None, frame, || {
                format!("the capture-wide buffer budget (--max-buffer-total) was spent: {shed} buffered bytes of handshakes in progress were dropped and not analyzed")
            });
        }
    }
}

impl App {
    /// Bytes of `side`'s stream that will never be seen: a finding saying why.
    pub(super) fn note_gap(
        &mut self,
        side: Side,
        offset: u64,
        len: u64,
        kind: GapKind,
        frame: u64,
    ) {
        let at = Some(side);
        match kind {
            GapKind::MidStream => self.note(Rule::MidStreamStart, at, frame, || {
                "capture starts after this connection did (no SYN): its beginning is not in the capture".to_string()
            }),
            GapKind::SnapLen => self.note(Rule::SnapLenCut, at, frame, || {
                format!("packet cut by the capture's snap length: {len} bytes missing at stream offset {offset}")
            }),
            GapKind::Missing => self.note(Rule::CaptureGap, at, frame, || {
                format!("{len} bytes missing from the capture at stream offset {offset}")
            }),
            GapKind::BufferLimit => self.note(Rule::BufferLimit, at, frame, || {
                format!("out-of-order buffer limit reached: gave up on {len} missing bytes at stream offset {offset}")
            }),
        }
    }
}
