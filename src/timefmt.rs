//! Capture timestamps as RFC 3339 UTC text, without a date-time dependency; `Ts` serializes
//! as that text.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::capture::Ts;

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(*self))
    }
}

impl fmt::Display for Ts {
    /// RFC 3339 UTC, as `rfc3339`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&rfc3339(*self))
    }
}

/// `2024-01-12T17:15:32.123456Z`; nine fraction digits when the time has sub-microsecond
/// precision.
pub fn rfc3339(ts: Ts) -> String {
    let secs = ts.0.div_euclid(1_000_000_000);
    let nanos = ts.0.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    // Written digit by digit: this runs for every close and connection of a capture, and
    // `format!` with padding costs ten times as much.
    let mut out = String::with_capacity(30);
    if (0..=9999).contains(&y) {
        push_digits(&mut out, y as u64, 4);
    } else {
        out.push_str(&y.to_string());
    }
    out.push('-');
    push_digits(&mut out, u64::from(m), 2);
    out.push('-');
    push_digits(&mut out, u64::from(d), 2);
    out.push('T');
    push_digits(&mut out, (sod / 3600) as u64, 2);
    out.push(':');
    push_digits(&mut out, ((sod % 3600) / 60) as u64, 2);
    out.push(':');
    push_digits(&mut out, (sod % 60) as u64, 2);
    out.push('.');
    if nanos % 1000 == 0 {
        push_digits(&mut out, (nanos / 1000) as u64, 6);
    } else {
        push_digits(&mut out, nanos as u64, 9);
    }
    out.push('Z');
    out
}

/// Appends `n` as exactly `width` decimal digits (zero-padded; higher digits dropped).
fn push_digits(out: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let width = width.min(buf.len());
    for slot in buf.iter_mut().take(width).rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for b in buf.iter().take(width) {
        out.push(char::from(*b));
    }
}

/// Milliseconds between two timestamps, rounded to microseconds.
pub fn ms_between(later: Ts, earlier: Ts) -> f64 {
    (later.since(earlier) / 1000) as f64 / 1000.0
}

/// Parses an RFC 3339 time: `2024-01-12T17:15:32Z`, with a fraction of up to nine digits,
/// `t` or a space for `T`, and `Z` or an offset (`+02:00`). None when it is not one.
pub fn parse_rfc3339(s: &str) -> Option<Ts> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(13) != Some(&b':') {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(16) != Some(&b':') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let digits = end - start;
        if digits == 0 {
            return None;
        }
        let kept = digits.min(9);
        nanos = num(start..start + kept)? * 10i64.pow((9 - kept) as u32);
        i = end;
    }
    let offset = match b.get(i..) {
        Some([b'Z' | b'z']) => 0,
        Some([sign @ (b'+' | b'-'), _, _, b':', _, _]) => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            let off = oh * 3600 + om * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos).map(Ts)
}

/// (year, month, day) to days since 1970-01-01 (the inverse of `civil_from_days`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(Ts(0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339(Ts(1_705_079_732_123_456_000)),
            "2024-01-12T17:15:32.123456Z"
        );
        assert_eq!(
            rfc3339(Ts(951_782_400_000_000_001)),
            "2000-02-29T00:00:00.000000001Z"
        );
        assert_eq!(rfc3339(Ts(-1_000_000_000)), "1969-12-31T23:59:59.000000Z");
        assert_eq!(
            rfc3339(Ts(4_102_444_799_999_999_999)),
            "2099-12-31T23:59:59.999999999Z"
        );
        assert_eq!(
            rfc3339(Ts(1_700_000_000_000_001_000)),
            "2023-11-14T22:13:20.000001Z"
        );
        assert_eq!(ms_between(Ts(2_500_000), Ts(1_000_000)), 1.5);
    }

    #[test]
    fn rfc3339_parses_back() {
        for ts in [
            0,
            1_705_079_732_123_456_000,
            951_782_400_000_000_001,
            -1_000_000_000,
            4_102_444_799_999_999_999,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339(Ts(ts))), Some(Ts(ts)), "{ts}");
        }
        assert_eq!(
            parse_rfc3339("2024-01-12T19:15:32.5+02:00"),
            Some(Ts(1_705_079_732_500_000_000))
        );
        assert_eq!(
            parse_rfc3339("2024-01-12 17:15:32z"),
            Some(Ts(1_705_079_732_000_000_000))
        );
        for bad in [
            "",
            "2024-01-12",
            "2024-01-12T17:15:32",
            "2024-13-12T17:15:32Z",
            "2024-01-12T17:15:32.Z",
            "2024-01-12T17:15:32+0200",
            "2024-01-12T25:15:32Z",
            "x024-01-12T17:15:32Z",
            "2024-01-12T17:15:32Zjunk",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
