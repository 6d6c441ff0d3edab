//! The incident summary: what a capture's connections add up to. Totals by outcome and by
//! close code, the causes grouped (one group per stable cause name and side, with its
//! servers, time span and an example connection), the servers and clients with the most
//! problems, and a timeline of closes by class.
//!
//! Bounded: counters per group, server and client (at most `MAX_KEYS` of each, the rest
//! counted together), a few servers per cause, and a timeline whose width grows with the
//! span; no connection is kept.

pub mod timeline;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::capture::Ts;
use crate::client::reports::TlsProblem;
use crate::close::catalog;
use crate::report::{ConnReport, Outcome};
use crate::rules::Severity;
use timeline::{Shape, Timeline};

/// Servers, clients and causes counted apart at most; beyond, they are counted together.
pub const MAX_KEYS: usize = 10_000;
/// Servers named per cause.
const SERVERS_PER_CAUSE: usize = 8;
/// The key the rest is counted under once `MAX_KEYS` is reached.
const OTHERS: &str = "(others)";

/// The number of classes.
pub const CLASSES: usize = 5;

/// How a connection ended, in the four kinds the timeline draws (and the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A complete close handshake.
    Clean,
    /// TCP ended without a complete close handshake.
    Abnormal,
    /// The TLS handshake failed.
    TlsFailure,
    /// Something illegal on the wire (an error-level finding).
    Illegal,
    /// Refused upgrades, sessions that could not be decrypted, connections still open.
    Other,
}

impl Class {
    pub const ALL: [Class; CLASSES] = [
        Class::Clean,
        Class::Abnormal,
        Class::TlsFailure,
        Class::Illegal,
        Class::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Clean => "clean",
            Class::Abnormal => "abnormal",
            Class::TlsFailure => "tls_failure",
            Class::Illegal => "illegal",
            Class::Other => "other",
        }
    }

    /// A connection's class.
    pub fn of(r: &ConnReport) -> Class {
        if r.story.outcome == Outcome::TlsFailed {
            return Class::TlsFailure;
        }
        if r.findings.iter().any(|f| f.severity == Severity::Error) {
            return Class::Illegal;
        }
        match r.story.outcome {
            Outcome::Clean | Outcome::NoStatus => Class::Clean,
            Outcome::Abnormal | Outcome::OneSided | Outcome::Failed => Class::Abnormal,
            Outcome::Open | Outcome::Refused | Outcome::Encrypted | Outcome::TlsFailed => {
                Class::Other
            }
        }
    }
}

/// What a group of connections has in common: a stable cause name and the side it is
/// about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CauseKey {
    pub cause: String,
    /// `client` or `server` (the closer, or the side that ended TCP), when it matters.
    pub by: Option<&'static str>,
}

/// A connection's cause: the diagnosis of its first diagnosed Close, else the likely
/// cause of a drop, else what its TLS handshake, its findings or its first Close say.
pub fn cause_of(r: &ConnReport) -> CauseKey {
    let key = |cause: String, by: Option<&'static str>| CauseKey { cause, by };
    if r.story.outcome == Outcome::TlsFailed {
        let failure = r.tls.as_ref().and_then(|t| t.failure.as_ref());
        let name = match failure.map(|f| f.problem) {
            Some(TlsProblem::Expired) => "tls_certificate_expired".to_string(),
            Some(TlsProblem::Untrusted) => "tls_certificate_untrusted".to_string(),
            Some(TlsProblem::ClientCertificate) => "tls_client_certificate".to_string(),
            _ => match failure.and_then(|f| f.alert) {
                Some(a) => format!("tls_alert_{}", a.name),
                None => "tls_handshake_failed".to_string(),
            },
        };
        return key(name, None);
    }
    if let Some(c) = r.closes.iter().find(|c| c.diagnosis.is_some()) {
        if let Some(d) = &c.diagnosis {
            return key(d.cause.as_str().to_string(), Some(c.direction.sender()));
        }
    }
    if let Some(cause) = r.story.cause {
        let by = r
            .story
            .tcp_end
            .as_ref()
            .map(|e| e.by.sender())
            .or(r.story.first_closer.map(|d| d.sender()));
        return key(cause.as_str().to_string(), by);
    }
    if let Some(f) = r.findings.iter().find(|f| f.severity == Severity::Error) {
        return key(f.rule.name().to_string(), f.direction.map(|d| d.sender()));
    }
    if let Some(c) = r.closes.first() {
        let name = c.code.map_or_else(
            || "close_without_code".to_string(),
            |code| format!("close_{code}"),
        );
        return key(name, Some(c.direction.sender()));
    }
    let name = match r.story.outcome {
        Outcome::Open => "still_open",
        Outcome::Encrypted => "encrypted",
        Outcome::Refused => "upgrade_refused",
        _ => "unknown",
    };
    key(name.to_string(), None)
}

