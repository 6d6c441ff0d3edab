//! Rendering the report model: `text` (the human report), `json` (JSON and JSONL), the
//! incident summary (`summary`), `html` (a page built from the JSON document), and the writer that streams reports as connections
//! finish, in the chosen format, without keeping them.
//!
//! JSONL goes straight to the output. Text and JSON print a file's summary before its
//! connections, so each connection is rendered as it finishes into a spool (memory up to
//! `SPOOL_MEMORY`, then a temporary file) and copied out when the file is done: memory stays
//! bounded however many connections a capture holds. Connections appear in the order they
//! finished. With several files, the text report opens with the summary of them all: the
//! files' sections are spooled too, until the last is done.

pub mod evidence;
pub mod html;
pub mod json;
pub mod summary;
pub mod text;
pub mod wrap;

use std::io::{self, Read, Seek, SeekFrom, Write};

use tempfile::SpooledTempFile;

use crate::explain::Lang;
use crate::incident::Incident;
use crate::report::{ConnReport, FileReport};
pub use summary::GroupBy;

/// A file with more connections than this lists only the problem ones in the text report
/// and the HTML page, unless every connection is asked for.
pub const DETAILS_LIMIT: u64 = 300;
/// Servers and clients listed in a summary.
const TOP: usize = 10;
/// Columns of the text timeline.
const TEXT_BUCKETS: usize = 60;
/// Buckets of the JSON timeline.
const JSON_BUCKETS: usize = 120;

/// What the summary shows, and which connections' details follow it.
#[derive(Clone, Debug, Default)]
pub struct View {
    pub group_by: GroupBy,
    /// Every connection's details, however many (`--all`).
    pub all: bool,
    /// The number of files of the run: with more than one, the text report opens with the
    /// summary of them all.
    pub files: usize,
    /// The connections reported (all when inactive).
    pub filter: crate::filter::Filter,
}

/// Rendered connections kept in memory before spilling to a temporary file.
const SPOOL_MEMORY: usize = 8 << 20;

/// Output formats of `analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human report.
    Text,
    /// One JSON document.
    Json,
    /// One JSON record per close event.
    Jsonl,
    /// One self-contained HTML page, built from the JSON document.
    Html,
}

/// The connections of the current file, rendered and waiting for the file's summary.
struct Spool {
    file: SpooledTempFile,
    /// Connections written since the last drain.
    count: u64,
}

impl Spool {
    fn new() -> Spool {
        Spool {
            file: SpooledTempFile::new(SPOOL_MEMORY),
            count: 0,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.count += 1;
        self.file.write_all(bytes)
    }

    /// One connection's block, marked as a problem or not, for `drain_blocks`.
    fn write_block(&mut self, problem: bool, bytes: &[u8]) -> io::Result<()> {
        self.count += 1;
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.file.write_all(&[u8::from(problem)])?;
        self.file.write_all(&len.to_le_bytes())?;
        self.file
            .write_all(bytes.get(..len as usize).unwrap_or(bytes))
    }

    /// Copies everything spooled to `out` and starts a new, empty spool.
    fn drain_to(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut full = std::mem::replace(self, Spool::new());
        full.file.seek(SeekFrom::Start(0))?;
        io::copy(&mut full.file, out).map(|_| ())
    }

    /// Copies the blocks spooled with `write_block` to `out` (only the problem ones when
    /// `problems_only`), `sep` between two, and starts a new, empty spool.
    fn drain_blocks(
        &mut self,
        out: &mut dyn Write,
        problems_only: bool,
        sep: &[u8],
    ) -> io::Result<()> {
        let mut full = std::mem::replace(self, Spool::new());
        full.file.seek(SeekFrom::Start(0))?;
        let mut head = [0u8; 5];
        let mut block = Vec::new();
        let mut first = true;
        loop {
            match full.file.read_exact(&mut head) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e),
            }
            let [flag, l0, l1, l2, l3] = head;
            let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
            block.resize(len, 0);
            full.file.read_exact(&mut block)?;
            if flag == 1 || !problems_only {
                if !first {
                    out.write_all(sep)?;
                }
                first = false;
                out.write_all(&block)?;
            }
        }
    }
}

/// Where the output goes: straight out, or, for HTML, into the page, which holds the JSON
/// document until the end.
enum Sink<'w> {
    Direct(&'w mut dyn Write),
    Page(Box<html::Page>, &'w mut dyn Write),
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Direct(out) => out.write(buf),
            Sink::Page(page, _) => page.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Direct(out) => out.write_all(buf),
            Sink::Page(page, _) => page.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Direct(out) => out.flush(),
            Sink::Page(_, out) => out.flush(),
        }
    }
}

