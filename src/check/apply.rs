//! Applying a policy: takes each finished connection of a capture (a `ConnReport`) and, once
//! the capture is done, its counts, and yields the `Violation`s the policy finds in a
//! `FileResult`; `Totals` counts them over all captures. Finding rules come from the
//! connection's findings, code rules from its Close frames, `AbnormalShare` from the file.

use std::fmt;
use std::net::SocketAddr;

use serde::{Serialize, Serializer};

use super::codes::Codes;
use super::policy::Policy;
use super::rule::{CheckRule, PolicyRule};
use super::scope::{Scope, Server};
use crate::close::catalog;
use crate::close::code::CloseCode;
use crate::report::{CloseReport, ConnReport, Detection, Finding, Outcome};
use crate::rules::{Fix, Level, Rule};

/// The two ends of a connection, written `client -> server`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The side that opened the TCP connection.
    pub client: SocketAddr,
    /// The side that accepted it.
    pub server: SocketAddr,
}

impl fmt::Display for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.client, self.server)
    }
}

impl Serialize for Endpoints {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One broken rule.
#[derive(Clone, Debug, Serialize)]
pub struct Violation {
    /// The capture, as named on the command line (or found in a directory).
    pub file: String,
    /// The rule broken.
    pub rule: CheckRule,
    /// Its level under the policy: error or warning (rules at `off` give no violation).
    pub severity: Level,
    /// Packet number (0 when about the whole file).
    pub frame: u64,
    /// The connection, when about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<Endpoints>,
    /// What happened, in a sentence.
    pub message: String,
    /// What the catalog says to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// What `check` found in one file.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FileResult {
    /// The capture, as named on the command line (or found in a directory).
    pub path: String,
    /// Why the file could not be read (fully or at all).
    pub error: Option<String>,
    /// WebSocket connections seen (TLS connections are not counted: they may not be).
    pub websocket_connections: u64,
    /// Connections that ended without any Close frame.
    pub abnormal: u64,
    /// Every violation, connection by connection in the order they finished, then the
    /// file's own.
    pub violations: Vec<Violation>,
}

impl FileResult {
    /// Nothing found yet in the file at `path`.
    pub fn new(path: &str) -> FileResult {
        FileResult {
            path: path.to_string(),
            ..FileResult::default()
        }
    }
}

/// Totals over all files.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// Files checked.
    pub files: usize,
    /// Files that could not be read (fully or at all).
    pub unreadable: usize,
    /// Violations at level error.
    pub errors: usize,
    /// Violations at level warning.
    pub warnings: usize,
}

impl Totals {
    /// Counts `results`.
    pub fn of(results: &[FileResult]) -> Totals {
        let mut t = Totals {
            files: results.len(),
            ..Totals::default()
        };
        for r in results {
            if r.error.is_some() {
                t.unreadable += 1;
            }
            for v in &r.violations {
                match v.severity {
                    Level::Error => t.errors += 1,
                    Level::Warning => t.warnings += 1,
                    Level::Off => {}
                }
            }
        }
        t
    }
}

/// The policy as it applies to one connection: its own rules, overridden by every scope
/// that includes the connection's server, in file order.
struct ConnPolicy<'p> {
    policy: &'p Policy,
    scopes: Vec<&'p Scope>,
}

