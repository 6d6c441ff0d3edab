//! Closes per time bucket, by class, bounded whatever the capture's span.
//!
//! Counts are kept in buckets aligned to the Unix epoch (so the timelines of several files
//! add up bucket by bucket), starting 10 ms wide; when more than `MAX_KEPT` buckets hold
//! counts, the width steps up (10 ms, 100 ms, 1 s, 10 s, 1 min, 10 min, 1 h, 1 day) and
//! the counts are merged. At the end, `shape` picks a display width from a list of round
//! widths that are multiples of the kept one, so that the capture's span fills at most
//! `max_buckets`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::capture::Ts;
use crate::incident::{Class, CLASSES};

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
/// The widths counts are kept at, each a multiple of the one before.
const KEPT_WIDTHS: [i64; 8] = [
    10 * MS,
    100 * MS,
    S,
    10 * S,
    60 * S,
    600 * S,
    3_600 * S,
    86_400 * S,
];
/// Round widths a timeline is shown at.
const SHOWN_WIDTHS: [i64; 27] = [
    10 * MS,
    20 * MS,
    50 * MS,
    100 * MS,
    200 * MS,
    500 * MS,
    S,
    2 * S,
    5 * S,
    10 * S,
    15 * S,
    30 * S,
    60 * S,
    120 * S,
    300 * S,
    600 * S,
    900 * S,
    1_800 * S,
    3_600 * S,
    7_200 * S,
    10_800 * S,
    21_600 * S,
    43_200 * S,
    86_400 * S,
    2 * 86_400 * S,
    7 * 86_400 * S,
    30 * 86_400 * S,
];
/// Buckets with counts kept at most before the width steps up.
const MAX_KEPT: usize = 4_096;

/// Counts per bucket and class.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// Index into `KEPT_WIDTHS`.
    level: usize,
    buckets: BTreeMap<i64, [u64; CLASSES]>,
    /// The first and last time counted.
    span: Option<(Ts, Ts)>,
}

/// A timeline as shown: `buckets` columns of `bucket_ms` from `start`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Shape {
    pub start: Ts,
    pub bucket_ms: u64,
    pub buckets: usize,
    /// Per class name, one count per bucket.
    pub counts: BTreeMap<&'static str, Vec<u64>>,
}

impl Timeline {
    fn width(&self) -> i64 {
        KEPT_WIDTHS.get(self.level).copied().unwrap_or(86_400 * S)
    }

    /// One close of `class` at `ts`.
    pub fn add(&mut self, ts: Ts, class: Class) {
        self.add_n(ts, class as usize, 1);
    }

    fn add_n(&mut self, ts: Ts, class: usize, n: u64) {
        self.span = Some(match self.span {
            None => (ts, ts),
            Some((a, b)) => (a.min(ts), b.max(ts)),
        });
        let index = ts.0.div_euclid(self.width());
        if let Some(c) = self.buckets.entry(index).or_default().get_mut(class) {
            *c += n;
        }
        while self.buckets.len() > MAX_KEPT && self.level + 1 < KEPT_WIDTHS.len() {
            self.coarsen();
        }
    }

    /// Steps the kept width up once, merging counts.
    fn coarsen(&mut self) {
        let old = self.width();
        self.level += 1;
        let factor = self.width() / old;
        let buckets = std::mem::take(&mut self.buckets);
        for (i, counts) in buckets {
            let merged = self.buckets.entry(i.div_euclid(factor)).or_default();
            for (m, c) in merged.iter_mut().zip(counts) {
                *m += c;
            }
        }
    }

    /// Adds another timeline's counts (another file's).
    pub fn merge(&mut self, other: &Timeline) {
        let mut other = other.clone();
        while other.level < self.level {
            other.coarsen();
        }
        while self.level < other.level {
            self.coarsen();
        }
        for (i, counts) in other.buckets {
            let merged = self.buckets.entry(i).or_default();
            for (m, c) in merged.iter_mut().zip(counts) {
                *m += c;
            }
        }
        if let Some((a, b)) = other.span {
            self.span = Some(match self.span {
                None => (a, b),
                Some((x, y)) => (x.min(a), y.max(b)),
            });
        }
        while self.buckets.len() > MAX_KEPT && self.level + 1 < KEPT_WIDTHS.len() {
            self.coarsen();
        }
    }

