//! `wsclose explain`: the catalog on the command line. A query is a close code (`1008`), a
//! TLS alert (`tls:45`) or an alert or code name (`certificate_expired`,
//! `policy-violation`); several queries are shown side by side with their key differences.
//! English and Arabic.

use serde::Serialize;

use crate::close::catalog::{self, AlertEntry, Entry, Wire};
use crate::close::catalog_ar::{self, ArText};
use crate::render::wrap::{width as text_width, wrap_lines as wrap};

/// Language of the explanations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Ar,
}

/// What a query names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    Close(u16),
    Alert(u8),
}

/// Parses one query; the error is a sentence for the user.
pub fn parse_query(q: &str) -> Result<Query, String> {
    let t = q.trim();
    if let Some(n) = t.strip_prefix("tls:").or_else(|| t.strip_prefix("TLS:")) {
        let code: u8 = n.parse().map_err(|_| {
            format!("'{q}' is not a TLS alert: after tls: comes an alert number, 0-255")
        })?;
        if catalog::lookup_alert(code).is_none() {
            return Err(format!(
                "'{q}': TLS alert {code} is not in the IANA TLS Alerts registry"
            ));
        }
        return Ok(Query::Alert(code));
    }
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return match t.parse::<u32>() {
            Ok(n) if n <= u32::from(u16::MAX) => Ok(Query::Close(n as u16)),
            _ => Err(format!(
                "'{q}' is not a close code: close codes are 0-65535 (two bytes on the wire)"
            )),
        };
    }
    let norm = normalize(t);
    if let Some(a) = catalog::ALERTS.iter().find(|a| {
        normalize(a.name) == norm || normalize(a.name.trim_end_matches("_RESERVED")) == norm
    }) {
        return Ok(Query::Alert(a.code));
    }
    if let Some(e) = catalog::CODES.iter().find(|e| normalize(e.name) == norm) {
        return Ok(Query::Close(e.lo));
    }
    Err(format!(
        "'{q}' is not a close code (0-65535), a TLS alert (tls:0-255) or the name of one (e.g. certificate_expired, policy_violation)"
    ))
}

fn normalize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '-' || c == ' ' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// One explained entry, in the chosen language.
#[derive(Clone, Debug, Serialize)]
pub struct Card {
    /// `close_code` or `tls_alert`.
    pub kind: &'static str,
    /// What was asked: `1008`, `4001`, `tls:45`.
    pub query: String,
    /// The registry's name.
    pub name: &'static str,
    /// The name in the chosen language (same as `name` in English).
    pub title: &'static str,
    /// For a code inside a range: the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// `legal`, `must_not_send`, `invalid`; for TLS alerts `tls_layer`.
    pub wire: &'static str,
    /// Whether, and by whom, it may be sent, in words.
    pub on_the_wire: String,
    pub meaning: &'static str,
    pub when: &'static str,
    pub fix: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub peers: &'static str,
    pub source: &'static str,
}

struct Labels {
    on_wire: &'static str,
    meaning: &'static str,
    when: &'static str,
    fix: &'static str,
    peers: &'static str,
    source: &'static str,
    range: &'static str,
    differences: &'static str,
}

const EN: Labels = Labels {
    on_wire: "on the wire",
    meaning: "meaning",
    when: "seen when",
    fix: "fix",
    peers: "peers",
    source: "source",
    range: "range",
    differences: "Key differences",
};

const AR: Labels = Labels {
    on_wire: "على السلك",
    meaning: "المعنى",
    when: "متى تراه",
    fix: "الإصلاح",
    peers: "المكتبات",
    source: "المرجع",
    range: "النطاق",
    differences: "الفروق الأساسية",
};

fn labels(lang: Lang) -> &'static Labels {
    match lang {
        Lang::En => &EN,
        Lang::Ar => &AR,
    }
}

