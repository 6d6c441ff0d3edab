//! The report model: what `analyze` produces for each file and connection, as plain typed
//! data. Addresses are `SocketAddr`s, times are capture timestamps (`Ts`), and every closed
//! set of values is an enum; nothing here is formatted for a reader. The renderers in
//! `render` turn it into text or JSON.
//!
//! Field names and serde renames here are the JSON field names and values: they are part of
//! the tool's stable interface and documented in the README.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;

use crate::capture::{Format, Ts};
use crate::client::reports::{Reported, TlsProblem};
use crate::client::{Family, Identity};
use crate::close::catalog::{AlertEntry, Entry};
use crate::rules::{Rule, Severity};
use crate::tcp::{Direction, PerDirection};
use crate::tls::{CertReport, CipherSuite, Version};
use crate::ws::frame::Opcode;

/// Schema version of the JSON and JSONL outputs; bumped on incompatible change.
pub const SCHEMA_VERSION: u32 = 2;

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

impl Finding {
    /// A single occurrence of `rule`, at its default severity.
    pub fn new(rule: Rule, direction: Option<Direction>, frame: u64, message: String) -> Finding {
        Finding {
            rule,
            severity: rule.severity(),
            direction,
            frame,
            count: 1,
            message,
        }
    }
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
    pub ts: Ts,
    pub direction: Direction,
    pub src: SocketAddr,
    pub dst: SocketAddr,
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
    pub explanation: Option<&'static Entry>,
    /// What came before the Close, when it started the closing handshake (an answer to
    /// the peer's Close has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Box<CloseEvidence>>,
    /// What the evidence says the close was for, with its confidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
}

/// What came before a Close: the connection's age, each side's recent activity, and the
/// message that triggered it when the Close followed one at once.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CloseEvidence {
    /// Time from the server's 101 (or the connection's first packet, when the handshake is
    /// not in the capture) to the Close.
    pub age_ms: f64,
    pub age_since: AgeSince,
    /// The round lifetime the age matches (a token's or a session's), in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round_lifetime_s: Option<u64>,
    /// The peer's message that the Close followed within the sender's reaction time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// What the Close's sender did before it.
    pub sender: Activity,
    /// What the other side did before it.
    pub peer: Activity,
    /// Other connections to the same server that closed with the same code within the same
    /// instant (1001 and 1012 only: a restart or deploy closes them together).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_instant: Option<SameInstant>,
}

/// Where a connection's age is counted from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeSince {
    Handshake,
    FirstPacket,
}

/// The message a Close reacted to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trigger {
    /// Packet that completed the message.
    pub frame: u64,
    /// Time from the message to the Close.
    pub ms_before: f64,
    /// The sender's typical reaction to a message on this connection (median), when it
    /// answered any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaction_ms: Option<f64>,
    /// A Close this soon after a message was caused by it.
    pub within_ms: f64,
}

/// One side's activity before a Close.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Activity {
    /// Data messages sent before the Close.
    pub messages: u64,
    pub last_1s: u64,
    pub last_10s: u64,
    /// More messages came than wsclose keeps times of: the counts are lower bounds.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub counts_at_least: bool,
    /// The run of messages, each within 100 ms of the next, that ended last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<Burst>,
    /// The last messages, oldest first.
    pub recent: Vec<MessageReport>,
    /// A message still arriving when the Close came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<MessageReport>,
    /// The first message that was not valid UTF-8 or did not inflate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_invalid: Option<MessageReport>,
    /// The first message whose inflation wsclose stopped (a deflate bomb, or its budget).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_capped: Option<MessageReport>,
    pub pings: u64,
    pub pongs: u64,
    /// Pings sent after the other side's last pong (all of them when it sent none).
    pub unanswered_pings: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_ping_ms_before: Option<f64>,
}

/// A run of messages close together.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Burst {
    pub messages: u64,
    /// From its first message to the Close.
    pub span_ms: f64,
    /// Messages per second in the ten seconds before it (or since the connection opened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_before_per_s: Option<f64>,
}

