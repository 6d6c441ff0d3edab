//! Proxies in front of a WebSocket: the proxy a handshake names (`Server` or `Via` of the
//! 101 response, `Via` of the request), the idle time before a drop matched against idle
//! timeouts (a product's default, or a round value someone configured), and the words for a
//! drop a proxy ended or passed on.
//!
//! Proxies such as nginx and HAProxy never send a Close frame of their own: an idle timeout
//! is a FIN (or RST) at exactly the configured time after the last payload, and a backend
//! that dies is passed on to the client as a FIN. Pure functions over the report model;
//! never panics.

use crate::report::{
    Confidence, ConnReport, EndKind, Handshake, IdleTimeout, Outcome, ProxyReport, ProxySide,
    TcpEnd, TimeoutKind,
};

/// A proxy product: the token that names it in `Server` or `Via`, how the report writes
/// it, the setting that ends an idle WebSocket tunnel, and that setting's default.
struct Product {
    token: &'static str,
    display: &'static str,
    setting: &'static str,
    default_s: Option<u32>,
}

/// Proxies recognised by name. Defaults are the products' documented ones; HAProxy has
/// none for tunnels (`timeout tunnel` falls back to `timeout client`/`timeout server`).
const PRODUCTS: &[Product] = &[
    Product {
        token: "nginx",
        display: "nginx",
        setting: "proxy_read_timeout",
        default_s: Some(60),
    },
    Product {
        token: "openresty",
        display: "OpenResty",
        setting: "proxy_read_timeout",
        default_s: Some(60),
    },
    Product {
        token: "haproxy",
        display: "HAProxy",
        setting: "timeout tunnel",
        default_s: None,
    },
    Product {
        token: "envoy",
        display: "Envoy",
        setting: "stream_idle_timeout",
        default_s: Some(300),
    },
    Product {
        token: "awselb",
        display: "AWS ALB",
        setting: "idle timeout",
        default_s: Some(60),
    },
    Product {
        token: "cloudflare",
        display: "Cloudflare",
        setting: "proxy idle timeout",
        default_s: Some(100),
    },
    Product {
        token: "vegur",
        display: "the Heroku router",
        setting: "idle timeout",
        default_s: Some(55),
    },
    Product {
        token: "apache",
        display: "Apache httpd",
        setting: "ProxyWebsocketIdleTimeout",
        default_s: None,
    },
];

/// Defaults worth naming when the capture does not say which proxy it was.
const UNNAMED_DEFAULTS: &[(u32, &str)] = &[
    (60, "nginx proxy_read_timeout or AWS ALB idle timeout"),
    (100, "Cloudflare proxy idle timeout"),
];

/// Values people configure timeouts to, in seconds.
const ROUND_SECONDS: &[u32] = &[
    5, 10, 15, 20, 30, 45, 60, 90, 100, 120, 180, 240, 300, 600, 900, 1200, 1800, 3600,
];

/// How far an idle time may be from a timeout and still match it: 2 %, and at least
/// 350 ms because nginx re-arms its timers lazily (a re-arm within 300 ms of the running
/// timer is skipped, so it may fire up to 300 ms before the configured time after the
/// last payload).
const TOLERANCE: f64 = 0.02;
const MIN_TOLERANCE_MS: f64 = 350.0;
/// A match this close (milliseconds) is unlikely to be chance.
pub const TIGHT_MS: f64 = 25.0;

fn product(name: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.token == name)
}

/// How the report writes a proxy's name: `nginx`, `HAProxy`, or a `Via` pseudonym as sent.
pub fn display_name(p: &ProxyReport) -> String {
    product(&p.name).map_or_else(|| p.name.clone(), |prod| prod.display.to_string())
}

/// The proxy a handshake names, if any: a known product in the response's `Server`, else
/// the first proxy of the response's `Via`, else of the request's `Via`.
pub fn identify(h: &Handshake) -> Option<ProxyReport> {
    if let Some(server) = &h.server {
        for token in server.split_whitespace() {
            let (name, version) = match token.split_once('/') {
                Some((n, v)) => (n, Some(v)),
                None => (token, None),
            };
            let name = name.to_ascii_lowercase();
            if product(&name).is_some() {
                return Some(ProxyReport {
                    name,
                    version: version.map(str::to_string),
                    header: "server",
                    value: server.clone(),
                    side: ProxySide::Server,
                });
            }
        }
    }
    let via = |value: &String, header, side| {
        let (name, version) = via_proxy(value)?;
        Some(ProxyReport {
            name,
            version,
            header,
            value: value.clone(),
            side,
        })
    };
    h.response_via
        .as_ref()
        .and_then(|v| via(v, "via", ProxySide::Server))
        .or_else(|| {
            h.request_via
                .as_ref()
                .and_then(|v| via(v, "request_via", ProxySide::Client))
        })
}

