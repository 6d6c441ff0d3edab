//! The TLS failure diagnosis: from the TLS facts of a connection (`tls::Session`) and how
//! TCP ended, the connection's TLS summary and, when the handshake failed, what a client
//! reports (1015, or 1006 for plain HTTP sent to a TLS port), the cause in plain words and
//! the fix. The steps below are tried in order; the first that recognises the failure
//! names it.

use crate::capture::Ts;
use crate::client::ja4::ja4;
use crate::client::reports::TlsProblem;
use crate::close::catalog::{lookup_alert, AlertEntry};
use crate::report::{
    AlertReport, Confidence, DecryptionReport, DecryptionStatus, FailureKind, TlsFailure,
    TlsHandshake, TlsReport,
};
use crate::story::{direction_of, End};
use crate::tcp::{Direction, PerDirection, Side};
use crate::timefmt::ms_between;
use crate::tls::decrypt::Missing;
use crate::tls::session::{Decryption, SeenAlert, SeenRecord, Session};
use crate::tls::{TlsAlertDescription, TlsAlertSeverity, Validity};

/// An encrypted TLS 1.3 alert: 2 bytes + content type + 16-byte AEAD tag = 19, plus a few
/// bytes of padding some stacks add.
const ENCRYPTED_ALERT_MAX: usize = 24;

/// The summary of `s` and its failure, if any. `client` is the client side as the
/// connection knows it, used when no ClientHello was seen; `end` is the first FIN or RST;
/// `upgraded`: the decrypted stream carried the server's answer to an HTTP request.
pub fn report(s: &Session, client: Side, end: Option<End>, upgraded: bool) -> TlsReport {
    let client = s.client_side().unwrap_or(client);
    let complete = s.complete(client);
    let mut alerts: Vec<AlertReport> = s
        .alerts
        .iter()
        .map(|a| alert_report(a, client, complete))
        .collect();
    let d = Diagnosis {
        s,
        client,
        end,
        alerts: &mut alerts,
    };
    let mut failure = d.failure(complete, upgraded);
    if let Some(f) = &mut failure {
        let client_left = end.is_some_and(|e| e.side == client);
        f.problem = problem(s, f, client_left);
    }
    let ch = s.client_hello.as_ref().map(|c| &c.hello);
    let sh = s.server_hello.as_ref().map(|(h, _)| h);
    TlsReport {
        handshake: if failure.is_some() {
            TlsHandshake::Failed
        } else if complete {
            TlsHandshake::Complete
        } else {
            TlsHandshake::Incomplete
        },
        client_hello_frame: s.client_hello.as_ref().map(|c| c.frame),
        server_hello_frame: s.server_hello.as_ref().map(|(_, f)| *f),
        sni: ch.and_then(|c| c.sni.clone()),
        offered_versions: ch.map(|c| c.versions.clone()).unwrap_or_default(),
        offered_alpn: ch.map(|c| c.alpn.clone()).unwrap_or_default(),
        offered_ciphers: ch.map(|c| c.ciphers.len()).unwrap_or(0),
        ja4: ch.map(ja4),
        version: sh.map(|h| h.version),
        cipher: sh.map(|h| h.cipher),
        alpn: sh.and_then(|h| h.alpn.clone()),
        hello_retry: s.hello_retry,
        certificates: s.chain.certs.clone(),
        certificate_problems: s.chain.problems.clone(),
        certificate_hints: s.chain.hints.clone(),
        alerts,
        failure,
        decryption: decryption(s, client),
    }
}

/// What a failed handshake is about, as far as clients' errors tell causes apart: the alert
/// when it names one, else what the handshake shows (an expired certificate, a request for
/// a client certificate; a client that rejected a certificate with nothing wrong in the
/// capture most likely does not trust its issuer). `client_left`: the client ended TCP.
fn problem(s: &Session, f: &TlsFailure, client_left: bool) -> TlsProblem {
    let expired = s
        .chain
        .certs
        .first()
        .is_some_and(|c| c.validity_at_capture != Validity::Valid);
    match f.alert.map(|a| a.code) {
        Some(45) => return TlsProblem::Expired,
        Some(48) => return TlsProblem::Untrusted,
        Some(116) => return TlsProblem::ClientCertificate,
        // Chromium says certificate_unknown for an expired and an untrusted certificate
        // alike.
        Some(42 | 46) if !expired => return TlsProblem::Untrusted,
        _ => {}
    }
    let client_rejected = matches!(
        f.kind,
        FailureKind::ClosedDuringHandshake
            | FailureKind::EncryptedAlert
            | FailureKind::ClosedAfterHandshake
    ) && client_left;
    // Without keys, a TLS 1.3 server's short record and hang-up after the client's Finished
    // is most likely certificate_required (the failure says so, with low confidence).
    let probable_client_certificate = f.kind == FailureKind::ProbableAlertAfterHandshake;
    if expired {
        TlsProblem::Expired
    } else if s.certificate_requested || probable_client_certificate {
        TlsProblem::ClientCertificate
    } else if client_rejected && !s.chain.certs.is_empty() && s.chain.problems.is_empty() {
        TlsProblem::Untrusted
    } else {
        TlsProblem::Other
    }
}

