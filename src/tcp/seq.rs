//! TCP sequence numbers: 32-bit counters that wrap (RFC 9293 §3.4).
//!
//! `Seq` adds with wrapping arithmetic and compares as RFC 1982 serial numbers: `a < b` when
//! `b` is less than 2^31 ahead of `a`, measured forwards with wrapping. That order only holds
//! inside a window of 2^31 numbers: it is not transitive across the whole space, and two
//! numbers exactly 2^31 apart are unordered (`partial_cmp` is `None`). So never sort
//! sequence numbers or key an ordered map with them; turn them into stream offsets first.
//! Nothing here can overflow or panic.

use std::cmp::Ordering;
use std::ops::{Add, AddAssign};

/// A TCP sequence (or acknowledgment) number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seq(pub u32);

impl Seq {
    /// Signed distance from `earlier` to `self`, with wrapping: positive when `self` comes
    /// after `earlier`, negative before, in `i32` range (2^31 apart gives `i32::MIN`).
    pub fn since(self, earlier: Seq) -> i32 {
        // Reinterpreting the wrapped difference as two's complement is the serial-number
        // comparison of RFC 1982 §3.2.
        self.0.wrapping_sub(earlier.0) as i32
    }
}

impl Add<u32> for Seq {
    type Output = Seq;

    /// The number `n` bytes further on, wrapping past 2^32.
    fn add(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
}

impl AddAssign<u32> for Seq {
    fn add_assign(&mut self, n: u32) {
        *self = *self + n;
    }
}

impl PartialOrd for Seq {
    /// Serial-number order (RFC 1982 §3.2): `None` for numbers exactly 2^31 apart.
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        match self.since(*other) {
            0 => Some(Ordering::Equal),
            i32::MIN => None,
            d if d > 0 => Some(Ordering::Greater),
            _ => Some(Ordering::Less),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_wraps() {
        assert_eq!(Seq(u32::MAX) + 1, Seq(0));
        assert_eq!(Seq(u32::MAX - 2) + 5, Seq(2));
        let mut s = Seq(u32::MAX);
        s += u32::MAX;
        assert_eq!(s, Seq(u32::MAX - 1));
        assert_eq!(Seq(7) + 0, Seq(7));
    }

    #[test]
    fn distance_across_the_wrap() {
        assert_eq!(Seq(2).since(Seq(u32::MAX - 1)), 4);
        assert_eq!(Seq(u32::MAX - 1).since(Seq(2)), -4);
        assert_eq!(Seq(1000).since(Seq(1000)), 0);
        assert_eq!(Seq(0).since(Seq(u32::MAX)), 1);
        // The largest distances either way.
        assert_eq!(Seq(i32::MAX as u32).since(Seq(0)), i32::MAX);
        assert_eq!(Seq(0).since(Seq(i32::MAX as u32)), -i32::MAX);
        assert_eq!(Seq(1 << 31).since(Seq(0)), i32::MIN);
        assert_eq!(Seq(0).since(Seq(1 << 31)), i32::MIN);
    }

    #[test]
    fn serial_order() {
        assert!(Seq(1) < Seq(2));
        assert!(Seq(u32::MAX) < Seq(0), "0 comes right after the wrap");
        assert!(Seq(u32::MAX - 10) < Seq(10));
        assert!(Seq(10) > Seq(u32::MAX - 10));
        assert!(Seq(5) <= Seq(5) && Seq(5) >= Seq(5));
        // 2^31 - 1 ahead is still after; 2^31 + 1 ahead is before.
        assert!(Seq(0) < Seq(i32::MAX as u32));
        assert!(Seq(0) > Seq((1 << 31) + 1));
        // Exactly 2^31 apart: neither before nor after (RFC 1982 leaves it undefined).
        let (a, b) = (Seq(3), Seq(3 + (1 << 31)));
        assert_eq!(a.partial_cmp(&b), None);
        assert!(!a.lt(&b) && !a.gt(&b) && a != b);
    }

    #[test]
    fn order_agrees_with_distance_everywhere() {
        let points = [
            0u32,
            1,
            2,
            1 << 30,
            (1 << 31) - 1,
            1 << 31,
            (1 << 31) + 1,
            u32::MAX - 1,
            u32::MAX,
        ];
        for &a in &points {
            for &b in &points {
                let d = Seq(a).since(Seq(b));
                let expected = match d {
                    i32::MIN => None,
                    _ => Some(d.cmp(&0)),
                };
                assert_eq!(Seq(a).partial_cmp(&Seq(b)), expected, "{a} vs {b}");
                assert_eq!(Seq(b) + d as u32, Seq(a), "{b} + ({d}) is {a}");
            }
        }
    }
}
