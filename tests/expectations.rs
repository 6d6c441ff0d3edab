//! What each sample must show, stated independently of the golden files: the Close frames
//! (direction, code, verdict), the outcome, the close code each side's application
//! observes, and the finding or cause that names the problem. Read from the library's typed
//! report.

use std::net::{IpAddr, Ipv6Addr};

use wsclose::capture::Format;
use wsclose::report::{
    ConnReport, Detection, EndKind, FailureKind, FileReport, Outcome, TlsHandshake, TlsReport,
    Verdict::{self, Illegal, Legal},
};
use wsclose::rules::Rule;
use wsclose::tcp::Direction::{self, ClientToServer as C2S, ServerToClient as S2C};
use wsclose::tls::{TlsVersion, Validity, Version};
use wsclose::Options;

use crate::analysis::{analyze_sample, rules};

/// `samples/<sample>` analyzed with the default options; a fatal error fails the test.
fn analyze(sample: &str) -> (FileReport, Vec<ConnReport>) {
    let (file, conns, err) = analyze_sample(sample, &Options::default());
    if let Some(e) = err {
        panic!("{sample}: {e}");
    }
    (file, conns)
}

/// The one connection of a sample.
fn conn(sample: &str) -> ConnReport {
    let mut conns = analyze(sample).1;
    assert_eq!(
        conns.len(),
        1,
        "{sample}: one connection expected: {conns:#?}"
    );
    conns.remove(0)
}

/// The close code the (client, server) application observes, when it has one.
type Seen = (Option<u16>, Option<u16>);

fn observed(c: &ConnReport) -> Seen {
    (
        c.story
            .client_observed
            .as_ref()
            .and_then(|o| o.reported.code),
        c.story
            .server_observed
            .as_ref()
            .and_then(|o| o.reported.code),
    )
}

/// Checks the sample's one connection: its Close frames in order, its outcome, and the codes
/// each side observes. The first Close frame names the side that closed first, and a Close
/// from the other side answers it.
fn expect(
    sample: &str,
    want: &[(Direction, Option<u16>, Verdict)],
    outcome: Outcome,
    seen: Seen,
) -> ConnReport {
    let c = conn(sample);
    let got: Vec<(Direction, Option<u16>, Verdict)> = c
        .closes
        .iter()
        .map(|x| (x.direction, x.code, x.verdict))
        .collect();
    assert_eq!(got, want, "{sample}: closes");
    assert_eq!(c.story.outcome, outcome, "{sample}: outcome");
    assert_eq!(
        observed(&c),
        seen,
        "{sample}: codes observed (client, server)"
    );
    let first = want.first().map(|w| w.0);
    assert_eq!(c.story.first_closer, first, "{sample}: first closer");
    let answered = first.map(|d| want.iter().any(|w| w.0 != d));
    assert_eq!(c.story.answered, answered, "{sample}: answered");
    c
}

#[test]
fn normal_close_and_its_link_layer_variants() {
    for s in ["normal.pcap", "big-endian.pcap", "nanosecond.pcap"] {
        let c = expect(
            s,
            &[(C2S, Some(1000), Legal), (S2C, Some(1000), Legal)],
            Outcome::Clean,
            (Some(1000), Some(1000)),
        );
        assert_eq!(c.closes[0].reason.as_deref(), Some("done"), "{s}");
        let handshake = c.handshake.as_ref().expect("handshake");
        assert_eq!(handshake.accept_valid, Some(true), "{s}");
        assert!(rules(&c).is_empty(), "{s}: {:?}", rules(&c));
    }
    let ts = conn("nanosecond.pcap").closes[0].ts;
    assert_eq!(
        ts.0.rem_euclid(1_000_000_000),
        601_930_799,
        "nanosecond timestamps keep their nanoseconds"
    );
    let text = ts.to_string();
    assert_eq!(
        text.len(),
        "2026-11-24T00:00:00.000000000Z".len(),
        "nanosecond timestamps keep 9 digits: {text}"
    );
}

#[test]
fn policy_violation_with_reason() {
    for s in ["policy.pcap", "bsd-null.pcap", "linux-sll2.pcap"] {
        let c = expect(
            s,
            &[(S2C, Some(1008), Legal), (C2S, Some(1008), Legal)],
            Outcome::Clean,
            (Some(1008), Some(1008)),
        );
        assert_eq!(
            c.closes[0].reason.as_deref(),
            Some("rate limit exceeded: max 2 messages per second")
        );
        let entry = c.closes[0].explanation.expect("catalog entry");
        assert_eq!(entry.name, "Policy Violation");
        assert!(entry.fix.contains("Rate limit"), "{}", entry.fix);
    }
}

