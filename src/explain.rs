//! `wsclose explain`: the catalog on the command line. A query is a close code (`1008`), a
//! TLS alert (`tls:45`), an alert or code name (`certificate_expired`, `policy-violation`),
//! or the error text a client raised (`PKIX path validation failed`,
//! `net::ERR_CERT_DATE_INVALID`, a whole pasted log line); several queries are shown side by
//! side with their key differences. English and Arabic.

use serde::Serialize;

use crate::close::catalog::{self, AlertEntry, Entry, Wire};
use crate::close::catalog_ar::{self, ArText};
use crate::close::errors::{self, ErrorEntry, Number};
use crate::close::errors_ar;
use crate::render::wrap::{width as text_width, wrap_lines as wrap};

/// Language of the explanations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Ar,
}

/// What a query names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    Close(u16),
    Alert(u8),
    /// A client's error text, resolved to its catalog entry.
    Error(ErrorQuery),
}

/// An error text and the catalog entry it resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorQuery {
    /// The catalog entry.
    pub entry: &'static ErrorEntry,
    /// The text as given (trimmed, whitespace folded).
    pub text: String,
    /// The phrases of the entry that matched.
    pub matched: &'static [&'static str],
    /// The HTTP status or close code the text carries, when the entry reads one.
    pub number: Option<u32>,
}

