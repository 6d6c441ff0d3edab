//! The incident summary in the text report: totals, the causes grouped (or the servers,
//! clients or codes, as `--group-by` asks), the servers and clients with the most problems,
//! and a timeline of closes per class drawn as one row of bars per class.

use std::fmt::Write;

use crate::capture::Ts;
use crate::incident::{Class, IncidentReport, PartyCount};
use crate::render::text::{echo, safe, Style};
use crate::timefmt::rfc3339;

/// What the summary's main table lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupBy {
    #[default]
    Cause,
    Server,
    Client,
    Code,
}

/// Rows of the main table at most (the rest are counted in one line).
const ROWS: usize = 12;
/// Bars of the timeline, one per bucket.
const BARS: &str = " ▁▂▃▄▅▆▇█";

/// A time of day (with the date when the summary spans days).
fn clock(ts: Ts, with_date: bool) -> String {
    let t = rfc3339(ts);
    let (date, time) = t.split_at(t.find('T').unwrap_or(0));
    let time = time.trim_start_matches('T');
    let hms = time.get(..8).unwrap_or(time);
    if with_date {
        format!("{date} {hms}")
    } else {
        hms.to_string()
    }
}

fn span(first: Ts, last: Ts, with_date: bool) -> String {
    let (a, b) = (clock(first, with_date), clock(last, with_date));
    let apart = last.since(first);
    if apart < 1_000_000_000 {
        if apart > 0 && first != last {
            return format!("{a}, within {}", ms(apart as f64 / 1e6));
        }
        return a;
    }
    format!("{a}-{b}")
}

/// A range of durations, in one unit when both are under a second.
fn ms_range(a: f64, b: f64) -> String {
    if (b - a).abs() < 0.5 {
        ms(a)
    } else if b < 1000.0 {
        format!("{a:.0}-{b:.0} ms")
    } else {
        format!("{}-{}", ms(a), ms(b))
    }
}

fn ms(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0} s", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.1} s", v / 1000.0)
    } else {
        format!("{v:.0} ms")
    }
}

