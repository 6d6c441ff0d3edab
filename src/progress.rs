//! Progress of a run, for a line on standard error: counters the analysis updates cheaply
//! (bytes through a wrapper around the input, packets and open connections every
//! `EVERY` packets), and a ticker thread that reads them and draws the line.
//!
//! The counters are shared by every file of a run, analysed one after another or in
//! parallel: each analysis adds what it read, and takes its open connections back out
//! when it ends.

use std::io::{self, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Packets between two updates of the shared counters.
pub const EVERY: u64 = 4096;
/// The line appears once the run has taken this long.
const DELAY: Duration = Duration::from_secs(1);
/// Between two redraws.
const TICK: Duration = Duration::from_millis(250);

/// What the analyses of a run have done so far.
#[derive(Debug, Default)]
pub struct Progress {
    /// Capture bytes read (after gzip is undone).
    pub bytes: AtomicU64,
    /// Packets read.
    pub packets: AtomicU64,
    /// TCP connections in the flow tables.
    pub open: AtomicU64,
    /// Files finished.
    pub files: AtomicU64,
}

/// One file's share of the counters: updates them with what changed since the last time.
pub struct FileProgress {
    shared: Arc<Progress>,
    packets: u64,
    open: u64,
}

impl FileProgress {
    pub fn new(shared: Arc<Progress>) -> FileProgress {
        FileProgress {
            shared,
            packets: 0,
            open: 0,
        }
    }

    /// `packets` read so far in this file, `open` connections now.
    pub fn update(&mut self, packets: u64, open: u64) {
        self.shared
            .packets
            .fetch_add(packets.saturating_sub(self.packets), Relaxed);
        self.packets = self.packets.max(packets);
        // Wrapping: the difference may be negative.
        self.shared
            .open
            .fetch_add(open.wrapping_sub(self.open), Relaxed);
        self.open = open;
    }

    /// The file is done: its last packets counted, its connections no longer open.
    pub fn finish(mut self, packets: u64) {
        self.update(packets, 0);
        self.shared.files.fetch_add(1, Relaxed);
    }
}

/// A reader that counts the bytes read through it.
pub struct Counted<R> {
    pub inner: R,
    pub shared: Arc<Progress>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.shared.bytes.fetch_add(n as u64, Relaxed);
        Ok(n)
    }
}

/// The line on standard error, drawn by a thread of its own until dropped.
pub struct Ticker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts drawing the progress of `shared` when standard error is a terminal (and
    /// nothing otherwise): `total` capture bytes when known (regular, uncompressed files),
    /// `files` in the run.
    pub fn start(shared: Arc<Progress>, total: Option<u64>, files: u64) -> Ticker {
        if !io::stderr().is_terminal() {
            return Ticker {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("wsclose-progress".into())
            .spawn(move || tick(&shared, total, files, &stopped))
            .ok();
        Ticker {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tick(shared: &Progress, total: Option<u64>, files: u64, stopped: &mpsc::Receiver<()>) {
    let start = Instant::now();
    let mut drawn = false;
    let mut last = (start, 0u64);
    let mut rate = 0.0f64;
    // Until stopped: the sender is dropped.
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
        let now = Instant::now();
        let packets = shared.packets.load(Relaxed);
        let secs = now.duration_since(last.0).as_secs_f64();
        if secs > 0.0 {
            let current = packets.saturating_sub(last.1) as f64 / secs;
            rate = if drawn {
                0.7 * rate + 0.3 * current
            } else {
                current
            };
        }
        last = (now, packets);
        if now.duration_since(start) < DELAY {
            continue;
        }
        let line = line(
            shared.bytes.load(Relaxed),
            total,
            rate,
            shared.open.load(Relaxed),
            (shared.files.load(Relaxed), files),
        );
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{line}");
        let _ = err.flush();
        drawn = true;
    }
    if drawn {
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[K");
        let _ = err.flush();
    }
}

/// The progress line: bytes read (of the total when known), packets per second, open
/// connections, and files done when there are several.
fn line(bytes: u64, total: Option<u64>, rate: f64, open: u64, files: (u64, u64)) -> String {
    let mut s = format!("wsclose: {}", size(bytes));
    // A total that was wrong (a file that grew, or compressed without saying) is left out.
    if let Some(total) = total.filter(|&t| t >= bytes && t > 0) {
        s += &format!(
            " / {} ({:.0}%)",
            size(total),
            bytes as f64 * 100.0 / total as f64
        );
    }
    s += &format!(
        ", {} packets/s, {} connections open",
        count(rate as u64),
        count(open)
    );
    if files.1 > 1 {
        s += &format!(", {} of {} files done", files.0, files.1);
    }
    s
}

fn size(bytes: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if bytes as f64 >= 1024.0 * MB {
        format!("{:.2} GiB", bytes as f64 / (1024.0 * MB))
    } else {
        format!("{:.1} MiB", bytes as f64 / MB)
    }
}

fn count(n: u64) -> String {
    if n >= 10_000_000 {
        format!("{}M", n / 1_000_000)
    } else if n >= 10_000 {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line() {
        assert_eq!(
            line(150 << 20, Some(300 << 20), 812_345.0, 1234, (0, 1)),
            "wsclose: 150.0 MiB / 300.0 MiB (50%), 812k packets/s, 1234 connections open"
        );
        assert_eq!(
            line(3 << 30, None, 50.0, 0, (2, 4)),
            "wsclose: 3.00 GiB, 50 packets/s, 0 connections open, 2 of 4 files done"
        );
        // A total smaller than what was read is not shown.
        assert_eq!(
            line(20 << 20, Some(10 << 20), 0.0, 0, (0, 1)),
            "wsclose: 20.0 MiB, 0 packets/s, 0 connections open"
        );
    }

    #[test]
    fn shares_add_up() {
        let shared = Arc::new(Progress::default());
        let mut a = FileProgress::new(shared.clone());
        let mut b = FileProgress::new(shared.clone());
        a.update(4096, 10);
        b.update(4096, 3);
        a.update(8192, 4);
        assert_eq!(shared.packets.load(Relaxed), 12288);
        assert_eq!(shared.open.load(Relaxed), 7);
        a.finish(9000);
        assert_eq!(shared.open.load(Relaxed), 3);
        b.finish(5000);
        assert_eq!(shared.open.load(Relaxed), 0);
        assert_eq!(shared.packets.load(Relaxed), 14000);
        assert_eq!(shared.files.load(Relaxed), 2);
    }
}
