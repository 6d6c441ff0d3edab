//! The TLS side of one connection: what each `TlsEvent` says, gathered per connection, and
//! at the end the TLS summary and the handshake failure (what a client reports as 1015),
//! with its cause in plain words and the fix.
//!
//! Certificates (sent in plaintext up to TLS 1.2) are parsed with x509-parser and checked
//! against the capture's timestamp and the SNI. Pure bookkeeping: never panics on input.

use serde::Serialize;
use x509_parser::extensions::GeneralName;

use crate::capture::Ts;
use crate::close::catalog::{lookup_alert, AlertEntry};
use crate::report::timefmt::rfc3339;
use crate::tcp::Direction;
use crate::tls::{cipher_name, version_name, ClientHello, ServerHello, TlsEvent};

/// Most alerts listed per connection.
const MAX_ALERTS: usize = 16;
/// Most certificates of a chain described.
const MAX_CERTS: usize = 8;
/// An encrypted record at least this long after a TLS 1.3 ServerHello is taken for the
/// client's Finished (4-byte header + 32-byte hash + content type + 16-byte tag = 53 for
/// SHA-256 suites); shorter ones can only be alerts or padding-free small messages.
const FINISHED_MIN: usize = 40;
/// An encrypted TLS 1.3 alert: 2 bytes + content type + 16-byte AEAD tag = 19, plus a few
/// bytes of padding some stacks add.
const ENCRYPTED_ALERT_MAX: usize = 24;

/// One certificate of the chain the server sent.
#[derive(Clone, Debug, Serialize)]
pub struct CertReport {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    pub dns_names: Vec<String>,
    pub self_signed: bool,
    /// `valid`, `expired` or `not_yet_valid`, at the time of the packet that carried it.
    pub validity_at_capture: &'static str,
}

/// One TLS alert record.
#[derive(Clone, Debug, Serialize)]
pub struct AlertReport {
    pub frame: u64,
    pub ts: String,
    pub direction: Direction,
    /// The body is encrypted: level and description are not visible without keys.
    pub encrypted: bool,
    pub level: Option<u8>,
    pub description: Option<u8>,
    pub name: Option<&'static str>,
    /// For encrypted alerts: what it most likely is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probable: Option<String>,
}

/// Why the TLS handshake failed.
#[derive(Clone, Debug, Serialize)]
pub struct TlsFailure {
    /// `alert`, `encrypted_alert`, `http_answer`, `plain_http_to_tls`,
    /// `closed_after_client_hello`, `no_answer`.
    pub kind: &'static str,
    pub frame: u64,
    /// The code the client's WebSocket API reports.
    pub client_observed_code: u16,
    pub cause: String,
    pub fix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<&'static AlertEntry>,
}

/// The TLS summary of a connection.
#[derive(Clone, Debug, Serialize)]
pub struct TlsReport {
    /// `complete`, `failed` or `incomplete`.
    pub handshake: &'static str,
    pub client_hello_frame: Option<u64>,
    pub server_hello_frame: Option<u64>,
    pub sni: Option<String>,
    pub offered_versions: Vec<String>,
    pub offered_alpn: Vec<String>,
    pub offered_ciphers: usize,
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub alpn: Option<String>,
    pub hello_retry: bool,
    pub certificates: Vec<CertReport>,
    pub certificate_problems: Vec<String>,
    /// Facts worth knowing that are not problems by themselves (a chain of one certificate).
    pub certificate_hints: Vec<String>,
    pub alerts: Vec<AlertReport>,
    pub failure: Option<TlsFailure>,
}

struct RawAlert {
    side: usize,
    frame: u64,
    ts: Ts,
    plain: Option<(u8, u8)>,
    len: usize,
}

