//! Reading and decoding on a second thread: the capture is read, its records parsed and
//! each packet decoded to a TCP segment there, while the calling thread runs the analysis.
//! Only TCP payloads cross between the threads, in batches of about `BATCH_BYTES`, at most
//! `BATCHES_IN_FLIGHT` at a time, so memory stays bounded. Segments reach the callback on
//! the calling thread in file order, exactly as a single-threaded loop would deliver them.

use std::io::{self, Read};
use std::net::IpAddr;
use std::sync::mpsc;

use crate::capture::{read_packets, CaptureInfo, Record, Ts};
use crate::decode::{decode, Segment, Skip, TcpFlags};
use crate::error::Error;
use crate::tcp::Seq;

/// TCP payload bytes a batch carries.
const BATCH_BYTES: usize = 1 << 20;
/// Packets a batch carries at most: with small packets (a SYN flood), the batches in
/// flight hold about 0.5 MB of packet heads instead of the data's 1 MB each.
const BATCH_PACKETS: usize = 4096;
/// Batches in flight between the threads.
const BATCHES_IN_FLIGHT: usize = 4;

/// A decoded packet whose payload lives in the batch's buffer.
struct Decoded {
    frame_no: u64,
    ts: Ts,
    segment: Result<Head, Skip>,
}

/// A segment without its payload: `payload` is a range of the batch buffer.
struct Head {
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    seq: Seq,
    ack: Seq,
    flags: TcpFlags,
    missing: u32,
    window: u16,
    wscale: Option<u8>,
    payload: (usize, usize),
}

struct Batch {
    data: Vec<u8>,
    packets: Vec<Decoded>,
    /// Blocks of TLS secrets, each with the number of packets of the batch before it.
    secrets: Vec<(usize, Vec<u8>)>,
}

/// What the calling thread gets, in file order.
pub enum Item<'a> {
    /// A packet: its number, time and decoded segment.
    Segment(u64, Ts, Result<Segment<'a>, Skip>),
    /// A block of TLS secrets (NSS key log lines) embedded in the capture.
    TlsSecrets(&'a [u8]),
}

impl Batch {
    fn new() -> Batch {
        Batch {
            data: Vec::with_capacity(BATCH_BYTES),
            packets: Vec::with_capacity(BATCH_PACKETS),
            secrets: Vec::new(),
        }
    }
}

/// Reads the capture in `input` on a second thread and calls `on_item` for every packet,
/// decoded, and every block of TLS secrets, on this one. Returns as
/// `capture::read_packets` does.
pub fn read_segments<F>(
    path: &str,
    input: Box<dyn Read + Send>,
    info: &mut CaptureInfo,
    mut on_item: F,
) -> Result<(), Error>
where
    F: FnMut(Item<'_>),
{
    let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
    let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
    let name = path.to_string();
    let spawned = std::thread::Builder::new()
        .name("wsclose-read".into())
        .spawn(move || {
            let mut info = CaptureInfo::default();
            let mut batch = Batch::new();
            let mut receiver_gone = false;
            let result = read_packets(&name, input, &mut info, |record| {
                if receiver_gone {
                    return;
                }
                let pkt = match record {
                    Record::Packet(pkt) => pkt,
                    Record::TlsSecrets(text) => {
                        batch.secrets.push((batch.packets.len(), text.to_vec()));
                        return;
                    }
                };
                let segment = decode(pkt.linktype, pkt.data, pkt.orig_len).map(|seg| {
                    let start = batch.data.len();
                    batch.data.extend_from_slice(seg.payload);
                    Head {
                        src: seg.src,
                        dst: seg.dst,
                        src_port: seg.src_port,
                        dst_port: seg.dst_port,
                        seq: seg.seq,
                        ack: seg.ack,
                        flags: seg.flags,
                        missing: seg.missing,
                        window: seg.window,
                        wscale: seg.wscale,
                        payload: (start, batch.data.len()),
                    }
                });
                batch.packets.push(Decoded {
                    frame_no: pkt.frame_no,
                    ts: pkt.ts,
                    segment,
                });
                if batch.data.len() >= BATCH_BYTES || batch.packets.len() >= BATCH_PACKETS {
                    let next = empty_rx.try_recv().unwrap_or_else(|_| Batch::new());
                    receiver_gone = full_tx.send(std::mem::replace(&mut batch, next)).is_err();
                }
            });
            let empty = batch.packets.is_empty() && batch.secrets.is_empty();
            if !empty && !receiver_gone {
                let _ = full_tx.send(batch);
            }
            (result, info)
        });
    let reader = match spawned {
        Ok(handle) => handle,
        Err(e) => {
            return Err(Error::Io {
                path: path.to_string(),
                source: e,
            })
        }
    };
    for mut batch in full_rx {
        let mut secrets = batch.secrets.iter().peekable();
        for (i, p) in batch.packets.iter().enumerate() {
            while let Some((_, text)) = secrets.next_if(|(at, _)| *at <= i) {
                on_item(Item::TlsSecrets(text));
            }
            let segment = match &p.segment {
                Ok(h) => Ok(Segment {
                    src: h.src,
                    dst: h.dst,
                    src_port: h.src_port,
                    dst_port: h.dst_port,
                    seq: h.seq,
                    ack: h.ack,
                    flags: h.flags,
                    payload: batch.data.get(h.payload.0..h.payload.1).unwrap_or_default(),
                    missing: h.missing,
                    window: h.window,
                    wscale: h.wscale,
                }),
                Err(skip) => Err(*skip),
            };
            on_item(Item::Segment(p.frame_no, p.ts, segment));
        }
        for (_, text) in secrets {
            on_item(Item::TlsSecrets(text));
        }
        batch.data.clear();
        batch.packets.clear();
        batch.secrets.clear();
        let _ = empty_tx.send(batch);
    }
    match reader.join() {
        Ok((result, read_info)) => {
            *info = read_info;
            result
        }
        Err(_) => Err(Error::Io {
            path: path.to_string(),
            source: io::Error::other("the reading thread failed"),
        }),
    }
}
