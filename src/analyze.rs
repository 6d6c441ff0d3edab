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
use crate::flows::{Flows, Limits};
use crate::legs::Linker;
use crate::pipeline::{self, Item};
use crate::progress::{self, Counted, FileProgress, Progress};
use crate::report::{ConnReport, FileReport};
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
    /// Read and decode on a second thread while this one analyzes (the output is the same).
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
    let mut push = |c: ConnReport| together.push(c);
    let conn = ConnOptions {
        inflate_budget: Default::default(),
        ..opts.conn.clone()
    };
    let mut flows = Flows::new(&conn, limits, &mut push);
    let (input, mut progress): (Box<dyn Read + Send>, _) = match &opts.progress {
        Some(shared) => (
            Box::new(Counted {
                inner: input,
                shared: shared.clone(),
            }),
            Some(FileProgress::new(shared.clone())),
        ),
        None => (input, None),
    };
    // Every `progress::EVERY` packets, the counters learn how far the analysis is.
    let mut count = |frame_no: u64, flows: &Flows| {
        if frame_no % progress::EVERY == 0 {
            if let Some(p) = progress.as_mut() {
                p.update(frame_no, flows.open_connections() as u64);
            }
        }
    };
    let result = if opts.pipelined {
        pipeline::read_segments(path, input, &mut info, |item| match item {
            Item::Segment(frame_no, ts, seg) => {
                flows.packet(frame_no, ts, seg);
                count(frame_no, &flows);
            }
            Item::TlsSecrets(text) => flows.tls_secrets(text),
        })
    } else {
        capture::read_packets(path, input, &mut info, |record| match record {
            Record::Packet(pkt) => {
                flows.packet(
                    pkt.frame_no,
                    pkt.ts,
                    decode::decode(pkt.linktype, pkt.data, pkt.orig_len),
                );
                count(pkt.frame_no, &flows);
            }
            Record::TlsSecrets(text) => flows.tls_secrets(text),
        })
    };
    let (mut summary, warnings) = flows.finish();
    if let Some(p) = progress {
        p.finish(info.packets);
    }
    together.finish();
    drop(together);
    linker.finish();
    summary.packets = info.packets;
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
