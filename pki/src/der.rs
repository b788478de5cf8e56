//! The little DER reading this crate does itself (X.690 §8, §10): tag, definite length, value.
//!
//! rustls-webpki parses everything it checks; this reader only pulls out what webpki keeps
//! private and the TLS handshake needs afterwards: the leaf's public key, the validity dates,
//! and the names shown by `tpns cert-check`. Every read is bounds-checked and returns `None` on
//! malformed input: a hostile certificate is an error, never a panic.

/// A DER reader over a byte slice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

/// Universal tags used here.
pub(crate) mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OID: u8 = 0x06;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// `[0]` constructed, explicit: the certificate's version.
    pub const CONTEXT_0: u8 = 0xa0;
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element's tag, without consuming it.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element: its tag and value. Only single-byte tags and definite lengths in the
    /// shortest form up to 4 bytes (DER, X.690 §10.1) are accepted.
    pub(crate) fn any(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.rest.split_first()?;
        if tag & 0x1f == 0x1f {
            return None; // multi-byte tag numbers never appear in a certificate's parts used here
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let mut len = 0usize;
            for &b in &rest[..n] {
                len = (len << 8) | usize::from(b);
            }
            // DER: the shortest form, so a long form is for 128 and up with no leading zero.
            if len < 0x80 || rest[0] == 0 {
                return None;
            }
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        Some((tag, value))
    }

    /// The next element, which must have tag `want`; its value.
    pub(crate) fn expect(&mut self, want: u8) -> Option<&'a [u8]> {
        match self.any()? {
            (tag, value) if tag == want => Some(value),
            _ => None,
        }
    }

    /// Skips the next element if it has tag `tag`.
    pub(crate) fn skip_if(&mut self, tag: u8) -> Option<()> {
        if self.peek() == Some(tag) {
            self.any()?;
        }
        Some(())
    }
}

/// The contents of a BIT STRING with no unused bits (every key and signature in X.509).
pub(crate) fn bit_string_bytes(value: &[u8]) -> Option<&[u8]> {
    match value.split_first() {
        Some((0, bits)) => Some(bits),
        _ => None,
    }
}

/// The magnitude of a DER INTEGER that must be positive: its big-endian bytes without the
/// leading zero DER adds when the top bit is set.
pub(crate) fn positive_integer(value: &[u8]) -> Option<&[u8]> {
    match value {
        [] => None,
        [first, ..] if first & 0x80 != 0 => None, // negative
        [0] => None,                              // zero
        [0, next, ..] if next & 0x80 == 0 => None, // not minimal
        [0, rest @ ..] => Some(rest),
        _ => Some(value),
    }
}

/// A UTCTime or GeneralizedTime (RFC 5280 §4.1.2.5: `YYMMDDHHMMSSZ` or `YYYYMMDDHHMMSSZ`) as
/// Unix seconds.
pub(crate) fn time(tag: u8, value: &[u8]) -> Option<u64> {
    let (year, rest) = match (tag, value.len()) {
        (tag::UTC_TIME, 13) => {
            let yy = u64::from(two_digits(&value[0..2])?);
            // RFC 5280 §4.1.2.5.1: 50..99 are 19xx, 00..49 are 20xx.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &value[2..])
        }
        (tag::GENERALIZED_TIME, 15) => {
            let hi = u64::from(two_digits(&value[0..2])?);
            let lo = u64::from(two_digits(&value[2..4])?);
            (hi * 100 + lo, &value[4..])
        }
        _ => return None,
    };
    if rest[10] != b'Z' || year < 1970 {
        return None;
    }
    let month = two_digits(&rest[0..2])?;
    let day = two_digits(&rest[2..4])?;
    let hour = two_digits(&rest[4..6])?;
    let minute = two_digits(&rest[6..8])?;
    let second = two_digits(&rest[8..10])?;
    if !(1..=12).contains(&month) || day == 0 || day > crate::time::days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = crate::time::days_from_civil(year, month, day);
    Some(days * 86_400 + u64::from(hour) * 3600 + u64::from(minute) * 60 + u64::from(second))
}

fn two_digits(b: &[u8]) -> Option<u8> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Some((a - b'0') * 10 + (c - b'0')),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_must_be_minimal_and_in_bounds() {
        assert_eq!(
            Reader::new(&[0x02, 0x01, 0x05]).any(),
            Some((2, &[5u8][..]))
        );
        assert_eq!(Reader::new(&[0x02, 0x02, 0x05]).any(), None); // short
        assert_eq!(Reader::new(&[0x02, 0x81, 0x05, 0]).any(), None); // long form for < 128
        assert_eq!(Reader::new(&[0x02, 0x82, 0x00, 0x80]).any(), None); // leading zero
        assert_eq!(Reader::new(&[0x02, 0x80]).any(), None); // indefinite
        assert_eq!(Reader::new(&[0x1f, 0x01, 0x00]).any(), None); // multi-byte tag
        let mut long = [0u8; 3 + 200];
        long[..3].copy_from_slice(&[0x04, 0x81, 200]);
        assert_eq!(Reader::new(&long).any().map(|(_, v)| v.len()), Some(200));
        // Every truncation of a valid element is refused, never a panic.
        for n in 0..long.len() {
            assert_eq!(Reader::new(&long[..n]).any(), None, "{n}");
        }
    }

    #[test]
    fn integers_are_positive_and_minimal() {
        assert_eq!(positive_integer(&[0x01, 0x00]), Some(&[1u8, 0][..]));
        assert_eq!(positive_integer(&[0x00, 0x80]), Some(&[0x80u8][..]));
        for bad in [&[][..], &[0x80], &[0x00], &[0x00, 0x01]] {
            assert_eq!(positive_integer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn times_match_known_dates() {
        assert_eq!(time(tag::UTC_TIME, b"700101000000Z"), Some(0));
        assert_eq!(time(tag::UTC_TIME, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(
            time(tag::GENERALIZED_TIME, b"20380119031408Z"),
            Some(2_147_483_648)
        );
        assert_eq!(
            time(tag::GENERALIZED_TIME, b"20240229120000Z"),
            Some(1_709_208_000)
        );
        for bad in [
            &b"20230229120000Z"[..],
            b"20241301000000Z",
            b"2024010100000Z",
        ] {
            assert_eq!(time(tag::GENERALIZED_TIME, bad), None);
        }
        assert_eq!(time(tag::UTC_TIME, b"700101000000+"), None);
    }
}
