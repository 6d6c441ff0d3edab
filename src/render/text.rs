//! The human report: a summary per file, then one block per connection with its handshake,
//! its TLS facts, its Close frames explained, its close story, and its findings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::capture::Format;
use crate::client::reports::Reported;
use crate::close::catalog;
use crate::proxy;
use crate::render::evidence;
use crate::render::wrap::wrap;
use crate::report::{
    CloseReport, Confidence, ConnReport, DecryptionStatus, Detection, FileReport, Finding,
    Handshake, LegRole, Observed, Outcome, Story, TimeoutKind, TlsHandshake, TlsReport, Verdict,
};
use crate::rules::{Rule, Severity};
use crate::tls::Validity;

/// Text from a capture or a path (a Host header, a file name, a reason), made safe to print
/// to a terminal: every character that could move the cursor, change colours, send a
/// terminal command or reorder what is shown is written as a Rust escape (`\u{1b}`,
/// `\n`), and the rest is kept as is. Escaped: the C0 controls (U+0000..U+001F, tab and
/// newline too: a field stays on its line), DEL, the C1 controls (U+0080..U+009F: U+009B
/// starts a command on many terminals, with `--color never` too), the bidirectional
/// overrides, embeddings and isolates (U+202A..U+202E, U+2066..U+2069) and marks (U+200E,
/// U+200F, U+061C), and the line and paragraph separators (U+2028, U+2029). Every renderer
/// that writes to a terminal, and every message naming a file, goes through this one
/// function.
pub fn safe(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A character `safe` escapes.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `s` in double quotes, made safe as `safe` does, with its own quotes and backslashes
/// escaped so that the quoted text cannot be mistaken for what follows it.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if unsafe_char(c) => {
                let _ = write!(out, "{}", c.escape_default());
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Most characters of a command-line argument or file name that a message repeats.
pub const MAX_ECHO: usize = 200;

/// An argument (a file name, an option's value) as a message repeats it: safe to print
/// (`safe`), and when longer than `MAX_ECHO` characters, its first `MAX_ECHO` followed by
/// `...` and its whole length, so that a 1 MB value is not echoed whole.
pub fn echo(s: &str) -> String {
    let n = s.chars().count();
    if n <= MAX_ECHO {
        return safe(s).into_owned();
    }
    let head: String = s.chars().take(MAX_ECHO).collect();
    format!("{}... ({n} characters)", safe(&head))
}

/// A message for standard error, made safe (`safe`) and short: a line longer than
/// `4 * MAX_ECHO` characters keeps its start and its end (where the message says what is
/// wrong) around `... (N characters left out) ...`. For messages built by code that did
/// not shorten what it repeats.
pub fn message(s: &str) -> String {
    let n = s.chars().count();
    let max = 4 * MAX_ECHO;
    if n <= max {
        return safe(s).into_owned();
    }
    let head: String = s.chars().take(max / 2).collect();
    let tail: String = s.chars().skip(n - max / 2).collect();
    format!(
        "{}... ({} characters left out) ...{}",
        safe(&head),
        n - max,
        safe(&tail)
    )
}

/// ANSI styling, or none.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

/// The styles of the report: headings bold, problems bold red, good news green, doubts
/// yellow, context dim.
const BOLD: anstyle::Style = anstyle::Style::new().bold();
const RED: anstyle::Style = anstyle::Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(anstyle::AnsiColor::Red)));
const GREEN: anstyle::Style =
    anstyle::Style::new().fg_color(Some(anstyle::Color::Ansi(anstyle::AnsiColor::Green)));
const YELLOW: anstyle::Style =
    anstyle::Style::new().fg_color(Some(anstyle::Color::Ansi(anstyle::AnsiColor::Yellow)));
const DIM: anstyle::Style = anstyle::Style::new().dimmed();

impl Style {
    pub(crate) fn paint(self, style: anstyle::Style, s: &str) -> String {
        if self.color {
            format!("{style}{s}{style:#}")
        } else {
            s.to_string()
        }
    }
    pub(crate) fn bold(self, s: &str) -> String {
        self.paint(BOLD, s)
    }
    pub(crate) fn red(self, s: &str) -> String {
        self.paint(RED, s)
    }
    pub(crate) fn green(self, s: &str) -> String {
        self.paint(GREEN, s)
    }
    pub(crate) fn yellow(self, s: &str) -> String {
        self.paint(YELLOW, s)
    }
    pub(crate) fn dim(self, s: &str) -> String {
        self.paint(DIM, s)
    }
}

