//! Policy parsing: takes the text of a policy file (TOML) and yields a typed `Policy`, or a
//! `PolicyError` naming the line and the key that is wrong. `load_policy` finds and reads
//! the file (`--policy FILE`, else `./wsclose.toml` when present, else the default policy).
//!
//! Rule names become `CheckRule`s and scope hosts `HostPattern`s here, once; nothing after
//! parsing looks at the strings again.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::Serialize;
use toml::de::{DeString, DeTable, DeValue};
use toml::Spanned;

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

/// Largest policy file read: a real policy is a few hundred bytes, and a bigger "file" is
/// a mistake (`--policy /dev/zero`, a capture given in its place) that must not be read
/// into memory.
pub const MAX_POLICY_BYTES: u64 = 1 << 20;

/// The policy file could not be read or used. Paths are shown as `render::text::echo`
/// writes them: safe for a terminal, and shortened when very long.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading the file failed.
    #[error("{path}: {source}")]
    Read {
        /// The file, as shown.
        path: String,
        source: io::Error,
    },
    /// The path names something other than a regular file (a directory, a FIFO, a
    /// device), which would fail or block or never end.
    #[error("{path}: is {kind}, not a policy file (a regular TOML file)")]
    NotAFile {
        /// The file, as shown.
        path: String,
        /// What it is instead: "a directory", "a FIFO", ...
        kind: &'static str,
    },
    /// The file is larger than `MAX_POLICY_BYTES`.
    #[error("{path}: is {size} bytes; a policy file is at most 1 MiB (1048576 bytes)")]
    TooBig {
        /// The file, as shown.
        path: String,
        /// Its size, or at least how much was there to read.
        size: u64,
    },
    /// The file is not UTF-8 text.
    #[error("{path}: is not UTF-8 text (a policy file is TOML)")]
    NotText {
        /// The file, as shown.
        path: String,
    },
    /// The file is not a valid policy.
    #[error("{path}:{error}")]
    Invalid {
        /// The file, as shown.
        path: String,
        /// The line and what is wrong.
        error: PolicyError,
    },
}

/// The policy `check` applies: the file at `path` when given, else `./wsclose.toml` when it
/// exists, else the default policy. `Policy::source` says which file it came from. The file
/// must be a regular file of at most `MAX_POLICY_BYTES`; anything else fails at once,
/// before it is opened (a FIFO would block) or read.
pub fn load_policy(path: Option<&Path>) -> Result<Policy, LoadError> {
    let default = Path::new(DEFAULT_POLICY_FILE);
    let path = match path {
        Some(p) => p,
        None if default.is_file() => default,
        None => return Ok(Policy::default()),
    };
    let shown = crate::render::text::echo(&path.to_string_lossy());
    let text = read_policy_file(path, &shown)?;
    match Policy::parse(&text) {
        Ok(policy) => Ok(Policy {
            source: Some(shown),
            ..policy
        }),
        Err(error) => Err(LoadError::Invalid { path: shown, error }),
    }
}

