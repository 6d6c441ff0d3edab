//! TCP: flow identity, direction, and per-direction stream reassembly.

pub mod reassembly;
mod seq;
pub use seq::Seq;

use std::net::{IpAddr, SocketAddr};

/// Which way a byte, frame or packet travelled.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    /// Short arrow form for the human report.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client -> server",
            Direction::ServerToClient => "server -> client",
        }
    }

    /// Who sends in this direction.
    pub fn sender(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client",
            Direction::ServerToClient => "server",
        }
    }
}

/// A TCP connection's identity, independent of packet direction: the two endpoints in a
/// fixed (sorted) order, each as (address bits, port). IPv4 addresses are stored as
/// IPv4-mapped IPv6 bits, so keys compare and hash as plain integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: (u128, u16),
    pub hi: (u128, u16),
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl FlowKey {
    /// The key of a segment from `src` to `dst`, and whether `src` is the `lo` endpoint.
    pub fn new(src: (IpAddr, u16), dst: (IpAddr, u16)) -> (FlowKey, bool) {
        let a = (bits(src.0), src.1);
        let b = (bits(dst.0), dst.1);
        if a <= b {
            (FlowKey { lo: a, hi: b }, true)
        } else {
            (FlowKey { lo: b, hi: a }, false)
        }
    }
}

/// Formats an endpoint as Wireshark does: `1.2.3.4:80`, `[::1]:80`.
pub fn endpoint(addr: (IpAddr, u16)) -> String {
    SocketAddr::new(addr.0, addr.1).to_string()
}
