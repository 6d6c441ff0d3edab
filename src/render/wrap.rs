//! Word wrap for the text outputs (the report and `explain`).

/// Wraps `text` to `width` columns, every line after the first indented by `indent`.
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    wrap_lines(text, width).join(&format!("\n{indent}"))
}

/// Splits `text` into lines of at most `width` characters, breaking between words (a word
/// longer than `width` gets a line of its own).
pub fn wrap_lines(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut col = 0;
    for word in text.split_whitespace() {
        let w = word.chars().count();
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