/// One message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageReport {
    /// Packet that completed it (for a message in progress: the one that started it).
    pub frame: u64,
    /// Time from the message to the Close.
    pub ms_before: f64,
    pub kind: MessageKind,
    pub frames: u32,
    /// Payload bytes on the wire (as its frames declare).
    pub wire_bytes: u64,
    /// Bytes that arrived, when fewer than declared (a message in progress or cut).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_bytes: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub compressed: bool,
    /// Size once inflated, when compressed and inflated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inflated_bytes: Option<u64>,
    /// Inflation stopped: `inflated_bytes` is a lower bound.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inflated_at_least: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inflate_error: Option<String>,
    /// For text judged whole: whether it is valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utf8_valid: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_utf8_at: Option<u64>,
    /// First bytes (`--payloads` only): text as text, binary as hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
}

/// A data message's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Text,
    Binary,
}

impl MessageKind {
    /// As the report words it (and JSON spells it).
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Binary => "binary",
        }
    }
}

/// Connections closed together.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SameInstant {
    /// Other connections to the same server closed with the same code.
    pub others: u64,
    /// Within this much of this Close.
    pub window_ms: f64,
}

/// What a close was for, read from its code, its reason and the evidence before it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    /// A stable name for grouping.
    pub cause: DiagnosisKind,
    pub confidence: Confidence,
    /// The cause in one sentence, with the numbers behind it.
    pub summary: String,
}

/// The causes a diagnosis names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosisKind {
    /// 1008 after a burst, or with a rate-limit reason.
    RateLimit,
    /// A close at a round connection age, not after a message: a token or session lifetime.
    Lifetime,
    /// 1008 naming authentication (a token, a session) without a round age.
    Auth,
    /// 1008 naming the Origin.
    Origin,
    /// 1008 after a message the server refused (forbidden content).
    ForbiddenContent,
    /// 1008 whose evidence names no policy.
    PolicyUnknown,
    /// 1009 after a message over the receiver's limit.
    MessageTooBig,
    /// 1009 with a message that inflates far beyond its wire size.
    DeflateBomb,
    /// 1007 after a text message that is not UTF-8.
    InvalidUtf8,
    /// 1007 or 1002 after a compressed message that does not inflate.
    InflateFailed,
    /// 1007 with no invalid message seen.
    InvalidDataUnknown,
    /// 1003 after a message of a type the receiver does not take.
    UnsupportedType,
    /// 1011 after pings that went unanswered.
    KeepaliveTimeout,
    /// 1011 right after a message: the receiver failed handling it.
    ServerErrorOnMessage,
    /// 1011 with no message or ping behind it.
    ServerErrorUnknown,
    /// 1001 or 1012 to many connections at once: a restart or deploy.
    Restart,
    /// 1001 or 1012 to this connection alone.
    GoingAway,
}

impl DiagnosisKind {
    /// The name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosisKind::RateLimit => "rate_limit",
            DiagnosisKind::Lifetime => "lifetime",
            DiagnosisKind::Auth => "auth",
            DiagnosisKind::Origin => "origin",
            DiagnosisKind::ForbiddenContent => "forbidden_content",
            DiagnosisKind::PolicyUnknown => "policy_unknown",
            DiagnosisKind::MessageTooBig => "message_too_big",
            DiagnosisKind::DeflateBomb => "deflate_bomb",
            DiagnosisKind::InvalidUtf8 => "invalid_utf8",
            DiagnosisKind::InflateFailed => "inflate_failed",
            DiagnosisKind::InvalidDataUnknown => "invalid_data_unknown",
            DiagnosisKind::UnsupportedType => "unsupported_type",
            DiagnosisKind::KeepaliveTimeout => "keepalive_timeout",
            DiagnosisKind::ServerErrorOnMessage => "server_error_on_message",
            DiagnosisKind::ServerErrorUnknown => "server_error_unknown",
            DiagnosisKind::Restart => "restart",
            DiagnosisKind::GoingAway => "going_away",
        }
    }
}