/// The first proxy of a Via value (RFC 9110 §7.6.3: `protocol received-by [comment]`, the
/// nearest sender last): a known product when its token appears, else the received-by name.
fn via_proxy(value: &str) -> Option<(String, Option<String>)> {
    let first = value.split(',').next()?.trim();
    let lower = first.to_ascii_lowercase();
    if let Some(p) = PRODUCTS.iter().find(|p| lower.contains(p.token)) {
        return Some((p.token.to_string(), None));
    }
    if lower.contains("cloudfront") {
        return Some(("cloudfront".to_string(), None));
    }
    let mut words = first.split_whitespace();
    let proto = words.next()?;
    let received_by = words.next()?;
    let version = proto.rsplit('/').next().map(str::to_string);
    Some((received_by.to_string(), version.filter(|v| !v.is_empty())))
}

/// The idle time before a drop matched against idle timeouts. `proxy` is the proxy that
/// sent the FIN or RST, when known.
pub fn match_idle(idle_ms: f64, proxy: Option<&ProxyReport>) -> Option<IdleTimeout> {
    if !idle_ms.is_finite() || idle_ms <= 0.0 {
        return None;
    }
    let prod = proxy.and_then(|p| product(&p.name));
    let candidates = prod
        .and_then(|p| p.default_s)
        .into_iter()
        .chain(ROUND_SECONDS.iter().copied())
        .chain(UNNAMED_DEFAULTS.iter().map(|(s, _)| *s));
    let (seconds, off_ms) = candidates
        .map(|s| (s, idle_ms - f64::from(s) * 1000.0))
        .filter(|(s, off)| off.abs() <= (f64::from(*s) * 1000.0 * TOLERANCE).max(MIN_TOLERANCE_MS))
        .min_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))?;
    let off_ms = (off_ms * 1000.0).round() / 1000.0;
    let unnamed_default = UNNAMED_DEFAULTS.iter().find(|(s, _)| *s == seconds);
    let (kind, setting, confidence) = match (proxy, prod) {
        (Some(p), Some(prod)) => (
            if prod.default_s == Some(seconds) {
                TimeoutKind::Default
            } else {
                TimeoutKind::Configured
            },
            Some(format!("{} {}", p.name, prod.setting)),
            Confidence::High,
        ),
        (Some(_), None) => (TimeoutKind::Configured, None, Confidence::Medium),
        (None, _) => match unnamed_default {
            Some((_, who)) => (
                TimeoutKind::Default,
                Some((*who).to_string()),
                Confidence::Medium,
            ),
            None if off_ms.abs() <= TIGHT_MS => (TimeoutKind::Configured, None, Confidence::Medium),
            None => (TimeoutKind::Configured, None, Confidence::Low),
        },
    };
    Some(IdleTimeout {
        seconds,
        kind,
        setting,
        off_ms,
        confidence,
    })
}

/// The proxy of `report` when it is the side that ended TCP first.
pub fn ending_proxy(report: &ConnReport) -> Option<&ProxyReport> {
    let end = report.story.tcp_end.as_ref()?;
    report
        .story
        .proxy
        .as_ref()
        .filter(|p| p.side.sends() == end.by)
}

/// Fills the story's `proxy` from the handshake and, for a drop without Close, its
/// `idle_timeout`.
pub fn annotate(report: &mut ConnReport) {
    report.story.proxy = report.handshake.as_ref().and_then(identify);
    report.story.idle_timeout = None;
    if report.story.outcome != Outcome::Abnormal || report.story.tcp_end.is_none() {
        return;
    }
    if let Some(idle) = report.story.idle_before_end_ms {
        report.story.idle_timeout = match_idle(idle, ending_proxy(report));
    }
}