#[test]
fn going_away_over_cooked_and_vlan_links() {
    for s in ["going-away.pcap", "linux-sll.pcap", "vlan-qinq.pcap"] {
        expect(
            s,
            &[(S2C, Some(1001), Legal), (C2S, Some(1001), Legal)],
            Outcome::Clean,
            (Some(1001), Some(1001)),
        );
    }
}

#[test]
fn empty_close_means_1005_seen() {
    for s in ["empty-close.pcap", "raw-ip.pcap"] {
        let c = expect(
            s,
            &[(C2S, None, Legal), (S2C, None, Legal)],
            Outcome::NoStatus,
            (Some(1005), Some(1005)),
        );
        assert_eq!(c.closes[0].payload_len, 0);
    }
}

#[test]
fn abrupt_drops_mean_1006_seen_with_cause() {
    for s in ["drop-rst.pcap", "drop-idle.pcap"] {
        let c = expect(s, &[], Outcome::Abnormal, (Some(1006), Some(1006)));
        let end = c.story.tcp_end.as_ref().expect("TCP end");
        assert_eq!((end.kind, end.by), (EndKind::Rst, S2C), "{s}");
        assert!(rules(&c).contains(&Rule::NoCloseHandshake), "{s}");
    }

    let c = conn("drop-rst.pcap");
    let cause = c.story.likely_cause.as_deref().expect("likely cause");
    assert!(cause.contains("after the client's message"), "{cause}");

    let c = conn("drop-idle.pcap");
    let idle = c.story.idle_before_end_ms.expect("idle time");
    assert!((59_000.0..62_000.0).contains(&idle), "idle {idle}");
    let cause = c.story.likely_cause.as_deref().expect("likely cause");
    assert!(cause.contains("nginx"), "{cause}");
}

#[test]
fn illegal_codes_on_the_wire_are_flagged_with_the_peer_reaction() {
    for (s, code) in [
        ("wire-1015.pcap", 1015),
        ("wire-1006.pcap", 1006),
        ("wire-1005.pcap", 1005),
    ] {
        // The client (python-websockets) fails the connection on the illegal code (1006 for
        // it) and tells the server why with 1002: not a clean close.
        let c = expect(
            s,
            &[(S2C, Some(code), Illegal), (C2S, Some(1002), Legal)],
            Outcome::Failed,
            (Some(1006), Some(1002)),
        );
        assert!(rules(&c).contains(&Rule::IllegalCloseCode), "{s}");
        let problem = c.closes[0].problems.first().expect("a problem");
        assert!(problem.contains("MUST NOT"), "{s}: {problem}");
        let reaction = c.closes[0].peer_reaction.as_deref().expect("peer reaction");
        assert!(reaction.contains("1002"), "{s}: {reaction}");
    }
}

#[test]
fn malformed_close_bodies() {
    let c = expect(
        "one-byte-close.pcap",
        &[(S2C, None, Illegal), (C2S, Some(1002), Legal)],
        Outcome::Failed,
        (Some(1006), Some(1002)),
    );
    assert!(rules(&c).contains(&Rule::OneByteClosePayload));
    let c = expect(
        "bad-utf8-reason.pcap",
        &[(S2C, Some(1000), Illegal), (C2S, Some(1007), Legal)],
        Outcome::Failed,
        (Some(1006), Some(1007)),
    );
    assert!(rules(&c).contains(&Rule::InvalidUtf8Reason));
    assert_eq!(
        c.closes[0].reason_hex.as_deref(),
        Some("fffe206e6f74207574662d38")
    );
    let c = expect(
        "oversized-close.pcap",
        &[(S2C, Some(1000), Illegal), (C2S, Some(1002), Legal)],
        Outcome::Failed,
        (Some(1006), Some(1002)),
    );
    assert!(rules(&c).contains(&Rule::ControlFrameTooLong));
    assert_eq!(c.closes[0].payload_len, 132);
}

#[test]
fn unmasked_client_frame_is_answered_with_1002() {
    let c = expect(
        "unmasked-client.pcap",
        &[(S2C, Some(1002), Legal)],
        Outcome::OneSided,
        (Some(1002), Some(1006)),
    );
    assert!(rules(&c).contains(&Rule::UnmaskedClientFrame));
}

#[test]
fn refused_upgrade_is_not_a_close() {
    // No WebSocket connection was made: neither side observes a close code.
    let c = expect("refused.pcap", &[], Outcome::Refused, (None, None));
    assert_eq!(c.handshake.as_ref().and_then(|h| h.status), Some(403));
    assert!(rules(&c).contains(&Rule::UpgradeRefused));
}