/// Parses the queries of one command line. Each argument is a query; when some argument is
/// not one and all of them together are a client error text (a message pasted without
/// quotes), that text is the single query.
pub fn parse_queries(args: &[String]) -> Result<Vec<Query>, String> {
    let mut out = Vec::with_capacity(args.len());
    for q in args {
        match parse_query(q) {
            Ok(query) => out.push(query),
            Err(e) => {
                if args.len() > 1 {
                    if let Some(query) = error_query(&args.join(" ")) {
                        return Ok(vec![query]);
                    }
                }
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// The error-text query for `text`, when the catalog knows it.
fn error_query(text: &str) -> Option<Query> {
    let m = errors::find(text)?;
    Some(Query::Error(ErrorQuery {
        entry: m.entry,
        text: text.split_whitespace().collect::<Vec<_>>().join(" "),
        matched: m.phrases,
        number: m.number,
    }))
}

/// A TLS alert named inside an error text ("Received fatal alert: handshake_failure",
/// "sslv3 alert unknown ca", "remote error: tls: bad certificate",
/// "AlertReceived(HandshakeFailure)"): the longest alert name found, when the text speaks
/// of an alert at all.
fn alert_in_text(text: &str) -> Option<u8> {
    let lower = text.to_lowercase();
    if !(lower.contains("alert") || lower.contains("remote error")) {
        return None;
    }
    let squashed: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    catalog::ALERTS
        .iter()
        .filter(|a| !a.name.ends_with("_RESERVED"))
        .filter(|a| {
            let spaced = a.name.replace('_', " ");
            let camel = a.name.replace('_', "");
            lower.contains(a.name) || lower.contains(&spaced) || squashed.contains(&camel)
        })
        .max_by_key(|a| a.name.len())
        .map(|a| a.code)
}

/// One line of the user's text for an error message: no line breaks, at most 80 characters.
fn quote(q: &str) -> String {
    let one: String = q.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 80 {
        let cut: String = one.chars().take(77).collect();
        format!("{cut}...")
    } else {
        one
    }
}

/// Parses one query; the error is a sentence for the user.
pub fn parse_query(q: &str) -> Result<Query, String> {
    let t = q.trim();
    // Text with spaces reads as a client's message before it reads as a registry name:
    // "certificate required" is what clients print for alert 116.
    if t.contains(char::is_whitespace) {
        if let Some(query) = error_query(t) {
            return Ok(query);
        }
    }
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
    if let Some(query) = error_query(t) {
        return Ok(query);
    }
    if let Some(code) = alert_in_text(t) {
        return Ok(Query::Alert(code));
    }
    Err(format!(
        "'{}' is not a close code (0-65535), a TLS alert (tls:0-255) or the name of one (e.g. certificate_expired, policy_violation), nor a client error text wsclose knows (explain --list shows them)",
        quote(q)
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
    /// `close_code`, `tls_alert` or `client_error`.
    pub kind: &'static str,
    /// What was asked: `1008`, `4001`, `tls:45`, or the error text as given.
    pub query: String,
    /// The registry's name; for a client error, the text as the client writes it.
    pub name: &'static str,
    /// The name in the chosen language (same as `name` in English); for a client error,
    /// what went wrong in one line.
    pub title: &'static str,
    /// For a code inside a range: the range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// `legal`, `must_not_send`, `invalid`; for TLS alerts `tls_layer`; for client errors
    /// `client_error` (the text itself never travels).
    pub wire: &'static str,
    /// Whether, and by whom, it may be sent, in words; for a client error, what to look
    /// for on the wire.
    pub on_the_wire: String,
    pub meaning: &'static str,
    /// When it is seen; for a client error, who raises it.
    pub when: String,
    pub fix: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub peers: &'static str,
    pub source: &'static str,
    /// For a client error: who raises it, what to look for, what the analysis shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

/// The client-error part of a card.
#[derive(Clone, Debug, Serialize)]
pub struct ErrorInfo {
    /// The catalog entry's id.
    pub id: &'static str,
    /// The catalog phrases found in the query.
    pub matched: &'static [&'static str],
    /// The clients that raise the text.
    pub raised_by: Vec<RaisedBy>,
    /// The TLS alert that names the failure on the wire, when there is one.
    pub alert: Option<AlertRef>,
    /// The close code to look for in a Close frame, when there is one.
    pub close_code: Option<u16>,
    /// The HTTP status or close code the text carries, when the entry reads one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    /// What that number means, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What `wsclose analyze` shows for it.
    pub analyze: &'static str,
}

/// One client that raises an error text.
#[derive(Clone, Debug, Serialize)]
pub struct RaisedBy {
    pub client: &'static str,
    pub family: &'static str,
    /// Where the text appears (exception type, event, console).
    pub surface: &'static str,
    /// The close code the application gets; `null` when it gets an exception only.
    pub close_code: Option<u16>,
}

/// A TLS alert, by number and registry name.
#[derive(Clone, Debug, Serialize)]
pub struct AlertRef {
    pub code: u8,
    pub name: &'static str,
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
    error_text: &'static str,
    raised_by: &'static str,
    number: &'static str,
    in_capture: &'static str,
    alert: &'static str,
    close_code: &'static str,
    analyze: &'static str,
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
    error_text: "error text",
    raised_by: "raised by",
    number: "in this message",
    in_capture: "look for in the capture",
    alert: "TLS alert",
    close_code: "close code",
    analyze: "wsclose analyze shows",
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
    error_text: "نص الخطأ",
    raised_by: "يبلّغ عنه",
    number: "في هذه الرسالة",
    in_capture: "ما تبحث عنه في الالتقاط",
    alert: "تنبيه TLS",
    close_code: "رمز الإغلاق",
    analyze: "ما يعرضه wsclose analyze",
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
                when: when.to_string(),
                fix,
                peers,
                source: e.source,
                error: None,
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
                when: when.to_string(),
                fix,
                peers,
                source: a.source,
                error: None,
            }
        }
        Query::Error(q) => error_card(&q, lang),
    }
}

/// The card of a client error text.
fn error_card(q: &ErrorQuery, lang: Lang) -> Card {
    let e = q.entry;
    let ar = errors_ar::error_ar(e.id);
    let (title, meaning, look_for, analyze, fix) = match (lang, ar) {
        (Lang::Ar, Some(t)) => (t.title, t.meaning, t.look_for, t.analyze, t.fix),
        _ => (e.title, e.meaning, e.look_for, e.analyze, e.fix),
    };
    let raised_by: Vec<RaisedBy> = e
        .raised_by
        .iter()
        .map(|r| RaisedBy {
            client: r.client,
            family: r.family,
            surface: r.surface,
            close_code: r.code,
        })
        .collect();
    let clients: Vec<&str> = e.raised_by.iter().map(|r| r.client).collect();
    let when = match lang {
        Lang::En => format!("Raised by {}.", clients.join("; ")),
        Lang::Ar => format!("يبلّغ عنه: {}.", clients.join("؛ ")),
    };
    let detail = match (e.number, q.number) {
        (Some((kind, _)), Some(n)) => Some(number_detail(kind, n, lang)),
        _ => None,
    };
    Card {
        kind: "client_error",
        query: q.text.clone(),
        name: e.text,
        title,
        range: None,
        wire: "client_error",
        on_the_wire: look_for.to_string(),
        meaning,
        when,
        fix,
        peers: "",
        source: e.source,
        error: Some(ErrorInfo {
            id: e.id,
            matched: q.matched,
            raised_by,
            alert: e.alert.map(|code| AlertRef {
                code,
                name: catalog::lookup_alert(code).map_or("unknown", |a| a.name),
            }),
            close_code: e.close,
            number: q.number,
            detail,
            analyze,
        }),
    }
}

/// What the number in an error text means: an HTTP status, or a close code read from the
/// catalog.
fn number_detail(kind: Number, n: u32, lang: Lang) -> String {
    match kind {
        Number::CloseCode => match u16::try_from(n) {
            Ok(code) => {
                let c = card(Query::Close(code), lang);
                format!("{code} {}: {}", c.title, c.on_the_wire)
            }
            Err(_) => match lang {
                Lang::En => format!("{n} is not even a close code (they are two bytes, 0-65535)"),
                Lang::Ar => format!("{n} ليس رمز إغلاق أصلاً (الرموز بايتان، 0-65535)"),
            },
        },
        Number::HttpStatus => {
            let (en, ar) = HTTP_HINTS
                .iter()
                .find(|(lo, hi, _, _)| (*lo..=*hi).contains(&n))
                .map_or(
                    ("not a usual HTTP status", "ليس رمز حالة HTTP معتاداً"),
                    |(_, _, en, ar)| (*en, *ar),
                );
            match lang {
                Lang::En => format!("HTTP {n}: {en}"),
                Lang::Ar => format!("HTTP {n}: {ar}"),
            }
        }
    }
}

/// What an HTTP status answering the Upgrade request says, in English and Arabic: single
/// statuses first, then their class.
static HTTP_HINTS: &[(u32, u32, &str, &str)] = &[
    (101, 101, "101 is the success answer: the failure came after it", "101 هو جواب النجاح: الفشل جاء بعده"),
    (400, 400, "Bad Request: the server could not accept the Upgrade request (missing or stripped Upgrade/Connection headers, a wrong Sec-WebSocket-Version)", "طلب سيئ: لم يقبل الخادم طلب Upgrade (ترويستا Upgrade وConnection مفقودتان أو محذوفتان، أو Sec-WebSocket-Version خاطئ)"),
    (401, 401, "Unauthorized: credentials are missing or wrong (a token in the URL, a cookie or a header)", "غير مصرّح: بيانات الاعتماد مفقودة أو خاطئة (رمز مميز في العنوان أو ملف تعريف ارتباط أو ترويسة)"),
    (403, 403, "Forbidden: the server refused this client, often its Origin or its credentials", "محظور: رفض الخادم هذا العميل، وكثيراً ما يكون السبب الأصل (Origin) أو بيانات الاعتماد"),
    (404, 404, "Not Found: no WebSocket endpoint at this path", "غير موجود: لا نقطة WebSocket في هذا المسار"),
    (426, 426, "Upgrade Required: the server wants another protocol or WebSocket version", "الترقية مطلوبة: يريد الخادم بروتوكولاً أو إصدار WebSocket آخر"),
    (429, 429, "Too Many Requests: rate or connection limit reached; retry later, with backoff", "طلبات كثيرة جداً: بلغت حد المعدل أو عدد الاتصالات؛ أعد المحاولة لاحقاً مع تأخير متزايد"),
    (200, 299, "an ordinary response: no WebSocket endpoint at this URL, or a proxy that does not pass the Upgrade on", "استجابة عادية: لا نقطة WebSocket في هذا العنوان، أو وكيل لا يمرر طلب Upgrade"),
    (300, 399, "a redirect: WebSocket clients do not follow it; connect to the new location (often http to https, or a trailing slash)", "إعادة توجيه: عملاء WebSocket لا يتبعونها؛ اتصل بالعنوان الجديد (كثيراً من http إلى https أو بإضافة شرطة مائلة في آخره)"),
    (400, 499, "a client error status: the server refused the request as sent", "رمز خطأ من جهة العميل: رفض الخادم الطلب كما أُرسل"),
    (502, 504, "a proxy or load balancer could not get an answer from a working backend", "لم يحصل الوكيل أو موازن الحمل على جواب من خادم خلفي يعمل"),
    (500, 599, "a server error status: the server failed while handling the request; read its logs", "رمز خطأ من جهة الخادم: فشل الخادم أثناء معالجة الطلب؛ اقرأ سجلاته"),
];

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
    let label = |c: &Card| {
        if c.kind == "client_error" {
            format!("\"{}\"", c.name)
        } else {
            format!("{} ({})", c.query, c.title)
        }
    };
    // On the wire.
    let wires: Vec<&str> = cards
        .iter()
        .filter(|c| c.kind != "client_error")
        .map(|c| c.wire)
        .collect();
    if wires.iter().any(|w| Some(w) != wires.first()) {
        for c in cards.iter().filter(|c| c.kind != "client_error") {
            out.push(format!("{}: {}", label(c), c.on_the_wire));
        }
    }
    if cards.iter().any(|c| c.kind == "client_error") {
        out.push(match lang {
            Lang::En => "An error text is what a client's library raised; it never travels. Close codes and TLS alerts are what travels (or what the API reports instead): each error entry says which of them to look for in a capture.".to_string(),
            Lang::Ar => "نص الخطأ هو ما رفعته مكتبة العميل، ولا ينتقل على السلك أبداً. أما رموز الإغلاق وتنبيهات TLS فهي ما ينتقل (أو ما تبلّغ عنه الواجهة بدلاً منه): وكل مدخل خطأ يبيّن أيها تبحث عنه في الالتقاط.".to_string(),
        });
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
        if c.kind == "client_error" {
            let w = match lang {
                Lang::En => "means",
                Lang::Ar => "يعني",
            };
            out.push(format!("{} {w}: {}", label(c), c.title));
            continue;
        }
        let w = match lang {
            Lang::En => "applies when",
            Lang::Ar => "ينطبق حين",
        };
        out.push(format!("{} {w}: {}", label(c), first_sentence(&c.when)));
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
    for e in errors::ERRORS {
        let mut c = error_card(
            &ErrorQuery {
                entry: e,
                text: e.text.to_string(),
                matched: &[],
                number: None,
            },
            lang,
        );
        c.query = e.id.to_string();
        cards.push(c);
    }
    cards
}

fn card_lines(c: &Card, lang: Lang, width: usize) -> Vec<String> {
    let l = labels(lang);
    let mut out = Vec::new();
    let head = if c.kind == "client_error" {
        c.title.to_string()
    } else if c.title != c.name {
        format!("{} {} ({})", c.query, c.title, c.name)
    } else {
        format!("{} {}", c.query, c.name)
    };
    out.extend(wrap(&head, width));
    out.push("-".repeat(width.min(text_width(&head).max(8))));
    let field = |out: &mut Vec<String>, label: &str, text: &str| {
        if text.is_empty() {
            return;
        }
        out.push(format!("{label}:"));
        for line in wrap(text, width.saturating_sub(2).max(10)) {
            out.push(format!("  {line}"));
        }
    };
    if let Some(info) = &c.error {
        field(&mut out, l.error_text, c.name);
        let lines: Vec<String> = info
            .raised_by
            .iter()
            .map(|r| raiser_line(r, lang))
            .collect();
        out.push(format!("{}:", l.raised_by));
        for line in &lines {
            let mut first = true;
            for w in wrap(line, width.saturating_sub(4).max(10)) {
                out.push(format!("{}{w}", if first { "  - " } else { "    " }));
                first = false;
            }
        }
        field(&mut out, l.meaning, c.meaning);
        if let Some(d) = &info.detail {
            field(&mut out, l.number, d);
        }
        field(&mut out, l.in_capture, &c.on_the_wire);
        if let Some(a) = &info.alert {
            field(&mut out, l.alert, &format!("{} ({})", a.name, a.code));
        }
        if let Some(code) = info.close_code {
            let t = card(Query::Close(code), lang).title;
            field(&mut out, l.close_code, &format!("{code} {t}"));
        }
        field(&mut out, l.analyze, info.analyze);
        field(&mut out, l.fix, c.fix);
        field(&mut out, l.source, c.source);
        return out;
    }
    if let Some(r) = &c.range {
        field(&mut out, l.range, r);
    }
    field(&mut out, l.on_wire, &c.on_the_wire);
    field(&mut out, l.meaning, c.meaning);
    field(&mut out, l.when, &c.when);
    field(&mut out, l.fix, c.fix);
    field(&mut out, l.peers, c.peers);
    field(&mut out, l.source, c.source);
    out
}

/// "Client: where the text appears; what the application gets".
fn raiser_line(r: &RaisedBy, lang: Lang) -> String {
    let gets = match (r.close_code, lang) {
        (Some(code), Lang::En) => format!("the application gets close code {code}"),
        (None, Lang::En) => "no close code (an exception only)".to_string(),
        (Some(code), Lang::Ar) => format!("يتلقى التطبيق رمز الإغلاق {code}"),
        (None, Lang::Ar) => "لا رمز إغلاق (استثناء فقط)".to_string(),
    };
    let sep = if lang == Lang::Ar { "؛" } else { ";" };
    format!("{}: {}{sep} {gets}", r.client, r.surface)
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
    for c in cards.iter().filter(|c| c.kind != "client_error") {
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
    let texts: Vec<&Card> = cards.iter().filter(|c| c.kind == "client_error").collect();
    if !texts.is_empty() {
        out.push('\n');
        out.push_str(match lang {
            Lang::En => {
                "Client error texts (wsclose explain \"TEXT\"; a whole log line works too):\n"
            }
            Lang::Ar => {
                "نصوص أخطاء العملاء (wsclose explain \"TEXT\"؛ ويصلح سطر السجل كاملاً أيضاً):\n"
            }
        });
        for c in texts {
            out.push_str(&format!("  {}\n      {}\n", c.name, c.title));
        }
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

    fn error_id(q: &str) -> Option<&'static str> {
        match parse_query(q) {
            Ok(Query::Error(e)) => Some(e.entry.id),
            _ => None,
        }
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            error_id("net::ERR_CERT_DATE_INVALID"),
            Some("chromium-date-invalid")
        );
        assert_eq!(
            error_id("certificate required"),
            Some("certificate-required")
        );
        // Registry names keep their cards; numbers stay codes.
        assert_eq!(parse_query("certificate_required"), Ok(Query::Alert(116)));
        assert_eq!(parse_query("1006"), Ok(Query::Close(1006)));
        // An alert named inside a message.
        assert_eq!(
            parse_query(
                "javax.net.ssl.SSLHandshakeException: Received fatal alert: handshake_failure"
            ),
            Ok(Query::Alert(40))
        );
        assert_eq!(parse_query("sslv3 alert unknown ca"), Ok(Query::Alert(48)));
        assert_eq!(
            parse_query("received fatal alert: HandshakeFailure"),
            Ok(Query::Alert(40))
        );
        assert!(parse_query("banana split").is_err());
    }

    #[test]
    fn unquoted_words_are_joined_into_one_message() {
        let words: Vec<String> = "PKIX path building failed"
            .split(' ')
            .map(String::from)
            .collect();
        let q = parse_queries(&words).unwrap();
        assert_eq!(q.len(), 1);
        assert!(matches!(&q[0], Query::Error(e) if e.entry.id == "java-pkix-building"));
        let codes = vec!["1008".to_string(), "1015".to_string()];
        assert_eq!(
            parse_queries(&codes),
            Ok(vec![Query::Close(1008), Query::Close(1015)])
        );
        assert!(parse_queries(&["1008".to_string(), "banana".to_string()])
            .unwrap_err()
            .contains("'banana'"));
    }

    #[test]
    fn numbers_in_messages_are_explained() {
        let c = card(
            parse_query("Unexpected server response: 401").unwrap(),
            Lang::En,
        );
        let d = c.error.unwrap().detail.unwrap();
        assert!(d.starts_with("HTTP 401: Unauthorized"), "{d}");
        let c = card(
            parse_query("Unexpected server response: 418").unwrap(),
            Lang::En,
        );
        assert!(c
            .error
            .unwrap()
            .detail
            .unwrap()
            .contains("client error status"));
        let c = card(
            parse_query("Invalid WebSocket frame: invalid status code 1015").unwrap(),
            Lang::Ar,
        );
        let d = c.error.unwrap().detail.unwrap();
        assert!(d.starts_with("1015 فشل مصافحة TLS"), "{d}");
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
            assert_eq!(
                cards.len(),
                1 + 16 + 1 + 3 + 3 + catalog::ALERTS.len() + errors::ERRORS.len()
            );
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
