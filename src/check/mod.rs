//! `wsclose check`: runs the analysis over captures and applies a policy, for CI.
//!
//! The policy (a TOML file) sets the severity of each rule (`error`, `warning`, `off`),
//! denies or allows close codes and ranges, limits the share of abnormal closes, and can
//! override any of that for connections to given hosts or ports. Without a file the default
//! policy applies: protocol violations are errors, abnormal drops and TLS failures are
//! warnings, capture anomalies are off.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::{ConnReport, Detection, Outcome};
use crate::rules::{Fix, Level, Rule};

pub mod rule;

pub use rule::{CheckRule, PolicyRule};

/// A close code or an inclusive range of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CodeRange(pub u16, pub u16);

impl CodeRange {
    fn contains(&self, code: u16) -> bool {
        self.0 <= code && code <= self.1
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CodeSpec {
    One(i64),
    Text(String),
}

fn parse_spec(s: &CodeSpec) -> Result<CodeRange, String> {
    let one = |n: i64| u16::try_from(n).map_err(|_| format!("{n} is not a close code (0-65535)"));
    match s {
        CodeSpec::One(n) => one(*n).map(|c| CodeRange(c, c)),
        CodeSpec::Text(t) => {
            let (a, b) = t.split_once('-').unwrap_or((t, t));
            let a: i64 = a
                .trim()
                .parse()
                .map_err(|_| format!("\"{t}\" is not a code or a range like \"4000-4099\""))?;
            let b: i64 = b
                .trim()
                .parse()
                .map_err(|_| format!("\"{t}\" is not a code or a range like \"4000-4099\""))?;
            let (a, b) = (one(a)?, one(b)?);
            if a > b {
                return Err(format!("\"{t}\": the range is reversed"));
            }
            Ok(CodeRange(a, b))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CodesFile {
    #[serde(default)]
    deny: Vec<CodeSpec>,
    allow: Option<Vec<CodeSpec>>,
    severity: Option<Level>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    max_abnormal_share: Option<f64>,
    severity: Option<Level>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScopeFile {
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    rules: BTreeMap<String, Level>,
    codes: Option<CodesFile>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    rules: BTreeMap<String, Level>,
    codes: Option<CodesFile>,
    limits: Option<LimitsFile>,
    #[serde(default)]
    scope: Vec<ScopeFile>,
}

/// Code rules of a policy or scope.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Codes {
    pub deny: Vec<CodeRange>,
    pub allow: Option<Vec<CodeRange>>,
    pub severity: Option<Level>,
}

/// A server a scope names: an address, or a name (lower case) matched against the Host
/// header and the TLS server name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum HostPattern {
    Ip(IpAddr),
    Name(String),
}

impl HostPattern {
    /// The pattern a policy file writes as `text`.
    pub fn parse(text: &str) -> HostPattern {
        match text.parse() {
            Ok(ip) => HostPattern::Ip(ip),
            Err(_) => HostPattern::Name(text.to_ascii_lowercase()),
        }
    }
}

/// Overrides for connections to some hosts or ports.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Scope {
    pub hosts: Vec<HostPattern>,
    pub ports: Vec<u16>,
    pub rules: BTreeMap<CheckRule, Level>,
    pub codes: Option<Codes>,
}

/// A parsed policy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Policy {
    pub rules: BTreeMap<CheckRule, Level>,
    pub codes: Codes,
    pub max_abnormal_share: Option<f64>,
    pub abnormal_level: Level,
    pub scopes: Vec<Scope>,
    /// Where it came from, when from a file.
    pub source: Option<String>,
}

/// A policy file that cannot be used: the line (1-based) and what is wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub line: usize,
    pub message: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map(|t| t.matches('\n').count())
        .unwrap_or(0)
        + 1
}

/// The line where `key` is set, searching from the start of `section` when given.
fn line_of_key(text: &str, section: Option<&str>, key: &str) -> usize {
    let start = section.and_then(|s| text.find(s)).unwrap_or(0);
    text.get(start..)
        .and_then(|rest| {
            rest.lines().position(|l| {
                let l = l.trim_start();
                l.starts_with(key)
                    && l.get(key.len()..)
                        .is_some_and(|r| r.trim_start().starts_with('=') || r.starts_with('"'))
                    || l.contains(&format!("{key} ="))
                    || l.contains(&format!("\"{key}\""))
            })
        })
        .map(|i| line_of(text, start) + i)
        .unwrap_or(1)
}

/// The rules of a `rules` table, by name; an unknown name is an error at its line.
fn typed_rules(
    text: &str,
    section: &str,
    rules: BTreeMap<String, Level>,
) -> Result<BTreeMap<CheckRule, Level>, PolicyError> {
    rules
        .into_iter()
        .map(|(name, level)| match CheckRule::from_name(&name) {
            Some(rule) => Ok((rule, level)),
            None => Err(PolicyError {
                line: line_of_key(text, Some(section), &name),
                message: format!("unknown rule `{name}` in {section} (rules are the finding names of `wsclose analyze`, e.g. IllegalCloseCode, NoCloseHandshake, or DeniedCode, CodeNotAllowed, AbnormalShare)"),
            }),
        })
        .collect()
}

fn convert_codes(text: &str, section: &str, c: CodesFile) -> Result<Codes, PolicyError> {
    let err = |key: &str, message: String| PolicyError {
        line: line_of_key(text, Some(section), key),
        message: format!("{section} {key}: {message}"),
    };
    let deny = c
        .deny
        .iter()
        .map(parse_spec)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| err("deny", m))?;
    let allow = match c.allow {
        Some(a) => Some(
            a.iter()
                .map(parse_spec)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| err("allow", m))?,
        ),
        None => None,
    };
    Ok(Codes {
        deny,
        allow,
        severity: c.severity,
    })
}

