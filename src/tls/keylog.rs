//! The NSS key log (the `SSLKEYLOGFILE` format that browsers, curl, OpenSSL, rustls and Go
//! write, and that pcapng Decryption Secrets Blocks carry): one line per secret,
//! `LABEL <ClientHello.random, 64 hex digits> <secret in hex>`.
//!
//! Takes the text of a key log file or of a Decryption Secrets Block; yields, for each
//! session (by its ClientHello random), the secrets `tls::crypto` needs: the TLS 1.2 master
//! secret and the TLS 1.3 handshake and first application traffic secrets. Never panics;
//! a line that cannot be read is counted as malformed and skipped, and lines are read with a
//! bounded length ([`MAX_LINE`]).
//!
//! Line kinds, as [`KeyLog::add`] counts them:
//! - blank lines and `#` comments: neither valid nor malformed;
//! - `CLIENT_RANDOM`, `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`,
//!   `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0`: kept (valid) when the random is
//!   32 bytes and the secret has its length (48 bytes for a master secret, 32 or 48 for a
//!   traffic secret), otherwise malformed;
//! - any other label of capitals, digits and `_` followed by two hex fields
//!   (`EXPORTER_SECRET`, `EARLY_EXPORTER_SECRET`, `CLIENT_EARLY_TRAFFIC_SECRET`, `RSA`,
//!   `ECH_SECRET`, ...): valid but not needed, so nothing is kept;
//! - anything else: malformed.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use foldhash::fast::RandomState;

use crate::error::Error;

/// A ClientHello random (RFC 5246 §7.4.1.2, RFC 8446 §4.1.2): the key of every key log line.
pub type ClientRandom = [u8; 32];

/// Longest key log line read. The longest line NSS writes (a SHA-384 traffic secret) is 193
/// bytes; this leaves room for other writers' whitespace while bounding memory.
pub const MAX_LINE: usize = 4096;
/// Length of a TLS 1.2 master secret (RFC 5246 §8.1).
const MASTER_LEN: usize = 48;
/// Lengths of a TLS 1.3 traffic secret: the SHA-256 or SHA-384 output (RFC 8446 §7.1).
const TRAFFIC_LENS: [usize; 2] = [32, 48];
/// Longest secret kept.
const MAX_SECRET: usize = 48;

/// The secrets a key log gives for one session (by its ClientHello random).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionSecrets {
    /// `CLIENT_RANDOM` (TLS 1.2 and earlier): the 48-byte master secret.
    pub master: Option<Box<[u8]>>,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET` (TLS 1.3).
    pub client_handshake: Option<Box<[u8]>>,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET` (TLS 1.3).
    pub server_handshake: Option<Box<[u8]>>,
    /// `CLIENT_TRAFFIC_SECRET_0` (TLS 1.3).
    pub client_traffic: Option<Box<[u8]>>,
    /// `SERVER_TRAFFIC_SECRET_0` (TLS 1.3).
    pub server_traffic: Option<Box<[u8]>>,
}

impl SessionSecrets {
    /// Each field, for filling one from another.
    fn fields_mut(&mut self) -> [&mut Option<Box<[u8]>>; 5] {
        [
            &mut self.master,
            &mut self.client_handshake,
            &mut self.server_handshake,
            &mut self.client_traffic,
            &mut self.server_traffic,
        ]
    }

    fn fields(&self) -> [&Option<Box<[u8]>>; 5] {
        [
            &self.master,
            &self.client_handshake,
            &self.server_handshake,
            &self.client_traffic,
            &self.server_traffic,
        ]
    }
}

/// What a call to [`KeyLog::add`] or [`KeyLog::read_file`] found: lines that were read
/// (kept or not needed) and lines that were not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Lines in key log form, whether their secret is kept or not needed.
    pub valid: u64,
    /// Lines that are neither comments, blank, nor in key log form, and lines with a known
    /// label whose random or secret has a bad length or is not hex.
    pub malformed: u64,
}

/// The secrets of every session in one or more key logs.
#[derive(Clone, Default)]
pub struct KeyLog {
    sessions: HashMap<ClientRandom, SessionSecrets, RandomState>,
}

