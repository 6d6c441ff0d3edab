//! Who the client is, and what its application was told when the connection ended.
//!
//! Clients differ in what their WebSocket API reports for the same wire events (Firefox
//! reports 1015 after a failed TLS handshake, Chromium 1006, Java and the Python libraries
//! raise an exception with no code at all). `identify` names the client family from the
//! capture: the User-Agent of the Upgrade request when it is visible, else the ClientHello
//! (its JA4 against fingerprints recorded from real installs, then telling features).
//! `reports` holds what each family was measured to report.

pub mod ja4;
pub mod reports;

use std::sync::OnceLock;

use serde::Serialize;

use crate::report::Confidence;
use crate::tls::record::ClientHello;

/// A family of clients that report the end of a connection the same way: a browser engine,
/// or a language's WebSocket stack over its TLS library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Chromium,
    Firefox,
    Node,
    Java,
    Rustls,
    Python,
    Go,
    Curl,
    Openssl,
}

impl Family {
    pub const ALL: [Family; 9] = [
        Family::Chromium,
        Family::Firefox,
        Family::Node,
        Family::Java,
        Family::Rustls,
        Family::Python,
        Family::Go,
        Family::Curl,
        Family::Openssl,
    ];

    /// The name, as in JSON and in the fingerprint table.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Chromium => "chromium",
            Family::Firefox => "firefox",
            Family::Node => "node",
            Family::Java => "java",
            Family::Rustls => "rustls",
            Family::Python => "python",
            Family::Go => "go",
            Family::Curl => "curl",
            Family::Openssl => "openssl",
        }
    }

    /// The name a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Family::Chromium => "Chromium",
            Family::Firefox => "Firefox",
            Family::Node => "Node.js",
            Family::Java => "Java",
            Family::Rustls => "rustls",
            Family::Python => "Python",
            Family::Go => "Go",
            Family::Curl => "curl",
            Family::Openssl => "OpenSSL",
        }
    }

    pub fn parse(s: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// The client as the capture names it.
#[derive(Clone, Debug, Serialize)]
pub struct Identity {
    pub family: Family,
    /// Product and version, when the User-Agent gives them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    pub confidence: Confidence,
    /// What the identification rests on.
    pub evidence: String,
}

/// One line of the fingerprint table.
struct Fingerprint {
    ja4: &'static str,
    family: Family,
    source: &'static str,
}

/// JA4 fingerprints recorded from real installs: `JA4<TAB>family<TAB>what it was recorded
/// from`. How to add one: README, "Client fingerprints".
const FINGERPRINTS: &str = include_str!("fingerprints.tsv");

fn fingerprints() -> &'static [Fingerprint] {
    static TABLE: OnceLock<Vec<Fingerprint>> = OnceLock::new();
    TABLE.get_or_init(|| {
        FINGERPRINTS
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let ja4 = cols.next()?.trim();
                let family = Family::parse(cols.next()?.trim())?;
                let source = cols.next().unwrap_or("").trim();
                Some(Fingerprint {
                    ja4,
                    family,
                    source,
                })
            })
            .collect()
    })
}

/// Names the client from its User-Agent and its ClientHello (`ja4` is the hello's JA4).
pub fn identify(user_agent: Option<&str>, hello: Option<(&ClientHello, &str)>) -> Option<Identity> {
    let by_hello = hello.and_then(|(ch, ja4)| from_hello(ch, ja4));
    let Some((family, product)) = user_agent.and_then(from_user_agent) else {
        return by_hello;
    };
    let ua = user_agent.unwrap_or_default();
    let mut evidence = format!("User-Agent {ua:?}");
    match &by_hello {
        Some(h) if h.family == family => {
            evidence.push_str("; the ClientHello agrees (");
            evidence.push_str(&h.evidence);
            evidence.push(')');
        }
        Some(h) => {
            // A User-Agent is easy to set; the TLS stack is not. Say both.
            return Some(Identity {
                family: h.family,
                product: None,
                confidence: Confidence::Medium,
                evidence: format!(
                    "{}; but the User-Agent says {} ({ua:?}), which a client can set to anything",
                    h.evidence,
                    family.label(),
                ),
            });
        }
        None => {}
    }
    Some(Identity {
        family,
        product,
        confidence: Confidence::High,
        evidence,
    })
}

