//! Calendar arithmetic for certificate dates: proleptic Gregorian dates in UTC to and from
//! Unix seconds, from 1970 to the end of year 9999 (what RFC 5280 times and RFC 3339's
//! four-digit years can hold). Small loops rather than Howard Hinnant's era arithmetic: a
//! device runs this once per certificate, and the loops are the smaller code.

/// Whether `year` has a 29 February.
pub fn is_leap(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// The days in `month` (1 to 12; any other month counts 31) of `year`.
pub fn days_in_month(year: u64, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (proleptic Gregorian).
///
/// The date must be valid and from 1970 on: `month` 1 to 12, `day` 1 to
/// [`days_in_month`]`(year, month)`, `year` 1970 to 9999. Check it first: any other input gives
/// a meaningless count (without a panic), and it takes a loop step per year after 1970, which
/// the callers here bound by reading four digits.
pub fn days_from_civil(year: u64, month: u8, day: u8) -> u64 {
    let mut days = 0;
    for y in 1970..year {
        days += if is_leap(y) { 366 } else { 365 };
    }
    for m in 1..month {
        days += u64::from(days_in_month(year, m));
    }
    days + u64::from(day).saturating_sub(1)
}

/// The last second of year 9999, the last one RFC 3339's four-digit year can show.
pub const LAST_SHOWN: u64 = 253_402_300_799;

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` digits (RFC 3339), for messages. Times after year
/// 9999 (from a broken clock, say) show as its last second: the year-by-year count below then
/// stays under 8030 steps instead of running for minutes.
pub fn format_time(secs: u64, out: &mut [u8; 20]) -> &str {
    let secs = secs.min(LAST_SHOWN);
    let mut days = secs / 86_400;
    let rem = secs % 86_400;
    let mut year = 1970u64;
    loop {
        let len = if is_leap(year) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        year += 1;
    }
    let mut month = 1u8;
    loop {
        let len = u64::from(days_in_month(year, month));
        if days < len {
            break;
        }
        days -= len;
        month += 1;
    }
    let put = |out: &mut [u8; 20], at: usize, v: u64, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    *out = *b"0000-00-00T00:00:00Z";
    put(out, 0, year, 4);
    put(out, 5, u64::from(month), 2);
    put(out, 8, days + 1, 2);
    put(out, 11, rem / 3600, 2);
    put(out, 14, rem % 3600 / 60, 2);
    put(out, 17, rem % 60, 2);
    // Digits and ASCII punctuation only.
    core::str::from_utf8(out).unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_their_text() {
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        // Out of its contract: no panic.
        assert_eq!(days_from_civil(1970, 1, 0), 0);
        assert!(days_from_civil(9999, 255, 255) > 0);
        let mut out = [0; 20];
        assert_eq!(format_time(1_709_208_000, &mut out), "2024-02-29T12:00:00Z");
        assert_eq!(format_time(0, &mut out), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(LAST_SHOWN, &mut out), "9999-12-31T23:59:59Z");
        assert_eq!(format_time(u64::MAX, &mut out), "9999-12-31T23:59:59Z");
    }
}
