//! A careless operator's inputs, and a hostile capture's text, on the command line: directory
//! trees with symbolic-link loops end at once, a policy path that is not a small regular
//! file fails at once, `check` takes `analyze`'s resource options, long arguments are not
//! echoed whole, and nothing from a capture or a file name reaches the terminal raw.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::pcapgen::{close_body, frame, Conv, RESPONSE, START_US};
use crate::pcapgen::{ACK, SYN};

/// Runs the binary with `args` (which may be any bytes), and fails the test if it has not
/// ended within `limit` (killing it). Its output is read as it comes, so that a full pipe
/// cannot stop it.
fn run_within(args: &[&OsStr], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wsclose"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wsclose");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let shown: Vec<String> = args
                .iter()
                .map(|a| a.to_string_lossy().chars().take(80).collect())
                .collect();
            panic!("wsclose {shown:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
    }
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// A fresh empty directory under the target directory.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(crate::root().join("samples").join(name)).expect("sample")
}

/// `n` nested directories `d/d/...` under `root`, each beside `links` links to it, and a
/// copy of samples/normal.pcap at the bottom.
fn ladder(root: &Path, n: usize, links: usize) -> PathBuf {
    let mut dir = root.to_path_buf();
    for _ in 0..n {
        std::fs::create_dir(dir.join("d")).expect("mkdir");
        for l in 0..links {
            symlink("d", dir.join(format!("l{l}"))).expect("symlink");
        }
        dir = dir.join("d");
    }
    let capture = dir.join("x.pcap");
    std::fs::write(&capture, sample("normal.pcap")).expect("write");
    capture
}

#[test]
fn symlink_loops_in_a_directory_end_at_once() {
    // Two links per level, 30 levels: 3^30 paths to one capture. Before, `check` never
    // ended (and `analyze` neither).
    let dir = fresh_dir("inputs-ladder");
    ladder(&dir, 30, 2);
    // A link to an ancestor, a link to a sibling and a dangling link beside it.
    symlink("..", dir.join("d/up")).expect("symlink");
    std::fs::create_dir(dir.join("side")).expect("mkdir");
    symlink("../d", dir.join("side/to-d")).expect("symlink");
    let d = dir.to_str().expect("utf-8");
    let out = run_within(&[os("check"), os(d)], Duration::from_secs(20));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("wsclose check: 1 file(s)"), "{stdout}");

    let out = run_within(
        &[os("analyze"), os("--format"), os("jsonl"), os(d)],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(0));
    let files = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(r#""type":"file""#))
        .count();
    assert_eq!(files, 1);

    std::fs::write(dir.join("side/dangling-target"), b"").expect("write");
    symlink("nowhere.pcap", dir.join("side/gone.pcap")).expect("symlink");
    let out = run_within(&[os("check"), os(d)], Duration::from_secs(20));
    // The dangling link is checked, and reported unreadable.
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("wsclose check: 2 file(s)"), "{stdout}");
    assert!(stdout.contains("gone.pcap"), "{stdout}");
}

#[test]
fn policy_must_be_a_small_regular_file() {
    let dir = fresh_dir("inputs-policy");
    let fifo = dir.join("fifo.toml");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let big = dir.join("big.toml");
    std::fs::write(&big, vec![b'\n'; (1 << 20) + 1]).expect("write");
    let cases = [
        ("/dev/zero", "is a device, not a policy file"),
        (
            fifo.to_str().expect("utf-8"),
            "is a FIFO (named pipe), not a policy file",
        ),
        (
            dir.to_str().expect("utf-8"),
            "is a directory, not a policy file",
        ),
        (
            big.to_str().expect("utf-8"),
            "is 1048577 bytes; a policy file is at most 1 MiB",
        ),
    ];
    for (path, what) in cases {
        let out = run_within(
            &[
                os("check"),
                os("--policy"),
                os(path),
                os("samples/normal.pcap"),
            ],
            Duration::from_secs(10),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{path}: {err}");
        assert!(out.stdout.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("wsclose: {path}: {what}")),
            "{err}"
        );
    }
}