/// The family and product a User-Agent names.
fn from_user_agent(ua: &str) -> Option<(Family, Option<String>)> {
    let version = |token: &str| -> Option<String> {
        let at = ua.find(token)? + token.len();
        let v: String = ua[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        (!v.is_empty()).then_some(v)
    };
    let product = |name: &str, token: &str| version(token).map(|v| format!("{name} {v}"));
    // Order matters: Chromium's User-Agent also names Safari, Firefox's names Gecko.
    let rules: [(&str, Family, &str); 9] = [
        ("Firefox/", Family::Firefox, "Firefox"),
        ("HeadlessChrome/", Family::Chromium, "Chromium (headless)"),
        ("Chrome/", Family::Chromium, "Chrome"),
        ("Chromium/", Family::Chromium, "Chromium"),
        ("Java-http-client/", Family::Java, "Java HttpClient"),
        ("websockets/", Family::Python, "python-websockets"),
        ("Go-http-client/", Family::Go, "Go net/http"),
        ("curl/", Family::Curl, "curl"),
        ("undici", Family::Node, "undici"),
    ];
    for (token, family, name) in rules {
        if ua.contains(token) {
            return Some((family, product(name, token)));
        }
    }
    if ua.starts_with("Python/") {
        return Some((Family::Python, product("Python", "Python/")));
    }
    if ua == "node" || ua.starts_with("node/") || ua.starts_with("Node.js") {
        return Some((Family::Node, None));
    }
    None
}

const RECORD_SIZE_LIMIT: u16 = 28;
const DELEGATED_CREDENTIALS: u16 = 34;
const STATUS_REQUEST_V2: u16 = 17;
const APPLICATION_SETTINGS: [u16; 2] = [0x4469, 0x44cd];

/// The family a ClientHello names: a recorded fingerprint, else the features only one
/// family's TLS stack sends.
fn from_hello(ch: &ClientHello, ja4: &str) -> Option<Identity> {
    if let Some(f) = fingerprints().iter().find(|f| f.ja4 == ja4) {
        return Some(Identity {
            family: f.family,
            product: None,
            confidence: Confidence::High,
            evidence: format!(
                "ClientHello JA4 {ja4} matches the fingerprint recorded from {}",
                f.source
            ),
        });
    }
    let has = |t: u16| ch.extensions.contains(&t);
    let (family, why) = if ch.grease && APPLICATION_SETTINGS.iter().any(|&t| has(t)) {
        (
            Family::Chromium,
            "GREASE values and the application_settings extension, which BoringSSL in Chromium sends",
        )
    } else if has(RECORD_SIZE_LIMIT) && has(DELEGATED_CREDENTIALS) {
        (
            Family::Firefox,
            "record_size_limit and delegated_credentials, which NSS in Firefox sends",
        )
    } else if has(STATUS_REQUEST_V2) {
        (
            Family::Java,
            "status_request_v2, which the JDK's TLS stack sends",
        )
    } else {
        return None;
    };
    Some(Identity {
        family,
        product: None,
        confidence: Confidence::Medium,
        evidence: format!("ClientHello JA4 {ja4} is not a recorded fingerprint, but it has {why}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_name_their_family() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", Family::Firefox, "Firefox 140.0"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/148.0.7778.96 Safari/537.36", Family::Chromium, "Chromium (headless) 148.0.7778.96"),
            ("Java-http-client/17.0.15", Family::Java, "Java HttpClient 17.0.15"),
            ("Python/3.11 websockets/17.4", Family::Python, "python-websockets 17.4"),
        ];
        for (ua, family, product) in cases {
            let id = identify(Some(ua), None).expect(ua);
            assert_eq!(
                (id.family, id.product.as_deref()),
                (family, Some(product)),
                "{ua}"
            );
            assert_eq!(id.confidence, Confidence::High);
        }
        assert!(identify(Some("MyBot/1.0"), None).is_none());
    }

    #[test]
    fn features_name_a_family_with_medium_confidence() {
        let ch = ClientHello {
            extensions: vec![0x0a0a, 0x0000, 0x44cd, 0x0010],
            grease: true,
            ..ClientHello::default()
        };
        let id = identify(None, Some((&ch, "t13d0000h1_x_y"))).expect("chromium");
        assert_eq!(
            (id.family, id.confidence),
            (Family::Chromium, Confidence::Medium)
        );
        let plain = ClientHello {
            extensions: vec![0x0000, 0x0010],
            ..ClientHello::default()
        };
        assert!(identify(None, Some((&plain, "t13d0000h1_x_y"))).is_none());
    }

    #[test]
    fn a_hello_that_contradicts_the_user_agent_wins() {
        let ch = ClientHello {
            extensions: vec![RECORD_SIZE_LIMIT, DELEGATED_CREDENTIALS],
            ..ClientHello::default()
        };
        let id = identify(Some("curl/8.0"), Some((&ch, "t13d_x_y"))).expect("firefox");
        assert_eq!(
            (id.family, id.confidence),
            (Family::Firefox, Confidence::Medium)
        );
        assert!(
            id.evidence.contains("User-Agent says curl"),
            "{}",
            id.evidence
        );
    }
}