/// TLS facts of a connection, sides numbered as in `conn`.
#[derive(Default)]
pub struct TlsState {
    client_hello: Option<(ClientHello, u64, usize)>,
    client_hello_ts: Ts,
    server_hello: Option<(ServerHello, u64)>,
    hello_retry: bool,
    certs: Vec<CertReport>,
    cert_problems: Vec<String>,
    /// Facts that may or may not be a problem (a chain of one certificate).
    cert_hints: Vec<String>,
    alerts: Vec<RawAlert>,
    ccs: [bool; 2],
    /// Encrypted records per side after the handshake turned encrypted, and whether one
    /// was long enough to be a Finished (TLS 1.3).
    encrypted_records: [u64; 2],
    long_record: [bool; 2],
    /// The last encrypted record per side: (frame, ts, len).
    last_record: [Option<(u64, Ts, usize)>; 2],
    /// The server answered a ClientHello with plaintext HTTP.
    pub http_answer: Option<(u64, String)>,
    /// The client sent a plain HTTP request and the server answered with TLS.
    pub plain_to_tls: Option<u64>,
    /// A TLS 1.3 ServerHello was seen: both directions are encrypted from here.
    pub tls13: bool,
}

/// What the connection knows about how it ended, for the failure analysis.
pub struct EndFacts {
    pub client: usize,
    /// The first FIN or RST: (side, frame, ts, "FIN"/"RST").
    pub end: Option<(usize, u64, Ts, &'static str)>,
}

impl TlsState {
    pub fn hello_retry(&self) -> bool {
        self.hello_retry
    }

    pub fn client_side(&self) -> Option<usize> {
        self.client_hello.as_ref().map(|(_, _, side)| *side)
    }

    /// Takes one event from side `side`'s reader.
    pub fn on_event(&mut self, side: usize, ev: TlsEvent<'_>, frame: u64, ts: Ts) {
        match ev {
            TlsEvent::ClientHello(ch) => {
                if self.client_hello.is_none() {
                    self.client_hello = Some((ch, frame, side));
                    self.client_hello_ts = ts;
                }
            }
            TlsEvent::ServerHello(sh) => {
                if sh.retry {
                    self.hello_retry = true;
                    return;
                }
                if sh.version == 0x0304 || sh.version >> 8 == 0x7f {
                    self.tls13 = true;
                }
                self.server_hello = Some((sh, frame));
            }
            TlsEvent::Certificate(chain) => {
                if self.certs.is_empty() {
                    self.check_certs(&chain, ts);
                }
            }
            TlsEvent::ChangeCipherSpec => {
                if let Some(c) = self.ccs.get_mut(side) {
                    *c = true;
                }
            }
            TlsEvent::Alert { level, description } => {
                self.push_alert(side, frame, ts, Some((level, description)), 2)
            }
            TlsEvent::EncryptedAlert { len } => self.push_alert(side, frame, ts, None, len),
            TlsEvent::Encrypted { len, .. } => {
                if let Some(n) = self.encrypted_records.get_mut(side) {
                    *n += 1;
                }
                if len >= FINISHED_MIN {
                    if let Some(l) = self.long_record.get_mut(side) {
                        *l = true;
                    }
                }
                if let Some(slot) = self.last_record.get_mut(side) {
                    *slot = Some((frame, ts, len));
                }
            }
            // A ClientHello tls-parser could not read: its place in the handshake is
            // still known.
            TlsEvent::Handshake(1) if self.client_hello.is_none() => {
                self.client_hello = Some((ClientHello::default(), frame, side));
                self.client_hello_ts = ts;
            }
            TlsEvent::Handshake(_) | TlsEvent::NotTls => {}
        }
    }

    fn push_alert(&mut self, side: usize, frame: u64, ts: Ts, plain: Option<(u8, u8)>, len: usize) {
        if self.alerts.len() < MAX_ALERTS {
            self.alerts.push(RawAlert {
                side,
                frame,
                ts,
                plain,
                len,
            });
        }
    }

