//! Capture reading: pcap (both byte orders, micro- and nanosecond) and pcapng (several
//! sections and interfaces), optionally gzip-compressed, from a file or standard input.
//!
//! Takes a `Read`, yields `RawPacket`s one at a time through a callback; the reader holds one
//! bounded buffer, never the file. Never panics on input: a cut or corrupt block ends the
//! read with `Error::Truncated` naming the byte offset, after every packet before it was
//! delivered.

use std::fs::File;
use std::io::{self, Read};

use pcap_parser::pcapng::{Block, SecretsType};
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{InterfaceDescriptionBlock, Linktype, PcapBlockOwned, PcapError};

use crate::error::Error;

/// First buffer size of the block reader.
const INITIAL_BUFFER: usize = 1 << 20;
/// Largest block the reader will grow its buffer for. pcapng allows blocks up to 4 GiB, but
/// no capture tool writes packets above 256 KiB (tcpdump's and dumpcap's maximum snap
/// length); 16 MiB leaves room for odd writers while keeping memory bounded.
const MAX_BLOCK: usize = 16 << 20;

/// Timestamp in nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub i64);

impl Ts {
    /// Signed difference `self - earlier` in nanoseconds.
    pub fn since(self, earlier: Ts) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Which container format the capture uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pcap,
    Pcapng,
}

/// One packet record as stored in the capture.
#[derive(Debug)]
pub struct RawPacket<'a> {
    /// 1-based packet number, as Wireshark numbers frames.
    pub frame_no: u64,
    /// When the packet was captured.
    pub ts: Ts,
    /// LINKTYPE_* value of the interface the packet was captured on.
    pub linktype: u32,
    /// Captured bytes (possibly fewer than `orig_len` when the snap length cut the packet).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
}

/// One record of the capture that matters to the analysis, in file order.
#[derive(Debug)]
pub enum Record<'a> {
    Packet(RawPacket<'a>),
    /// A pcapng Decryption Secrets Block holding a TLS key log (NSS key log lines).
    TlsSecrets(&'a [u8]),
}

/// The secrets type of a Decryption Secrets Block holding an NSS key log ("TLSK").
const TLS_KEY_LOG: SecretsType = SecretsType::TlsKeyLog;

/// What the reader learnt about the file, besides its packets.
#[derive(Debug, Default, Clone)]
pub struct CaptureInfo {
    /// The container format, once the first bytes were read.
    pub format: Option<Format>,
    /// Packets delivered.
    pub packets: u64,
}

/// A pcapng interface: what the link type and timestamps of its packets mean.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second (`if_tsresol`).
    units_per_sec: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset_sec: i64,
}

/// Reads `len` bytes whenever possible: pipes and decompressors hand out short reads, and the
/// block reader treats a short first read as a short file.
struct FullRead<R>(R);

impl<R: Read> Read for FullRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let rest = buf.get_mut(filled..).unwrap_or_default();
            match self.0.read(rest) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if filled > 0 {
                        break;
                    }
                    return Err(e);
                }
            }
        }
        Ok(filled)
    }
}

/// Opens `path` (`-` is standard input) and returns a reader positioned at the start of the
/// capture, gzip already undone.
pub fn open(path: &str) -> Result<(Box<dyn Read + Send>, bool), Error> {
    let raw: Box<dyn Read + Send> = if path == "-" {
        Box::new(io::stdin())
    } else {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_string(),
            source,
        })?;
        if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(Error::Io {
                path: path.to_string(),
                source: io::Error::other("is a directory"),
            });
        }
        Box::new(file)
    };
    let mut raw = FullRead(raw);
    let mut magic = [0u8; 2];
    let n = raw.read(&mut magic).map_err(|source| Error::Io {
        path: path.to_string(),
        source,
    })?;
    let head = io::Cursor::new(magic.get(..n).unwrap_or_default().to_vec());
    let rejoined = head.chain(raw);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok((Box::new(flate2::read::MultiGzDecoder::new(rejoined)), true))
    } else {
        Ok((Box::new(rejoined), false))
    }
}

