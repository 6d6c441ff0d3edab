//! The classic libpcap file format, little-endian with microsecond timestamps. Takes a link
//! type, then (timestamp in microseconds, link-layer bytes) per packet; yields the 24-byte
//! file header and one 16-byte record header before each packet, with the captured length
//! equal to the original length (nothing is cut). Either appended to a `Vec<u8>` or streamed
//! to any `io::Write` with [`PcapWriter`].

use std::io::{self, Write};

/// Magic number of a microsecond-resolution pcap file (written little-endian).
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// File format version 2.4, the only one in use.
pub const VERSION_MAJOR: u16 = 2;
/// See [`VERSION_MAJOR`].
pub const VERSION_MINOR: u16 = 4;
/// Snap length declared in the header: the largest IPv4 packet, so nothing is cut.
pub const SNAPLEN: u32 = 65_535;
/// `LINKTYPE_ETHERNET` (tcpdump.org link-layer header types).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Bytes of the file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Offset of the link type in the file header (after magic, versions, zone, sigfigs, snaplen).
pub const LINKTYPE_OFFSET: usize = 20;
/// Bytes of a record header (seconds, microseconds, captured length, original length).
pub const RECORD_HEADER_LEN: usize = 16;
/// Microseconds per second: a record's timestamp is split into these two fields.
const MICROS_PER_SEC: u64 = 1_000_000;

/// The file header for `linktype`.
pub fn file_header(linktype: u32) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[0..4].copy_from_slice(&MAGIC_MICROS.to_le_bytes());
    h[4..6].copy_from_slice(&VERSION_MAJOR.to_le_bytes());
    h[6..8].copy_from_slice(&VERSION_MINOR.to_le_bytes());
    // 8..16: time zone offset and timestamp accuracy, both 0 as every writer does.
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[LINKTYPE_OFFSET..].copy_from_slice(&linktype.to_le_bytes());
    h
}

/// A file header with any `magic` (byte order and resolution variants; written
/// little-endian) and `linktype`.
pub fn file_header_with_magic(magic: u32, linktype: u32) -> [u8; FILE_HEADER_LEN] {
    let mut h = file_header(linktype);
    h[0..4].copy_from_slice(&magic.to_le_bytes());
    h
}

/// Appends a record with the timestamp fields as given (seconds, and the fraction in the
/// file's units) to `out`.
pub fn push_raw_record(out: &mut Vec<u8>, ts_sec: u32, ts_frac: u32, data: &[u8]) {
    let len = data.len() as u32;
    for v in [ts_sec, ts_frac, len, len] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(data);
}

/// The record header of a `len`-byte packet at `ts_us` microseconds since the epoch.
/// Seconds are truncated to 32 bits, as the format requires.
pub fn record_header(ts_us: u64, len: usize) -> [u8; RECORD_HEADER_LEN] {
    let len = len as u32;
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[0..4].copy_from_slice(&((ts_us / MICROS_PER_SEC) as u32).to_le_bytes());
    h[4..8].copy_from_slice(&((ts_us % MICROS_PER_SEC) as u32).to_le_bytes());
    h[8..12].copy_from_slice(&len.to_le_bytes());
    h[12..16].copy_from_slice(&len.to_le_bytes());
    h
}

/// Appends one record (header and `data`) to `out`.
pub fn push_record(out: &mut Vec<u8>, ts_us: u64, data: &[u8]) {
    out.extend_from_slice(&record_header(ts_us, data.len()));
    out.extend_from_slice(data);
}

/// Streams a pcap file to `W`, counting the bytes written.
pub struct PcapWriter<W: Write> {
    out: W,
    bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header for `linktype`.
    pub fn new(mut out: W, linktype: u32) -> io::Result<Self> {
        out.write_all(&file_header(linktype))?;
        Ok(PcapWriter {
            out,
            bytes: FILE_HEADER_LEN as u64,
        })
    }

    /// Writes one record: its header, then `data`.
    pub fn record(&mut self, ts_us: u64, data: &[u8]) -> io::Result<()> {
        self.out.write_all(&record_header(ts_us, data.len()))?;
        self.out.write_all(data)?;
        self.bytes += (RECORD_HEADER_LEN + data.len()) as u64;
        Ok(())
    }

    /// Bytes written so far, file header included.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Flushes and gives back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_where_readers_look() {
        let h = file_header(LINKTYPE_ETHERNET);
        assert_eq!(h[..4], [0xd4, 0xc3, 0xb2, 0xa1]); // magic, little-endian
        assert_eq!(h[4..8], [2, 0, 4, 0]); // version 2.4
        assert_eq!(h[8..16], [0; 8]); // zone, sigfigs
        assert_eq!(h[16..20], [0xff, 0xff, 0, 0]); // snaplen 65535
        assert_eq!(h[20..24], [1, 0, 0, 0]); // Ethernet
    }

    #[test]
    fn records_split_the_timestamp_and_repeat_the_length() {
        let mut v = Vec::new();
        push_record(&mut v, 1_700_000_000_123_456, &[9, 8, 7]);
        assert_eq!(v[0..4], 1_700_000_000u32.to_le_bytes());
        assert_eq!(v[4..8], 123_456u32.to_le_bytes());
        assert_eq!(v[8..12], 3u32.to_le_bytes()); // captured
        assert_eq!(v[12..16], 3u32.to_le_bytes()); // original
        assert_eq!(v[16..], [9, 8, 7]);
    }

    #[test]
    fn writer_streams_the_same_bytes_and_counts_them() {
        let mut w = PcapWriter::new(Vec::new(), LINKTYPE_ETHERNET).unwrap();
        w.record(5, b"abc").unwrap();
        w.record(2_000_000, b"").unwrap();
        assert_eq!(w.bytes_written(), 24 + 16 + 3 + 16);
        let got = w.finish().unwrap();
        let mut want = file_header(LINKTYPE_ETHERNET).to_vec();
        push_record(&mut want, 5, b"abc");
        push_record(&mut want, 2_000_000, b"");
        assert_eq!(got, want);
    }
}
