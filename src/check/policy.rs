//! Policy parsing: takes the text of a policy file (TOML) and yields a typed `Policy`, or a
//! `PolicyError` naming the line and the key that is wrong. `load_policy` finds and reads
//! the file (`--policy FILE`, else `./wsclose.toml` when present, else the default policy).
//!
//! Rule names become `CheckRule`s and scope hosts `HostPattern`s here, once; nothing after
//! parsing looks at the strings again.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::codes::{CodeRange, Codes};
use super::rule::CheckRule;
use super::scope::{HostPattern, Scope};
use crate::rules::Level;

/// The policy file read when `--policy` is not given, if it exists in the working directory.
pub const DEFAULT_POLICY_FILE: &str = "wsclose.toml";

/// A parsed policy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Policy {
    /// Levels set by `[rules]`; other rules keep their default level.
    pub rules: BTreeMap<CheckRule, Level>,
    /// `[codes]`: denied and allowed close codes.
    pub codes: Codes,
    /// Most connections of a capture that may end without a Close, as a fraction.
    pub max_abnormal_share: Option<f64>,
    /// Level of `AbnormalShare` when `[rules]` does not set it (`[limits] severity`).
    pub abnormal_level: Level,
    /// Overrides for some servers, applied in file order.
    pub scopes: Vec<Scope>,
    /// Where it came from, when from a file.
    pub source: Option<String>,
}

/// A policy file that cannot be used: the line (1-based) and what is wrong.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {message}")]
pub struct PolicyError {
    /// Line of the file (1-based).
    pub line: usize,
    /// What is wrong, naming the section and key.
    pub message: String,
}

/// The policy file could not be read or used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading the file failed.
    #[error("{path}: {source}")]
    Read {
        /// The file, as given.
        path: String,
        source: io::Error,
    },
    /// The file is not a valid policy.
    #[error("{path}:{error}")]
    Invalid {
        /// The file, as given.
        path: String,
        /// The line and what is wrong.
        error: PolicyError,
    },
}

/// The policy `check` applies: the file at `path` when given, else `./wsclose.toml` when it
/// exists, else the default policy. `Policy::source` says which file it came from.
pub fn load_policy(path: Option<&Path>) -> Result<Policy, LoadError> {
    let default = Path::new(DEFAULT_POLICY_FILE);
    let path = match path {
        Some(p) => p,
        None if default.is_file() => default,
        None => return Ok(Policy::default()),
    };
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(source) => {
            return Err(LoadError::Read {
                path: shown,
                source,
            })
        }
    };
    match Policy::parse(&text) {
        Ok(policy) => Ok(Policy {
            source: Some(shown),
            ..policy
        }),
        Err(error) => Err(LoadError::Invalid { path: shown, error }),
    }
}

// The file as TOML spells it; `Policy::parse` checks and types it.

