//! `analyze` over several files with `--jobs`: the same bytes whatever the number of
//! workers, in the order given; directories searched recursively, each file once;
//! an unreadable file among good ones; no progress line when standard error is not a
//! terminal.

use crate::{root, run};

/// `analyze ARGS...` with `--jobs N`, `--color never`: (exit code, stdout, stderr).
fn analyze(jobs: u32, args: &[&str]) -> (i32, String, String) {
    let jobs = jobs.to_string();
    let mut all = vec!["analyze", "--color", "never", "--jobs", &jobs];
    all.extend_from_slice(args);
    run(&all)
}

/// The files of the JSONL file records, in order.
fn jsonl_files(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSONL"))
        .filter(|r| r["type"] == "file")
        .map(|r| r["file"].as_str().expect("file").to_string())
        .collect()
}

#[test]
fn jobs_give_the_same_bytes_in_every_format() {
    for format in ["text", "json", "jsonl"] {
        let (code1, one, err1) = analyze(1, &["--format", format, "samples"]);
        let (code3, three, err3) = analyze(3, &["--format", format, "samples"]);
        assert_eq!(code1, code3, "{format}: {err1} / {err3}");
        assert_eq!(err1, err3, "{format}");
        assert!(one.len() > 100_000, "{format}: {} bytes", one.len());
        assert!(one == three, "{format}: --jobs 1 and --jobs 3 differ");
    }
}

#[test]
fn jobs_keep_the_order_given() {
    let names = [
        "samples/policy.pcap",
        "samples/client-chromium-fin.pcap",
        "samples/client-firefox-rst.pcap",
        "samples/bsd-null.pcap",
    ];
    let reversed: Vec<&str> = names.iter().rev().copied().collect();
    let mut args = vec!["--format", "jsonl"];
    args.extend(&reversed);
    let (code, out, err) = analyze(3, &args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(jsonl_files(&out), reversed);
    // Each file's records are what it gives alone, one file after another.
    let alone: String = reversed
        .iter()
        .map(|f| analyze(1, &["--format", "jsonl", f]).1)
        .collect();
    assert_eq!(out, alone);

    // The text report: the summary of them all, then the sections in the order given.
    let mut args = vec!["--format", "text"];
    args.extend(&reversed);
    let (code, text, err) = analyze(3, &args);
    assert_eq!(code, 0, "{err}");
    let at: Vec<usize> = reversed
        .iter()
        .map(|f| {
            text.find(&format!("== {f} ("))
                .unwrap_or_else(|| panic!("{f}: {text}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
}

#[cfg(unix)]
#[test]
fn jobs_walk_directories_once() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("sub/deeper")).expect("mkdir");
    let copy = |from: &str, to: &str| {
        std::fs::copy(root().join("samples").join(from), dir.join(to)).expect("copy");
    };
    copy("policy.pcap", "b.pcap");
    copy("client-chromium-fin.pcap", "sub/a.pcap");
    copy("bsd-null.pcap", "sub/deeper/c.pcapng");
    std::fs::write(dir.join("sub/notes.txt"), "not a capture").expect("write");
    // A loop back to the top, and one to the parent.
    symlink(dir, dir.join("sub/deeper/top")).expect("symlink");
    symlink("..", dir.join("sub/up")).expect("symlink");
    let d = dir.to_str().expect("utf-8 path");
    let (code, out, err) = analyze(2, &["--format", "jsonl", d]);
    assert_eq!(code, 0, "{err}");
    let p = |f: &str| dir.join(f).to_string_lossy().into_owned();
    assert_eq!(
        jsonl_files(&out),
        [p("b.pcap"), p("sub/a.pcap"), p("sub/deeper/c.pcapng")]
    );
    let (_, one, _) = analyze(1, &["--format", "jsonl", d]);
    assert_eq!(out, one);
}

#[test]
fn jobs_report_the_good_files_beside_a_bad_one() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let bad = tmp.path().join("bad.pcap");
    std::fs::write(&bad, b"this is not a capture at all").expect("write");
    let bad = bad.to_str().expect("utf-8 path");
    let missing = tmp.path().join("missing.pcap");
    let missing = missing.to_str().expect("utf-8 path");
    let files = [
        "samples/policy.pcap",
        bad,
        "samples/client-chromium-fin.pcap",
        missing,
        "samples/bsd-null.pcap",
    ];
    for format in ["jsonl", "text", "json"] {
        let mut args = vec!["--format", format];
        args.extend(&files);
        let (code, out, err) = analyze(3, &args);
        assert_eq!(code, 2, "{format}: {err}");
        assert!(
            err.contains("bad.pcap") && err.contains("missing.pcap"),
            "{err}"
        );
        let (code1, one, err1) = analyze(1, &args);
        assert_eq!((code1, &one, &err1), (2, &out, &err), "{format}");
        if format == "jsonl" {
            assert_eq!(jsonl_files(&out), files);
        }
    }
}

#[test]
fn jobs_quiet_and_no_progress_without_a_terminal() {
    // Standard error is a pipe here: no progress line, with or without --quiet.
    let file = "samples/incident.pcap";
    for quiet in [&["--quiet"][..], &["-q"], &[]] {
        let mut args = quiet.to_vec();
        args.extend(["--format", "jsonl", file, "samples/policy.pcap"]);
        let (code, out, err) = analyze(2, &args);
        assert_eq!(code, 0, "{err}");
        assert!(!out.is_empty());
        assert_eq!(err, "", "{quiet:?}");
    }
}