/// How a server is named: the Host the client asked for, else the SNI and port, else the
/// address.
pub fn server_name(r: &ConnReport) -> String {
    if let Some(host) = r.handshake.as_ref().and_then(|h| h.host.as_deref()) {
        // A Host without a port names the scheme's default; the port the server listens
        // on tells servers apart.
        let has_port = host.rsplit_once(':').is_some_and(|(h, p)| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && !h.is_empty()
                && (!h.contains(':') || h.ends_with(']'))
        });
        if has_port {
            return host.to_string();
        }
        return format!("{host}:{}", r.server.port());
    }
    if let Some(sni) = r.tls.as_ref().and_then(|t| t.sni.as_deref()) {
        return format!("{sni}:{}", r.server.port());
    }
    r.server.to_string()
}

/// When a connection's end counts on the timeline: its first Close, else the end of TCP,
/// else its last packet.
pub fn close_time(r: &ConnReport) -> Ts {
    r.closes
        .first()
        .map(|c| c.ts)
        .or(r.story.tcp_end.as_ref().map(|e| e.ts))
        .unwrap_or(r.end)
}

/// A group's counters.
#[derive(Clone, Debug)]
struct Group {
    count: u64,
    class: Class,
    servers: Vec<(String, u64)>,
    other_servers: u64,
    first: Ts,
    last: Ts,
    /// The first connection of the group: file index and id.
    example: (usize, u64),
    /// Idle time before the end (drops), smallest and largest.
    idle_ms: Option<(f64, f64)>,
}

/// Connections and problems per server or client.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    connections: u64,
    problems: u64,
}

/// The summary of one file or several, built one connection at a time.
#[derive(Clone, Debug, Default)]
pub struct Incident {
    connections: u64,
    problems: u64,
    outcomes: BTreeMap<&'static str, u64>,
    classes: [u64; CLASSES],
    /// The first Close's code per connection (None: no code, or no Close).
    codes: BTreeMap<Option<u16>, u64>,
    causes: HashMap<CauseKey, Group>,
    servers: HashMap<String, Tally>,
    clients: HashMap<String, Tally>,
    timeline: Timeline,
    /// The files added, by index (for the examples).
    files: Vec<String>,
}

/// The summary as reported (JSON `incident`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentReport {
    pub connections: u64,
    pub problems: u64,
    /// Connections whose details are listed.
    pub shown: u64,
    /// `all` or `problems`: which connections' details are listed.
    pub details: &'static str,
    pub outcomes: BTreeMap<&'static str, u64>,
    pub classes: BTreeMap<&'static str, u64>,
    pub codes: Vec<CodeCount>,
    pub causes: Vec<CauseGroup>,
    pub servers: Vec<PartyCount>,
    pub clients: Vec<PartyCount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Shape>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CodeCount {
    /// None: connections whose first Close had no code.
    pub code: Option<u16>,
    pub name: &'static str,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CauseGroup {
    pub cause: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<&'static str>,
    pub class: Class,
    /// The group in a few words.
    pub summary: String,
    pub count: u64,
    /// Of all connections.
    pub share: f64,
    pub servers: Vec<PartyCount>,
    pub first: Ts,
    pub last: Ts,
    /// One connection of the group, and its file.
    pub example: u64,
    pub example_file: String,
    /// Idle time before the end, smallest and largest (drops).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_ms: Option<(f64, f64)>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartyCount {
    pub name: String,
    pub connections: u64,
    pub problems: u64,
}