/// Indent of the lines that continue a field of a connection block.
const CONT: &str = "             ";

fn outcome_text(o: Outcome) -> &'static str {
    match o {
        Outcome::Clean => "clean close",
        Outcome::NoStatus => "clean close without status code (applications see 1005)",
        Outcome::OneSided => "one-sided close (Close never answered)",
        Outcome::Abnormal => "abnormal drop, no Close frame (applications see 1006)",
        Outcome::Open => "still open when the capture ends",
        Outcome::Refused => "upgrade refused (no WebSocket connection)",
        Outcome::TlsFailed => "TLS handshake failed (no WebSocket connection)",
        Outcome::Failed => "failed: Close frames were exchanged, but one side answered an illegal Close by failing the connection",
        Outcome::Encrypted => {
            "TLS session: WebSocket frames, Close included, are encrypted (not seen)"
        }
    }
}

/// The file's header and summary.
pub fn file_header(f: &FileReport, s: Style) -> String {
    let mut o = String::new();
    let fmt = match f.format {
        Some(Format::Pcap) => "pcap",
        Some(Format::Pcapng) => "pcapng",
        None => "unreadable",
    };
    let gz = if f.gzip { ", gzip" } else { "" };
    let _ = writeln!(
        o,
        "{} {} ({fmt}{gz}, {} packets)",
        s.bold("=="),
        // A file that could not be read may be named by anything given on the command
        // line: shortened, as in messages.
        s.bold(&if f.error.is_some() {
            echo(&f.path)
        } else {
            safe(&f.path).into_owned()
        }),
        f.summary.packets
    );
    let sm = &f.summary;
    let illegal = format!("{} illegal", sm.closes_by_verdict.illegal);
    let tls = if sm.tls_connections > 0 {
        let failed = format!("{} failed handshake(s)", sm.tls_failures);
        format!(
            ", {} TLS ({})",
            sm.tls_connections,
            if sm.tls_failures > 0 {
                s.red(&failed)
            } else {
                failed
            }
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "   {} WebSocket connection(s){tls} of {} TCP; {} Close frame(s): {} legal, {}",
        sm.websocket_connections,
        sm.tcp_connections,
        sm.close_frames,
        sm.closes_by_verdict.legal,
        if sm.closes_by_verdict.illegal > 0 {
            s.red(&illegal)
        } else {
            illegal
        }
    );
    if !sm.outcomes.is_empty() {
        let parts: Vec<String> = sm
            .outcomes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(o, "   outcomes: {}", parts.join(", "));
    }
    let errors = sm.findings_by_severity.error;
    let warnings = sm.findings_by_severity.warning;
    let e = format!("{errors} protocol error(s)");
    let w = format!("{warnings} warning(s)");
    let _ = writeln!(
        o,
        "   findings: {}, {}",
        if errors > 0 { s.red(&e) } else { e },
        if warnings > 0 { s.yellow(&w) } else { w }
    );
    for w in &f.warnings {
        let _ = writeln!(o, "   {} {}", s.yellow("warning:"), safe(&w.message));
    }
    if let Some(e) = &f.error {
        let _ = writeln!(o, "   {} {}", s.red("error:"), message(e));
    }
    o
}

/// Catalog entries already printed in this file's report, with the connection that printed
/// them: a capture with thousands of 1000 closes explains 1000 once.
#[derive(Debug, Default)]
pub struct Explained(BTreeMap<&'static str, u64>);

impl Explained {
    /// Adds the entries of `other` not known here (with the connection that printed them).
    pub fn absorb(&mut self, other: &Explained) {
        for (name, id) in &other.0 {
            self.0.entry(name).or_insert(*id);
        }
    }
}

/// One connection's block.
pub fn connection(c: &ConnReport, s: Style, explained: &mut Explained) -> String {
    let mut o = String::new();
    let detection = match c.detection {
        // The answer was read but not the request (it was over the size limit).
        Detection::Handshake if c.findings.iter().any(|f| f.rule == Rule::HandshakeTooLarge) => {
            "handshake not read (over the size limit)"
        }
        Detection::Handshake => "handshake seen",
        Detection::Heuristic => "no handshake: recognised from frames, lower confidence",
        Detection::Forced => "no handshake: --ws-port",
        Detection::Tls => "TLS",
    };
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{} {} -> {}  {}",
        s.bold(&format!("Connection #{}", c.id)),
        c.client,
        c.server,
        s.dim(&format!(
            "packets {}-{}, {:.3} s, {detection}",
            c.first_frame,
            c.last_frame,
            c.duration_ms / 1000.0
        ))
    );
    if let Some(id) = &c.client_software {
        let name = id.product.as_deref().unwrap_or(id.family.label());
        let line = format!(
            "{} ({} confidence: {})",
            safe(name),
            confidence_word(id.confidence),
            safe(&id.evidence)
        );
        let _ = writeln!(o, "  client     {}", wrap(&line, 84, CONT));
    }
    if let Some(h) = &c.handshake {
        handshake_block(&mut o, h, s);
    }
    if let Some(t) = &c.tls {
        tls_block(&mut o, t, s);
    }
    if c.detection != Detection::Tls
        && !matches!(c.story.outcome, Outcome::Refused | Outcome::TlsFailed)
    {
        let _ = writeln!(
            o,
            "  frames     client -> server {} ({} messages), server -> client {} ({} messages)",
            c.frames.client_to_server,
            c.messages.client_to_server,
            c.frames.server_to_client,
            c.messages.server_to_client
        );
    }
    for close in &c.closes {
        close_block(&mut o, close, c.id, s, explained);
    }
    if c.closes_not_listed > 0 {
        let _ = writeln!(
            o,
            "{CONT}... and {} more Close frame(s) not listed",
            c.closes_not_listed
        );
    }
    story_block(&mut o, &c.story, s);
    proxy_lines(&mut o, &c.story);
    // A TLS failure names its cause above, and so does a close's verdict.
    let cause_shown = c.tls.as_ref().is_some_and(|t| t.failure.is_some())
        || c.closes
            .iter()
            .filter_map(|cl| cl.diagnosis.as_ref())
            .any(|d| Some(&d.summary) == c.story.likely_cause.as_ref());
    if let Some(cause) = c.story.likely_cause.as_ref().filter(|_| !cause_shown) {
        let _ = writeln!(
            o,
            "  {}      {}",
            s.bold("cause"),
            wrap(&safe(cause), 84, CONT)
        );
    }
    if !c.findings.is_empty() {
        let _ = writeln!(o, "  {}", s.bold("findings"));
        for f in &c.findings {
            finding_line(&mut o, f, s);
        }
    }
    o
}

fn handshake_block(o: &mut String, h: &Handshake, s: Style) {
    let host = safe(h.host.as_deref().unwrap_or("?"));
    let status = match h.status {
        Some(101) => "101".to_string(),
        Some(code) => s.red(&code.to_string()),
        None => "no response".to_string(),
    };
    let accept = match h.accept_valid {
        Some(true) => "accept ok".to_string(),
        Some(false) => s.red("ACCEPT MISMATCH"),
        None => "accept not checked".to_string(),
    };
    let mut extra = Vec::new();
    if let Some(p) = &h.subprotocol {
        extra.push(format!("subprotocol {}", safe(p)));
    }
    if h.permessage_deflate {
        extra.push("permessage-deflate".to_string());
    }
    let _ = writeln!(
        o,
        "  handshake  GET {host}{} (packet {}) -> {status}, {accept}{}{}",
        safe(&h.path),
        h.request_frame,
        if extra.is_empty() {
            String::new()
        } else {
            format!(", {}", extra.join(", "))
        },
        h.server
            .as_ref()
            .map(|sv| format!(", server {}", quoted(sv)))
            .unwrap_or_default()
    );
    if let Some(ua) = &h.user_agent {
        let _ = writeln!(o, "{CONT}user agent {}", quoted(ua));
    }
}

/// One Close frame, with the catalog entry for its code the first time the file shows it.
fn close_block(o: &mut String, close: &CloseReport, id: u64, s: Style, explained: &mut Explained) {
    let code = match close.code {
        Some(code) => format!("{code} {}", catalog::lookup(code).name),
        None if close.payload_len == 0 => {
            "no status code (empty body; receiver reports 1005)".to_string()
        }
        None => "malformed body".to_string(),
    };
    let reason = close
        .reason
        .as_ref()
        .map(|r| format!(" {}", quoted(&truncate(r, 80))))
        .unwrap_or_default();
    let verdict = match close.verdict {
        Verdict::Legal => s.green("legal"),
        Verdict::Illegal => s.red("ILLEGAL"),
    };
    let _ = writeln!(
        o,
        "  {}      packet {} {}  {}  {}{}  [{verdict}]",
        s.bold("close"),
        close.frame,
        s.dim(&close.ts.to_string()),
        close.direction.arrow(),
        s.bold(&code),
        reason
    );
    for p in &close.problems {
        let _ = writeln!(
            o,
            "{CONT}{} {}",
            s.red("!"),
            wrap(&safe(p), 84, "               ")
        );
    }
    if let Some(r) = &close.peer_reaction {
        let _ = writeln!(
            o,
            "{CONT}peer reaction: {}",
            wrap(&safe(r), 70, "               ")
        );
    }
    evidence::block(o, close, CONT);
    let Some(e) = close.explanation else {
        return;
    };
    match explained.0.get(e.name) {
        Some(first) if *first == id => return,
        Some(first) => {
            let _ = writeln!(
                o,
                "{CONT}{}",
                s.dim(&format!(
                    "{} is explained under connection #{first}",
                    e.name
                ))
            );
            return;
        }
        None => {
            explained.0.insert(e.name, id);
        }
    }
    const FIELD: &str = "                      ";
    let _ = writeln!(o, "{CONT}meaning  {}", wrap(e.meaning, 76, FIELD));
    let _ = writeln!(o, "{CONT}seen     {}", wrap(e.when, 76, FIELD));
    let _ = writeln!(o, "{CONT}fix      {}", wrap(e.fix, 76, FIELD));
    if !e.peers.is_empty() {
        let _ = writeln!(o, "{CONT}peers    {}", wrap(e.peers, 76, FIELD));
    }
}

/// The story line and what each application observed.
fn story_block(o: &mut String, st: &Story, s: Style) {
    let mut line = outcome_text(st.outcome).to_string();
    if let Some(first) = st.first_closer {
        let _ = write!(line, "; the {} closed first", first.sender());
        match (st.answered, st.close_delay_ms) {
            (Some(true), Some(ms)) => {
                let _ = write!(
                    line,
                    ", the {} answered after {ms:.1} ms",
                    first.reverse().sender()
                );
            }
            (Some(false), _) => {
                let _ = write!(line, ", the {} never answered", first.reverse().sender());
            }
            _ => {}
        }
    }
    if let Some(end) = &st.tcp_end {
        let _ = write!(
            line,
            "; TCP {} from the {} (packet {}",
            end.kind,
            end.by.sender(),
            end.frame
        );
        if let Some(ms) = end.after_close_ms {
            let _ = write!(line, ", {ms:.1} ms after the first Close");
        }
        line.push(')');
        match end.tls_close_notify {
            Some(true) => line.push_str(" after its TLS close_notify"),
            Some(false) => line.push_str(" without TLS close_notify (TLS truncated)"),
            None => {}
        }
    }
    if st.data_after_close {
        line.push_str("; data was sent after Close");
    }
    let wrapped = wrap(&line, 84, CONT);
    let painted = match st.outcome {
        Outcome::Clean => s.green(&wrapped),
        Outcome::Open => wrapped,
        _ => s.yellow(&wrapped),
    };
    let _ = writeln!(o, "  {}      {painted}", s.bold("story"));
    for (who, obs) in [
        ("client", &st.client_observed),
        ("server", &st.server_observed),
    ] {
        if let Some(ob) = obs {
            let line = format!("{}: {}", observed_text(who, ob), safe(&ob.why));
            let _ = writeln!(o, "{CONT}{}", wrap(&line, 84, "               "));
        }
    }
}

pub(crate) fn confidence_word(c: Confidence) -> &'static str {
    match c {
        Confidence::High => "high",
        Confidence::Medium => "medium",
        Confidence::Low => "low",
    }
}

