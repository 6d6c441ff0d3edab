//! Close status codes (RFC 6455 §7.4, IANA WebSocket Close Code Number Registry).
//!
//! `CloseCode` accepts every `u16`; `class()` sorts it into the ranges the RFC and the
//! registry define, and `is_legal_on_wire()` says whether an endpoint may put it in a Close
//! frame.

use std::fmt;

/// A status code as found in a Close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(pub u16);

/// The class of a close code, per RFC 6455 §7.4.1-§7.4.2 and the IANA registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeClass {
    /// 0-999: "not used" (§7.4.2).
    NotUsed,
    /// A code defined by RFC 6455 or registered with IANA in 1000-2999 that may be sent.
    Registered,
    /// 1004: reserved, meaning "might be defined in the future"; no endpoint sends it.
    Reserved,
    /// 1005, 1006, 1015: values an API reports locally; they MUST NOT be sent (§7.4.1).
    LocalOnly,
    /// 1016-2999: reserved for future protocol revisions and extensions, none assigned.
    Unassigned,
    /// 3000-3999 entries that are in the IANA registry.
    IanaRegistered,
    /// 3000-3999 without a registration: registrable by libraries and frameworks (legal).
    Registrable,
    /// 4000-4999: private use between the two applications.
    Private,
    /// 5000-65535: outside every range the RFC defines.
    OutOfRange,
}

/// 3000-3999 codes present in the IANA registry.
pub const IANA_3XXX: [u16; 3] = [3000, 3003, 3008];

impl CloseCode {
    pub fn class(self) -> CodeClass {
        match self.0 {
            0..=999 => CodeClass::NotUsed,
            1004 => CodeClass::Reserved,
            1005 | 1006 | 1015 => CodeClass::LocalOnly,
            1000..=1014 => CodeClass::Registered,
            1016..=2999 => CodeClass::Unassigned,
            c @ 3000..=3999 if IANA_3XXX.contains(&c) => CodeClass::IanaRegistered,
            3000..=3999 => CodeClass::Registrable,
            4000..=4999 => CodeClass::Private,
            _ => CodeClass::OutOfRange,
        }
    }

    /// May an endpoint put this code in a Close frame?
    pub fn is_legal_on_wire(self) -> bool {
        matches!(
            self.class(),
            CodeClass::Registered
                | CodeClass::IanaRegistered
                | CodeClass::Registrable
                | CodeClass::Private
        )
    }

    /// Why the code may not be sent, when it may not.
    pub fn illegal_reason(self) -> Option<&'static str> {
        match self.class() {
            CodeClass::NotUsed => Some("codes 0-999 are not used (RFC 6455 §7.4.2)"),
            CodeClass::Reserved => Some("1004 is reserved and has no meaning (RFC 6455 §7.4.1)"),
            CodeClass::LocalOnly => Some(match self.0 {
                1005 => "1005 is reserved for APIs to report \"no status code\"; it MUST NOT be sent (RFC 6455 §7.4.1)",
                1006 => "1006 is reserved for APIs to report an abnormal drop; it MUST NOT be sent (RFC 6455 §7.4.1)",
                _ => "1015 is reserved for APIs to report a failed TLS handshake; it MUST NOT be sent (RFC 6455 §7.4.1)",
            }),
            CodeClass::Unassigned => Some("1016-2999 are reserved for future revisions of the protocol and none is assigned (RFC 6455 §7.4.2)"),
            CodeClass::OutOfRange => Some("codes above 4999 are outside every range RFC 6455 defines"),
            _ => None,
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            self.0,
            crate::close::catalog::lookup(self.0).name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_and_autobahn_lists() {
        for c in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            assert!(CloseCode(c).is_legal_on_wire(), "{c} should be legal");
        }
        for c in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(c).is_legal_on_wire(), "{c} should be illegal");
            assert!(CloseCode(c).illegal_reason().is_some());
        }
    }

    #[test]
    fn every_u16_classifies_consistently() {
        for c in 0..=u16::MAX {
            let code = CloseCode(c);
            assert_eq!(
                code.is_legal_on_wire(),
                code.illegal_reason().is_none(),
                "{c}"
            );
            assert!(!crate::close::catalog::lookup(c).name.is_empty());
        }
    }
}