/// The text of the policy file at `path` (`shown` in errors), checked to be a regular file
/// of at most `MAX_POLICY_BYTES` of UTF-8.
fn read_policy_file(path: &Path, shown: &str) -> Result<String, LoadError> {
    use std::io::Read;
    let read_err = |source| LoadError::Read {
        path: shown.to_string(),
        source,
    };
    let not_a_file = |meta: &std::fs::Metadata| LoadError::NotAFile {
        path: shown.to_string(),
        kind: file_kind(meta),
    };
    let too_big = |size| LoadError::TooBig {
        path: shown.to_string(),
        size,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() {
        return Err(not_a_file(&meta));
    }
    if meta.len() > MAX_POLICY_BYTES {
        return Err(too_big(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(read_err)?;
    // The file may have been replaced or grown since: check again what was opened, and
    // never read more than the cap.
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(not_a_file(&meta));
    }
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(too_big(meta.len().max(bytes.len() as u64)));
    }
    String::from_utf8(bytes).map_err(|_| LoadError::NotText {
        path: shown.to_string(),
    })
}

/// What a path that is not a regular file is, in words.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

// The file as TOML spells it is read key by key from toml's spanned document, so that each
// error names the key, what was expected and what was found, at the key's line.

type Table<'i> = DeTable<'i>;
type Value<'i> = Spanned<DeValue<'i>>;

/// The text being parsed, to turn byte offsets into line numbers.
#[derive(Clone, Copy)]
struct Src<'t>(&'t str);

impl Src<'_> {
    /// An error at byte `at` of the file.
    fn err(self, at: usize, message: String) -> PolicyError {
        PolicyError {
            line: line_of(self.0, at),
            message,
        }
    }

    /// `v` as a table, else an error saying what `what` should be.
    fn table<'a, 'i>(
        self,
        what: &str,
        expected: &str,
        v: &'a Value<'i>,
    ) -> Result<&'a Table<'i>, PolicyError> {
        match v.get_ref() {
            DeValue::Table(t) => Ok(t),
            other => Err(self.err(
                v.span().start,
                format!("{what}: expected {expected}, found {}", found(other)),
            )),
        }
    }

    /// `v` as a list, else an error saying what `what` should be.
    fn list<'a, 'i>(
        self,
        what: &str,
        expected: &str,
        v: &'a Value<'i>,
    ) -> Result<&'a [Value<'i>], PolicyError> {
        match v.get_ref() {
            DeValue::Array(a) => Ok(a.as_ref()),
            other => Err(self.err(
                v.span().start,
                format!("{what}: expected {expected}, found {}", found(other)),
            )),
        }
    }

    /// A severity: "error", "warning" or "off".
    fn level(self, what: &str, v: &Value<'_>) -> Result<Level, PolicyError> {
        const LEVELS: &str = "\"error\", \"warning\" or \"off\"";
        match v.get_ref() {
            DeValue::String(s) => match s.as_ref() {
                "error" => Ok(Level::Error),
                "warning" => Ok(Level::Warning),
                "off" => Ok(Level::Off),
                other => Err(self.err(
                    v.span().start,
                    format!("{what}: {} is not a severity; use {LEVELS}", text(other)),
                )),
            },
            other => Err(self.err(
                v.span().start,
                format!(
                    "{what}: expected a severity ({LEVELS}, in quotes), found {}",
                    found(other)
                ),
            )),
        }
    }

    /// An unknown key of `section`, with the keys it takes.
    fn unknown(self, section: &str, key: &Spanned<DeString<'_>>, keys: &str) -> PolicyError {
        let name = text(key.get_ref());
        let message = if section.is_empty() {
            format!("unknown section or key {name}; a policy has {keys}")
        } else {
            format!("{section}: unknown key {name}; {section} takes {keys}")
        };
        self.err(key.span().start, message)
    }
}

/// What a TOML value is, in words, with the value when short: `the number 3`, `the text
/// "x"`, `a list`.
fn found(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("the text {}", text(s)),
        DeValue::Integer(i) => format!("the number {i}"),
        DeValue::Float(f) => format!("the number {f}"),
        DeValue::Boolean(b) => format!("{b}"),
        DeValue::Datetime(d) => format!("the date {d}"),
        DeValue::Array(_) => "a list".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}

/// A string from the policy file, quoted for a message: safe to print, and short.
fn text(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        crate::render::text::quoted(s)
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{}...", crate::render::text::quoted(&head))
    }
}

/// An integer value, when `v` is one that fits an `i64`.
fn integer(v: &DeValue<'_>) -> Option<i64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

impl Policy {
    /// Parses a policy file's text. Errors name the line, the section and key, what was
    /// expected and what was found.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let src = Src(text);
        let doc = DeTable::parse(text).map_err(|e| PolicyError {
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            message: format!("not valid TOML: {}", e.message().trim().replace('\n', " ")),
        })?;
        let mut policy = Policy {
            abnormal_level: Level::Error,
            ..Policy::default()
        };
        for (key, value) in doc.get_ref().iter() {
            match key.get_ref().as_ref() {
                "rules" => {
                    let t = src.table(
                        "rules",
                        "a [rules] table of rule = \"severity\" lines",
                        value,
                    )?;
                    policy.rules = typed_rules(src, "[rules]", t)?;
                }
                "codes" => {
                    let t = src.table("codes", "a [codes] table", value)?;
                    policy.codes = typed_codes(src, "[codes]", t)?;
                }
                "limits" => {
                    let t = src.table("limits", "a [limits] table", value)?;
                    typed_limits(src, t, &mut policy)?;
                }
                "scope" => {
                    let list = src.list(
                        "scope",
                        "[[scope]] tables (each starting with a [[scope]] line)",
                        value,
                    )?;
                    for s in list {
                        let t = src.table("[[scope]]", "a table", s)?;
                        policy.scopes.push(typed_scope(src, t)?);
                    }
                }
                _ => return Err(src.unknown("", key, "[rules], [codes], [limits] and [[scope]]")),
            }
        }
        Ok(policy)
    }
}