fn on_the_wire(e: &Entry, code: u16, lang: Lang) -> String {
    let en = match (e.wire, code) {
        (Wire::Legal, 1010) => "legal: sent by clients only (a server sending it is misbehaving)".to_string(),
        (Wire::Legal, 3000..=3999) => "legal: sent by applications and frameworks (registrable range)".to_string(),
        (Wire::Legal, 4000..=4999) => "legal: sent by applications, meaning agreed privately between the two ends".to_string(),
        (Wire::Legal, _) => "legal: an endpoint (client, server or proxy) may send it".to_string(),
        (Wire::MustNotSend, _) => "illegal: must never be sent; only a WebSocket API reports it locally (a browser's CloseEvent.code, a library's close status)".to_string(),
        (Wire::Invalid, _) => "illegal: not defined for use; receivers fail the connection (strict ones answer 1002)".to_string(),
    };
    match lang {
        Lang::En => en,
        Lang::Ar => match (e.wire, code) {
            (Wire::Legal, 1010) => "مشروع: يرسله العملاء فقط (الخادم الذي يرسله مخطئ)".to_string(),
            (Wire::Legal, 3000..=3999) => "مشروع: ترسله التطبيقات والأطر (نطاق قابل للتسجيل)".to_string(),
            (Wire::Legal, 4000..=4999) => "مشروع: ترسله التطبيقات بمعنى متفق عليه بين الطرفين".to_string(),
            (Wire::Legal, _) => "مشروع: يجوز لأي طرف (عميل أو خادم أو وكيل) إرساله".to_string(),
            (Wire::MustNotSend, _) => "غير مشروع: يجب ألا يُرسل أبداً؛ تبلّغ عنه واجهة WebSocket محلياً فقط (CloseEvent.code في المتصفح أو حالة الإغلاق في المكتبة)".to_string(),
            (Wire::Invalid, _) => "غير مشروع: غير معرّف للاستعمال؛ المستقبل يُفشل الاتصال (والصارم يجيب بـ1002)".to_string(),
        },
    }
}

/// The card for one query.
pub fn card(q: Query, lang: Lang) -> Card {
    match q {
        Query::Close(code) => {
            let e = catalog::lookup(code);
            let ar = catalog_ar::close_ar(e.lo, e.hi);
            let range = (e.lo != e.hi).then(|| format!("{}-{}", e.lo, e.hi));
            let (title, meaning, when, fix, peers) =
                texts(e.name, e.meaning, e.when, e.fix, e.peers, ar, lang);
            Card {
                kind: "close_code",
                query: code.to_string(),
                name: e.name,
                title,
                range,
                wire: match e.wire {
                    Wire::Legal => "legal",
                    Wire::MustNotSend => "must_not_send",
                    Wire::Invalid => "invalid",
                },
                on_the_wire: on_the_wire(e, code, lang),
                meaning,
                when,
                fix,
                peers,
                source: e.source,
            }
        }
        Query::Alert(code) => {
            let a: &AlertEntry = catalog::lookup_alert(code).unwrap_or(&UNKNOWN_ALERT);
            let ar = catalog_ar::alert_ar(code);
            let (title, meaning, when, fix, peers) =
                texts(a.name, a.meaning, a.when, a.fix, "", ar, lang);
            Card {
                kind: "tls_alert",
                query: format!("tls:{code}"),
                name: a.name,
                title,
                range: None,
                wire: "tls_layer",
                on_the_wire: match lang {
                    Lang::En => "a TLS alert, not a close code: sent by the TLS layer of either peer; when it ends a wss:// handshake, the client's WebSocket API reports 1015".to_string(),
                    Lang::Ar => "تنبيه TLS وليس رمز إغلاق: ترسله طبقة TLS لدى أي من الطرفين؛ وإذا أنهى مصافحة wss:// فإن واجهة WebSocket لدى العميل تبلّغ عن 1015".to_string(),
                },
                meaning,
                when,
                fix,
                peers,
                source: a.source,
            }
        }
    }
}