    fn check_certs(&mut self, chain: &[&[u8]], ts: Ts) {
        let now = ts.0.div_euclid(1_000_000_000);
        let mut parsed = Vec::new();
        for der in chain.iter().take(MAX_CERTS) {
            let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
                self.cert_problems
                    .push("a certificate of the chain could not be parsed".to_string());
                continue;
            };
            let validity = cert.validity();
            let (nb, na) = (
                validity.not_before.timestamp(),
                validity.not_after.timestamp(),
            );
            let mut dns_names: Vec<String> = Vec::new();
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                for name in &san.value.general_names {
                    if let GeneralName::DNSName(n) = name {
                        dns_names.push((*n).to_string());
                    }
                }
            }
            if dns_names.is_empty() {
                if let Some(cn) = cert
                    .subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok())
                {
                    dns_names.push(cn.to_string());
                }
            }
            let subject = cert.subject().to_string();
            let issuer = cert.issuer().to_string();
            parsed.push(CertReport {
                self_signed: subject == issuer,
                validity_at_capture: if now > na {
                    "expired"
                } else if now < nb {
                    "not_yet_valid"
                } else {
                    "valid"
                },
                not_before: rfc3339(Ts(nb.saturating_mul(1_000_000_000))),
                not_after: rfc3339(Ts(na.saturating_mul(1_000_000_000))),
                subject,
                issuer,
                dns_names,
            });
        }
        let capture_time = rfc3339(ts);
        if let Some(leaf) = parsed.first() {
            match leaf.validity_at_capture {
                "expired" => self.cert_problems.push(format!(
                    "the server's certificate ({}) expired on {}, before the capture ({capture_time})",
                    leaf.subject, leaf.not_after
                )),
                "not_yet_valid" => self.cert_problems.push(format!(
                    "the server's certificate ({}) is not valid before {} and the capture is from {capture_time}: a clock is wrong",
                    leaf.subject, leaf.not_before
                )),
                _ => {}
            }
            if leaf.self_signed {
                self.cert_problems.push(format!(
                    "the server's certificate is self-signed ({}): clients trust it only if it is installed on them",
                    leaf.subject
                ));
            }
            if let Some((ch, _, _)) = &self.client_hello {
                if let Some(sni) = &ch.sni {
                    if !leaf.dns_names.iter().any(|n| name_matches(n, sni)) {
                        self.cert_problems.push(format!(
                            "the certificate is for {} but the client asked for {sni} (SNI): a name mismatch",
                            leaf.dns_names.join(", ")
                        ));
                    }
                }
            }
        }
        for pair in parsed.windows(2) {
            if let [a, b] = pair {
                if a.issuer != b.subject {
                    self.cert_problems.push(format!(
                        "chain out of order: {} is issued by {}, but the next certificate sent is {}",
                        a.subject, a.issuer, b.subject
                    ));
                    break;
                }
            }
        }
        if let Some(last) = parsed.last() {
            if !last.self_signed && parsed.len() == 1 {
                self.cert_hints.push(format!(
                    "the server sent only its own certificate; if its issuer ({}) is an intermediate CA, clients that do not already have it fail with unknown_ca (missing intermediate)",
                    last.issuer
                ));
            }
        }
        self.certs = parsed;
    }

    /// Did the handshake finish? TLS 1.2: both sides changed cipher spec. TLS 1.3: the
    /// client sent a record long enough to be its Finished.
    fn complete(&self, client: usize) -> bool {
        if self.server_hello.is_none() {
            return false;
        }
        if self.tls13 {
            self.long_record.get(client).copied().unwrap_or(false)
        } else {
            self.ccs.iter().all(|c| *c)
        }
    }

    /// The summary and the failure, if any.
    pub fn report(&self, f: &EndFacts) -> TlsReport {
        let client = self.client_side().unwrap_or(f.client);
        let dir = |side: usize| {
            if side == client {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            }
        };
        let complete = self.complete(client);
        let mut alerts: Vec<AlertReport> = self
            .alerts
            .iter()
            .map(|a| {
                let (level, description) = match a.plain {
                    Some((l, d)) => (Some(l), Some(d)),
                    None => (None, None),
                };
                AlertReport {
                    frame: a.frame,
                    ts: rfc3339(a.ts),
                    direction: dir(a.side),
                    encrypted: a.plain.is_none(),
                    level,
                    description,
                    name: description.and_then(lookup_alert).map(|e| e.name),
                    probable: a.plain.is_none().then(|| {
                        if complete {
                            "close_notify (the usual encrypted alert at the end of a session)".to_string()
                        } else {
                            format!("a handshake failure alert ({} bytes encrypted; a key log file would reveal it)", a.len)
                        }
                    }),
                }
            })
            .collect();
        let failure = self.failure(f, client, complete, &mut alerts);
        let ch = self.client_hello.as_ref().map(|(c, _, _)| c);
        let sh = self.server_hello.as_ref().map(|(s, _)| s);
        TlsReport {
            handshake: if failure.is_some() {
                "failed"
            } else if complete {
                "complete"
            } else {
                "incomplete"
            },
            client_hello_frame: self.client_hello.as_ref().map(|(_, f, _)| *f),
            server_hello_frame: self.server_hello.as_ref().map(|(_, f)| *f),
            sni: ch.and_then(|c| c.sni.clone()),
            offered_versions: ch
                .map(|c| c.versions.iter().map(|v| version_name(*v)).collect())
                .unwrap_or_default(),
            offered_alpn: ch.map(|c| c.alpn.clone()).unwrap_or_default(),
            offered_ciphers: ch.map(|c| c.ciphers.len()).unwrap_or(0),
            version: sh.map(|s| version_name(s.version)),
            cipher: sh.map(|s| cipher_name(s.cipher)),
            alpn: sh.and_then(|s| s.alpn.clone()),
            hello_retry: self.hello_retry,
            certificates: self.certs.clone(),
            certificate_problems: self.cert_problems.clone(),
            certificate_hints: self.cert_hints.clone(),
            alerts,
            failure,
        }
    }

    fn failure(
        &self,
        f: &EndFacts,
        client: usize,
        complete: bool,
        alerts: &mut Vec<AlertReport>,
    ) -> Option<TlsFailure> {
        if let Some(frame) = self.plain_to_tls {
            let alert = self
                .alerts
                .iter()
                .find_map(|a| a.plain)
                .and_then(|(_, d)| lookup_alert(d));
            return Some(TlsFailure {
                kind: "plain_http_to_tls",
                frame,
                client_observed_code: 1006,
                cause: format!(
                    "the client sent a plain HTTP Upgrade request and the server answered with TLS{}: ws:// was used against a wss:// (TLS) port",
                    alert.map(|a| format!(" (alert {})", a.name)).unwrap_or_default()
                ),
                fix: "Use a wss:// URL for this port, or point ws:// at the plaintext port.".to_string(),
                alert,
            });
        }
        if let Some((frame, status)) = &self.http_answer {
            return Some(TlsFailure {
                kind: "http_answer",
                frame: *frame,
                client_observed_code: 1015,
                cause: format!(
                    "the server answered the TLS ClientHello with plain HTTP ({status}): wss:// was used against a ws:// (plaintext) port"
                ),
                fix: "Use a ws:// URL for this port, or put TLS in front of the server (a TLS-terminating proxy or the server's TLS settings).".to_string(),
                alert: None,
            });
        }
        if complete {
            return None;
        }
        let (_, ch_frame, _) = self.client_hello.as_ref()?;
        // No ServerHello and the server hung up first: the client's alert, if any, is only
        // its reaction.
        if self.server_hello.is_none() {
            if let Some((side, frame, ts, kind)) = f.end {
                let first_alert = self.alerts.first().map(|a| a.frame).unwrap_or(u64::MAX);
                if side != client && frame < first_alert {
                    return Some(self.closed_after_hello(frame, ts, kind, *ch_frame));
                }
            }
        }
        // A plaintext fatal alert during the handshake names the cause.
        let fatal = self.alerts.iter().find(|a| match a.plain {
            Some((level, desc)) => level == 2 || (self.tls13 && desc != 0 && desc != 90),
            None => false,
        });
        if let Some(a) = fatal {
            let (_, desc) = a.plain.unwrap_or((2, 0));
            let entry = lookup_alert(desc);
            let name = entry
                .map(|e| e.name.to_string())
                .unwrap_or_else(|| format!("alert {desc}"));
            let sender = dir_of(a.side, client).sender();
            return Some(TlsFailure {
                kind: "alert",
                frame: a.frame,
                client_observed_code: 1015,
                cause: self.alert_cause(desc, &name, sender),
                fix: entry.map(|e| e.fix.to_string()).unwrap_or_else(|| {
                    "Look at the logs of the side that sent the alert.".to_string()
                }),
                alert: entry,
            });
        }
        // TLS 1.2: an encrypted alert before the handshake completed.
        if let Some(a) = self.alerts.iter().find(|a| a.plain.is_none()) {
            let sender = dir_of(a.side, client).sender();
            return Some(TlsFailure {
                kind: "encrypted_alert",
                frame: a.frame,
                client_observed_code: 1015,
                cause: format!(
                    "the {sender} sent an encrypted alert (packet {}) before the handshake completed: it rejected something late in the handshake (a Finished or signature check). A key log file (SSLKEYLOGFILE) would reveal which alert",
                    a.frame
                ),
                fix: "Decrypt with the key log, or look at the logs of the side that sent the alert.".to_string(),
                alert: None,
            });
        }
        // TLS 1.3: short encrypted records in an unfinished handshake are alerts: from the
        // client in place of its Finished (it rejected the server), or from the server in
        // reaction to the client going away.
        if self.tls13 {
            let mut client_alert = None;
            for side in [client, 1 - client] {
                if let Some(Some((frame, ts, len))) = self.last_record.get(side) {
                    if *len > ENCRYPTED_ALERT_MAX {
                        continue;
                    }
                    let d = dir_of(side, client);
                    alerts.push(AlertReport {
                        frame: *frame,
                        ts: rfc3339(*ts),
                        direction: d,
                        encrypted: true,
                        level: None,
                        description: None,
                        name: None,
                        probable: Some(format!(
                            "a TLS 1.3 encrypted alert from the {}: a {len}-byte application_data record in an unfinished handshake (a key log file would reveal it)",
                            d.sender()
                        )),
                    });
                    if side == client {
                        client_alert = Some((*frame, *len));
                    }
                }
            }
            alerts.sort_by_key(|a| a.frame);
            if let Some((frame, len)) = client_alert {
                let certs = if self.cert_problems.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", self.cert_problems.join("; "))
                };
                return Some(TlsFailure {
                    kind: "encrypted_alert",
                    frame,
                    client_observed_code: 1015,
                    cause: format!(
                        "the client answered the server's first flight with a short encrypted record (packet {frame}, {len} bytes) instead of its Finished, and the connection ended: in TLS 1.3 that is an encrypted alert, most likely the client rejecting the server's certificate (expired, untrusted issuer, or wrong name){certs}. A key log file (SSLKEYLOGFILE) would reveal the alert"
                    ),
                    fix: "Check the server's certificate: validity dates, the full chain, and the names it covers (`openssl s_client -connect HOST:PORT -servername NAME`); or decrypt the capture with the client's key log.".to_string(),
                    alert: None,
                });
            }
        }
        if self.server_hello.is_some() {
            // The handshake started and the connection ended before it completed, with no
            // alert: asyncio-based clients, for one, close without sending theirs.
            let (side, frame, _, kind) = f.end?;
            let by = dir_of(side, client).sender();
            let certs = if self.cert_problems.is_empty() {
                String::new()
            } else {
                format!(": {}", self.cert_problems.join("; "))
            };
            let why = if side == client {
                format!("it most likely rejected the server's certificate or parameters without sending its alert{certs}")
            } else {
                "the server rejected the client's part of the handshake (a client certificate or the key exchange)".to_string()
            };
            return Some(TlsFailure {
                kind: "closed_during_handshake",
                frame,
                client_observed_code: 1015,
                cause: format!("the {by} closed the connection ({kind}, packet {frame}) in the middle of the TLS handshake, without an alert: {why}"),
                fix: if self.cert_problems.is_empty() {
                    "Reproduce with `openssl s_client -connect HOST:PORT -servername NAME` to see the error, or decrypt with a key log.".to_string()
                } else {
                    "Fix the certificate problems listed (renew it, serve the full chain, or install the CA on the client).".to_string()
                },
                alert: None,
            });
        }
        // No ServerHello at all.
        let no_answer_fix = "Check that the server listens with TLS on this port, is not overloaded, and that nothing on the path drops the ClientHello.";
        match f.end {
            Some((side, frame, ts, kind)) if side == client => {
                // The client gave up waiting: the server never answered.
                let waited = crate::report::timefmt::ms_between(ts, self.client_hello_ts) / 1000.0;
                Some(TlsFailure {
                    kind: "no_answer",
                    frame,
                    client_observed_code: 1015,
                    cause: format!(
                        "the server never answered the ClientHello (packet {ch_frame}); the client gave up after {waited:.1} s ({kind}, packet {frame})"
                    ),
                    fix: no_answer_fix.to_string(),
                    alert: None,
                })
            }
            // The server hung up after something that named no cause (a warning alert).
            Some((_, frame, ts, kind)) => Some(self.closed_after_hello(frame, ts, kind, *ch_frame)),
            None => Some(TlsFailure {
                kind: "no_answer",
                frame: *ch_frame,
                client_observed_code: 1015,
                cause: format!(
                    "the server never answered the ClientHello (packet {ch_frame}) before the capture ended: the client times out and reports a failed TLS handshake"
                ),
                fix: no_answer_fix.to_string(),
                alert: None,
            }),
        }
    }

    /// The server closed the connection after the ClientHello without a ServerHello.
    fn closed_after_hello(&self, frame: u64, ts: Ts, kind: &str, ch_frame: u64) -> TlsFailure {
        let waited = crate::report::timefmt::ms_between(ts, self.client_hello_ts);
        let reaction = self
            .alerts
            .iter()
            .filter(|a| a.frame > frame)
            .find_map(|a| a.plain)
            .and_then(|(_, d)| lookup_alert(d))
            .map(|e| format!(" (the client then sent {})", e.name))
            .unwrap_or_default();
        TlsFailure {
            kind: "closed_after_client_hello",
            frame,
            client_observed_code: 1015,
            cause: format!(
                "the server closed the connection ({kind}, packet {frame}, {waited:.1} ms) after the ClientHello (packet {ch_frame}) without a ServerHello or alert{reaction}: a server that does not speak TLS on this port (wss:// used against a ws:// port), a middlebox filtering on SNI, or a server that could not parse the ClientHello"
            ),
            fix: "Check that this port serves TLS (use ws:// if it does not), e.g. with `openssl s_client -connect HOST:PORT -servername NAME`; check firewalls or proxies that filter TLS by server name.".to_string(),
            alert: None,
        }
    }

    fn alert_cause(&self, desc: u8, name: &str, sender: &str) -> String {
        let ch = self.client_hello.as_ref().map(|(c, _, _)| c);
        let leaf = self.certs.first();
        match desc {
            45 => match leaf {
                Some(c) if c.validity_at_capture == "expired" => format!(
                    "the {sender} rejected the certificate with certificate_expired: the server's certificate ({}) expired on {}",
                    c.subject, c.not_after
                ),
                Some(c) if c.validity_at_capture == "not_yet_valid" => format!(
                    "the {sender} rejected the certificate with certificate_expired: the server's certificate ({}) is not valid before {} (a clock is wrong)",
                    c.subject, c.not_before
                ),
                _ => format!("the {sender} sent certificate_expired: a certificate in the chain has expired or is not yet valid (in TLS 1.3 the certificate itself is encrypted)"),
            },
            48 => match leaf {
                Some(c) => format!(
                    "the {sender} does not trust the issuer of the server's certificate (unknown_ca): {} is issued by {}, which is not in the {sender}'s trust store{}",
                    c.subject,
                    c.issuer,
                    if self.certs.len() == 1 && !c.self_signed { ", and the server sent no intermediate certificate" } else { "" }
                ),
                None => format!("the {sender} does not trust the issuer of the peer's certificate (unknown_ca): a private CA, a self-signed certificate, or a missing intermediate"),
            },
            42 | 46 => format!(
                "the {sender} rejected the certificate ({name}){}",
                if self.cert_problems.is_empty() { String::new() } else { format!(": {}", self.cert_problems.join("; ")) }
            ),
            70 => {
                let offered: Vec<String> = ch.map(|c| c.versions.iter().map(|v| version_name(*v)).collect()).unwrap_or_default();
                format!(
                    "no TLS version both sides accept: the client offers {} and the {sender} refused them (protocol_version)",
                    if offered.is_empty() { "an unknown version".to_string() } else { offered.join(", ") }
                )
            }
            40 => format!(
                "no security parameters both sides accept (handshake_failure): the client offered {} cipher suite(s) and the {sender} accepted none (or required something the client lacks, such as a certificate)",
                ch.map(|c| c.ciphers.len()).unwrap_or(0)
            ),
            112 => format!(
                "the {sender} does not serve the requested name (unrecognized_name){}",
                ch.and_then(|c| c.sni.as_ref()).map(|s| format!(": SNI was {s}")).unwrap_or_else(|| ": the client sent no SNI".to_string())
            ),
            116 => format!("the {sender} requires a client certificate and the client sent none (certificate_required)"),
            120 => format!(
                "no application protocol in common (no_application_protocol): the client offered ALPN {}",
                ch.map(|c| c.alpn.join(", ")).filter(|s| !s.is_empty()).unwrap_or_else(|| "nothing".to_string())
            ),
            _ => format!(
                "the {sender} sent the fatal alert {name} ({desc}){}",
                lookup_alert(desc).map(|e| format!(": {}", e.meaning)).unwrap_or_default()
            ),
        }
    }
}

