//! The finished connection as a `ConnReport`: both streams flushed, the findings the end
//! reveals (a frame cut by the end of the capture, retransmissions that disagree, an
//! eviction), the model built with final directions, then the close story told over it.

use crate::capture::Ts;
use crate::client::identify;
use crate::close::catalog;
use crate::conn::{App, Conn, Mode, RawClose};
use crate::proxy;
use crate::report::{
    CloseReport, ConnReport, Detection, Finding, FrameTrace, Handshake, Story, Verdict,
};
use crate::rules::Rule;
use crate::story::{self, Evidence};
use crate::tcp::{PerDirection, Side};
use crate::timefmt::ms_between;

impl Conn {
    /// Worth a report so far: WebSocket, an Upgrade attempt, or TLS.
    pub fn recognised(&self) -> bool {
        self.app.is_reported()
    }

    /// This flow was evicted from the table before it carried payload, and went on: what
    /// it did before that is not analysed here.
    pub fn note_resumed_after_eviction(&mut self, frame: u64) {
        self.app.note(Rule::FlowEvicted, None, frame, || {
            "the flow table was full (--max-flows): this connection's first packets were dropped before it carried data, and it is analyzed from here".to_string()
        });
    }

    /// Delivers what both streams still hold (data behind holes never filled): the last of
    /// the analysis. Returns whether the connection is one to report: a WebSocket connection
    /// (or an attempt at one, or TLS), whose report `into_report` builds.
    pub fn flush(&mut self) -> bool {
        let Conn { streams, app, .. } = self;
        for (side, st) in streams.iter_mut() {
            st.flush(&mut |ev| app.on_stream(side, ev));
        }
        self.app.is_reported()
    }

    /// The report of a flushed connection (`flush`), if it is one to report; `evicted` says
    /// the flow table pushed it out before it ended. Reads only this connection: it may run
    /// apart from the analysis (on another thread).
    pub fn into_report(mut self, evicted: bool) -> Option<ConnReport> {
        if !self.app.is_reported() {
            return None;
        }
        self.app.note_late_secrets();
        let frame = self.last_frame;
        for side in Side::BOTH {
            if let Mode::Frames(Some(r)) = &self.app.sides[side].mode {
                if let Some(n) = r.unfinished() {
                    self.app.note(Rule::TruncatedAtEnd, Some(side), frame, || {
                        format!("the stream ends inside a frame ({n} bytes still owed): the frame is not reported")
                    });
                }
            }
            let stats = self.streams[side].stats;
            if stats.inconsistent_overlaps > 0 {
                let n = stats.inconsistent_overlaps;
                self.app.note(Rule::InconsistentRetransmission, Some(side), stats.first_inconsistent_frame, || {
                    format!("{n} retransmitted or overlapping segment(s) carry different bytes than another copy of the same stream bytes; wsclose kept the copy Linux keeps (the first delivered in order; among buffered copies, the one starting first), other stacks may keep another")
                });
            }
            if stats.after_reset_bytes > 0 {
                let n = stats.after_reset_bytes;
                self.app.note(Rule::DataAfterReset, Some(side), stats.first_after_reset_frame, || {
                    format!("{n} byte(s) sent after this side's own RST: its stack had dropped the connection, and the peer's stack, reset, does not deliver them; not analyzed")
                });
            }
            if let Some((first, beyond)) = stats.first_out_of_window {
                let n = stats.out_of_window;
                self.app.note(Rule::OutOfWindow, Some(side), first, || {
                    format!("{n} segment(s) outside the receiver's window (the first starts {beyond} bytes beyond its right edge, or is an old or far RST): the receiver's stack drops them; not analyzed")
                });
            }
        }
        if evicted {
            self.app.note(Rule::FlowEvicted, None, frame, || {
                "the flow table was full (--max-flows): this connection was closed early, later packets are not analyzed".to_string()
            });
        }
        Some(self.report())
    }

