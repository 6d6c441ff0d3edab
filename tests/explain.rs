//! `wsclose explain`: the catalog on the command line.

use crate::run;

fn has_arabic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0600}'..='\u{06ff}').contains(&c))
}

#[test]
fn one_code() {
    let (code, out, _) = run(&["explain", "1008"]);
    assert_eq!(code, 0);
    for want in [
        "1008 Policy Violation",
        "legal",
        "Rate limits",
        "RFC 6455 §7.4.1",
        "fix:",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
}

#[test]
fn two_codes_side_by_side_with_differences() {
    let (code, out, _) = run(&["explain", "1008", "1015"]);
    assert_eq!(code, 0);
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("1008 Policy Violation") && first.contains("1015 TLS Handshake Failure"),
        "{first}"
    );
    assert!(out.contains("Key differences:"));
    assert!(
        out.contains("1015 (TLS Handshake Failure): illegal: must never be sent"),
        "{out}"
    );
    assert!(out.contains("1008 (Policy Violation): legal"), "{out}");
}

#[test]
fn ranges_and_tls_alerts() {
    let (_, out, _) = run(&["explain", "4001"]);
    assert!(
        out.contains("Private Use") && out.contains("4000-4999"),
        "{out}"
    );
    let (_, out, _) = run(&["explain", "2500"]);
    assert!(
        out.contains("Unassigned") && out.contains("illegal"),
        "{out}"
    );
    let (_, by_number, _) = run(&["explain", "tls:45"]);
    let (_, by_name, _) = run(&["explain", "certificate_expired"]);
    assert_eq!(by_number, by_name);
    assert!(
        by_number.contains("certificate_expired") && by_number.contains("1015"),
        "{by_number}"
    );
}

#[test]
fn unknown_input_is_exit_2() {
    for bad in ["banana", "70000", "tls:999", "tls:1"] {
        let (code, out, err) = run(&["explain", bad]);
        assert_eq!(code, 2, "{bad}");
        assert!(out.is_empty());
        assert!(
            err.starts_with("wsclose: explain: '") && err.contains(bad),
            "{err}"
        );
    }
}