impl fmt::Debug for KeyLog {
    /// Shows the number of sessions, not the secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLog")
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

/// How one line was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Line {
    /// Blank or a comment.
    Skipped,
    /// A secret was kept.
    Kept,
    /// In key log form, but its secret is not needed.
    Unused,
    Malformed,
}

/// Which field of `SessionSecrets` a label fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Master,
    ClientHandshake,
    ServerHandshake,
    ClientTraffic,
    ServerTraffic,
}

impl Field {
    fn of(label: &[u8]) -> Option<Field> {
        Some(match label {
            b"CLIENT_RANDOM" => Field::Master,
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Field::ClientHandshake,
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => Field::ServerHandshake,
            b"CLIENT_TRAFFIC_SECRET_0" => Field::ClientTraffic,
            b"SERVER_TRAFFIC_SECRET_0" => Field::ServerTraffic,
            _ => return None,
        })
    }

    fn fits(self, len: usize) -> bool {
        match self {
            Field::Master => len == MASTER_LEN,
            _ => TRAFFIC_LENS.contains(&len),
        }
    }

    fn of_session(self, s: &mut SessionSecrets) -> &mut Option<Box<[u8]>> {
        match self {
            Field::Master => &mut s.master,
            Field::ClientHandshake => &mut s.client_handshake,
            Field::ServerHandshake => &mut s.server_handshake,
            Field::ClientTraffic => &mut s.client_traffic,
            Field::ServerTraffic => &mut s.server_traffic,
        }
    }
}

/// The value of one hex digit.
fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes `hex` into the start of `out`, returning the number of bytes; `None` when it is
/// not hex, has an odd number of digits, or does not fit.
fn decode_hex(hex: &[u8], out: &mut [u8]) -> Option<usize> {
    if hex.len() % 2 != 0 || hex.len() / 2 > out.len() {
        return None;
    }
    for (pair, o) in hex.chunks_exact(2).zip(out.iter_mut()) {
        let [hi, lo] = pair else { return None };
        *o = hex_digit(*hi)? << 4 | hex_digit(*lo)?;
    }
    Some(hex.len() / 2)
}

/// A label of a line in key log form: capitals, digits and underscores.
fn is_label(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

/// Whitespace around and between fields: spaces, tabs, a CR before the newline, and the NUL
/// padding some writers leave.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\0')
}

impl KeyLog {
    /// An empty key log.
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    /// Adds every line of `text` (a file or a pcapng Decryption Secrets Block body). A line
    /// for a session and label already known replaces the earlier secret.
    pub fn add(&mut self, text: &[u8]) -> Parsed {
        let mut parsed = Parsed::default();
        for line in text.split(|&b| b == b'\n') {
            let kind = if line.len() > MAX_LINE {
                Line::Malformed
            } else {
                self.add_line(line)
            };
            count(&mut parsed, kind);
        }
        parsed
    }

    /// Reads a key log file line by line (lines longer than [`MAX_LINE`] are malformed).
    /// An error when the file cannot be read, or when it has no line this module keeps (no
    /// `CLIENT_RANDOM` or `*_TRAFFIC_SECRET` line): then it is not a key log for decryption.
    pub fn read_file(&mut self, path: &Path) -> Result<Parsed, Error> {
        let shown = path.display().to_string();
        let unreadable = |e: io::Error| Error::KeyLog {
            path: shown.clone(),
            what: format!("cannot read key log: {e}"),
        };
        let mut reader = BufReader::new(File::open(path).map_err(unreadable)?);
        let mut parsed = Parsed::default();
        let (mut kept, mut lines) = (0u64, 0u64);
        let mut line = Vec::with_capacity(MAX_LINE);
        while let Some(too_long) = read_line(&mut reader, &mut line).map_err(unreadable)? {
            lines += 1;
            let kind = if too_long {
                Line::Malformed
            } else {
                self.add_line(&line)
            };
            kept += u64::from(kind == Line::Kept);
            count(&mut parsed, kind);
        }
        if kept == 0 {
            let s = if lines == 1 { "" } else { "s" };
            return Err(Error::KeyLog {
                path: shown,
                what: format!(
                    "not a TLS key log: no CLIENT_RANDOM or *_TRAFFIC_SECRET line \
                     ({lines} line{s} read)"
                ),
            });
        }
        Ok(parsed)
    }

