//! Which connections a report covers: `--server`, `--client`, `--code`, `--outcome`,
//! `--since`, `--until`, `--conn`. Every format, and the summary, see only the connections
//! a filter accepts. Parsing errors are one line naming the option and what is wrong.

use std::net::IpAddr;

use crate::capture::Ts;
use crate::incident::close_time;
use crate::report::{ConnReport, Outcome};
use crate::timefmt::parse_rfc3339;

/// A time bound: a moment, or seconds from the capture's first packet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum When {
    At(Ts),
    FromStart(i64),
}

impl When {
    /// `2024-01-12T17:15:32Z` (RFC 3339), or seconds from the start (`90`, `2.5`).
    pub fn parse(s: &str) -> Result<When, String> {
        if let Ok(secs) = s.parse::<f64>() {
            if (0.0..1e12).contains(&secs) {
                return Ok(When::FromStart((secs * 1e9).round() as i64));
            }
            return Err(format!("{s:?}: seconds from the start must be 0 or more"));
        }
        parse_rfc3339(s).map(When::At).ok_or_else(|| {
            format!("{s:?} is neither an RFC 3339 time (2024-01-12T17:15:32Z) nor seconds from the start of the capture")
        })
    }

    fn resolve(self, start: Ts) -> Ts {
        match self {
            When::At(t) => t,
            When::FromStart(ns) => Ts(start.0.saturating_add(ns)),
        }
    }
}

/// A server to match: a name (Host, SNI) or address, and maybe a port.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Endpoint {
    host: String,
    port: Option<u16>,
}

impl Endpoint {
    /// `HOST`, `HOST:PORT`, `[V6]:PORT`, or a bare IPv6 address.
    fn parse(s: &str) -> Result<Endpoint, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("an empty name".to_string());
        }
        if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: no closing ]"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(port(p, s)?),
                None if after.is_empty() => None,
                None => return Err(format!("{s:?}: expected :PORT after ]")),
            };
            return Ok(Endpoint {
                host: host.to_ascii_lowercase(),
                port,
            });
        }
        if s.parse::<IpAddr>().is_ok() {
            return Ok(Endpoint {
                host: s.to_ascii_lowercase(),
                port: None,
            });
        }
        match s.rsplit_once(':') {
            Some((host, p)) if !host.is_empty() => Ok(Endpoint {
                host: host.to_ascii_lowercase(),
                port: Some(port(p, s)?),
            }),
            Some(_) => Err(format!("{s:?}: no host before the port")),
            None => Ok(Endpoint {
                host: s.to_ascii_lowercase(),
                port: None,
            }),
        }
    }

    /// Matches `ip:port`, or a name the connection used for it.
    fn matches(&self, ip: IpAddr, port: u16, names: &[&str]) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        if self.host.parse::<IpAddr>().is_ok_and(|h| h == ip) {
            return true;
        }
        names.iter().any(|n| n.eq_ignore_ascii_case(&self.host))
    }
}

fn port(p: &str, whole: &str) -> Result<u16, String> {
    p.parse()
        .map_err(|_| format!("{whole:?}: {p:?} is not a port (0-65535)"))
}

/// The connections a report covers.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    servers: Vec<Endpoint>,
    clients: Vec<Endpoint>,
    codes: Vec<(u16, u16)>,
    outcomes: Vec<Outcome>,
    since: Option<When>,
    until: Option<When>,
    conn: Option<u64>,
}

/// Splits comma-separated option values.
fn items(values: &[String]) -> impl Iterator<Item = &str> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The outcomes, by their JSON names.
const OUTCOMES: [Outcome; 9] = [
    Outcome::Clean,
    Outcome::NoStatus,
    Outcome::OneSided,
    Outcome::Abnormal,
    Outcome::Open,
    Outcome::Refused,
    Outcome::TlsFailed,
    Outcome::Failed,
    Outcome::Encrypted,
];

impl Filter {
    pub fn with_servers(mut self, values: &[String]) -> Result<Filter, String> {
        for v in items(values) {
            self.servers
                .push(Endpoint::parse(v).map_err(|e| format!("--server: {e}"))?);
        }
        Ok(self)
    }

    pub fn with_clients(mut self, values: &[String]) -> Result<Filter, String> {
        for v in items(values) {
            let e = Endpoint::parse(v).map_err(|e| format!("--client: {e}"))?;
            if e.host.parse::<IpAddr>().is_err() {
                return Err(format!(
                    "--client: {v:?} is not an IP address (IP or IP:PORT)"
                ));
            }
            self.clients.push(e);
        }
        Ok(self)
    }

    /// Codes and ranges: `1008`, `4000-4999`.
    pub fn with_codes(mut self, values: &[String]) -> Result<Filter, String> {
        let code = |s: &str| {
            s.trim()
                .parse::<u16>()
                .map_err(|_| format!("--code: {s:?} is not a close code (0-65535)"))
        };
        for v in items(values) {
            let range = match v.split_once('-') {
                Some((a, b)) => (code(a)?, code(b)?),
                None => (code(v)?, code(v)?),
            };
            if range.0 > range.1 {
                return Err(format!("--code: {v:?} is an empty range"));
            }
            self.codes.push(range);
        }
        Ok(self)
    }

