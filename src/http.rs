//! HTTP/1.1 Upgrade handshake (RFC 6455 §4): the client's request and the server's response,
//! parsed with httparse, keeping only the headers the report uses. Never panics on input;
//! header blocks are bounded by `MAX_HEAD`.

use base64::Engine;
use sha1::{Digest, Sha1};

/// Largest request or response head the parser waits for. Browsers send 1-4 KiB; servers
/// such as nginx reject heads over 8-32 KiB.
pub const MAX_HEAD: usize = 32 * 1024;
/// Headers parsed per message (httparse needs a fixed array).
pub const MAX_HEADERS: usize = 96;
/// The GUID of RFC 6455 §1.3, appended to the key before hashing.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The client's opening handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub path: String,
    pub host: Option<String>,
    pub origin: Option<String>,
    pub user_agent: Option<String>,
    pub key: Option<String>,
    pub extensions: Vec<String>,
    /// `Upgrade: websocket` present.
    pub upgrade_websocket: bool,
    /// The Via header (RFC 9110 §7.6.3): proxies the request passed through, joined when
    /// repeated.
    pub via: Option<String>,
}

/// The server's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub server: Option<String>,
    pub accept: Option<String>,
    pub protocol: Option<String>,
    pub extensions: Vec<String>,
    pub upgrade_websocket: bool,
    /// The Via header: proxies the response passed through, joined when repeated.
    pub via: Option<String>,
}

impl Response {
    /// permessage-deflate (RFC 7692) negotiated: RSV1 may be set on data frames.
    pub fn deflate(&self) -> bool {
        self.extensions
            .iter()
            .any(|e| ext_name(e) == "permessage-deflate" || ext_name(e) == "x-webkit-deflate-frame")
    }
}

/// The permessage-deflate parameters the server accepted (RFC 7692 §7.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: Option<u8>,
    pub client_max_window_bits: Option<u8>,
}

impl Response {
    /// The permessage-deflate parameters, when that extension was accepted (not the older
    /// x-webkit-deflate-frame, whose frames are not inflated).
    pub fn deflate_params(&self) -> Option<DeflateParams> {
        let ext = self
            .extensions
            .iter()
            .find(|e| ext_name(e) == "permessage-deflate")?;
        let mut p = DeflateParams::default();
        for param in ext.split(';').skip(1) {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            let value = value.trim().trim_matches('"').parse::<u8>().ok();
            match name.trim().to_ascii_lowercase().as_str() {
                "server_no_context_takeover" => p.server_no_context_takeover = true,
                "client_no_context_takeover" => p.client_no_context_takeover = true,
                "server_max_window_bits" => p.server_max_window_bits = value,
                "client_max_window_bits" => p.client_max_window_bits = value,
                _ => {}
            }
        }
        Some(p)
    }
}

fn ext_name(ext: &str) -> &str {
    ext.split(';').next().unwrap_or("").trim()
}

/// Outcome of trying to parse a head from the bytes seen so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Head<T> {
    /// Parsed; the head took this many bytes.
    Complete(T, usize),
    /// More bytes needed.
    Partial,
    /// Not HTTP, or broken.
    Invalid,
}

impl<T> Head<T> {
    /// The same outcome with the parsed value converted.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Head<U> {
        match self {
            Head::Complete(t, n) => Head::Complete(f(t), n),
            Head::Partial => Head::Partial,
            Head::Invalid => Head::Invalid,
        }
    }
}

/// Does `bytes` look like the start of an HTTP request line?
pub fn looks_like_request(bytes: &[u8]) -> bool {
    const METHODS: [&[u8]; 8] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"OPTIONS ",
        b"DELETE ",
        b"PATCH ",
        b"CONNECT ",
    ];
    METHODS.iter().any(|m| {
        bytes.starts_with(m) || (bytes.len() < m.len() && m.starts_with(bytes) && !bytes.is_empty())
    })
}

/// Does `bytes` look like the start of an HTTP response?
pub fn looks_like_response(bytes: &[u8]) -> bool {
    let p = b"HTTP/1.";
    bytes.starts_with(p) || (!bytes.is_empty() && bytes.len() < p.len() && p.starts_with(bytes))
}

