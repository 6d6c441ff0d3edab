//! The TLS stage of a connection: each side's TLS record reader feeding the connection's
//! TLS facts (`tls::Session`), the client learnt from the hellos, a plain HTTP client
//! answered in TLS (ws:// spoken to a wss:// port), and, when the key log has the
//! session's secrets, the decrypted plaintext handed to the same readers as ws:// (HTTP
//! Upgrade, frames, every rule).

use crate::capture::Ts;
use crate::conn::{App, Mode};
use crate::tcp::reassembly::{GapKind, StreamEvent};
use crate::tcp::Side;
use crate::tls::decrypt::{session_keys, Hellos, Keys, Missing};
use crate::tls::record::{Reply, ServerHello, TlsEvent, TlsReader};
use crate::tls::session::Decryption;
use crate::tls::TlsHandshakeType;

impl App {
    /// `side` speaks TLS from here on.
    pub(super) fn start_tls(&mut self, side: Side, frame: u64) {
        let tls = self.tls.get_or_insert_with(Box::default);
        if self.request.is_some() && side != self.client {
            // The client spoke plain HTTP and the server answers in TLS.
            tls.plain_to_tls.get_or_insert(frame);
            self.sides[side.other()].mode = Mode::Ignore;
        }
        let state = &mut self.sides[side];
        if !state.speaks_tls {
            state.speaks_tls = true;
            state.tls = Some(Box::new(TlsReader::new()));
            self.tls_told[side] = (false, false);
            // What the records decrypt to is probed afresh.
            state.mode = Mode::Probe {
                buf: Vec::new(),
                probes: 0,
            };
        }
    }

    /// One stream event to `side`'s TLS reader.
    pub(super) fn feed_tls(&mut self, side: Side, ev: &StreamEvent<'_>) {
        let Some(mut reader) = self.sides[side].tls.take() else {
            return;
        };
        reader.feed(ev, &mut |e, frame, ts| self.on_tls(side, e, frame, ts));
        let (retry, tls13) = self
            .tls
            .as_ref()
            .map(|t| (t.hello_retry, t.tls13))
            .unwrap_or_default();
        let news = (retry || tls13, tls13);
        if news != self.tls_told[side.other()] {
            if let Some(other) = self.sides[side.other()].tls.as_mut() {
                // A HelloRetryRequest or ServerHello choosing TLS 1.3 changes how the other
                // direction's records read: ChangeCipherSpec no longer starts protection,
                // the ServerHello does.
                other.tls13 |= news.0;
                other.encrypted |= news.1;
                self.tls_told[side.other()] = news;
            }
        }
        self.sides[side].tls = Some(reader);
    }

    fn on_tls(&mut self, side: Side, ev: TlsEvent<'_>, frame: u64, ts: Ts) -> Reply {
        match ev {
            TlsEvent::Plaintext { offset, bytes } => {
                if let Some(t) = self.tls.as_mut() {
                    t.on_event(side, TlsEvent::Plaintext { offset, bytes }, frame, ts);
                }
                self.on_plain(
                    side,
                    StreamEvent::Data {
                        offset,
                        bytes,
                        frame_no: frame,
                        ts,
                    },
                );
                return None;
            }
            TlsEvent::PlaintextGap { offset, len } => {
                self.on_plain(
                    side,
                    StreamEvent::Gap {
                        offset,
                        len,
                        kind: GapKind::Missing,
                        frame_no: frame,
                        ts,
                    },
                );
                return None;
            }
            TlsEvent::ClientHello(_) | TlsEvent::Handshake(TlsHandshakeType::ClientHello) => {
                self.set_client(side)
            }
            TlsEvent::ServerHello(_) => self.set_client(side.other()),
            _ => {}
        }
        let keys = match &ev {
            TlsEvent::ServerHello(sh) if !sh.retry => self.keys_for(side, sh, frame),
            _ => None,
        };
        if let Some(t) = self.tls.as_mut() {
            t.on_event(side, ev, frame, ts);
        }
        keys
    }

    /// A session that found no secrets at its ServerHello, when the key log as it ends (grown
    /// by secrets embedded later in the capture) has them: the report says so.
    pub(super) fn note_late_secrets(&mut self) {
        let Some(session) = self.tls.as_mut() else {
            return;
        };
        let missing = matches!(
            session.decryption,
            Some(Decryption::Missing(Missing::NoKeyLog | Missing::NoSecret))
        );
        if let (true, Some(keylog), Some(hello)) = (
            missing,
            self.keylog.as_deref(),
            session.client_hello.as_ref(),
        ) {
            session.late_secrets = keylog.get(&hello.hello.random).is_some();
        }
    }

    /// At the ServerHello from `server`: the keys of both directions, when the key log has
    /// the session's secrets. The client's reader gets its keys here; the server's come
    /// back as the reply to its reader. The session notes why there are none otherwise.
    fn keys_for(&mut self, server: Side, sh: &ServerHello, frame: u64) -> Option<Box<Keys>> {
        let session = self.tls.as_mut()?;
        let client_random = session.client_hello.as_ref()?.hello.random;
        let hellos = Hellos {
            client_random: &client_random,
            server_random: &sh.random,
            cipher: sh.cipher,
            version: sh.version,
            encrypt_then_mac: sh.encrypt_then_mac,
        };
        match session_keys(self.keylog.as_deref(), &hellos) {
            Ok((client_keys, server_keys)) => {
                session.keys_found(frame, client_keys.complete() && server_keys.complete());
                if let Some(reader) = self.sides[server.other()].tls.as_mut() {
                    reader.set_keys(Box::new(client_keys));
                }
                Some(Box::new(server_keys))
            }
            Err(missing) => {
                session.keys_missing(missing);
                None
            }
        }
    }
}