/// What one client's API gave its application: "1006 Abnormal Closure, wasClean false,
/// after an error event", "no close code; it raises ...".
fn reported_text(r: &Reported) -> String {
    let mut parts = vec![match r.code {
        Some(code) => format!("{code} {}", catalog::lookup(code).name),
        None => "no close code".to_string(),
    }];
    if let Some(clean) = r.was_clean {
        parts.push(format!("wasClean {clean}"));
    }
    if r.error_event == Some(true) {
        parts.push("after an error event".to_string());
    }
    if let Some(e) = &r.error {
        parts.push(format!("error {}", quoted(e)));
    }
    parts.join(", ")
}

/// The observed line's head: whose application, and what it was told (the families side by
/// side when they differ and the client is not identified).
fn observed_text(who: &str, ob: &Observed) -> String {
    if !ob.alternatives.is_empty() {
        let each: Vec<String> = ob
            .alternatives
            .iter()
            .map(|a| {
                let names: Vec<&str> = a.families.iter().map(|f| f.label()).collect();
                format!("{}: {}", names.join(", "), reported_text(&a.reported))
            })
            .collect();
        return format!(
            "{who} application: depends on the client ({})",
            each.join("; ")
        );
    }
    let family = ob
        .family
        .map(|f| format!(" ({})", f.label()))
        .unwrap_or_default();
    let verb = if ob.reported.code.is_some() {
        "sees"
    } else {
        "gets"
    };
    format!(
        "{who} application{family} {verb} {}",
        reported_text(&ob.reported)
    )
}

