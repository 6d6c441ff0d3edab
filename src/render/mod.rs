//! Rendering the report model: `text` (the human report), `json` (JSON and JSONL), `html`
//! (a page built from the JSON document), and the writer that streams reports as
//! connections finish, in the chosen format, without keeping them.
//!
//! JSONL goes straight to the output. Text and JSON print a file's summary before its
//! connections, so each connection is rendered as it finishes into a spool (memory up to
//! `SPOOL_MEMORY`, then a temporary file) and copied out when the file is done: memory stays
//! bounded however many connections a capture holds. Connections appear in the order they
//! finished.

pub mod evidence;
pub mod html;
pub mod json;
pub mod text;
pub mod wrap;

use std::io::{self, Seek, SeekFrom, Write};

use tempfile::SpooledTempFile;

use crate::explain::Lang;
use crate::report::{ConnReport, FileReport};

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

    /// Copies everything spooled to `out` and starts a new, empty spool.
    fn drain_to(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut full = std::mem::replace(self, Spool::new());
        full.file.seek(SeekFrom::Start(0))?;
        io::copy(&mut full.file, out).map(|_| ())
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
    out: Sink<'w>,
    spool: Spool,
    files: usize,
    scratch: Vec<u8>,
    explained: text::Explained,
}

impl<'w> Output<'w> {
    pub fn new(format: Format, color: bool, out: &'w mut dyn Write) -> Output<'w> {
        // HTML writes the JSON document, into the page.
        let (format, out) = match format {
            Format::Html => (
                Format::Json,
                Sink::Page(Box::new(html::Page::new(Lang::En)), out),
            ),
            _ => (format, Sink::Direct(out)),
        };
        Output {
            format,
            style: text::Style { color },
            out,
            spool: Spool::new(),
            files: 0,
            scratch: Vec::new(),
            explained: text::Explained::default(),
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
        if self.format == Format::Json {
            self.out.write_all(json::document_head().as_bytes())?;
        }
        Ok(())
    }

    /// One finished connection of file `path`.
    pub fn connection(&mut self, path: &str, c: &ConnReport) -> io::Result<()> {
        if let Sink::Page(page, _) = &mut self.out {
            page.note(c);
        }
        match self.format {
            Format::Jsonl => {
                self.scratch.clear();
                json::jsonl_records(path, c, &mut self.scratch)?;
                self.out.write_all(&self.scratch)
            }
            Format::Json | Format::Html => {
                self.scratch.clear();
                if self.spool.count > 0 {
                    self.scratch.push(b',');
                }
                serde_json::to_writer(&mut self.scratch, c)?;
                self.spool.write(&self.scratch)
            }
            Format::Text => {
                let block = text::connection(c, self.style, &mut self.explained);
                self.spool.write(block.as_bytes())
            }
        }
    }

    /// The file is done: write its summary and the connections spooled for it.
    pub fn end_file(&mut self, f: &FileReport) -> io::Result<()> {
        if let Sink::Page(page, _) = &mut self.out {
            page.note_path(&f.path);
        }
        match self.format {
            Format::Jsonl => {}
            Format::Json | Format::Html => {
                if self.files > 0 {
                    self.out.write_all(b",")?;
                }
                let head = serde_json::to_string(f)?;
                // `head` is an object: reopen it to append the connections array.
                let head = head.strip_suffix('}').unwrap_or(&head);
                self.out.write_all(head.as_bytes())?;
                self.out.write_all(b",\"connections\":[")?;
                self.spool.drain_to(&mut self.out)?;
                self.out.write_all(b"]}")?;
            }
            Format::Text => {
                if self.files > 0 {
                    self.out.write_all(b"\n")?;
                }
                self.out
                    .write_all(text::file_header(f, self.style).as_bytes())?;
                self.spool.drain_to(&mut self.out)?;
            }
        }
        self.files += 1;
        self.explained = text::Explained::default();
        self.out.flush()
    }

    /// Ends the output.
    pub fn end(&mut self) -> io::Result<()> {
        if self.format == Format::Json {
            self.out.write_all(b"]}\n")?;
        }
        if let Sink::Page(page, out) = &mut self.out {
            page.finish(&mut **out)?;
        }
        self.out.flush()
    }
}