/// Whether the session was decrypted, and why not.
fn decryption(s: &Session, client: Side) -> Option<DecryptionReport> {
    let d = s.decryption?;
    let hello = s.server_hello.as_ref().map_or(0, |(_, f)| *f);
    let bytes = PerDirection {
        client_to_server: s.decrypted[client],
        server_to_client: s.decrypted[client.other()],
    };
    let total = bytes.client_to_server + bytes.server_to_client;
    let (status, frame, detail) = match d {
        Decryption::Keys {
            frame,
            complete: true,
        } => (
            DecryptionStatus::Decrypted,
            frame,
            format!("decrypted with the key log's secrets for this session: {total} bytes of plaintext"),
        ),
        Decryption::Keys {
            frame,
            complete: false,
        } => (
            DecryptionStatus::IncompleteSecrets,
            frame,
            "the key log has only the handshake secrets of this session: the handshake was decrypted (certificates, alerts), not what follows it".to_string(),
        ),
        Decryption::Missing(why) => (
            match why {
                Missing::NoKeyLog => DecryptionStatus::NoKeyLog,
                Missing::NoSecret => DecryptionStatus::NoMatchingSecret,
                Missing::IncompleteSecrets => DecryptionStatus::IncompleteSecrets,
                Missing::UnsupportedCipher => DecryptionStatus::UnsupportedCipher,
                Missing::UnsupportedVersion => DecryptionStatus::UnsupportedVersion,
            },
            hello,
            if s.late_secrets {
                format!("not decrypted: {why}; the capture holds this session's secrets in a Decryption Secrets Block after its handshake, too late to be used: pass them with --keylog")
            } else {
                format!("not decrypted: {why}")
            },
        ),
        Decryption::Failed { side, frame, error } => (
            DecryptionStatus::WrongKey,
            frame,
            format!(
                "a record from the {} (packet {frame}) did not decrypt ({error}) with the key log's secrets for this session's client random: they belong to another session or the record is damaged; {total} bytes were decrypted before it",
                direction_of(side, client).sender(),
            ),
        ),
    };
    Some(DecryptionReport {
        status,
        frame,
        detail,
        bytes,
    })
}

fn alert_report(a: &SeenAlert, client: Side, complete: bool) -> AlertReport {
    let (level, description) = match a.plain {
        Some((l, d)) => (Some(l.0), Some(d.0)),
        None => (None, None),
    };
    AlertReport {
        frame: a.frame,
        ts: a.ts,
        direction: direction_of(a.side, client),
        encrypted: a.protected,
        decrypted: a.protected && a.plain.is_some(),
        level,
        description,
        name: description.and_then(lookup_alert).map(|e| e.name),
        probable: a.plain.is_none().then(|| {
            if complete {
                "close_notify (the usual encrypted alert at the end of a session)".to_string()
            } else {
                format!(
                    "a handshake failure alert ({} bytes encrypted; a key log file would reveal it)",
                    a.len
                )
            }
        }),
    }
}

/// An alert inferred from a short protected record: what it probably is.
fn probable_alert(r: SeenRecord, direction: Direction, probable: String) -> AlertReport {
    AlertReport {
        frame: r.frame,
        ts: r.ts,
        direction,
        encrypted: true,
        decrypted: false,
        level: None,
        description: None,
        name: None,
        probable: Some(probable),
    }
}

/// The facts the diagnosis reads; the alerts list grows when TLS 1.3 short records turn
/// out to be alerts.
struct Diagnosis<'a> {
    s: &'a Session,
    client: Side,
    end: Option<End>,
    alerts: &'a mut Vec<AlertReport>,
}

fn failure(
    kind: FailureKind,
    frame: u64,
    cause: String,
    fix: &str,
    alert: Option<&'static AlertEntry>,
) -> Option<TlsFailure> {
    Some(TlsFailure {
        kind,
        frame,
        problem: TlsProblem::Other,
        cause,
        fix: fix.to_string(),
        alert,
        confidence: None,
    })
}