fn finding_line(o: &mut String, f: &Finding, s: Style) {
    let sev = match f.severity {
        Severity::Error => s.red("error  "),
        Severity::Warning => s.yellow("warning"),
        Severity::Info => s.dim("info   "),
    };
    let count = if f.count > 1 {
        format!(" (x{})", f.count)
    } else {
        String::new()
    };
    let at = match (f.frame, f.direction) {
        (0, None) => String::new(),
        (0, Some(d)) => format!("{}: ", d.arrow()),
        (n, None) => format!("packet {n}: "),
        (n, Some(d)) => format!("packet {n}, {}: ", d.arrow()),
    };
    let _ = writeln!(
        o,
        "    {sev} {}{count}  {}",
        f.rule,
        wrap(&format!("{at}{}", safe(&f.message)), 70, "               ")
    );
}

fn tls_block(o: &mut String, t: &TlsReport, s: Style) {
    let mut parts = Vec::new();
    if let Some(v) = &t.version {
        parts.push(v.to_string());
    }
    if let Some(c) = &t.cipher {
        parts.push(c.to_string());
    }
    if let Some(sni) = &t.sni {
        parts.push(format!("SNI {}", safe(sni)));
    }
    if let Some(a) = &t.alpn {
        parts.push(format!("ALPN {}", safe(a)));
    } else if !t.offered_alpn.is_empty() {
        parts.push(format!("ALPN offered {}", safe(&t.offered_alpn.join(","))));
    }
    if t.hello_retry {
        parts.push("HelloRetryRequest".to_string());
    }
    let frames = match (t.client_hello_frame, t.server_hello_frame) {
        (Some(c), Some(sv)) => format!("ClientHello packet {c}, ServerHello packet {sv}"),
        (Some(c), None) => format!("ClientHello packet {c}, no ServerHello"),
        (None, Some(sv)) => format!("ServerHello packet {sv}"),
        (None, None) => "no hello seen".to_string(),
    };
    let hs = match t.handshake {
        TlsHandshake::Complete => s.green("handshake complete"),
        TlsHandshake::Failed => s.red("handshake FAILED"),
        TlsHandshake::Incomplete => "handshake incomplete".to_string(),
    };
    let line = format!(
        "{} ({frames}), {hs}",
        if parts.is_empty() {
            "TLS".to_string()
        } else {
            parts.join(", ")
        }
    );
    let _ = writeln!(o, "  {}        {}", s.bold("tls"), wrap(&line, 84, CONT));
    if !t.offered_versions.is_empty() && t.version.is_none() {
        let offered: Vec<String> = t.offered_versions.iter().map(|v| v.to_string()).collect();
        let _ = writeln!(o, "{CONT}client offers {}", offered.join(", "));
    }
    for c in &t.certificates {
        let validity = match c.validity_at_capture {
            Validity::Valid => "valid at capture time".to_string(),
            Validity::Expired => s.red("EXPIRED at capture time"),
            Validity::NotYetValid => s.red("NOT YET VALID at capture time"),
        };
        let line = format!(
            "certificate {} (issuer {}), {} to {}, {validity}{}",
            safe(&short_name(&c.subject)),
            safe(&short_name(&c.issuer)),
            c.not_before,
            c.not_after,
            if c.self_signed { ", self-signed" } else { "" }
        );
        let _ = writeln!(o, "{CONT}{}", wrap(&line, 84, "               "));
    }
    if let Some(d) = &t.decryption {
        let line = if d.status == DecryptionStatus::Decrypted {
            s.green(&format!(
                "decrypted with the key log: {} bytes client -> server, {} bytes server -> client",
                d.bytes.client_to_server, d.bytes.server_to_client
            ))
        } else {
            safe(&d.detail).into_owned()
        };
        let _ = writeln!(o, "{CONT}{}", wrap(&line, 84, CONT));
    }
    for a in &t.alerts {
        let what = if a.encrypted && !a.decrypted {
            format!(
                "encrypted alert{}",
                a.probable
                    .as_ref()
                    .map(|p| format!(", probably {p}"))
                    .unwrap_or_default()
            )
        } else {
            format!(
                "{} {} ({}){}",
                if a.level == Some(2) {
                    "fatal"
                } else {
                    "warning"
                },
                a.name.unwrap_or("unknown"),
                a.description.unwrap_or(0),
                if a.decrypted { ", decrypted" } else { "" }
            )
        };
        let line = format!("alert packet {} {}  {what}", a.frame, a.direction.arrow());
        let _ = writeln!(o, "{CONT}{}", wrap(&line, 84, "               "));
    }
    if let Some(f) = &t.failure {
        let confidence = match f.confidence {
            Some(Confidence::Low) => " (inferred, low confidence)",
            Some(Confidence::Medium) => " (inferred)",
            _ => "",
        };
        let head = format!("TLS handshake failed{confidence}");
        const FIELD: &str = "                      ";
        let _ = writeln!(o, "{CONT}{} {}", s.red("!"), s.red(&head));
        let _ = writeln!(o, "{CONT}cause    {}", wrap(&safe(&f.cause), 76, FIELD));
        let _ = writeln!(o, "{CONT}fix      {}", wrap(&safe(&f.fix), 76, FIELD));
        if let Some(e) = f.alert {
            let _ = writeln!(
                o,
                "{CONT}alert    {} ({}): {}",
                e.name,
                e.code,
                wrap(e.meaning, 60, FIELD)
            );
        }
    }
}