/// The likely causes of a connection that ended without a complete close handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropCause {
    /// The HTTP Upgrade was refused.
    UpgradeRefused,
    /// Idle time matching a proxy's or a round timeout.
    IdleTimeout,
    /// A RST soon after the peer's message: a reaction to it.
    ResetAfterMessage,
    /// TCP ended without an answer to the Upgrade request.
    UpgradeNotAnswered,
    /// TCP ended right after the handshake, before any frame.
    NoFrames,
    /// A proxy named by the handshake ended TCP.
    ProxyDrop,
    /// TCP ended without a Close: a crash, a killed process, a middlebox.
    DroppedWithoutClose,
    /// The closer sent Close and ended TCP without waiting for the answer.
    CloserDidNotWait,
    /// The Close was never answered.
    CloseNotAnswered,
    /// A proxy passed on the other leg's drop (both legs in the capture).
    RelayedDrop,
}

impl DropCause {
    /// The name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DropCause::UpgradeRefused => "upgrade_refused",
            DropCause::IdleTimeout => "idle_timeout",
            DropCause::ResetAfterMessage => "reset_after_message",
            DropCause::UpgradeNotAnswered => "upgrade_not_answered",
            DropCause::NoFrames => "no_frames",
            DropCause::ProxyDrop => "proxy_drop",
            DropCause::DroppedWithoutClose => "dropped_without_close",
            DropCause::CloserDidNotWait => "closer_did_not_wait",
            DropCause::CloseNotAnswered => "close_not_answered",
            DropCause::RelayedDrop => "relayed_drop",
        }
    }
}

/// How a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
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
    /// The TLS handshake failed: no WebSocket connection existed.
    TlsFailed,
    /// Close frames were exchanged, but one side answered the other's illegal Close by
    /// failing the connection (1002, 1007): its application reports an error, not a clean
    /// close.
    Failed,
    /// A TLS session: any WebSocket frames, Close frames included, are encrypted.
    Encrypted,
}

impl Outcome {
    /// The name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Clean => "clean",
            Outcome::NoStatus => "no_status",
            Outcome::OneSided => "one_sided",
            Outcome::Abnormal => "abnormal",
            Outcome::Open => "open",
            Outcome::Refused => "refused",
            Outcome::TlsFailed => "tls_failed",
            Outcome::Failed => "failed",
            Outcome::Encrypted => "encrypted",
        }
    }
}

/// Outcomes order by name, so that counts per outcome list alphabetically.
impl Ord for Outcome {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Outcome {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How TCP ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndKind {
    Fin,
    Rst,
}

impl fmt::Display for EndKind {
    /// As the flags are written: `FIN`, `RST`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndKind::Fin => "FIN",
            EndKind::Rst => "RST",
        })
    }
}

/// TCP teardown of a connection.
#[derive(Clone, Debug, Serialize)]
pub struct TcpEnd {
    pub kind: EndKind,
    pub by: Direction,
    pub frame: u64,
    pub ts: Ts,
    /// Time from the first Close frame to this teardown, when there was a Close.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_close_ms: Option<f64>,
    /// Decrypted TLS: whether the side that ended TCP had sent close_notify first (false:
    /// the TLS stream was truncated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_close_notify: Option<bool>,
}

/// What the application on one side was told when the connection ended: the close code
/// (or none), wasClean and the `error` event where its API has them, the error it raises.
#[derive(Clone, Debug, Serialize)]
pub struct Observed {
    /// The client family this is about, when the capture names it; absent: what every
    /// measured client reports, or, with `alternatives`, a case where they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    #[serde(flatten)]
    pub reported: Reported,
    /// The name of `code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
    pub why: String,
    /// When clients differ and this one is not identified: what each family reports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<Alternative>,
}

