//! Rendering the report model: `text` (the human report), `json` (JSON and JSONL), the
//! incident summary (`summary`), `html` (a page built from the JSON document), and the
//! writer that streams reports as connections finish, in the chosen format, without keeping
//! them.
//!
//! JSONL goes straight to the output. Text and JSON print a file's summary before its
//! connections, so each connection is rendered as it finishes into a spool (memory up to
//! `SPOOL_MEMORY`, then a temporary file) and copied out when the file is done: memory stays
//! bounded however many connections a capture holds. Connections appear in the order they
//! finished. With several files, the text report opens with the summary of them all: the
//! files' sections are spooled too, until the last is done. HTML writes the JSON document
//! into the page, which is written out at the end.
//!
//! A file's section is rendered by a `FileOutput`, which knows nothing of the other files;
//! `Output` either drives one itself, file after file (`connection`, `end_file`), or takes
//! sections rendered elsewhere, in the run's order (`section`): `jobs` renders files in
//! parallel that way, with the same bytes as one after another.

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

/// What a file's section leaves for the run: its summary, and the counts the run's
/// summary needs.
#[derive(Debug, Default)]
pub struct FileDone {
    pub incident: Incident,
    /// Connections whose details the text section lists.
    pub shown: u64,
    /// Connections the filter passed over.
    pub skipped: u64,
    /// What an HTML page's catalog must explain (HTML only).
    pub notes: html::Notes,
}

/// The renderer of one file's section: its connections as they finish, then its summary
/// with them. Independent of the other files, so that files can be rendered in parallel,
/// each into its own spool, and copied out in order (`Output::section`).
pub struct FileOutput {
    format: Format,
    style: text::Style,
    view: View,
    /// The file's position in the run (the first section has no separator before it).
    index: usize,
    spool: Spool,
    scratch: Vec<u8>,
    /// Catalog entries printed by any connection, and by problem connections alone: a
    /// problem connection (always listed) refers only to entries another problem connection
    /// printed, so that no reference points to a connection a problems-only listing leaves
    /// out.
    explained: text::Explained,
    explained_problems: text::Explained,
    incident: Incident,
    skipped: u64,
    notes: html::Notes,
}

impl FileOutput {
    /// The renderer of the `index`th file of a run (from 0).
    pub fn new(format: Format, color: bool, view: View, index: usize) -> FileOutput {
        FileOutput {
            format,
            style: text::Style { color },
            view,
            index,
            spool: Spool::new(),
            scratch: Vec::new(),
            explained: text::Explained::default(),
            explained_problems: text::Explained::default(),
            incident: Incident::new(),
            skipped: 0,
            notes: html::Notes::default(),
        }
    }

    /// A renderer like this one for the `index`th file of the run.
    pub fn for_file(&self, index: usize) -> FileOutput {
        FileOutput::new(self.format, self.style.color, self.view.clone(), index)
    }

    /// Whether the file lists every connection's details (text, HTML): `--all`, or few
    /// enough connections.
    fn details_all(&self, connections: u64) -> bool {
        !matches!(self.format, Format::Text | Format::Html)
            || self.view.all
            || self.view.filter.one_connection()
            || connections <= DETAILS_LIMIT
    }

    /// One finished connection of file `path`; JSONL records go to `out` at once, the
    /// other formats wait in the spool for the file's summary.
    pub fn connection(
        &mut self,
        out: &mut dyn Write,
        path: &str,
        c: &ConnReport,
    ) -> io::Result<()> {
        if self.incident.files().is_empty() {
            self.incident.begin_file(path);
        }
        if !self.view.filter.accepts(c) {
            self.skipped += 1;
            return Ok(());
        }
        self.incident.add(c);
        let problem = c.has_problem();
        // Past the details limit the text and the page list only problem connections: the
        // others are counted, and not rendered.
        if !problem && !self.details_all(self.incident.connections()) {
            return Ok(());
        }
        match self.format {
            Format::Jsonl => {
                self.scratch.clear();
                json::jsonl_records(path, c, &mut self.scratch)?;
                out.write_all(&self.scratch)
            }
            Format::Html => {
                self.notes.note(c);
                self.scratch.clear();
                serde_json::to_writer(&mut self.scratch, c)?;
                self.spool.write_block(problem, &self.scratch)
            }
            Format::Json => {
                self.scratch.clear();
                if self.spool.count > 0 {
                    self.scratch.push(b',');
                }
                serde_json::to_writer(&mut self.scratch, c)?;
                self.spool.write(&self.scratch)
            }
            Format::Text => {
                let block = if problem {
                    let block = text::connection(c, self.style, &mut self.explained_problems);
                    self.explained.absorb(&self.explained_problems);
                    block
                } else {
                    text::connection(c, self.style, &mut self.explained)
                };
                self.spool.write_block(problem, block.as_bytes())
            }
        }
    }

