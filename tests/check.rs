//! `wsclose check`: policy, exit codes and output formats.

use std::path::PathBuf;
use std::process::Command;

use quick_xml::events::Event;

use crate::{root, run};

fn policy(name: &str, text: &str) -> PathBuf {
    crate::temp_capture(name, text.as_bytes())
}

#[test]
fn exit_codes_with_the_default_policy() {
    assert_eq!(
        run(&["check", "samples/normal.pcap", "samples/policy.pcap"]).0,
        0
    );
    let (code, out, _) = run(&["check", "samples/wire-1015.pcap"]);
    assert_eq!(code, 1);
    assert!(out.contains("error   IllegalCloseCode  packet 9"), "{out}");
    assert!(out.contains("fix: Look at the TLS handshake"), "{out}");
    // Abnormal drops and TLS failures are warnings: they do not fail the build by default.
    assert_eq!(
        run(&[
            "check",
            "samples/drop-rst.pcap",
            "samples/wss-expired-tls12.pcap"
        ])
        .0,
        0
    );
    assert_eq!(
        run(&["check", "--fail-on", "warning", "samples/drop-rst.pcap"]).0,
        1
    );
    // Unreadable input wins.
    let (code, _, err) = run(&["check", "samples/wire-1015.pcap", "samples/truncated.pcap"]);
    assert_eq!(code, 2);
    assert!(err.contains("samples/truncated.pcap"), "{err}");
}

#[test]
fn decrypted_sessions_are_checked_like_plain_ones() {
    // Encrypted, the illegal 1015 inside TLS cannot be seen; with the key log it fails
    // the gate exactly as the same close over ws:// does.
    let sample = "samples/wss-wire-1015.pcap";
    assert_eq!(run(&["check", sample]).0, 0);
    let (code, out, _) = run(&["check", "--keylog", "samples/wss-wire-1015.keys", sample]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("IllegalCloseCode"), "{out}");
    assert_eq!(run(&["check", "samples/wire-1015.pcap"]).0, 1);
}