/// What some client families report, alike.
#[derive(Clone, Debug, Serialize)]
pub struct Alternative {
    pub families: Vec<Family>,
    #[serde(flatten)]
    pub reported: Reported,
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
    /// Data frames were sent after the sender's own Close.
    pub data_after_close: bool,
    /// Idle time (no payload either way) before the teardown.
    pub idle_before_end_ms: Option<f64>,
    pub client_observed: Option<Observed>,
    pub server_observed: Option<Observed>,
    pub likely_cause: Option<String>,
    /// A stable name for the likely cause of a connection that ended without a complete
    /// close handshake, for grouping (the sentence above names its packets and times).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<DropCause>,
    /// The proxy the handshake names (`Server`, `Via`), or the linked leg reveals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyReport>,
    /// A drop without Close whose idle time matches a known or round timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<IdleTimeout>,
    /// The other leg of a proxied session, when both are in the capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_leg: Option<LinkedLeg>,
}

/// A proxy named by the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProxyReport {
    /// The product, lowercase: `nginx`, `haproxy`, `envoy`, `cloudflare`, ...
    pub name: String,
    pub version: Option<String>,
    /// The header that named it: `server` or `via` of the 101 response, `request_via`.
    pub header: &'static str,
    /// That header's value as sent.
    pub value: String,
    /// Which end of this connection the proxy is.
    pub side: ProxySide,
}

/// Which end of a connection a proxy is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxySide {
    /// The client talks to the proxy (it answered the Upgrade: `Server`, response `Via`).
    Server,
    /// The proxy forwarded the client's request (request `Via`).
    Client,
}

impl ProxySide {
    /// The direction the proxy sends in on this connection.
    pub fn sends(self) -> Direction {
        match self {
            ProxySide::Server => Direction::ServerToClient,
            ProxySide::Client => Direction::ClientToServer,
        }
    }
}

/// Whether an idle timeout matched a product's default or a value someone configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutKind {
    Default,
    Configured,
}

/// The idle period before a drop, matched against idle timeouts (inferred, never read).
#[derive(Clone, Debug, Serialize)]
pub struct IdleTimeout {
    /// The timeout matched, in seconds.
    pub seconds: u32,
    pub kind: TimeoutKind,
    /// The setting, when the product is known or the value is a product's default:
    /// `nginx proxy_read_timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    /// Idle time minus the timeout, in milliseconds.
    pub off_ms: f64,
    pub confidence: Confidence,
}

/// What a connection is in a proxied session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegRole {
    /// Client -> proxy.
    ClientLeg,
    /// Proxy -> backend.
    BackendLeg,
}

/// Who took part in a proxied session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Client,
    Proxy,
    Backend,
}

/// The other leg of a proxied session, linked by the messages both carried.
#[derive(Clone, Debug, Serialize)]
pub struct LinkedLeg {
    /// The other leg's connection id.
    pub connection: u64,
    /// What the other leg is.
    pub role: LegRole,
    /// Frames matched one for one (same sizes, same order, relayed within a few ms).
    pub frames_matched: u64,
    /// Who sent the first FIN or RST of the session, and on which leg.
    pub ended_by: Party,
    pub ended_on: LegRole,
    /// From that first FIN or RST to the first one on the other leg.
    pub relay_ms: f64,
    /// The session's end across the proxy, in words.
    pub story: String,
}

impl Story {
    /// The story of a connection nothing is known of yet: open, no Close.
    pub fn open() -> Story {
        Story {
            outcome: Outcome::Open,
            first_closer: None,
            answered: None,
            close_delay_ms: None,
            tcp_end: None,
            data_after_close: false,
            idle_before_end_ms: None,
            client_observed: None,
            server_observed: None,
            likely_cause: None,
            cause: None,
            proxy: None,
            idle_timeout: None,
            linked_leg: None,
        }
    }
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
    /// The Via header of the request (a proxy forwarded it) and of the response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_via: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_via: Option<String>,
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

/// How far the TLS handshake got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsHandshake {
    Complete,
    Failed,
    Incomplete,
}