    /// The secrets known for the session with this ClientHello random.
    pub fn get(&self, random: &ClientRandom) -> Option<&SessionSecrets> {
        self.sessions.get(random)
    }

    /// Adds another key log's sessions; for a session known to both, `other` fills only the
    /// secrets this one lacks.
    pub fn merge(&mut self, other: &KeyLog) {
        for (random, theirs) in &other.sessions {
            let ours = self.sessions.entry(*random).or_default();
            for (mine, their) in ours.fields_mut().into_iter().zip(theirs.fields()) {
                if mine.is_none() {
                    mine.clone_from(their);
                }
            }
        }
    }

    /// The number of sessions with at least one secret.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// No session is known.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Reads one line (without its newline).
    fn add_line(&mut self, line: &[u8]) -> Line {
        let mut fields = line.split(|&c| is_space(c)).filter(|f| !f.is_empty());
        let Some(label) = fields.next() else {
            return Line::Skipped;
        };
        if label.first() == Some(&b'#') {
            return Line::Skipped;
        }
        let (Some(random), Some(secret), None) = (fields.next(), fields.next(), fields.next())
        else {
            return Line::Malformed;
        };
        let Some(field) = Field::of(label) else {
            // A label this module does not use: valid when in key log form.
            let hex = |s: &[u8]| s.len() % 2 == 0 && s.iter().all(|&c| hex_digit(c).is_some());
            return if is_label(label) && hex(random) && hex(secret) {
                Line::Unused
            } else {
                Line::Malformed
            };
        };
        let mut client_random = [0u8; 32];
        if decode_hex(random, &mut client_random) != Some(client_random.len()) {
            return Line::Malformed;
        }
        let mut value = [0u8; MAX_SECRET];
        let Some(len) = decode_hex(secret, &mut value).filter(|&n| field.fits(n)) else {
            return Line::Malformed;
        };
        let Some(value) = value.get(..len) else {
            return Line::Malformed;
        };
        let session = self.sessions.entry(client_random).or_default();
        *field.of_session(session) = Some(Box::from(value));
        Line::Kept
    }
}

fn count(parsed: &mut Parsed, kind: Line) {
    match kind {
        Line::Skipped => {}
        Line::Kept | Line::Unused => parsed.valid += 1,
        Line::Malformed => parsed.malformed += 1,
    }
}