/// Counts `key` in `map`, or under `OTHERS` once the map is full.
fn tally(map: &mut HashMap<String, Tally>, key: String) -> &mut Tally {
    let key = if map.len() >= MAX_KEYS && !map.contains_key(&key) {
        OTHERS.to_string()
    } else {
        key
    };
    map.entry(key).or_default()
}

impl Incident {
    pub fn new() -> Incident {
        Incident::default()
    }

    /// Starts counting the connections of file `path`.
    pub fn begin_file(&mut self, path: &str) {
        self.files.push(path.to_string());
    }

    /// One connection of the current file.
    pub fn add(&mut self, r: &ConnReport) {
        let problem = r.has_problem();
        let class = Class::of(r);
        self.connections += 1;
        self.problems += u64::from(problem);
        *self.outcomes.entry(r.story.outcome.as_str()).or_default() += 1;
        if let Some(c) = self.classes.get_mut(class as usize) {
            *c += 1;
        }
        if let Some(c) = r.closes.first() {
            *self.codes.entry(c.code).or_default() += 1;
        }
        if r.story.outcome != Outcome::Open {
            self.timeline.add(close_time(r), class);
        }
        let server = server_name(r);
        let t = tally(&mut self.servers, server.clone());
        t.connections += 1;
        t.problems += u64::from(problem);
        let t = tally(&mut self.clients, r.client.ip().to_string());
        t.connections += 1;
        t.problems += u64::from(problem);

        let mut key = cause_of(r);
        if self.causes.len() >= MAX_KEYS && !self.causes.contains_key(&key) {
            key = CauseKey {
                cause: OTHERS.to_string(),
                by: None,
            };
        }
        let at = close_time(r);
        let file = self.files.len().saturating_sub(1);
        let idle = r
            .story
            .idle_before_end_ms
            .filter(|_| matches!(class, Class::Abnormal));
        let g = self.causes.entry(key).or_insert_with(|| Group {
            count: 0,
            class,
            servers: Vec::new(),
            other_servers: 0,
            first: at,
            last: at,
            example: (file, r.id),
            idle_ms: None,
        });
        g.count += 1;
        g.first = g.first.min(at);
        g.last = g.last.max(at);
        if let Some(ms) = idle {
            g.idle_ms = Some(g.idle_ms.map_or((ms, ms), |(a, b)| (a.min(ms), b.max(ms))));
        }
        add_server(&mut g.servers, &mut g.other_servers, &server, 1);
    }