static UNKNOWN_ALERT: AlertEntry = AlertEntry {
    code: 255,
    name: "unknown",
    source: "",
    meaning: "",
    when: "",
    fix: "",
};

type Texts = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

fn texts(
    name: &'static str,
    meaning: &'static str,
    when: &'static str,
    fix: &'static str,
    peers: &'static str,
    ar: Option<&'static ArText>,
    lang: Lang,
) -> Texts {
    match (lang, ar) {
        (Lang::Ar, Some(t)) => (t.name_ar, t.meaning, t.when, t.fix, t.peers),
        _ => (name, meaning, when, fix, peers),
    }
}

/// Key differences between two or more cards, in words.
pub fn differences(cards: &[Card], lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    if cards.len() < 2 {
        return out;
    }
    let label = |c: &Card| format!("{} ({})", c.query, c.title);
    // On the wire.
    let wires: Vec<&str> = cards.iter().map(|c| c.wire).collect();
    if wires.iter().any(|w| Some(w) != wires.first()) {
        for c in cards {
            out.push(format!("{}: {}", label(c), c.on_the_wire));
        }
    }
    // Layers: close codes belong to an open WebSocket connection, TLS alerts come before it.
    let has_alert = cards.iter().any(|c| c.kind == "tls_alert");
    let has_code = cards.iter().any(|c| c.kind == "close_code");
    if has_alert && has_code {
        out.push(match lang {
            Lang::En => "A TLS alert travels in the TLS layer, before (or under) the WebSocket connection; a close code travels in a WebSocket Close frame, after the handshake. A failed wss:// handshake (the alert) is what a client reports as 1015.".to_string(),
            Lang::Ar => "تنبيه TLS ينتقل في طبقة TLS قبل اتصال WebSocket (أو تحته)، ورمز الإغلاق ينتقل في إطار إغلاق WebSocket بعد المصافحة. فشل مصافحة wss:// (التنبيه) هو ما يبلّغ عنه العميل بالرمز 1015.".to_string(),
        });
    }
    let local: Vec<&Card> = cards.iter().filter(|c| c.wire == "must_not_send").collect();
    let sent: Vec<&Card> = cards.iter().filter(|c| c.wire == "legal").collect();
    if !local.is_empty() && !sent.is_empty() {
        let l: Vec<String> = local.iter().map(|c| c.query.clone()).collect();
        let s: Vec<String> = sent.iter().map(|c| c.query.clone()).collect();
        out.push(match lang {
            Lang::En => format!(
                "{} is chosen and sent by a peer's code on purpose, so its reason text and the packet it arrived in say who decided; {} is never in a frame: an API reports it when something happened below WebSocket, so look at TCP or TLS instead of frames. Seeing {} in a Close frame is a bug in the sender.",
                s.join(", "),
                l.join(", "),
                l.join(" or ")
            ),
            Lang::Ar => format!(
                "{} يختاره الطرف ويرسله عمداً، فنص السبب والحزمة التي وصل فيها يبينان من قرر؛ أما {} فلا يكون في إطار أبداً: تبلّغ عنه الواجهة حين يحدث شيء تحت WebSocket، فابحث في TCP أو TLS لا في الإطارات. ورؤية {} في إطار إغلاق خلل في المرسل.",
                s.join("، "),
                l.join("، "),
                l.join(" أو ")
            ),
        });
    }
    // When each applies.
    for c in cards {
        let w = match lang {
            Lang::En => "applies when",
            Lang::Ar => "ينطبق حين",
        };
        out.push(format!("{} {w}: {}", label(c), first_sentence(c.when)));
    }
    out
}

fn first_sentence(s: &str) -> &str {
    match s.find(". ") {
        Some(i) => s.get(..=i).unwrap_or(s),
        None => s,
    }
}

