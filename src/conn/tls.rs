//! The TLS stage of a connection: each side's TLS record reader feeding the connection's
//! TLS facts (`tls::Session`), the client learnt from the hellos, and a plain HTTP client
//! answered in TLS (ws:// spoken to a wss:// port).

use crate::capture::Ts;
use crate::conn::{App, Mode};
use crate::tcp::reassembly::StreamEvent;
use crate::tcp::Side;
use crate::tls::record::{TlsEvent, TlsReader};
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
        let mode = &mut self.sides[side].mode;
        if !matches!(mode, Mode::Tls(_)) {
            *mode = Mode::Tls(Some(Box::new(TlsReader::new())));
        }
    }

    /// One stream event to `side`'s TLS reader.
    pub(super) fn feed_tls(&mut self, side: Side, ev: &StreamEvent<'_>) {
        let Mode::Tls(slot) = &mut self.sides[side].mode else {
            return;
        };
        let Some(mut reader) = slot.take() else {
            return;
        };
        reader.feed(ev, &mut |e, frame, ts| self.on_tls(side, e, frame, ts));
        let (retry, tls13) = self
            .tls
            .as_ref()
            .map(|t| (t.hello_retry, t.tls13))
            .unwrap_or_default();
        if let Mode::Tls(Some(other)) = &mut self.sides[side.other()].mode {
            // A HelloRetryRequest or ServerHello choosing TLS 1.3 changes how the other
            // direction's records read: ChangeCipherSpec no longer starts protection, the
            // ServerHello does.
            other.tls13 |= retry || tls13;
            other.encrypted |= tls13;
        }
        if let Mode::Tls(slot) = &mut self.sides[side].mode {
            *slot = Some(reader);
        }
    }

    fn on_tls(&mut self, side: Side, ev: TlsEvent<'_>, frame: u64, ts: Ts) {
        match &ev {
            TlsEvent::ClientHello(_) | TlsEvent::Handshake(TlsHandshakeType::ClientHello) => {
                self.set_client(side)
            }
            TlsEvent::ServerHello(_) => self.set_client(side.other()),
            _ => {}
        }
        if let Some(t) = self.tls.as_mut() {
            t.on_event(side, ev, frame, ts);
        }
    }
}
