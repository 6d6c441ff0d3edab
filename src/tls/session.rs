//! The TLS facts of one connection, gathered from the `TlsEvent`s of both directions: the
//! hellos, the certificate chain, every alert, and the encrypted records that tell how far
//! the handshake got. Pure bookkeeping, bounded, never panics on input; `story::tls` reads
//! these facts to decide whether the handshake failed and why.

use crate::capture::Ts;
use crate::tcp::{PerSide, Side};
use crate::tls::cert::{check_chain, ChainCheck};
use crate::tls::crypto::DecryptError;
use crate::tls::decrypt::Missing;
use crate::tls::record::{ClientHello, ServerHello, TlsEvent};
use crate::tls::{TlsAlertDescription, TlsAlertSeverity, TlsHandshakeType, TlsRecordType};

/// Most alerts kept per connection.
const MAX_ALERTS: usize = 16;
/// An encrypted record at least this long after a TLS 1.3 ServerHello is taken for the
/// client's Finished (4-byte header + 32-byte hash + content type + 16-byte tag = 53 for
/// SHA-256 suites); shorter ones can only be alerts or padding-free small messages.
const FINISHED_MIN: usize = 40;

/// An alert record as seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenAlert {
    pub side: Side,
    pub frame: u64,
    pub ts: Ts,
    /// Level and description, when the alert was in plaintext or decrypted.
    pub plain: Option<(TlsAlertSeverity, TlsAlertDescription)>,
    /// The alert was protected on the wire (and decrypted when `plain` is set).
    pub protected: bool,
    /// Length of the record body.
    pub len: usize,
}

/// Whether the session's records could be decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decryption {
    /// The key log had the session's secrets (from the ServerHello, packet `frame`); all of
    /// them, or (TLS 1.3) only the handshake's.
    Keys { frame: u64, complete: bool },
    /// No keys: why.
    Missing(Missing),
    /// A record did not open with the keys: the secrets are not this session's, or the
    /// record is damaged.
    Failed {
        side: Side,
        frame: u64,
        error: DecryptError,
    },
}

/// An encrypted record as seen: packet, time, body length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenRecord {
    pub frame: u64,
    pub ts: Ts,
    pub len: usize,
}

/// The ClientHello and where it came from.
#[derive(Clone, Debug)]
pub struct SeenClientHello {
    pub hello: ClientHello,
    pub frame: u64,
    pub ts: Ts,
    pub side: Side,
}

/// TLS facts of a connection.
#[derive(Debug, Default)]
pub struct Session {
    pub client_hello: Option<SeenClientHello>,
    pub server_hello: Option<(ServerHello, u64)>,
    pub hello_retry: bool,
    pub chain: ChainCheck,
    pub alerts: Vec<SeenAlert>,
    ccs: PerSide<bool>,
    /// Whether a side sent an encrypted record long enough to be a Finished (TLS 1.3).
    long_record: PerSide<bool>,
    /// The last encrypted record of each side.
    pub last_record: PerSide<Option<SeenRecord>>,
    /// TLS 1.2: application_data records each side sent (none before a failed handshake).
    pub app_data: PerSide<u64>,
    /// The server answered a ClientHello with plaintext HTTP: packet and status line.
    pub http_answer: Option<(u64, String)>,
    /// The client sent a plain HTTP request and the server answered with TLS.
    pub plain_to_tls: Option<u64>,
    /// A TLS 1.3 ServerHello was seen: both directions are encrypted from here.
    pub tls13: bool,
    /// Whether decryption was possible (None before the ServerHello).
    pub decryption: Option<Decryption>,
    /// Plaintext bytes each side's records decrypted to.
    pub decrypted: PerSide<u64>,
    /// The server asked for a client certificate (CertificateRequest).
    pub certificate_requested: bool,
    /// Certificates the client sent, when it answered a request (0: it declined).
    pub client_certificates: Option<usize>,
    /// Each side's Finished, decrypted (TLS 1.3) or seen.
    pub finished: PerSide<Option<u64>>,
    /// The session had no secrets at its ServerHello, and secrets embedded later in the
    /// capture have them.
    pub late_secrets: bool,
    /// Protected records from the server after the client's Finished (TLS 1.3, counted
    /// without keys): how many, and the longest.
    pub server_after_finished: (u64, usize),
}

impl Session {
    /// The side that sent the ClientHello.
    pub fn client_side(&self) -> Option<Side> {
        self.client_hello.as_ref().map(|c| c.side)
    }

