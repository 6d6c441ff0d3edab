//! The human output of `check`: takes a `CheckRun` and its verdict, yields each file with a
//! problem, its violations (level, rule, where, what) each followed by its fix, and one
//! verdict line. Whatever comes from a capture or a path is escaped for the terminal
//! (`render::text::safe`).

use std::fmt::Write as _;

use super::location;
use crate::check::{CheckRun, Verdict};
use crate::render::text::{echo, message, safe};
use crate::rules::Level;

/// The human report.
pub(super) fn render(run: &CheckRun, verdict: Verdict) -> String {
    let mut o = String::new();
    for r in &run.files {
        if r.violations.is_empty() && r.error.is_none() {
            continue;
        }
        if let Some(e) = &r.error {
            // A path that could not be read may be anything given on the command line:
            // shortened, as in messages.
            let _ = writeln!(o, "{}", echo(&r.path));
            let _ = writeln!(o, "  unreadable: {}", message(e));
        } else {
            let _ = writeln!(o, "{}", safe(&r.path));
        }
        for v in &r.violations {
            let level = match v.severity {
                Level::Error => "error  ",
                _ => "warning",
            };
            let line = format!("{}{}", location(v), v.message);
            let _ = writeln!(o, "  {level} {}  {}", v.rule, safe(&line));
            if let Some(fix) = &v.fix {
                let _ = writeln!(o, "          fix: {}", safe(fix));
            }
        }
    }
    let t = &run.totals;
    let verdict = match verdict {
        Verdict::InputError => "INPUT ERROR",
        Verdict::Failed => "FAILED",
        Verdict::Passed => "passed",
    };
    let unreadable = if t.unreadable > 0 {
        format!(", {} unreadable", t.unreadable)
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "wsclose check: {} file(s), {} error(s), {} warning(s){unreadable}: {verdict}",
        t.files, t.errors, t.warnings,
    );
    o
}