/// `[limits]`: `max_abnormal_share` (a fraction) and `severity`.
fn typed_limits(src: Src<'_>, t: &Table<'_>, policy: &mut Policy) -> Result<(), PolicyError> {
    for (key, v) in t.iter() {
        match key.get_ref().as_ref() {
            "max_abnormal_share" => {
                let share = match v.get_ref() {
                    DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
                    other => integer(other).map(|i| i as f64),
                };
                let what = "[limits] max_abnormal_share";
                match share {
                    Some(share) if (0.0..=1.0).contains(&share) => {
                        policy.max_abnormal_share = Some(share)
                    }
                    Some(share) => {
                        return Err(src.err(
                            v.span().start,
                            format!(
                                "{what}: {share} is not a fraction between 0 and 1 (0.05 is 5%)"
                            ),
                        ))
                    }
                    None => {
                        return Err(src.err(
                            v.span().start,
                            format!(
                            "{what}: expected a fraction between 0 and 1 (0.05 is 5%), found {}",
                            found(v.get_ref())
                        ),
                        ))
                    }
                }
            }
            "severity" => policy.abnormal_level = src.level("[limits] severity", v)?,
            _ => return Err(src.unknown("[limits]", key, "max_abnormal_share and severity")),
        }
    }
    Ok(())
}

/// One `[[scope]]`: `hosts`, `ports`, `rules` and `codes`.
fn typed_scope(src: Src<'_>, t: &Table<'_>) -> Result<Scope, PolicyError> {
    const S: &str = "[[scope]]";
    let mut scope = Scope {
        hosts: Vec::new(),
        ports: Vec::new(),
        rules: BTreeMap::new(),
        codes: None,
    };
    for (key, v) in t.iter() {
        match key.get_ref().as_ref() {
            "hosts" => {
                let expected =
                    "a list of host names or addresses, like [\"api.example.com\", \"10.0.0.1\"]";
                for h in src.list("[[scope]] hosts", expected, v)? {
                    match h.get_ref() {
                        DeValue::String(name) => scope.hosts.push(HostPattern::parse(name)),
                        other => {
                            return Err(src.err(
                                h.span().start,
                                format!(
                                "{S} hosts: expected a host name or address in quotes, found {}",
                                found(other)
                            ),
                            ))
                        }
                    }
                }
            }
            "ports" => {
                for p in src.list("[[scope]] ports", "a list of ports, like [443, 8443]", v)? {
                    match integer(p.get_ref()).and_then(|n| u16::try_from(n).ok()) {
                        Some(port) => scope.ports.push(port),
                        None => {
                            return Err(src.err(
                                p.span().start,
                                format!(
                                "{S} ports: expected a port (a whole number, 0-65535), found {}",
                                found(p.get_ref())
                            ),
                            ))
                        }
                    }
                }
            }
            "rules" => {
                let rules = src.table(
                    "[[scope]] rules",
                    "a table of rule = \"severity\", like { TlsHandshakeFailed = \"off\" }",
                    v,
                )?;
                scope.rules = typed_rules(src, S, rules)?;
            }
            "codes" => {
                let codes = src.table("[[scope]] codes", "a table like { deny = [1001] }", v)?;
                scope.codes = Some(typed_codes(src, S, codes)?);
            }
            _ => return Err(src.unknown(S, key, "hosts, ports, rules and codes")),
        }
    }
    Ok(scope)
}

/// The rules of a `rules` table, by name; an unknown name is an error at its line.
fn typed_rules(
    src: Src<'_>,
    section: &str,
    t: &Table<'_>,
) -> Result<BTreeMap<CheckRule, Level>, PolicyError> {
    let mut rules = BTreeMap::new();
    for (key, v) in t.iter() {
        let name: &str = key.get_ref();
        let Some(rule) = CheckRule::from_name(name) else {
            return Err(src.err(
                key.span().start,
                format!("unknown rule {} in {section} (rules are the finding names of `wsclose analyze`, e.g. IllegalCloseCode, NoCloseHandshake, or DeniedCode, CodeNotAllowed, AbnormalShare)", text(name)),
            ));
        };
        let level = src.level(&format!("{section} {name}"), v)?;
        rules.insert(rule, level);
    }
    Ok(rules)
}

