//! Byte-for-byte output of every sample, decrypted with the key log beside it when there is
//! one: text, JSON and JSONL. `WSCLOSE_BLESS=1 cargo test` rewrites the expected files;
//! review that diff.

use std::fs;

use crate::{root, wsclose};

/// Samples too large for byte-for-byte goldens of every connection: their summary has one
/// (`summary_goldens_match`).
const SUMMARY_ONLY: &[&str] = &["incident.pcap"];

fn samples() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("samples"))
        .expect("samples/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".gz"))
        .collect();
    names.sort();
    names
}

/// `--keylog samples/NAME.keys` when the sample's key log holds secrets (a handshake that
/// failed before any secret existed leaves only a comment line, which is no key log).
fn keylog(name: &str) -> Option<[String; 2]> {
    let stem = name.strip_suffix(".pcap")?;
    let path = format!("samples/{stem}.keys");
    let text = fs::read_to_string(root().join(&path)).ok()?;
    let has_secret = text
        .lines()
        .any(|l| l.starts_with("CLIENT_RANDOM ") || l.contains("_SECRET "));
    has_secret.then(|| ["--keylog".to_string(), path])
}

fn check(name: &str, ext: &str, args: &[&str]) -> Option<String> {
    let out = wsclose(args);
    let actual = String::from_utf8_lossy(&out.stdout).into_owned();
    compare(&format!("{name}.{ext}"), &actual)
}

/// `actual` against the golden file `file` (rewritten when blessing).
fn compare(file: &str, actual: &str) -> Option<String> {
    let path = root().join("tests/golden").join(file);
    if std::env::var_os("WSCLOSE_BLESS").is_some() {
        fs::write(&path, actual).expect("bless");
        return None;
    }
    let expected = fs::read_to_string(&path).unwrap_or_default();
    (expected != actual).then(|| {
        format!(
            "{} differs\n--- expected\n{expected}\n--- actual\n{actual}\n",
            path.display()
        )
    })
}

#[test]
fn golden_outputs_match() {
    let names = samples();
    assert!(
        names.len() >= 20,
        "samples/ should hold the recorded captures, found {}",
        names.len()
    );
    let mut failures = Vec::new();
    for name in names.iter().filter(|n| !SUMMARY_ONLY.contains(&n.as_str())) {
        let file = format!("samples/{name}");
        let mut args = vec!["analyze".to_string(), file];
        args.extend(keylog(name).into_iter().flatten());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let with = |extra: &[&'static str]| [&args[..], extra].concat();
        failures.extend(check(name, "txt", &with(&["--color", "never"])));
        failures.extend(check(name, "json", &with(&["--format", "json"])));
        failures.extend(check(name, "jsonl", &with(&["--format", "jsonl"])));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn help_matches_golden() {
    let failures: Vec<String> = check("help", "txt", &["analyze", "--help"])
        .into_iter()
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The incident sample's summary: the text report up to its first connection, and the JSON
/// `incident` object.
#[test]
fn summary_goldens_match() {
    let mut failures = Vec::new();
    for name in SUMMARY_ONLY {
        let file = format!("samples/{name}");
        let out = wsclose(&["analyze", &file, "--color", "never"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let head: String = text
            .lines()
            .take_while(|l| !l.starts_with("Connection #"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(head.contains("Summary "), "{name}: no summary in\n{text}");
        failures.extend(compare(&format!("{name}.summary.txt"), &head));
        let out = wsclose(&["analyze", &file, "--format", "json"]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let incident = serde_json::to_string_pretty(&doc["files"][0]["incident"]).expect("JSON");
        failures.extend(compare(
            &format!("{name}.incident.json"),
            &format!("{incident}\n"),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
