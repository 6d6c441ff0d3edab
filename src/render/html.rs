//! The HTML report: one self-contained page (no network access when opened, from a file://
//! URL too) built from the same document `--format json` writes.
//!
//! The JSON document is written as for `--format json`, into a spool (memory up to
//! `DOC_MEMORY`, then a temporary file); at the end the page is written: the document
//! embedded as `<script type="application/json" id="wsclose-data">`, the catalog entries of
//! the close codes and TLS alerts met, in English and Arabic, as `id="wsclose-catalog"`, and
//! the inline script and style that render them (`html/report.js`, `html/report.css`).
//!
//! Inside a `<script>` element nothing is escaped by HTML, so the embedded JSON has every `<`
//! written as `\u003c` (no `</script>` or `<!--` in a reason text can end the element) and
//! U+2028 / U+2029 as `\u2028` / `\u2029`; JSON parsers read them back unchanged.

use std::collections::BTreeSet;
use std::io::{self, Read, Seek, SeekFrom, Write};

use serde::Serialize;
use tempfile::SpooledTempFile;

use crate::explain::{card, Card, Lang, Query};
use crate::report::ConnReport;

/// The JSON document kept in memory before spilling to a temporary file.
const DOC_MEMORY: usize = 8 << 20;

const SCRIPT: &str = include_str!("html/report.js");
const STYLE: &str = include_str!("html/report.css");

/// Only the page itself, inline styles and scripts: nothing is fetched when the page opens.
const CSP: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

/// What the catalog of a page must explain, and the files it covers (for its title):
/// noted per file, merged per run.
#[derive(Clone, Debug, Default)]
pub struct Notes {
    codes: BTreeSet<u16>,
    alerts: BTreeSet<u8>,
    paths: Vec<String>,
}

impl Notes {
    /// Notes the close codes and TLS alerts of a listed connection: the ones on the wire and
    /// the ones its applications were told.
    pub fn note(&mut self, c: &ConnReport) {
        self.codes.extend(c.closes.iter().filter_map(|cl| cl.code));
        for o in [&c.story.client_observed, &c.story.server_observed]
            .into_iter()
            .flatten()
        {
            self.codes.extend(o.reported.code);
        }
        if let Some(tls) = &c.tls {
            self.alerts
                .extend(tls.alerts.iter().filter_map(|a| a.description));
        }
    }

    /// Notes the path of a file in the report (for the title).
    pub fn note_path(&mut self, path: &str) {
        self.paths.push(path.to_string());
    }

    /// Adds another file's notes.
    pub fn merge(&mut self, other: &Notes) {
        self.codes.extend(other.codes.iter().copied());
        self.alerts.extend(other.alerts.iter().copied());
        self.paths.extend(other.paths.iter().cloned());
    }
}

/// The page being built: the JSON document so far and what the catalog must explain.
pub struct Page {
    doc: SpooledTempFile,
    lang: Lang,
    notes: Notes,
}

/// The catalog part of the page: the entries for the codes met, in both languages.
#[derive(Serialize)]
struct Catalog<'a> {
    lang: Lang,
    en: &'a [Card],
    ar: &'a [Card],
}

impl Page {
    pub fn new(lang: Lang) -> Page {
        Page {
            doc: SpooledTempFile::new(DOC_MEMORY),
            lang,
            notes: Notes::default(),
        }
    }

    pub fn set_lang(&mut self, lang: Lang) {
        self.lang = lang;
    }

    /// Adds a file's notes.
    pub fn add_notes(&mut self, notes: &Notes) {
        self.notes.merge(notes);
    }

    /// The catalog cards of everything noted, in one language.
    fn cards(&self, lang: Lang) -> Vec<Card> {
        let codes = self.notes.codes.iter().map(|&c| Query::Close(c));
        let alerts = self.notes.alerts.iter().map(|&a| Query::Alert(a));
        codes.chain(alerts).map(|q| card(q, lang)).collect()
    }

