//! Word wrap for the text outputs (the report and `explain`), counting terminal columns
//! (`unicode-width`): combining marks, such as the Arabic vowel signs, take none.

use unicode_width::UnicodeWidthStr;

/// Wraps `text` to `width` columns, every line after the first indented by `indent`.
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    wrap_lines(text, width).join(&format!("\n{indent}"))
}

/// Splits `text` into lines of at most `width` columns, breaking between words (a word
/// wider than `width` gets a line of its own).
pub fn wrap_lines(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut col = 0;
    for word in text.split_whitespace() {
        let w = word.width();
        if col > 0 && col + 1 + w > width {
            lines.push(std::mem::take(&mut line));
            col = 0;
        } else if col > 0 {
            line.push(' ');
            col += 1;
        }
        line.push_str(word);
        col += w;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Columns `text` takes in a terminal.
pub fn width(text: &str) -> usize {
    text.width()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_between_words() {
        assert_eq!(wrap_lines("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap_lines("  aa   bb ", 80), ["aa bb"]);
        assert_eq!(wrap_lines("toolongword x", 4), ["toolongword", "x"]);
        assert_eq!(wrap("aa bb cc", 5, "  "), "aa bb\n  cc");
    }

    #[test]
    fn combining_marks_take_no_column() {
        // Three e's with a combining acute accent: 6 chars, 3 columns.
        let accented = "e\u{301}e\u{301}e\u{301}";
        assert_eq!(width(accented), 3);
        assert_eq!(wrap_lines(&format!("{accented} abc"), 7).len(), 1);
        // An Arabic word with vowel signs (fatha, shadda) is as wide as its letters.
        assert_eq!(width("\u{645}\u{64e}\u{631}\u{651}\u{629}"), 3);
    }
}