impl<'p> ConnPolicy<'p> {
    fn new(policy: &'p Policy, c: &ConnReport) -> ConnPolicy<'p> {
        let server = Server::of(c);
        ConnPolicy {
            policy,
            scopes: policy
                .scopes
                .iter()
                .filter(|s| s.applies_to(&server))
                .collect(),
        }
    }

    /// The level of `rule`; `default` when neither the policy nor a scope sets it.
    fn level(&self, rule: CheckRule, default: Level) -> Level {
        let mut level = self.policy.rules.get(&rule).copied().unwrap_or(default);
        for s in &self.scopes {
            if let Some(l) = s.rules.get(&rule) {
                level = *l;
            }
        }
        level
    }

    /// The code rules: the scopes' denials added, their allow lists and severities over
    /// the policy's.
    fn codes(&self) -> Codes {
        let mut codes = self.policy.codes.clone();
        for sc in self.scopes.iter().filter_map(|s| s.codes.as_ref()) {
            codes.deny.extend(sc.deny.iter().copied());
            if sc.allow.is_some() {
                codes.allow = sc.allow.clone();
            }
            if sc.severity.is_some() {
                codes.severity = sc.severity;
            }
        }
        codes
    }
}

/// Applies the policy to one finished connection of the file `out` is about.
pub fn check_connection(policy: &Policy, c: &ConnReport, out: &mut FileResult) {
    if c.detection != Detection::Tls {
        out.websocket_connections += 1;
    }
    if c.story.outcome == Outcome::Abnormal {
        out.abnormal += 1;
    }
    let rules = ConnPolicy::new(policy, c);
    let conn = Endpoints {
        client: c.client,
        server: c.server,
    };
    for f in &c.findings {
        let level = rules.level(f.rule.into(), f.rule.check_level());
        if level != Level::Off {
            out.violations
                .push(finding_violation(f, level, c, conn, &out.path));
        }
    }
    let codes = rules.codes();
    for close in &c.closes {
        let Some(code) = close.code else { continue };
        let Some((rule, why)) = broken_code_rule(&codes, code) else {
            continue;
        };
        let level = codes
            .severity
            .unwrap_or_else(|| rules.level(rule.into(), Level::Error));
        if level != Level::Off {
            out.violations.push(code_violation(
                close, code, rule, &why, level, conn, &out.path,
            ));
        }
    }
}

fn finding_violation(
    f: &Finding,
    level: Level,
    c: &ConnReport,
    conn: Endpoints,
    file: &str,
) -> Violation {
    let count = if f.count > 1 {
        format!(" ({} times)", f.count)
    } else {
        String::new()
    };
    Violation {
        file: file.to_string(),
        rule: f.rule.into(),
        severity: level,
        frame: f.frame,
        connection: Some(conn),
        message: format!("{}{count}", f.message),
        fix: fix_for(f.rule, c, f.frame),
    }
}

/// Which code rule a Close with `code` breaks, if any, and how the message says it.
fn broken_code_rule(codes: &Codes, code: u16) -> Option<(PolicyRule, String)> {
    if let Some(r) = codes.deny.iter().find(|r| r.contains(code)) {
        let what = if r.0 == r.1 {
            format!("{}", r.0)
        } else {
            format!("{}-{}", r.0, r.1)
        };
        return Some((
            PolicyRule::DeniedCode,
            format!("which the policy denies ({what})"),
        ));
    }
    // Illegal codes are already their own rule; the allow list is about legal ones.
    let not_allowed = codes.allow.as_ref().is_some_and(|allow| {
        CloseCode(code).is_legal_on_wire() && !allow.iter().any(|r| r.contains(code))
    });
    not_allowed.then(|| {
        (
            PolicyRule::CodeNotAllowed,
            "which is not in the policy's allowed codes".to_string(),
        )
    })
}

fn code_violation(
    close: &CloseReport,
    code: u16,
    rule: PolicyRule,
    why: &str,
    level: Level,
    conn: Endpoints,
    file: &str,
) -> Violation {
    let entry = catalog::lookup(code);
    let reason = close
        .reason
        .as_deref()
        .map(|r| format!(": reason {r:?}"))
        .unwrap_or_default();
    Violation {
        file: file.to_string(),
        rule: rule.into(),
        severity: level,
        frame: close.frame,
        connection: Some(conn),
        message: format!(
            "the {} closed with {code} ({}), {why}{reason}",
            close.direction.sender(),
            entry.name,
        ),
        fix: Some(entry.fix.to_string()),
    }
}

/// What the rule table says to do about `rule`, for connection `c`.
fn fix_for(rule: Rule, c: &ConnReport, frame: u64) -> Option<String> {
    match rule.fix() {
        Fix::Text(t) => Some(t.to_string()),
        Fix::CloseCode => c
            .closes
            .iter()
            .find(|x| x.frame == frame)
            .and_then(|x| x.explanation)
            .map(|e| e.fix.to_string()),
        Fix::TlsFailure => c
            .tls
            .as_ref()
            .and_then(|t| t.failure.as_ref())
            .map(|f| f.fix.clone()),
        Fix::LikelyCause => c.story.likely_cause.clone(),
        Fix::None => None,
    }
}

/// File-level rules, once every connection of the file is in.
pub fn check_file(policy: &Policy, out: &mut FileResult) {
    let Some(max) = policy.max_abnormal_share else {
        return;
    };
    let level = policy
        .rules
        .get(&CheckRule::Policy(PolicyRule::AbnormalShare))
        .copied()
        .unwrap_or(policy.abnormal_level);
    if level == Level::Off || out.websocket_connections == 0 {
        return;
    }
    let share = out.abnormal as f64 / out.websocket_connections as f64;
    if share > max {
        out.violations.push(Violation {
            file: out.path.clone(),
            rule: PolicyRule::AbnormalShare.into(),
            severity: level,
            frame: 0,
            connection: None,
            message: format!(
                "{} of {} WebSocket connections ({:.1} %) ended without a Close frame (applications saw 1006); the policy allows {:.1} %",
                out.abnormal,
                out.websocket_connections,
                share * 100.0,
                max * 100.0
            ),
            fix: Some(catalog::lookup(1006).fix.to_string()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{analyze_file, Options};

    /// The policy applied to every connection of a sample, then to the file.
    fn check(sample: &str, policy: &str) -> FileResult {
        let policy = Policy::parse(policy).unwrap();
        let mut out = FileResult::new(sample);
        let (_, err) = analyze_file(sample, &Options::default(), &mut |c| {
            check_connection(&policy, c, &mut out)
        });
        assert!(err.is_none(), "{err:?}");
        check_file(&policy, &mut out);
        out
    }

    fn rules(r: &FileResult) -> Vec<(&'static str, Level)> {
        r.violations
            .iter()
            .map(|v| (v.rule.name(), v.severity))
            .collect()
    }

    #[test]
    fn denied_codes_name_the_close_and_the_range() {
        let r = check("samples/policy.pcap", "[codes]\ndeny = [\"1000-1010\"]\n");
        assert_eq!(r.websocket_connections, 1);
        assert_eq!(
            rules(&r),
            [("DeniedCode", Level::Error), ("DeniedCode", Level::Error)]
        );
        let v = &r.violations[0];
        assert_eq!(v.file, "samples/policy.pcap");
        assert!(
            v.message.starts_with(
                "the server closed with 1008 (Policy Violation), which the policy denies (1000-1010): reason "
            ),
            "{}",
            v.message
        );
        let conn = v.connection.unwrap();
        assert_eq!(
            conn.to_string(),
            format!("{} -> {}", conn.client, conn.server)
        );
        assert!(v.fix.is_some());
    }

    #[test]
    fn allow_lists_leave_illegal_codes_to_their_own_rule() {
        let r = check("samples/policy.pcap", "[codes]\nallow = [1000]\n");
        assert_eq!(
            rules(&r),
            [
                ("CodeNotAllowed", Level::Error),
                ("CodeNotAllowed", Level::Error)
            ]
        );
        // The server sends 1015 (illegal), the client answers 1002 (legal).
        let r = check("samples/wire-1015.pcap", "[codes]\nallow = [1000, 1002]\n");
        assert_eq!(rules(&r), [("IllegalCloseCode", Level::Error)]);
    }

    #[test]
    fn levels_follow_rules_then_scopes_then_code_severity() {
        let r = check("samples/drop-rst.pcap", "");
        assert_eq!(rules(&r), [("NoCloseHandshake", Level::Warning)]);
        let r = check(
            "samples/drop-rst.pcap",
            "[rules]\nNoCloseHandshake = \"off\"\n",
        );
        assert!(r.violations.is_empty());
        // A scope for every server overrides [rules]; a scope for another port does not.
        let r = check(
            "samples/drop-rst.pcap",
            "[rules]\nNoCloseHandshake = \"off\"\n[[scope]]\nrules = { NoCloseHandshake = \"error\" }\n",
        );
        assert_eq!(rules(&r), [("NoCloseHandshake", Level::Error)]);
        let r = check(
            "samples/drop-rst.pcap",
            "[[scope]]\nports = [1]\nrules = { NoCloseHandshake = \"error\" }\n",
        );
        assert_eq!(rules(&r), [("NoCloseHandshake", Level::Warning)]);
        // [codes] severity wins over the rules tables.
        let r = check(
            "samples/policy.pcap",
            "[rules]\nDeniedCode = \"error\"\n[[scope]]\ncodes = { deny = [1008], severity = \"warning\" }\n",
        );
        assert_eq!(
            rules(&r),
            [
                ("DeniedCode", Level::Warning),
                ("DeniedCode", Level::Warning)
            ]
        );
        let r = check(
            "samples/policy.pcap",
            "[rules]\nDeniedCode = \"off\"\n[codes]\ndeny = [1008]\n",
        );
        assert!(r.violations.is_empty());
    }

    #[test]
    fn abnormal_share_is_a_file_rule() {
        let r = check(
            "samples/drop-rst.pcap",
            "[limits]\nmax_abnormal_share = 0.5\n",
        );
        assert_eq!(r.abnormal, 1);
        let share = r
            .violations
            .iter()
            .find(|v| v.rule == CheckRule::Policy(PolicyRule::AbnormalShare))
            .unwrap();
        assert_eq!((share.frame, share.connection), (0, None));
        assert_eq!(share.severity, Level::Error);
        assert!(share
            .message
            .starts_with("1 of 1 WebSocket connections (100.0 %)"));
        let r = check(
            "samples/drop-rst.pcap",
            "[limits]\nmax_abnormal_share = 0.5\nseverity = \"warning\"\n",
        );
        assert_eq!(rules(&r).last(), Some(&("AbnormalShare", Level::Warning)));
        let r = check(
            "samples/drop-rst.pcap",
            "[limits]\nmax_abnormal_share = 1.0\n",
        );
        assert_eq!(rules(&r), [("NoCloseHandshake", Level::Warning)]);
    }

    #[test]
    fn totals_count_levels_and_unreadable_files() {
        let mut a = check("samples/wire-1015.pcap", "");
        a.violations
            .extend(check("samples/drop-rst.pcap", "").violations);
        let mut b = FileResult::new("nope.pcap");
        b.error = Some("nope.pcap: gone".into());
        let t = Totals::of(&[a, b]);
        assert_eq!((t.files, t.unreadable, t.errors, t.warnings), (2, 1, 1, 1));
    }
}
