//! Scopes: overrides of a policy for connections to some servers. Takes a scope and a
//! finished connection's report, and says whether the scope applies: the server's address
//! (a `SocketAddr` in the report), the host the client asked for (Host header) or its TLS
//! server name must match one of the scope's hosts, and its port one of the scope's ports.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::codes::Codes;
use super::rule::CheckRule;
use crate::report::ConnReport;
use crate::rules::Level;

/// A server a scope names: an address, or a name (lower case) matched against the Host
/// header and the TLS server name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum HostPattern {
    /// Matches a server at this address (and a Host header naming it).
    Ip(IpAddr),
    /// Matches a Host header or TLS server name, in lower case.
    Name(String),
}

impl HostPattern {
    /// The pattern a policy file writes as `text`: an address when it is one, else a name,
    /// compared without regard to case.
    pub fn parse(text: &str) -> HostPattern {
        match text.parse() {
            Ok(ip) => HostPattern::Ip(ip),
            Err(_) => HostPattern::Name(text.to_ascii_lowercase()),
        }
    }
}

/// Overrides for connections to some hosts or ports.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Scope {
    /// Servers it applies to; empty for all.
    pub hosts: Vec<HostPattern>,
    /// Server ports it applies to; empty for all.
    pub ports: Vec<u16>,
    /// Levels over the policy's `[rules]`.
    pub rules: BTreeMap<CheckRule, Level>,
    /// Code rules: denials add to the policy's, an allow list and a severity replace them.
    pub codes: Option<Codes>,
}

/// What a scope is matched against: the server's address, and the names the client used
/// for it (Host header without its port, TLS server name).
#[derive(Clone, Debug)]
pub struct Server {
    addr: SocketAddr,
    host: Option<HostPattern>,
    sni: Option<HostPattern>,
}

impl Server {
    /// The server of connection `c`.
    pub fn of(c: &ConnReport) -> Server {
        Server {
            addr: c.server,
            host: c
                .handshake
                .as_ref()
                .and_then(|h| h.host.as_deref())
                .map(|h| HostPattern::parse(split_host(h))),
            sni: c
                .tls
                .as_ref()
                .and_then(|t| t.sni.as_deref())
                .map(HostPattern::parse),
        }
    }
}

impl Scope {
    /// The scope includes `server`: one of its hosts (any, when none) and one of its ports
    /// (any, when none).
    pub fn applies_to(&self, server: &Server) -> bool {
        let host_ok = self.hosts.is_empty()
            || self.hosts.iter().any(|h| {
                *h == HostPattern::Ip(server.addr.ip())
                    || Some(h) == server.host.as_ref()
                    || Some(h) == server.sni.as_ref()
            });
        let port_ok = self.ports.is_empty() || self.ports.contains(&server.addr.port());
        host_ok && port_ok
    }
}

/// The host of a Host header value, without its port (and brackets, for IPv6).
fn split_host(h: &str) -> &str {
    if h.starts_with('[') {
        return h
            .split(']')
            .next()
            .map(|s| s.trim_start_matches('['))
            .unwrap_or(h);
    }
    match h.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(addr: &str, host: Option<&str>, sni: Option<&str>) -> Server {
        Server {
            addr: addr.parse().unwrap(),
            host: host.map(|h| HostPattern::parse(split_host(h))),
            sni: sni.map(HostPattern::parse),
        }
    }

    fn scope(hosts: &[&str], ports: &[u16]) -> Scope {
        Scope {
            hosts: hosts.iter().map(|h| HostPattern::parse(h)).collect(),
            ports: ports.to_vec(),
            ..Scope::default()
        }
    }

    #[test]
    fn host_headers_lose_their_port() {
        assert_eq!(split_host("example.com:8080"), "example.com");
        assert_eq!(split_host("example.com"), "example.com");
        assert_eq!(split_host("[::1]:80"), "::1");
        assert_eq!(split_host("[::1]"), "::1");
        assert_eq!(split_host("host:http"), "host:http");
    }

    #[test]
    fn patterns_are_addresses_or_lower_case_names() {
        assert_eq!(
            HostPattern::parse("::1"),
            HostPattern::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            HostPattern::parse("API.Example.com"),
            HostPattern::Name("api.example.com".into())
        );
        // Brackets belong to URLs and Host headers, not to a bare address.
        assert_eq!(
            HostPattern::parse("[::1]"),
            HostPattern::Name("[::1]".into())
        );
    }

    #[test]
    fn scopes_match_address_port_host_and_server_name() {
        let s = server("10.0.0.5:8443", Some("API.example.com:8443"), None);
        assert!(scope(&[], &[]).applies_to(&s));
        assert!(scope(&["10.0.0.5"], &[]).applies_to(&s));
        assert!(scope(&["10.0.0.5"], &[8443]).applies_to(&s));
        assert!(!scope(&["10.0.0.5"], &[443]).applies_to(&s));
        assert!(!scope(&["10.0.0.6"], &[]).applies_to(&s));
        assert!(scope(&["api.example.com"], &[8443, 9000]).applies_to(&s));
        assert!(scope(&["other", "Api.Example.Com"], &[]).applies_to(&s));
        assert!(!scope(&["example.com"], &[]).applies_to(&s));

        let tls = server("[2001:db8::1]:443", None, Some("LocalHost"));
        assert!(scope(&["localhost"], &[443]).applies_to(&tls));
        assert!(scope(&["2001:db8::1"], &[]).applies_to(&tls));
        assert!(scope(&["2001:DB8:0::1"], &[]).applies_to(&tls));
        assert!(!scope(&["[2001:db8::1]"], &[]).applies_to(&tls));
        assert!(!scope(&[], &[80]).applies_to(&tls));
    }
}