#[test]
fn list_and_json_in_both_languages() {
    for lang in ["en", "ar"] {
        let (code, out, _) = run(&["explain", "--list", "--format", "json", "--lang", lang]);
        assert_eq!(code, 0);
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let entries = doc["entries"].as_array().unwrap();
        // Every registered code (1000-1015, 3000, 3003, 3008), every range and every alert.
        let queries: Vec<&str> = entries
            .iter()
            .map(|e| e["query"].as_str().unwrap())
            .collect();
        for q in [
            "1000",
            "1008",
            "1015",
            "3000",
            "3003",
            "3008",
            "0-999",
            "1000-2999",
            "3000-3999",
            "4000-4999",
            "5000-65535",
            "tls:0",
            "tls:116",
            "tls:120",
            "tls:121",
        ] {
            assert!(queries.contains(&q), "{lang}: {q} missing");
        }
        assert_eq!(
            entries.iter().filter(|e| e["kind"] == "tls_alert").count(),
            36
        );
        for e in entries {
            for field in ["meaning", "when", "fix"] {
                let text = e[field].as_str().unwrap();
                assert!(!text.is_empty());
                assert_eq!(
                    has_arabic(text),
                    lang == "ar",
                    "{lang} {} {field}: {text}",
                    e["query"]
                );
            }
        }
    }
    let (_, text, _) = run(&["explain", "--list"]);
    assert!(text.lines().count() > 55);
    let (_, json, _) = run(&["explain", "--format", "json", "1008", "1015"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["entries"].as_array().unwrap().len(), 2);
    assert!(!doc["differences"].as_array().unwrap().is_empty());
}

#[test]
fn arabic_is_plain_utf8() {
    let (code, out, _) = run(&["explain", "--lang", "ar", "1008", "1015"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("مخالفة للسياسة")
            && out.contains("فشل مصافحة TLS")
            && out.contains("الفروق الأساسية"),
        "{out}"
    );
    assert!(!out.chars().any(
        |c| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    ));
}

#[test]
fn arabic_wraps_by_columns_not_characters() {
    // Vowel signs and shadda are combining marks: they take no column, so a line may hold
    // more characters than the width but never more columns.
    let (code, out, _) = run(&["explain", "--lang", "ar", "--width", "100", "1006"]);
    assert_eq!(code, 0);
    let width = wsclose::render::wrap::width;
    assert!(out.lines().all(|l| width(l) <= 100), "{out}");
    assert!(
        out.lines().any(|l| l.chars().count() > 100),
        "no line is filled past 100 characters: marks were counted as columns\n{out}"
    );
}

/// Every client error text the catalog must answer, as clients write it, with the entry it
/// resolves to. The wording was checked against the clients (see the catalog's sources).
const ERROR_TEXTS: &[(&str, &str)] = &[
    ("PKIX path validation failed", "java-pkix-validation"),
    (
        "PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed",
        "java-pkix-expired",
    ),
    ("PKIX path building failed", "java-pkix-building"),
    ("unable to find valid certification path to requested target", "java-pkix-building"),
    ("CERTIFICATE_VERIFY_FAILED", "openssl-verify-failed"),
    (
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)",
        "openssl-cert-expired",
    ),
    (
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)",
        "openssl-untrusted",
    ),
    (
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1006)",
        "openssl-self-signed",
    ),
    (
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for 'wrong.example'. (_ssl.c:1006)",
        "hostname-mismatch",
    ),
    ("net::ERR_CERT_DATE_INVALID", "chromium-date-invalid"),
    ("net::ERR_CERT_AUTHORITY_INVALID", "chromium-authority-invalid"),
    ("net::ERR_CERT_COMMON_NAME_INVALID", "chromium-common-name-invalid"),
    ("net::ERR_BAD_SSL_CLIENT_AUTH_CERT", "chromium-bad-client-auth-cert"),
    ("net::ERR_SSL_PROTOCOL_ERROR", "chromium-ssl-protocol-error"),
    ("SEC_ERROR_EXPIRED_CERTIFICATE", "firefox-expired"),
    ("SEC_ERROR_UNKNOWN_ISSUER", "firefox-unknown-issuer"),
    ("SSL_ERROR_BAD_CERT_DOMAIN", "firefox-bad-cert-domain"),
    ("InvalidCertificate(Expired)", "rustls-expired"),
    ("InvalidCertificate(UnknownIssuer)", "rustls-unknown-issuer"),
    ("InvalidCertificate(NotValidForName)", "rustls-not-valid-for-name"),
    ("AlertReceived(CertificateRequired)", "certificate-required"),
    ("Received network error or non-101 status code.", "undici-network-error"),
    (
        "WebSocket is closed before the connection is established.",
        "closed-before-established",
    ),
    (
        "WebSocket was closed before the connection was established",
        "closed-before-established",
    ),
    ("Unexpected server response: 403", "unexpected-server-response"),
    (
        "Invalid WebSocket frame: invalid status code 1005",
        "invalid-close-code",
    ),
    ("no close frame received or sent", "py-no-close-frame"),
    ("keepalive ping timeout", "keepalive-ping-timeout"),
    (
        "sent 1011 (internal error) keepalive ping timeout",
        "py-keepalive-sent",
    ),
    (
        "websocket: close 1006 (abnormal closure): unexpected EOF",
        "gorilla-abnormal-eof",
    ),
    (
        "Connection reset without closing handshake",
        "tungstenite-reset",
    ),
    ("ECONNRESET", "econnreset"),
    ("certificate required", "certificate-required"),
];

