//! The analysis on a second thread: the calling thread reads the capture, parses its
//! records and decodes each packet to a TCP segment, while the analysis runs on a thread of
//! its own; what the analysis sends out (connections that left the flow table) comes back
//! to the calling thread, which builds their reports and writes them between batches (on a
//! decrypted capture the calling thread has about a quarter of the work, the analysis the
//! rest).
//! Only TCP payloads cross between the threads, in batches of about `BATCH_BYTES`, at most
//! `BATCHES_IN_FLIGHT` at a time, and at most `DONE_IN_FLIGHT` groups of outputs back, so
//! memory stays bounded. Segments reach the analysis in file order, and its outputs reach
//! the calling thread in the order they were sent, exactly as a single-threaded loop would
//! have them.

use std::cell::RefCell;
use std::io::Read;
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

/// The batches handed to the analysis thread, read there in file order.
pub struct Items<'a> {
    full: mpsc::Receiver<Batch>,
    empty: mpsc::Sender<Batch>,
    /// Sends on what the analysis put out during a batch, once the batch is done.
    after_batch: &'a dyn Fn(),
}

impl Items<'_> {
    /// Calls `on_item` for every packet, decoded, and every block of TLS secrets, in file
    /// order, until the capture is read.
    pub fn each(self, mut on_item: impl FnMut(Item<'_>)) {
        for mut batch in self.full {
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
            let _ = self.empty.send(batch);
            (self.after_batch)();
        }
    }
}

/// Outputs of the analysis sent back together, at most: one wake-up of the calling thread
/// for several connections.
const DONE_BATCH: usize = 16;
/// Groups of outputs waiting for the calling thread, at most.
const DONE_IN_FLIGHT: usize = 4;

/// Runs `analysis` on a thread of its own, fed the capture's packets (decoded) and TLS
/// secrets in file order through its `Items`, while this thread reads and decodes the
/// capture in `input` and passes what `analysis` sends out (its second argument) to
/// `on_done`, in the order it was sent. Returns the reading's outcome (as
/// `capture::read_packets`), and what `analysis` returned (`None` when its thread could
/// not be started).
pub fn split<T, R, A>(
    path: &str,
    input: Box<dyn Read + Send>,
    info: &mut CaptureInfo,
    analysis: A,
    on_done: &mut dyn FnMut(T),
) -> (Result<(), Error>, Option<R>)
where
    T: Send,
    R: Send,
    A: FnOnce(Items<'_>, &mut dyn FnMut(T)) -> R + Send,
{
    std::thread::scope(|scope| {
        // The channels' ends of this thread live in this closure: should it unwind, they go
        // first, so the analysis thread ends and the scope's join does not wait forever.
        let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
        let (done_tx, done_rx) = mpsc::sync_channel::<Vec<T>>(DONE_IN_FLIGHT);
        let spawned = std::thread::Builder::new()
            .name("wsclose-analyze".into())
            .spawn_scoped(scope, move || {
                // Outputs go back in groups: at `DONE_BATCH`, and after each batch of
                // packets (so that a report waits for one batch at most).
                let outbox = RefCell::new(Vec::with_capacity(DONE_BATCH));
                let flush = || {
                    let out = std::mem::take(&mut *outbox.borrow_mut());
                    if !out.is_empty() {
                        // Fails only when the calling thread is unwinding: the outputs are
                        // dropped then.
                        let _ = done_tx.send(out);
                    }
                };
                let mut send = |t: T| {
                    let full = {
                        let mut out = outbox.borrow_mut();
                        out.push(t);
                        out.len() >= DONE_BATCH
                    };
                    if full {
                        flush();
                    }
                };
                let items = Items {
                    full: full_rx,
                    empty: empty_tx,
                    after_batch: &flush,
                };
                let r = analysis(items, &mut send);
                flush();
                r
            });
        let analysis = match spawned {
            Ok(handle) => handle,
            Err(e) => {
                let e = Error::Io {
                    path: path.to_string(),
                    source: e,
                };
                return (Err(e), None);
            }
        };
        let mut batch = Batch::new();
        let mut analysis_gone = false;
        let result = read_packets(path, input, info, |record| {
            if analysis_gone {
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
                let full = std::mem::replace(&mut batch, next);
                analysis_gone = !hand_over(&full_tx, full, &done_rx, on_done);
                while let Ok(group) = done_rx.try_recv() {
                    group.into_iter().for_each(&mut *on_done);
                }
            }
        });
        let empty = batch.packets.is_empty() && batch.secrets.is_empty();
        if !empty && !analysis_gone {
            hand_over(&full_tx, batch, &done_rx, on_done);
        }
        // The capture is read: the analysis ends once it has taken every batch.
        drop(full_tx);
        for group in done_rx {
            group.into_iter().for_each(&mut *on_done);
        }
        match analysis.join() {
            Ok(r) => (result, Some(r)),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Hands `batch` to the analysis; while the analysis is behind (every slot taken), what it
/// sends out is passed on meanwhile, so that neither thread waits on the other for good.
/// Returns false when the analysis is gone.
fn hand_over<T>(
    to: &mpsc::SyncSender<Batch>,
    mut batch: Batch,
    done: &mpsc::Receiver<Vec<T>>,
    on_done: &mut dyn FnMut(T),
) -> bool {
    loop {
        match to.try_send(batch) {
            Ok(()) => return true,
            Err(mpsc::TrySendError::Disconnected(_)) => return false,
            Err(mpsc::TrySendError::Full(b)) => {
                batch = b;
                match done.recv_timeout(WAIT) {
                    Ok(group) => group.into_iter().for_each(&mut *on_done),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    // The analysis ended early; the next try says so.
                    Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::yield_now(),
                }
            }
        }
    }
}

/// How long the reading thread waits for the analysis at a time, when the analysis is
/// behind, before it tries to hand over its batch again.
const WAIT: std::time::Duration = std::time::Duration::from_millis(1);