    /// Adds another summary (another file's).
    pub fn merge(&mut self, other: &Incident) {
        let offset = self.files.len();
        self.files.extend(other.files.iter().cloned());
        self.connections += other.connections;
        self.problems += other.problems;
        for (k, v) in &other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        for (m, c) in self.classes.iter_mut().zip(other.classes) {
            *m += c;
        }
        for (k, v) in &other.codes {
            *self.codes.entry(*k).or_default() += v;
        }
        for (map, theirs) in [
            (&mut self.servers, &other.servers),
            (&mut self.clients, &other.clients),
        ] {
            for (k, v) in theirs {
                let t = tally(map, k.clone());
                t.connections += v.connections;
                t.problems += v.problems;
            }
        }
        for (k, g) in &other.causes {
            let mut g = g.clone();
            g.example.0 += offset;
            match self.causes.get_mut(k) {
                Some(mine) => {
                    mine.count += g.count;
                    mine.first = mine.first.min(g.first);
                    mine.last = mine.last.max(g.last);
                    mine.idle_ms = match (mine.idle_ms, g.idle_ms) {
                        (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                        (x, y) => x.or(y),
                    };
                    for (s, n) in &g.servers {
                        add_server(&mut mine.servers, &mut mine.other_servers, s, *n);
                    }
                    mine.other_servers += g.other_servers;
                }
                None => {
                    self.causes.insert(k.clone(), g);
                }
            }
        }
        self.timeline.merge(&other.timeline);
    }

    pub fn connections(&self) -> u64 {
        self.connections
    }

    pub fn problems(&self) -> u64 {
        self.problems
    }

    /// The files added.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The summary: groups by count (largest first), top `top` servers and clients by
    /// problems, the timeline in at most `max_buckets` buckets; `details_all` and `shown`
    /// say which connections' details are listed with it.
    pub fn report(
        &self,
        details_all: bool,
        shown: u64,
        top: usize,
        max_buckets: usize,
    ) -> IncidentReport {
        let share = |n: u64| {
            if self.connections == 0 {
                0.0
            } else {
                (n as f64 / self.connections as f64 * 1000.0).round() / 1000.0
            }
        };
        let mut causes: Vec<CauseGroup> = self
            .causes
            .iter()
            .map(|(k, g)| {
                let mut servers: Vec<PartyCount> = g
                    .servers
                    .iter()
                    .map(|(s, n)| PartyCount {
                        name: s.clone(),
                        connections: *n,
                        problems: if g.class == Class::Clean { 0 } else { *n },
                    })
                    .collect();
                if g.other_servers > 0 {
                    servers.push(PartyCount {
                        name: OTHERS.to_string(),
                        connections: g.other_servers,
                        problems: if g.class == Class::Clean {
                            0
                        } else {
                            g.other_servers
                        },
                    });
                }
                CauseGroup {
                    summary: describe(k, g.count),
                    cause: k.cause.clone(),
                    by: k.by,
                    class: g.class,
                    count: g.count,
                    share: share(g.count),
                    servers,
                    first: g.first,
                    last: g.last,
                    example: g.example.1,
                    example_file: self.files.get(g.example.0).cloned().unwrap_or_default(),
                    idle_ms: g.idle_ms,
                }
            })
            .collect();
        causes.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.cause.cmp(&b.cause))
                .then(a.by.cmp(&b.by))
        });
        let codes = self
            .codes
            .iter()
            .map(|(code, n)| CodeCount {
                code: *code,
                name: code.map_or("no status code", |c| catalog::lookup(c).name),
                count: *n,
            })
            .collect();
        IncidentReport {
            connections: self.connections,
            problems: self.problems,
            shown,
            details: if details_all { "all" } else { "problems" },
            outcomes: self.outcomes.clone(),
            classes: Class::ALL
                .iter()
                .map(|c| {
                    (
                        c.as_str(),
                        self.classes.get(*c as usize).copied().unwrap_or(0),
                    )
                })
                .collect(),
            codes,
            causes,
            servers: top_parties(&self.servers, top),
            clients: top_parties(&self.clients, top),
            timeline: self.timeline.shape(max_buckets),
        }
    }
}

/// Counts `n` connections to `server` in a group's short list (or with the others).
fn add_server(list: &mut Vec<(String, u64)>, others: &mut u64, server: &str, n: u64) {
    if let Some(e) = list.iter_mut().find(|(s, _)| s == server) {
        e.1 += n;
    } else if list.len() < SERVERS_PER_CAUSE {
        list.push((server.to_string(), n));
    } else {
        *others += n;
    }
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
}

/// The `top` parties with the most problems (then connections).
fn top_parties(map: &HashMap<String, Tally>, top: usize) -> Vec<PartyCount> {
    let mut v: Vec<PartyCount> = map
        .iter()
        .map(|(k, t)| PartyCount {
            name: k.clone(),
            connections: t.connections,
            problems: t.problems,
        })
        .collect();
    v.sort_by(|a, b| {
        b.problems
            .cmp(&a.problems)
            .then(b.connections.cmp(&a.connections))
            .then(a.name.cmp(&b.name))
    });
    v.truncate(top);
    v
}

