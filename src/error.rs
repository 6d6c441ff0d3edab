//! Fatal errors: the input cannot be read at all.
//!
//! Anything that goes wrong *inside* a readable capture (a cut packet, a gap, a malformed
//! frame) is not an error here but a finding in the report; see `report::Finding`.

use std::io;

/// An input that could not be analyzed (or could only be analyzed in part). Each message
/// starts with the input's path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening or reading the file failed.
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    /// The file is empty.
    #[error("{path}: empty file, not a capture")]
    Empty { path: String },
    /// The first bytes are neither a pcap nor a pcapng header.
    #[error(
        "{path}: not a pcap or pcapng capture (starts with {:02x} {:02x} {:02x} {:02x})",
        .magic[0], .magic[1], .magic[2], .magic[3]
    )]
    NotACapture { path: String, magic: [u8; 4] },
    /// The capture header itself is cut short.
    #[error("{path}: capture header is cut short, no packets to read")]
    TruncatedHeader { path: String },
    /// The capture stopped being readable part way through. Packets before `offset` were
    /// analyzed and reported.
    #[error(
        "{path}: {what} at byte offset {offset} (after frame {frame_no}); \
         the packets before it are reported"
    )]
    Truncated {
        path: String,
        offset: u64,
        frame_no: u64,
        what: String,
    },
    /// A TLS key log (for decrypting wss://) could not be read or holds no usable secret.
    #[error("{path}: {what}")]
    KeyLog { path: String, what: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn messages_and_source() {
        let io = Error::Io {
            path: "a.pcap".into(),
            source: io::Error::other("boom"),
        };
        assert_eq!(io.to_string(), "a.pcap: boom");
        assert_eq!(
            io.source().map(ToString::to_string).as_deref(),
            Some("boom")
        );
        let empty = Error::Empty { path: "e".into() };
        assert_eq!(empty.to_string(), "e: empty file, not a capture");
        assert!(empty.source().is_none());
        let magic = Error::NotACapture {
            path: "m".into(),
            magic: [0x7f, 0x45, 0x4c, 0x0a],
        };
        assert_eq!(
            magic.to_string(),
            "m: not a pcap or pcapng capture (starts with 7f 45 4c 0a)"
        );
        let header = Error::TruncatedHeader { path: "h".into() };
        assert_eq!(
            header.to_string(),
            "h: capture header is cut short, no packets to read"
        );
        let cut = Error::Truncated {
            path: "t".into(),
            offset: 40,
            frame_no: 1,
            what: "corrupt packet record".into(),
        };
        assert_eq!(
            cut.to_string(),
            "t: corrupt packet record at byte offset 40 (after frame 1); \
             the packets before it are reported"
        );
        let keylog = Error::KeyLog {
            path: "keys.log".into(),
            what: "not a TLS key log: no CLIENT_RANDOM or *_TRAFFIC_SECRET line (12 lines read)"
                .into(),
        };
        assert_eq!(
            keylog.to_string(),
            "keys.log: not a TLS key log: no CLIENT_RANDOM or *_TRAFFIC_SECRET line \
             (12 lines read)"
        );
        assert!(keylog.source().is_none());
    }
}
