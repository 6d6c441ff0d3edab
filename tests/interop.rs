//! Interoperability with Wireshark and Zeek: every Close frame in the public Zeek captures
//! must be reported with the frame number, sender, code and reason that tshark shows, and
//! the status and reason of Zeek's `websocket_close` events. With `CI=true` the captures
//! must be present: a missing folder fails instead of skipping.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

fn zeek_dir() -> Option<PathBuf> {
    let dir = crate::root().join("../shared/captures/zeek");
    if dir.join("tshark").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {} is missing: the interop test cannot run",
        dir.display()
    );
    eprintln!("interop: {} not found, nothing to compare", dir.display());
    None
}

/// (capture name, tshark's TSV) for every capture, sorted by name.
fn tshark_views(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut tsvs: Vec<_> = fs::read_dir(dir.join("tshark"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    tsvs.sort();
    tsvs.into_iter()
        .map(|tsv| {
            let name = tsv
                .file_name()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches(".tsv")
                .to_string();
            (name, fs::read_to_string(&tsv).unwrap())
        })
        .collect()
}

/// (frame, "src:port", code, reason) of every Close frame wsclose reports.
fn ours(capture: &std::path::Path) -> Vec<(u64, String, String, String)> {
    crate::jsonl(capture)
        .into_iter()
        .filter(|r| r["type"] == "close_frame")
        .map(|r| {
            let src = r["src"].as_str().unwrap().to_string();
            let code = r["code"]
                .as_u64()
                .map(|c| c.to_string())
                .unwrap_or_default();
            let reason = r["reason"].as_str().unwrap_or("").to_string();
            (r["frame"].as_u64().unwrap(), src, code, reason)
        })
        .collect()
}

#[test]
fn close_frames_match_tshark() {
    let Some(dir) = zeek_dir() else { return };
    let mut compared = 0;
    for (name, text) in tshark_views(&dir) {
        let mut expected = Vec::new();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            if f.get(6) != Some(&"8") {
                continue;
            }
            let frame: u64 = f[0].parse().unwrap();
            expected.push((
                frame,
                format!("{}:{}", f[2], f[3]),
                f[7].to_string(),
                f[8].to_string(),
            ));
        }
        let got = ours(&dir.join(&name));
        assert_eq!(got, expected, "{name}: wsclose vs tshark");
        compared += expected.len();
    }
    assert!(
        compared >= 20,
        "expected the Zeek captures' Close frames, compared {compared}"
    );
}

#[test]
fn close_events_match_zeek() {
    let Some(dir) = zeek_dir() else { return };
    let events =
        fs::read_to_string(dir.join("zeek-baselines/scripts.base.protocols.websocket.events__out"))
            .unwrap();
    // The baseline lists, per capture, the websocket_close events: is_orig, status, reason.
    let mut per_capture: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    let mut current = String::new();
    for line in events.lines() {
        if line.ends_with(".pcap") || line.ends_with(".pcapng") {
            current = line.trim().to_string();
            per_capture.entry(current.clone()).or_default();
        } else if let Some(rest) = line.strip_prefix("websocket_close, ") {
            let f: Vec<&str> = rest.splitn(6, ", ").collect();
            let dir = if f[1] == "T" {
                "client_to_server"
            } else {
                "server_to_client"
            };
            let status = if f[3] == "0" {
                String::new()
            } else {
                f[3].to_string()
            };
            let reason = f.get(5).copied().unwrap_or("").to_string();
            per_capture
                .get_mut(&current)
                .unwrap()
                .push((dir.to_string(), status, reason));
        }
    }
    assert!(per_capture.len() >= 4, "{per_capture:?}");
    for (capture, expected) in per_capture {
        let got: Vec<(String, String, String)> = crate::jsonl(&dir.join(&capture))
            .into_iter()
            .filter(|r| r["type"] == "close_frame")
            .map(|r| {
                (
                    r["direction"].as_str().unwrap().to_string(),
                    r["code"]
                        .as_u64()
                        .map(|c| c.to_string())
                        .unwrap_or_default(),
                    r["reason"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(got, expected, "{capture}: wsclose vs Zeek");
    }
}

#[test]
fn oversized_close_in_zeek_capture_is_illegal() {
    let Some(dir) = zeek_dir() else { return };
    let recs = crate::jsonl(&dir.join("oversized-close-frame.pcapng"));
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["verdict"], "illegal");
    assert!(recs[0]["problems"][0]
        .as_str()
        .unwrap()
        .contains("at most 125"));
    let doc = crate::analyze_json(dir.join("wrong-accept-header.pcap").to_str().unwrap());
    let rules: Vec<&str> = doc["files"][0]["connections"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"AcceptMismatch"), "{rules:?}");
}

/// Every TLS alert record tshark lists is reported, with the same level and description
/// when it is plaintext, and as encrypted when tshark could not read it.
#[test]
fn tls_alerts_match_tshark() {
    let Some(dir) = zeek_dir() else { return };
    let mut compared = 0;
    for (name, text) in tshark_views(&dir) {
        let rows: Vec<Vec<String>> = text
            .lines()
            .skip(1)
            .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
            .filter(|f| f.get(6).is_some_and(|o| o.is_empty()))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let doc = crate::analyze_json(dir.join(&name).to_str().unwrap());
        // (frame, sender endpoint) -> (encrypted, level, description)
        let mut ours = Vec::new();
        for c in doc["files"][0]["connections"].as_array().unwrap() {
            for a in c["tls"]["alerts"].as_array().into_iter().flatten() {
                let src = if a["direction"] == "client_to_server" {
                    &c["client"]
                } else {
                    &c["server"]
                };
                ours.push((
                    a["frame"].as_u64().unwrap(),
                    src.as_str().unwrap().to_string(),
                    a["encrypted"].as_bool().unwrap(),
                    a["level"]
                        .as_u64()
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    a["description"]
                        .as_u64()
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                ));
            }
        }
        for f in rows {
            let frame: u64 = f[0].parse().unwrap();
            let src = format!("{}:{}", f[2], f[3]);
            let encrypted = f[9].is_empty() && f[10].is_empty();
            let want = (frame, src, encrypted, f[9].clone(), f[10].clone());
            assert!(
                ours.contains(&want),
                "{name}: tshark alert {want:?} not in {ours:?}"
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 12,
        "expected the TLS alert rows of the Zeek captures, compared {compared}"
    );
}

/// `check` over the public captures: the oversized Close frame and the wrong
/// Sec-WebSocket-Accept break the default policy; the TLS failures are warnings.
#[test]
fn check_over_the_zeek_captures() {
    let Some(dir) = zeek_dir() else { return };
    let out = crate::wsclose(&["check", "--format", "json", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["totals"]["files"], 22);
    assert_eq!(doc["totals"]["unreadable"], 0);
    let violations: Vec<(String, String, String)> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["violations"].as_array().unwrap().iter())
        .map(|v| {
            let file = v["file"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            (
                file,
                v["rule"].as_str().unwrap().to_string(),
                v["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |f: &str, r: &str, s: &str| {
        violations.contains(&(f.to_string(), r.to_string(), s.to_string()))
    };
    assert!(
        has(
            "oversized-close-frame.pcapng",
            "ControlFrameTooLong",
            "error"
        ),
        "{violations:?}"
    );
    assert!(
        has("wrong-accept-header.pcap", "AcceptMismatch", "error"),
        "{violations:?}"
    );
    assert!(
        has(
            "tls-1.2-handshake-failure.pcap",
            "TlsHandshakeFailed",
            "warning"
        ),
        "{violations:?}"
    );
    assert!(
        has(
            "tls13draft16-ff52.a01-aborted.pcap",
            "TlsHandshakeFailed",
            "warning"
        ),
        "{violations:?}"
    );
    assert!(
        !violations
            .iter()
            .any(|(f, _, s)| f == "message-too-big-status.pcap" && s == "error"),
        "1009 is legal: {violations:?}"
    );
}
