//! The finding rules, in one table: each rule's name (the key of a `check` policy file and
//! of the JSON output), its severity in `analyze`, its default level in `check`, and what to
//! do about it. Adding a rule is one line of `rules!` below.

use serde::{Deserialize, Serialize, Serializer};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context worth knowing (mid-stream start, heuristic detection).
    Info,
    /// The capture could not be fully analyzed here (gap, cut, limit reached).
    Warning,
    /// The traffic breaks RFC 6455.
    Error,
}

/// What a `check` policy does with a rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Off,
    Warning,
    #[default]
    Error,
}

/// What to do about a broken rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fix {
    /// The same advice whatever the connection.
    Text(&'static str),
    /// The catalog's fix for the close code the finding is about.
    CloseCode,
    /// The fix the TLS failure diagnosis found.
    TlsFailure,
    /// The likely cause of the drop, from the close story.
    LikelyCause,
    /// Nothing to fix in the traffic (capture anomalies, context).
    None,
}

macro_rules! rules {
    ($( $(#[$doc:meta])* $name:ident => $severity:ident, $level:ident, $fix:expr; )*) => {
        /// The rule a finding is about, named after what is wrong. The declaration order is
        /// the order findings of equal severity and packet are listed in.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule {
            $( $(#[$doc])* $name, )*
        }

        impl Rule {
            /// Every rule, in declaration order.
            pub const ALL: &'static [Rule] = &[$(Rule::$name),*];

            /// The rule's name: the key in a policy file and the `rule` field of the JSON.
            pub fn name(self) -> &'static str {
                match self { $(Rule::$name => stringify!($name),)* }
            }

            /// Severity of the finding in `analyze`.
            pub fn severity(self) -> Severity {
                match self { $(Rule::$name => Severity::$severity,)* }
            }

            /// Level in `check` when the policy does not set one.
            pub fn check_level(self) -> Level {
                match self { $(Rule::$name => Level::$level,)* }
            }

            /// What to do about it.
            pub fn fix(self) -> Fix {
                match self { $(Rule::$name => $fix,)* }
            }
        }
    };
}

const FRAGMENTS: Fix = Fix::Text("Finish each fragmented message (FIN on its last continuation) before starting another; interleave only control frames.");
const LENGTHS: Fix = Fix::Text("Encode lengths in the shortest form (7 bits up to 125, 16 bits up to 65535) with the 64-bit MSB clear.");
const AFTER_CLOSE: Fix =
    Fix::Text("After sending Close, send nothing but the TCP close; answer a received Close once.");
const ACCEPT: Fix = Fix::Text("Compute Sec-WebSocket-Accept as base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11)); a proxy may be rewriting the key.");

rules! {
    /// A close code that may not be sent (RFC 6455 §7.4).
    IllegalCloseCode => Error, Error, Fix::CloseCode;
    OneByteClosePayload => Error, Error, Fix::Text("Send a Close body of 0 bytes, or a 2-byte code followed by an optional UTF-8 reason.");
    ControlFrameTooLong => Error, Error, Fix::Text("Keep control frames to 125 bytes: a Close reason to at most 123 bytes, ping and pong payloads to 125.");
    FragmentedControlFrame => Error, Error, Fix::Text("Send Close, Ping and Pong frames whole, with FIN set.");
    InvalidUtf8Reason => Error, Error, Fix::Text("Encode the Close reason as UTF-8 (or send no reason); receivers fail the connection otherwise.");
    UnmaskedClientFrame => Error, Error, Fix::Text("Mask every client frame: the client library is broken, or a proxy in between rewrites frames.");
    MaskedServerFrame => Error, Error, Fix::Text("Servers must not mask: fix the server library, or the proxy that re-frames traffic.");
    ReservedBitsSet => Error, Error, Fix::Text("Set RSV bits only for a negotiated extension (RSV1 for permessage-deflate); check that both sides agree on the extension.");
    ReservedOpcode => Error, Error, Fix::Text("Use only the opcodes RFC 6455 defines (0-2, 8-10).");
    ContinuationWithoutStart => Error, Error, FRAGMENTS;
    NewMessageInsideFragmented => Error, Error, FRAGMENTS;
    NonMinimalLength => Error, Error, LENGTHS;
    LengthMsbSet => Error, Error, LENGTHS;
    SecondClose => Error, Error, AFTER_CLOSE;
    DataAfterClose => Error, Error, AFTER_CLOSE;
    /// A text message that is not UTF-8 (RFC 6455 §5.6, §8.1).
    InvalidUtf8Text => Error, Error, Fix::Text("Send text as UTF-8, and anything else as a binary message: a receiver fails the connection with 1007.");
    /// A compressed message that does not inflate (RFC 7692).
    InflateFailed => Error, Error, Fix::Text("Make both sides agree on permessage-deflate (context takeover, window bits); a proxy that rewrites frames without the extension corrupts them.");
    AcceptMismatch => Error, Error, ACCEPT;
    MissingAccept => Error, Error, ACCEPT;
    UpgradeRefused => Warning, Warning, Fix::Text("Look at the HTTP status and the server's access rules (origin, authentication, path); this is not a close code.");
    /// 1010 sent by a server: legal on the wire, but only clients may mean it.
    ServerSentMandatoryExtension => Warning, Warning, Fix::None;
    NoCloseHandshake => Warning, Warning, Fix::LikelyCause;
    CloseNotAnswered => Warning, Warning, Fix::Text("Answer every Close with a Close before closing TCP; check the side that went silent.");
    MidStreamStart => Info, Off, Fix::None;
    HeuristicDetection => Info, Off, Fix::None;
    CaptureGap => Warning, Off, Fix::None;
    LostFrameSync => Warning, Off, Fix::None;
    SnapLenCut => Warning, Off, Fix::None;
    InconsistentRetransmission => Warning, Off, Fix::None;
    /// Bytes a side sent after its own RST: its stack had dropped the connection, so the
    /// peer's stack does not deliver them (RFC 9293 §3.10.7.4); not analyzed.
    DataAfterReset => Warning, Warning, Fix::None;
    /// A segment beyond the window its receiver advertised (or beyond any TCP window, 2^30
    /// bytes, when the window is unknown): the receiver's stack drops it (RFC 9293
    /// §3.10.7.4); not analyzed.
    OutOfWindow => Warning, Warning, Fix::None;
    CloseIncomplete => Warning, Off, Fix::None;
    /// Bytes wsclose gave up on at its own buffer limits (`--max-buffer` per direction,
    /// `--max-buffer-total` for the capture): they could have held anything, so `check`
    /// fails it by default.
    BufferLimit => Warning, Error, Fix::Text("Analyze with a higher --max-buffer (out-of-order bytes per direction) or --max-buffer-total; a capture reordered this much may also come from several interfaces merged out of order.");
    /// An HTTP head of the Upgrade over wsclose's size limits (`http::MAX_HEAD` bytes, or
    /// more header lines than it reads): not read, so the handshake is not checked.
    HandshakeTooLarge => Warning, Error, Fix::Text("Keep the Upgrade request and its answer under 32 KiB and 96 header lines (cookies are the usual bulk); servers commonly refuse heads over 8-16 KiB with 431.");
    /// A connection evicted from the flow table while still being analyzed: what it did
    /// afterwards is not checked, so `check` fails it by default.
    FlowEvicted => Warning, Error, Fix::Text("Analyze with a higher --max-flows (a connection being read costs a few KB, a flow that has carried no payload a few hundred bytes), or split the capture by host or time.");
    /// A compressed message inflated past wsclose's cap (a deflate bomb), or past the
    /// capture's inflation budget.
    DeflateBomb => Warning, Warning, Fix::Text("Limit messages by their inflated size, inflating incrementally and failing with 1009 past the limit, not by their wire size.");
    TruncatedAtEnd => Warning, Off, Fix::None;
    TlsHandshakeFailed => Warning, Warning, Fix::TlsFailure;
    CertificateProblem => Warning, Warning, Fix::None;
    CertificateHint => Info, Off, Fix::None;
    TlsAlert => Info, Off, Fix::None;
    /// A fatal alert decrypted after the handshake: one side ended the TLS session.
    TlsFatalAlert => Warning, Warning, Fix::Text("Look at the logs of the side that sent the alert: it ended the TLS session (for bad_record_mac or decode_error, suspect a proxy or a library bug; for certificate_required, the client certificate).");
    /// A side closed TCP without a TLS close_notify: the TLS stream was cut (decrypted
    /// sessions only).
    TlsTruncated => Info, Off, Fix::Text("End TLS with close_notify before closing TCP; a peer that does not was killed, crashed, or dropped by something in between.");
    /// A TLS session that was not decrypted, and why.
    NotDecrypted => Info, Off, Fix::Text("Record the TLS secrets while capturing (SSLKEYLOGFILE for browsers, curl, Python; node --tls-keylog; Go KeyLogWriter) and pass the file with --keylog, or embed it with `editcap --inject-secrets tls,FILE`.");
    /// The key log's secrets did not open the session's records.
    DecryptionFailed => Warning, Off, Fix::Text("Use the key log written while this capture was made (its client randoms must match); a damaged record at a capture gap fails too.");
}

impl Rule {
    /// The rule called `name`, as a policy file spells it.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.name() == name)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for (i, r) in Rule::ALL.iter().enumerate() {
            assert_eq!(Rule::from_name(r.name()), Some(*r));
            assert_eq!(*r as usize, i);
        }
        assert_eq!(Rule::from_name("NoSuchRule"), None);
        assert_eq!(Rule::IllegalCloseCode.to_string(), "IllegalCloseCode");
    }

    #[test]
    fn defaults_follow_the_policy_of_the_readme() {
        assert_eq!(Rule::IllegalCloseCode.check_level(), Level::Error);
        assert_eq!(Rule::UnmaskedClientFrame.check_level(), Level::Error);
        assert_eq!(Rule::NoCloseHandshake.check_level(), Level::Warning);
        assert_eq!(Rule::TlsHandshakeFailed.check_level(), Level::Warning);
        assert_eq!(Rule::CaptureGap.check_level(), Level::Off);
        // A rule that is an error in `analyze` is on in `check`.
        for r in Rule::ALL {
            if r.severity() == Severity::Error {
                assert_eq!(r.check_level(), Level::Error, "{r}");
            }
        }
    }
}
