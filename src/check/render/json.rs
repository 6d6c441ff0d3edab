//! The JSON output of `check`: takes a `CheckRun`, the policy and the verdict, yields one
//! pretty-printed document (tool, version, schema, passed, policy file, totals, files with
//! their violations). The field names are part of the tool's interface (README).

use serde::Serialize;

use super::super::apply::{FileResult, Totals};
use crate::check::{CheckRun, Policy, Verdict};
use crate::report::SCHEMA_VERSION;

/// The JSON document of `check`.
#[derive(Serialize)]
struct CheckDoc<'a> {
    tool: &'static str,
    version: &'static str,
    schema: u32,
    passed: bool,
    policy: Option<&'a str>,
    totals: &'a Totals,
    files: &'a [FileResult],
}

/// The JSON document, with a final newline.
pub(super) fn render(
    run: &CheckRun,
    policy: &Policy,
    verdict: Verdict,
) -> Result<String, serde_json::Error> {
    let doc = CheckDoc {
        tool: "wsclose",
        version: env!("CARGO_PKG_VERSION"),
        schema: SCHEMA_VERSION,
        passed: verdict == Verdict::Passed,
        policy: policy.source.as_deref(),
        totals: &run.totals,
        files: &run.files,
    };
    serde_json::to_string_pretty(&doc).map(|s| s + "\n")
}
