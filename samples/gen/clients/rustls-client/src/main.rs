//! A wss:// (or ws://) client on tokio-tungstenite with rustls, for wsclose's client
//! samples. rustls trusts only the test CA given on the command line (no webpki roots) and
//! writes its TLS secrets to $SSLKEYLOGFILE when that is set.
//!
//! On open it sends one text message, then waits up to 5 s for the connection to end. It
//! prints one JSON line: what the library handed the application (a Close frame's code and
//! reason, or the error's Debug text).
//!
//! Usage: rustls-client URL CA_PEM

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::{pem::PemObject, CertificateDer};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn report(code: Option<u16>, reason: Option<&str>, error: Option<String>) {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "null".into());
    println!(
        "{{\"code\": {}, \"reason\": {}, \"was_clean\": null, \"error_event\": null, \"error\": {}}}",
        opt(code.map(|c| c.to_string())),
        opt(reason.map(json_str)),
        opt(error.as_deref().map(json_str)),
    );
}

fn connector(ca: &str) -> Connector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots
            .add(cert.expect("CA certificate"))
            .expect("CA accepted");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Connector::Rustls(Arc::new(config))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (url, ca) = (&args[1], &args[2]);
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        url.as_str(),
        None,
        false,
        Some(connector(ca)),
    );
    let (mut ws, _) = match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return report(None, None, Some(format!("{e:?}"))),
        Err(_) => return report(None, None, Some("timed out connecting".into())),
    };
    if let Err(e) = ws.send(Message::text("hello")).await {
        return report(None, None, Some(format!("{e:?}")));
    }
    let mut close: Option<(Option<u16>, String)> = None;
    let wait = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => {
                    close = Some(match frame {
                        Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
                        None => (None, String::new()),
                    });
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Some(format!("{e:?}")),
                None => return None,
            }
        }
    };
    let error = match tokio::time::timeout(Duration::from_secs(5), wait).await {
        Ok(error) => error,
        Err(_) => Some("timed out waiting for the end".into()),
    };
    match close {
        Some((code, reason)) => report(code, Some(&reason), error),
        None => report(None, None, error),
    }
}
