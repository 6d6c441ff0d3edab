//! The server's certificate chain, as sent in plaintext up to TLS 1.2: each certificate
//! parsed with x509-parser and checked against the capture's time and the name the client
//! asked for (SNI). Never panics on input; an unparsable certificate is a problem, not an
//! error.

use serde::Serialize;
use x509_parser::extensions::GeneralName;

use crate::capture::Ts;

/// Most certificates of a chain described.
const MAX_CERTS: usize = 8;
/// Nanoseconds per second, between certificate times (seconds) and capture times.
const NANOS: i64 = 1_000_000_000;

/// Is a certificate valid at a given time?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    Valid,
    Expired,
    NotYetValid,
}

/// One certificate of the chain the server sent.
#[derive(Clone, Debug, Serialize)]
pub struct CertReport {
    pub subject: String,
    pub issuer: String,
    pub not_before: Ts,
    pub not_after: Ts,
    pub dns_names: Vec<String>,
    pub self_signed: bool,
    /// At the time of the packet that carried it.
    pub validity_at_capture: Validity,
}

/// What the chain says: the certificates, the problems any client would have with them,
/// and facts that are problems only in some setups.
#[derive(Clone, Debug, Default)]
pub struct ChainCheck {
    pub certs: Vec<CertReport>,
    pub problems: Vec<String>,
    pub hints: Vec<String>,
}

/// Checks the DER certificates of `chain` (leaf first, as sent) at capture time `ts`,
/// against the name `sni` the client asked for.
pub fn check_chain(chain: &[&[u8]], ts: Ts, sni: Option<&str>) -> ChainCheck {
    let mut out = ChainCheck::default();
    for der in chain.iter().take(MAX_CERTS) {
        match describe(der, ts) {
            Some(c) => out.certs.push(c),
            None => out
                .problems
                .push("a certificate of the chain could not be parsed".to_string()),
        }
    }
    if let Some(leaf) = out.certs.first() {
        leaf_problems(leaf, ts, sni, &mut out.problems);
    }
    for pair in out.certs.windows(2) {
        if let [a, b] = pair {
            if a.issuer != b.subject {
                out.problems.push(format!(
                    "chain out of order: {} is issued by {}, but the next certificate sent is {}",
                    a.subject, a.issuer, b.subject
                ));
                break;
            }
        }
    }
    if let [only] = out.certs.as_slice() {
        if !only.self_signed {
            out.hints.push(format!(
                "the server sent only its own certificate; if its issuer ({}) is an intermediate CA, clients that do not already have it fail with unknown_ca (missing intermediate)",
                only.issuer
            ));
        }
    }
    out
}

/// One certificate, or `None` when it cannot be parsed.
fn describe(der: &[u8], ts: Ts) -> Option<CertReport> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let now = ts.0.div_euclid(NANOS);
    let validity = cert.validity();
    let (nb, na) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    let mut dns_names: Vec<String> = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(n) = name {
                dns_names.push((*n).to_string());
            }
        }
    }
    if dns_names.is_empty() {
        if let Some(cn) = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
        {
            dns_names.push(cn.to_string());
        }
    }
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    Some(CertReport {
        self_signed: subject == issuer,
        validity_at_capture: if now > na {
            Validity::Expired
        } else if now < nb {
            Validity::NotYetValid
        } else {
            Validity::Valid
        },
        not_before: Ts(nb.saturating_mul(NANOS)),
        not_after: Ts(na.saturating_mul(NANOS)),
        subject,
        issuer,
        dns_names,
    })
}

/// What is wrong with the server's own certificate.
fn leaf_problems(leaf: &CertReport, ts: Ts, sni: Option<&str>, problems: &mut Vec<String>) {
    match leaf.validity_at_capture {
        Validity::Expired => problems.push(format!(
            "the server's certificate ({}) expired on {}, before the capture ({ts})",
            leaf.subject, leaf.not_after
        )),
        Validity::NotYetValid => problems.push(format!(
            "the server's certificate ({}) is not valid before {} and the capture is from {ts}: a clock is wrong",
            leaf.subject, leaf.not_before
        )),
        Validity::Valid => {}
    }
    if leaf.self_signed {
        problems.push(format!(
            "the server's certificate is self-signed ({}): clients trust it only if it is installed on them",
            leaf.subject
        ));
    }
    if let Some(sni) = sni {
        if !leaf.dns_names.iter().any(|n| name_matches(n, sni)) {
            problems.push(format!(
                "the certificate is for {} but the client asked for {sni} (SNI): a name mismatch",
                leaf.dns_names.join(", ")
            ));
        }
    }
}

/// Does certificate name `pattern` (possibly `*.example.com`) cover `host`?
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let (p, h) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    let h = h.trim_end_matches('.');
    match p.strip_prefix("*.") {
        Some(suffix) => h
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => p == h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_names() {
        assert!(name_matches("*.example.com", "ws.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("Example.COM", "example.com."));
        assert!(!name_matches("localhost", "127.0.0.1"));
    }

    #[test]
    fn garbage_is_a_problem_not_a_panic() {
        let c = check_chain(&[b"not DER"], Ts(0), Some("a.test"));
        assert!(c.certs.is_empty());
        assert_eq!(c.problems.len(), 1);
    }
}