#[derive(Deserialize)]
#[serde(untagged)]
enum CodeSpec {
    One(i64),
    Text(String),
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

impl Policy {
    /// Parses a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError {
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            message: e.message().trim().replace('\n', " "),
        })?;
        let rules = typed_rules(text, "[rules]", file.rules)?;
        let codes = match file.codes {
            Some(c) => typed_codes(text, "[codes]", c)?,
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
                Some(c) => Some(typed_codes(text, "[[scope]]", c)?),
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

/// The code lists of a `codes` table as ranges; a bad entry is an error at its key's line.
fn typed_codes(text: &str, section: &str, c: CodesFile) -> Result<Codes, PolicyError> {
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

/// A code (`1008`) or a range (`"4000-4099"`, or `"1008"`) as a `CodeRange`.
fn parse_spec(s: &CodeSpec) -> Result<CodeRange, String> {
    let one = |n: i64| u16::try_from(n).map_err(|_| format!("{n} is not a close code (0-65535)"));
    match s {
        CodeSpec::One(n) => one(*n).map(|c| CodeRange(c, c)),
        CodeSpec::Text(t) => {
            let not_a_code = || format!("\"{t}\" is not a code or a range like \"4000-4099\"");
            let (a, b) = t.split_once('-').unwrap_or((t, t));
            let a: i64 = a.trim().parse().map_err(|_| not_a_code())?;
            let b: i64 = b.trim().parse().map_err(|_| not_a_code())?;
            let (a, b) = (one(a)?, one(b)?);
            if a > b {
                return Err(format!("\"{t}\": the range is reversed"));
            }
            Ok(CodeRange(a, b))
        }
    }
}

/// The line (1-based) of byte `offset` of `text`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rule::PolicyRule;
    use crate::rules::Rule;

    #[test]
    fn parses_a_full_policy() {
        let p = Policy::parse(
            r#"
[rules]
NoCloseHandshake = "error"
CaptureGap = "warning"
AbnormalShare = "warning"

[codes]
deny = [1011, "4500-4599"]
allow = ["1000-1003", "4000-4099"]

[limits]
max_abnormal_share = 0.05

[[scope]]
hosts = ["api.example.com", "10.0.0.1"]
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
            p.rules.get(&CheckRule::Policy(PolicyRule::AbnormalShare)),
            Some(&Level::Warning)
        );
        assert_eq!(
            p.codes.deny,
            vec![CodeRange(1011, 1011), CodeRange(4500, 4599)]
        );
        assert_eq!(p.codes.allow.as_ref().map(Vec::len), Some(2));
        assert_eq!(p.max_abnormal_share, Some(0.05));
        assert_eq!(p.abnormal_level, Level::Error);
        assert_eq!(p.scopes.len(), 1);
        let scope = &p.scopes[0];
        assert_eq!(
            scope.hosts,
            vec![
                HostPattern::Name("api.example.com".into()),
                HostPattern::Ip([10, 0, 0, 1].into())
            ]
        );
        assert_eq!(
            scope
                .rules
                .get(&CheckRule::Finding(Rule::TlsHandshakeFailed)),
            Some(&Level::Off)
        );
        assert_eq!(
            scope.codes.as_ref().unwrap().deny,
            vec![CodeRange(1001, 1001)]
        );
        assert_eq!(p.source, None);
    }

    #[test]
    fn invalid_policies_name_the_line_and_key() {
        let e = Policy::parse("[rules]\nIllegalCloseCode = \"error\"\nBogusRule = \"warning\"\n")
            .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(
            e.message.contains("unknown rule `BogusRule` in [rules]"),
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
    fn scope_errors_name_the_scope() {
        let e = Policy::parse("[rules]\n\n[[scope]]\nports = [1]\nrules = { Bogus = \"off\" }\n")
            .unwrap_err();
        assert_eq!(e.line, 5);
        assert!(
            e.message.contains("unknown rule `Bogus` in [[scope]]"),
            "{}",
            e.message
        );
        let e = Policy::parse("[[scope]]\ncodes = { allow = [\"2000-1000\"] }\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(
            e.message,
            "[[scope]] allow: \"2000-1000\": the range is reversed"
        );
        assert_eq!(e.to_string(), format!("2: {}", e.message));
    }

    #[test]
    fn code_specs() {
        let spec = |s: &str| parse_spec(&CodeSpec::Text(s.to_string()));
        assert_eq!(spec("4000-4099"), Ok(CodeRange(4000, 4099)));
        assert_eq!(spec(" 1000 - 1003 "), Ok(CodeRange(1000, 1003)));
        assert_eq!(spec("1008"), Ok(CodeRange(1008, 1008)));
        assert!(spec("10-").is_err());
        assert!(spec("-5").is_err());
        assert!(spec("0-65536").is_err());
        assert_eq!(parse_spec(&CodeSpec::One(-1)).ok(), None);
        assert!(CodeRange(4000, 4099).contains(4000) && CodeRange(4000, 4099).contains(4099));
        assert!(!CodeRange(4000, 4099).contains(4100));
    }

    #[test]
    fn loads_a_file_and_names_it_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(&good, "[codes]\ndeny = [1001]\n").unwrap();
        let p = load_policy(Some(&good)).unwrap();
        assert_eq!(p.source, Some(good.display().to_string()));
        assert_eq!(p.codes.deny, vec![CodeRange(1001, 1001)]);

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[codes]\ndeny = [1008]\nallwo = [1000]\n").unwrap();
        let e = load_policy(Some(&bad)).unwrap_err();
        assert!(matches!(e, LoadError::Invalid { .. }));
        assert!(
            e.to_string()
                .starts_with(&format!("{}:3: unknown field `allwo`", bad.display())),
            "{e}"
        );

        let missing = dir.path().join("missing.toml");
        let e = load_policy(Some(&missing)).unwrap_err();
        assert!(matches!(e, LoadError::Read { .. }));
        assert!(
            e.to_string()
                .starts_with(&format!("{}: ", missing.display())),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some());
    }
}
