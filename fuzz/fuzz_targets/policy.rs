#![no_main]
//! `check` policies: arbitrary text parsed as a policy file (what `load_policy` does with
//! the file's contents, without the file), and every policy that parses applied to the
//! connections of a few sample captures (analysed once) and rendered in each format.
//!
//! Checked beyond not panicking: an error names a line of the text and says something on
//! one line; a policy that parses renders in every format, JSON included.
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use wsclose::check::render::{render, Format};
use wsclose::check::{apply, CheckRun, FailOn, FileResult, Policy, Totals};
use wsclose::report::ConnReport;

/// Captures with closes of many kinds: legal and illegal codes, no close, a proxy, TLS.
const SAMPLES: [&str; 9] = [
    "normal.pcap",
    "wire-1015.pcap",
    "drop-rst.pcap",
    "policy.pcap",
    "going-away.pcap",
    "bad-utf8-reason.pcap",
    "oversized-close.pcap",
    "unmasked-client.pcap",
    "wss-untrusted-ca.pcap",
];

fn connections() -> &'static [(String, Vec<ConnReport>)] {
    static CONNS: OnceLock<Vec<(String, Vec<ConnReport>)>> = OnceLock::new();
    CONNS.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/");
        let opts = wsclose::Options {
            pipelined: false,
            ..Default::default()
        };
        SAMPLES
            .iter()
            .map(|name| {
                let path = format!("{dir}{name}");
                let mut conns = Vec::new();
                let (_, err) = wsclose::analyze_file(&path, &opts, &mut |c| conns.push(c.clone()));
                assert!(err.is_none(), "{path}: {err:?}");
                (name.to_string(), conns)
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let policy = match Policy::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            let lines = text.lines().count().max(1);
            assert!(
                (1..=lines + 1).contains(&e.line),
                "error at line {} of a {lines}-line text: {}",
                e.line,
                e.message
            );
            assert!(!e.message.is_empty(), "an empty error message");
            assert!(
                !e.message.contains('\n'),
                "a multi-line error: {:?}",
                e.message
            );
            return;
        }
    };
    let files: Vec<FileResult> = connections()
        .iter()
        .map(|(name, conns)| {
            let mut result = FileResult::new(name);
            for c in conns {
                apply::check_connection(&policy, c, &mut result);
            }
            apply::check_file(&policy, &mut result);
            result
        })
        .collect();
    let run = CheckRun {
        totals: Totals::of(&files),
        files,
    };
    for fail_on in [FailOn::Error, FailOn::Warning] {
        let _ = run.verdict(fail_on);
    }
    for format in [Format::Human, Format::Json, Format::Junit, Format::Github] {
        render(format, &run, &policy, FailOn::Error).expect("a check renders");
    }
});