/// A duration in the unit that reads best: `0.15 ms`, `2.3 ms`, `504 ms`, `5.001 s`, `60.0 s`.
pub fn duration(ms: f64) -> String {
    let ms = ms.abs();
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 10_000.0 {
        format!("{:.3} s", ms / 1000.0)
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// The cause of a drop at an idle timeout. `proxy` is the proxy that ended it, when known;
/// `by` names the side that did otherwise (`proxy` when a proxy did, unnamed).
pub fn idle_cause(
    t: &IdleTimeout,
    proxy: Option<&ProxyReport>,
    by: &str,
    end: &TcpEnd,
    idle_ms: f64,
) -> String {
    let (kind, frame, n) = (end.kind, end.frame, t.seconds);
    let idle = duration(idle_ms);
    let quiet =
        format!("nothing was sent either way for {idle} before its {kind} (packet {frame})");
    match (proxy, proxy.and_then(|p| product(&p.name))) {
        (Some(_), Some(prod)) => {
            let how = match t.kind {
                TimeoutKind::Default => format!("the {n} s default"),
                TimeoutKind::Configured => format!("{n} s configured here"),
            };
            format!(
                "{} closed the idle connection after its {} ({how}): {quiet}. Send pings more often than every {n} s, or raise {}",
                capitalized(prod.display),
                prod.setting,
                prod.setting
            )
        }
        (Some(p), None) => format!(
            "the proxy {} closed the idle connection after its idle timeout ({n} s): {quiet}. Send pings more often than every {n} s, or raise that timeout",
            p.name
        ),
        (None, _) => {
            let matches = match (&t.kind, &t.setting) {
                (TimeoutKind::Default, Some(who)) => format!("the {n} s default of {who}"),
                _ if by == "proxy" => format!("the proxy's idle timeout set to {n} s (nginx proxy_read_timeout, HAProxy timeout tunnel)"),
                _ => format!("an idle timeout set to {n} s (a proxy's, such as nginx proxy_read_timeout or HAProxy timeout tunnel, or the {by}'s own)"),
            };
            format!(
                "the {by} closed the connection ({kind}, packet {frame}) after {idle} without traffic: that matches {matches}. Send pings more often than every {n} s, or raise the timeout"
            )
        }
    }
}

/// The cause of a drop by a named proxy that matches no idle timeout.
pub fn proxy_drop_cause(p: &ProxyReport, end: &TcpEnd) -> String {
    let name = capitalized(&display_name(p));
    let other = match p.side {
        ProxySide::Server => "backend",
        ProxySide::Client => "client",
    };
    let kind = end.kind;
    let what = match kind {
        EndKind::Fin => "FIN",
        EndKind::Rst => "RST",
    };
    format!(
        "{name} (the proxy) ended the connection with a {what} (packet {}) and no Close frame: proxies send no Close of their own, so this is how they pass on the end of their {other} connection (a {other} that crashed, was killed or restarted) or one of their own limits. Look at the {other} and at {name}'s error log; with both legs in one capture, wsclose links them",
        end.frame
    )
}

/// `nginx` stays as its authors write it; `the Heroku router` starts a sentence as `The ...`.
fn capitalized(s: &str) -> String {
    match s.strip_prefix("the ") {
        Some(rest) => format!("The {rest}"),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(server: Option<&str>, via: Option<&str>, request_via: Option<&str>) -> Handshake {
        Handshake {
            server: server.map(str::to_string),
            response_via: via.map(str::to_string),
            request_via: request_via.map(str::to_string),
            ..Handshake::default()
        }
    }

    #[test]
    fn names_proxies_from_headers() {
        let p = identify(&handshake(Some("nginx/1.22.1"), None, None)).unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_deref()),
            ("nginx", Some("1.22.1"))
        );
        assert_eq!((p.header, p.side), ("server", ProxySide::Server));
        // A WebSocket library's Server header names no proxy.
        assert!(identify(&handshake(Some("Python/3.11 websockets/17.4"), None, None)).is_none());
        let p = identify(&handshake(None, Some("1.1 vegur"), None)).unwrap();
        assert_eq!(display_name(&p), "the Heroku router");
        let p = identify(&handshake(None, None, Some("1.1 edge-7 (squid)"))).unwrap();
        assert_eq!((p.name.as_str(), p.side), ("edge-7", ProxySide::Client));
        assert!(identify(&handshake(None, Some(""), None)).is_none());
    }

    #[test]
    fn matches_idle_timeouts() {
        let nginx = identify(&handshake(Some("nginx/1.22.1"), None, None)).unwrap();
        let t = match_idle(5000.9, Some(&nginx)).unwrap();
        assert_eq!(
            (t.seconds, t.kind, t.confidence),
            (5, TimeoutKind::Configured, Confidence::High)
        );
        assert_eq!(t.setting.as_deref(), Some("nginx proxy_read_timeout"));
        // nginx may fire up to 300 ms early.
        assert_eq!(match_idle(4720.0, Some(&nginx)).unwrap().seconds, 5);
        let t = match_idle(60_010.0, Some(&nginx)).unwrap();
        assert_eq!((t.seconds, t.kind), (60, TimeoutKind::Default));
        let t = match_idle(60_010.0, None).unwrap();
        assert_eq!(
            (t.kind, t.confidence),
            (TimeoutKind::Default, Confidence::Medium)
        );
        let t = match_idle(5001.1, None).unwrap();
        assert_eq!(
            (t.kind, t.confidence),
            (TimeoutKind::Configured, Confidence::Medium)
        );
        assert_eq!(
            match_idle(5200.0, None).unwrap().confidence,
            Confidence::Low
        );
        for ms in [0.0, 504.0, 3000.0, 7500.0, 41_000.0, f64::NAN] {
            assert!(match_idle(ms, None).is_none(), "{ms}");
        }
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0.147), "0.15 ms");
        assert_eq!(duration(2.26), "2.3 ms");
        assert_eq!(duration(504.2), "504 ms");
        assert_eq!(duration(5000.9), "5.001 s");
        assert_eq!(duration(60_010.0), "60.0 s");
    }
}
