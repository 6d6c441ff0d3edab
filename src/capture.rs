//! Capture reading: pcap (both byte orders, micro- and nanosecond) and pcapng (several
//! sections and interfaces), optionally gzip-compressed, from a file or standard input.
//!
//! Takes a `Read`, yields `RawPacket`s one at a time through a callback; the reader holds one
//! bounded buffer, never the file. Never panics on input: a cut or corrupt block ends the
//! read with `Error::Truncated` naming the byte offset, after every packet before it was
//! delivered.

use std::fs::File;
use std::io::{self, Read};

use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError};

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
    pub ts: Ts,
    /// LINKTYPE_* value of the interface the packet was captured on.
    pub linktype: u32,
    /// Captured bytes (possibly fewer than `orig_len` when the snap length cut the packet).
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
}

/// What the reader learnt about the file, besides its packets.
#[derive(Debug, Default, Clone)]
pub struct CaptureInfo {
    pub format: Option<Format>,
    pub packets: u64,
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second.
    units_per_sec: u64,
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

/// Reads every packet of the capture in `input`, calling `on_packet` for each in file order.
///
/// Returns what was learnt about the file. A capture that stops being readable part way
/// returns `Err(Error::Truncated)` after delivering every packet before the damage; `info`
/// is filled in either way.
pub fn read_packets<F>(
    path: &str,
    input: Box<dyn Read + Send>,
    info: &mut CaptureInfo,
    mut on_packet: F,
) -> Result<(), Error>
where
    F: FnMut(&RawPacket<'_>),
{
    let mut input = FullRead(input);
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
        0x0a0d_0d0a => Format::Pcapng,
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0xa1b2_cd34 | 0x34cd_b2a1 => {
            Format::Pcap
        }
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
    info.format = Some(format);
    let rejoined =
        FullRead(io::Cursor::new(magic.get(..n).unwrap_or_default().to_vec()).chain(input));
    let mut reader = match pcap_parser::create_reader(INITIAL_BUFFER, rejoined) {
        Ok(r) => r,
        Err(PcapError::ReadError) => {
            return Err(Error::Io {
                path: path.to_string(),
                source: io::Error::other("read failed"),
            })
        }
        Err(_) => {
            return Err(Error::TruncatedHeader {
                path: path.to_string(),
            })
        }
    };

    let mut interfaces: Vec<Interface> = Vec::new();
    let mut legacy_linktype = 1u32;
    let mut legacy_nanos = false;
    let mut frame_no = 0u64;
    let mut offset = 0u64;
    let mut damage: Option<&str> = None;

    loop {
        match reader.next() {
            Ok((consumed, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        legacy_linktype = h.network.0 as u32;
                        legacy_nanos = h.is_nanosecond_precision();
                    }
                    PcapBlockOwned::Legacy(b) => {
                        frame_no += 1;
                        let frac = if legacy_nanos {
                            i64::from(b.ts_usec)
                        } else {
                            i64::from(b.ts_usec) * 1000
                        };
                        let ts = Ts(i64::from(b.ts_sec) * 1_000_000_000 + frac);
                        on_packet(&RawPacket {
                            frame_no,
                            ts,
                            linktype: legacy_linktype,
                            data: b.data,
                            orig_len: b.origlen,
                        });
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push(Interface {
                            linktype: idb.linktype.0 as u32,
                            units_per_sec: units_per_sec(idb.if_tsresol),
                            offset_sec: idb.if_tsoffset,
                        });
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        frame_no += 1;
                        let iface =
                            interfaces
                                .get(epb.if_id as usize)
                                .copied()
                                .unwrap_or(Interface {
                                    linktype: u32::MAX,
                                    units_per_sec: 1_000_000,
                                    offset_sec: 0,
                                });
                        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let ts = Ts(to_nanos(raw, iface.units_per_sec, iface.offset_sec));
                        let caplen = (epb.caplen as usize).min(epb.data.len());
                        on_packet(&RawPacket {
                            frame_no,
                            ts,
                            linktype: iface.linktype,
                            data: epb.data.get(..caplen).unwrap_or_default(),
                            orig_len: epb.origlen,
                        });
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        frame_no += 1;
                        let linktype = interfaces.first().map(|i| i.linktype).unwrap_or(u32::MAX);
                        let caplen = (spb.origlen as usize).min(spb.data.len());
                        on_packet(&RawPacket {
                            frame_no,
                            ts: Ts(0),
                            linktype,
                            data: spb.data.get(..caplen).unwrap_or_default(),
                            orig_len: spb.origlen,
                        });
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                offset += consumed as u64;
                // No shift here: `refill` moves the few unread bytes once per buffer, while
                // `consume` would move half the buffer every time it passes the middle.
                reader.consume_noshift(consumed);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                let before = reader.data().len();
                if reader.refill().is_err() {
                    damage = Some(READ_ERROR);
                    break;
                }
                if reader.reader_exhausted() && reader.data().len() == before {
                    if before > 0 {
                        damage = Some(CUT_RECORD);
                    }
                    break;
                }
            }
            Err(PcapError::BufferTooSmall) => {
                let cap = reader.data().len().max(INITIAL_BUFFER);
                let new_size = cap.saturating_mul(2);
                if new_size > MAX_BLOCK || !reader.grow(new_size) {
                    damage = Some("packet record larger than 16 MiB (corrupt length?)");
                    break;
                }
                if reader.refill().is_err() {
                    damage = Some(READ_ERROR);
                    break;
                }
            }
            Err(PcapError::UnexpectedEof) => {
                damage = Some(CUT_RECORD);
                break;
            }
            Err(PcapError::ReadError) => {
                damage = Some(READ_ERROR);
                break;
            }
            Err(_) => {
                damage = Some("corrupt packet record");
                break;
            }
        }
    }
    info.packets = frame_no;
    match damage {
        Some(what) => Err(Error::Truncated {
            path: path.to_string(),
            offset,
            frame_no,
            what: what.to_string(),
        }),
        None => Ok(()),
    }
}

const READ_ERROR: &str = "read error";
const CUT_RECORD: &str = "capture ends in the middle of a packet record";

/// pcapng `if_tsresol`: high bit clear means 10^-n seconds, set means 2^-n. Invalid values
/// fall back to the default of microseconds.
fn units_per_sec(tsresol: u8) -> u64 {
    let n = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(n).unwrap_or(1_000_000)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64).unwrap_or(1_000_000)
    }
}

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

    #[test]
    fn resolutions() {
        assert_eq!(units_per_sec(6), 1_000_000);
        assert_eq!(units_per_sec(9), 1_000_000_000);
        assert_eq!(units_per_sec(0x80 | 10), 1024);
        assert_eq!(units_per_sec(30), 1_000_000);
        assert_eq!(to_nanos(1_500_000, 1_000_000, 0), 1_500_000_000);
        assert_eq!(to_nanos(1024 + 512, 1024, 2), 3_500_000_000);
    }
}