/// Whole log lines as users paste them (the client's own output around the error).
const PASTED: &[(&str, &str)] = &[
    (
        "Error: javax.net.ssl.SSLHandshakeException: PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed",
        "java-pkix-expired",
    ),
    (
        "client: java.util.concurrent.ExecutionException: javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target",
        "java-pkix-building",
    ),
    (
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain (_ssl.c:1006)",
        "openssl-self-signed",
    ),
    (
        "WebSocket connection to 'wss://localhost:19501/' failed: Error in connection establishment: net::ERR_CERT_DATE_INVALID",
        "chromium-date-invalid",
    ),
    (
        "websockets.exceptions.ConnectionClosedError: sent 1011 (internal error) keepalive ping timeout; no close frame received",
        "py-keepalive-sent",
    ),
    (
        "websockets.exceptions.ConnectionClosedError: received 1011 (internal error) keepalive ping timeout; then sent 1011 (internal error) keepalive ping timeout",
        "py-keepalive-received",
    ),
    (
        "2026/11/30 09:00:00 read: websocket: close 1006 (abnormal closure): unexpected EOF",
        "gorilla-abnormal-eof",
    ),
    (
        "Error: Io(Custom { kind: InvalidData, error: InvalidCertificate(Expired) })",
        "rustls-expired",
    ),
    (
        "Error: Io(Custom { kind: InvalidData, error: InvalidCertificate(ExpiredContext { time: UnixTime(1764493200), not_after: UnixTime(1704067200) }) })",
        "rustls-expired",
    ),
    ("IO error: invalid peer certificate: UnknownIssuer", "rustls-unknown-issuer"),
    (
        "Error: read ECONNRESET\n    at TCP.onStreamRead (node:internal/stream_base_commons:217:20)",
        "econnreset",
    ),
    (
        "Error: socket hang up\n  code: 'ECONNRESET'",
        "no-upgrade-response",
    ),
    (
        "[2026-11-30 09:00:00] ERROR ws: tlsv13 alert certificate required",
        "certificate-required",
    ),
    (
        "Error: Unexpected server response: 502\n    at ClientRequest.<anonymous> (node_modules/ws/lib/websocket.js:913:7)",
        "unexpected-server-response",
    ),
    (
        "WebSocket connection to 'ws://127.0.0.1:19509/' failed: WebSocket is closed before the connection is established.",
        "closed-before-established",
    ),
    (
        "WebSocket connection to 'wss://localhost:19504/' failed: WebSocket opening handshake was canceled",
        "chromium-handshake-canceled",
    ),
];

/// `explain --format json TEXT`: the one entry's kind and error id.
fn explained(text: &str, lang: &str) -> serde_json::Value {
    let (code, out, err) = run(&["explain", "--format", "json", "--lang", lang, text]);
    assert_eq!(code, 0, "{text}: {err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{text}");
    entries[0].clone()
}

#[test]
fn every_listed_error_text_resolves_to_its_entry() {
    for (text, id) in ERROR_TEXTS.iter().chain(PASTED) {
        let e = explained(text, "en");
        assert_eq!(e["kind"], "client_error", "{text}");
        assert_eq!(e["error"]["id"], *id, "{text}");
        assert!(
            !e["error"]["raised_by"].as_array().unwrap().is_empty(),
            "{text}"
        );
    }
}

#[test]
fn lower_case_and_surrounding_text_still_match() {
    for (text, id) in ERROR_TEXTS {
        let noisy = format!(
            "12:00:01 ERROR [client] {}  (retrying)",
            text.to_lowercase()
        );
        assert_eq!(explained(&noisy, "en")["error"]["id"], *id, "{noisy}");
    }
}

#[test]
fn error_entries_in_both_languages() {
    for (text, id) in ERROR_TEXTS {
        for lang in ["en", "ar"] {
            let e = explained(text, lang);
            assert_eq!(e["error"]["id"], *id);
            for field in ["title", "meaning", "on_the_wire", "fix"] {
                let t = e[field].as_str().unwrap();
                assert!(!t.is_empty(), "{id} {field}");
                assert_eq!(has_arabic(t), lang == "ar", "{lang} {id} {field}: {t}");
            }
            let analyze = e["error"]["analyze"].as_str().unwrap();
            assert_eq!(has_arabic(analyze), lang == "ar", "{lang} {id} analyze");
        }
    }
}

