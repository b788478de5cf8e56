//! RFC 3339 timestamps (`2026-05-01T00:00:00Z`) to and from Unix seconds, for `--at` and for
//! showing certificate dates. The calendar arithmetic is `tpns_pki::time`'s, the one the
//! certificate checks use; the parser is written here rather than pulled from a date crate.

use tpns_pki::time;

/// Parses an RFC 3339 `date-time` (§5.6): `YYYY-MM-DDTHH:MM:SS`, optional fractional
/// seconds (dropped), then `Z` or an offset `±HH:MM`. `T`/`Z` may be lower case and `T` may
/// be a space, as the RFC allows. Returns Unix seconds; a time before 1970 is refused, since
/// certificates are validated at Unix seconds.
///
/// # Errors
///
/// A message saying what is wrong, for clap to show.
pub fn parse(text: &str) -> Result<u64, String> {
    let bad = |why: &str| {
        format!(
            "`{}` is not an RFC 3339 time such as 2026-05-01T00:00:00Z: {why}",
            crate::term::sanitize(text)
        )
    };
    let b = text.as_bytes();
    if b.len() < 20 {
        return Err(bad("too short"));
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = &b[range];
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let separators_ok = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !separators_ok {
        return Err(bad("expected YYYY-MM-DDTHH:MM:SS"));
    }
    let fields = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    );
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = fields
    else {
        return Err(bad("expected digits in YYYY-MM-DDTHH:MM:SS"));
    };
    // Two digits each: they fit a u8.
    let date = u8::try_from(month).ok().zip(u8::try_from(day).ok());
    let Some((month, day)) = date.filter(|&(month, day)| {
        (1..=12).contains(&month) && day != 0 && day <= time::days_in_month(year.into(), month)
    }) else {
        return Err(bad("no such date"));
    };
    // Second 60 is a leap second (RFC 3339 §5.7); Unix time folds it onto the next second.
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad("no such time of day"));
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad("a fraction of a second needs digits"));
        }
        rest = &frac[digits..];
    }
    let offset: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(bad("expected an offset ±HH:MM"));
            }
            let h = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let m = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if h > 23 || m > 59 {
                return Err(bad("no such offset"));
            }
            let minutes = h * 60 + m;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return Err(bad("expected Z or an offset ±HH:MM at the end")),
    };
    // The calendar counts from 1970. Of the earlier days only the last one can be at or after
    // 1970-01-01T00:00:00Z in UTC (an offset is under a day): it is day -1.
    let days = match (year, month, day) {
        (1970.., _, _) => i64::try_from(time::days_from_civil(year.into(), month, day))
            .map_err(|_| bad("no such date"))?,
        (1969, 12, 31) => -1,
        _ => return Err(bad("before 1970-01-01T00:00:00Z")),
    };
    let local = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    // A time with offset +01:00 is one hour ahead of UTC: subtract it to get UTC.
    u64::try_from(local - offset * 60).map_err(|_| bad("before 1970-01-01T00:00:00Z"))
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (a time after year 9999 as its last second).
pub fn format(secs: u64) -> String {
    time::format_time(secs, &mut [0; 20]).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse("2026-05-01T00:00:00Z"), Ok(1_777_593_600));
        assert_eq!(parse("2000-02-29T23:59:59Z"), Ok(951_868_799));
        assert_eq!(parse("2026-05-01t00:00:00z"), Ok(1_777_593_600));
        assert_eq!(parse("2026-05-01 00:00:00Z"), Ok(1_777_593_600));
        assert_eq!(parse("2026-05-01T00:00:00.123456Z"), Ok(1_777_593_600));
        assert_eq!(parse("2026-05-01T08:00:00+08:00"), Ok(1_777_593_600));
        assert_eq!(parse("2026-04-30T19:30:00-04:30"), Ok(1_777_593_600));
        assert_eq!(parse("2016-12-31T23:59:60Z"), Ok(1_483_228_800));
        // The last day of 1969, west of Greenwich, can be 1970 in UTC.
        assert_eq!(parse("1969-12-31T23:30:00-01:00"), Ok(1800));
        assert_eq!(parse("9999-12-31T23:59:59Z"), Ok(253_402_300_799));
    }

    #[test]
    fn bad_times_are_refused_with_a_reason() {
        for (text, why) in [
            ("", "too short"),
            ("2026-05-01", "too short"),
            ("2026-05-01T00:00:00", "too short"),
            ("2026/05/01T00:00:00Z", "expected YYYY"),
            ("2026-05-01T00:00:00+0800", "offset"),
            ("2026-05-01T00:00:00ZZ", "expected Z"),
            ("2026-13-01T00:00:00Z", "no such date"),
            ("2026-02-29T00:00:00Z", "no such date"),
            ("1900-02-29T00:00:00Z", "no such date"),
            ("2026-04-31T00:00:00Z", "no such date"),
            ("2026-05-01T24:00:00Z", "no such time"),
            ("2026-05-01T00:00:00.Z", "digits"),
            ("2026-05-01T00:00:00+24:00", "no such offset"),
            ("+026-05-01T00:00:00Z", "digits"),
            ("1969-12-31T23:59:59Z", "before 1970"),
            ("1969-12-30T23:59:59-23:59", "before 1970"),
            ("0000-01-01T00:00:00Z", "before 1970"),
            ("1970-01-01T00:00:00+00:01", "before 1970"),
            ("２026-05-01T00:00:00Z", "expected"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn format_is_the_inverse_of_parse() {
        for secs in [
            0,
            59,
            86_399,
            951_868_799,
            1_777_593_600,
            4_102_444_800,
            253_402_300_799,
        ] {
            let text = format(secs);
            assert_eq!(parse(&text), Ok(secs), "{text}");
        }
        assert_eq!(format(1_777_593_600), "2026-05-01T00:00:00Z");
        assert_eq!(format(951_868_799), "2000-02-29T23:59:59Z");
    }
}
