//! What each client family's API reports to the application when a connection ends, as
//! measured on real installs (the project's samples, recorded by `samples/generate.sh`, and
//! the measurements behind them): the close code or none, wasClean where the API has it,
//! whether an `error` event fired, and the error text raised. A family and ending that were
//! not measured give `None`: the report then lists what the measured families do instead of
//! guessing.

use serde::Serialize;

use crate::client::Family;
use crate::report::EndKind;

/// Why a TLS handshake failed, as far as the client's error tells causes apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsProblem {
    /// The server's certificate has expired (or is not valid yet).
    Expired,
    /// The server's certificate is from an issuer the client does not trust.
    Untrusted,
    /// The server required a client certificate the client did not have.
    ClientCertificate,
    /// Anything else: no common version or cipher, an unreadable certificate, ...
    #[default]
    Other,
}

/// How a connection ended, as one side's application meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The peer's Close frame carried this legal code.
    Close(u16),
    /// The peer's Close frame had no body.
    EmptyClose,
    /// The peer's Close frame carried an illegal code (or a malformed body: None).
    IllegalClose(Option<u16>),
    /// TCP ended (FIN or RST) without a Close frame from the peer.
    Dropped(EndKind),
    /// The TLS handshake failed; `tls13`: whether the ServerHello chose TLS 1.3 (None: no
    /// ServerHello).
    TlsFailed {
        problem: TlsProblem,
        tls13: Option<bool>,
    },
}

/// What an application was told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reported {
    /// The close code handed to the application; None when the API raises an error
    /// without one.
    pub code: Option<u16>,
    /// `CloseEvent.wasClean`, for APIs that have it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub was_clean: Option<bool>,
    /// Whether an `error` event fired first, for APIs that have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_event: Option<bool>,
    /// The error the client raises, as it words it (`..` stands for what varies: dates,
    /// numbers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The WHATWG WebSocket API (browsers, Node's undici): a close event with a code, wasClean
/// and an optional error event before it.
fn event(code: u16, was_clean: bool, error_event: bool, error: Option<&str>) -> Reported {
    Reported {
        code: Some(code),
        was_clean: Some(was_clean),
        error_event: Some(error_event),
        error: error.map(str::to_string),
    }
}

/// A library that reports a close code (or None) and, when it fails, an error.
fn library(code: Option<u16>, error: Option<&str>) -> Reported {
    Reported {
        code,
        was_clean: None,
        error_event: None,
        error: error.map(str::to_string),
    }
}

/// The installs the table was measured on.
pub fn measured_with(family: Family) -> &'static str {
    match family {
        Family::Chromium => "headless Chromium 148 (Debian) and Chromium 156",
        Family::Firefox => "Firefox 140 ESR (Debian) and Firefox 153 ESR",
        Family::Node => "Node 20's WebSocket (undici)",
        Family::Java => "JDK 17 java.net.http.WebSocket",
        Family::Rustls => "tokio-tungstenite with rustls",
        Family::Python => "python-websockets 17 over OpenSSL 3",
        Family::Go => "gorilla/websocket 1.5 on Go 1.19 (a close only)",
        Family::Curl | Family::Openssl => "nothing yet",
    }
}

