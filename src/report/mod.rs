//! The report: what `analyze` produces for each file and connection, and the writers that
//! render it (`text`, `json`). Field names here are the JSON field names; they are part of
//! the tool's stable interface and documented in the README.

pub mod json;
pub mod text;
pub mod timefmt;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::capture::Format;
use crate::tcp::Direction;

/// Schema version of the JSON and JSONL outputs; bumped on incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context worth knowing (mid-stream start, heuristic detection).
    Info,
    /// The capture could not be fully analyzed here (gap, cut, limit reached).
    Warning,
    /// The traffic breaks RFC 6455.
    Error,
}

/// The rule a finding is about. Named after what is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Rule {
    IllegalCloseCode,
    OneByteClosePayload,
    ControlFrameTooLong,
    FragmentedControlFrame,
    InvalidUtf8Reason,
    UnmaskedClientFrame,
    MaskedServerFrame,
    ReservedBitsSet,
    ReservedOpcode,
    ContinuationWithoutStart,
    NewMessageInsideFragmented,
    NonMinimalLength,
    LengthMsbSet,
    SecondClose,
    DataAfterClose,
    AcceptMismatch,
    MissingAccept,
    UpgradeRefused,
    ServerSentMandatoryExtension,
    NoCloseHandshake,
    CloseNotAnswered,
    MidStreamStart,
    HeuristicDetection,
    CaptureGap,
    LostFrameSync,
    SnapLenCut,
    InconsistentRetransmission,
    CloseIncomplete,
    FlowEvicted,
    TruncatedAtEnd,
    TlsHandshakeFailed,
    CertificateProblem,
    CertificateHint,
    TlsAlert,
}

impl Rule {
    pub fn severity(self) -> Severity {
        use Rule::*;
        match self {
            IllegalCloseCode
            | OneByteClosePayload
            | ControlFrameTooLong
            | FragmentedControlFrame
            | InvalidUtf8Reason
            | UnmaskedClientFrame
            | MaskedServerFrame
            | ReservedBitsSet
            | ReservedOpcode
            | ContinuationWithoutStart
            | NewMessageInsideFragmented
            | NonMinimalLength
            | LengthMsbSet
            | SecondClose
            | DataAfterClose
            | AcceptMismatch
            | MissingAccept => Severity::Error,
            UpgradeRefused
            | ServerSentMandatoryExtension
            | NoCloseHandshake
            | CloseNotAnswered
            | CaptureGap
            | LostFrameSync
            | SnapLenCut
            | InconsistentRetransmission
            | CloseIncomplete
            | FlowEvicted
            | TruncatedAtEnd
            | TlsHandshakeFailed
            | CertificateProblem => Severity::Warning,
            MidStreamStart | HeuristicDetection | TlsAlert | CertificateHint => Severity::Info,
        }
    }
}

/// One rule broken (or one anomaly met) in a connection, aggregated: the first occurrence
/// and how many times it happened.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Packet of the first occurrence (0 when not tied to a packet).
    pub frame: u64,
    pub count: u64,
    pub message: String,
}

/// Whether a Close frame is allowed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Legal,
    Illegal,
}

/// One Close frame seen on the wire.
#[derive(Clone, Debug, Serialize)]
pub struct CloseReport {
    /// Packet carrying the frame's last byte (Wireshark's frame number).
    pub frame: u64,
    pub ts: String,
    pub direction: Direction,
    pub src: String,
    pub dst: String,
    /// Status code; absent for an empty (or 1-byte) body.
    pub code: Option<u16>,
    /// Reason text (lossy UTF-8); absent when the body has no reason.
    pub reason: Option<String>,
    /// Reason bytes in hex, only when they are not valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_hex: Option<String>,
    pub payload_len: u64,
    pub verdict: Verdict,
    /// Every rule this frame breaks, in words.
    pub problems: Vec<String>,
    /// How the other side answered, when the code is illegal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_reaction: Option<String>,
    /// The catalog entry for the code (for an empty body: 1005, what the receiver reports).
    pub explanation: Option<&'static crate::close::catalog::Entry>,
}

/// How a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Both sides sent Close.
    Clean,
    /// Both sides sent Close but the first had no status code: applications see 1005.
    NoStatus,
    /// One side sent Close and the other never answered.
    OneSided,
    /// The connection ended without any Close frame: applications see 1006.
    Abnormal,
    /// The capture ends with the connection open and no Close seen.
    Open,
    /// The upgrade was refused: no WebSocket connection existed.
    Refused,
    /// The TLS handshake failed: no WebSocket connection existed; clients report 1015.
    TlsFailed,
    /// A TLS session: any WebSocket frames, Close frames included, are encrypted.
    Encrypted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Clean => "clean",
            Outcome::NoStatus => "no_status",
            Outcome::OneSided => "one_sided",
            Outcome::Abnormal => "abnormal",
            Outcome::Open => "open",
            Outcome::Refused => "refused",
            Outcome::TlsFailed => "tls_failed",
            Outcome::Encrypted => "encrypted",
        }
    }
}

/// TCP teardown of a connection.
#[derive(Clone, Debug, Serialize)]
pub struct TcpEnd {
    /// "fin" or "rst".
    pub kind: &'static str,
    pub by: Direction,
    pub frame: u64,
    pub ts: String,
    /// Time from the first Close frame to this teardown, when there was a Close.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_close_ms: Option<f64>,
}

