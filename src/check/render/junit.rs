//! The JUnit XML output of `check`: takes a `CheckRun` and the policy, yields one test
//! suite per capture with a test case for reading it (an `error` when it could not be
//! read) and one per rule the policy enables (a `failure` listing its errors; its warnings
//! in `system-out`). Every attribute and text is escaped for XML.

use std::fmt::Write as _;

use super::describe;
use crate::check::apply::{FileResult, Violation};
use crate::check::{CheckRule, CheckRun, Policy, PolicyRule};
use crate::rules::{Level, Rule};

/// The JUnit document.
pub(super) fn render(run: &CheckRun, policy: &Policy) -> String {
    let rules = rule_cases(run, policy);
    let tests = run.files.len() * (rules.len() + 1);
    let failures: usize = run.files.iter().map(|r| failing_rules(r, &rules)).sum();
    let mut o = String::new();
    let _ = writeln!(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        o,
        "<testsuites name=\"wsclose check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{}\">",
        run.totals.unreadable
    );
    for r in &run.files {
        suite(&mut o, r, &rules);
    }
    let _ = writeln!(o, "</testsuites>");
    o
}

/// The rules each capture gets a test case for: the finding rules the policy enables, the
/// policy's own rules, and any other rule with a violation (a scope can enable a rule the
/// policy leaves off).
fn rule_cases(run: &CheckRun, policy: &Policy) -> Vec<CheckRule> {
    let enabled = |r: &Rule| {
        policy
            .rules
            .get(&CheckRule::Finding(*r))
            .copied()
            .unwrap_or(r.check_level())
            != Level::Off
    };
    let mut rules: Vec<CheckRule> = Rule::ALL
        .iter()
        .filter(|r| enabled(r))
        .map(|r| CheckRule::Finding(*r))
        .collect();
    rules.extend(PolicyRule::ALL.iter().map(|r| CheckRule::Policy(*r)));
    for v in run.files.iter().flat_map(|r| &r.violations) {
        if !rules.contains(&v.rule) {
            rules.push(v.rule);
        }
    }
    rules
}

/// How many of `rules` the file breaks at level error.
fn failing_rules(r: &FileResult, rules: &[CheckRule]) -> usize {
    rules
        .iter()
        .filter(|rule| {
            r.violations
                .iter()
                .any(|v| v.rule == **rule && v.severity == Level::Error)
        })
        .count()
}

/// One capture's test suite.
fn suite(o: &mut String, r: &FileResult, rules: &[CheckRule]) {
    let path = xml(&r.path);
    let _ = writeln!(
        o,
        "  <testsuite name=\"{path}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        rules.len() + 1,
        failing_rules(r, rules),
        usize::from(r.error.is_some())
    );
    let _ = write!(o, "    <testcase classname=\"{path}\" name=\"read\"");
    match &r.error {
        Some(e) => {
            let _ = writeln!(
                o,
                ">\n      <error message=\"{}\"/>\n    </testcase>",
                xml(e)
            );
        }
        None => {
            let _ = writeln!(o, "/>");
        }
    }
    for rule in rules {
        rule_case(o, &path, *rule, &r.violations);
    }
    let _ = writeln!(o, "  </testsuite>");
}

/// The test case of `rule` in one capture (`path` already escaped).
fn rule_case(o: &mut String, path: &str, rule: CheckRule, violations: &[Violation]) {
    let at = |level: Level| -> Vec<&Violation> {
        violations
            .iter()
            .filter(|v| v.rule == rule && v.severity == level)
            .collect()
    };
    let (errors, warnings) = (at(Level::Error), at(Level::Warning));
    let _ = write!(
        o,
        "    <testcase classname=\"{path}\" name=\"{}\"",
        xml(rule.name())
    );
    if errors.is_empty() && warnings.is_empty() {
        let _ = writeln!(o, "/>");
        return;
    }
    let _ = writeln!(o, ">");
    if let Some(first) = errors.first() {
        let body: Vec<String> = errors.iter().map(|v| describe(v)).collect();
        let _ = writeln!(
            o,
            "      <failure message=\"{}\" type=\"{}\">{}</failure>",
            xml(&format!("{} violation(s): {}", errors.len(), first.message)),
            xml(rule.name()),
            xml(&body.join("\n"))
        );
    }
    if !warnings.is_empty() {
        let body: Vec<String> = warnings
            .iter()
            .map(|v| format!("warning: {}", describe(v)))
            .collect();
        let _ = writeln!(
            o,
            "      <system-out>{}</system-out>",
            xml(&body.join("\n"))
        );
    }
    let _ = writeln!(o, "    </testcase>");
}

/// `s` escaped for an XML attribute or text; control characters XML 1.0 cannot carry are
/// left out.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{FileResult, Totals};

    #[test]
    fn escaping() {
        assert_eq!(xml("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(xml("a\u{1}b\tc\nd"), "ab\tc\nd");
    }

    fn violation(rule: CheckRule, severity: Level, message: &str) -> Violation {
        Violation {
            file: "a&b.pcap".into(),
            rule,
            severity,
            frame: 3,
            connection: None,
            message: message.into(),
            fix: Some("do <this>".into()),
        }
    }

    #[test]
    fn cases_count_and_carry_the_violations() {
        let mut file = FileResult::new("a&b.pcap");
        let illegal = CheckRule::Finding(Rule::IllegalCloseCode);
        // Off by default, on here as a warning (as a scope could make it).
        let gap = CheckRule::Finding(Rule::CaptureGap);
        file.violations = vec![
            violation(illegal, Level::Error, "first"),
            violation(illegal, Level::Error, "second"),
            violation(gap, Level::Warning, "a gap"),
        ];
        let files = vec![file, FileResult::new("b.pcap")];
        let run = CheckRun {
            totals: Totals::of(&files),
            files,
        };
        let rules = rule_cases(&run, &Policy::default());
        assert_eq!(rules.last(), Some(&gap));
        assert!(!rules.contains(&CheckRule::Finding(Rule::MidStreamStart)));
        let out = render(&run, &Policy::default());
        let cases = rules.len() + 1;
        assert!(out.contains(&format!(
            "<testsuites name=\"wsclose check\" tests=\"{}\" failures=\"1\" errors=\"0\">",
            2 * cases
        )));
        assert!(out.contains(&format!(
            "<testsuite name=\"a&amp;b.pcap\" tests=\"{cases}\" failures=\"1\" errors=\"0\">"
        )));
        assert!(out.contains(
            "<failure message=\"2 violation(s): first\" type=\"IllegalCloseCode\">packet 3: first Fix: do &lt;this&gt;\npacket 3: second Fix: do &lt;this&gt;</failure>"
        ));
        assert!(
            out.contains("<system-out>warning: packet 3: a gap Fix: do &lt;this&gt;</system-out>")
        );
        assert_eq!(out.matches("<testcase ").count(), 2 * cases);
    }
}
