//! TLS: the records of each direction (`record`, over tls-parser), opened with the keys
//! (`decrypt`) a key log (`keylog`) gives for the session through the key schedules and
//! ciphers of `crypto`; the facts a connection gathers from them (`session`), and the
//! server's certificate chain checked at the capture's time (`cert`). What the facts mean
//! (a failed handshake, its cause) is decided in `story::tls`.
//!
//! Wire numbers go by the names tls-parser gives them (`TlsVersion`, `TlsRecordType`,
//! `TlsAlertDescription`, ...); `Version` and `CipherSuite` add the names the report shows.

pub mod cert;
pub mod crypto;
pub mod decrypt;
pub mod keylog;
pub mod record;
pub mod session;

use std::fmt;

use serde::{Serialize, Serializer};
pub use tls_parser::{
    TlsAlertDescription, TlsAlertSeverity, TlsCipherSuiteID, TlsHandshakeType, TlsRecordType,
    TlsVersion,
};

pub use cert::{CertReport, Validity};

/// A protocol version as on the wire, shown as `TLS 1.2` (drafts of TLS 1.3 as
/// `TLS 1.3 draft N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version(pub TlsVersion);

/// The high byte of the TLS 1.3 draft versions (0x7f00 + draft number).
const DRAFT_MAJOR: u16 = 0x7f;

impl Version {
    /// TLS 1.3 or one of its drafts: the handshake is encrypted after the ServerHello.
    pub fn is_tls13(self) -> bool {
        self.0 == TlsVersion::Tls13 || self.0 .0 >> 8 == DRAFT_MAJOR
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            TlsVersion::Ssl30 => f.write_str("SSL 3.0"),
            TlsVersion::Tls10 => f.write_str("TLS 1.0"),
            TlsVersion::Tls11 => f.write_str("TLS 1.1"),
            TlsVersion::Tls12 => f.write_str("TLS 1.2"),
            TlsVersion::Tls13 => f.write_str("TLS 1.3"),
            TlsVersion(v) if v >> 8 == DRAFT_MAJOR => write!(f, "TLS 1.3 draft {}", v & 0xff),
            TlsVersion(v) => write!(f, "0x{v:04x}"),
        }
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A cipher suite, shown by its IANA name (or its number when unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CipherSuite(pub TlsCipherSuiteID);

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match tls_parser::TlsCipherSuite::from_id(self.0 .0) {
            Some(c) => f.write_str(c.name),
            None => write!(f, "0x{:04x}", self.0 .0),
        }
    }
}

impl Serialize for CipherSuite {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Version(TlsVersion::Tls12).to_string(), "TLS 1.2");
        assert_eq!(Version(TlsVersion(0x7f12)).to_string(), "TLS 1.3 draft 18");
        assert!(Version(TlsVersion(0x7f12)).is_tls13());
        assert!(!Version(TlsVersion::Tls12).is_tls13());
        assert_eq!(Version(TlsVersion(0x1234)).to_string(), "0x1234");
        assert_eq!(
            CipherSuite(TlsCipherSuiteID(0x1301)).to_string(),
            "TLS_AES_128_GCM_SHA256"
        );
        assert_eq!(CipherSuite(TlsCipherSuiteID(0xfefe)).to_string(), "0xfefe");
    }
}
