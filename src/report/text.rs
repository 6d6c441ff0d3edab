//! The human report: a summary per file, then one block per connection with its handshake,
//! its Close frames explained, its close story, and its findings.

use std::fmt::Write as _;

use crate::report::{ConnReport, Detection, FileReport, Outcome, Severity, Verdict};

/// ANSI styling, or none.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }
    fn red(self, s: &str) -> String {
        self.paint("1;31", s)
    }
    fn green(self, s: &str) -> String {
        self.paint("32", s)
    }
    fn yellow(self, s: &str) -> String {
        self.paint("33", s)
    }
    fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }
}

fn outcome_text(o: Outcome) -> &'static str {
    match o {
        Outcome::Clean => "clean close",
        Outcome::NoStatus => "clean close without status code (applications see 1005)",
        Outcome::OneSided => "one-sided close (Close never answered)",
        Outcome::Abnormal => "abnormal drop, no Close frame (applications see 1006)",
        Outcome::Open => "still open when the capture ends",
        Outcome::Refused => "upgrade refused (no WebSocket connection)",
        Outcome::TlsFailed => "TLS handshake failed (no WebSocket connection; clients report 1015)",
        Outcome::Encrypted => {
            "TLS session: WebSocket frames, Close included, are encrypted (not seen)"
        }
    }
}

/// Wraps `text` to `width` columns, every line after the first indented by `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
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

/// The file's header and summary.
pub fn file_header(f: &FileReport, s: Style) -> String {
    let mut o = String::new();
    let fmt = match f.format {
        Some(crate::capture::Format::Pcap) => "pcap",
        Some(crate::capture::Format::Pcapng) => "pcapng",
        None => "unreadable",
    };
    let gz = if f.gzip { ", gzip" } else { "" };
    let _ = writeln!(
        o,
        "{} {} ({fmt}{gz}, {} packets)",
        s.bold("=="),
        s.bold(&f.path),
        f.summary.packets
    );
    let sm = &f.summary;
    let legal = sm.closes_by_verdict.get("legal").copied().unwrap_or(0);
    let illegal = sm.closes_by_verdict.get("illegal").copied().unwrap_or(0);
    let illegal_s = format!("{illegal} illegal");
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
        legal,
        if illegal > 0 {
            s.red(&illegal_s)
        } else {
            illegal_s
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
    let errors = sm.findings_by_severity.get("error").copied().unwrap_or(0);
    let warnings = sm.findings_by_severity.get("warning").copied().unwrap_or(0);
    let e = format!("{errors} protocol error(s)");
    let w = format!("{warnings} warning(s)");
    let _ = writeln!(
        o,
        "   findings: {}, {}",
        if errors > 0 { s.red(&e) } else { e },
        if warnings > 0 { s.yellow(&w) } else { w }
    );
    for w in &f.warnings {
        let _ = writeln!(o, "   {} {}", s.yellow("warning:"), w.message);
    }
    if let Some(e) = &f.error {
        let _ = writeln!(o, "   {} {}", s.red("error:"), e);
    }
    o
}

/// Catalog entries already printed in this file's report, with the connection that printed
/// them: a capture with thousands of 1000 closes explains 1000 once.
#[derive(Debug, Default)]
pub struct Explained(std::collections::BTreeMap<&'static str, u64>);

/// One connection's block.
pub fn connection(c: &ConnReport, s: Style, explained: &mut Explained) -> String {
    let mut o = String::new();
    let detection = match c.detection {
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
    if let Some(h) = &c.handshake {
        let host = h.host.as_deref().unwrap_or("?");
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
            extra.push(format!("subprotocol {p}"));
        }
        if h.permessage_deflate {
            extra.push("permessage-deflate".to_string());
        }
        let _ = writeln!(
            o,
            "  handshake  GET {host}{} (packet {}) -> {status}, {accept}{}{}",
            h.path,
            h.request_frame,
            if extra.is_empty() {
                String::new()
            } else {
                format!(", {}", extra.join(", "))
            },
            h.server
                .as_ref()
                .map(|sv| format!(", server {sv:?}"))
                .unwrap_or_default()
        );
        if let Some(ua) = &h.user_agent {
            let _ = writeln!(o, "             user agent {ua:?}");
        }
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
        let code = match close.code {
            Some(code) => {
                let name = crate::close::catalog::lookup(code).name;
                format!("{code} {name}")
            }
            None if close.payload_len == 0 => {
                "no status code (empty body; receiver reports 1005)".to_string()
            }
            None => "malformed body".to_string(),
        };
        let reason = close
            .reason
            .as_ref()
            .map(|r| format!(" {:?}", truncate(r, 80)))
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
            s.dim(&close.ts),
            close.direction.arrow(),
            s.bold(&code),
            reason
        );
        for p in &close.problems {
            let _ = writeln!(
                o,
                "             {} {}",
                s.red("!"),
                wrap(p, 84, "               ")
            );
        }
        if let Some(r) = &close.peer_reaction {
            let _ = writeln!(
                o,
                "             peer reaction: {}",
                wrap(r, 70, "               ")
            );
        }
        if let Some(e) = close.explanation {
            match explained.0.get(e.name) {
                Some(id) if *id == c.id => continue,
                Some(id) => {
                    let _ = writeln!(
                        o,
                        "             {}",
                        s.dim(&format!("{} is explained under connection #{id}", e.name))
                    );
                    continue;
                }
                None => {
                    explained.0.insert(e.name, c.id);
                }
            }
            let _ = writeln!(
                o,
                "             meaning  {}",
                wrap(e.meaning, 76, "                      ")
            );
            let _ = writeln!(
                o,
                "             seen     {}",
                wrap(e.when, 76, "                      ")
            );
            let _ = writeln!(
                o,
                "             fix      {}",
                wrap(e.fix, 76, "                      ")
            );
            if !e.peers.is_empty() {
                let _ = writeln!(
                    o,
                    "             peers    {}",
                    wrap(e.peers, 76, "                      ")
                );
            }
        }
    }
    if c.closes_not_listed > 0 {
        let _ = writeln!(
            o,
            "             ... and {} more Close frame(s) not listed",
            c.closes_not_listed
        );
    }
    let st = &c.story;
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
            end.kind.to_uppercase(),
            end.by.sender(),
            end.frame
        );
        if let Some(ms) = end.after_close_ms {
            let _ = write!(line, ", {ms:.1} ms after the first Close");
        }
        line.push(')');
    }
    if st.data_after_close {
        line.push_str("; data was sent after Close");
    }
    let painted = match st.outcome {
        Outcome::Clean => s.green(&wrap(&line, 84, "             ")),
        Outcome::Open => wrap(&line, 84, "             "),
        _ => s.yellow(&wrap(&line, 84, "             ")),
    };
    let _ = writeln!(o, "  {}      {painted}", s.bold("story"));
    for (who, obs) in [
        ("client", &st.client_observed),
        ("server", &st.server_observed),
    ] {
        if let Some(ob) = obs {
            let line = format!("{who} application sees {} {}: {}", ob.code, ob.name, ob.why);
            let _ = writeln!(o, "             {}", wrap(&line, 84, "               "));
        }
    }
    let cause_shown = c.tls.as_ref().is_some_and(|t| t.failure.is_some());
    if let Some(cause) = st.likely_cause.as_ref().filter(|_| !cause_shown) {
        let _ = writeln!(
            o,
            "  {}      {}",
            s.bold("cause"),
            wrap(cause, 84, "             ")
        );
    }
    if !c.findings.is_empty() {
        let _ = writeln!(o, "  {}", s.bold("findings"));
        for f in &c.findings {
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
                "    {sev} {:?}{count}  {}",
                f.rule,
                wrap(&format!("{at}{}", f.message), 70, "               ")
            );
        }
    }
    o
}

