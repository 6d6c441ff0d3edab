//! Client truth: every sample recorded with a `.client.json` beside it holds what the real
//! client's API reported (written by the generator from the client itself). wsclose must
//! name the client's family from the capture and say what that client saw: the same close
//! code (or none), wasClean and `error` event where the API has them, and an error text the
//! client's own error contains.

use std::fs;

use serde_json::Value;

use crate::{root, wsclose};

/// (sample name, its truth file parsed), for every sample with a truth file.
fn truths() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = fs::read_dir(root().join("samples"))
        .expect("samples/")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".client.json")?.to_string();
            let text = fs::read_to_string(e.path()).expect("read truth");
            let v: Value =
                serde_json::from_str(&text).unwrap_or_else(|err| panic!("{name}: bad JSON: {err}"));
            Some((stem, v))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The JSON report of `samples/STEM.pcap`, with its key log when it has secrets.
fn report(stem: &str) -> Value {
    let pcap = format!("samples/{stem}.pcap");
    let keys = format!("samples/{stem}.keys");
    let mut args = vec!["analyze", "--format", "json"];
    let has_secrets = fs::read_to_string(root().join(&keys)).is_ok_and(|t| {
        t.lines()
            .any(|l| l.starts_with("CLIENT_RANDOM ") || l.contains("_SECRET "))
    });
    if has_secrets {
        args.extend(["--keylog", keys.as_str()]);
    }
    args.push(pcap.as_str());
    let out = wsclose(&args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{pcap}: bad JSON: {e}"))
}

/// The connection the truth is about: `connection` (its id) when the truth names one,
/// else the first connection.
fn connection<'a>(report: &'a Value, truth: &Value) -> &'a Value {
    let conns = report["files"][0]["connections"]
        .as_array()
        .expect("connections");
    let id = truth["connection"].as_u64();
    conns
        .iter()
        .find(|c| id.is_none_or(|id| c["id"].as_u64() == Some(id)))
        .expect("the connection the truth is about")
}

/// Whether the error text wsclose predicts is the one the client raised: its words in
/// order, `..` standing for what varies (dates, numbers).
fn same_words(ours: &str, theirs: &str) -> bool {
    let mut rest = theirs;
    ours.split("..").all(|piece| match rest.find(piece) {
        Some(at) => {
            rest = &rest[at + piece.len()..];
            true
        }
        None => false,
    })
}

/// Differences between what wsclose says the client saw and what it reported. A capture
/// with neither a User-Agent nor a ClientHello (tungstenite over ws://) cannot name its
/// client: then the client's family must be among those listed, with its report.
fn compare(stem: &str, truth: &Value, conn: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    let family = truth["family"].as_str().expect("family");
    let named = conn["client_software"]["family"].as_str();
    let nameless = conn["handshake"]["user_agent"].is_null() && conn["tls"]["ja4"].is_null();
    if named != Some(family) && !nameless {
        diffs.push(format!(
            "{stem}: client family {named:?}, the client was {family}"
        ));
    }
    let reported = &truth["reported"];
    // hello-*: fingerprint data from clients that are not WebSocket clients (curl) or had
    // nothing go wrong; only the family is checked.
    if reported.is_null() || stem.starts_with("hello-") {
        return diffs;
    }
    let mut seen = &conn["story"]["client_observed"];
    if let Some(alternatives) = seen["alternatives"].as_array() {
        let listed = alternatives.iter().find(|a| {
            a["families"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f == family))
        });
        match listed {
            Some(a) if nameless => seen = a,
            _ => {
                diffs.push(format!("{stem}: no answer for {family}: {seen}"));
                return diffs;
            }
        }
    }
    if seen["code"] != reported["code"] {
        diffs.push(format!(
            "{stem}: code {} predicted, the client reported {}",
            seen["code"], reported["code"]
        ));
    }
    for key in ["was_clean", "error_event"] {
        if !reported[key].is_null() && seen[key] != reported[key] {
            diffs.push(format!(
                "{stem}: {key} {} predicted, the client reported {}",
                seen[key], reported[key]
            ));
        }
    }
    match (seen["error"].as_str(), reported["error"].as_str()) {
        (Some(ours), Some(theirs)) if !same_words(ours, theirs) => diffs.push(format!(
            "{stem}: error {ours:?} predicted, the client raised {theirs:?}"
        )),
        (None, Some(theirs)) if reported["code"].is_null() => diffs.push(format!(
            "{stem}: no error predicted, the client raised {theirs:?}"
        )),
        (Some(ours), None) => diffs.push(format!(
            "{stem}: error {ours:?} predicted, the client raised none"
        )),
        _ => {}
    }
    diffs
}

#[test]
fn each_client_is_named_and_its_report_predicted() {
    let truths = truths();
    assert!(
        truths.len() >= 3,
        "expected recorded client truths in samples/, found {}",
        truths.len()
    );
    let mut diffs = Vec::new();
    for (stem, truth) in &truths {
        let report = report(stem);
        diffs.extend(compare(stem, truth, connection(&report, truth)));
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// The failure each real client's TLS handshake shows without its key log: the kind, the
/// packet, how sure, and the words of the cause that name it. The server's alert answering
/// a client's silent hang-up is never the cause.
#[test]
fn causes_hold_on_real_clients_without_keys() {
    let cases: [(&str, &str, u64, Option<&str>, &str); 8] = [
        (
            "client-chromium-mtls-tls12",
            "closed_during_handshake",
            8,
            None,
            "asked for a client certificate",
        ),
        (
            "client-firefox-mtls-tls12",
            "alert",
            9,
            None,
            "the client sent an empty Certificate",
        ),
        (
            "client-node-untrusted-tls12",
            "closed_after_handshake",
            10,
            Some("medium"),
            "Node.js",
        ),
        (
            "client-firefox-expired-tls12",
            "encrypted_alert",
            10,
            Some("medium"),
            "before any application data",
        ),
        (
            "client-firefox-untrusted-tls12",
            "encrypted_alert",
            9,
            Some("medium"),
            "rejecting it",
        ),
        (
            "client-firefox-mtls-tls13",
            "probable_alert_after_handshake",
            9,
            Some("low"),
            "client certificate",
        ),
        (
            "client-node-expired-tls13",
            "closed_during_handshake",
            8,
            None,
            "rejected the server's certificate",
        ),
        (
            "client-java-expired-tls13",
            "closed_during_handshake",
            10,
            None,
            "rejected the server's certificate",
        ),
    ];
    for (stem, kind, frame, confidence, words) in cases {
        let out = wsclose(&[
            "analyze",
            "--format",
            "json",
            &format!("samples/{stem}.pcap"),
        ]);
        let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let conn = &doc["files"][0]["connections"][0];
        let f = &conn["tls"]["failure"];
        assert_eq!(f["kind"], kind, "{stem}: {f}");
        assert_eq!(f["frame"], frame, "{stem}: {f}");
        assert_eq!(f["confidence"].as_str(), confidence, "{stem}: {f}");
        let cause = f["cause"].as_str().expect("cause");
        assert!(cause.contains(words), "{stem}: {cause}");
        assert!(!cause.contains("decode_error"), "{stem}: {cause}");
        assert_eq!(conn["story"]["outcome"], "tls_failed", "{stem}");
    }
}