/// Every entry, for `--list`.
pub fn all_cards(lang: Lang) -> Vec<Card> {
    let mut cards = Vec::new();
    cards.push(card(Query::Close(0), lang));
    for e in catalog::CODES.iter().filter(|e| e.lo < 3000) {
        cards.push(card(Query::Close(e.lo), lang));
    }
    cards.push(card(Query::Close(1016), lang));
    for e in catalog::CODES.iter().filter(|e| e.lo >= 3000) {
        cards.push(card(Query::Close(e.lo), lang));
    }
    for c in [3001u16, 4000, 5000] {
        cards.push(card(Query::Close(c), lang));
    }
    for a in catalog::ALERTS {
        cards.push(card(Query::Alert(a.code), lang));
    }
    for c in &mut cards {
        if let Some(r) = &c.range {
            c.query = r.clone();
        }
    }
    cards
}

fn card_lines(c: &Card, lang: Lang, width: usize) -> Vec<String> {
    let l = labels(lang);
    let mut out = Vec::new();
    let head = if c.title != c.name {
        format!("{} {} ({})", c.query, c.title, c.name)
    } else {
        format!("{} {}", c.query, c.name)
    };
    out.extend(wrap(&head, width));
    out.push("-".repeat(width.min(text_width(&head).max(8))));
    let mut field = |label: &str, text: &str| {
        if text.is_empty() {
            return;
        }
        out.push(format!("{label}:"));
        for line in wrap(text, width.saturating_sub(2).max(10)) {
            out.push(format!("  {line}"));
        }
    };
    if let Some(r) = &c.range {
        field(l.range, r);
    }
    field(l.on_wire, &c.on_the_wire);
    field(l.meaning, c.meaning);
    field(l.when, c.when);
    field(l.fix, c.fix);
    field(l.peers, c.peers);
    field(l.source, c.source);
    out
}