#[test]
fn error_card_says_what_to_look_for_and_the_fix() {
    let (code, out, _) = run(&["explain", "PKIX path building failed"]);
    assert_eq!(code, 0);
    for want in [
        "Java does not trust the issuer of the server's certificate",
        "raised by:",
        "javax.net.ssl.SSLHandshakeException;",
        "no close code (an exception only)",
        "look for in the capture:",
        "TLS alert:\n  unknown_ca (48)",
        "wsclose analyze shows:\n  Outcome tls_failed",
        "fix:",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
    let (code, out, _) = run(&["explain", "--lang", "ar", "PKIX path building failed"]);
    assert_eq!(code, 0);
    for want in [
        "لا تثق Java بجهة إصدار شهادة الخادم",
        "يبلّغ عنه:",
        "ما تبحث عنه في الالتقاط:",
        "ما يعرضه wsclose analyze:",
        "الإصلاح:",
        "unknown_ca (48)",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
}

#[test]
fn what_each_client_reports_follows_the_measurements() {
    // Chromium reports 1006, Firefox 1015, Java and rustls no code at all.
    let code_of = |text: &str| explained(text, "en")["error"]["raised_by"][0]["close_code"].clone();
    assert_eq!(code_of("net::ERR_CERT_DATE_INVALID"), 1006);
    assert_eq!(code_of("SEC_ERROR_EXPIRED_CERTIFICATE"), 1015);
    assert!(code_of("PKIX path validation failed").is_null());
    assert!(code_of("InvalidCertificate(Expired)").is_null());
    assert_eq!(
        code_of("Received network error or non-101 status code."),
        1006
    );
    // The alert to look for: Chromium's is certificate_unknown, rustls' certificate_expired.
    let alert_of = |text: &str| explained(text, "en")["error"]["alert"]["name"].clone();
    assert_eq!(
        alert_of("net::ERR_CERT_DATE_INVALID"),
        "certificate_unknown"
    );
    assert_eq!(
        alert_of("InvalidCertificate(Expired)"),
        "certificate_expired"
    );
    assert_eq!(alert_of("certificate required"), "certificate_required");
    let e = explained("sent 1011 (internal error) keepalive ping timeout", "en");
    assert_eq!(e["error"]["close_code"], 1011);
}

#[test]
fn numbers_in_messages() {
    let e = explained("Error: Unexpected server response: 403", "en");
    assert_eq!(e["error"]["number"], 403);
    assert!(e["error"]["detail"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 403: Forbidden"));
    let e = explained("Invalid WebSocket frame: invalid status code 1005", "en");
    assert_eq!(e["error"]["number"], 1005);
    assert!(e["error"]["detail"]
        .as_str()
        .unwrap()
        .starts_with("1005 No Status Received: illegal"));
    // A bare number is still a close code, and a registry name its card.
    assert_eq!(explained("1015", "en")["kind"], "close_code");
    assert_eq!(explained("tls:116", "en")["kind"], "tls_alert");
    assert_eq!(explained("certificate_required", "en")["kind"], "tls_alert");
    // An alert named in a message that has no entry of its own.
    let e = explained(
        "javax.net.ssl.SSLHandshakeException: Received fatal alert: handshake_failure",
        "en",
    );
    assert_eq!(
        (e["kind"].clone(), e["query"].clone()),
        ("tls_alert".into(), "tls:40".into())
    );
}

#[test]
fn unquoted_message_is_one_query() {
    let (code, out, _) = run(&[
        "explain", "--format", "json", "PKIX", "path", "building", "failed",
    ]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["entries"].as_array().unwrap().len(), 1);
    assert_eq!(doc["entries"][0]["error"]["id"], "java-pkix-building");
}

#[test]
fn unknown_text_is_one_line_and_exit_2() {
    let long = "the cake is a lie ".repeat(10);
    for bad in [
        "the cake is a lie",
        "net::ERR_NOT_A_REAL_ERROR",
        long.as_str(),
    ] {
        let (code, out, err) = run(&["explain", bad]);
        assert_eq!(code, 2, "{bad}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("wsclose: explain: '"), "{err}");
        assert!(err.contains("client error text"), "{err}");
        assert!(
            err.contains(&bad.chars().take(40).collect::<String>()),
            "{err}"
        );
    }
    let (code, _, err) = run(&["explain", "the", "cake", "is", "a", "lie"]);
    assert_eq!(code, 2);
    assert!(err.contains("'the' is not a close code"), "{err}");
}

#[test]
fn list_has_the_error_texts() {
    let (_, out, _) = run(&["explain", "--list", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "client_error")
        .map(|e| e["error"]["id"].as_str().unwrap())
        .collect();
    for (_, id) in ERROR_TEXTS.iter().chain(PASTED) {
        assert!(ids.contains(id), "{id} not in --list");
    }
    let (_, text, _) = run(&["explain", "--list"]);
    assert!(text.contains("Client error texts"), "{text}");
    assert!(text.contains("net::ERR_CERT_DATE_INVALID"));
}