#[test]
fn long_arguments_are_not_echoed_whole() {
    // One argument may hold at most 128 KiB on Linux.
    let long = "x".repeat(100_000);
    let policy = format!("/nonexistent/{long}.toml");
    let server = format!("[{long}");
    let runs: [&[&str]; 6] = [
        &["check", "--policy", &policy, "samples/normal.pcap"],
        &["analyze", "--server", &server, "samples/normal.pcap"],
        &["analyze", "--max-flows", &long, "samples/normal.pcap"],
        &["analyze", "--color", "never", &policy],
        &["check", &policy],
        &["check", "--format", "github", &policy],
    ];
    for args in runs {
        let out = run_within(
            &args.iter().map(|a| os(a)).collect::<Vec<_>>(),
            Duration::from_secs(10),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        let head: String = err.chars().take(300).collect();
        assert!(err.len() < 2000, "{} bytes: {head}", err.len());
        assert!(err.contains("characters"), "{err}");
        let text = String::from_utf8_lossy(&out.stdout);
        let head: String = text.chars().take(300).collect();
        assert!(text.len() < 3000, "{} bytes: {head}", text.len());
    }
}

#[test]
fn check_takes_the_resource_options_of_analyze() {
    let files = [
        "samples/normal.pcap",
        "samples/wire-1015.pcap",
        "samples/drop-rst.pcap",
    ];
    let base = crate::run(&[&["check", "--format", "json"][..], &files[..]].concat());
    let tuned = crate::run(
        &[
            &[
                "check",
                "--format",
                "json",
                "--jobs",
                "2",
                "--threads",
                "1",
                "--max-flows",
                "50",
                "--max-buffer",
                "100000",
                "--max-buffer-total",
                "1000000",
            ][..],
            &files[..],
        ]
        .concat(),
    );
    assert_eq!(base.0, 1);
    assert_eq!(tuned, base);
    // The flow limit reaches the analysis: with one flow, a capture whose connections
    // overlap has one evicted, which a policy can fail on.
    let dir = fresh_dir("inputs-resources");
    let policy = dir.join("evicted.toml");
    std::fs::write(&policy, "[rules]\nFlowEvicted = \"error\"\n").expect("write");
    let p = policy.to_str().expect("utf-8");
    let overlapping = "samples/proxy-nginx-idle.pcap";
    let (code, out, _) = crate::run(&["check", "--policy", p, overlapping]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = crate::run(&["check", "--policy", p, "--max-flows", "1", overlapping]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FlowEvicted"), "{out}");
}

/// The controls a hostile header carries: a C1 control (U+009B is CSI on many terminals,
/// and HTTP parsers take it as obs-text where they refuse ESC), NEL, a bidi override.
const HEADER_EVIL: &str = "\u{9b}31m\u{85}\u{202e}";
/// What a Close reason (any UTF-8) carries too: ESC, DEL, a bidi isolate.
const REASON_EVIL: &str = "\x1b[2J\u{9b}31m\x7f\u{202e}\u{2066}";

/// A capture whose request and response carry terminal controls in every field the report
/// prints, and an illegal Close (1004) with such a reason, for `check` to report it.
fn hostile_capture() -> Vec<u8> {
    let evil = HEADER_EVIL;
    let request = format!(
        "GET /chat{evil} HTTP/1.1\r\nHost: example.test{evil}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat{evil}\r\n\
         User-Agent: agent{evil}\r\nOrigin: http://o{evil}\r\n\r\n"
    );
    let response = String::from_utf8(RESPONSE.to_vec())
        .expect("utf-8")
        .replace(
            "\r\n\r\n",
            &format!("\r\nServer: srv{evil}\r\nSec-WebSocket-Protocol: chat{evil}\r\n\r\n"),
        );
    let mut c = Conv {
        pkts: Vec::new(),
        cseq: 1000,
        sseq: 5000,
        ts_us: START_US,
    };
    c.raw(true, SYN, &[]);
    c.cseq += 1;
    c.raw(false, SYN | ACK, &[]);
    c.sseq += 1;
    c.raw(true, ACK, &[]);
    c.send(true, request.as_bytes());
    c.send(false, response.as_bytes());
    let reason = format!("bye{REASON_EVIL}");
    c.send(
        false,
        &frame(true, 8, false, &close_body(1004, reason.as_bytes())),
    );
    c.send(
        true,
        &frame(true, 8, true, &close_body(1004, reason.as_bytes())),
    );
    c.fin(false);
    c.fin(true);
    c.pcap()
}

/// Where `bytes` holds a byte or character a terminal would act on: C0 controls other than
/// newline, DEL, C1 controls, bidirectional overrides and isolates.
fn raw_control(bytes: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(bytes);
    text.char_indices()
        .find(|&(_, c)| {
            (c < ' ' && c != '\n')
                || ('\u{7f}'..='\u{9f}').contains(&c)
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .map(|(i, _)| i)
}

fn assert_clean(what: &str, bytes: &[u8]) {
    if let Some(i) = raw_control(bytes) {
        let text = String::from_utf8_lossy(bytes);
        let before: String = text.get(..i).unwrap_or("").chars().rev().take(80).collect();
        let before: String = before.chars().rev().collect();
        panic!("{what}: a raw control at byte {i}, after {before:?}");
    }
}

#[test]
fn nothing_from_a_capture_or_a_file_name_reaches_the_terminal_raw() {
    let dir = fresh_dir("inputs-terminal");
    // A file name with ESC, a C1 control (as UTF-8) and a newline.
    let mut name = b"evil-\x1b[2J-".to_vec();
    name.extend_from_slice("\u{9b}31m-\u{202e}-\n.pcap".as_bytes());
    let evil = dir.join(OsStr::from_bytes(&name));
    std::fs::write(&evil, hostile_capture()).expect("write");
    let plain = dir.join("plain.pcap");
    std::fs::write(&plain, hostile_capture()).expect("write");
    let e = evil.as_os_str();
    let p = plain.as_os_str();
    let missing = dir.join(OsStr::from_bytes(b"missing-\x1b[2J\xc2\x9b.pcap"));
    let m = missing.as_os_str();
    let limit = Duration::from_secs(20);

    let runs: Vec<(&str, Vec<&OsStr>)> = vec![
        (
            "analyze",
            vec![os("analyze"), os("--color"), os("never"), os("-v"), e],
        ),
        (
            "analyze all",
            vec![os("analyze"), os("--color"), os("never"), os("--all"), e, p],
        ),
        (
            "analyze by server",
            vec![
                os("analyze"),
                os("--color"),
                os("never"),
                os("--group-by"),
                os("server"),
                e,
                p,
            ],
        ),
        (
            "analyze by client",
            vec![
                os("analyze"),
                os("--color"),
                os("never"),
                os("--group-by"),
                os("client"),
                e,
            ],
        ),
        (
            "analyze missing",
            vec![os("analyze"), os("--color"), os("never"), m],
        ),
        ("check", vec![os("check"), e, p, m]),
        (
            "check github",
            vec![os("check"), os("--format"), os("github"), e],
        ),
        (
            "analyze dir",
            vec![os("analyze"), os("--color"), os("never"), dir.as_os_str()],
        ),
    ];
    for (what, args) in runs {
        let out = run_within(&args, limit);
        assert_clean(&format!("{what}: stdout"), &out.stdout);
        assert_clean(&format!("{what}: stderr"), &out.stderr);
        assert!(!out.stdout.is_empty() || !out.stderr.is_empty(), "{what}");
    }

    // What is escaped is still shown, readably.
    let out = run_within(&[os("analyze"), os("--color"), os("never"), p], limit);
    let text = String::from_utf8_lossy(&out.stdout);
    let esc = r"\u{9b}31m\u{85}\u{202e}";
    let reason = r"\u{1b}[2J\u{9b}31m\u{7f}\u{202e}\u{2066}";
    for shown in [
        format!("GET example.test{esc}/chat{esc}"),
        format!("subprotocol chat{esc}"),
        format!("server \"srv{esc}\""),
        format!("user agent \"agent{esc}\""),
        format!("\"bye{reason}\""),
    ] {
        assert!(text.contains(&shown), "{shown} in\n{text}");
    }
    let out = run_within(&[os("check"), e], limit);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(r"evil-\u{1b}[2J-\u{9b}31m-\u{202e}-\n.pcap"),
        "{text}"
    );
}
