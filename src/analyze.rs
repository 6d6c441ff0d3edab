//! `analyze`: one capture, read packet by packet, through the flow table; each finished
//! connection goes to a callback as soon as it is known (held a little by
//! `together::Together`, which counts the connections a restart closed at once, and by
//! `legs::Linker`, which links the two legs of a proxied session), and the file's summary
//! and warnings come back at the end.

use std::io::Read;
use std::sync::Arc;

use crate::capture::{self, CaptureInfo, Record};
use crate::conn::ConnOptions;
use crate::decode;
use crate::error::Error;
use crate::flows::{Ended, Flows, Limits};
use crate::legs::Linker;
use crate::pipeline::{self, Item, Items};
use crate::progress::{self, Counted, FileProgress, Progress};
use crate::report::{ConnReport, FileReport, FileWarning, Summary};
use crate::together::Together;

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

/// Analysis options.
#[derive(Clone, Debug)]
pub struct Options {
    pub conn: ConnOptions,
    pub max_flows: usize,
    /// Out-of-order bytes buffered across all connections (`MAX_TOTAL_PENDING`).
    pub max_total_pending: usize,
    /// Analyze on a second thread while this one reads and decodes the capture and builds
    /// the reports (the output is the same).
    pub pipelined: bool,
    /// Counters of bytes, packets and open connections to update as the analysis goes
    /// (for a progress line), shared by the files of a run.
    pub progress: Option<Arc<Progress>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            conn: ConnOptions {
                ws_ports: Vec::new(),
                max_pending: DEFAULT_MAX_PENDING,
                keylog: None,
                payloads: false,
                inflate_budget: Default::default(),
            },
            max_flows: DEFAULT_MAX_FLOWS,
            max_total_pending: MAX_TOTAL_PENDING,
            pipelined: true,
            progress: None,
        }
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
    input: Box<dyn Read + Send>,
    gzip: bool,
    opts: &Options,
    on_conn: &mut dyn FnMut(&ConnReport),
) -> (FileReport, Option<Error>) {
    let mut info = CaptureInfo::default();
    let limits = Limits {
        max_flows: opts.max_flows,
        max_total_pending: opts.max_total_pending,
    };
    let mut linker = Linker::new(on_conn);
    let mut to_linker = |c: ConnReport| linker.push(c);
    let mut together = Together::new(&mut to_linker);
    let mut summary = Summary::default();
    let mut report = |ended: Ended| {
        if let Some(r) = ended.report() {
            summary.add(&r);
            together.push(r);
        }
    };
    let conn = ConnOptions {
        inflate_budget: Default::default(),
        ..opts.conn.clone()
    };
    let (input, progress): (Box<dyn Read + Send>, _) = match &opts.progress {
        Some(shared) => (
            Box::new(Counted {
                inner: input,
                shared: shared.clone(),
            }),
            Some(FileProgress::new(shared.clone())),
        ),
        None => (input, None),
    };
    let analysis = Analysis {
        path,
        conn: &conn,
        limits,
        progress,
    };
    let (result, tcp_connections, warnings) = if opts.pipelined {
        analysis.pipelined(input, &mut info, &mut report)
    } else {
        analysis.run(input, &mut info, &mut report)
    };
    together.finish();
    drop(together);
    linker.finish();
    summary.packets = info.packets;
    summary.tcp_connections = tcp_connections;
    let report = FileReport {
        path: path.to_string(),
        format: info.format,
        gzip,
        summary,
        warnings,
        error: result.as_ref().err().map(ToString::to_string),
    };
    (report, result.err())
}

/// The analysis of one capture, up to the connections that leave the flow table: their
/// reports are built by the caller of `run` or `pipelined`.
struct Analysis<'a> {
    path: &'a str,
    conn: &'a ConnOptions,
    limits: Limits,
    progress: Option<FileProgress>,
}

/// How a capture's analysis ended, the TCP connections it saw, the file's warnings.
type Analyzed = (Result<(), Error>, u64, Vec<FileWarning>);

impl Analysis<'_> {
    /// Everything on the calling thread.
    fn run(
        mut self,
        input: Box<dyn Read + Send>,
        info: &mut CaptureInfo,
        on_ended: &mut dyn FnMut(Ended),
    ) -> Analyzed {
        let mut flows = Flows::new(self.conn, self.limits, on_ended);
        let result = capture::read_packets(self.path, input, info, |record| match record {
            Record::Packet(pkt) => {
                flows.packet(
                    pkt.frame_no,
                    pkt.ts,
                    decode::decode(pkt.linktype, pkt.data, pkt.orig_len),
                );
                tick(&mut self.progress, pkt.frame_no, &flows);
            }
            Record::TlsSecrets(text) => flows.tls_secrets(text),
        });
        let (tcp, warnings) = flows.finish();
        if let Some(p) = self.progress {
            p.finish(info.packets);
        }
        (result, tcp, warnings)
    }

    /// A pipeline (`pipeline::split`): the analysis on a second thread, while the calling
    /// thread reads and decodes the capture and reports the connections that leave the flow
    /// table (`on_ended`), in the same order as `run` reports them.
    fn pipelined(
        self,
        input: Box<dyn Read + Send>,
        info: &mut CaptureInfo,
        on_ended: &mut dyn FnMut(Ended),
    ) -> Analyzed {
        let Analysis {
            path,
            conn,
            limits,
            mut progress,
        } = self;
        let analysis = move |items: Items, send: &mut dyn FnMut(Ended)| {
            let mut flows = Flows::new(conn, limits, send);
            items.each(|item| match item {
                Item::Segment(frame_no, ts, seg) => {
                    flows.packet(frame_no, ts, seg);
                    tick(&mut progress, frame_no, &flows);
                }
                Item::TlsSecrets(text) => flows.tls_secrets(text),
            });
            let (tcp, warnings) = flows.finish();
            (tcp, warnings, progress)
        };
        let (result, analyzed) = pipeline::split(path, input, info, analysis, on_ended);
        let Some((tcp, warnings, progress)) = analyzed else {
            return (result, 0, Vec::new());
        };
        if let Some(p) = progress {
            p.finish(info.packets);
        }
        (result, tcp, warnings)
    }
}

/// Every `progress::EVERY` packets, the counters learn how far the analysis is.
fn tick(progress: &mut Option<FileProgress>, frame_no: u64, flows: &Flows) {
    if frame_no % progress::EVERY == 0 {
        if let Some(p) = progress.as_mut() {
            p.update(frame_no, flows.open_connections() as u64);
        }
    }
}