impl Policy {
    /// Parses a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError {
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            message: e.message().trim().replace('\n', " "),
        })?;
        let rules = typed_rules(text, "[rules]", file.rules)?;
        let codes = match file.codes {
            Some(c) => convert_codes(text, "[codes]", c)?,
            None => Codes::default(),
        };
        let limits = file.limits.unwrap_or_default();
        if let Some(share) = limits.max_abnormal_share {
            if !(0.0..=1.0).contains(&share) {
                return Err(PolicyError {
                    line: line_of_key(text, Some("[limits]"), "max_abnormal_share"),
                    message: format!(
                        "[limits] max_abnormal_share: {share} is not a fraction between 0 and 1"
                    ),
                });
            }
        }
        let mut scopes = Vec::new();
        for s in file.scope {
            let rules = typed_rules(text, "[[scope]]", s.rules)?;
            let codes = match s.codes {
                Some(c) => Some(convert_codes(text, "[[scope]]", c)?),
                None => None,
            };
            scopes.push(Scope {
                hosts: s.hosts.iter().map(|h| HostPattern::parse(h)).collect(),
                ports: s.ports,
                rules,
                codes,
            });
        }
        Ok(Policy {
            rules,
            codes,
            max_abnormal_share: limits.max_abnormal_share,
            abnormal_level: limits.severity.unwrap_or(Level::Error),
            scopes,
            source: None,
        })
    }

    fn scopes_for<'a>(&'a self, c: &'a ConnReport) -> impl Iterator<Item = &'a Scope> + 'a {
        let server = Server::of(c);
        self.scopes.iter().filter(move |s| s.applies_to(&server))
    }

    /// The level of `rule` for connection `c`.
    fn level(&self, rule: CheckRule, default: Level, c: &ConnReport) -> Level {
        let mut level = self.rules.get(&rule).copied().unwrap_or(default);
        for s in self.scopes_for(c) {
            if let Some(l) = s.rules.get(&rule) {
                level = *l;
            }
        }
        level
    }

    fn codes_for<'a>(&'a self, c: &'a ConnReport) -> Codes {
        let mut codes = self.codes.clone();
        for s in self.scopes_for(c) {
            if let Some(sc) = &s.codes {
                codes.deny.extend(sc.deny.iter().copied());
                if sc.allow.is_some() {
                    codes.allow = sc.allow.clone();
                }
                if sc.severity.is_some() {
                    codes.severity = sc.severity;
                }
            }
        }
        codes
    }
}

/// What a scope is matched against: the server's address, and the names the client used
/// for it (Host header without its port, TLS server name), in lower case.
struct Server {
    addr: SocketAddr,
    host: Option<HostPattern>,
    sni: Option<HostPattern>,
}

impl Server {
    fn of(c: &ConnReport) -> Server {
        Server {
            addr: c.server,
            host: c
                .handshake
                .as_ref()
                .and_then(|h| h.host.as_deref())
                .map(|h| HostPattern::parse(split_host(h))),
            sni: c
                .tls
                .as_ref()
                .and_then(|t| t.sni.as_deref())
                .map(HostPattern::parse),
        }
    }
}