/// Reads one line into `line` (cleared first, without the newline), keeping at most
/// [`MAX_LINE`] bytes of it. `None` at the end of the input; `Some(true)` when the line was
/// longer and cut.
fn read_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    line.clear();
    let (mut any, mut too_long) = (false, false);
    loop {
        let buf = match r.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let newline = buf.iter().position(|&b| b == b'\n');
        let end = newline.unwrap_or(buf.len());
        let room = MAX_LINE.saturating_sub(line.len());
        too_long |= end > room;
        line.extend_from_slice(buf.get(..end.min(room)).unwrap_or_default());
        let used = newline.map_or(end, |n| n + 1);
        r.consume(used);
        if newline.is_some() {
            return Ok(Some(too_long));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const CR: &str = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0";
    const CR2: &str = "0000000000000000000000000000000000000000000000000000000000000002";

    fn random(hex: &str) -> ClientRandom {
        let mut r = [0u8; 32];
        assert_eq!(decode_hex(hex.as_bytes(), &mut r), Some(32));
        r
    }

    fn bytes(b: u8, n: usize) -> Option<Box<[u8]>> {
        Some(vec![b; n].into_boxed_slice())
    }

    fn secret_hex(b: u8, n: usize) -> String {
        format!("{b:02x}").repeat(n)
    }

    #[test]
    fn every_label() {
        let text = format!(
            "CLIENT_RANDOM {CR} {m}\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR} {ch}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {CR} {sh}\n\
             CLIENT_TRAFFIC_SECRET_0 {CR} {ct}\n\
             SERVER_TRAFFIC_SECRET_0 {CR} {st}\n\
             EXPORTER_SECRET {CR} {x}\n\
             EARLY_EXPORTER_SECRET {CR} {x}\n\
             CLIENT_EARLY_TRAFFIC_SECRET {CR} {x}\n\
             RSA 0123456789abcdef {m}\n",
            m = secret_hex(1, 48),
            ch = secret_hex(2, 32),
            sh = secret_hex(3, 32),
            ct = secret_hex(4, 48),
            st = secret_hex(5, 48),
            x = secret_hex(6, 32),
        );
        let mut log = KeyLog::new();
        assert_eq!(
            log.add(text.as_bytes()),
            Parsed {
                valid: 9,
                malformed: 0
            }
        );
        assert_eq!(log.len(), 1);
        assert_eq!(
            log.get(&random(CR)),
            Some(&SessionSecrets {
                master: bytes(1, 48),
                client_handshake: bytes(2, 32),
                server_handshake: bytes(3, 32),
                client_traffic: bytes(4, 48),
                server_traffic: bytes(5, 48),
            })
        );
        assert_eq!(log.get(&random(CR2)), None);
    }

    #[test]
    fn crlf_comments_blanks_and_spaces() {
        let text = format!(
            "# SSL/TLS secrets log file, generated by NSS\r\n\
             \r\n\
             \n\
             \x20  \t\n\
             CLIENT_RANDOM {CR} {m}  \r\n\
             \tSERVER_TRAFFIC_SECRET_0\t{up}  {s}\t\r\n\
             CLIENT_TRAFFIC_SECRET_0 {CR2} {s}\0\0\0",
            m = secret_hex(0xab, 48),
            s = secret_hex(0xcd, 32),
            up = CR.to_uppercase(),
        );
        let mut log = KeyLog::new();
        assert_eq!(
            log.add(text.as_bytes()),
            Parsed {
                valid: 3,
                malformed: 0
            }
        );
        let s = log.get(&random(CR)).unwrap();
        assert_eq!(s.master, bytes(0xab, 48));
        assert_eq!(s.server_traffic, bytes(0xcd, 32));
        assert_eq!(
            log.get(&random(CR2)).unwrap().client_traffic,
            bytes(0xcd, 32)
        );
        assert_eq!(KeyLog::new().add(b""), Parsed::default());
    }

    #[test]
    fn malformed_lines() {
        let m = secret_hex(1, 48);
        for line in [
            format!("CLIENT_RANDOM {CR} {}", secret_hex(1, 47)), // short master
            format!("CLIENT_RANDOM {CR} {}", secret_hex(1, 49)), // long master
            format!("CLIENT_RANDOM {CR} {}0", m),                // odd digits
            format!("CLIENT_RANDOM {CR} {}zz", secret_hex(1, 47)), // not hex
            format!("CLIENT_RANDOM {} {m}", &CR[..62]),          // short random
            format!("CLIENT_RANDOM {CR}00 {m}"),                 // long random
            format!("CLIENT_RANDOM {CR} {m} extra"),             // a fourth field
            format!("CLIENT_RANDOM {CR}"),                       // no secret
            "CLIENT_RANDOM".to_string(),
            format!("CLIENT_TRAFFIC_SECRET_0 {CR} {}", secret_hex(1, 40)), // not a hash length
            format!("SERVER_HANDSHAKE_TRAFFIC_SECRET {CR} {}", secret_hex(1, 64)),
            format!("client_random {CR} {m}"), // labels are capitals
            format!("EXPORTER_SECRET {CR} xyz"),
            "hello world".to_string(),
            "\u{feff}garbage: \u{1f600}".to_string(),
            "x".repeat(MAX_LINE + 1),
        ] {
            let mut log = KeyLog::new();
            assert_eq!(
                log.add(line.as_bytes()),
                Parsed {
                    valid: 0,
                    malformed: 1
                },
                "{line}"
            );
            assert!(log.is_empty(), "{line}");
        }
        // Binary input: never a panic, nothing kept.
        let noise: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        let mut log = KeyLog::new();
        let p = log.add(&noise);
        assert_eq!(p.valid, 0);
        assert!(log.is_empty());
    }

    #[test]
    fn later_lines_replace_and_merge_fills() {
        let mut a = KeyLog::new();
        a.add(
            format!(
                "CLIENT_RANDOM {CR} {}\nCLIENT_RANDOM {CR} {}\n",
                secret_hex(1, 48),
                secret_hex(2, 48)
            )
            .as_bytes(),
        );
        assert_eq!(a.get(&random(CR)).unwrap().master, bytes(2, 48));

        let mut b = KeyLog::new();
        b.add(
            format!(
                "CLIENT_RANDOM {CR} {}\nCLIENT_TRAFFIC_SECRET_0 {CR} {}\n\
                 SERVER_TRAFFIC_SECRET_0 {CR2} {}\n",
                secret_hex(3, 48),
                secret_hex(4, 32),
                secret_hex(5, 32)
            )
            .as_bytes(),
        );
        a.merge(&b);
        assert_eq!(a.len(), 2);
        let s = a.get(&random(CR)).unwrap();
        assert_eq!(s.master, bytes(2, 48), "merge keeps what is known");
        assert_eq!(
            s.client_traffic,
            bytes(4, 32),
            "merge fills what is missing"
        );
        assert_eq!(a.get(&random(CR2)).unwrap().server_traffic, bytes(5, 32));
        assert_eq!(format!("{a:?}"), "KeyLog { sessions: 2 }");
    }

    #[test]
    fn read_file_and_its_errors() {
        let dir = tempfile::tempdir().unwrap();

        let missing = dir.path().join("missing.log");
        let err = KeyLog::new().read_file(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: cannot read key log: ", missing.display())),
            "{err}"
        );

        let notes = dir.path().join("notes.txt");
        let mut f = File::create(&notes).unwrap();
        for i in 0..11 {
            writeln!(f, "line {i}").unwrap();
        }
        writeln!(f, "EXPORTER_SECRET {CR} {}", secret_hex(1, 32)).unwrap();
        drop(f);
        let err = KeyLog::new().read_file(&notes).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: not a TLS key log: no CLIENT_RANDOM or *_TRAFFIC_SECRET line \
                 (12 lines read)",
                notes.display()
            )
        );

        let empty = dir.path().join("empty.log");
        File::create(&empty).unwrap();
        let err = KeyLog::new().read_file(&empty).unwrap_err().to_string();
        assert!(err.ends_with("(0 lines read)"), "{err}");

        // A good file with an over-long line and no final newline.
        let good = dir.path().join("keys.log");
        let mut f = File::create(&good).unwrap();
        writeln!(f, "# keys").unwrap();
        writeln!(f, "{}", "A".repeat(3 * MAX_LINE)).unwrap();
        write!(f, "CLIENT_RANDOM {CR} {}", secret_hex(9, 48)).unwrap();
        drop(f);
        let mut log = KeyLog::new();
        assert_eq!(
            log.read_file(&good).unwrap(),
            Parsed {
                valid: 1,
                malformed: 1
            }
        );
        assert_eq!(log.get(&random(CR)).unwrap().master, bytes(9, 48));
    }

    #[test]
    fn bounded_line_reader() {
        let text = format!("a\r\n\n{}\nb", "x".repeat(MAX_LINE + 5));
        // A tiny buffer, so that lines span refills.
        let mut r = BufReader::with_capacity(7, text.as_bytes());
        let mut line = Vec::new();
        assert_eq!(read_line(&mut r, &mut line).unwrap(), Some(false));
        assert_eq!(line, b"a\r");
        assert_eq!(read_line(&mut r, &mut line).unwrap(), Some(false));
        assert_eq!(line, b"");
        assert_eq!(read_line(&mut r, &mut line).unwrap(), Some(true));
        assert_eq!(line.len(), MAX_LINE);
        assert_eq!(read_line(&mut r, &mut line).unwrap(), Some(false));
        assert_eq!(line, b"b");
        assert_eq!(read_line(&mut r, &mut line).unwrap(), None);
    }
}