/// Reads every packet of the capture in `input`, calling `on_record` for each (and for each
/// block of TLS secrets) in file order.
///
/// Returns what was learnt about the file. A capture that stops being readable part way
/// returns `Err(Error::Truncated)` after delivering every packet before the damage; `info`
/// is filled in either way.
pub fn read_packets<F>(
    path: &str,
    input: Box<dyn Read + Send>,
    info: &mut CaptureInfo,
    mut on_record: F,
) -> Result<(), Error>
where
    F: FnMut(Record<'_>),
{
    let mut input = FullRead(input);
    let (format, head) = sniff(path, &mut input)?;
    info.format = Some(format);
    let rejoined = FullRead(io::Cursor::new(head).chain(input));
    let mut blocks = Blocks {
        reader: open_reader(path, rejoined)?,
        packets: Packets::new(),
        offset: 0,
    };
    let result = blocks.read_all(&mut on_record);
    info.packets = blocks.packets.frame_no;
    result.map_err(|what| Error::Truncated {
        path: path.to_string(),
        offset: blocks.offset,
        frame_no: blocks.packets.frame_no,
        what: what.to_string(),
    })
}

/// pcap's magic numbers: micro- and nanosecond timestamps and the "modified" (Kuznetsov)
/// format, each in both byte orders, as read little-endian. pcap-parser names only the
/// pcapng one (`SHB_MAGIC`).
const PCAP_MAGICS: [u32; 6] = [
    0xa1b2_c3d4,
    0xd4c3_b2a1,
    0xa1b2_3c4d,
    0x4d3c_b2a1,
    0xa1b2_cd34,
    0x34cd_b2a1,
];

/// Tells pcap from pcapng by the first four bytes, and returns them to be put back in front
/// of the input. Done here rather than left to `pcap_parser::create_reader` so that an empty
/// file, a cut header and a file that is no capture at all each get their own message,
/// with the bytes that were found.
fn sniff(path: &str, input: &mut impl Read) -> Result<(Format, Vec<u8>), Error> {
    let mut magic = [0u8; 4];
    let n = input.read(&mut magic).map_err(|source| Error::Io {
        path: path.to_string(),
        source,
    })?;
    if n == 0 {
        return Err(Error::Empty {
            path: path.to_string(),
        });
    }
    let format = match u32::from_le_bytes(magic) {
        pcap_parser::SHB_MAGIC => Format::Pcapng,
        m if PCAP_MAGICS.contains(&m) => Format::Pcap,
        _ if n < 4 => {
            return Err(Error::TruncatedHeader {
                path: path.to_string(),
            })
        }
        _ => {
            return Err(Error::NotACapture {
                path: path.to_string(),
                magic,
            })
        }
    };
    Ok((format, magic.get(..n).unwrap_or_default().to_vec()))
}

/// pcap-parser's streaming reader over `input`, its header already parsed.
fn open_reader<'r>(
    path: &str,
    input: impl Read + Send + 'r,
) -> Result<Box<dyn PcapReaderIterator + Send + 'r>, Error> {
    pcap_parser::create_reader(INITIAL_BUFFER, input).map_err(|e| match e {
        PcapError::ReadError => Error::Io {
            path: path.to_string(),
            source: io::Error::other("read failed"),
        },
        _ => Error::TruncatedHeader {
            path: path.to_string(),
        },
    })
}

/// Why reading stopped before the end of the input; it becomes `Error::Truncated`.
type Damage = &'static str;

const READ_ERROR: Damage = "read error";
const CUT_RECORD: Damage = "capture ends in the middle of a packet record";
const TOO_LARGE: Damage = "packet record larger than 16 MiB (corrupt length?)";
const CORRUPT: Damage = "corrupt packet record";

/// The block loop over one bounded buffer: blocks are parsed in place, the buffer is
/// refilled when a block runs past its end and grown (up to `MAX_BLOCK`) when a block is
/// larger than all of it.
struct Blocks<'r> {
    reader: Box<dyn PcapReaderIterator + Send + 'r>,
    packets: Packets,
    /// Bytes of the capture consumed so far: where the damage is, when there is some.
    offset: u64,
}

