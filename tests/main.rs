//! Integration tests: the library and the `wsclose` binary on the samples, on synthetic
//! captures, and on the public Zeek captures in `../shared/captures/zeek`.

#[path = "support/analysis.rs"]
mod analysis;
#[path = "support/replay.rs"]
mod replay;
// The conversation builder, under the name the tests use for it.
use wsclose_testgen::conv as pcapgen;

mod check;
mod cli;
mod clients;
mod decryption;
mod evidence;
mod expectations;
mod explain;
mod floods;
mod golden;
mod html;
mod incident;
mod inputs;
mod interop;
mod jobs;
mod precision;
mod proxy;
mod regression;
mod tcp_stories;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary with `args` from the package root.
pub fn wsclose(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wsclose"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .output()
        .expect("run wsclose")
}

/// Runs the binary: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = wsclose(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `wsclose analyze --format json FILE` parsed; panics with stderr when it fails to run.
pub fn analyze_json(file: &str) -> serde_json::Value {
    let out = wsclose(&["analyze", "--format", "json", file]);
    let text = String::from_utf8(out.stdout).expect("utf-8 stdout");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: bad JSON ({e}): {text}"))
}

/// Every close-frame record of the JSONL output of `file`.
pub fn jsonl(file: &Path) -> Vec<serde_json::Value> {
    let out = wsclose(&["analyze", "--format", "jsonl", file.to_str().expect("path")]);
    let mut recs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSONL line ({e}): {l}")))
        .collect();
    // Every file's output ends with one record of the file itself; the rest are its close
    // events.
    let last = recs.pop().expect("a file record");
    assert_eq!(last["type"], "file", "the last record: {last}");
    assert_eq!(last["schema"], 2);
    assert!(recs.iter().all(|r| r["type"] != "file" && r["schema"] == 2));
    recs
}

/// Writes `bytes` to a fresh file under the target directory and returns its path.
pub fn temp_capture(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("captures");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write capture");
    path
}
