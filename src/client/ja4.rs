//! The JA4 fingerprint of a ClientHello (FoxIO's JA4, TLS client part): what the client
//! offers, in a form that does not change with the order of its extensions (Chromium
//! shuffles them on every connection).
//!
//! `t13d1516h2_8daaf6152771_e5627efa2ab1`: transport, highest version offered, SNI present
//! (`d`) or not (`i`), the number of cipher suites and extensions, the first and last
//! character of the first ALPN value; then a hash of the sorted cipher suites; then a hash
//! of the sorted extensions (SNI and ALPN left out) and the signature algorithms in order.

use ring::digest::{digest, SHA256};

use crate::tls::record::{is_grease, ClientHello};

const SNI: u16 = 0x0000;
const ALPN: u16 = 0x0010;

/// The JA4 of `ch`, as sent over TCP.
pub fn ja4(ch: &ClientHello) -> String {
    let extensions: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|&t| !is_grease(t))
        .collect();
    let sni = if extensions.contains(&SNI) { 'd' } else { 'i' };
    let mut ciphers: Vec<u16> = ch.ciphers.iter().map(|c| c.0).collect();
    ciphers.sort_unstable();
    let mut hashed: Vec<u16> = extensions
        .iter()
        .copied()
        .filter(|&t| t != SNI && t != ALPN)
        .collect();
    hashed.sort_unstable();
    let mut c = hex_list(&hashed);
    if !ch.signature_algorithms.is_empty() {
        c.push('_');
        c.push_str(&hex_list(&ch.signature_algorithms));
    }
    format!(
        "t{}{sni}{:02}{:02}{}_{}_{}",
        version(ch),
        ciphers.len().min(99),
        extensions.len().min(99),
        alpn(ch),
        hash12(&hex_list(&ciphers), ciphers.is_empty()),
        hash12(&c, hashed.is_empty()),
    )
}

/// The highest version offered, in JA4's two characters.
fn version(ch: &ClientHello) -> &'static str {
    match ch.versions.iter().map(|v| v.0 .0).max() {
        Some(0x0304) => "13",
        Some(0x0303) => "12",
        Some(0x0302) => "11",
        Some(0x0301) => "10",
        Some(0x0300) => "s3",
        _ => "00",
    }
}

/// The first and last character of the first ALPN value (`h2`, `h1` for http/1.1), or
/// `00`; the hex digits at its ends when those characters are not alphanumeric.
fn alpn(ch: &ClientHello) -> String {
    let bytes = ch.alpn.first().map_or(&[][..], |a| a.as_bytes());
    let (Some(&a), Some(&z)) = (bytes.first(), bytes.last()) else {
        return "00".to_string();
    };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        format!("{}{}", a as char, z as char)
    } else {
        let a = format!("{a:02x}");
        let z = format!("{z:02x}");
        format!("{}{}", &a[..1], &z[1..])
    }
}

fn hex_list(values: &[u16]) -> String {
    let mut s = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("{v:04x}"));
    }
    s
}

/// The first 12 hex digits of the SHA-256 of `s`; zeros for an empty list.
fn hash12(s: &str, empty: bool) -> String {
    if empty {
        return "000000000000".to_string();
    }
    digest(&SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{TlsCipherSuiteID, TlsVersion, Version};

    /// A Chrome 143 ClientHello as a public fingerprinting service listed it (its raw
    /// lists and its JA4, computed independently of this code).
    #[test]
    fn matches_a_published_fingerprint() {
        let ciphers = [
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ];
        let ch = ClientHello {
            sni: Some("tls.browserleaks.com".into()),
            versions: vec![Version(TlsVersion(0x0304)), Version(TlsVersion(0x0303))],
            alpn: vec!["h2".into(), "http/1.1".into()],
            ciphers: ciphers.iter().map(|&c| TlsCipherSuiteID(c)).collect(),
            extensions: vec![
                0x3a3a, 0x002d, 0x0033, 0x0010, 0xfe0d, 0x0017, 0x44cd, 0x0000, 0x000b, 0x000a,
                0x002b, 0xff01, 0x0023, 0x0012, 0x0005, 0x000d, 0x001b, 0x9a9a,
            ],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            grease: true,
            ..ClientHello::default()
        };
        assert_eq!(ja4(&ch), "t13d1516h2_8daaf6152771_d8a2da3f94cd");
    }

    #[test]
    fn empty_hello_has_zero_hashes() {
        let ch = ClientHello::default();
        assert_eq!(ja4(&ch), "t00i000000_000000000000_000000000000");
    }
}