impl Blocks<'_> {
    /// Hands every packet to `on_packet`, until the end of the input or the first damage.
    fn read_all<F>(&mut self, on_packet: &mut F) -> Result<(), Damage>
    where
        F: FnMut(Record<'_>),
    {
        loop {
            match self.reader.next() {
                Ok((consumed, block)) => {
                    self.packets.block(block, on_packet);
                    self.offset += consumed as u64;
                    // No shift here: `refill` moves the few unread bytes once per buffer,
                    // while `consume` would move half the buffer every time it passes the
                    // middle.
                    self.reader.consume_noshift(consumed);
                }
                Err(PcapError::Eof) => return Ok(()),
                Err(PcapError::Incomplete(_)) => {
                    if !self.refill()? {
                        return Ok(());
                    }
                }
                Err(PcapError::BufferTooSmall) => self.grow()?,
                Err(PcapError::UnexpectedEof) => return Err(CUT_RECORD),
                Err(PcapError::ReadError) => return Err(READ_ERROR),
                Err(_) => return Err(CORRUPT),
            }
        }
    }

    /// The next block runs past the bytes buffered: read more. `Ok(false)` at a clean end of
    /// the input. A read that adds nothing while bytes are left over means the last record
    /// is cut, which also guarantees the loop never spins on an empty refill.
    fn refill(&mut self) -> Result<bool, Damage> {
        let before = self.reader.data().len();
        if self.reader.refill().is_err() {
            return Err(READ_ERROR);
        }
        if self.reader.reader_exhausted() && self.reader.data().len() == before {
            return if before > 0 {
                Err(CUT_RECORD)
            } else {
                Ok(false)
            };
        }
        Ok(true)
    }

    /// The next block is larger than the whole buffer: double it, within `MAX_BLOCK`.
    fn grow(&mut self) -> Result<(), Damage> {
        let cap = self.reader.data().len().max(INITIAL_BUFFER);
        let new_size = cap.saturating_mul(2);
        if new_size > MAX_BLOCK || !self.reader.grow(new_size) {
            return Err(TOO_LARGE);
        }
        if self.reader.refill().is_err() {
            return Err(READ_ERROR);
        }
        Ok(())
    }
}

/// Turns blocks into packets: keeps what the headers say about the packets after them
/// (link type, timestamp precision, pcapng interfaces) and numbers the frames.
struct Packets {
    /// The pcapng interfaces of the current section, by interface id.
    interfaces: Vec<Interface>,
    /// The pcap header's link type.
    legacy_linktype: u32,
    /// The pcap header's timestamps count nanoseconds, not microseconds.
    legacy_nanos: bool,
    /// Frames delivered so far (the last frame's number).
    frame_no: u64,
}

/// Link type and clock for an EPB whose interface was never described.
const UNKNOWN_INTERFACE: Interface = Interface {
    linktype: u32::MAX,
    units_per_sec: 1_000_000,
    offset_sec: 0,
};

impl Packets {
    fn new() -> Packets {
        Packets {
            interfaces: Vec::new(),
            legacy_linktype: linktype_value(Linktype::ETHERNET),
            legacy_nanos: false,
            frame_no: 0,
        }
    }

    fn block<F>(&mut self, block: PcapBlockOwned<'_>, on_packet: &mut F)
    where
        F: FnMut(Record<'_>),
    {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.legacy_linktype = linktype_value(h.network);
                self.legacy_nanos = h.is_nanosecond_precision();
            }
            PcapBlockOwned::Legacy(b) => {
                let frac = if self.legacy_nanos {
                    i64::from(b.ts_usec)
                } else {
                    i64::from(b.ts_usec) * 1000
                };
                let ts = Ts(i64::from(b.ts_sec) * 1_000_000_000 + frac);
                self.deliver(ts, self.legacy_linktype, b.data, b.origlen, on_packet);
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => self.interfaces.clear(),
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.interfaces.push(Interface::of(&idb));
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let iface = usize::try_from(epb.if_id)
                    .ok()
                    .and_then(|id| self.interfaces.get(id))
                    .copied()
                    .unwrap_or(UNKNOWN_INTERFACE);
                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ts = Ts(to_nanos(raw, iface.units_per_sec, iface.offset_sec));
                self.deliver(
                    ts,
                    iface.linktype,
                    epb.packet_data(),
                    epb.origlen,
                    on_packet,
                );
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                let linktype = self.interfaces.first().map_or(u32::MAX, |i| i.linktype);
                self.deliver(Ts(0), linktype, spb.packet_data(), spb.origlen, on_packet);
            }
            PcapBlockOwned::NG(Block::DecryptionSecrets(dsb))
                if dsb.secrets_type == TLS_KEY_LOG =>
            {
                let len = usize::try_from(dsb.secrets_len).unwrap_or(usize::MAX);
                on_packet(Record::TlsSecrets(dsb.data.get(..len).unwrap_or(dsb.data)));
            }
            PcapBlockOwned::NG(_) => {}
        }
    }

