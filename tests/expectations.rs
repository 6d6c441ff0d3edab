//! What each sample must show, stated independently of the golden files: the Close frames
//! (direction, code, verdict), the outcome, and the finding or cause that names the problem.

use serde_json::Value;

use crate::analyze_json;

const C2S: &str = "client_to_server";
const S2C: &str = "server_to_client";

fn conn(doc: &Value) -> &Value {
    let conns = doc["files"][0]["connections"]
        .as_array()
        .expect("connections");
    assert_eq!(conns.len(), 1, "one connection expected: {doc}");
    &conns[0]
}

fn closes(c: &Value) -> Vec<(String, Option<u64>, String)> {
    c["closes"]
        .as_array()
        .expect("closes")
        .iter()
        .map(|x| {
            (
                x["direction"].as_str().unwrap_or("").to_string(),
                x["code"].as_u64(),
                x["verdict"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn rules(c: &Value) -> Vec<String> {
    c["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or("").to_string())
        .collect()
}

fn expect(sample: &str, want: &[(&str, Option<u64>, &str)], outcome: &str) -> Value {
    let doc = analyze_json(&format!("samples/{sample}"));
    let c = conn(&doc).clone();
    let got = closes(&c);
    let want: Vec<(String, Option<u64>, String)> = want
        .iter()
        .map(|(d, c, v)| (d.to_string(), *c, v.to_string()))
        .collect();
    assert_eq!(got, want, "{sample}: closes");
    assert_eq!(c["story"]["outcome"], outcome, "{sample}: outcome");
    c
}

#[test]
fn normal_close_and_its_link_layer_variants() {
    for s in ["normal.pcap", "big-endian.pcap", "nanosecond.pcap"] {
        let c = expect(
            s,
            &[(C2S, Some(1000), "legal"), (S2C, Some(1000), "legal")],
            "clean",
        );
        assert_eq!(c["closes"][0]["reason"], "done", "{s}");
        assert_eq!(c["handshake"]["accept_valid"], true, "{s}");
        assert_eq!(c["story"]["client_observed"]["code"], 1000);
        assert!(rules(&c).is_empty(), "{s}: {:?}", rules(&c));
    }
    let ns = conn(&analyze_json("samples/nanosecond.pcap")).clone();
    let ts = ns["closes"][0]["ts"].as_str().unwrap();
    assert_eq!(
        ts.len(),
        "2026-11-24T00:00:00.000000000Z".len(),
        "nanosecond timestamps keep 9 digits: {ts}"
    );
}

#[test]
fn policy_violation_with_reason() {
    for s in ["policy.pcap", "bsd-null.pcap", "linux-sll2.pcap"] {
        let c = expect(
            s,
            &[(S2C, Some(1008), "legal"), (C2S, Some(1008), "legal")],
            "clean",
        );
        assert_eq!(
            c["closes"][0]["reason"],
            "rate limit exceeded: max 2 messages per second"
        );
        assert_eq!(c["closes"][0]["explanation"]["name"], "Policy Violation");
        assert!(c["closes"][0]["explanation"]["fix"]
            .as_str()
            .unwrap()
            .contains("Rate limit"));
        assert_eq!(c["story"]["first_closer"], S2C);
        assert_eq!(c["story"]["client_observed"]["code"], 1008);
    }
}

#[test]
fn going_away_over_cooked_and_vlan_links() {
    for s in ["going-away.pcap", "linux-sll.pcap", "vlan-qinq.pcap"] {
        expect(
            s,
            &[(S2C, Some(1001), "legal"), (C2S, Some(1001), "legal")],
            "clean",
        );
    }
}

#[test]
fn empty_close_means_1005_seen() {
    for s in ["empty-close.pcap", "raw-ip.pcap"] {
        let c = expect(
            s,
            &[(C2S, None, "legal"), (S2C, None, "legal")],
            "no_status",
        );
        assert_eq!(c["story"]["server_observed"]["code"], 1005);
        assert_eq!(c["closes"][0]["payload_len"], 0);
    }
}

#[test]
fn abrupt_drops_mean_1006_seen_with_cause() {
    let c = expect("drop-rst.pcap", &[], "abnormal");
    assert_eq!(c["story"]["tcp_end"]["kind"], "rst");
    assert_eq!(c["story"]["tcp_end"]["by"], S2C);
    assert_eq!(c["story"]["client_observed"]["code"], 1006);
    assert!(c["story"]["likely_cause"]
        .as_str()
        .unwrap()
        .contains("after the client's message"));
    assert!(rules(&c).contains(&"NoCloseHandshake".to_string()));

    let c = expect("drop-idle.pcap", &[], "abnormal");
    let idle = c["story"]["idle_before_end_ms"].as_f64().unwrap();
    assert!((59_000.0..62_000.0).contains(&idle), "idle {idle}");
    assert!(c["story"]["likely_cause"]
        .as_str()
        .unwrap()
        .contains("nginx"));
}

#[test]
fn illegal_codes_on_the_wire_are_flagged_with_the_peer_reaction() {
    for (s, code) in [
        ("wire-1015.pcap", 1015),
        ("wire-1006.pcap", 1006),
        ("wire-1005.pcap", 1005),
    ] {
        let c = expect(
            s,
            &[(S2C, Some(code), "illegal"), (C2S, Some(1002), "legal")],
            "clean",
        );
        assert!(rules(&c).contains(&"IllegalCloseCode".to_string()), "{s}");
        assert!(
            c["closes"][0]["problems"][0]
                .as_str()
                .unwrap()
                .contains("MUST NOT"),
            "{s}"
        );
        assert!(
            c["closes"][0]["peer_reaction"]
                .as_str()
                .unwrap()
                .contains("1002"),
            "{s}"
        );
    }
}

#[test]
fn malformed_close_bodies() {
    let c = expect(
        "one-byte-close.pcap",
        &[(S2C, None, "illegal"), (C2S, Some(1002), "legal")],
        "clean",
    );
    assert!(rules(&c).contains(&"OneByteClosePayload".to_string()));
    let c = expect(
        "bad-utf8-reason.pcap",
        &[(S2C, Some(1000), "illegal"), (C2S, Some(1007), "legal")],
        "clean",
    );
    assert!(rules(&c).contains(&"InvalidUtf8Reason".to_string()));
    assert_eq!(c["closes"][0]["reason_hex"], "fffe206e6f74207574662d38");
    let c = expect(
        "oversized-close.pcap",
        &[(S2C, Some(1000), "illegal"), (C2S, Some(1002), "legal")],
        "clean",
    );
    assert!(rules(&c).contains(&"ControlFrameTooLong".to_string()));
    assert_eq!(c["closes"][0]["payload_len"], 132);
}

#[test]
fn unmasked_client_frame_is_answered_with_1002() {
    let c = expect(
        "unmasked-client.pcap",
        &[(S2C, Some(1002), "legal")],
        "one_sided",
    );
    assert!(rules(&c).contains(&"UnmaskedClientFrame".to_string()));
}

#[test]
fn refused_upgrade_is_not_a_close() {
    let c = expect("refused.pcap", &[], "refused");
    assert_eq!(c["handshake"]["status"], 403);
    assert!(rules(&c).contains(&"UpgradeRefused".to_string()));
    assert!(c["story"]["client_observed"].is_null());
}

#[test]
fn fragmented_large_deflate_ipv6_and_private_codes() {
    let c = expect(
        "fragmented-large.pcap",
        &[(C2S, Some(1000), "legal"), (S2C, Some(1000), "legal")],
        "clean",
    );
    assert_eq!(c["messages"]["client_to_server"], 2);
    assert!(
        c["frames"]["client_to_server"].as_u64().unwrap() >= 5,
        "fragments counted as frames"
    );
    assert!(rules(&c).is_empty(), "{:?}", rules(&c));
    for s in ["deflate.pcap", "deflate.pcap.gz"] {
        let c = expect(
            s,
            &[(C2S, Some(1000), "legal"), (S2C, Some(1000), "legal")],
            "clean",
        );
        assert_eq!(c["handshake"]["permessage_deflate"], true);
        assert!(
            !rules(&c).contains(&"ReservedBitsSet".to_string()),
            "RSV1 is allowed under permessage-deflate"
        );
    }
    let c = expect(
        "ipv6.pcap",
        &[(S2C, Some(4001), "legal"), (C2S, Some(4001), "legal")],
        "clean",
    );
    assert!(c["client"].as_str().unwrap().starts_with("[::1]:"));
    assert_eq!(c["closes"][0]["explanation"]["name"], "Private Use");
}

#[test]
fn damaged_captures_still_report_their_closes() {
    let c = expect(
        "reordered.pcap",
        &[(C2S, Some(1000), "legal"), (S2C, Some(1000), "legal")],
        "clean",
    );
    assert_eq!(
        c["messages"]["client_to_server"], 2,
        "reordered and duplicated segments delivered once"
    );
    let c = expect(
        "mid-stream.pcap",
        &[(S2C, Some(1008), "legal"), (C2S, Some(1008), "legal")],
        "clean",
    );
    assert_eq!(c["detection"], "heuristic");
    assert!(rules(&c).contains(&"MidStreamStart".to_string()));
    let c = expect(
        "snaplen-200.pcap",
        &[(C2S, Some(1000), "legal"), (S2C, Some(1000), "legal")],
        "clean",
    );
    assert!(rules(&c).contains(&"SnapLenCut".to_string()));
}

#[test]
fn two_interfaces_in_one_pcapng() {
    let doc = analyze_json("samples/multi-interface.pcapng");
    let f = &doc["files"][0];
    assert_eq!(f["format"], "pcapng");
    let codes: Vec<u64> = f["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            c["closes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["code"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(codes, vec![1000, 1000, 1008, 1008]);
}

fn tls(c: &Value) -> &Value {
    assert!(c["tls"].is_object(), "TLS summary expected: {c}");
    &c["tls"]
}

fn alerts(c: &Value) -> Vec<(String, bool, Option<u64>)> {
    tls(c)["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["direction"].as_str().unwrap().to_string(),
                a["encrypted"].as_bool().unwrap(),
                a["description"].as_u64(),
            )
        })
        .collect()
}

#[test]
fn wss_session_that_worked_is_encrypted_not_missing() {
    let c = expect("wss-good.pcap", &[], "encrypted");
    let t = tls(&c);
    assert_eq!(t["handshake"], "complete");
    assert_eq!(t["version"], "TLS 1.3");
    assert_eq!(t["sni"], "localhost");
    assert!(t["failure"].is_null());
    assert!(
        c["story"]["client_observed"].is_null(),
        "the close code is inside TLS: not known"
    );
    assert!(!rules(&c).contains(&"NoCloseHandshake".to_string()));
}

#[test]
fn tls_failures_name_the_1015_cause() {
    // (sample, failure kind, alert seen (direction, encrypted, description), words the cause must contain)
    type Alert<'a> = Option<(&'a str, bool, Option<u64>)>;
    let cases: &[(&str, &str, Alert, &str)] = &[
        (
            "wss-expired-tls12.pcap",
            "alert",
            Some((C2S, false, Some(45))),
            "expired on 2024-01-01",
        ),
        (
            "wss-untrusted-ca.pcap",
            "alert",
            Some((C2S, false, Some(48))),
            "wsclose rogue CA",
        ),
        (
            "wss-version-mismatch.pcap",
            "alert",
            Some((S2C, false, Some(70))),
            "offers TLS 1.2",
        ),
        (
            "wss-expired-tls13-openssl.pcap",
            "alert",
            Some((C2S, false, Some(45))),
            "certificate_expired",
        ),
        (
            "wss-expired-tls13.pcap",
            "closed_during_handshake",
            Some((S2C, true, None)),
            "rejected the server's certificate",
        ),
        (
            "wss-expired-tls12-noalert.pcap",
            "closed_during_handshake",
            None,
            "expired on 2024-01-01",
        ),
        (
            "wss-to-ws-port.pcap",
            "closed_after_client_hello",
            Some((C2S, false, Some(50))),
            "does not speak TLS",
        ),
        (
            "wss-no-answer.pcap",
            "no_answer",
            None,
            "the client gave up after 2.0 s",
        ),
    ];
    for (sample, kind, alert, words) in cases {
        let c = expect(sample, &[], "tls_failed");
        let f = &tls(&c)["failure"];
        assert_eq!(f["kind"], *kind, "{sample}: {f}");
        assert_eq!(f["client_observed_code"], 1015, "{sample}");
        let cause = f["cause"].as_str().unwrap();
        assert!(cause.contains(words), "{sample}: {cause}");
        assert!(!f["fix"].as_str().unwrap().is_empty());
        assert_eq!(c["story"]["client_observed"]["code"], 1015, "{sample}");
        assert!(
            rules(&c).contains(&"TlsHandshakeFailed".to_string()),
            "{sample}"
        );
        if let Some((d, enc, desc)) = alert {
            assert!(
                alerts(&c).contains(&(d.to_string(), *enc, *desc)),
                "{sample}: {:?}",
                alerts(&c)
            );
        }
        // Nothing TLS is ever reported as a close code on the wire.
        assert!(c["closes"].as_array().unwrap().is_empty(), "{sample}");
    }
    let c = expect("wss-expired-tls12.pcap", &[], "tls_failed");
    assert_eq!(tls(&c)["certificates"][0]["validity_at_capture"], "expired");
    assert_eq!(tls(&c)["failure"]["alert"]["name"], "certificate_expired");
    assert!(rules(&c).contains(&"CertificateProblem".to_string()));
}

#[test]
fn plain_ws_against_a_tls_port() {
    let c = expect("ws-to-wss-port.pcap", &[], "abnormal");
    assert!(c["handshake"]["response_frame"].is_null());
    assert!(c["story"]["likely_cause"]
        .as_str()
        .unwrap()
        .contains("without answering the HTTP Upgrade request"));
}
