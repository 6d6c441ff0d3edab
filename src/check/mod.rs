//! `wsclose check`: runs the analysis over captures and applies a policy, for CI.
//!
//! The policy (a TOML file) sets the severity of each rule (`error`, `warning`, `off`),
//! denies or allows close codes and ranges, limits the share of abnormal closes, and can
//! override any of that for connections to given hosts or ports. Without a file the default
//! policy applies: protocol violations are errors, abnormal drops and TLS failures are
//! warnings, capture anomalies are off.
//!
//! By job: `policy` reads the file into a typed `Policy` (`load_policy`), `rule` names the
//! rules it can set, `scope` says which of its scopes apply to a connection, `inputs` finds
//! the captures (`collect_inputs`), `apply` turns connections and files into violations,
//! and `render` writes the result as human text, JSON, JUnit XML or GitHub annotations.
//! `run` is the loop over the captures; `CheckRun::verdict` decides pass or fail.

pub mod apply;
pub mod codes;
pub mod inputs;
pub mod policy;
pub mod render;
pub mod rule;
pub mod scope;

pub use apply::{Endpoints, FileResult, Totals, Violation};
pub use codes::{CodeRange, Codes};
pub use inputs::{collect_inputs, expand_inputs, InputError};
pub use policy::{load_policy, LoadError, Policy, PolicyError};
pub use rule::{CheckRule, PolicyRule};
pub use scope::{HostPattern, Scope};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;

use crate::analyze::{analyze_file, Options};

/// Which violations fail the check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailOn {
    /// Violations at level error only.
    #[default]
    Error,
    /// Warnings too.
    Warning,
}

/// The outcome of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The policy holds in every capture.
    Passed,
    /// A violation fails the check.
    Failed,
    /// A capture could not be read (fully or at all); this wins over the others.
    InputError,
}

/// What `check` found: each capture's result, in the order checked, and the totals.
#[derive(Clone, Debug, Default)]
pub struct CheckRun {
    /// One result per capture, in the order given to `run`.
    pub files: Vec<FileResult>,
    /// Counts over `files`.
    pub totals: Totals,
}

impl CheckRun {
    /// Passed, failed (errors; with `FailOn::Warning`, warnings too), or an input error.
    pub fn verdict(&self, fail_on: FailOn) -> Verdict {
        let t = &self.totals;
        if t.unreadable > 0 {
            Verdict::InputError
        } else if t.errors > 0 || (fail_on == FailOn::Warning && t.warnings > 0) {
            Verdict::Failed
        } else {
            Verdict::Passed
        }
    }
}

/// Analyzes each of `files` (as `collect_inputs` yields them) with `options` and applies
/// `policy` to it.
pub fn run(files: &[String], policy: &Policy, options: &Options) -> CheckRun {
    run_with(files, policy, options, |_| {})
}

/// As `run`, handing each file's result to `done` as soon as it is checked (to report an
/// unreadable file while the others are still being checked).
pub fn run_with(
    files: &[String],
    policy: &Policy,
    options: &Options,
    done: impl FnMut(&FileResult),
) -> CheckRun {
    run_jobs(files, policy, options, 1, done)
}

/// As `run_with`, checking `jobs` files at once on as many threads (as `analyze --jobs`
/// does). `done` hears of each file in the order given, as soon as it and the files
/// before it are checked, and the run is the same whatever `jobs`.
pub fn run_jobs(
    files: &[String],
    policy: &Policy,
    options: &Options,
    jobs: usize,
    mut done: impl FnMut(&FileResult),
) -> CheckRun {
    let jobs = jobs.clamp(1, files.len().max(1));
    let mut results = Vec::with_capacity(files.len());
    if jobs == 1 {
        for path in files {
            let result = check_one(path, policy, options);
            done(&result);
            results.push(result);
        }
    } else {
        // The workers fill the cores: a second thread per file as well would only add
        // the cost of handing packets over (as in `jobs::analyze_files`).
        let mut opts = options.clone();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if jobs * 2 > cores {
            opts.pipelined = false;
        }
        let next = AtomicUsize::new(0);
        let (tx, rx) = mpsc::channel::<(usize, FileResult)>();
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                let (tx, next, opts) = (tx.clone(), &next, &opts);
                scope.spawn(move || loop {
                    let i = next.fetch_add(1, SeqCst);
                    let Some(path) = files.get(i) else { break };
                    if tx.send((i, check_one(path, policy, opts))).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            // Results arrive in any order; each is handed on once those before it are.
            let mut waiting = BTreeMap::new();
            for (i, result) in rx {
                waiting.insert(i, result);
                while let Some(result) = waiting.remove(&results.len()) {
                    done(&result);
                    results.push(result);
                }
            }
        });
    }
    CheckRun {
        totals: Totals::of(&results),
        files: results,
    }
}

/// One capture analysed and checked against `policy`.
fn check_one(path: &str, policy: &Policy, options: &Options) -> FileResult {
    let mut result = FileResult::new(path);
    let (_report, err) = analyze_file(path, options, &mut |c| {
        apply::check_connection(policy, c, &mut result)
    });
    apply::check_file(policy, &mut result);
    result.error = err.map(|e| e.to_string());
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_each_file_and_decides() {
        let files = ["samples/wire-1015.pcap", "samples/drop-rst.pcap"].map(String::from);
        let mut seen = Vec::new();
        let run = run_with(&files, &Policy::default(), &Options::default(), |r| {
            seen.push(r.path.clone())
        });
        assert_eq!(seen, files);
        assert_eq!(run.files.len(), 2);
        assert_eq!((run.totals.errors, run.totals.warnings), (1, 1));
        assert_eq!(run.verdict(FailOn::Error), Verdict::Failed);

        let run = super::run(&files[1..], &Policy::default(), &Options::default());
        assert_eq!(run.verdict(FailOn::Error), Verdict::Passed);
        assert_eq!(run.verdict(FailOn::Warning), Verdict::Failed);

        let files = ["samples/normal.pcap", "samples/no-such.pcap"].map(String::from);
        let run = super::run(&files, &Policy::default(), &Options::default());
        assert!(run.files[1].error.is_some());
        assert_eq!(run.verdict(FailOn::Error), Verdict::InputError);
    }

    #[test]
    fn several_jobs_give_the_same_run_in_the_same_order() {
        let files = [
            "samples/wire-1015.pcap",
            "samples/drop-rst.pcap",
            "samples/no-such.pcap",
            "samples/policy.pcap",
            "samples/normal.pcap",
        ]
        .map(String::from);
        let policy = Policy::default();
        let one = run_jobs(&files, &policy, &Options::default(), 1, |_| {});
        for jobs in [2, 3, 8] {
            let mut seen = Vec::new();
            let many = run_jobs(&files, &policy, &Options::default(), jobs, |r| {
                seen.push(r.path.clone())
            });
            assert_eq!(seen, files, "{jobs}");
            assert_eq!(format!("{:?}", many.files), format!("{:?}", one.files));
            assert_eq!(many.verdict(FailOn::Error), one.verdict(FailOn::Error));
        }
    }
}