    /// The timeline in at most `max_buckets` round buckets (None when nothing closed).
    pub fn shape(&self, max_buckets: usize) -> Option<Shape> {
        let (first, last) = self.span?;
        let kept = self.width();
        let max_buckets = max_buckets.max(1) as i64;
        let width = SHOWN_WIDTHS
            .iter()
            .copied()
            .filter(|w| w % kept == 0)
            .find(|w| last.0.div_euclid(*w) - first.0.div_euclid(*w) < max_buckets)
            .unwrap_or_else(|| {
                // Longer than the longest round width allows: as many days as needed.
                let days = (last.0 - first.0) / (86_400 * S) / max_buckets + 1;
                days * 86_400 * S
            });
        let start = first.0.div_euclid(width) * width;
        let n =
            usize::try_from(last.0.div_euclid(width) - first.0.div_euclid(width) + 1).unwrap_or(1);
        let mut columns = vec![[0u64; CLASSES]; n];
        for (i, counts) in &self.buckets {
            let at = (i * kept - start).div_euclid(width);
            if let Some(col) = usize::try_from(at).ok().and_then(|a| columns.get_mut(a)) {
                for (m, c) in col.iter_mut().zip(counts) {
                    *m += c;
                }
            }
        }
        let counts = Class::ALL
            .iter()
            .map(|c| {
                let i = *c as usize;
                (
                    c.as_str(),
                    columns
                        .iter()
                        .map(|col| col.get(i).copied().unwrap_or(0))
                        .collect(),
                )
            })
            .collect();
        Some(Shape {
            start: Ts(start),
            bucket_ms: u64::try_from(width / MS).unwrap_or(0),
            buckets: n,
            counts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: f64) -> Ts {
        Ts(1_700_000_000 * S + (s * 1e9) as i64)
    }

    #[test]
    fn the_bucket_width_follows_the_span() {
        // 73 s in at most 60 buckets: 2 s wide (1 s would need 74).
        let mut t = Timeline::default();
        t.add(at(0.5), Class::Clean);
        t.add(at(73.4), Class::Abnormal);
        let s = t.shape(60).unwrap();
        assert_eq!(s.bucket_ms, 2_000);
        assert_eq!(s.buckets, 37);
        assert_eq!(s.counts["clean"].iter().sum::<u64>(), 1);
        assert_eq!(s.counts["abnormal"][36], 1);
        // Two seconds: 50 ms buckets.
        let mut t = Timeline::default();
        t.add(at(0.0), Class::Clean);
        t.add(at(2.0), Class::Clean);
        assert_eq!(t.shape(60).unwrap().bucket_ms, 50);
        // A day and a half: 1 h buckets (30 min would need 72).
        let mut t = Timeline::default();
        t.add(at(0.0), Class::Clean);
        t.add(at(36.0 * 3600.0), Class::Illegal);
        let s = t.shape(60).unwrap();
        assert_eq!(s.bucket_ms, 3_600_000);
        assert_eq!(s.counts["illegal"].iter().sum::<u64>(), 1);
        assert!(Timeline::default().shape(60).is_none());
    }

    #[test]
    fn counts_stay_bounded_and_exact_over_a_long_span() {
        // One close every 7 s for 30 days: far more than `MAX_KEPT` 10 ms buckets.
        let mut t = Timeline::default();
        let n: u32 = 30 * 86_400 / 7;
        for i in 0..n {
            t.add(at(f64::from(i) * 7.0), Class::TlsFailure);
        }
        assert!(t.buckets.len() <= MAX_KEPT);
        let s = t.shape(60).unwrap();
        assert!(s.buckets <= 60);
        assert_eq!(s.counts["tls_failure"].iter().sum::<u64>(), u64::from(n));
    }

    #[test]
    fn timelines_of_two_files_add_up() {
        let mut a = Timeline::default();
        a.add(at(1.0), Class::Clean);
        let mut b = Timeline::default();
        for i in 0..5000 {
            b.add(at(f64::from(i) * 0.5), Class::Abnormal);
        }
        a.merge(&b);
        let s = a.shape(60).unwrap();
        assert_eq!(s.counts["clean"].iter().sum::<u64>(), 1);
        assert_eq!(s.counts["abnormal"].iter().sum::<u64>(), 5000);
    }
}
