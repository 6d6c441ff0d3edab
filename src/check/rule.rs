//! The rules a `check` policy names: every finding rule of `analyze` (`rules::Rule`), and the
//! policy's own rules about close codes and abnormal drops. Takes a name as a policy file
//! spells it, yields a `CheckRule`; its `name()` is that spelling again, and serde writes it
//! the same way (the `rule` field of the JSON output).

use std::fmt;

use serde::{Serialize, Serializer};

use crate::rules::Rule;

/// The rules that come from the policy itself rather than from a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyRule {
    /// A Close frame carries a code the policy denies (`[codes] deny`).
    DeniedCode,
    /// A Close frame carries a legal code outside the policy's `[codes] allow` list.
    CodeNotAllowed,
    /// Too many of a capture's WebSocket connections ended without a Close
    /// (`[limits] max_abnormal_share`).
    AbnormalShare,
}

impl PolicyRule {
    /// Every policy rule, in the order reports list them.
    pub const ALL: &'static [PolicyRule] = &[
        PolicyRule::DeniedCode,
        PolicyRule::CodeNotAllowed,
        PolicyRule::AbnormalShare,
    ];

    /// The rule's name, as in a policy file and the output.
    pub fn name(self) -> &'static str {
        match self {
            PolicyRule::DeniedCode => "DeniedCode",
            PolicyRule::CodeNotAllowed => "CodeNotAllowed",
            PolicyRule::AbnormalShare => "AbnormalShare",
        }
    }
}

/// A rule `check` can report: a finding rule, or one of the policy's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckRule {
    /// A finding of `analyze`, named after the rule it breaks.
    Finding(Rule),
    /// A rule of the policy itself.
    Policy(PolicyRule),
}

impl CheckRule {
    /// The rule's name: a key of a policy's `rules` tables and the `rule` of a violation.
    pub fn name(self) -> &'static str {
        match self {
            CheckRule::Finding(r) => r.name(),
            CheckRule::Policy(r) => r.name(),
        }
    }

    /// The rule called `name`, as a policy file spells it.
    pub fn from_name(name: &str) -> Option<CheckRule> {
        Rule::from_name(name).map(CheckRule::Finding).or_else(|| {
            PolicyRule::ALL
                .iter()
                .copied()
                .find(|r| r.name() == name)
                .map(CheckRule::Policy)
        })
    }
}

impl From<Rule> for CheckRule {
    fn from(r: Rule) -> Self {
        CheckRule::Finding(r)
    }
}

impl From<PolicyRule> for CheckRule {
    fn from(r: PolicyRule) -> Self {
        CheckRule::Policy(r)
    }
}

impl fmt::Display for CheckRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for CheckRule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Rule::ALL {
            let c = CheckRule::from(*r);
            assert_eq!(CheckRule::from_name(c.name()), Some(c));
        }
        for r in PolicyRule::ALL {
            let c = CheckRule::from(*r);
            assert_eq!(CheckRule::from_name(c.name()), Some(c));
        }
        assert_eq!(CheckRule::from_name("NoSuchRule"), None);
        assert_eq!(CheckRule::from_name("deniedcode"), None);
    }

    #[test]
    fn written_as_the_name() {
        let c = CheckRule::Policy(PolicyRule::AbnormalShare);
        assert_eq!(c.to_string(), "AbnormalShare");
        assert_eq!(
            serde_json::to_string(&CheckRule::Finding(Rule::IllegalCloseCode)).ok(),
            Some("\"IllegalCloseCode\"".to_string())
        );
    }
}