/// Report writer for one run over any number of files.
pub struct Output<'w> {
    format: Format,
    style: text::Style,
    view: View,
    out: Sink<'w>,
    spool: Spool,
    /// The text sections of the files done, when the run has several (they follow the
    /// summary of them all).
    sections: Option<Spool>,
    files: usize,
    scratch: Vec<u8>,
    explained: text::Explained,
    /// The current file's summary, and the run's.
    incident: Incident,
    run: Incident,
    /// Connections whose details the text sections list, over the files done.
    run_shown: u64,
    /// Connections the filter passed over, in the current file and in the run.
    skipped: u64,
    run_skipped: u64,
}

impl<'w> Output<'w> {
    pub fn new(format: Format, color: bool, view: View, out: &'w mut dyn Write) -> Output<'w> {
        let several = view.files > 1;
        // HTML writes the JSON document, into the page.
        let out = match format {
            Format::Html => Sink::Page(Box::new(html::Page::new(Lang::En)), out),
            _ => Sink::Direct(out),
        };
        Output {
            format,
            style: text::Style { color },
            view,
            out,
            spool: Spool::new(),
            sections: (format == Format::Text && several).then(Spool::new),
            files: 0,
            scratch: Vec::new(),
            explained: text::Explained::default(),
            incident: Incident::new(),
            run: Incident::new(),
            run_shown: 0,
            skipped: 0,
            run_skipped: 0,
        }
    }

    /// Whether the current file lists every connection's details (text, HTML): `--all`, or
    /// few enough connections.
    fn details_all(&self, connections: u64) -> bool {
        !matches!(self.format, Format::Text | Format::Html)
            || self.view.all
            || self.view.filter.one_connection()
            || connections <= DETAILS_LIMIT
    }

    /// The line that says what the filter left out, when it is active.
    fn filter_note(&self, skipped: u64) -> String {
        if self.view.filter.is_active() {
            format!("  filter    {skipped} connection(s) left out by the options\n")
        } else {
            String::new()
        }
    }

    /// The language of the HTML page (its headings, and which catalog comes first).
    pub fn set_lang(&mut self, lang: Lang) {
        if let Sink::Page(page, _) = &mut self.out {
            page.set_lang(lang);
        }
    }

    /// Starts the output.
    pub fn begin(&mut self) -> io::Result<()> {
        if matches!(self.format, Format::Json | Format::Html) {
            self.out.write_all(json::document_head().as_bytes())?;
        }
        Ok(())
    }

    /// One finished connection of file `path`.
    pub fn connection(&mut self, path: &str, c: &ConnReport) -> io::Result<()> {
        if self.incident.files().is_empty() {
            self.incident.begin_file(path);
        }
        if !self.view.filter.accepts(c) {
            self.skipped += 1;
            return Ok(());
        }
        self.incident.add(c);
        if let Sink::Page(page, _) = &mut self.out {
            page.note(c);
        }
        match self.format {
            Format::Jsonl => {
                self.scratch.clear();
                json::jsonl_records(path, c, &mut self.scratch)?;
                self.out.write_all(&self.scratch)
            }
            Format::Json => {
                self.scratch.clear();
                if self.spool.count > 0 {
                    self.scratch.push(b',');
                }
                serde_json::to_writer(&mut self.scratch, c)?;
                self.spool.write(&self.scratch)
            }
            Format::Html => {
                self.scratch.clear();
                serde_json::to_writer(&mut self.scratch, c)?;
                self.spool.write_block(c.has_problem(), &self.scratch)
            }
            Format::Text => {
                let block = text::connection(c, self.style, &mut self.explained);
                self.spool.write_block(c.has_problem(), block.as_bytes())
            }
        }
    }

    /// The file is done: write its summary and the connections spooled for it.
    pub fn end_file(&mut self, f: &FileReport) -> io::Result<()> {
        let mut inc = std::mem::take(&mut self.incident);
        if inc.files().is_empty() {
            inc.begin_file(&f.path);
        }
        let all = self.details_all(inc.connections());
        match self.format {
            Format::Jsonl => {
                let report = inc.report(true, inc.connections(), TOP, JSON_BUCKETS);
                self.scratch.clear();
                json::jsonl_file_record(f, &report, &mut self.scratch)?;
                self.out.write_all(&self.scratch)?;
            }
            Format::Json => {
                if self.files > 0 {
                    self.out.write_all(b",")?;
                }
                let head = serde_json::to_string(f)?;
                // `head` is an object: reopen it to append the summary and connections.
                let head = head.strip_suffix('}').unwrap_or(&head);
                self.out.write_all(head.as_bytes())?;
                self.out.write_all(b",\"incident\":")?;
                let report = inc.report(true, inc.connections(), TOP, JSON_BUCKETS);
                serde_json::to_writer(&mut self.out, &report)?;
                self.out.write_all(b",\"connections\":[")?;
                self.spool.drain_to(&mut self.out)?;
                self.out.write_all(b"]}")?;
            }
            Format::Html => {
                // As for JSON, but beyond DETAILS_LIMIT only the problem connections.
                if let Sink::Page(page, _) = &mut self.out {
                    page.note_path(&f.path);
                }
                if self.files > 0 {
                    self.out.write_all(b",")?;
                }
                let shown = if all {
                    inc.connections()
                } else {
                    inc.problems()
                };
                self.run_shown += shown;
                let head = serde_json::to_string(f)?;
                let head = head.strip_suffix('}').unwrap_or(&head);
                self.out.write_all(head.as_bytes())?;
                self.out.write_all(b",\"incident\":")?;
                let report = inc.report(all, shown, TOP, JSON_BUCKETS);
                serde_json::to_writer(&mut self.out, &report)?;
                self.out.write_all(b",\"connections\":[")?;
                self.spool.drain_blocks(&mut self.out, !all, b",")?;
                self.out.write_all(b"]}")?;
            }
            Format::Text => {
                let shown = if all {
                    inc.connections()
                } else {
                    inc.problems()
                };
                self.run_shown += shown;
                let report = inc.report(all, shown, TOP, TEXT_BUCKETS);
                let mut section = Vec::new();
                if self.files > 0 {
                    section.push(b'\n');
                }
                section.extend_from_slice(text::file_header(f, self.style).as_bytes());
                section.extend_from_slice(
                    summary::summary(&report, &f.path, self.view.group_by, false, self.style)
                        .as_bytes(),
                );
                section.extend_from_slice(self.filter_note(self.skipped).as_bytes());
                if !all {
                    let _ = writeln_details(&mut section, &report);
                }
                match self.sections.as_mut() {
                    Some(sections) => {
                        sections.write(&section)?;
                        self.spool.drain_blocks(&mut sections.file, !all, b"")?;
                    }
                    None => {
                        self.out.write_all(&section)?;
                        self.spool.drain_blocks(&mut self.out, !all, b"")?;
                    }
                }
            }
        }
        self.run.merge(&inc);
        self.run_skipped += std::mem::take(&mut self.skipped);
        self.files += 1;
        self.explained = text::Explained::default();
        self.out.flush()
    }

    /// Ends the output: the summary of every file (JSON `incident`; in the text report,
    /// before the files' sections when there are several).
    pub fn end(&mut self) -> io::Result<()> {
        match self.format {
            Format::Json => {
                let all = self.run.connections();
                let report = self.run.report(true, all, TOP, JSON_BUCKETS);
                self.out.write_all(b"],\"incident\":")?;
                serde_json::to_writer(&mut self.out, &report)?;
                self.out.write_all(b"}\n")?;
            }
            Format::Html => {
                let all = self.run_shown == self.run.connections();
                let report = self.run.report(all, self.run_shown, TOP, JSON_BUCKETS);
                self.out.write_all(b"],\"incident\":")?;
                serde_json::to_writer(&mut self.out, &report)?;
                self.out.write_all(b"}\n")?;
                if let Sink::Page(page, out) = &mut self.out {
                    page.finish(&mut **out)?;
                }
            }
            Format::Text => {
                if let Some(mut sections) = self.sections.take() {
                    let all = self.run_shown == self.run.connections();
                    let report = self.run.report(all, self.run_shown, TOP, TEXT_BUCKETS);
                    let label = format!("{} files", self.files);
                    self.out.write_all(
                        summary::summary(&report, &label, self.view.group_by, true, self.style)
                            .as_bytes(),
                    )?;
                    self.out
                        .write_all(self.filter_note(self.run_skipped).as_bytes())?;
                    self.out.write_all(b"\n")?;
                    sections.drain_to(&mut self.out)?;
                }
            }
            Format::Jsonl => {}
        }
        self.out.flush()
    }
}

/// The line that says which connections' details follow, and how to see them all.
fn writeln_details(out: &mut Vec<u8>, report: &crate::incident::IncidentReport) -> io::Result<()> {
    writeln!(
        out,
        "  details   the {} connection(s) with problems follow, of {} (more than {DETAILS_LIMIT}: --all lists every connection)",
        report.shown, report.connections
    )
}