    /// Writes the page, with the JSON document written so far, to `out`.
    pub fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let (lang, dir) = match self.lang {
            Lang::En => ("en", "ltr"),
            Lang::Ar => ("ar", "rtl"),
        };
        let title = match self.notes.paths.as_slice() {
            [one] => format!("wsclose: {one}"),
            [] => "wsclose".to_string(),
            many => format!("wsclose: {} files", many.len()),
        };
        write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"{lang}\" dir=\"{dir}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta name=\"generator\" content=\"wsclose {}\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
             <noscript>This report needs JavaScript; the data is in the wsclose-data element of the page source (or run wsclose analyze --format json).</noscript>\n\
             <main id=\"app\"></main>\n<script type=\"application/json\" id=\"wsclose-data\">",
            env!("CARGO_PKG_VERSION"),
            escape_text(&title),
        )?;
        self.doc.seek(SeekFrom::Start(0))?;
        copy_escaped(&mut self.doc, out)?;
        out.write_all(b"</script>\n<script type=\"application/json\" id=\"wsclose-catalog\">")?;
        let en = self.cards(Lang::En);
        let ar = self.cards(Lang::Ar);
        let catalog = serde_json::to_vec(&Catalog {
            lang: self.lang,
            en: &en,
            ar: &ar,
        })?;
        copy_escaped(&mut catalog.as_slice(), out)?;
        write!(
            out,
            "</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n"
        )?;
        out.flush()
    }
}

/// The JSON document is written into the page's spool.
impl Write for Page {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.doc.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Text for an HTML element or attribute.
fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(ch),
        }
    }
    out
}

/// Copies JSON text to `out` for a `<script>` element: `<` as `\u003c`, U+2028 and U+2029
/// as `\u2028` and `\u2029`. In JSON these only occur inside strings, where the escapes mean
/// the same characters.
pub fn copy_escaped(from: &mut dyn Read, out: &mut dyn Write) -> io::Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    // Bytes of a possible U+2028/U+2029 (E2 80 A8/A9) cut by the end of the last read.
    let mut held: Vec<u8> = Vec::with_capacity(2);
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return out.write_all(&held);
        }
        let mut chunk = std::mem::take(&mut held);
        chunk.extend_from_slice(buf.get(..n).unwrap_or_default());
        // Hold back a trailing E2 or E2 80: the rest of the character comes next.
        let keep = match chunk.as_slice() {
            [.., 0xE2, 0x80] => 2,
            [.., 0xE2] => 1,
            _ => 0,
        };
        let (now, later) = chunk.split_at(chunk.len() - keep);
        escape_into(now, out)?;
        held.extend_from_slice(later);
    }
}

fn escape_into(mut bytes: &[u8], out: &mut dyn Write) -> io::Result<()> {
    while let Some(at) = bytes.iter().position(|&b| b == b'<' || b == 0xE2) {
        let (plain, rest) = bytes.split_at(at);
        out.write_all(plain)?;
        let (len, with): (usize, &[u8]) = match rest {
            [b'<', ..] => (1, b"\\u003c"),
            [0xE2, 0x80, 0xA8, ..] => (3, b"\\u2028"),
            [0xE2, 0x80, 0xA9, ..] => (3, b"\\u2029"),
            // Another character starting with E2: as it is.
            _ => (1, &[0xE2]),
        };
        out.write_all(with)?;
        bytes = rest.get(len..).unwrap_or_default();
    }
    out.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        copy_escaped(&mut s.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn nothing_in_a_string_ends_the_script_element() {
        let json = serde_json::to_string(&"</script><!-- \u{2028}\u{2029} é").unwrap();
        let e = escaped(&json);
        assert!(!e.contains('<'), "{e}");
        assert!(!e.contains('\u{2028}') && !e.contains('\u{2029}'), "{e}");
        let back: String = serde_json::from_str(&e).unwrap();
        assert_eq!(back, "</script><!-- \u{2028}\u{2029} é");
    }

    #[test]
    fn a_character_cut_between_reads_is_still_escaped() {
        // A reader that returns one byte at a time cuts every U+2028 in three.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match self.0.split_first() {
                    Some((b, rest)) if !buf.is_empty() => {
                        buf[0] = *b;
                        self.0 = rest;
                        Ok(1)
                    }
                    _ => Ok(0),
                }
            }
        }
        let text = "\"a\u{2028}b\u{2029}\u{e2}\"".to_string();
        let mut out = Vec::new();
        copy_escaped(&mut OneByte(text.as_bytes()), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\u2028b\\u2029\u{e2}\""
        );
    }
}