impl Scope {
    /// The scope's hosts (any) and ports (any) include the server; empty lists include all.
    fn applies_to(&self, server: &Server) -> bool {
        let host_ok = self.hosts.is_empty()
            || self.hosts.iter().any(|h| {
                *h == HostPattern::Ip(server.addr.ip())
                    || Some(h) == server.host.as_ref()
                    || Some(h) == server.sni.as_ref()
            });
        let port_ok = self.ports.is_empty() || self.ports.contains(&server.addr.port());
        host_ok && port_ok
    }
}

/// The host of a Host header value, without its port (and brackets, for IPv6).
fn split_host(h: &str) -> &str {
    if h.starts_with('[') {
        return h
            .split(']')
            .next()
            .map(|s| s.trim_start_matches('['))
            .unwrap_or(h);
    }
    match h.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => h,
    }
}

/// One broken rule.
#[derive(Clone, Debug, Serialize)]
pub struct Violation {
    pub file: String,
    pub rule: CheckRule,
    pub severity: Level,
    /// Packet number (0 when about the whole file).
    pub frame: u64,
    /// `client -> server`, when about a connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    pub message: String,
    /// What the catalog says to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// What `check` found in one file.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FileResult {
    pub path: String,
    pub error: Option<String>,
    pub websocket_connections: u64,
    pub abnormal: u64,
    pub violations: Vec<Violation>,
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

/// Applies the policy to one finished connection.
pub fn check_connection(policy: &Policy, file: &str, c: &ConnReport, out: &mut FileResult) {
    if c.detection != Detection::Tls {
        out.websocket_connections += 1;
    }
    if c.story.outcome == Outcome::Abnormal {
        out.abnormal += 1;
    }
    let conn = format!("{} -> {}", c.client, c.server);
    for f in &c.findings {
        let level = policy.level(f.rule.into(), f.rule.check_level(), c);
        if level == Level::Off {
            continue;
        }
        let count = if f.count > 1 {
            format!(" ({} times)", f.count)
        } else {
            String::new()
        };
        out.violations.push(Violation {
            file: file.to_string(),
            rule: f.rule.into(),
            severity: level,
            frame: f.frame,
            connection: Some(conn.clone()),
            message: format!("{}{count}", f.message),
            fix: fix_for(f.rule, c, f.frame),
        });
    }
    let codes = policy.codes_for(c);
    for close in &c.closes {
        let Some(code) = close.code else { continue };
        // Which code rule this close breaks, if any, and how the message says it.
        let (rule, why) = if let Some(r) = codes.deny.iter().find(|r| r.contains(code)) {
            let what = if r.0 == r.1 {
                format!("{}", r.0)
            } else {
                format!("{}-{}", r.0, r.1)
            };
            (
                PolicyRule::DeniedCode,
                format!("which the policy denies ({what})"),
            )
        } else if codes.allow.as_ref().is_some_and(|allow| {
            // Illegal codes are already their own rule; the allow list is about legal ones.
            crate::close::code::CloseCode(code).is_legal_on_wire()
                && !allow.iter().any(|r| r.contains(code))
        }) {
            (
                PolicyRule::CodeNotAllowed,
                "which is not in the policy's allowed codes".to_string(),
            )
        } else {
            continue;
        };
        let level = codes
            .severity
            .unwrap_or_else(|| policy.level(rule.into(), Level::Error, c));
        if level == Level::Off {
            continue;
        }
        let entry = crate::close::catalog::lookup(code);
        out.violations.push(Violation {
            file: file.to_string(),
            rule: rule.into(),
            severity: level,
            frame: close.frame,
            connection: Some(conn.clone()),
            message: format!(
                "the {} closed with {code} ({}), {why}{}",
                close.direction.sender(),
                entry.name,
                reason_text(close.reason.as_deref())
            ),
            fix: Some(entry.fix.to_string()),
        });
    }
}

fn reason_text(r: Option<&str>) -> String {
    r.map(|r| format!(": reason {r:?}")).unwrap_or_default()
}

/// File-level rules, once every connection is in.
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
            fix: Some(crate::close::catalog::lookup(1006).fix.to_string()),
        });
    }
}

