//! Fatal errors: the input cannot be read at all.
//!
//! Anything that goes wrong *inside* a readable capture (a cut packet, a gap, a malformed
//! frame) is not an error here but a finding in the report; see `report::Finding`.

use std::fmt;
use std::io;

/// An input that could not be analyzed (or could only be analyzed in part).
#[derive(Debug)]
pub enum Error {
    /// Opening or reading the file failed.
    Io { path: String, source: io::Error },
    /// The file is empty.
    Empty { path: String },
    /// The first bytes are neither a pcap nor a pcapng header.
    NotACapture { path: String, magic: [u8; 4] },
    /// The capture header itself is cut short.
    TruncatedHeader { path: String },
    /// The capture stopped being readable part way through. Packets before `offset` were
    /// analyzed and reported.
    Truncated {
        path: String,
        offset: u64,
        frame_no: u64,
        what: String,
    },
}

impl Error {
    /// The input the error is about.
    pub fn path(&self) -> &str {
        match self {
            Error::Io { path, .. }
            | Error::Empty { path }
            | Error::NotACapture { path, .. }
            | Error::TruncatedHeader { path }
            | Error::Truncated { path, .. } => path,
        }
    }

    /// True when part of the capture was read and reported before the error.
    pub fn is_partial(&self) -> bool {
        matches!(self, Error::Truncated { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Empty { path } => write!(f, "{path}: empty file, not a capture"),
            Error::NotACapture { path, magic } => write!(
                f,
                "{path}: not a pcap or pcapng capture (starts with {:02x} {:02x} {:02x} {:02x})",
                magic[0], magic[1], magic[2], magic[3]
            ),
            Error::TruncatedHeader { path } => {
                write!(f, "{path}: capture header is cut short, no packets to read")
            }
            Error::Truncated {
                path,
                offset,
                frame_no,
                what,
            } => write!(
                f,
                "{path}: {what} at byte offset {offset} (after frame {frame_no}); \
                 the packets before it are reported"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