/// What `family`'s application is told on `ending`; None when not measured.
pub fn reported(family: Family, ending: Ending) -> Option<Reported> {
    use Family::*;
    use TlsProblem::*;
    Some(match (family, ending) {
        (Chromium | Firefox, Ending::Close(code)) => event(code, true, false, None),
        (Node | Rustls | Python | Go, Ending::Close(code)) => library(Some(code), None),
        (Chromium | Firefox, Ending::EmptyClose) => event(1005, true, false, None),
        (Node | Python, Ending::EmptyClose) => library(Some(1005), None),
        (Rustls, Ending::EmptyClose) => library(None, Some("Close(None)")),
        // Strict: the browser answers 1002 and fails the connection.
        (Chromium, Ending::IllegalClose(_)) => event(1006, false, true, None),
        // Lenient: an empty Close back, and the illegal code handed on as a clean close.
        (Firefox, Ending::IllegalClose(Some(code))) => event(code, true, false, None),
        (Node, Ending::IllegalClose(_)) => event(1006, false, true, Some("Invalid status code")),
        (Rustls, Ending::IllegalClose(_)) => library(Some(1002), None),
        // "ConnectionClosedError: sent 1002 (protocol error) invalid status code; no close
        // frame received": the code and words name what was wrong.
        (Python, Ending::IllegalClose(_)) => library(Some(1006), Some("ConnectionClosedError")),
        (Chromium, Ending::Dropped(_)) => event(1006, false, false, None),
        (Firefox, Ending::Dropped(EndKind::Fin)) => event(1006, false, false, None),
        (Firefox, Ending::Dropped(EndKind::Rst)) => event(1006, false, true, None),
        (Node, Ending::Dropped(_)) => library(Some(1006), None),
        (Python, Ending::Dropped(_)) => library(
            Some(1006),
            Some("ConnectionClosedError: no close frame received or sent"),
        ),
        (Rustls, Ending::Dropped(_)) => library(
            None,
            Some("Protocol(ResetWithoutClosingHandshake)"),
        ),
        (Chromium, Ending::TlsFailed { .. }) => event(1006, false, true, None),
        // Under TLS 1.2, NSS finishes the handshake before it judges the certificate: the
        // failure comes after it, and the page gets 1006.
        (Firefox, Ending::TlsFailed { tls13: Some(true), .. }) => event(1015, false, true, None),
        (Firefox, Ending::TlsFailed { tls13: Some(false), .. }) => event(1006, false, true, None),
        // undici fires the error event and no close event at all.
        (Node, Ending::TlsFailed { .. }) => Reported {
            code: None,
            was_clean: None,
            error_event: Some(true),
            error: Some("Received network error or non-101 status code.".to_string()),
        },
        (Java, Ending::TlsFailed { problem: Expired, .. }) => library(None, Some("javax.net.ssl.SSLHandshakeException: PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed")),
        (Java, Ending::TlsFailed { problem: Untrusted, .. }) => library(None, Some("javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target")),
        // It also retries the whole connection once.
        (Java, Ending::TlsFailed { problem: ClientCertificate, .. }) => library(None, Some("javax.net.ssl.SSLHandshakeException: Received fatal alert: certificate_required")),
        (Rustls, Ending::TlsFailed { problem: Expired, .. }) => library(None, Some("InvalidCertificate(ExpiredContext { .. })")),
        (Rustls, Ending::TlsFailed { problem: Untrusted, .. }) => library(None, Some("InvalidCertificate(UnknownIssuer)")),
        (Rustls, Ending::TlsFailed { problem: ClientCertificate, .. }) => library(None, Some("AlertReceived(CertificateRequired)")),
        (Python, Ending::TlsFailed { problem: Expired, .. }) => library(None, Some("SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired")),
        (Python, Ending::TlsFailed { problem: Untrusted, .. }) => library(None, Some("SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate")),
        (Python, Ending::TlsFailed { problem: ClientCertificate, tls13: Some(true) }) => library(None, Some("SSLError: [SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required")),
        (Java, Ending::IllegalClose(_)) => library(None, Some("java.net.ProtocolException")),
        _ => return None,
    })
}

/// The families whose behaviour a report lists when the client is not identified.
pub const COMMON: [Family; 6] = [
    Family::Chromium,
    Family::Firefox,
    Family::Node,
    Family::Java,
    Family::Rustls,
    Family::Python,
];

/// What the common families report on `ending`, those that agree grouped together; one
/// group when they all hand the application the same code without an error (wasClean and
/// the `error` event kept when every API that has them agrees).
pub fn alternatives(ending: Ending) -> Vec<(Vec<Family>, Reported)> {
    let groups = grouped(ending);
    let first = groups.first().map(|(_, r)| r.code);
    let alike = groups
        .iter()
        .all(|(_, r)| Some(r.code) == first && r.code.is_some() && r.error.is_none());
    if groups.len() <= 1 || !alike {
        return groups;
    }
    let common = |get: fn(&Reported) -> Option<bool>| {
        let values: Vec<bool> = groups.iter().filter_map(|(_, r)| get(r)).collect();
        values
            .first()
            .copied()
            .filter(|v| values.iter().all(|x| x == v))
    };
    let merged = Reported {
        code: first.flatten(),
        was_clean: common(|r| r.was_clean),
        error_event: common(|r| r.error_event),
        error: None,
    };
    vec![(groups.into_iter().flat_map(|(f, _)| f).collect(), merged)]
}

fn grouped(ending: Ending) -> Vec<(Vec<Family>, Reported)> {
    let mut groups: Vec<(Vec<Family>, Reported)> = Vec::new();
    for f in COMMON {
        let Some(r) = reported(f, ending) else {
            continue;
        };
        match groups.iter_mut().find(|(_, g)| *g == r) {
            Some((families, _)) => families.push(f),
            None => groups.push((vec![f], r)),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_tls_handshake_is_reported_differently() {
        let e = Ending::TlsFailed {
            problem: TlsProblem::Expired,
            tls13: Some(true),
        };
        assert_eq!(
            reported(Family::Firefox, e).and_then(|r| r.code),
            Some(1015)
        );
        assert_eq!(
            reported(Family::Chromium, e).and_then(|r| r.code),
            Some(1006)
        );
        let java = reported(Family::Java, e).expect("measured");
        assert_eq!(java.code, None);
        assert!(java.error.unwrap().contains("PKIX path validation failed"));
        assert!(reported(Family::Go, e).is_none());
        assert!(alternatives(e).len() >= 4);
    }

    #[test]
    fn a_legal_close_is_reported_alike() {
        let groups = alternatives(Ending::Close(1008));
        let codes: Vec<Option<u16>> = groups.iter().map(|(_, r)| r.code).collect();
        assert!(codes.iter().all(|c| *c == Some(1008)), "{groups:?}");
    }
}