    pub fn with_outcomes(mut self, values: &[String]) -> Result<Filter, String> {
        for v in items(values) {
            let o = OUTCOMES.iter().find(|o| o.as_str() == v).ok_or_else(|| {
                let names: Vec<&str> = OUTCOMES.iter().map(|o| o.as_str()).collect();
                format!("--outcome: {v:?} is not one of {}", names.join(", "))
            })?;
            self.outcomes.push(*o);
        }
        Ok(self)
    }

    pub fn with_times(
        mut self,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Filter, String> {
        self.since = since
            .map(When::parse)
            .transpose()
            .map_err(|e| format!("--since: {e}"))?;
        self.until = until
            .map(When::parse)
            .transpose()
            .map_err(|e| format!("--until: {e}"))?;
        Ok(self)
    }

    pub fn with_conn(mut self, id: Option<u64>) -> Filter {
        self.conn = id;
        self
    }

    /// Whether any option narrows the report.
    pub fn is_active(&self) -> bool {
        !self.servers.is_empty()
            || !self.clients.is_empty()
            || !self.codes.is_empty()
            || !self.outcomes.is_empty()
            || self.since.is_some()
            || self.until.is_some()
            || self.conn.is_some()
    }

    /// Only one connection is asked for (`--conn`).
    pub fn one_connection(&self) -> bool {
        self.conn.is_some()
    }

    /// Whether the report covers `c`. Several values of one option are alternatives;
    /// different options must all match. Times are those of the connection's first Close
    /// (else the end of TCP, else its last packet).
    pub fn accepts(&self, c: &ConnReport) -> bool {
        if self.conn.is_some_and(|id| id != c.id) {
            return false;
        }
        if !self.outcomes.is_empty() && !self.outcomes.contains(&c.story.outcome) {
            return false;
        }
        if !self.codes.is_empty()
            && !c.closes.iter().any(|close| {
                close
                    .code
                    .is_some_and(|code| self.codes.iter().any(|(a, b)| (*a..=*b).contains(&code)))
            })
        {
            return false;
        }
        if !self.servers.is_empty() {
            let mut names: Vec<&str> = Vec::new();
            if let Some(host) = c.handshake.as_ref().and_then(|h| h.host.as_deref()) {
                names.push(host);
                if let Some((h, _)) = host.rsplit_once(':') {
                    names.push(h.trim_start_matches('[').trim_end_matches(']'));
                }
            }
            if let Some(sni) = c.tls.as_ref().and_then(|t| t.sni.as_deref()) {
                names.push(sni);
            }
            let (ip, port) = (c.server.ip(), c.server.port());
            if !self.servers.iter().any(|s| s.matches(ip, port, &names)) {
                return false;
            }
        }
        if !self.clients.is_empty() {
            let (ip, port) = (c.client.ip(), c.client.port());
            if !self.clients.iter().any(|s| s.matches(ip, port, &[])) {
                return false;
            }
        }
        if self.since.is_some() || self.until.is_some() {
            let at = close_time(c);
            if self.since.is_some_and(|w| at < w.resolve(c.capture_start)) {
                return false;
            }
            if self.until.is_some_and(|w| at > w.resolve(c.capture_start)) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_moments_or_seconds_from_the_start() {
        assert_eq!(When::parse("90"), Ok(When::FromStart(90_000_000_000)));
        assert_eq!(When::parse("2.5"), Ok(When::FromStart(2_500_000_000)));
        assert_eq!(
            When::parse("2024-01-12T17:15:32Z"),
            Ok(When::At(Ts(1_705_079_732_000_000_000)))
        );
        assert!(When::parse("-3").is_err());
        assert!(When::parse("yesterday").unwrap_err().contains("RFC 3339"));
        assert_eq!(
            When::FromStart(5_000_000_000).resolve(Ts(1_000_000_000)),
            Ts(6_000_000_000)
        );
    }

    #[test]
    fn endpoints_parse_with_and_without_ports() {
        let e = Endpoint::parse("Example.COM:8443").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("example.com", Some(8443)));
        let e = Endpoint::parse("[::1]:80").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", Some(80)));
        let e = Endpoint::parse("::1").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", None));
        assert!(Endpoint::parse("host:99999").is_err());
        assert!(Endpoint::parse(":80").is_err());
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let e = Endpoint::parse("127.0.0.2").unwrap();
        assert!(e.matches(ip, 9000, &[]));
        let e = Endpoint::parse("example.com:9000").unwrap();
        assert!(e.matches(ip, 9000, &["EXAMPLE.com"]));
        assert!(!e.matches(ip, 9001, &["example.com"]));
    }

    #[test]
    fn bad_values_name_the_option() {
        let f = Filter::default();
        assert!(f
            .clone()
            .with_codes(&["4000-3000".into()])
            .unwrap_err()
            .starts_with("--code:"));
        assert!(f
            .clone()
            .with_codes(&["10o8".into()])
            .unwrap_err()
            .starts_with("--code:"));
        assert!(f
            .clone()
            .with_outcomes(&["fine".into()])
            .unwrap_err()
            .contains("clean"));
        assert!(f
            .clone()
            .with_clients(&["host.example".into()])
            .unwrap_err()
            .starts_with("--client:"));
        assert!(f
            .with_times(Some("soon"), None)
            .unwrap_err()
            .starts_with("--since:"));
    }
}