/// The CN of a distinguished name, or the whole name when it has none.
fn short_name(dn: &str) -> String {
    dn.split(", ")
        .find_map(|part| part.strip_prefix("CN="))
        .map(|cn| format!("CN={cn}"))
        .unwrap_or_else(|| dn.to_string())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// The proxy the handshake names, the idle timeout a drop matches, and the other leg of a
/// proxied session.
fn proxy_lines(o: &mut String, st: &Story) {
    const FIELD: &str = "               ";
    if let Some(p) = &st.proxy {
        let header = match p.header {
            "server" => "the 101 response's Server header",
            "via" => "the 101 response's Via header",
            _ => "the request's Via header",
        };
        let line = format!(
            "proxy {}: {header} says {}",
            safe(&proxy::display_name(p)),
            quoted(&p.value)
        );
        let _ = writeln!(o, "{CONT}{}", wrap(&line, 84, FIELD));
    }
    if let (Some(t), Some(idle), Some(end)) = (&st.idle_timeout, st.idle_before_end_ms, &st.tcp_end)
    {
        let n = t.seconds;
        let matches = match (t.kind, &t.setting) {
            (TimeoutKind::Default, Some(setting)) => format!("the {n} s default of {setting}"),
            (TimeoutKind::Default, None) => format!("a {n} s default"),
            (TimeoutKind::Configured, Some(setting)) => format!("{setting} set to {n} s"),
            (TimeoutKind::Configured, None) => format!("a timeout set to {n} s"),
        };
        let confidence = match t.confidence {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        };
        let line = format!(
            "idle {} before the {}: matches {matches} ({confidence} confidence)",
            proxy::duration(idle),
            end.kind
        );
        let _ = writeln!(o, "{CONT}{}", wrap(&line, 84, FIELD));
    }
    if let Some(l) = &st.linked_leg {
        let role = match l.role {
            LegRole::ClientLeg => "client -> proxy",
            LegRole::BackendLeg => "proxy -> backend",
        };
        let line = format!(
            "other leg #{} ({role}, {} frames matched): {}",
            l.connection,
            l.frames_matched,
            safe(&l.story)
        );
        let _ = writeln!(o, "{CONT}{}", wrap(&line, 84, FIELD));
    }
}

#[cfg(test)]
mod tests {
    use super::Style;

    #[test]
    fn style_paints_only_with_colour() {
        let on = Style { color: true };
        assert_eq!(on.red("ILLEGAL"), "\x1b[1m\x1b[31mILLEGAL\x1b[0m");
        assert_eq!(on.bold("close"), "\x1b[1mclose\x1b[0m");
        assert_eq!(on.green("legal"), "\x1b[32mlegal\x1b[0m");
        assert_eq!(on.yellow("warning"), "\x1b[33mwarning\x1b[0m");
        assert_eq!(on.dim("info"), "\x1b[2minfo\x1b[0m");
        assert_eq!(Style { color: false }.red("ILLEGAL"), "ILLEGAL");
    }
}
