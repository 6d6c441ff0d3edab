//! `analyze` over several captures: the files are analysed in parallel by `jobs` workers,
//! each rendering its file's section into a spool of its own (`render::FileOutput`), and
//! the calling thread writes the sections in the order the files were given, each as soon
//! as the files before it are done, then the run's summary (`render::Output`). The output
//! is byte for byte what one worker would write.
//!
//! Memory stays bounded: a worker starts a file only when fewer than `AHEAD` times the
//! workers files wait to be written, and a waiting section holds at most `SECTION_MEMORY`
//! in memory (the rest in a temporary file). With one file or one job the files are
//! analysed on the calling thread, streaming straight to the output, as before. When the
//! workers fill the cores, each analyzes its file on its own thread (no `Options::pipelined`
//! second thread): handing packets over would cost more than it gains.

use std::collections::BTreeMap;
use std::io::{self, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Condvar, Mutex};

use tempfile::SpooledTempFile;

use crate::analyze::{analyze_file, Options};
use crate::error::Error;
use crate::render::{FileDone, Output};
use crate::report::{ConnReport, FileReport};

/// Files that may wait to be written, per worker.
const AHEAD: usize = 2;
/// Bytes of a finished section kept in memory while it waits.
const SECTION_MEMORY: usize = 1 << 20;

/// What to analyse, and how.
pub struct Run<'a> {
    pub files: &'a [String],
    pub opts: &'a Options,
    /// Files analysed at once (at least 1).
    pub jobs: usize,
    /// Only the connections with a problem are rendered.
    pub only_problems: bool,
}

/// Analyses the files of `run` and writes their report to `out`, in the order given,
/// between `out.begin()` and `out.end()` (which the caller calls). `on_file` hears of
/// each file in that order, when its section is written (its report and the error that
/// stopped it, if any). `on_write_error` hears of the first failed write at once, before
/// the files being analysed are finished (to exit right away when the reader went
/// away); the error is returned too.
pub fn analyze_files(
    run: &Run<'_>,
    out: &mut Output<'_>,
    on_file: &mut dyn FnMut(&FileReport, Option<&Error>),
    on_write_error: &(dyn Fn(&io::Error) + Sync),
) -> io::Result<()> {
    let jobs = run.jobs.min(run.files.len());
    if jobs <= 1 {
        return one_by_one(run, out, on_file, on_write_error);
    }
    let next = AtomicUsize::new(0);
    let written = Mutex::new(0usize);
    let turn = Condvar::new();
    let stop = AtomicBool::new(false);
    let window = jobs * AHEAD;
    let (done_tx, done_rx) = mpsc::channel::<(usize, Finished)>();
    let proto = out.file_output(0);
    // The workers fill the cores: a second thread per file as well would only add the
    // cost of handing packets over.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut opts = run.opts.clone();
    if jobs * 2 > cores {
        opts.pipelined = false;
    }
    let opts = &opts;
    std::thread::scope(|scope| {
        for w in 0..jobs {
            let done_tx = done_tx.clone();
            let (next, written, turn, stop, proto) = (&next, &written, &turn, &stop, &proto);
            let spawned = std::thread::Builder::new()
                .name(format!("wsclose-job-{w}"))
                .spawn_scoped(scope, move || loop {
                    let i = next.fetch_add(1, SeqCst);
                    let Some(path) = run.files.get(i) else {
                        return;
                    };
                    {
                        let mut w = written.lock().unwrap_or_else(|p| p.into_inner());
                        while i >= *w + window && !stop.load(SeqCst) {
                            w = turn.wait(w).unwrap_or_else(|p| p.into_inner());
                        }
                    }
                    if stop.load(SeqCst) {
                        return;
                    }
                    let finished = analyze_one(run, opts, path, proto.for_file(i));
                    if done_tx.send((i, finished)).is_err() {
                        return;
                    }
                });
            if let Err(e) = spawned {
                // No worker at all would leave the files unread: say so.
                if w == 0 {
                    stop.store(true, SeqCst);
                    return Err(e);
                }
                break;
            }
        }
        drop(done_tx);
        let mut waiting: BTreeMap<usize, Finished> = BTreeMap::new();
        let mut at = 0usize;
        let mut result = Ok(());
        for (i, finished) in done_rx.iter() {
            waiting.insert(i, finished);
            while let Some(mut f) = waiting.remove(&at) {
                let wrote = f.section.and_then(|(done, mut spool)| {
                    spool.seek(SeekFrom::Start(0))?;
                    out.section(&done, &mut spool)
                });
                if let Err(e) = wrote {
                    on_write_error(&e);
                    result = Err(e);
                    break;
                }
                on_file(&f.report, f.error.as_ref());
                f.error = None;
                at += 1;
                *written.lock().unwrap_or_else(|p| p.into_inner()) = at;
                turn.notify_all();
            }
            if result.is_err() {
                break;
            }
        }
        if result.is_err() {
            stop.store(true, SeqCst);
            // Wake the workers waiting for their turn, to see the stop.
            let _guard = written.lock().unwrap_or_else(|p| p.into_inner());
            turn.notify_all();
        }
        result
    })
}

/// A file analysed apart: its report, the error that stopped it, and its section.
struct Finished {
    report: FileReport,
    error: Option<Error>,
    section: io::Result<(FileDone, SpooledTempFile)>,
}

fn analyze_one(
    run: &Run<'_>,
    opts: &Options,
    path: &str,
    mut file: crate::render::FileOutput,
) -> Finished {
    let mut spool = SpooledTempFile::new(SECTION_MEMORY);
    let mut failed: Option<io::Error> = None;
    let (report, error) = analyze_file(path, opts, &mut |c: &ConnReport| {
        if (run.only_problems && !c.has_problem()) || failed.is_some() {
            return;
        }
        if let Err(e) = file.connection(&mut spool, path, c) {
            failed = Some(e);
        }
    });
    let section = match failed {
        Some(e) => Err(e),
        None => file.finish(&mut spool, &report).map(|done| (done, spool)),
    };
    Finished {
        report,
        error,
        section,
    }
}

/// One file after another on this thread, streaming.
fn one_by_one(
    run: &Run<'_>,
    out: &mut Output<'_>,
    on_file: &mut dyn FnMut(&FileReport, Option<&Error>),
    on_write_error: &dyn Fn(&io::Error),
) -> io::Result<()> {
    for path in run.files {
        let mut failed: Option<io::Error> = None;
        let (report, err) = analyze_file(path, run.opts, &mut |c| {
            if (run.only_problems && !c.has_problem()) || failed.is_some() {
                return;
            }
            if let Err(e) = out.connection(path, c) {
                on_write_error(&e);
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        if let Err(e) = out.end_file(&report) {
            on_write_error(&e);
            return Err(e);
        }
        on_file(&report, err.as_ref());
    }
    Ok(())
}