fn header_list(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A Via header line added to those before it (repeated headers are one list).
fn add_via(via: &mut Option<String>, v: String) {
    *via = Some(match via.take() {
        Some(before) => format!("{before}, {v}"),
        None => v,
    });
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// Parses a request head.
pub fn parse_request(bytes: &[u8]) -> Head<Request> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => {
            let mut out = Request {
                path: req.path.unwrap_or("").to_string(),
                ..Request::default()
            };
            for h in req.headers.iter() {
                let v = text(h.value);
                match h.name.to_ascii_lowercase().as_str() {
                    "host" => out.host = Some(v),
                    "origin" => out.origin = Some(v),
                    "user-agent" => out.user_agent = Some(v),
                    "via" => add_via(&mut out.via, v),
                    "sec-websocket-key" => out.key = Some(v.trim().to_string()),
                    "sec-websocket-extensions" => out.extensions.extend(header_list(&v)),
                    "upgrade" => {
                        out.upgrade_websocket |= v.to_ascii_lowercase().contains("websocket")
                    }
                    _ => {}
                }
            }
            Head::Complete(out, n)
        }
        Ok(httparse::Status::Partial) if bytes.len() < MAX_HEAD => Head::Partial,
        _ => Head::Invalid,
    }
}

/// Parses a response head.
pub fn parse_response(bytes: &[u8]) -> Head<Response> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => {
            let mut out = Response {
                status: resp.code.unwrap_or(0),
                reason: resp.reason.unwrap_or("").to_string(),
                ..Response::default()
            };
            for h in resp.headers.iter() {
                let v = text(h.value);
                match h.name.to_ascii_lowercase().as_str() {
                    "server" => out.server = Some(v),
                    "via" => add_via(&mut out.via, v),
                    "sec-websocket-accept" => out.accept = Some(v.trim().to_string()),
                    "sec-websocket-protocol" => out.protocol = Some(v.trim().to_string()),
                    "sec-websocket-extensions" => out.extensions.extend(header_list(&v)),
                    "upgrade" => {
                        out.upgrade_websocket |= v.to_ascii_lowercase().contains("websocket")
                    }
                    _ => {}
                }
            }
            Head::Complete(out, n)
        }
        Ok(httparse::Status::Partial) if bytes.len() < MAX_HEAD => Head::Partial,
        _ => Head::Invalid,
    }
}

/// The Sec-WebSocket-Accept value a server must send for `key` (RFC 6455 §4.2.2).
pub fn expected_accept(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.trim().as_bytes());
    sha.update(WS_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn rfc_example_handshake() {
        let Head::Complete(r, n) = parse_request(REQ) else {
            panic!()
        };
        assert_eq!(n, REQ.len());
        assert_eq!(r.path, "/chat");
        assert!(r.upgrade_websocket);
        assert_eq!(r.host.as_deref(), Some("server.example.com"));
        assert_eq!(r.origin.as_deref(), Some("http://example.com"));
        assert_eq!(
            r.extensions,
            vec!["permessage-deflate; client_max_window_bits"]
        );
        // RFC 6455 §1.3 example.
        assert_eq!(
            expected_accept(r.key.as_deref().unwrap()),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        for cut in 0..REQ.len() {
            assert_eq!(parse_request(&REQ[..cut]), Head::Partial, "{cut}");
        }
    }

    #[test]
    fn responses() {
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n\x81\x00";
        let Head::Complete(r, n) = parse_response(ok) else {
            panic!()
        };
        assert_eq!((r.status, n), (101, ok.len() - 2));
        assert!(r.deflate() && r.upgrade_websocket);
        assert_eq!(r.deflate_params(), Some(DeflateParams::default()));
        let r = Response {
            extensions: vec![
                "x-webkit-deflate-frame".into(),
                "permessage-deflate; Server_No_Context_Takeover; client_max_window_bits=\"10\""
                    .into(),
            ],
            ..Response::default()
        };
        assert_eq!(
            r.deflate_params(),
            Some(DeflateParams {
                server_no_context_takeover: true,
                client_max_window_bits: Some(10),
                ..DeflateParams::default()
            })
        );
        let Head::Complete(r, _) =
            parse_response(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(r.status, 403);
        let Head::Complete(r, _) = parse_response(
            b"HTTP/1.1 101 Switching Protocols\r\nVia: 1.1 vegur\r\nvia: 1.1 google\r\n\r\n",
        ) else {
            panic!()
        };
        assert_eq!(r.via.as_deref(), Some("1.1 vegur, 1.1 google"));
        assert_eq!(parse_response(b"\x16\x03\x01\x00"), Head::Invalid);
        assert!(looks_like_request(b"GE") && !looks_like_request(b"\x16\x03"));
        assert!(looks_like_response(b"HTTP/1.1 1") && !looks_like_response(b"\x81\x00"));
    }
}
