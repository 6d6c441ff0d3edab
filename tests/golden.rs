//! Byte-for-byte output of every sample, decrypted with the key log beside it when there is
//! one: text, JSON and JSONL. `WSCLOSE_BLESS=1 cargo test` rewrites the expected files;
//! review that diff.

use std::fs;

use crate::{root, wsclose};

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
    let path = root().join("tests/golden").join(format!("{name}.{ext}"));
    if std::env::var_os("WSCLOSE_BLESS").is_some() {
        fs::write(&path, &actual).expect("bless");
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
    for name in &names {
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