/// The code lists of a `codes` table as ranges; a bad entry is an error at its line.
fn typed_codes(src: Src<'_>, section: &str, t: &Table<'_>) -> Result<Codes, PolicyError> {
    let mut codes = Codes::default();
    for (key, v) in t.iter() {
        let name: &str = key.get_ref();
        match name {
            "deny" | "allow" => {
                let what = format!("{section} {name}");
                let expected = "a list of close codes and ranges, like [1008, \"4000-4099\"]";
                let mut ranges = Vec::new();
                for spec in src.list(&what, expected, v)? {
                    let range = parse_spec(spec.get_ref())
                        .map_err(|m| src.err(spec.span().start, format!("{what}: {m}")))?;
                    ranges.push(range);
                }
                if name == "deny" {
                    codes.deny = ranges;
                } else {
                    codes.allow = Some(ranges);
                }
            }
            "severity" => codes.severity = Some(src.level(&format!("{section} severity"), v)?),
            _ => return Err(src.unknown(section, key, "deny, allow and severity")),
        }
    }
    Ok(codes)
}

/// A code (`1008`) or a range (`"4000-4099"`, or `"1008"`) as a `CodeRange`.
fn parse_spec(v: &DeValue<'_>) -> Result<CodeRange, String> {
    let one = |n: i64| u16::try_from(n).map_err(|_| format!("{n} is not a close code (0-65535)"));
    match v {
        DeValue::String(t) => {
            let not_a_code = || {
                format!(
                    "{} is not a code or a range like \"4000-4099\"",
                    text(t)
                )
            };
            let (a, b) = t.split_once('-').unwrap_or((t, t));
            let a: i64 = a.trim().parse().map_err(|_| not_a_code())?;
            let b: i64 = b.trim().parse().map_err(|_| not_a_code())?;
            let (a, b) = (one(a)?, one(b)?);
            if a > b {
                return Err(format!("{}: the range is reversed", text(t)));
            }
            Ok(CodeRange(a, b))
        }
        other => match integer(other) {
            Some(n) => one(n).map(|c| CodeRange(c, c)),
            None => Err(format!(
                "expected a close code (a whole number, 1008) or a range in quotes (\"4000-4099\"), found {}",
                found(other)
            )),
        },
    }
}