    fn deliver<F>(&mut self, ts: Ts, linktype: u32, data: &[u8], orig_len: u32, on_packet: &mut F)
    where
        F: FnMut(Record<'_>),
    {
        self.frame_no += 1;
        on_packet(Record::Packet(RawPacket {
            frame_no: self.frame_no,
            ts,
            linktype,
            data,
            orig_len,
        }));
    }
}

impl Interface {
    fn of(idb: &InterfaceDescriptionBlock<'_>) -> Interface {
        Interface {
            linktype: linktype_value(idb.linktype),
            units_per_sec: units_per_sec(idb),
            offset_sec: idb.ts_offset(),
        }
    }
}

/// The LINKTYPE_* number as stored in the file. pcap-parser holds it as an `i32`; the field
/// is unsigned on disk (pcap keeps FCS flags in its high bits), so the cast gives back the
/// file's value unchanged.
fn linktype_value(l: Linktype) -> u32 {
    l.0 as u32
}

/// The interface's timestamp units per second (`if_tsresol`). pcap-parser's
/// `ts_resolution` decodes the 10^-n form; in 0.17 it returns `None` for every 2^-n value
/// (it range-checks the byte before masking off the flag bit), so that form is decoded
/// here. Invalid values fall back to microseconds, the pcapng default.
fn units_per_sec(idb: &InterfaceDescriptionBlock<'_>) -> u64 {
    idb.ts_resolution()
        .or_else(|| binary_resolution(idb.if_tsresol))
        .unwrap_or(1_000_000)
}

/// `if_tsresol` with the high bit set: 2^-n seconds, for n below 64.
fn binary_resolution(tsresol: u8) -> Option<u64> {
    if tsresol & 0x80 == 0 {
        return None;
    }
    1u64.checked_shl(u32::from(tsresol & 0x7f))
}

/// A pcapng timestamp as nanoseconds since the epoch. Hand-written rather than
/// pcap-parser's `decode_ts`: that returns `u32` seconds (which wrap in 2106) and the
/// fraction in interface units, and takes the offset unsigned, while `Ts` wants signed
/// nanoseconds that saturate instead of overflowing.
fn to_nanos(raw: u64, units_per_sec: u64, offset_sec: i64) -> i64 {
    let units = u128::from(units_per_sec.max(1));
    let secs = u128::from(raw) / units;
    let frac = u128::from(raw) % units;
    let nanos = secs * 1_000_000_000 + frac * 1_000_000_000 / units;
    i64::try_from(nanos)
        .unwrap_or(i64::MAX)
        .saturating_add(offset_sec.saturating_mul(1_000_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    use wsclose_testgen::pcapng::{
        enhanced_packet as epb, interface as idb, section_header as shb,
    };

    /// A pcap file with `magic`, link type 101 (raw IP), and one record per
    /// (ts_sec, ts_frac, data).
    fn pcap(magic: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut f = wsclose_testgen::pcap::file_header_with_magic(magic, 101).to_vec();
        for (sec, frac, data) in records {
            wsclose_testgen::pcap::push_raw_record(&mut f, *sec, *frac, data);
        }
        f
    }

    /// (frame_no, ts, linktype, data, orig_len) of every packet, and the result.
    type Seen = (u64, i64, u32, Vec<u8>, u32);

    fn read(bytes: Vec<u8>) -> (Vec<Seen>, CaptureInfo, Result<(), Error>) {
        let mut seen = Vec::new();
        let mut info = CaptureInfo::default();
        let r = read_packets("t", Box::new(io::Cursor::new(bytes)), &mut info, |r| {
            if let Record::Packet(p) = r {
                seen.push((p.frame_no, p.ts.0, p.linktype, p.data.to_vec(), p.orig_len))
            }
        });
        (seen, info, r)
    }

    #[test]
    fn pcapng_interfaces_give_link_type_and_clock() {
        let mut f = shb();
        f.extend(idb(1, None, None)); // 0: Ethernet, microseconds
        f.extend(idb(113, Some(9), None)); // 1: Linux SLL, nanoseconds
        f.extend(idb(101, Some(0x80 | 10), Some(2))); // 2: raw IP, 2^-10 s, +2 s
        f.extend(idb(228, Some(30), Some(-1))); // 3: invalid resolution, -1 s
        f.extend(epb(0, 1_500_000, b"abc", 60));
        f.extend(epb(1, 1_500_000_001, b"abcd", 4));
        f.extend(epb(2, 1024 + 512, b"a", 1));
        f.extend(epb(3, 3_000_000, b"", 0));
        f.extend(epb(7, 5, b"z", 1)); // no such interface
        let (seen, info, r) = read(f);
        assert!(r.is_ok());
        assert_eq!(info.format, Some(Format::Pcapng));
        assert_eq!(info.packets, 5);
        assert_eq!(
            seen,
            vec![
                (1, 1_500_000_000, 1, b"abc".to_vec(), 60),
                (2, 1_500_000_001, 113, b"abcd".to_vec(), 4),
                (3, 3_500_000_000, 101, b"a".to_vec(), 1),
                (4, 2_000_000_000, 228, vec![], 0),
                (5, 5_000, u32::MAX, b"z".to_vec(), 1),
            ]
        );
    }

    #[test]
    fn tls_secrets_come_in_file_order() {
        use wsclose_testgen::pcapng::{decryption_secrets, TLS_KEY_LOG};
        let mut f = shb();
        f.extend(idb(1, None, None));
        f.extend(epb(0, 1, b"a", 1));
        f.extend(decryption_secrets(TLS_KEY_LOG, b"CLIENT_RANDOM 00 11\n"));
        // Another kind of secrets (WireGuard) is not ours.
        f.extend(decryption_secrets(0x5747_4b4c, b"wg"));
        f.extend(epb(0, 2, b"b", 1));
        let mut seen = Vec::new();
        let mut info = CaptureInfo::default();
        let r = read_packets("t", Box::new(io::Cursor::new(f)), &mut info, |r| {
            seen.push(match r {
                Record::Packet(p) => format!("packet {}", p.frame_no),
                Record::TlsSecrets(s) => format!("secrets {:?}", String::from_utf8_lossy(s)),
            })
        });
        assert!(r.is_ok());
        assert_eq!(
            seen,
            ["packet 1", "secrets \"CLIENT_RANDOM 00 11\\n\"", "packet 2"]
        );
    }

    #[test]
    fn a_new_section_forgets_the_interfaces() {
        let mut f = shb();
        f.extend(idb(113, None, None));
        f.extend(shb());
        f.extend(epb(0, 0, b"x", 1));
        let (seen, _, r) = read(f);
        assert!(r.is_ok());
        assert_eq!(seen[0].2, u32::MAX);
    }

    #[test]
    fn pcap_micro_and_nanoseconds() {
        let (seen, info, r) = read(pcap(0xa1b2_c3d4, &[(2, 5, b"ab")]));
        assert!(r.is_ok());
        assert_eq!(info.format, Some(Format::Pcap));
        assert_eq!(seen, vec![(1, 2_000_005_000, 101, b"ab".to_vec(), 2)]);
        let (seen, _, _) = read(pcap(0xa1b2_3c4d, &[(2, 5, b"ab")]));
        assert_eq!(seen[0].1, 2_000_000_005);
    }

    #[test]
    fn damage_is_reported_after_the_packets_before_it() {
        let mut f = pcap(0xa1b2_c3d4, &[(1, 0, b"abcd"), (2, 0, b"efgh")]);
        f.truncate(f.len() - 2);
        let (seen, info, r) = read(f);
        assert_eq!(seen.len(), 1);
        assert_eq!(info.packets, 1);
        assert_eq!(
            r.unwrap_err().to_string(),
            "t: capture ends in the middle of a packet record at byte offset 44 (after frame 1); \
             the packets before it are reported"
        );
        // A header and nothing else is a clean, empty capture.
        let (seen, _, r) = read(pcap(0xa1b2_c3d4, &[]));
        assert!(seen.is_empty() && r.is_ok());
    }

    #[test]
    fn not_a_capture() {
        let msg = |b: &[u8]| read(b.to_vec()).2.unwrap_err().to_string();
        assert_eq!(msg(b""), "t: empty file, not a capture");
        assert_eq!(
            msg(b"\xd4\xc3"),
            "t: capture header is cut short, no packets to read"
        );
        assert_eq!(
            msg(b"GET / HTTP/1.1"),
            "t: not a pcap or pcapng capture (starts with 47 45 54 20)"
        );
        assert_eq!(
            msg(&pcap(0xa1b2_c3d4, &[])[..20]),
            "t: capture header is cut short, no packets to read"
        );
    }

    #[test]
    fn resolutions() {
        assert_eq!(binary_resolution(0x80 | 10), Some(1024));
        assert_eq!(binary_resolution(0x80 | 63), Some(1 << 63));
        assert_eq!(binary_resolution(0x80 | 64), None);
        assert_eq!(binary_resolution(6), None);
        assert_eq!(to_nanos(1_500_000, 1_000_000, 0), 1_500_000_000);
        assert_eq!(to_nanos(1024 + 512, 1024, 2), 3_500_000_000);
        assert_eq!(to_nanos(u64::MAX, 1, 0), i64::MAX);
        assert_eq!(to_nanos(0, 1_000_000, i64::MIN), i64::MIN);
    }
}
