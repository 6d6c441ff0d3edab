//! JSON and JSONL rendering. One JSON document holds every file; JSONL has one record per
//! close event (a Close frame, or a connection that ended without one).

use std::net::SocketAddr;

use serde::Serialize;

use crate::capture::{Format, Ts};
use crate::incident::IncidentReport;
use crate::report::{
    CloseReport, ConnReport, DropCause, FileReport, FileWarning, IdleTimeout, LinkedLeg, Observed,
    Outcome, ProxyReport, Summary, TlsReport, SCHEMA_VERSION,
};

/// The opening of the JSON document, up to the start of the `files` array.
pub fn document_head() -> String {
    format!(
        "{{\"tool\":\"wsclose\",\"version\":\"{}\",\"schema\":{SCHEMA_VERSION},\"files\":[",
        env!("CARGO_PKG_VERSION")
    )
}

/// What every JSONL record starts with: its type, the schema, and the connection it is
/// about.
#[derive(Serialize)]
struct RecordHead<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    schema: u32,
    file: &'a str,
    connection: u64,
    client: SocketAddr,
    server: SocketAddr,
    outcome: Outcome,
}

impl<'a> RecordHead<'a> {
    fn of(kind: &'static str, file: &'a str, c: &ConnReport) -> RecordHead<'a> {
        RecordHead {
            kind,
            schema: SCHEMA_VERSION,
            file,
            connection: c.id,
            client: c.client,
            server: c.server,
            outcome: c.story.outcome,
        }
    }
}

#[derive(Serialize)]
struct CloseRecord<'a> {
    #[serde(flatten)]
    head: RecordHead<'a>,
    #[serde(flatten)]
    close: &'a CloseReport,
}

#[derive(Serialize)]
struct NoCloseRecord<'a> {
    #[serde(flatten)]
    head: RecordHead<'a>,
    frame: u64,
    ts: Ts,
    client_observed: &'a Option<Observed>,
    server_observed: &'a Option<Observed>,
    likely_cause: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<DropCause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proxy: Option<&'a ProxyReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idle_timeout: Option<&'a IdleTimeout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    linked_leg: Option<&'a LinkedLeg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<&'a TlsReport>,
}

/// The JSONL records of one connection, each followed by a newline.
pub fn jsonl_records(file: &str, c: &ConnReport, out: &mut Vec<u8>) -> serde_json::Result<()> {
    for close in &c.closes {
        let record = CloseRecord {
            head: RecordHead::of("close_frame", file, c),
            close,
        };
        serde_json::to_writer(&mut *out, &record)?;
        out.push(b'\n');
    }
    if c.closes.is_empty() {
        let (frame, ts) = match &c.story.tcp_end {
            Some(e) => (e.frame, e.ts),
            None => (c.last_frame, c.end),
        };
        let record = NoCloseRecord {
            head: RecordHead::of("no_close_frame", file, c),
            frame,
            ts,
            client_observed: &c.story.client_observed,
            server_observed: &c.story.server_observed,
            likely_cause: &c.story.likely_cause,
            cause: c.story.cause,
            proxy: c.story.proxy.as_ref(),
            idle_timeout: c.story.idle_timeout.as_ref(),
            linked_leg: c.story.linked_leg.as_ref(),
            tls: c.tls.as_ref(),
        };
        serde_json::to_writer(&mut *out, &record)?;
        out.push(b'\n');
    }
    Ok(())
}

/// The JSONL record that ends a file: its summary, warnings, error and incident summary
/// (every file has one, with or without connections).
#[derive(Serialize)]
struct FileRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    schema: u32,
    file: &'a str,
    format: Option<Format>,
    gzip: bool,
    summary: &'a Summary,
    warnings: &'a [FileWarning],
    error: &'a Option<String>,
    incident: &'a IncidentReport,
}

/// The record of a finished file, followed by a newline.
pub fn jsonl_file_record(
    f: &FileReport,
    incident: &IncidentReport,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    let record = FileRecord {
        kind: "file",
        schema: SCHEMA_VERSION,
        file: &f.path,
        format: f.format,
        gzip: f.gzip,
        summary: &f.summary,
        warnings: &f.warnings,
        error: &f.error,
        incident,
    };
    serde_json::to_writer(&mut *out, &record)?;
    out.push(b'\n');
    Ok(())
}