/// The capture files named by `inputs`: files as given, directories searched recursively
/// for captures, glob patterns expanded. Sorted, without duplicates.
pub fn collect_inputs(inputs: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for input in inputs {
        let path = Path::new(input);
        if path.is_dir() {
            let before = out.len();
            walk(path, &mut out).map_err(|e| format!("{input}: {e}"))?;
            if out.len() == before {
                return Err(format!("{input}: no capture files (.pcap, .pcapng, .cap, optionally .gz) in this directory"));
            }
        } else if path.exists() || input == "-" {
            out.push(input.clone());
        } else if input.contains(['*', '?', '[']) {
            let paths = glob::glob(input).map_err(|e| format!("{input}: bad pattern: {e}"))?;
            let before = out.len();
            for p in paths.flatten() {
                if p.is_dir() {
                    walk(&p, &mut out).map_err(|e| format!("{}: {e}", p.display()))?;
                } else {
                    out.push(p.to_string_lossy().into_owned());
                }
            }
            if out.len() == before {
                return Err(format!("{input}: no file matches this pattern"));
            }
        } else {
            // Left for the analysis to report as unreadable, with the others still checked.
            out.push(input.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn is_capture_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let n = n.strip_suffix(".gz").unwrap_or(&n);
    n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".cap")
}

fn walk(dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_capture_name)
        {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// Totals over all files.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub files: usize,
    pub unreadable: usize,
    pub errors: usize,
    pub warnings: usize,
}

pub fn totals(results: &[FileResult]) -> Totals {
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

/// Human output.
pub fn render_human(results: &[FileResult], t: &Totals, fail_on_warning: bool) -> String {
    let mut o = String::new();
    for r in results {
        if r.violations.is_empty() && r.error.is_none() {
            continue;
        }
        let _ = writeln!(o, "{}", r.path);
        if let Some(e) = &r.error {
            let _ = writeln!(o, "  unreadable: {e}");
        }
        for v in &r.violations {
            let sev = match v.severity {
                Level::Error => "error  ",
                _ => "warning",
            };
            let at = match (v.frame, &v.connection) {
                (0, None) => String::new(),
                (f, Some(c)) => format!("packet {f}, {c}: "),
                (f, None) => format!("packet {f}: "),
            };
            let _ = writeln!(o, "  {sev} {}  {at}{}", v.rule, v.message);
            if let Some(fix) = &v.fix {
                let _ = writeln!(o, "          fix: {fix}");
            }
        }
    }
    let failed = t.errors > 0 || (fail_on_warning && t.warnings > 0);
    let verdict = if t.unreadable > 0 {
        "INPUT ERROR"
    } else if failed {
        "FAILED"
    } else {
        "passed"
    };
    let _ = writeln!(
        o,
        "wsclose check: {} file(s), {} error(s), {} warning(s){}: {verdict}",
        t.files,
        t.errors,
        t.warnings,
        if t.unreadable > 0 {
            format!(", {} unreadable", t.unreadable)
        } else {
            String::new()
        }
    );
    o
}

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

/// JUnit XML: a test suite per capture, a test case per enabled rule (failures for its
/// errors, warnings in system-out), and one for reading the file.
pub fn render_junit(results: &[FileResult], policy: &Policy) -> String {
    let mut rules: Vec<CheckRule> = Rule::ALL
        .iter()
        .filter(|r| {
            policy
                .rules
                .get(&CheckRule::Finding(**r))
                .copied()
                .unwrap_or(r.check_level())
                != Level::Off
        })
        .map(|r| CheckRule::Finding(*r))
        .collect();
    rules.extend(PolicyRule::ALL.iter().map(|r| CheckRule::Policy(*r)));
    for r in results {
        for v in &r.violations {
            if !rules.contains(&v.rule) {
                rules.push(v.rule);
            }
        }
    }
    let t = totals(results);
    let tests = results.len() * (rules.len() + 1);
    let failures: usize = results
        .iter()
        .map(|r| {
            rules
                .iter()
                .filter(|rule| {
                    r.violations
                        .iter()
                        .any(|v| v.rule == **rule && v.severity == Level::Error)
                })
                .count()
        })
        .sum();
    let mut o = String::new();
    let _ = writeln!(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(o, "<testsuites name=\"wsclose check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{}\">", t.unreadable);
    for r in results {
        let f: usize = rules
            .iter()
            .filter(|rule| {
                r.violations
                    .iter()
                    .any(|v| v.rule == **rule && v.severity == Level::Error)
            })
            .count();
        let _ = writeln!(
            o,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{}\">",
            xml(&r.path),
            rules.len() + 1,
            usize::from(r.error.is_some())
        );
        let _ = write!(
            o,
            "    <testcase classname=\"{}\" name=\"read\"",
            xml(&r.path)
        );
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
        for rule in &rules {
            let errors: Vec<&Violation> = r
                .violations
                .iter()
                .filter(|v| v.rule == *rule && v.severity == Level::Error)
                .collect();
            let warnings: Vec<&Violation> = r
                .violations
                .iter()
                .filter(|v| v.rule == *rule && v.severity == Level::Warning)
                .collect();
            let _ = write!(
                o,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(&r.path),
                xml(rule.name())
            );
            if errors.is_empty() && warnings.is_empty() {
                let _ = writeln!(o, "/>");
                continue;
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
        let _ = writeln!(o, "  </testsuite>");
    }
    let _ = writeln!(o, "</testsuites>");
    o
}

fn describe(v: &Violation) -> String {
    let at = match (&v.connection, v.frame) {
        (Some(c), f) => format!("packet {f}, {c}: "),
        (None, 0) => String::new(),
        (None, f) => format!("packet {f}: "),
    };
    let fix = v
        .fix
        .as_ref()
        .map(|f| format!(" Fix: {f}"))
        .unwrap_or_default();
    format!("{at}{}{fix}", v.message)
}

fn gh_escape(s: &str, property: bool) -> String {
    let mut out = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        out = out.replace(':', "%3A").replace(',', "%2C");
    }
    out
}

/// GitHub Actions workflow commands: one annotation per violation.
pub fn render_github(results: &[FileResult], t: &Totals) -> String {
    let mut o = String::new();
    for r in results {
        if let Some(e) = &r.error {
            let _ = writeln!(
                o,
                "::error file={},title={}::{}",
                gh_escape(&r.path, true),
                gh_escape("wsclose: unreadable capture", true),
                gh_escape(e, false)
            );
        }
        for v in &r.violations {
            let kind = if v.severity == Level::Error {
                "error"
            } else {
                "warning"
            };
            let title = format!("wsclose {}", v.rule);
            let _ = writeln!(
                o,
                "::{kind} file={},title={}::{}",
                gh_escape(&r.path, true),
                gh_escape(&title, true),
                gh_escape(&describe(v), false)
            );
        }
    }
    let _ = writeln!(
        o,
        "wsclose check: {} file(s), {} error(s), {} warning(s)",
        t.files, t.errors, t.warnings
    );
    o
}

/// The JSON document of `check`.
#[derive(Serialize)]
pub struct CheckDoc<'a> {
    pub tool: &'static str,
    pub version: &'static str,
    pub schema: u32,
    pub passed: bool,
    pub policy: Option<&'a str>,
    pub totals: &'a Totals,
    pub files: &'a [FileResult],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_policy() {
        let p = Policy::parse(
            r#"
[rules]
NoCloseHandshake = "error"
CaptureGap = "warning"

[codes]
deny = [1011, "4500-4599"]
allow = ["1000-1003", "4000-4099"]

[limits]
max_abnormal_share = 0.05

[[scope]]
hosts = ["api.example.com"]
ports = [8443]
rules = { TlsHandshakeFailed = "off" }
codes = { deny = [1001] }
"#,
        )
        .unwrap();
        assert_eq!(
            p.rules.get(&CheckRule::Finding(Rule::NoCloseHandshake)),
            Some(&Level::Error)
        );
        assert_eq!(
            p.codes.deny,
            vec![CodeRange(1011, 1011), CodeRange(4500, 4599)]
        );
        assert_eq!(p.codes.allow.as_ref().map(Vec::len), Some(2));
        assert_eq!(p.max_abnormal_share, Some(0.05));
        assert_eq!(p.scopes.len(), 1);
        assert_eq!(
            p.scopes[0].codes.as_ref().unwrap().deny,
            vec![CodeRange(1001, 1001)]
        );
    }

    #[test]
    fn invalid_policies_name_the_line_and_key() {
        let e = Policy::parse("[rules]\nIllegalCloseCode = \"error\"\nBogusRule = \"warning\"\n")
            .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(
            e.message.contains("unknown rule `BogusRule`"),
            "{}",
            e.message
        );
        let e = Policy::parse("[rules]\nIllegalCloseCode = \"fatal\"\n").unwrap_err();
        assert_eq!(e.line, 2, "{}", e.message);
        let e = Policy::parse("[codes]\ndeny = [\"4500-abc\"]\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("deny"), "{}", e.message);
        let e = Policy::parse("[codes]\ndeny = [70000]\n").unwrap_err();
        assert!(e.message.contains("70000"), "{}", e.message);
        let e = Policy::parse("\n\n[limits]\nmax_abnormal_share = 5\n").unwrap_err();
        assert_eq!(e.line, 4);
        let e = Policy::parse("[codez]\ndeny = []\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("codez"), "{}", e.message);
        let e = Policy::parse("[rules\n").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn escaping() {
        assert_eq!(xml("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(gh_escape("50%\nx", false), "50%25%0Ax");
        assert_eq!(gh_escape("a:b,c", true), "a%3Ab%2Cc");
        assert_eq!(split_host("example.com:8080"), "example.com");
        assert_eq!(split_host("[::1]:80"), "::1");
    }
}
