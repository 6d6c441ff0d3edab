//! wsclose: why did this WebSocket close?
//!
//! `analyze_file` reads one capture packet by packet and hands each finished connection to
//! a callback as a `ConnReport`. The stages, in order:
//!
//! - `capture` (pcap/pcapng records) -> `decode` (link, IP, TCP) -> `flows` (the flow
//!   table) -> `tcp::reassembly` (each direction in order);
//! - `conn`: one connection by stage: its TCP life, protocol detection, the HTTP Upgrade
//!   (`http`), the frame rules (`ws` parses frames), TLS (`tls` reads records);
//! - `story`: the close story over the finished connection's `report` model, with the TLS
//!   failure diagnosis (`story::tls`) and the likely cause of a drop; `close` holds the
//!   code classes and the explanation catalog, `rules` the finding rules;
//! - `render`: text, JSON and JSONL, streamed as connections finish.
//!
//! `check` applies a policy to the same reports for CI; `explain` renders the catalog.
//! With `Options::pipelined`, the analysis runs on a second thread while the calling thread
//! reads and decodes the capture and builds the reports (`pipeline`).
//!
//! Memory is bounded by the open connections (`Options::max_flows`), with a capture-wide
//! budget for buffered bytes (`Options::max_total_pending`), not by the file: finished
//! connections leave the flow table as soon as they are reported.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod analyze;
pub mod capture;
pub mod check;
pub mod client;
pub mod close;
pub mod conn;
pub mod decode;
pub mod error;
pub mod explain;
pub mod filter;
pub mod flows;
pub mod http;
pub mod incident;
pub mod jobs;
pub mod legs;
pub mod pipeline;
pub mod progress;
pub mod proxy;
pub mod render;
pub mod report;
pub mod rules;
pub mod story;
pub mod tcp;
pub mod timefmt;
pub mod tls;
pub mod together;
pub mod ws;

pub use analyze::{
    analyze_file, analyze_reader, Options, DEFAULT_MAX_FLOWS, DEFAULT_MAX_PENDING,
    MAX_TOTAL_PENDING,
};
