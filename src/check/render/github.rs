//! The GitHub Actions output of `check`: takes a `CheckRun`, yields one workflow command
//! (`::error` or `::warning`) per unreadable file and per violation, escaped as the runner
//! expects, and a totals line.

use std::fmt::Write as _;

use super::describe;
use crate::check::CheckRun;
use crate::rules::Level;

/// Workflow commands, one annotation per problem.
pub(super) fn render(run: &CheckRun) -> String {
    let mut o = String::new();
    for r in &run.files {
        // A path that could not be read may be anything given on the command line:
        // shortened, as in messages.
        let file = if r.error.is_some() {
            escape(&crate::render::text::echo(&r.path), true)
        } else {
            escape(&r.path, true)
        };
        if let Some(e) = &r.error {
            let _ = writeln!(
                o,
                "::error file={file},title={}::{}",
                escape("wsclose: unreadable capture", true),
                escape(&crate::render::text::message(e), false)
            );
        }
        for v in &r.violations {
            let kind = if v.severity == Level::Error {
                "error"
            } else {
                "warning"
            };
            let _ = writeln!(
                o,
                "::{kind} file={file},title={}::{}",
                escape(&format!("wsclose {}", v.rule), true),
                escape(&describe(v), false)
            );
        }
    }
    let t = &run.totals;
    let _ = writeln!(
        o,
        "wsclose check: {} file(s), {} error(s), {} warning(s)",
        t.files, t.errors, t.warnings
    );
    o
}

/// Escapes a workflow command's message, or (`property`) one of its properties; the
/// other control characters are escaped as for a terminal (`render::text::safe`), since
/// the runner's log shows them.
fn escape(s: &str, property: bool) -> String {
    let out = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    let mut out = crate::render::text::safe(&out).into_owned();
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escaping() {
        assert_eq!(escape("50%\nx", false), "50%25%0Ax");
        assert_eq!(escape("a:b,c\r", false), "a:b,c%0D");
        assert_eq!(escape("a:b,c", true), "a%3Ab%2Cc");
        assert_eq!(escape("%3A", true), "%253A");
        assert_eq!(escape("a\u{1b}[2J\u{9b}b", false), "a\\u{1b}[2J\\u{9b}b");
    }
}