#[test]
fn directories_and_globs() {
    let (code, out, _) = run(&["check", "--format", "json", "samples"]);
    assert_eq!(code, 2, "samples/ holds the truncated capture");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(doc["totals"]["files"].as_u64().unwrap() >= 40);
    let (code, out, _) = run(&["check", "--format", "json", "samples/wss-*.pcap"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let wss = std::fs::read_dir(crate::root().join("samples"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("wss-") && n.ends_with(".pcap")
        })
        .count();
    assert!(wss >= 20, "{wss}");
    assert_eq!(doc["totals"]["files"], wss);
    assert_eq!(doc["passed"], true);
    let (code, _, err) = run(&["check", "samples/nothing-*.pcap"]);
    assert_eq!(code, 2);
    assert!(err.contains("no file matches"), "{err}");
}

#[test]
fn policy_denies_and_allows_codes() {
    let p = policy("deny.toml", "[codes]\ndeny = [1008, \"4500-4599\"]\n");
    let (code, out, _) = run(&[
        "check",
        "--policy",
        p.to_str().unwrap(),
        "samples/policy.pcap",
        "samples/normal.pcap",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        out.matches("DeniedCode").count(),
        2,
        "both Close frames carry 1008: {out}"
    );
    let p = policy(
        "allow.toml",
        "[codes]\nallow = [\"1000-1003\", \"4000-4099\"]\n",
    );
    let (code, out, _) = run(&[
        "check",
        "--policy",
        p.to_str().unwrap(),
        "samples/policy.pcap",
        "samples/ipv6.pcap",
        "samples/normal.pcap",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("CodeNotAllowed") && out.contains("1008"),
        "{out}"
    );
    assert!(
        !out.contains("closed with 4001"),
        "4001 is in 4000-4099: {out}"
    );
    assert!(!out.contains("closed with 1000"), "{out}");
}

#[test]
fn severities_limits_and_scopes() {
    let p = policy(
        "sev.toml",
        "[rules]\nNoCloseHandshake = \"error\"\nIllegalCloseCode = \"off\"\n",
    );
    let ps = p.to_str().unwrap();
    assert_eq!(
        run(&["check", "--policy", ps, "samples/drop-rst.pcap"]).0,
        1
    );
    assert_eq!(
        run(&["check", "--policy", ps, "samples/wire-1015.pcap"]).0,
        0
    );
    let p = policy("share.toml", "[limits]\nmax_abnormal_share = 0.0\n");
    let (code, out, _) = run(&[
        "check",
        "--policy",
        p.to_str().unwrap(),
        "samples/drop-rst.pcap",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("AbnormalShare") && out.contains("1 of 1 WebSocket connections"),
        "{out}"
    );
    // A scope on the server's address and port applies; one on another port does not.
    let doc = crate::analyze_json("samples/drop-rst.pcap");
    let server: std::net::SocketAddr = doc["files"][0]["connections"][0]["server"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (ip, port) = (server.ip(), server.port());
    let scoped = format!("[[scope]]\nhosts = [\"{ip}\"]\nports = [{port}]\nrules = {{ NoCloseHandshake = \"error\" }}\n");
    let p = policy("scope.toml", &scoped);
    assert_eq!(
        run(&[
            "check",
            "--policy",
            p.to_str().unwrap(),
            "samples/drop-rst.pcap"
        ])
        .0,
        1
    );
    let other = format!(
        "[[scope]]\nports = [{}]\nrules = {{ NoCloseHandshake = \"error\" }}\n",
        port + 1
    );
    let p = policy("scope-other.toml", &other);
    assert_eq!(
        run(&[
            "check",
            "--policy",
            p.to_str().unwrap(),
            "samples/drop-rst.pcap"
        ])
        .0,
        0
    );
}

#[test]
fn invalid_policy_names_line_and_key() {
    let p = policy(
        "bad.toml",
        "[rules]\nIllegalCloseCode = \"error\"\nNoSuchRule = \"warning\"\n",
    );
    let (code, _, err) = run(&[
        "check",
        "--policy",
        p.to_str().unwrap(),
        "samples/normal.pcap",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.toml:3:") && err.contains("NoSuchRule"),
        "{err}"
    );
    let p = policy("bad2.toml", "[codes]\ndeny = [1008]\nallwo = [1000]\n");
    let (code, _, err) = run(&[
        "check",
        "--policy",
        p.to_str().unwrap(),
        "samples/normal.pcap",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad2.toml:3:") && err.contains("allwo"),
        "{err}"
    );
}

#[test]
fn policy_is_found_in_the_working_directory() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("policy-cwd");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wsclose.toml"), "[codes]\ndeny = [1001]\n").unwrap();
    let sample = root().join("samples/going-away.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_wsclose"))
        .args(["check", sample.to_str().unwrap()])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("DeniedCode"));
}

#[test]
fn json_output_parses_back() {
    let (code, out, _) = run(&[
        "check",
        "--format",
        "json",
        "samples/wire-1015.pcap",
        "samples/drop-rst.pcap",
    ]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["totals"]["errors"], 1);
    assert_eq!(doc["totals"]["warnings"], 1);
    let v = &doc["files"][1]["violations"][0];
    assert_eq!(v["rule"], "IllegalCloseCode");
    assert_eq!(v["frame"], 9);
    assert_eq!(v["severity"], "error");
}

/// JUnit: the shape CI test reporters read (testsuites > testsuite > testcase, with
/// failure and error children), and counts that match the elements.
#[test]
fn junit_has_the_expected_shape() {
    let (code, out, _) = run(&[
        "check",
        "--format",
        "junit",
        "samples/wire-1015.pcap",
        "samples/normal.pcap",
        "samples/truncated.pcap",
    ]);
    assert_eq!(code, 2);
    let mut reader = quick_xml::Reader::from_str(&out);
    let mut stack: Vec<String> = Vec::new();
    let (mut suites, mut cases, mut failures, mut errors) = (0, 0, 0, 0);
    let mut declared_tests = 0;
    loop {
        let (e, empty) = match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
        let parent = stack.last().cloned().unwrap_or_default();
        let attr = |key: &str| {
            e.try_get_attribute(key)
                .unwrap()
                .map(|a| String::from_utf8(a.value.to_vec()).unwrap())
        };
        match name.as_str() {
            "testsuites" => assert!(parent.is_empty()),
            "testsuite" => {
                assert_eq!(parent, "testsuites");
                suites += 1;
                declared_tests += attr("tests").unwrap().parse::<usize>().unwrap();
            }
            "testcase" => {
                assert_eq!(parent, "testsuite");
                assert!(attr("classname").is_some() && attr("name").is_some());
                cases += 1;
            }
            "failure" => {
                assert_eq!(parent, "testcase");
                assert!(attr("message").is_some());
                failures += 1;
            }
            "error" => {
                assert_eq!(parent, "testcase");
                errors += 1;
            }
            "system-out" => assert_eq!(parent, "testcase"),
            other => panic!("unexpected element {other}"),
        }
        if !empty {
            stack.push(name);
        }
    }
    assert!(stack.is_empty());
    assert_eq!(suites, 3);
    assert_eq!(cases, declared_tests);
    assert_eq!(
        failures, 1,
        "one failing rule: IllegalCloseCode in wire-1015"
    );
    assert_eq!(errors, 1, "the truncated file");
}

#[test]
fn github_annotations() {
    let (code, out, _) = run(&[
        "check",
        "--format",
        "github",
        "samples/wire-1015.pcap",
        "samples/drop-rst.pcap",
    ]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.iter().any(|l| l.starts_with(
            "::error file=samples/wire-1015.pcap,title=wsclose IllegalCloseCode::packet 9"
        )),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l
            .starts_with("::warning file=samples/drop-rst.pcap,title=wsclose NoCloseHandshake::")),
        "{out}"
    );
    assert!(lines
        .iter()
        .filter(|l| l.starts_with("::"))
        .all(|l| !l.contains('\n')));
}

#[test]
fn scope_by_tls_server_name() {
    let p = policy(
        "sni.toml",
        "[[scope]]\nhosts = [\"LOCALHOST\"]\nrules = { TlsHandshakeFailed = \"error\" }\n",
    );
    let ps = p.to_str().unwrap();
    let (code, out, _) = run(&["check", "--policy", ps, "samples/wss-expired-tls12.pcap"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error   TlsHandshakeFailed"), "{out}");
    let p = policy(
        "sni-other.toml",
        "[[scope]]\nhosts = [\"api.example.com\"]\nrules = { TlsHandshakeFailed = \"error\" }\n",
    );
    assert_eq!(
        run(&[
            "check",
            "--policy",
            p.to_str().unwrap(),
            "samples/wss-expired-tls12.pcap"
        ])
        .0,
        0
    );
}

/// A directory with symbolic links back to itself: `check DIR` finishes, and lists each
/// capture once (two loops in one tree used to make the search grow without end).
#[cfg(unix)]
#[test]
fn symlink_loops_are_searched_once() {
    use std::os::unix::fs::symlink;
    use std::time::{Duration, Instant};

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("symlink-loop");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::copy(root().join("samples/normal.pcap"), dir.join("normal.pcap")).unwrap();
    std::fs::copy(
        root().join("samples/drop-rst.pcap"),
        dir.join("sub/drop-rst.pcap"),
    )
    .unwrap();
    symlink(&dir, dir.join("sub/again")).unwrap();
    symlink("..", dir.join("sub/up")).unwrap();
    symlink(".", dir.join("here")).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_wsclose"))
        .args(["check", "--format", "json", dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("check DIR did not finish on a directory with symlink loops");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let shown = |p: &str| dir.join(p).to_string_lossy().into_owned();
    assert_eq!(files, [shown("normal.pcap"), shown("sub/drop-rst.pcap")]);
}

#[test]
fn scope_by_ipv6_address() {
    // samples/ipv6.pcap: [::1]:39270 -> [::1]:18718, both sides close with 4001.
    let p = policy(
        "v6.toml",
        "[[scope]]\nhosts = [\"::1\"]\nports = [18718]\ncodes = { deny = [4001] }\n",
    );
    let (code, out, _) = run(&[
        "check",
        "--policy",
        p.to_str().unwrap(),
        "samples/ipv6.pcap",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "DeniedCode  packet 9, [::1]:39270 -> [::1]:18718: the server closed with 4001"
        ),
        "{out}"
    );
    let p = policy(
        "v6-other.toml",
        "[[scope]]\nhosts = [\"::2\"]\ncodes = { deny = [4001] }\n",
    );
    assert_eq!(
        run(&[
            "check",
            "--policy",
            p.to_str().unwrap(),
            "samples/ipv6.pcap"
        ])
        .0,
        0
    );
}

#[test]
fn unreadable_policy_is_one_line_and_exit_2() {
    let (code, out, err) = run(&[
        "check",
        "--policy",
        "no/such/policy.toml",
        "samples/normal.pcap",
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("wsclose: no/such/policy.toml: "), "{err}");
}