    /// The file is done: writes the rest of its section (its summary and the connections
    /// spooled for it) to `out`.
    pub fn finish(mut self, out: &mut dyn Write, f: &FileReport) -> io::Result<FileDone> {
        let mut inc = std::mem::take(&mut self.incident);
        if inc.files().is_empty() {
            inc.begin_file(&f.path);
        }
        let all = self.details_all(inc.connections());
        let mut shown = 0;
        match self.format {
            Format::Jsonl => {
                let report = inc.report(true, inc.connections(), TOP, JSON_BUCKETS);
                self.scratch.clear();
                json::jsonl_file_record(f, &report, &mut self.scratch)?;
                out.write_all(&self.scratch)?;
            }
            Format::Json => {
                if self.index > 0 {
                    out.write_all(b",")?;
                }
                let head = serde_json::to_string(f)?;
                // `head` is an object: reopen it to append the summary and connections.
                let head = head.strip_suffix('}').unwrap_or(&head);
                out.write_all(head.as_bytes())?;
                out.write_all(b",\"incident\":")?;
                let report = inc.report(true, inc.connections(), TOP, JSON_BUCKETS);
                serde_json::to_writer(&mut *out, &report)?;
                out.write_all(b",\"connections\":[")?;
                self.spool.drain_to(out)?;
                out.write_all(b"]}")?;
            }
            Format::Html => {
                // As for JSON, but beyond DETAILS_LIMIT only the problem connections.
                self.notes.note_path(&f.path);
                if self.index > 0 {
                    out.write_all(b",")?;
                }
                shown = if all {
                    inc.connections()
                } else {
                    inc.problems()
                };
                let head = serde_json::to_string(f)?;
                let head = head.strip_suffix('}').unwrap_or(&head);
                out.write_all(head.as_bytes())?;
                out.write_all(b",\"incident\":")?;
                let report = inc.report(all, shown, TOP, JSON_BUCKETS);
                serde_json::to_writer(&mut *out, &report)?;
                out.write_all(b",\"connections\":[")?;
                self.spool.drain_blocks(out, !all, b",")?;
                out.write_all(b"]}")?;
            }
            Format::Text => {
                shown = if all {
                    inc.connections()
                } else {
                    inc.problems()
                };
                let report = inc.report(all, shown, TOP, TEXT_BUCKETS);
                let mut section = Vec::new();
                if self.index > 0 {
                    section.push(b'\n');
                }
                section.extend_from_slice(text::file_header(f, self.style).as_bytes());
                section.extend_from_slice(
                    summary::summary(&report, &f.path, self.view.group_by, false, self.style)
                        .as_bytes(),
                );
                section.extend_from_slice(filter_note(&self.view, self.skipped).as_bytes());
                if !all {
                    let _ = writeln_details(&mut section, &report);
                }
                out.write_all(&section)?;
                self.spool.drain_blocks(out, !all, b"")?;
            }
        }
        Ok(FileDone {
            incident: inc,
            shown,
            skipped: self.skipped,
            notes: self.notes,
        })
    }
}

/// The line that says what the filter left out, when it is active.
fn filter_note(view: &View, skipped: u64) -> String {
    if view.filter.is_active() {
        format!("  filter    {skipped} connection(s) left out by the options\n")
    } else {
        String::new()
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

/// Report writer for one run over any number of files: either file by file, streaming
/// (`connection`, `end_file`), or from sections rendered elsewhere by `FileOutput`, given
/// in the run's order (`section`).
pub struct Output<'w> {
    format: Format,
    style: text::Style,
    view: View,
    color: bool,
    out: Sink<'w>,
    /// The text sections of the files done, when the run has several (they follow the
    /// summary of them all).
    sections: Option<Spool>,
    files: usize,
    /// The current file's renderer (streaming).
    current: Option<FileOutput>,
    /// The run's summary.
    run: Incident,
    /// Connections whose details the text sections list, over the files done.
    run_shown: u64,
    /// Connections the filter passed over in the run.
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
            color,
            out,
            sections: (format == Format::Text && several).then(Spool::new),
            files: 0,
            current: None,
            run: Incident::new(),
            run_shown: 0,
            run_skipped: 0,
        }
    }

    /// The renderer of the next file's section, for rendering apart (`section`).
    pub fn file_output(&self, index: usize) -> FileOutput {
        FileOutput::new(self.format, self.color, self.view.clone(), index)
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
        let file = self.current.get_or_insert_with(|| {
            FileOutput::new(self.format, self.color, self.view.clone(), self.files)
        });
        file.connection(&mut self.out, path, c)
    }

    /// The file is done: write its summary and the connections spooled for it.
    pub fn end_file(&mut self, f: &FileReport) -> io::Result<()> {
        let file = match self.current.take() {
            Some(file) => file,
            None => self.file_output(self.files),
        };
        let done = match self.sections.as_mut() {
            Some(sections) => file.finish(&mut sections.file, f)?,
            None => file.finish(&mut self.out, f)?,
        };
        self.add(&done);
        self.out.flush()
    }

    /// The next file's section, rendered apart by the `FileOutput` of `file_output(index)`
    /// with this run's `index`: copies it out.
    pub fn section(&mut self, done: &FileDone, section: &mut dyn Read) -> io::Result<()> {
        match self.sections.as_mut() {
            Some(sections) => io::copy(section, &mut sections.file)?,
            None => io::copy(section, &mut self.out)?,
        };
        self.add(done);
        self.out.flush()
    }

    /// Counts a file done into the run.
    fn add(&mut self, done: &FileDone) {
        self.run.merge(&done.incident);
        self.run_shown += done.shown;
        self.run_skipped += done.skipped;
        self.files += 1;
        if let Sink::Page(page, _) = &mut self.out {
            page.add_notes(&done.notes);
        }
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
                        .write_all(filter_note(&self.view, self.run_skipped).as_bytes())?;
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