fn parties(list: &[PartyCount], n: usize) -> String {
    let shown: Vec<String> = list
        .iter()
        .take(n)
        .map(|p| format!("{} ({})", safe(&p.name), p.connections))
        .collect();
    let more = list.len().saturating_sub(n);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// The summary block; `label` names what it covers (a file, or all files).
/// `several`: the summary covers several files: it prints the outcome counts (a file's
/// header has its own) and names each example's file.
pub fn summary(
    inc: &IncidentReport,
    label: &str,
    group_by: GroupBy,
    several: bool,
    s: Style,
) -> String {
    let mut o = String::new();
    let with_date = inc.timeline.as_ref().is_some_and(|t| {
        let days = t.bucket_ms.saturating_mul(t.buckets as u64) / 86_400_000;
        days >= 1
    });
    let _ = writeln!(
        o,
        "{} {}: {} connection(s), {} with problems",
        s.bold("Summary"),
        echo(label),
        inc.connections,
        inc.problems
    );
    if inc.connections == 0 {
        return o;
    }
    if several {
        let list: Vec<String> = inc
            .outcomes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(o, "  outcomes  {}", list.join(", "));
    }
    if !inc.codes.is_empty() {
        let codes: Vec<String> = inc
            .codes
            .iter()
            .map(|c| match c.code {
                Some(code) => format!("{code} {} {}", c.name, c.count),
                None => format!("{} {}", c.name, c.count),
            })
            .collect();
        let _ = writeln!(o, "  codes     {} (first Close of each)", codes.join(", "));
    }
    match group_by {
        GroupBy::Cause => causes(&mut o, inc, with_date, several, s),
        GroupBy::Server => party_table(&mut o, "servers", &inc.servers),
        GroupBy::Client => party_table(&mut o, "clients", &inc.clients),
        GroupBy::Code => {
            let _ = writeln!(o, "  {}", s.bold("by code"));
            for c in &inc.codes {
                let code = c.code.map_or("none".to_string(), |c| c.to_string());
                let _ = writeln!(o, "  {:>7}  {code:>5}  {}", c.count, c.name);
            }
        }
    }
    if group_by != GroupBy::Server {
        let problem: Vec<PartyCount> = inc
            .servers
            .iter()
            .filter(|p| p.problems > 0)
            .cloned()
            .collect();
        if !problem.is_empty() {
            let list: Vec<String> = problem
                .iter()
                .take(5)
                .map(|p| format!("{} {}/{}", safe(&p.name), p.problems, p.connections))
                .collect();
            let _ = writeln!(o, "  servers   {} (problems/connections)", list.join(", "));
        }
    }
    if group_by != GroupBy::Client {
        let list: Vec<String> = inc
            .clients
            .iter()
            .filter(|p| p.problems > 0)
            .take(5)
            .map(|p| format!("{} {}/{}", safe(&p.name), p.problems, p.connections))
            .collect();
        if !list.is_empty() {
            let _ = writeln!(o, "  clients   {} (problems/connections)", list.join(", "));
        }
    }
    timeline(&mut o, inc, with_date, s);
    o
}

/// `files`: the summary covers several files (an example names its file).
fn causes(o: &mut String, inc: &IncidentReport, with_date: bool, files: bool, s: Style) {
    let _ = writeln!(o, "  {}", s.bold("causes"));
    for g in inc.causes.iter().take(ROWS) {
        let idle = g
            .idle_ms
            .map(|(a, b)| format!(", {} after the last payload", ms_range(a, b)))
            .unwrap_or_default();
        let line = format!(
            "{}{idle}; {}; {}; e.g. {}#{}",
            safe(&g.summary),
            parties(&g.servers, 2),
            span(g.first, g.last, with_date),
            if files {
                format!("{} ", safe(&g.example_file))
            } else {
                String::new()
            },
            g.example
        );
        let line = match g.class {
            Class::Clean | Class::Other => line,
            Class::Abnormal => s.yellow(&line),
            Class::TlsFailure | Class::Illegal => s.red(&line),
        };
        let _ = writeln!(o, "  {:>4.0}%  {line}", g.share * 100.0);
    }
    let rest: u64 = inc.causes.iter().skip(ROWS).map(|g| g.count).sum();
    if rest > 0 {
        let _ = writeln!(
            o,
            "         {rest} more connection(s) in {} smaller group(s) (--format json lists them all)",
            inc.causes.len() - ROWS
        );
    }
}

fn party_table(o: &mut String, what: &str, list: &[PartyCount]) {
    let _ = writeln!(o, "  {what} (problems/connections)");
    for p in list.iter().take(ROWS) {
        let _ = writeln!(
            o,
            "  {:>7}/{:<7} {}",
            p.problems,
            p.connections,
            safe(&p.name)
        );
    }
}

fn timeline(o: &mut String, inc: &IncidentReport, with_date: bool, s: Style) {
    let Some(t) = &inc.timeline else {
        return;
    };
    let end = Ts(t.start.0 + (t.bucket_ms as i64) * 1_000_000 * t.buckets as i64);
    let _ = writeln!(
        o,
        "  {} {} to {}, {} per column",
        s.bold("closes over time"),
        clock(t.start, with_date),
        clock(end, with_date),
        ms(t.bucket_ms as f64)
    );
    let bars: Vec<char> = BARS.chars().collect();
    let top = bars.len() - 1;
    for class in [
        Class::Clean,
        Class::Abnormal,
        Class::TlsFailure,
        Class::Illegal,
    ] {
        let Some(row) = t.counts.get(class.as_str()) else {
            continue;
        };
        let max = row.iter().copied().max().unwrap_or(0);
        if max == 0 {
            continue;
        }
        let line: String = row
            .iter()
            .map(|&n| {
                if n == 0 {
                    ' '
                } else {
                    // At least the lowest bar for any close, the tallest for the maximum.
                    let level = ((n as f64 / max as f64) * top as f64).ceil() as usize;
                    bars.get(level.clamp(1, top)).copied().unwrap_or('#')
                }
            })
            .collect();
        let name = class.as_str().replace('_', " ");
        let line = match class {
            Class::Abnormal => s.yellow(&line),
            Class::TlsFailure | Class::Illegal => s.red(&line),
            _ => line,
        };
        let _ = writeln!(o, "  {name:>11} |{line}| max {max}");
    }
}