#[test]
fn fragmented_large_deflate_ipv6_and_private_codes() {
    let c = expect(
        "fragmented-large.pcap",
        &[(C2S, Some(1000), Legal), (S2C, Some(1000), Legal)],
        Outcome::Clean,
        (Some(1000), Some(1000)),
    );
    assert_eq!(c.messages[C2S], 2);
    assert!(c.frames[C2S] >= 5, "fragments counted as frames");
    assert!(rules(&c).is_empty(), "{:?}", rules(&c));
    for s in ["deflate.pcap", "deflate.pcap.gz"] {
        let c = expect(
            s,
            &[(C2S, Some(1000), Legal), (S2C, Some(1000), Legal)],
            Outcome::Clean,
            (Some(1000), Some(1000)),
        );
        assert!(c.handshake.as_ref().expect("handshake").permessage_deflate);
        assert!(
            !rules(&c).contains(&Rule::ReservedBitsSet),
            "RSV1 is allowed under permessage-deflate"
        );
        assert_eq!(analyze(s).0.gzip, s.ends_with(".gz"), "{s}");
    }
    let c = expect(
        "ipv6.pcap",
        &[(S2C, Some(4001), Legal), (C2S, Some(4001), Legal)],
        Outcome::Clean,
        (Some(4001), Some(4001)),
    );
    assert_eq!(c.client.ip(), IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(c.closes[0].explanation.map(|e| e.name), Some("Private Use"));
}

#[test]
fn damaged_captures_still_report_their_closes() {
    let c = expect(
        "reordered.pcap",
        &[(C2S, Some(1000), Legal), (S2C, Some(1000), Legal)],
        Outcome::Clean,
        (Some(1000), Some(1000)),
    );
    assert_eq!(
        c.messages[C2S], 2,
        "reordered and duplicated segments delivered once"
    );
    let c = expect(
        "mid-stream.pcap",
        &[(S2C, Some(1008), Legal), (C2S, Some(1008), Legal)],
        Outcome::Clean,
        (Some(1008), Some(1008)),
    );
    assert_eq!(c.detection, Detection::Heuristic);
    assert!(rules(&c).contains(&Rule::MidStreamStart));
    let c = expect(
        "snaplen-200.pcap",
        &[(C2S, Some(1000), Legal), (S2C, Some(1000), Legal)],
        Outcome::Clean,
        (Some(1000), Some(1000)),
    );
    assert!(rules(&c).contains(&Rule::SnapLenCut));
}

#[test]
fn two_interfaces_in_one_pcapng() {
    let (file, conns) = analyze("multi-interface.pcapng");
    assert_eq!(file.format, Some(Format::Pcapng));
    let codes: Vec<Option<u16>> = conns
        .iter()
        .flat_map(|c| c.closes.iter().map(|x| x.code))
        .collect();
    assert_eq!(codes, [1000, 1000, 1008, 1008].map(Some));
}

fn tls(c: &ConnReport) -> &TlsReport {
    c.tls
        .as_ref()
        .unwrap_or_else(|| panic!("TLS summary expected: {c:#?}"))
}

/// Each TLS alert seen: (direction, encrypted, description).
fn alerts(c: &ConnReport) -> Vec<(Direction, bool, Option<u8>)> {
    tls(c)
        .alerts
        .iter()
        .map(|a| (a.direction, a.encrypted, a.description))
        .collect()
}

#[test]
fn wss_session_that_worked_is_encrypted_not_missing() {
    // The close code is inside TLS: neither side's is known.
    let c = expect("wss-good.pcap", &[], Outcome::Encrypted, (None, None));
    assert_eq!(c.detection, Detection::Tls);
    let t = tls(&c);
    assert_eq!(t.handshake, TlsHandshake::Complete);
    assert_eq!(t.version, Some(Version(TlsVersion::Tls13)));
    assert_eq!(t.sni.as_deref(), Some("localhost"));
    assert!(t.failure.is_none(), "{:?}", t.failure);
    assert!(!rules(&c).contains(&Rule::NoCloseHandshake));
}

/// A sample whose TLS handshake failed, and how.
struct TlsFailed {
    sample: &'static str,
    kind: FailureKind,
    /// The packet the failure is placed at.
    frame: u64,
    /// An alert that must be among those seen: (direction, encrypted, description).
    alert: Option<(Direction, bool, Option<u8>)>,
    /// The catalog name of the alert the failure is blamed on.
    blamed_alert: Option<&'static str>,
    /// Words the cause must contain.
    words: &'static str,
}

#[test]
fn tls_failures_name_the_1015_cause() {
    let cases = [
        TlsFailed {
            sample: "wss-expired-tls12.pcap",
            kind: FailureKind::Alert,
            frame: 8,
            alert: Some((C2S, false, Some(45))),
            blamed_alert: Some("certificate_expired"),
            words: "expired on 2024-01-01",
        },
        TlsFailed {
            sample: "wss-untrusted-ca.pcap",
            kind: FailureKind::Alert,
            frame: 8,
            alert: Some((C2S, false, Some(48))),
            blamed_alert: Some("unknown_ca"),
            words: "wsclose rogue CA",
        },
        TlsFailed {
            sample: "wss-version-mismatch.pcap",
            kind: FailureKind::Alert,
            frame: 6,
            alert: Some((S2C, false, Some(70))),
            blamed_alert: Some("protocol_version"),
            words: "offers TLS 1.2",
        },
        TlsFailed {
            sample: "wss-expired-tls13-openssl.pcap",
            kind: FailureKind::Alert,
            frame: 8,
            alert: Some((C2S, false, Some(45))),
            blamed_alert: Some("certificate_expired"),
            words: "certificate_expired",
        },
        TlsFailed {
            sample: "wss-expired-tls13.pcap",
            kind: FailureKind::ClosedDuringHandshake,
            frame: 9,
            alert: Some((S2C, true, None)),
            blamed_alert: None,
            words: "rejected the server's certificate",
        },
        TlsFailed {
            sample: "wss-expired-tls12-noalert.pcap",
            kind: FailureKind::ClosedDuringHandshake,
            frame: 8,
            alert: None,
            blamed_alert: None,
            words: "expired on 2024-01-01",
        },
        TlsFailed {
            sample: "wss-to-ws-port.pcap",
            kind: FailureKind::ClosedAfterClientHello,
            frame: 6,
            alert: Some((C2S, false, Some(50))),
            blamed_alert: None,
            words: "does not speak TLS",
        },
        TlsFailed {
            sample: "wss-no-answer.pcap",
            kind: FailureKind::NoAnswer,
            frame: 6,
            alert: None,
            blamed_alert: None,
            words: "the client gave up after 2.0 s",
        },
    ];
    for case in &cases {
        let sample = case.sample;
        // No WebSocket connection was made: what the client reports depends on the client
        // (tests/clients.rs checks it against real ones); the server reports nothing.
        let c = conn(sample);
        assert_eq!(c.story.outcome, Outcome::TlsFailed, "{sample}");
        assert!(c.closes.is_empty(), "{sample}");
        assert!(c.story.server_observed.is_none(), "{sample}");
        let seen = c.story.client_observed.as_ref().expect("client observed");
        assert!(
            seen.reported.code.is_some()
                || seen.reported.error.is_some()
                || !seen.alternatives.is_empty(),
            "{sample}: {seen:?}"
        );
        assert_eq!(c.detection, Detection::Tls, "{sample}");
        let t = tls(&c);
        assert_eq!(t.handshake, TlsHandshake::Failed, "{sample}");
        let f = t.failure.as_ref().expect("TLS failure");
        assert_eq!(f.kind, case.kind, "{sample}: {f:?}");
        assert_eq!(f.frame, case.frame, "{sample}: failure frame");
        assert!(f.cause.contains(case.words), "{sample}: {}", f.cause);
        assert!(!f.fix.is_empty(), "{sample}");
        assert_eq!(f.alert.map(|a| a.name), case.blamed_alert, "{sample}");
        assert!(rules(&c).contains(&Rule::TlsHandshakeFailed), "{sample}");
        if let Some(alert) = case.alert {
            assert!(alerts(&c).contains(&alert), "{sample}: {:?}", alerts(&c));
        }
        // Nothing TLS is ever reported as a close code on the wire.
        assert!(c.closes.is_empty(), "{sample}");
    }
    let c = conn("wss-expired-tls12.pcap");
    let leaf = tls(&c).certificates.first().expect("a certificate");
    assert_eq!(leaf.validity_at_capture, Validity::Expired);
    assert!(rules(&c).contains(&Rule::CertificateProblem));
}

#[test]
fn plain_ws_against_a_tls_port() {
    let c = expect(
        "ws-to-wss-port.pcap",
        &[],
        Outcome::Abnormal,
        (Some(1006), Some(1006)),
    );
    let handshake = c.handshake.as_ref().expect("handshake");
    assert_eq!(handshake.response_frame, None);
    let end = c.story.tcp_end.as_ref().expect("TCP end");
    assert_eq!(
        (end.kind, end.by),
        (EndKind::Rst, S2C),
        "the TLS server resets"
    );
    let cause = c.story.likely_cause.as_deref().expect("likely cause");
    assert!(
        cause.contains("without answering the HTTP Upgrade request"),
        "{cause}"
    );
}