    /// Takes one event from side `side`'s reader.
    pub fn on_event(&mut self, side: Side, ev: TlsEvent<'_>, frame: u64, ts: Ts) {
        match ev {
            TlsEvent::ClientHello(hello) => {
                self.client_hello.get_or_insert(SeenClientHello {
                    hello,
                    frame,
                    ts,
                    side,
                });
            }
            TlsEvent::ServerHello(sh) => {
                if sh.retry {
                    self.hello_retry = true;
                    return;
                }
                if sh.version.is_tls13() {
                    self.tls13 = true;
                }
                self.server_hello = Some((sh, frame));
            }
            TlsEvent::Certificate(chain) if self.client_side() == Some(side) => {
                self.client_certificates.get_or_insert(chain.len());
            }
            TlsEvent::Certificate(chain) => {
                if self.chain.certs.is_empty() {
                    let sni = self
                        .client_hello
                        .as_ref()
                        .and_then(|c| c.hello.sni.as_deref());
                    let ChainCheck {
                        certs,
                        problems,
                        hints,
                    } = check_chain(&chain, ts, sni);
                    self.chain.certs = certs;
                    self.chain.problems.extend(problems);
                    self.chain.hints.extend(hints);
                }
            }
            TlsEvent::ChangeCipherSpec => self.ccs[side] = true,
            TlsEvent::Alert {
                level,
                description,
                protected,
            } => self.push_alert(side, frame, ts, Some((level, description)), protected, 2),
            TlsEvent::EncryptedAlert { len } => self.push_alert(side, frame, ts, None, true, len),
            TlsEvent::Encrypted { len, content_type } => {
                if !self.tls13 && content_type == TlsRecordType::ApplicationData {
                    self.app_data[side] += 1;
                }
                let client = self.client_side();
                if self.tls13
                    && client == Some(side.other())
                    && client.is_some_and(|c| self.long_record[c])
                {
                    let (n, longest) = &mut self.server_after_finished;
                    *n += 1;
                    *longest = (*longest).max(len);
                }
                if len >= FINISHED_MIN {
                    self.long_record[side] = true;
                }
                self.last_record[side] = Some(SeenRecord { frame, ts, len });
            }
            TlsEvent::Plaintext { bytes, .. } => {
                self.decrypted[side] += bytes.len() as u64;
            }
            TlsEvent::PlaintextGap { .. } => {}
            TlsEvent::DecryptFailed(error) => {
                if matches!(self.decryption, Some(Decryption::Keys { .. })) {
                    self.decryption = Some(Decryption::Failed { side, frame, error });
                }
            }
            TlsEvent::Handshake(TlsHandshakeType::CertificateRequest) => {
                self.certificate_requested = true;
            }
            TlsEvent::Handshake(TlsHandshakeType::Finished) => {
                self.finished[side].get_or_insert(frame);
            }
            // A ClientHello tls-parser could not read: its place in the handshake is
            // still known.
            TlsEvent::Handshake(TlsHandshakeType::ClientHello) if self.client_hello.is_none() => {
                self.client_hello = Some(SeenClientHello {
                    hello: ClientHello::default(),
                    frame,
                    ts,
                    side,
                });
            }
            TlsEvent::Handshake(_) | TlsEvent::NotTls => {}
        }
    }

    fn push_alert(
        &mut self,
        side: Side,
        frame: u64,
        ts: Ts,
        plain: Option<(TlsAlertSeverity, TlsAlertDescription)>,
        protected: bool,
        len: usize,
    ) {
        if self.alerts.len() < MAX_ALERTS {
            self.alerts.push(SeenAlert {
                side,
                frame,
                ts,
                plain,
                protected,
                len,
            });
        }
    }

    /// The key log had this session's secrets (all of them, or only the handshake's).
    pub fn keys_found(&mut self, frame: u64, complete: bool) {
        self.decryption = Some(Decryption::Keys { frame, complete });
    }

    /// The session cannot be decrypted, and why.
    pub fn keys_missing(&mut self, why: Missing) {
        self.decryption = Some(Decryption::Missing(why));
    }

    /// The plaintext was read and was not WebSocket (the connection decides that), and no
    /// alert other than close_notify says anything went wrong.
    pub fn read_and_not_websocket(&self) -> bool {
        self.decrypted.a + self.decrypted.b > 0
            && self.alerts.iter().all(|a| {
                a.plain
                    .is_some_and(|(_, d)| d == TlsAlertDescription::CloseNotify)
            })
    }

    /// Did the handshake finish? Both Finished messages decrypted; without keys, TLS 1.2:
    /// both sides changed cipher spec, TLS 1.3: the client sent a record long enough to be
    /// its Finished.
    pub fn complete(&self, client: Side) -> bool {
        if self.server_hello.is_none() {
            return false;
        }
        // TLS 1.2: the client's Finished alone is not enough; a server that rejects the
        // client's part answers it with an alert instead of its own.
        if self.finished[client].is_some() && (self.tls13 || self.ccs[client.other()]) {
            return true;
        }
        if self.tls13 {
            self.long_record[client]
        } else {
            self.ccs.a && self.ccs.b
        }
    }
}