/// The text rendering: one card, several side by side (English) or one after another
/// (Arabic, whose right-to-left lines are left to the terminal), then the differences.
pub fn render_text(cards: &[Card], lang: Lang, total_width: usize) -> String {
    let mut out = String::new();
    let side_by_side = lang == Lang::En && (2..=3).contains(&cards.len());
    if side_by_side {
        let gap = 3;
        let col = (total_width.saturating_sub(gap * (cards.len() - 1)) / cards.len()).max(24);
        let columns: Vec<Vec<String>> = cards.iter().map(|c| card_lines(c, lang, col)).collect();
        let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
        for r in 0..rows {
            let mut line = String::new();
            for (i, column) in columns.iter().enumerate() {
                let cell = column.get(r).map(String::as_str).unwrap_or("");
                line.push_str(cell);
                if i + 1 < columns.len() {
                    let pad = col.saturating_sub(text_width(cell)) + gap;
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    } else {
        for (i, c) in cards.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            for line in card_lines(c, lang, total_width) {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    let diffs = differences(cards, lang);
    if !diffs.is_empty() {
        out.push('\n');
        out.push_str(labels(lang).differences);
        out.push_str(":\n");
        for d in diffs {
            let mut first = true;
            for line in wrap(&d, total_width.saturating_sub(4)) {
                out.push_str(if first { "  - " } else { "    " });
                out.push_str(&line);
                out.push('\n');
                first = false;
            }
        }
    }
    out
}

/// The `--list` table.
pub fn render_list(cards: &[Card], lang: Lang) -> String {
    let mut out = String::new();
    let (h1, h2, h3) = match lang {
        Lang::En => ("code", "name", "on the wire"),
        Lang::Ar => ("الرمز", "الاسم", "على السلك"),
    };
    out.push_str(&format!("{h1:<12} {h2:<40} {h3}\n"));
    for c in cards {
        let wire = match (c.wire, lang) {
            ("legal", Lang::En) => "legal",
            ("must_not_send", Lang::En) => "must never be sent",
            ("invalid", Lang::En) => "invalid",
            (_, Lang::En) => "TLS alert",
            ("legal", Lang::Ar) => "مشروع",
            ("must_not_send", Lang::Ar) => "يجب ألا يُرسل",
            ("invalid", Lang::Ar) => "غير صالح",
            (_, Lang::Ar) => "تنبيه TLS",
        };
        let title = if lang == Lang::Ar {
            format!("{} ({})", c.title, c.name)
        } else {
            c.name.to_string()
        };
        out.push_str(&format!("{:<12} {:<40} {wire}\n", c.query, title));
    }
    out
}

/// The JSON document of `explain`.
#[derive(Serialize)]
pub struct ExplainDoc<'a> {
    pub tool: &'static str,
    pub version: &'static str,
    pub lang: Lang,
    pub entries: &'a [Card],
    pub differences: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert_eq!(parse_query("1008"), Ok(Query::Close(1008)));
        assert_eq!(parse_query("65535"), Ok(Query::Close(65535)));
        assert_eq!(parse_query("tls:45"), Ok(Query::Alert(45)));
        assert_eq!(parse_query("certificate_expired"), Ok(Query::Alert(45)));
        assert_eq!(parse_query("Certificate-Expired"), Ok(Query::Alert(45)));
        assert_eq!(parse_query("policy violation"), Ok(Query::Close(1008)));
        assert!(parse_query("banana")
            .unwrap_err()
            .contains("'banana' is not a close code"));
        assert!(parse_query("70000").unwrap_err().contains("0-65535"));
        assert!(parse_query("tls:300").is_err());
        assert!(parse_query("tls:1")
            .unwrap_err()
            .contains("not in the IANA"));
        assert!(parse_query("").is_err());
    }

    #[test]
    fn ranges_and_legality() {
        let c = card(Query::Close(4001), Lang::En);
        assert_eq!(
            (c.name, c.wire, c.range.as_deref()),
            ("Private Use", "legal", Some("4000-4999"))
        );
        let c = card(Query::Close(2500), Lang::En);
        assert_eq!(c.wire, "invalid");
        assert!(c.on_the_wire.starts_with("illegal"));
        let c = card(Query::Close(1015), Lang::En);
        assert_eq!(c.wire, "must_not_send");
        let c = card(Query::Alert(45), Lang::Ar);
        assert_eq!(c.name, "certificate_expired");
        assert_ne!(c.title, c.name, "Arabic title");
    }

    #[test]
    fn comparing_1008_and_1015_states_the_differences() {
        let cards = [
            card(Query::Close(1008), Lang::En),
            card(Query::Close(1015), Lang::En),
        ];
        let d = differences(&cards, Lang::En);
        let all = d.join("\n");
        assert!(all.contains("1008 (Policy Violation): legal"), "{all}");
        assert!(
            all.contains("1015 (TLS Handshake Failure): illegal: must never be sent"),
            "{all}"
        );
        assert!(all.contains("never in a frame"), "{all}");
        assert!(
            all.contains("1008 (Policy Violation) applies when: Rate limits"),
            "{all}"
        );
        assert!(
            all.contains(
                "1015 (TLS Handshake Failure) applies when: wss:// connections that fail TLS"
            ),
            "{all}"
        );
        let text = render_text(&cards, Lang::En, 100);
        assert!(
            text.lines().any(|l| l.starts_with("1008 Policy Violation")
                && l.contains("1015 TLS Handshake Failure")),
            "{text}"
        );
        let ar = render_text(
            &[
                card(Query::Close(1008), Lang::Ar),
                card(Query::Close(1015), Lang::Ar),
            ],
            Lang::Ar,
            80,
        );
        assert!(
            ar.contains("الفروق الأساسية") && ar.contains("مخالفة للسياسة"),
            "{ar}"
        );
    }

    #[test]
    fn list_has_every_entry_in_both_languages() {
        for lang in [Lang::En, Lang::Ar] {
            let cards = all_cards(lang);
            assert_eq!(cards.len(), 1 + 16 + 1 + 3 + 3 + catalog::ALERTS.len());
            for c in &cards {
                assert!(
                    !c.meaning.is_empty() && !c.when.is_empty() && !c.fix.is_empty(),
                    "{}",
                    c.query
                );
            }
        }
    }
}