    fn report(&mut self) -> ConnReport {
        // Closes are listed in capture order, whatever order the streams delivered them in
        // (a Close buffered behind a hole never filled is delivered at the end). The sort is
        // stable: closes of one packet keep their order.
        self.app.closes.sort_by_key(|c| c.frame);
        // The evidence before each Close moves into the report (it is not needed here again).
        let evidence: Vec<_> = self
            .app
            .closes
            .iter_mut()
            .map(|c| c.evidence.take())
            .collect();
        let app = &self.app;
        let client = app.client;
        let mut frames = PerDirection::default();
        let mut messages = PerDirection::default();
        let mut last_data = PerDirection::default();
        let mut trace = PerDirection::<FrameTrace>::default();
        for (side, s) in app.sides.iter() {
            let d = app.dir(side);
            frames[d] += s.frames;
            messages[d] += s.messages;
            last_data[d] = s.last_data;
            trace[d] = s.trace.clone();
        }
        let end = self.first_end();
        let tls = app
            .tls
            .as_ref()
            .map(|t| story::tls::report(t, client, end, app.response.is_some()));
        let hello = app.tls.as_ref().and_then(|t| t.client_hello.as_ref());
        let ja4 = tls.as_ref().and_then(|t| t.ja4.as_deref());
        let user_agent = app
            .request
            .as_ref()
            .and_then(|(r, _)| r.user_agent.as_deref());
        let client_software = identify(user_agent, hello.map(|c| &c.hello).zip(ja4));
        let mut report = ConnReport {
            id: self.id,
            client: self.ends[client],
            server: self.ends[client.other()],
            first_frame: self.first_frame,
            last_frame: self.last_frame,
            start: self.first_ts,
            end: self.last_ts,
            duration_ms: ms_between(self.last_ts, self.first_ts),
            detection: app.detection.unwrap_or(if app.tls.is_some() {
                Detection::Tls
            } else {
                Detection::Handshake
            }),
            client_software,
            handshake: app.handshake(),
            frames,
            messages,
            closes: app.closes.iter().map(|c| self.close_report(c)).collect(),
            closes_not_listed: app.closes_not_listed,
            tls,
            story: Story::open(),
            findings: app
                .findings
                .iter()
                .map(|f| Finding {
                    rule: f.rule,
                    severity: f.rule.severity(),
                    direction: f.side.map(|s| app.dir(s)),
                    frame: f.frame,
                    count: f.count,
                    message: f.message.clone(),
                })
                .collect(),
            capture_start: Ts::default(),
            trace,
        };
        for (close, ev) in report.closes.iter_mut().zip(evidence) {
            close.evidence = ev;
        }
        let evidence = Evidence {
            client,
            first_end: end,
            rst: self.a_rst(),
            idle_before_end_ns: self.idle_before_end,
            last_data,
            data_after_close: app.sides.iter().any(|(_, s)| s.data_after_close > 0),
            refused: app.refused,
        };
        story::tell(&mut report, &evidence);
        story::diagnose(&mut report);
        proxy::annotate(&mut report);
        report.findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.frame.cmp(&b.frame))
                .then(a.rule.cmp(&b.rule))
        });
        report
    }

    fn close_report(&self, c: &RawClose) -> CloseReport {
        let reason = c.reason.as_deref();
        CloseReport {
            frame: c.frame,
            ts: c.ts,
            direction: self.app.dir(c.side),
            src: self.ends[c.side],
            dst: self.ends[c.side.other()],
            code: c.code,
            reason: reason.map(|r| String::from_utf8_lossy(r).into_owned()),
            reason_hex: reason.filter(|r| std::str::from_utf8(r).is_err()).map(hex),
            payload_len: c.payload_len,
            verdict: if c.illegal {
                Verdict::Illegal
            } else {
                Verdict::Legal
            },
            problems: c.problems.clone(),
            peer_reaction: None,
            explanation: match (c.code, c.payload_len) {
                (Some(code), _) => Some(catalog::lookup(code)),
                (None, 0) => Some(&catalog::EMPTY_CLOSE),
                (None, _) => None,
            },
            evidence: None,
            diagnosis: None,
        }
    }
}

impl App {
    /// The opening handshake, when its request was seen.
    fn handshake(&self) -> Option<Handshake> {
        let (req, frame) = self.request.as_ref()?;
        let resp = self.response.as_ref().map(|(r, _)| r);
        Some(Handshake {
            request_frame: *frame,
            response_frame: self.response.as_ref().map(|(_, f)| *f),
            path: req.path.clone(),
            host: req.host.clone(),
            origin: req.origin.clone(),
            user_agent: req.user_agent.clone(),
            server: resp.and_then(|r| r.server.clone()),
            status: resp.map(|r| r.status),
            key: req.key.clone(),
            accept: resp.and_then(|r| r.accept.clone()),
            accept_valid: self.accept_valid,
            subprotocol: resp.and_then(|r| r.protocol.clone()),
            offered_extensions: req.extensions.clone(),
            extensions: resp.map(|r| r.extensions.clone()).unwrap_or_default(),
            permessage_deflate: resp.is_some_and(|r| r.deflate()),
            request_via: req.via.clone(),
            response_via: resp.and_then(|r| r.via.clone()),
        })
    }
}

/// Bytes as lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