fn tls_block(o: &mut String, t: &crate::tlsconn::TlsReport, s: Style) {
    let mut parts = Vec::new();
    if let Some(v) = &t.version {
        parts.push(v.clone());
    }
    if let Some(c) = &t.cipher {
        parts.push(c.clone());
    }
    if let Some(sni) = &t.sni {
        parts.push(format!("SNI {sni}"));
    }
    if let Some(a) = &t.alpn {
        parts.push(format!("ALPN {a}"));
    } else if !t.offered_alpn.is_empty() {
        parts.push(format!("ALPN offered {}", t.offered_alpn.join(",")));
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
        "complete" => s.green("handshake complete"),
        "failed" => s.red("handshake FAILED"),
        other => format!("handshake {other}"),
    };
    let line = format!(
        "{} ({frames}), {hs}",
        if parts.is_empty() {
            "TLS".to_string()
        } else {
            parts.join(", ")
        }
    );
    let _ = writeln!(
        o,
        "  {}        {}",
        s.bold("tls"),
        wrap(&line, 84, "             ")
    );
    if !t.offered_versions.is_empty() && t.version.is_none() {
        let _ = writeln!(
            o,
            "             client offers {}",
            t.offered_versions.join(", ")
        );
    }
    for c in &t.certificates {
        let validity = match c.validity_at_capture {
            "valid" => "valid at capture time".to_string(),
            "expired" => s.red("EXPIRED at capture time"),
            _ => s.red("NOT YET VALID at capture time"),
        };
        let line = format!(
            "certificate {} (issuer {}), {} to {}, {validity}{}",
            short_name(&c.subject),
            short_name(&c.issuer),
            c.not_before,
            c.not_after,
            if c.self_signed { ", self-signed" } else { "" }
        );
        let _ = writeln!(o, "             {}", wrap(&line, 84, "               "));
    }
    for a in &t.alerts {
        let what = match (a.encrypted, a.level, a.name, a.description) {
            (false, level, name, desc) => format!(
                "{} {} ({})",
                if level == Some(2) { "fatal" } else { "warning" },
                name.unwrap_or("unknown"),
                desc.unwrap_or(0)
            ),
            (true, ..) => format!(
                "encrypted alert{}",
                a.probable
                    .as_ref()
                    .map(|p| format!(", probably {p}"))
                    .unwrap_or_default()
            ),
        };
        let line = format!("alert packet {} {}  {what}", a.frame, a.direction.arrow());
        let _ = writeln!(o, "             {}", wrap(&line, 84, "               "));
    }
    if let Some(f) = &t.failure {
        let code = f.client_observed_code;
        let what = if code == 1015 {
            "TLS handshake failed"
        } else {
            "abnormal closure"
        };
        let head = format!("a client would report close code {code} ({what})");
        let _ = writeln!(o, "             {} {}", s.red("!"), s.red(&head));
        let _ = writeln!(
            o,
            "             cause    {}",
            wrap(&f.cause, 76, "                      ")
        );
        let _ = writeln!(
            o,
            "             fix      {}",
            wrap(&f.fix, 76, "                      ")
        );
        if let Some(e) = f.alert {
            let _ = writeln!(
                o,
                "             alert    {} ({}): {}",
                e.name,
                e.code,
                wrap(e.meaning, 60, "                      ")
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
