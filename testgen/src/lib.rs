//! Test data for wsclose, in one place: pcap files, Ethernet/IPv4/TCP packets, WebSocket
//! frames and Close bodies, a conversation builder for small hand-made captures, and the
//! large synthetic capture that the benches measure.
//!
//! Layers, each usable alone:
//!
//! - [`pcap`]: file header and records (microsecond timestamps, Ethernet link type).
//! - [`pcapng`]: section, interface and enhanced packet blocks.
//! - [`packet`]: one TCP segment in an Ethernet II frame over IPv4 (etherparse's
//!   `PacketBuilder`), at fixed offsets that tests may patch.
//! - [`ws`]: WebSocket frames (RFC 6455 §5.2), [`close`]: Close bodies (§5.5.1).
//! - [`conv`]: `Conv`, a client/server conversation that tracks both sequence numbers.
//! - [`flood`]: captures that stress the flow table (scans, floods, many open connections).
//! - [`synth`]: `write_capture`, many interleaved connections, deterministic per config.
//!
//! Dev-only (never published, never a dependency of the library): it builds data, reads no
//! input, and does not depend on `wsclose`, so tests check the analyser against bytes made
//! independently of it.
#![forbid(unsafe_code)]

pub mod close;
pub mod conv;
pub mod flood;
pub mod packet;
pub mod pcap;
pub mod pcapng;
pub mod synth;
pub mod ws;