/// One TLS alert record.
#[derive(Clone, Debug, Serialize)]
pub struct AlertReport {
    pub frame: u64,
    pub ts: Ts,
    pub direction: Direction,
    /// The alert was protected on the wire: level and description are visible only when
    /// it was `decrypted`.
    pub encrypted: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decrypted: bool,
    pub level: Option<u8>,
    pub description: Option<u8>,
    pub name: Option<&'static str>,
    /// For encrypted alerts: what it most likely is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probable: Option<String>,
}

/// How a TLS handshake failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A plaintext fatal alert.
    Alert,
    /// An encrypted alert (TLS 1.2 after ChangeCipherSpec, or a TLS 1.3 short record).
    EncryptedAlert,
    /// TCP ended in the middle of the handshake, without an alert.
    ClosedDuringHandshake,
    /// The server closed after the ClientHello without answering it.
    ClosedAfterClientHello,
    /// The ClientHello was never answered.
    NoAnswer,
    /// The server answered the ClientHello in plaintext HTTP.
    HttpAnswer,
    /// The client spoke plain HTTP to a TLS port.
    PlainHttpToTls,
    /// A fatal alert right after a handshake that looked complete, before the WebSocket
    /// handshake (TLS 1.3 servers reject client certificates this way).
    AlertAfterHandshake,
    /// Without keys: the server ended a TLS 1.3 session right after its handshake with
    /// one short record, most likely such an alert.
    ProbableAlertAfterHandshake,
    /// The client completed the handshake and hung up without sending anything: it
    /// rejected the server's certificate after the handshake.
    ClosedAfterHandshake,
}

/// How sure an inferred claim is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    High,
    Medium,
    Low,
}

/// Why the TLS handshake failed.
#[derive(Clone, Debug, Serialize)]
pub struct TlsFailure {
    pub kind: FailureKind,
    pub frame: u64,
    /// What the failure is, as far as clients' errors tell causes apart.
    #[serde(skip)]
    pub problem: TlsProblem,
    pub cause: String,
    pub fix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<&'static AlertEntry>,
    /// Set when the failure is inferred from record sizes and timing, not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
}

/// Whether a TLS session was decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecryptionStatus {
    /// Its records were opened with the key log's secrets: what the report says of the
    /// WebSocket inside is read, as for ws://.
    Decrypted,
    /// No key log was given and the capture embeds none.
    NoKeyLog,
    /// The key log has no line for the session's client random.
    NoMatchingSecret,
    /// The key log has lines for the session but not the secrets its version needs.
    IncompleteSecrets,
    /// The cipher suite is not one wsclose decrypts.
    UnsupportedCipher,
    /// TLS 1.0 or 1.1: not decrypted.
    UnsupportedVersion,
    /// A record failed authentication: the secrets are not this session's (or the record
    /// is damaged).
    WrongKey,
}

/// Decryption of a TLS session.
#[derive(Clone, Debug, Serialize)]
pub struct DecryptionReport {
    pub status: DecryptionStatus,
    /// The packet the status is about (the ServerHello, or the record that failed).
    pub frame: u64,
    pub detail: String,
    /// Plaintext bytes decrypted each way.
    pub bytes: PerDirection<u64>,
}

/// The TLS summary of a connection.
#[derive(Clone, Debug, Serialize)]
pub struct TlsReport {
    pub handshake: TlsHandshake,
    pub client_hello_frame: Option<u64>,
    pub server_hello_frame: Option<u64>,
    pub sni: Option<String>,
    pub offered_versions: Vec<Version>,
    pub offered_alpn: Vec<String>,
    pub offered_ciphers: usize,
    /// The JA4 fingerprint of the ClientHello.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    pub version: Option<Version>,
    pub cipher: Option<CipherSuite>,
    pub alpn: Option<String>,
    pub hello_retry: bool,
    pub certificates: Vec<CertReport>,
    pub certificate_problems: Vec<String>,
    /// Facts worth knowing that are not problems by themselves (a chain of one certificate).
    pub certificate_hints: Vec<String>,
    pub alerts: Vec<AlertReport>,
    pub failure: Option<TlsFailure>,
    /// Whether the records were decrypted, and why not (absent when no ServerHello was
    /// seen, so there was nothing to decrypt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<DecryptionReport>,
}