/// The close code an application on one side would observe (a browser's CloseEvent.code).
#[derive(Clone, Debug, Serialize)]
pub struct Observed {
    pub code: u16,
    pub name: &'static str,
    pub why: String,
}

/// The close story of one connection.
#[derive(Clone, Debug, Serialize)]
pub struct Story {
    pub outcome: Outcome,
    pub first_closer: Option<Direction>,
    /// Did the other side answer the first Close with its own?
    pub answered: Option<bool>,
    /// Time between the two Close frames.
    pub close_delay_ms: Option<f64>,
    pub tcp_end: Option<TcpEnd>,
    /// Data frames sent after the sender's own Close, per direction.
    pub data_after_close: bool,
    /// Idle time (no payload either way) before the teardown.
    pub idle_before_end_ms: Option<f64>,
    pub client_observed: Option<Observed>,
    pub server_observed: Option<Observed>,
    pub likely_cause: Option<String>,
}

/// The opening handshake as seen.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Handshake {
    pub request_frame: u64,
    pub response_frame: Option<u64>,
    pub path: String,
    pub host: Option<String>,
    pub origin: Option<String>,
    pub user_agent: Option<String>,
    pub server: Option<String>,
    pub status: Option<u16>,
    pub key: Option<String>,
    pub accept: Option<String>,
    /// Sec-WebSocket-Accept matches the key (absent when either is missing).
    pub accept_valid: Option<bool>,
    pub subprotocol: Option<String>,
    pub offered_extensions: Vec<String>,
    pub extensions: Vec<String>,
    pub permessage_deflate: bool,
}

/// How the connection was recognised as WebSocket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Detection {
    /// The HTTP Upgrade handshake is in the capture.
    Handshake,
    /// No handshake: recognised from frame structure (lower confidence).
    Heuristic,
    /// No handshake: `--ws-port` said so.
    Forced,
    /// A TLS connection: WebSocket (wss://) cannot be told from other TLS without keys.
    Tls,
}

/// Per-direction counters.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct PerDirection {
    pub client_to_server: u64,
    pub server_to_client: u64,
}

impl PerDirection {
    pub fn add(&mut self, dir: Direction, n: u64) {
        match dir {
            Direction::ClientToServer => self.client_to_server += n,
            Direction::ServerToClient => self.server_to_client += n,
        }
    }
}

/// One WebSocket connection (or refused upgrade attempt).
#[derive(Clone, Debug, Serialize)]
pub struct ConnReport {
    /// Connection number within the file, in order of first packet (1-based).
    pub id: u64,
    pub client: String,
    pub server: String,
    pub first_frame: u64,
    pub last_frame: u64,
    pub start: String,
    pub end: String,
    pub duration_ms: f64,
    pub detection: Detection,
    pub handshake: Option<Handshake>,
    pub frames: PerDirection,
    pub messages: PerDirection,
    pub closes: Vec<CloseReport>,
    /// Close frames beyond the per-connection listing cap.
    #[serde(skip_serializing_if = "is_zero")]
    pub closes_not_listed: u64,
    /// The TLS side, when the connection speaks TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tlsconn::TlsReport>,
    pub story: Story,
    pub findings: Vec<Finding>,
}

impl ConnReport {
    /// Not closed cleanly, or a finding at warning level or above.
    pub fn has_problem(&self) -> bool {
        !matches!(self.story.outcome, Outcome::Clean | Outcome::Encrypted)
            || self
                .findings
                .iter()
                .any(|f| f.severity >= Severity::Warning)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A problem with the file as a whole.
#[derive(Clone, Debug, Serialize)]
pub struct FileWarning {
    pub kind: &'static str,
    pub message: String,
}

/// Counts for the top of a file's report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub packets: u64,
    pub tcp_connections: u64,
    pub websocket_connections: u64,
    /// TLS connections (possibly wss://), and how many failed their handshake.
    pub tls_connections: u64,
    pub tls_failures: u64,
    pub close_frames: u64,
    pub closes_by_verdict: BTreeMap<&'static str, u64>,
    pub outcomes: BTreeMap<&'static str, u64>,
    pub findings_by_severity: BTreeMap<&'static str, u64>,
}

impl Summary {
    /// Folds one finished connection into the counts.
    pub fn add(&mut self, c: &ConnReport) {
        if c.detection != Detection::Tls {
            self.websocket_connections += 1;
        }
        if let Some(tls) = &c.tls {
            self.tls_connections += 1;
            if tls.failure.is_some() {
                self.tls_failures += 1;
            }
        }
        self.close_frames += c.closes.len() as u64 + c.closes_not_listed;
        for close in &c.closes {
            let k = match close.verdict {
                Verdict::Legal => "legal",
                Verdict::Illegal => "illegal",
            };
            *self.closes_by_verdict.entry(k).or_default() += 1;
        }
        *self.outcomes.entry(c.story.outcome.as_str()).or_default() += 1;
        for f in &c.findings {
            let k = match f.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Error => "error",
            };
            *self.findings_by_severity.entry(k).or_default() += f.count;
        }
    }
}

/// The report of one file, without its connections (those are streamed).
#[derive(Clone, Debug, Default, Serialize)]
pub struct FileReport {
    pub path: String,
    pub format: Option<Format>,
    pub gzip: bool,
    pub summary: Summary,
    pub warnings: Vec<FileWarning>,
    /// Set when the file could not be read (fully or at all).
    pub error: Option<String>,
}
