//! Command line behaviour: exit codes, error lines, formats, standard input.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::{temp_capture, wsclose};

#[test]
fn missing_file_is_exit_2_with_one_line() {
    let out = wsclose(&["analyze", "no/such/file.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("wsclose: no/such/file.pcap: "), "{err}");
}

#[test]
fn not_a_capture_names_the_file_and_the_problem() {
    let out = wsclose(&["analyze", "Cargo.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Cargo.toml: not a pcap or pcapng capture"),
        "{err}"
    );
    let empty = temp_capture("empty.pcap", b"");
    let out = wsclose(&["analyze", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty file"));
}

#[test]
fn truncated_capture_reports_what_it_holds_and_exits_2() {
    let out = wsclose(&["analyze", "--format", "jsonl", "samples/truncated.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("samples/truncated.pcap") && err.contains("byte offset"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().count(),
        3,
        "both Close frames before the cut are reported, then the file's record: {stdout}"
    );
}

#[test]
fn several_files_are_each_reported_and_a_bad_one_does_not_stop_the_rest() {
    let out = wsclose(&[
        "analyze",
        "--format",
        "json",
        "samples/policy.pcap",
        "nope.pcap",
        "samples/normal.pcap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON even with a failed file");
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert!(files[1]["error"].as_str().unwrap().contains("nope.pcap"));
    assert_eq!(files[2]["summary"]["close_frames"], 2);
    assert_eq!(doc["schema"], 2);
}

#[test]
fn reads_standard_input() {
    let bytes = std::fs::read(crate::root().join("samples/going-away.pcap")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsclose"))
        .args(["analyze", "--format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Small writes, as a pipe from tcpdump would deliver them.
    for chunk in bytes.chunks(7) {
        stdin.write_all(chunk).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().count(),
        3,
        "two Close frames and the file: {text}"
    );
    assert!(text.contains("\"code\":1001") && text.contains("\"file\":\"-\""));
    assert!(text
        .lines()
        .last()
        .unwrap()
        .starts_with("{\"type\":\"file\""));
}

/// `wsclose analyze --color COLOR samples/wire-1015.pcap`, with `env` set and the colour
/// variables of the test's own environment removed.
fn analyze_colour(color: &str, env: &[(&str, &str)]) -> Vec<u8> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wsclose"));
    cmd.args(["analyze", "--color", color, "samples/wire-1015.pcap"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for var in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run wsclose");
    assert!(out.status.success());
    out.stdout
}

#[test]
fn colour_only_when_asked() {
    let plain = analyze_colour("never", &[]);
    assert!(!plain.contains(&0x1b));
    let coloured = analyze_colour("always", &[]);
    // ILLEGAL in bold red, then reset.
    assert!(String::from_utf8_lossy(&coloured).contains("\x1b[1m\x1b[31mILLEGAL\x1b[0m"));
    // Not a terminal: auto means no colour.
    let auto = analyze_colour("auto", &[]);
    assert!(!auto.contains(&0x1b));
    // `auto` follows the usual variables: CLICOLOR_FORCE asks for colour, NO_COLOR wins.
    assert_eq!(analyze_colour("auto", &[("CLICOLOR_FORCE", "1")]), coloured);
    let no = analyze_colour("auto", &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert_eq!(no, plain);
    // `always` and `never` are not overridden.
    assert_eq!(analyze_colour("always", &[("NO_COLOR", "1")]), coloured);
    assert_eq!(analyze_colour("never", &[("CLICOLOR_FORCE", "1")]), plain);
}

#[test]
fn jsonl_has_one_record_per_close_event() {
    let recs = crate::jsonl(&crate::root().join("samples/drop-rst.pcap"));
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["type"], "no_close_frame");
    assert_eq!(recs[0]["client_observed"]["code"], 1006);
    let recs = crate::jsonl(&crate::root().join("samples/policy.pcap"));
    assert_eq!(recs.len(), 2);
    assert!(recs
        .iter()
        .all(|r| r["type"] == "close_frame" && r["code"] == 1008 && r["outcome"] == "clean"));
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = wsclose(&["analyze"]);
    assert_eq!(out.status.code(), Some(2));
    let out = wsclose(&["analyze", "--format", "xml", "samples/normal.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let out = wsclose(&["analyze", "--max-flows", "0", "samples/normal.pcap"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn only_problems_filters_connections_not_the_summary() {
    let out = wsclose(&[
        "analyze",
        "--format",
        "json",
        "--only-problems",
        "samples/multi-interface.pcapng",
        "samples/drop-rst.pcap",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["files"][0]["connections"].as_array().unwrap().len(),
        0,
        "both closes there are clean"
    );
    assert_eq!(doc["files"][0]["summary"]["websocket_connections"], 2);
    assert_eq!(doc["files"][1]["connections"].as_array().unwrap().len(), 1);
    let all = wsclose(&[
        "analyze",
        "--format",
        "json",
        "samples/multi-interface.pcapng",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(doc["files"][0]["connections"].as_array().unwrap().len(), 2);
}

#[test]
fn one_thread_and_two_give_the_same_report() {
    let mut files: Vec<String> = std::fs::read_dir(crate::root().join("samples"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| format!("samples/{}", e.file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".gz"))
        .collect();
    files.sort();
    let mut args = vec!["analyze", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let two = wsclose(&args);
    args.insert(1, "--threads=1");
    let one = wsclose(&args);
    assert_eq!(one.status.code(), two.status.code());
    assert!(!two.stdout.is_empty());
    assert!(
        one.stdout == two.stdout,
        "reports differ between --threads 1 and 2"
    );
}

#[test]
fn key_logs_that_cannot_be_used_are_exit_2_naming_the_file() {
    let sample = "samples/wss-tls12-gcm.pcap";
    let out = wsclose(&["analyze", "--keylog", "no/such.keys", sample]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("wsclose: no/such.keys: "), "{err}");
    // A file with no key log line at all (here a capture) is no key log.
    let out = wsclose(&["analyze", "--keylog", "Cargo.toml", sample]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("wsclose: Cargo.toml: "), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn malformed_key_log_lines_are_one_warning_and_the_rest_is_used() {
    let good = std::fs::read_to_string(crate::root().join("samples/wss-tls12-gcm.keys")).unwrap();
    let text = format!("CLIENT_RANDOM zz 11\nnot a key log line\n{good}");
    let keys = crate::temp_capture("malformed.keys", text.as_bytes());
    let out = wsclose(&[
        "analyze",
        "--format",
        "jsonl",
        "--keylog",
        keys.to_str().unwrap(),
        "samples/wss-tls12-gcm.pcap",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("2 malformed line(s) skipped"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"code\":1000"), "{stdout}");
}