/// The line (1-based) of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map(|t| t.matches('\n').count())
        .unwrap_or(0)
        + 1
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
            e.message.contains("unknown rule \"BogusRule\" in [rules]"),
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
            e.message.contains("unknown rule \"Bogus\" in [[scope]]"),
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
        let spec = |s: &str| parse_spec(&DeValue::String(s.to_string().into()));
        assert_eq!(spec("4000-4099"), Ok(CodeRange(4000, 4099)));
        assert_eq!(spec(" 1000 - 1003 "), Ok(CodeRange(1000, 1003)));
        assert_eq!(spec("1008"), Ok(CodeRange(1008, 1008)));
        assert!(spec("10-").is_err());
        assert!(spec("-5").is_err());
        assert!(spec("0-65536").is_err());
        let value = DeValue::parse("-1").unwrap();
        assert_eq!(parse_spec(value.get_ref()).ok(), None);
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
        assert_eq!(
            e.to_string(),
            format!(
                "{}:3: [codes]: unknown key \"allwo\"; [codes] takes deny, allow and severity",
                bad.display()
            )
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

    /// Each mistake an operator makes, in the words they get back: the key, what was
    /// expected, what was found, and the line. No serde or TOML-library wording.
    #[test]
    fn errors_in_plain_words() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "[rules]\nIllegalCloseCode = 3\n",
                2,
                "[rules] IllegalCloseCode: expected a severity (\"error\", \"warning\" or \"off\", in quotes), found the number 3",
            ),
            (
                "[rules]\nIllegalCloseCode = \"fatal\"\n",
                2,
                "[rules] IllegalCloseCode: \"fatal\" is not a severity; use \"error\", \"warning\" or \"off\"",
            ),
            (
                "\nfoo = 1\n",
                2,
                "unknown section or key \"foo\"; a policy has [rules], [codes], [limits] and [[scope]]",
            ),
            (
                "[codes]\ndeny = [1000,\n  1.5]\n",
                3,
                "[codes] deny: expected a close code (a whole number, 1008) or a range in quotes (\"4000-4099\"), found the number 1.5",
            ),
            (
                "[codes]\ndeny = [true]\n",
                2,
                "[codes] deny: expected a close code (a whole number, 1008) or a range in quotes (\"4000-4099\"), found true",
            ),
            (
                "[codes]\ndeny = \"1000\"\n",
                2,
                "[codes] deny: expected a list of close codes and ranges, like [1008, \"4000-4099\"], found the text \"1000\"",
            ),
            (
                "[codes]\nallow = [\"4000-40x\"]\n",
                2,
                "[codes] allow: \"4000-40x\" is not a code or a range like \"4000-4099\"",
            ),
            (
                "[codes]\ndeny = [\"5000-4000\"]\n",
                2,
                "[codes] deny: \"5000-4000\": the range is reversed",
            ),
            (
                "[codes]\ndeny = [70000]\n",
                2,
                "[codes] deny: 70000 is not a close code (0-65535)",
            ),
            (
                "[codes]\nseverity = \"bad\"\n",
                2,
                "[codes] severity: \"bad\" is not a severity; use \"error\", \"warning\" or \"off\"",
            ),
            (
                "[limits]\nmax_abnormal_share = \"x\"\n",
                2,
                "[limits] max_abnormal_share: expected a fraction between 0 and 1 (0.05 is 5%), found the text \"x\"",
            ),
            (
                "[limits]\nmax_abnormal_share = 2\n",
                2,
                "[limits] max_abnormal_share: 2 is not a fraction between 0 and 1 (0.05 is 5%)",
            ),
            (
                "[[scope]]\nports = [443, 70000]\n",
                2,
                "[[scope]] ports: expected a port (a whole number, 0-65535), found the number 70000",
            ),
            (
                "[[scope]]\nhosts = \"a\"\n",
                2,
                "[[scope]] hosts: expected a list of host names or addresses, like [\"api.example.com\", \"10.0.0.1\"], found the text \"a\"",
            ),
            (
                "[[scope]]\nports = [1]\nfoo = 2\n",
                3,
                "[[scope]]: unknown key \"foo\"; [[scope]] takes hosts, ports, rules and codes",
            ),
            (
                "rules = 3\n",
                1,
                "rules: expected a [rules] table of rule = \"severity\" lines, found the number 3",
            ),
            (
                "[rules]\nIllegalCloseCode = \"error\"\n[rules]\n",
                3,
                "not valid TOML: duplicate key",
            ),
        ];
        for (text, line, message) in cases {
            let e = Policy::parse(text).unwrap_err();
            assert_eq!((e.line, e.message.as_str()), (*line, *message), "{text}");
            for internal in [
                "variant",
                "untagged",
                "invalid type",
                "u16",
                "f64",
                "sequence",
            ] {
                assert!(!e.message.contains(internal), "{internal}: {}", e.message);
            }
        }
        // A key or value that would be long or unsafe in a terminal comes back short and
        // escaped.
        let long = format!("[rules]\nIllegalCloseCode = \"{}\"\n", "x".repeat(5000));
        let e = Policy::parse(&long).unwrap_err();
        assert!(e.message.len() < 200, "{}", e.message);
        let e = Policy::parse("[rules]\n\"\\u001b[2J\\u009b\" = \"off\"\n").unwrap_err();
        assert!(e.message.contains(r#""\u{1b}[2J\u{9b}""#), "{}", e.message);
    }

    #[cfg(unix)]
    #[test]
    fn only_small_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        // A device that never ends: refused before reading.
        let e = load_policy(Some(Path::new("/dev/zero"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: is a device, not a policy file (a regular TOML file)"
        );
        let e = load_policy(Some(dir.path())).unwrap_err();
        assert!(
            e.to_string()
                .ends_with(": is a directory, not a policy file (a regular TOML file)"),
            "{e}"
        );
        // A FIFO would block on open: refused before opening.
        let fifo = dir.path().join("policy.toml");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|st| st.success()) {
            let e = load_policy(Some(&fifo)).unwrap_err();
            assert!(
                e.to_string()
                    .ends_with(": is a FIFO (named pipe), not a policy file (a regular TOML file)"),
                "{e}"
            );
        }
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_POLICY_BYTES as usize + 1]).unwrap();
        let e = load_policy(Some(&big)).unwrap_err();
        assert!(
            e.to_string()
                .ends_with(": is 1048577 bytes; a policy file is at most 1 MiB (1048576 bytes)"),
            "{e}"
        );
        let binary = dir.path().join("capture.pcap");
        std::fs::write(&binary, [0xd4, 0xc3, 0xb2, 0xa1, 0xff]).unwrap();
        let e = load_policy(Some(&binary)).unwrap_err();
        assert!(
            e.to_string()
                .ends_with(": is not UTF-8 text (a policy file is TOML)"),
            "{e}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));

        // A very long name is echoed shortened, with its length.
        let long = "p".repeat(100_000);
        let e = load_policy(Some(Path::new(&long))).unwrap_err();
        let shown = e.to_string();
        assert!(shown.len() < 300, "{}", shown.len());
        assert!(shown.contains("... (100000 characters)"), "{shown}");
    }
}
