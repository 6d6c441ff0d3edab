//! Rendering a check: takes a `CheckRun` (and the policy, and what fails the check) and
//! yields the text written to standard output, in one of four formats, each in its own
//! file: `human`, `json`, `junit` (JUnit XML) and `github` (workflow commands). Nothing
//! here decides anything about the traffic; it only writes what `apply` found.

mod github;
mod human;
mod json;
mod junit;

use super::apply::Violation;
use super::policy::Policy;
use super::{CheckRun, FailOn};

/// Output formats of `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One line per violation, with the fix, and a verdict line.
    Human,
    /// One JSON document.
    Json,
    /// JUnit XML: a test suite per capture, a test case per rule.
    Junit,
    /// GitHub Actions workflow annotations.
    Github,
}

/// The output of `run` in `format`. Only JSON can fail (serialization).
pub fn render(
    format: Format,
    run: &CheckRun,
    policy: &Policy,
    fail_on: FailOn,
) -> Result<String, serde_json::Error> {
    let verdict = run.verdict(fail_on);
    Ok(match format {
        Format::Human => human::render(run, verdict),
        Format::Json => json::render(run, policy, verdict)?,
        Format::Junit => junit::render(run, policy),
        Format::Github => github::render(run),
    })
}

/// Where a violation is: `packet N, client -> server: `, `packet N: `, or nothing for the
/// whole file.
fn location(v: &Violation) -> String {
    match (&v.connection, v.frame) {
        (Some(c), f) => format!("packet {f}, {c}: "),
        (None, 0) => String::new(),
        (None, f) => format!("packet {f}: "),
    }
}

/// A violation in one line: where, what, and the fix.
fn describe(v: &Violation) -> String {
    let fix = v
        .fix
        .as_ref()
        .map(|f| format!(" Fix: {f}"))
        .unwrap_or_default();
    format!("{}{}{fix}", location(v), v.message)
}