impl Diagnosis<'_> {
    fn sender(&self, side: Side) -> &'static str {
        direction_of(side, self.client).sender()
    }

    /// Why the handshake failed, if it did.
    fn failure(mut self, complete: bool, upgraded: bool) -> Option<TlsFailure> {
        if let Some(f) = self.plain_http_to_tls() {
            return Some(f);
        }
        if let Some(f) = self.http_answer() {
            return Some(f);
        }
        if complete {
            if upgraded {
                return None;
            }
            return self
                .alert_after_handshake()
                .or_else(|| self.probable_alert_after_handshake())
                .or_else(|| self.tls12_alert_before_data())
                .or_else(|| self.client_left_after_handshake());
        }
        let ch_frame = self.s.client_hello.as_ref()?.frame;
        self.server_hung_up_first(ch_frame)
            .or_else(|| self.fatal_alert())
            .or_else(|| self.tls12_encrypted_alert())
            .or_else(|| self.tls13_short_records())
            .or_else(|| self.closed_during_handshake())
            .or_else(|| self.never_answered(ch_frame))
    }

    /// The client spoke plain HTTP and the server answered in TLS: ws:// to a wss:// port.
    fn plain_http_to_tls(&self) -> Option<TlsFailure> {
        let frame = self.s.plain_to_tls?;
        let alert = self
            .s
            .alerts
            .iter()
            .find_map(|a| a.plain)
            .and_then(|(_, d)| lookup_alert(d.0));
        Some(TlsFailure {
            kind: FailureKind::PlainHttpToTls,
            frame,
            problem: TlsProblem::Other,
            cause: format!(
                "the client sent a plain HTTP Upgrade request and the server answered with TLS{}: ws:// was used against a wss:// (TLS) port",
                alert.map(|a| format!(" (alert {})", a.name)).unwrap_or_default()
            ),
            fix: "Use a wss:// URL for this port, or point ws:// at the plaintext port.".to_string(),
            alert,
            confidence: None,
        })
    }

    /// The server answered the ClientHello in plaintext (HTTP, or a page or banner without
    /// a status line): wss:// to a ws:// port.
    fn http_answer(&self) -> Option<TlsFailure> {
        let (frame, status) = self.s.http_answer.as_ref()?;
        let cause = if status.starts_with("HTTP/") {
            format!(
                "the server answered the TLS ClientHello with plain HTTP ({status}): wss:// was used against a ws:// (plaintext) port"
            )
        } else {
            format!(
                "the server answered the TLS ClientHello in plaintext: `{status}`: it does not speak TLS on this port (wss:// used against a ws:// or plain HTTP port)"
            )
        };
        failure(
            FailureKind::HttpAnswer,
            *frame,
            cause,
            "Use a ws:// URL for this port, or put TLS in front of the server (a TLS-terminating proxy or the server's TLS settings).",
            None,
        )
    }

    /// No ServerHello and the server hung up before any alert: the client's alert, if any,
    /// is only its reaction.
    fn server_hung_up_first(&self, ch_frame: u64) -> Option<TlsFailure> {
        if self.s.server_hello.is_some() {
            return None;
        }
        let end = self.end?;
        let first_alert = self.s.alerts.first().map_or(u64::MAX, |a| a.frame);
        (end.side != self.client && end.frame < first_alert)
            .then(|| self.closed_after_hello(end, ch_frame))
    }

    /// A plaintext fatal alert during the handshake names the cause.
    fn fatal_alert(&self) -> Option<TlsFailure> {
        let (a, desc) = self.ending_alert(false)?;
        self.alert_failure(FailureKind::Alert, a, desc, String::new())
    }

    /// A fatal alert, decrypted, after a handshake that completed and before any answer
    /// to an HTTP request: the session was refused right after its handshake.
    fn alert_after_handshake(&self) -> Option<TlsFailure> {
        let (a, desc) = self.ending_alert(true)?;
        let mut more = String::new();
        if desc == TlsAlertDescription::CertificateRequired || self.s.certificate_requested {
            more.push_str(&self.client_certificate_facts());
        }
        more.push_str(&format!(
            " (decrypted alert, packet {}, after the handshake had completed: the client's TLS library reports it on its first read, as a failed connection)",
            a.frame
        ));
        self.alert_failure(FailureKind::AlertAfterHandshake, a, desc, more)
    }

    /// The first alert that ends the session (fatal; in TLS 1.3 any but close_notify and
    /// user_canceled), leaving out one sent after the peer had gone; with `protected`, only
    /// an alert that was encrypted on the wire (and decrypted).
    fn ending_alert(&self, protected: bool) -> Option<(&SeenAlert, TlsAlertDescription)> {
        let tls13 = self.s.tls13;
        self.s.alerts.iter().find_map(|a| match a.plain {
            Some((level, desc))
                if (level == TlsAlertSeverity::Fatal
                    || (tls13
                        && desc != TlsAlertDescription::CloseNotify
                        && desc != TlsAlertDescription::UserCancelled))
                    && (a.protected || !protected)
                    && !self.after_peer_left(a) =>
            {
                Some((a, desc))
            }
            _ => None,
        })
    }

    /// The failure alert `a` names: its cause in plain words (with `more` after it) and the
    /// catalog's fix.
    fn alert_failure(
        &self,
        kind: FailureKind,
        a: &SeenAlert,
        desc: TlsAlertDescription,
        more: String,
    ) -> Option<TlsFailure> {
        let entry = lookup_alert(desc.0);
        let name = entry
            .map(|e| e.name.to_string())
            .unwrap_or_else(|| format!("alert {}", desc.0));
        let cause = self.alert_cause(desc, &name, self.sender(a.side)) + &more;
        failure(
            kind,
            a.frame,
            cause,
            entry.map_or("Look at the logs of the side that sent the alert.", |e| {
                e.fix
            }),
            entry,
        )
    }

    /// What the handshake shows of client certificates.
    fn client_certificate_facts(&self) -> String {
        match (self.s.certificate_requested, self.s.client_certificates) {
            (true, Some(0)) => {
                "; the server asked for a client certificate (CertificateRequest) and the client sent an empty Certificate".to_string()
            }
            (true, Some(n)) => format!(
                "; the server asked for a client certificate and the client sent {n} certificate(s), which the server rejected"
            ),
            (true, None) => "; the server asked for a client certificate".to_string(),
            (false, _) => String::new(),
        }
    }

    /// Without keys: a TLS 1.3 server that answers the client's Finished with one short
    /// record and hangs up, before any application data of its own. That record is most
    /// likely a fatal alert; rejecting the client's certificate is the common cause.
    fn probable_alert_after_handshake(&mut self) -> Option<TlsFailure> {
        if !self.s.tls13 || matches!(self.s.decryption, Some(Decryption::Keys { .. })) {
            return None;
        }
        let end = self.end?;
        let (records, longest) = self.s.server_after_finished;
        if end.side == self.client || !(1..=2).contains(&records) || longest > ENCRYPTED_ALERT_MAX {
            return None;
        }
        let r = self.s.last_record[self.client.other()]?;
        self.alerts.push(probable_alert(
            r,
            Direction::ServerToClient,
            format!(
                "a TLS 1.3 encrypted alert from the server: a {}-byte record right after the handshake, then the server closed (a key log file would reveal it)",
                r.len
            ),
        ));
        self.alerts.sort_by_key(|a| a.frame);
        Some(TlsFailure {
            kind: FailureKind::ProbableAlertAfterHandshake,
            frame: r.frame,
            problem: TlsProblem::Other,
            cause: format!(
                "the server ended the session right after the TLS 1.3 handshake: one short encrypted record (packet {}, {} bytes), then {} (packet {}), before sending any application data. That is most likely a fatal alert; the common cause is a server that requires a client certificate (mutual TLS) rejecting the client's (certificate_required, or bad_certificate). Capture a key log (SSLKEYLOGFILE) and pass it with --keylog to name the alert",
                r.frame, r.len, end.kind, end.frame
            ),
            fix: "Check whether the server requires a client certificate and whether the client is configured to send a valid one; decrypt with the client's key log to see the alert.".to_string(),
            alert: None,
            confidence: Some(Confidence::Low),
        })
    }

    /// Without keys, TLS 1.2: the client's encrypted alert after a handshake that looked
    /// complete, before either side sent any application data. NSS (Firefox) sends its
    /// Finished before it has judged the server's certificate, then the alert: a rejected
    /// certificate, not the close_notify of a finished session.
    fn tls12_alert_before_data(&mut self) -> Option<TlsFailure> {
        if self.s.tls13 || matches!(self.s.decryption, Some(Decryption::Keys { .. })) {
            return None;
        }
        let client = self.client;
        if self.s.app_data[client] + self.s.app_data[client.other()] > 0 {
            return None;
        }
        let a = self
            .s
            .alerts
            .iter()
            .find(|a| a.plain.is_none() && a.side == client)?;
        let frame = a.frame;
        let probable = "most likely the client rejecting the server's certificate (certificate_expired, unknown_ca, bad_certificate): an encrypted alert before any application data (a key log file would reveal it)";
        if let Some(r) = self
            .alerts
            .iter_mut()
            .find(|r| r.frame == frame && r.encrypted)
        {
            r.probable = Some(probable.to_string());
        }
        let certs = self.certificate_problems("; the capture shows: ");
        let mut f = failure(
            FailureKind::EncryptedAlert,
            frame,
            format!(
                "the client sent an encrypted alert (packet {frame}) right after the handshake, before any application data, and hung up: a client that finishes the TLS 1.2 handshake before judging the server's certificate (Firefox does) rejecting it{certs}. A key log file (SSLKEYLOGFILE) would name the alert"
            ),
            "Check the server's certificate: validity dates, the full chain, and the names it covers; or decrypt with the client's key log.",
            None,
        )?;
        f.confidence = Some(Confidence::Medium);
        Some(f)
    }

    /// The client completed the handshake, then ended TCP without sending a byte of
    /// application data: Node.js checks the server's certificate only after the handshake
    /// and hangs up this way when it rejects it. Countable under TLS 1.2 (application_data
    /// records) or with keys (plaintext bytes).
    fn client_left_after_handshake(&self) -> Option<TlsFailure> {
        let end = self.end.filter(|e| e.side == self.client)?;
        let decrypted = matches!(self.s.decryption, Some(Decryption::Keys { .. }));
        let sent_nothing = if decrypted {
            self.s.decrypted[self.client] == 0
        } else {
            !self.s.tls13 && self.s.app_data[self.client] == 0
        };
        if !sent_nothing {
            return None;
        }
        let certs = self.certificate_problems("; the capture shows: ");
        let mut f = failure(
            FailureKind::ClosedAfterHandshake,
            end.frame,
            format!(
                "the client completed the TLS handshake, then hung up ({}, packet {}) without sending its request: a client that judges the server's certificate after the handshake (Node.js does) rejecting it, most likely its issuer{certs}; a client that only probed the port looks the same",
                end.kind, end.frame
            ),
            "Check that the client trusts the server certificate's issuer (install the CA, or serve the full chain) and that the certificate is valid for the name used.",
            None,
        )?;
        f.confidence = Some(Confidence::Medium);
        Some(f)
    }

    /// The certificate problems the capture shows, after `lead`; nothing when there are none.
    fn certificate_problems(&self, lead: &str) -> String {
        let problems = &self.s.chain.problems;
        if problems.is_empty() {
            String::new()
        } else {
            format!("{lead}{}", problems.join("; "))
        }
    }

    /// An alert sent after the peer had already ended TCP is a reaction to that (a server's
    /// decode_error on a stream cut mid-handshake), not the cause.
    fn after_peer_left(&self, a: &SeenAlert) -> bool {
        self.end
            .is_some_and(|e| e.side != a.side && e.frame < a.frame)
    }

    /// TLS 1.2: an encrypted alert before the handshake completed.
    fn tls12_encrypted_alert(&self) -> Option<TlsFailure> {
        let a = self.s.alerts.iter().find(|a| a.plain.is_none())?;
        failure(
            FailureKind::EncryptedAlert,
            a.frame,
            format!(
                "the {} sent an encrypted alert (packet {}) before the handshake completed: it rejected something late in the handshake (a Finished or signature check). A key log file (SSLKEYLOGFILE) would reveal which alert",
                self.sender(a.side),
                a.frame
            ),
            "Decrypt with the key log, or look at the logs of the side that sent the alert.",
            None,
        )
    }

    /// TLS 1.3: short encrypted records in an unfinished handshake are alerts: from the
    /// client in place of its Finished (it rejected the server), or from the server in
    /// reaction to the client going away. Both are listed; the client's is the failure.
    fn tls13_short_records(&mut self) -> Option<TlsFailure> {
        if !self.s.tls13 || matches!(self.s.decryption, Some(Decryption::Keys { .. })) {
            return None;
        }
        let mut client_alert = None;
        for side in [self.client, self.client.other()] {
            let Some(r) = self.s.last_record[side] else {
                continue;
            };
            if r.len > ENCRYPTED_ALERT_MAX {
                continue;
            }
            let d = direction_of(side, self.client);
            self.alerts.push(probable_alert(
                r,
                d,
                format!(
                    "a TLS 1.3 encrypted alert from the {}: a {}-byte application_data record in an unfinished handshake (a key log file would reveal it)",
                    d.sender(),
                    r.len
                ),
            ));
            if side == self.client {
                client_alert = Some((r.frame, r.len));
            }
        }
        self.alerts.sort_by_key(|a| a.frame);
        let (frame, len) = client_alert?;
        let certs = self.certificate_problems(" (");
        let certs = if certs.is_empty() { certs } else { certs + ")" };
        failure(
            FailureKind::EncryptedAlert,
            frame,
            format!(
                "the client answered the server's first flight with a short encrypted record (packet {frame}, {len} bytes) instead of its Finished, and the connection ended: in TLS 1.3 that is an encrypted alert, most likely the client rejecting the server's certificate (expired, untrusted issuer, or wrong name){certs}. A key log file (SSLKEYLOGFILE) would reveal the alert"
            ),
            "Check the server's certificate: validity dates, the full chain, and the names it covers (`openssl s_client -connect HOST:PORT -servername NAME`); or decrypt the capture with the client's key log.",
            None,
        )
    }

    /// The handshake started and the connection ended before it completed, with no alert:
    /// asyncio-based clients, for one, close without sending theirs.
    fn closed_during_handshake(&self) -> Option<TlsFailure> {
        self.s.server_hello.as_ref()?;
        let end = self.end?;
        let by = self.sender(end.side);
        let problems = &self.s.chain.problems;
        let certs = self.certificate_problems(": ");
        let why = if end.side == self.client
            && problems.is_empty()
            && self.s.certificate_requested
            && self.s.client_certificates.is_none()
        {
            "the server had asked for a client certificate (CertificateRequest) and the client hung up without sending one: a client with no certificate to offer (Chromium does this)".to_string()
        } else if end.side == self.client {
            format!("it most likely rejected the server's certificate or parameters without sending its alert{certs}")
        } else {
            "the server rejected the client's part of the handshake (a client certificate or the key exchange)".to_string()
        };
        failure(
            FailureKind::ClosedDuringHandshake,
            end.frame,
            format!(
                "the {by} closed the connection ({}, packet {}) in the middle of the TLS handshake, without an alert: {why}",
                end.kind, end.frame
            ),
            if problems.is_empty() {
                "Reproduce with `openssl s_client -connect HOST:PORT -servername NAME` to see the error, or decrypt with a key log."
            } else {
                "Fix the certificate problems listed (renew it, serve the full chain, or install the CA on the client)."
            },
            None,
        )
    }

    /// No ServerHello at all: the client gave up, the server hung up, or the capture ends.
    fn never_answered(&self, ch_frame: u64) -> Option<TlsFailure> {
        const FIX: &str = "Check that the server listens with TLS on this port, is not overloaded, and that nothing on the path drops the ClientHello.";
        let hello_ts = self.s.client_hello.as_ref().map_or(Ts(0), |c| c.ts);
        match self.end {
            Some(end) if end.side == self.client => {
                let waited = ms_between(end.ts, hello_ts) / 1000.0;
                failure(
                    FailureKind::NoAnswer,
                    end.frame,
                    format!(
                        "the server never answered the ClientHello (packet {ch_frame}); the client gave up after {waited:.1} s ({}, packet {})",
                        end.kind, end.frame
                    ),
                    FIX,
                    None,
                )
            }
            // The server hung up after something that named no cause (a warning alert).
            Some(end) => Some(self.closed_after_hello(end, ch_frame)),
            None => failure(
                FailureKind::NoAnswer,
                ch_frame,
                format!(
                    "the server never answered the ClientHello (packet {ch_frame}) before the capture ended: the client times out and reports a failed TLS handshake"
                ),
                FIX,
                None,
            ),
        }
    }

    /// The server closed the connection after the ClientHello without a ServerHello.
    fn closed_after_hello(&self, end: End, ch_frame: u64) -> TlsFailure {
        let hello_ts = self.s.client_hello.as_ref().map_or(Ts(0), |c| c.ts);
        let waited = ms_between(end.ts, hello_ts);
        let reaction = self
            .s
            .alerts
            .iter()
            .filter(|a| a.frame > end.frame)
            .find_map(|a| a.plain)
            .and_then(|(_, d)| lookup_alert(d.0))
            .map(|e| format!(" (the client then sent {})", e.name))
            .unwrap_or_default();
        TlsFailure {
            kind: FailureKind::ClosedAfterClientHello,
            frame: end.frame,
            problem: TlsProblem::Other,
            cause: format!(
                "the server closed the connection ({}, packet {}, {waited:.1} ms) after the ClientHello (packet {ch_frame}) without a ServerHello or alert{reaction}: a server that does not speak TLS on this port (wss:// used against a ws:// port), a middlebox filtering on SNI, or a server that could not parse the ClientHello",
                end.kind, end.frame
            ),
            fix: "Check that this port serves TLS (use ws:// if it does not), e.g. with `openssl s_client -connect HOST:PORT -servername NAME`; check firewalls or proxies that filter TLS by server name.".to_string(),
            alert: None,
            confidence: None,
        }
    }

    /// The cause a fatal alert names, with the facts of the handshake that explain it.
    fn alert_cause(&self, desc: TlsAlertDescription, name: &str, sender: &str) -> String {
        let ch = self.s.client_hello.as_ref().map(|c| &c.hello);
        let problems = &self.s.chain.problems;
        let leaf = self.s.chain.certs.first();
        match desc {
            TlsAlertDescription::HandshakeFailure
            | TlsAlertDescription::BadCertificate
            | TlsAlertDescription::DecodeError
                if self.s.certificate_requested && sender == "server" =>
            {
                format!(
                    "the server requires a client certificate: it asked for one (CertificateRequest) and {}; it answered {name}",
                    match self.s.client_certificates {
                        Some(0) => "the client sent an empty Certificate message".to_string(),
                        Some(n) => format!("rejected the {n} certificate(s) the client sent"),
                        None => "the client sent none".to_string(),
                    }
                )
            }
            TlsAlertDescription::CertificateExpired => match leaf {
                Some(c) if c.validity_at_capture == Validity::Expired => format!(
                    "the {sender} rejected the certificate with certificate_expired: the server's certificate ({}) expired on {}",
                    c.subject, c.not_after
                ),
                Some(c) if c.validity_at_capture == Validity::NotYetValid => format!(
                    "the {sender} rejected the certificate with certificate_expired: the server's certificate ({}) is not valid before {} (a clock is wrong)",
                    c.subject, c.not_before
                ),
                _ => format!("the {sender} sent certificate_expired: a certificate in the chain has expired or is not yet valid (in TLS 1.3 the certificate itself is encrypted)"),
            },
            TlsAlertDescription::UnknownCa => match leaf {
                Some(c) => format!(
                    "the {sender} does not trust the issuer of the server's certificate (unknown_ca): {} is issued by {}, which is not in the {sender}'s trust store{}",
                    c.subject,
                    c.issuer,
                    if self.s.chain.certs.len() == 1 && !c.self_signed { ", and the server sent no intermediate certificate" } else { "" }
                ),
                None => format!("the {sender} does not trust the issuer of the peer's certificate (unknown_ca): a private CA, a self-signed certificate, or a missing intermediate"),
            },
            TlsAlertDescription::BadCertificate | TlsAlertDescription::CertificateUnknown => format!(
                "the {sender} rejected the certificate ({name}){}",
                if problems.is_empty() { String::new() } else { format!(": {}", problems.join("; ")) }
            ),
            TlsAlertDescription::ProtocolVersion => {
                let offered: Vec<String> = ch.map(|c| c.versions.iter().map(|v| v.to_string()).collect()).unwrap_or_default();
                format!(
                    "no TLS version both sides accept: the client offers {} and the {sender} refused them (protocol_version)",
                    if offered.is_empty() { "an unknown version".to_string() } else { offered.join(", ") }
                )
            }
            TlsAlertDescription::HandshakeFailure => format!(
                "no security parameters both sides accept (handshake_failure): the client offered {} cipher suite(s) and the {sender} accepted none (or required something the client lacks, such as a certificate)",
                ch.map_or(0, |c| c.ciphers.len())
            ),
            TlsAlertDescription::UnrecognizedName => format!(
                "the {sender} does not serve the requested name (unrecognized_name){}",
                ch.and_then(|c| c.sni.as_ref()).map(|s| format!(": SNI was {s}")).unwrap_or_else(|| ": the client sent no SNI".to_string())
            ),
            TlsAlertDescription::CertificateRequired => format!("the {sender} requires a client certificate and the client sent none (certificate_required)"),
            TlsAlertDescription::NoApplicationProtocol => format!(
                "no application protocol in common (no_application_protocol): the client offered ALPN {}",
                ch.map(|c| c.alpn.join(", ")).filter(|s| !s.is_empty()).unwrap_or_else(|| "nothing".to_string())
            ),
            TlsAlertDescription(d) => format!(
                "the {sender} sent the fatal alert {name} ({d}){}",
                lookup_alert(d).map(|e| format!(": {}", e.meaning)).unwrap_or_default()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::EndKind;
    use crate::tls::record::{ClientHello, ServerHello, TlsEvent};
    use crate::tls::{CipherSuite, TlsCipherSuiteID, TlsRecordType, TlsVersion, Version};

    fn report_(t: &Session, client: Side, end: Option<End>) -> TlsReport {
        report(t, client, end, false)
    }

    fn end(side: Side, frame: u64, ts: i64, kind: EndKind) -> Option<End> {
        Some(End {
            side,
            frame,
            ts: Ts(ts),
            kind,
        })
    }

    #[test]
    fn tls12_alert_names_the_cause() {
        let mut t = Session::default();
        let ch = ClientHello {
            sni: Some("a.test".into()),
            versions: vec![Version(TlsVersion::Tls11)],
            alpn: vec![],
            ciphers: vec![TlsCipherSuiteID(0x002f)],
            ..ClientHello::default()
        };
        t.on_event(Side::A, TlsEvent::ClientHello(ch), 4, Ts(0));
        t.on_event(
            Side::B,
            TlsEvent::Alert {
                level: TlsAlertSeverity::Fatal,
                description: TlsAlertDescription::ProtocolVersion,
                protected: false,
            },
            5,
            Ts(1),
        );
        let r = report_(&t, Side::A, end(Side::B, 6, 2, EndKind::Fin));
        let f = r.failure.expect("failure");
        assert_eq!((f.kind, f.frame), (FailureKind::Alert, 5));
        assert!(f.cause.contains("TLS 1.1"), "{}", f.cause);
        assert_eq!(r.alerts[0].name, Some("protocol_version"));
        assert_eq!(r.handshake, TlsHandshake::Failed);
    }

    #[test]
    fn client_giving_up_means_no_answer() {
        let mut t = Session::default();
        t.on_event(
            Side::A,
            TlsEvent::ClientHello(ClientHello::default()),
            3,
            Ts(0),
        );
        let r = report_(&t, Side::A, end(Side::A, 9, 2_000_000_000, EndKind::Fin));
        let f = r.failure.expect("failure");
        assert_eq!(f.kind, FailureKind::NoAnswer);
        assert!(f.cause.contains("gave up after 2.0 s"), "{}", f.cause);
    }

    #[test]
    fn no_server_hello_then_rst() {
        let mut t = Session::default();
        t.on_event(
            Side::A,
            TlsEvent::ClientHello(ClientHello::default()),
            3,
            Ts(0),
        );
        let r = report_(&t, Side::A, end(Side::B, 4, 1, EndKind::Rst));
        assert_eq!(
            r.failure.map(|f| f.kind),
            Some(FailureKind::ClosedAfterClientHello)
        );
        let r = report(&t, Side::A, None, false);
        assert_eq!(r.failure.map(|f| f.kind), Some(FailureKind::NoAnswer));
    }

    #[test]
    fn tls13_short_record_is_a_probable_encrypted_alert() {
        let mut t = Session::default();
        t.on_event(
            Side::A,
            TlsEvent::ClientHello(ClientHello::default()),
            4,
            Ts(0),
        );
        t.on_event(
            Side::B,
            TlsEvent::ServerHello(ServerHello {
                version: Version(TlsVersion::Tls13),
                cipher: CipherSuite(TlsCipherSuiteID(0x1301)),
                alpn: None,
                retry: false,
                random: [1; 32],
                encrypt_then_mac: false,
            }),
            6,
            Ts(1),
        );
        let record = |len| TlsEvent::Encrypted {
            content_type: TlsRecordType::ApplicationData,
            len,
        };
        t.on_event(Side::B, record(2000), 6, Ts(1));
        t.on_event(Side::A, record(19), 8, Ts(2));
        let r = report_(&t, Side::A, end(Side::A, 9, 3, EndKind::Fin));
        let f = r.failure.expect("failure");
        assert_eq!((f.kind, f.frame), (FailureKind::EncryptedAlert, 8));
        assert!(r.alerts.iter().any(|a| a.encrypted && a.frame == 8));
        // The same session with the client's Finished is complete.
        t.on_event(Side::A, record(53), 8, Ts(2));
        let r = report_(&t, Side::A, end(Side::A, 9, 3, EndKind::Fin));
        assert!(r.failure.is_none());
        assert_eq!(r.handshake, TlsHandshake::Complete);
    }
}