/// A group in a few words: what happened, by whom.
pub fn describe(k: &CauseKey, count: u64) -> String {
    let by = k.by.unwrap_or("peer");
    let other = match k.by {
        Some("client") => "server",
        Some("server") => "client",
        _ => "peer",
    };
    let plural = if count == 1 { "" } else { "s" };
    let what = match k.cause.as_str() {
        "rate_limit" => format!("{by} closed with 1008 after a burst of messages (rate limit)"),
        "lifetime" => {
            format!("{by} closed with 1008 at a round connection age (token or session lifetime)")
        }
        "auth" => format!("{by} closed with 1008 naming authentication"),
        "origin" => format!("{by} closed with 1008 naming the Origin"),
        "forbidden_content" => format!("{by} closed with 1008 right after a message it refused"),
        "policy_unknown" => format!("{by} closed with 1008, no policy named"),
        "message_too_big" => format!("{by} closed with 1009 after a message over its limit"),
        "deflate_bomb" => {
            format!("{by} closed with 1009 after a message inflating far beyond its size")
        }
        "invalid_utf8" => format!("{by} closed with 1007 after text that is not UTF-8"),
        "inflate_failed" => format!("{by} closed after a compressed message that does not inflate"),
        "invalid_data_unknown" => format!("{by} closed with 1007, no invalid message seen"),
        "unsupported_type" => {
            format!("{by} closed with 1003 after a message type it does not take")
        }
        "keepalive_timeout" => {
            format!("{by} closed with 1011 after unanswered pings (keepalive timeout)")
        }
        "server_error_on_message" => {
            format!("{by} closed with 1011 right after a message (failed handling it)")
        }
        "server_error_unknown" => format!("{by} closed with 1011, no message or ping behind it"),
        "restart" => {
            format!("{by} closed with 1001/1012 together with many others (restart or deploy)")
        }
        "going_away" => format!("{by} closed with 1001/1012 (going away)"),
        "upgrade_refused" => "the HTTP Upgrade was refused".to_string(),
        "idle_timeout" => format!("{by} closed TCP after an idle time matching a timeout"),
        "reset_after_message" => format!("{by} reset TCP right after the {other}'s message"),
        "upgrade_not_answered" => format!("{by} closed TCP without answering the Upgrade"),
        "no_frames" => format!("{by} closed TCP right after the handshake, before any frame"),
        "proxy_drop" => format!("a proxy ({by} side) closed TCP without Close"),
        "dropped_without_close" => {
            format!("{by} closed TCP without Close (a crash, a killed process, `terminate()`)")
        }
        "closer_did_not_wait" => {
            format!("{by} sent Close and closed TCP without waiting for the answer")
        }
        "close_not_answered" => format!("the {other}'s Close was never answered"),
        "relayed_drop" => format!("a proxy passed on the {by}'s drop"),
        "still_open" => "still open at the end of the capture".to_string(),
        "encrypted" => "TLS sessions not decrypted (give --keylog)".to_string(),
        "tls_certificate_expired" => "TLS handshake failed: certificate expired".to_string(),
        "tls_certificate_untrusted" => "TLS handshake failed: certificate not trusted".to_string(),
        "tls_client_certificate" => "TLS handshake failed: client certificate required".to_string(),
        "tls_handshake_failed" => "TLS handshake failed".to_string(),
        "IllegalCloseCode" => format!("{by} sent a close code that is illegal on the wire"),
        other => match other.strip_prefix("close_") {
            Some("without_code") => format!("{by} closed with an empty Close"),
            Some(code) => match code.parse::<u16>() {
                Ok(c) => format!("{by} closed with {c} ({})", catalog::lookup(c).name),
                Err(_) => other.to_string(),
            },
            None => match other.strip_prefix("tls_alert_") {
                Some(alert) => format!("TLS handshake failed: alert {alert}"),
                None => format!("{by}: {other}"),
            },
        },
    };
    format!("{count} connection{plural}: {what}")
}
