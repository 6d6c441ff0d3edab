//! The HTTP Upgrade (RFC 6455 §4): the client's request, the client bytes held until the
//! answer, and the server's answer: a 101 with a Sec-WebSocket-Accept checked against the
//! key, or a refusal (an HTTP status, not a close code).

use crate::capture::Ts;
use crate::conn::{App, Held, Mode};
use crate::http::{self, Request, Response};
use crate::report::Detection;
use crate::rules::Rule;
use crate::tcp::reassembly::StreamEvent;
use crate::tcp::{PerSide, Side};

/// Client bytes held between the Upgrade request and the server's answer. A client must
/// wait for the 101 before sending frames, so anything here is early data or a pipelined
/// request; 64 KiB is plenty and bounds the wait.
pub(super) const MAX_HOLD: usize = 64 * 1024;
/// HTTP status of a successful Upgrade.
const SWITCHING_PROTOCOLS: u16 = 101;
/// An interim answer; the real one follows.
const CONTINUE: u16 = 100;

impl App {
    /// The client's request: an Upgrade to WebSocket, or plain HTTP (not ours).
    pub(super) fn on_request(&mut self, side: Side, req: Request, frame: u64) {
        self.set_client(side);
        if !req.upgrade_websocket || self.request.is_some() {
            // Plain HTTP: not our business (an Upgrade later on the same connection is rare).
            self.ignore(side);
            if self.request.is_none() {
                self.ignore(side.other());
            }
            return;
        }
        self.request = Some((req, frame));
        self.sides[side].mode = Mode::Hold {
            pieces: Vec::new(),
            held: 0,
        };
    }

    /// The server's answer.
    pub(super) fn on_response(&mut self, side: Side, resp: Response, frame: u64, ts: Ts) {
        let Some((req, _)) = self.request.as_ref() else {
            self.response_without_request(side, resp, frame, ts);
            return;
        };
        if resp.status != SWITCHING_PROTOCOLS {
            if resp.status != CONTINUE {
                self.refused(side, resp, frame);
            }
            return;
        }
        match (&req.key, &resp.accept) {
            (Some(key), Some(accept)) => {
                let expected = http::expected_accept(key);
                let valid = expected == *accept;
                self.accept_valid = Some(valid);
                if !valid {
                    let got = accept.clone();
                    self.note(Rule::AcceptMismatch, Some(side), frame, || {
                        format!("Sec-WebSocket-Accept is {got:?} but the key requires {expected:?} (RFC 6455 §4.2.2): a compliant client fails the connection")
                    });
                }
            }
            (Some(_), None) => self.note(Rule::MissingAccept, Some(side), frame, || {
                "101 response without Sec-WebSocket-Accept (RFC 6455 §4.2.2)".to_string()
            }),
            _ => {}
        }
        self.accepted(&resp, ts);
        self.response = Some((resp, frame));
        self.handshake_seen();
        self.start_frames(side, false);
        self.release_held(side.other());
    }

    /// The 101 is in the capture: the connection is WebSocket by its handshake, and what
    /// was kept to recognise it without one (`detect::Sniff`) goes.
    fn handshake_seen(&mut self) {
        self.detection = Some(Detection::Handshake);
        self.sniff = PerSide::new(None, None);
    }

    /// An answer whose request is not in the capture (it started in between).
    fn response_without_request(&mut self, side: Side, resp: Response, frame: u64, ts: Ts) {
        if resp.status == SWITCHING_PROTOCOLS && resp.upgrade_websocket {
            self.set_client(side.other());
            self.accepted(&resp, ts);
            self.response = Some((resp, frame));
            self.handshake_seen();
            self.start_frames(side, false);
            self.start_frames(side.other(), true);
        } else {
            self.ignore(side);
            self.ignore(side.other());
        }
    }

    /// A 101 at `ts`: the extensions it accepted, and the time the connection opened.
    fn accepted(&mut self, resp: &Response, ts: Ts) {
        self.deflate = resp.deflate();
        self.deflate_params = resp.deflate_params();
        self.opened = Some(ts);
    }

    /// The Upgrade was refused: no WebSocket connection.
    fn refused(&mut self, side: Side, resp: Response, frame: u64) {
        self.refused = true;
        let status = resp.status;
        let reason = resp.reason.clone();
        self.note(Rule::UpgradeRefused, Some(side), frame, || {
            format!("the server answered the Upgrade request with HTTP {status} {reason}: no WebSocket connection was made (this is an HTTP status, not a close code)")
        });
        self.response = Some((resp, frame));
        self.ignore(side);
        self.ignore(side.other());
    }

    /// The 101 arrived: the client's held bytes go to its frame reader.
    fn release_held(&mut self, client: Side) {
        match std::mem::replace(&mut self.sides[client].mode, Mode::Ignore) {
            Mode::Hold { pieces, .. } => {
                self.start_frames(client, false);
                for Held {
                    offset,
                    frame_no,
                    ts,
                    bytes,
                } in pieces
                {
                    let ev = StreamEvent::Data {
                        offset,
                        bytes: &bytes,
                        frame_no,
                        ts,
                    };
                    self.feed_frames(client, &ev);
                }
            }
            other => {
                self.sides[client].mode = other;
                self.start_frames(client, true);
            }
        }
    }
}
