//! The close-code rules of a policy or scope: codes denied, and when set, the only legal
//! codes allowed, as inclusive ranges.

use serde::Serialize;

use crate::rules::Level;

/// A close code or an inclusive range of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CodeRange(pub u16, pub u16);

impl CodeRange {
    /// `code` is in the range.
    pub fn contains(&self, code: u16) -> bool {
        self.0 <= code && code <= self.1
    }
}

/// Code rules of a policy or scope.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Codes {
    /// Codes that break the policy (rule `DeniedCode`).
    pub deny: Vec<CodeRange>,
    /// When set, the only legal codes allowed (rule `CodeNotAllowed`).
    pub allow: Option<Vec<CodeRange>>,
    /// The level of both code rules, over the `rules` tables.
    pub severity: Option<Level>,
}
