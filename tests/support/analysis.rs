//! Runs the library, not the binary, on a capture built in memory or on a sample, and
//! returns the typed report: the file's summary and warnings, every connection in the order
//! the callback received it (the order of the JSON output), and the fatal error if any.
//!
//! Each capture is read twice, on one thread and pipelined (the command line's default),
//! and the two reports must agree.

use std::io::Cursor;

use wsclose::error::Error;
use wsclose::report::{ConnReport, FileReport};
use wsclose::rules::Rule;
use wsclose::Options;

/// What one capture gives: the file's report, its connections, the fatal error.
pub type Analysis = (FileReport, Vec<ConnReport>, Option<Error>);

/// `bytes` (called `name` in messages) analyzed with `opts`, read both ways.
pub fn analyze_bytes(name: &str, bytes: &[u8], opts: &Options) -> Analysis {
    both_ways(name, opts, |opts| {
        let input = Box::new(Cursor::new(bytes.to_vec()));
        collect(|on_conn| wsclose::analyze_reader(name, input, false, opts, on_conn))
    })
}

/// `samples/<name>` analyzed with `opts`, read both ways.
pub fn analyze_sample(name: &str, opts: &Options) -> Analysis {
    let path = crate::root().join("samples").join(name);
    let path = path.to_str().expect("UTF-8 path");
    both_ways(name, opts, |opts| {
        collect(|on_conn| wsclose::analyze_file(path, opts, on_conn))
    })
}

/// The rules of a connection's findings, in report order.
pub fn rules(c: &ConnReport) -> Vec<Rule> {
    c.findings.iter().map(|f| f.rule).collect()
}

/// Runs `run` into a list of connections.
fn collect(
    run: impl FnOnce(&mut dyn FnMut(&ConnReport)) -> (FileReport, Option<Error>),
) -> Analysis {
    let mut conns = Vec::new();
    let (file, err) = run(&mut |c| conns.push(c.clone()));
    (file, conns, err)
}

/// Runs `analyze` with `opts` on one thread and pipelined, checks that both give the same
/// report, and returns it.
fn both_ways(name: &str, opts: &Options, analyze: impl Fn(&Options) -> Analysis) -> Analysis {
    let one_thread = analyze(&Options {
        pipelined: false,
        ..opts.clone()
    });
    let pipelined = analyze(&Options {
        pipelined: true,
        ..opts.clone()
    });
    assert_eq!(
        format!("{:#?}", one_thread.0),
        format!("{:#?}", pipelined.0),
        "{name}: the file report depends on pipelining"
    );
    assert_eq!(
        one_thread.1.len(),
        pipelined.1.len(),
        "{name}: the connection count depends on pipelining"
    );
    for (a, b) in one_thread.1.iter().zip(&pipelined.1) {
        assert_eq!(
            format!("{a:#?}"),
            format!("{b:#?}"),
            "{name}: connection {} depends on pipelining",
            a.id
        );
    }
    assert_eq!(
        one_thread.2.as_ref().map(ToString::to_string),
        pipelined.2.as_ref().map(ToString::to_string),
        "{name}: the fatal error depends on pipelining"
    );
    one_thread
}
