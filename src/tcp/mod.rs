//! TCP: flow identity, the two sides of a connection and its two directions, and
//! per-direction stream reassembly.

pub mod reassembly;
mod seq;
pub use seq::Seq;

use std::net::{IpAddr, SocketAddr};
use std::ops::{Index, IndexMut};

/// One endpoint of a TCP connection, before it is known which is the client: `A` sent the
/// first packet seen, `B` is the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    /// The other endpoint.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    /// Both sides, `A` first.
    pub const BOTH: [Side; 2] = [Side::A, Side::B];
}

/// One value per side of a connection, indexed by `Side`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerSide<T> {
    pub a: T,
    pub b: T,
}

impl<T> PerSide<T> {
    pub fn new(a: T, b: T) -> PerSide<T> {
        PerSide { a, b }
    }

    /// Each side with its value, `A` first.
    pub fn iter(&self) -> impl Iterator<Item = (Side, &T)> {
        [(Side::A, &self.a), (Side::B, &self.b)].into_iter()
    }

    /// Both values, mutably, `A` first.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Side, &mut T)> {
        [(Side::A, &mut self.a), (Side::B, &mut self.b)].into_iter()
    }

    /// Both values, mutably and at once, the one for `side` first.
    pub fn pair_mut(&mut self, side: Side) -> (&mut T, &mut T) {
        match side {
            Side::A => (&mut self.a, &mut self.b),
            Side::B => (&mut self.b, &mut self.a),
        }
    }
}

impl<T> Index<Side> for PerSide<T> {
    type Output = T;
    fn index(&self, side: Side) -> &T {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
}

impl<T> IndexMut<Side> for PerSide<T> {
    fn index_mut(&mut self, side: Side) -> &mut T {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }
}

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

/// One value per direction of a connection, indexed by `Direction`; serialized with the
/// direction names as keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PerDirection<T> {
    pub client_to_server: T,
    pub server_to_client: T,
}

impl<T> Index<Direction> for PerDirection<T> {
    type Output = T;
    fn index(&self, d: Direction) -> &T {
        match d {
            Direction::ClientToServer => &self.client_to_server,
            Direction::ServerToClient => &self.server_to_client,
        }
    }
}

impl<T> IndexMut<Direction> for PerDirection<T> {
    fn index_mut(&mut self, d: Direction) -> &mut T {
        match d {
            Direction::ClientToServer => &mut self.client_to_server,
            Direction::ServerToClient => &mut self.server_to_client,
        }
    }
}

/// A TCP connection's identity, independent of packet direction: the two endpoints in a
/// fixed (sorted) order, each as (address bytes, port). IPv4 addresses are stored as
/// IPv4-mapped IPv6 addresses. Bytes, not a `u128`, so that a key takes 36 bytes, not 64:
/// the flow table holds one per flow; they are compared and hashed as integers all the same.
#[derive(Clone, Copy, Debug, Eq)]
pub struct FlowKey {
    pub lo: ([u8; 16], u16),
    pub hi: ([u8; 16], u16),
}

impl PartialEq for FlowKey {
    fn eq(&self, other: &FlowKey) -> bool {
        let int = |a: [u8; 16]| u128::from_ne_bytes(a);
        int(self.lo.0) == int(other.lo.0)
            && int(self.hi.0) == int(other.hi.0)
            && (self.lo.1, self.hi.1) == (other.lo.1, other.hi.1)
    }
}

impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from_ne_bytes(self.lo.0));
        state.write_u128(u128::from_ne_bytes(self.hi.0));
        state.write_u32(u32::from(self.lo.1) << 16 | u32::from(self.hi.1));
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl FlowKey {
    /// The key of a segment from `src` to `dst`, whichever way it goes.
    pub fn new(src: SocketAddr, dst: SocketAddr) -> FlowKey {
        let a = (bits(src.ip()), src.port());
        let b = (bits(dst.ip()), dst.port());
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            lo: (lo.0.to_be_bytes(), lo.1),
            hi: (hi.0.to_be_bytes(), hi.1),
        }
    }
}