/// One WebSocket connection (or refused upgrade attempt, or TLS connection).
#[derive(Clone, Debug, Serialize)]
pub struct ConnReport {
    /// Connection number within the file, in order of first packet (1-based).
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub first_frame: u64,
    pub last_frame: u64,
    pub start: Ts,
    pub end: Ts,
    pub duration_ms: f64,
    pub detection: Detection,
    /// The client software, as far as the capture names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_software: Option<Identity>,
    pub handshake: Option<Handshake>,
    pub frames: PerDirection<u64>,
    pub messages: PerDirection<u64>,
    pub closes: Vec<CloseReport>,
    /// Close frames beyond the per-connection listing cap.
    #[serde(skip_serializing_if = "is_zero")]
    pub closes_not_listed: u64,
    /// The TLS side, when the connection speaks TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsReport>,
    pub story: Story,
    pub findings: Vec<Finding>,
    /// The capture's first packet (for times given from the start; not reported).
    #[serde(skip)]
    pub capture_start: Ts,
    /// The last frames of each direction, to link the legs of a proxied session (not
    /// reported).
    #[serde(skip)]
    pub trace: PerDirection<FrameTrace>,
}

/// A frame as seen on the wire: packet, time, opcode and payload length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TracedFrame {
    pub frame: u64,
    pub ts: Ts,
    pub opcode: Opcode,
    pub len: u64,
}

/// The last `FrameTrace::KEEP` frames of one direction, and how many there were.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameTrace {
    pub last: std::collections::VecDeque<TracedFrame>,
    pub total: u64,
}

impl FrameTrace {
    /// Frames kept per direction: enough to tell two relayed sessions from chance.
    pub const KEEP: usize = 32;

    /// Records one frame, forgetting the oldest beyond `KEEP`.
    pub fn push(&mut self, f: TracedFrame) {
        if self.last.len() == Self::KEEP {
            self.last.pop_front();
        }
        self.last.push_back(f);
        self.total += 1;
    }
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

/// What kind of problem a file-level warning is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    UnsupportedLinktype,
    IpFragments,
    CutHeaders,
    FlowsEvicted,
    /// Packets with more stacked VLAN tags than are followed.
    VlanDepth,
    /// Packets timestamped earlier than the packet before them.
    TimeBackwards,
    /// Lines of embedded TLS secrets that could not be read.
    KeyLog,
}

/// A problem with the file as a whole.
#[derive(Clone, Debug, Serialize)]
pub struct FileWarning {
    pub kind: WarningKind,
    pub message: String,
}

/// Close frames per verdict; zero counts are left out of the JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerdictCounts {
    #[serde(skip_serializing_if = "is_zero")]
    pub illegal: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub legal: u64,
}

/// Findings per severity; zero counts are left out of the JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    #[serde(skip_serializing_if = "is_zero")]
    pub error: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub info: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub warning: u64,
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
    pub closes_by_verdict: VerdictCounts,
    pub outcomes: BTreeMap<Outcome, u64>,
    pub findings_by_severity: SeverityCounts,
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
            match close.verdict {
                Verdict::Legal => self.closes_by_verdict.legal += 1,
                Verdict::Illegal => self.closes_by_verdict.illegal += 1,
            }
        }
        *self.outcomes.entry(c.story.outcome).or_default() += 1;
        for f in &c.findings {
            let slot = match f.severity {
                Severity::Info => &mut self.findings_by_severity.info,
                Severity::Warning => &mut self.findings_by_severity.warning,
                Severity::Error => &mut self.findings_by_severity.error,
            };
            *slot += f.count;
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