fn dir_of(side: usize, client: usize) -> Direction {
    if side == client {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    }
}

/// Does certificate name `pattern` (possibly `*.example.com`) cover `host`?
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let (p, h) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    let h = h.trim_end_matches('.');
    match p.strip_prefix("*.") {
        Some(suffix) => h
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => p == h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_names() {
        assert!(name_matches("*.example.com", "ws.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("Example.COM", "example.com."));
        assert!(!name_matches("localhost", "127.0.0.1"));
    }

    #[test]
    fn tls12_alert_names_the_cause() {
        let mut t = TlsState::default();
        let ch = ClientHello {
            sni: Some("a.test".into()),
            versions: vec![0x0302],
            alpn: vec![],
            ciphers: vec![0x002f],
        };
        t.on_event(0, TlsEvent::ClientHello(ch), 4, Ts(0));
        t.on_event(
            1,
            TlsEvent::Alert {
                level: 2,
                description: 70,
            },
            5,
            Ts(1),
        );
        let r = t.report(&EndFacts {
            client: 0,
            end: Some((1, 6, Ts(2), "FIN")),
        });
        let f = r.failure.expect("failure");
        assert_eq!(
            (f.kind, f.frame, f.client_observed_code),
            ("alert", 5, 1015)
        );
        assert!(f.cause.contains("TLS 1.1"), "{}", f.cause);
        assert_eq!(r.alerts[0].name, Some("protocol_version"));
        assert_eq!(r.handshake, "failed");
    }

    #[test]
    fn client_giving_up_means_no_answer() {
        let mut t = TlsState::default();
        t.on_event(0, TlsEvent::ClientHello(ClientHello::default()), 3, Ts(0));
        let r = t.report(&EndFacts {
            client: 0,
            end: Some((0, 9, Ts(2_000_000_000), "FIN")),
        });
        let f = r.failure.expect("failure");
        assert_eq!(f.kind, "no_answer");
        assert!(f.cause.contains("gave up after 2.0 s"), "{}", f.cause);
    }

    #[test]
    fn no_server_hello_then_rst() {
        let mut t = TlsState::default();
        t.on_event(0, TlsEvent::ClientHello(ClientHello::default()), 3, Ts(0));
        let r = t.report(&EndFacts {
            client: 0,
            end: Some((1, 4, Ts(1), "RST")),
        });
        assert_eq!(r.failure.map(|f| f.kind), Some("closed_after_client_hello"));
        let r = t.report(&EndFacts {
            client: 0,
            end: None,
        });
        assert_eq!(r.failure.map(|f| f.kind), Some("no_answer"));
    }

    #[test]
    fn tls13_short_record_is_a_probable_encrypted_alert() {
        let mut t = TlsState::default();
        t.on_event(0, TlsEvent::ClientHello(ClientHello::default()), 4, Ts(0));
        t.on_event(
            1,
            TlsEvent::ServerHello(ServerHello {
                version: 0x0304,
                cipher: 0x1301,
                alpn: None,
                retry: false,
            }),
            6,
            Ts(1),
        );
        t.on_event(
            1,
            TlsEvent::Encrypted {
                content_type: 23,
                len: 2000,
            },
            6,
            Ts(1),
        );
        t.on_event(
            0,
            TlsEvent::Encrypted {
                content_type: 23,
                len: 19,
            },
            8,
            Ts(2),
        );
        let r = t.report(&EndFacts {
            client: 0,
            end: Some((0, 9, Ts(3), "FIN")),
        });
        let f = r.failure.expect("failure");
        assert_eq!((f.kind, f.frame), ("encrypted_alert", 8));
        assert!(r.alerts.iter().any(|a| a.encrypted && a.frame == 8));
        // The same session with the client's Finished is complete.
        t.on_event(
            0,
            TlsEvent::Encrypted {
                content_type: 23,
                len: 53,
            },
            8,
            Ts(2),
        );
        let r = t.report(&EndFacts {
            client: 0,
            end: Some((0, 9, Ts(3), "FIN")),
        });
        assert!(r.failure.is_none());
        assert_eq!(r.handshake, "complete");
    }
}
