//! Rules 3 and 4: the streaming row validator.
//!
//! The validator is a byte-at-a-time state machine (UTF-8 decoder → line splitter → CSV field
//! decoder) whose whole state is a few integers, so it runs in O(1) memory on any chunking of
//! the input: a UTF-8 sequence, a CRLF or a `""` may be split across two calls to
//! [`RowValidator::feed`] and the verdict is the same.

use core::fmt;

use embedded_io::{Error as _, ErrorKind, Read};

use super::Format;

/// Fewest characters in a row.
pub const MIN_ROW_CHARS: u8 = 2;
/// Most characters in a row.
pub const MAX_ROW_CHARS: u8 = 100;

/// The rule a package's text broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RowRule {
    /// A byte that is not valid UTF-8 here (overlong, surrogate, above U+10FFFF, or cut short).
    InvalidUtf8,
    /// A carriage return (CR) not directly followed by a line feed (LF).
    CarriageReturn,
    /// A line with no characters before its line end.
    BlankLine,
    /// A row with fewer than 2 characters (after CSV decoding).
    TooShort,
    /// A row with more than 100 characters (after CSV decoding).
    TooLong,
    /// No rows at all: 0 bytes, or only a BOM. Reported on line 0.
    EmptyFile,
    /// CSV: a comma outside quotes, which would start a second column.
    MoreThanOneColumn,
    /// CSV: a `"` inside a field that did not start with `"`.
    QuoteInUnquotedField,
    /// CSV: something other than the line end after a field's closing quote.
    TextAfterClosingQuote,
    /// CSV: a quoted field still open at the end of its line.
    UnterminatedQuote,
}

impl RowRule {
    /// The rule's fixed text, as used by [`Display`](fmt::Display).
    pub const fn as_str(self) -> &'static str {
        match self {
            RowRule::InvalidUtf8 => "invalid UTF-8",
            RowRule::CarriageReturn => "carriage return not followed by line feed",
            RowRule::BlankLine => "blank line",
            RowRule::TooShort => "row shorter than 2 characters",
            RowRule::TooLong => "row longer than 100 characters",
            RowRule::EmptyFile => "empty file",
            RowRule::MoreThanOneColumn => "more than one column",
            RowRule::QuoteInUnquotedField => "quote in unquoted field",
            RowRule::TextAfterClosingQuote => "text after closing quote",
            RowRule::UnterminatedQuote => "unterminated quote",
        }
    }
}

impl fmt::Display for RowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first error in a package's text: where it is and which rule it broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RowError {
    /// 1-based line of the error; 0 for [`RowRule::EmptyFile`].
    pub line: u64,
    /// The rule broken.
    pub rule: RowRule,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.rule)
    }
}

impl core::error::Error for RowError {}

/// What a valid package holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RowSummary {
    /// Number of rows (accounts).
    pub rows: u64,
}

/// Where the CSV field decoder is within the current line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Field {
    /// No character of the field yet.
    Start,
    /// Inside a field that did not start with `"`.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a `"` inside a quoted field: either the closing quote or half of `""`.
    QuoteSeen,
}

/// A streaming validator of a package's text (rules 3 and 4 of the policy).
///
/// Feed it the bytes in chunks of any size with [`feed`](Self::feed), then call
/// [`finish`](Self::finish). Its state is a few integers (no buffer), so it is `Copy` and costs
/// the same for 10 bytes or 100 MiB. After the first error every later call returns that error.
///
/// # Examples
///
/// ```
/// use tpns_core::package::{Format, RowRule, RowValidator};
///
/// let mut v = RowValidator::new(Format::Txt);
/// v.feed(b"user01\nuser\xE2\x82").unwrap(); // a UTF-8 sequence split across chunks
/// v.feed(b"\xAC02\r\n").unwrap();
/// assert_eq!(v.finish().unwrap().rows, 2);
///
/// let mut v = RowValidator::new(Format::Csv);
/// let err = v.feed(b"account\nab,cd\n").unwrap_err();
/// assert_eq!((err.line, err.rule), (2, RowRule::MoreThanOneColumn));
/// assert_eq!(err.to_string(), "line 2: more than one column");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowValidator {
    format: Format,
    /// Rows completed; the current line is `rows + 1`.
    rows: u64,
    /// Characters of the current row's value so far (saturates just above the maximum).
    len: u8,
    /// Whether the current line has any character (a blank line has none).
    line_has_chars: bool,
    /// CSV field state of the current line.
    field: Field,
    /// A CR was seen: the next byte must be LF.
    cr: bool,
    /// Continuation bytes still expected for the current UTF-8 sequence.
    need: u8,
    /// Range allowed for the next continuation byte (RFC 3629 section 4 / Unicode table 3-7).
    lo: u8,
    hi: u8,
    /// Scalar value being decoded.
    cp: u32,
    /// No character decoded yet: a first U+FEFF is a BOM, not a character.
    at_start: bool,
    error: Option<RowError>,
}

impl RowValidator {
    /// A validator for text in `format`.
    pub const fn new(format: Format) -> Self {
        RowValidator {
            format,
            rows: 0,
            len: 0,
            line_has_chars: false,
            field: Field::Start,
            cr: false,
            need: 0,
            lo: 0x80,
            hi: 0xBF,
            cp: 0,
            at_start: true,
            error: None,
        }
    }

    /// The format this validator checks.
    pub const fn format(&self) -> Format {
        self.format
    }

    /// Rows completed so far (their line end seen).
    pub const fn rows(&self) -> u64 {
        self.rows
    }

    /// The 1-based line being read.
    pub const fn line(&self) -> u64 {
        self.rows + 1
    }

    /// Checks the next chunk of the text.
    ///
    /// # Errors
    ///
    /// The first [`RowError`] found, with its line; the same error on every later call.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), RowError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut i = 0;
        // Bytes before this offset go through the state machine: the word the fast path
        // stopped at is not offered to it again byte after byte.
        let mut slow_until = 0;
        while i < chunk.len() {
            if i >= slow_until && self.is_clean() {
                i += self.fast_run(&chunk[i..]);
                slow_until = i + 8;
                if i == chunk.len() {
                    break;
                }
            }
            if let Err(rule) = self.byte(chunk[i]) {
                return Err(self.fail(rule));
            }
            i += 1;
        }
        Ok(())
    }

    /// Whether the state is one the fast path understands: between characters, past the BOM
    /// check, and (CSV) not inside a quoted field.
    #[inline]
    fn is_clean(&self) -> bool {
        self.need == 0
            && !self.cr
            && !self.at_start
            && matches!(self.field, Field::Start | Field::Unquoted)
    }

    /// The fast path for the common case, ASCII text, eight bytes at a time (SWAR): takes the
    /// longest prefix of `bytes`, in whole words, that holds nothing but plain ASCII characters
    /// and LFs (no byte >= 0x80, no CR, and for CSV no `"` or `,`) and in which every row
    /// ended is 2..=100 characters long, and returns its length. The word where that stops is
    /// left to the state machine, which then finds the exact error, if any.
    #[inline]
    fn fast_run(&mut self, bytes: &[u8]) -> usize {
        const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        // For an `x` of ASCII bytes only: the high bit of each byte that equals `b`. Exact
        // per byte: each byte of `t + LOW7` is at most 0xFE, so no carry crosses bytes.
        let eq = |x: u64, b: u8| !((x ^ (u64::from(b) * 0x0101_0101_0101_0101)) + LOW7) & HIGH;
        let csv = self.format == Format::Csv;
        let (min, max) = (usize::from(MIN_ROW_CHARS), usize::from(MAX_ROW_CHARS));
        let mut len = usize::from(self.len);
        let mut rows = self.rows;
        let mut taken = 0;
        'words: for word in bytes.chunks_exact(8) {
            let x = u64::from_le_bytes(word.try_into().unwrap_or([0x80; 8]));
            if x & HIGH != 0 {
                break;
            }
            let mut special = eq(x, b'\r');
            if csv {
                special |= eq(x, b'"') | eq(x, b',');
            }
            if special != 0 {
                break;
            }
            let mut lf = eq(x, b'\n');
            let mut word_len = len;
            let mut word_rows = rows;
            let mut start = 0;
            while lf != 0 {
                let at = (lf.trailing_zeros() / 8) as usize;
                let row = word_len + at - start;
                if row < min || row > max {
                    break 'words;
                }
                word_rows += 1;
                word_len = 0;
                start = at + 1;
                lf &= lf - 1;
            }
            word_len += 8 - start;
            if word_len > max {
                break;
            }
            len = word_len;
            rows = word_rows;
            taken += 8;
        }
        if taken > 0 {
            self.rows = rows;
            // At most MAX_ROW_CHARS (100): fits in a u8.
            self.len = len as u8;
            self.line_has_chars = len > 0;
            if csv {
                self.field = if len > 0 {
                    Field::Unquoted
                } else {
                    Field::Start
                };
            }
        }
        taken
    }

    /// Ends the text: checks the last row (whose line end is optional) and returns the count.
    ///
    /// # Errors
    ///
    /// An error already reported by [`feed`](Self::feed); a UTF-8 sequence or a CR cut by the
    /// end of the text; the last row breaking a rule; [`RowRule::EmptyFile`] (line 0) if the
    /// text held no row at all.
    pub fn finish(mut self) -> Result<RowSummary, RowError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let end = if self.need > 0 {
            Err(RowRule::InvalidUtf8)
        } else if self.cr {
            Err(RowRule::CarriageReturn)
        } else if self.line_has_chars {
            self.end_line()
        } else {
            Ok(())
        };
        if let Err(rule) = end {
            return Err(self.fail(rule));
        }
        if self.rows == 0 {
            return Err(RowError {
                line: 0,
                rule: RowRule::EmptyFile,
            });
        }
        Ok(RowSummary { rows: self.rows })
    }

    fn fail(&mut self, rule: RowRule) -> RowError {
        let e = RowError {
            line: self.line(),
            rule,
        };
        self.error = Some(e);
        e
    }

    /// UTF-8 decoding, as `core::str::from_utf8` accepts it (Unicode table 3-7).
    #[inline]
    fn byte(&mut self, b: u8) -> Result<(), RowRule> {
        if self.cr {
            // RFC 4180 / the policy: CR only as part of CRLF.
            self.cr = false;
            return if b == b'\n' {
                self.end_line()
            } else {
                Err(RowRule::CarriageReturn)
            };
        }
        if self.need > 0 {
            if b < self.lo || b > self.hi {
                return Err(RowRule::InvalidUtf8);
            }
            self.cp = (self.cp << 6) | u32::from(b & 0x3F);
            self.need -= 1;
            self.lo = 0x80;
            self.hi = 0xBF;
            return if self.need == 0 {
                self.scalar(self.cp)
            } else {
                Ok(())
            };
        }
        let (need, cp, lo, hi) = match b {
            0x00..=0x7F => return self.scalar(u32::from(b)),
            0xC2..=0xDF => (1, b & 0x1F, 0x80, 0xBF),
            0xE0 => (2, b & 0x0F, 0xA0, 0xBF), // no overlong forms
            0xE1..=0xEC | 0xEE..=0xEF => (2, b & 0x0F, 0x80, 0xBF),
            0xED => (2, b & 0x0F, 0x80, 0x9F), // no surrogates
            0xF0 => (3, b & 0x07, 0x90, 0xBF), // no overlong forms
            0xF1..=0xF3 => (3, b & 0x07, 0x80, 0xBF),
            0xF4 => (3, b & 0x07, 0x80, 0x8F), // nothing above U+10FFFF
            _ => return Err(RowRule::InvalidUtf8),
        };
        self.need = need;
        self.cp = u32::from(cp);
        self.lo = lo;
        self.hi = hi;
        Ok(())
    }

    /// Line splitting: one decoded character.
    #[inline]
    fn scalar(&mut self, c: u32) -> Result<(), RowRule> {
        if self.at_start {
            self.at_start = false;
            if c == 0xFEFF {
                return Ok(()); // the BOM, ignored at the very start only
            }
        }
        match c {
            0x0D => {
                self.cr = true;
                Ok(())
            }
            0x0A => self.end_line(),
            _ => {
                self.line_has_chars = true;
                match self.format {
                    Format::Txt => self.count(),
                    Format::Csv => self.csv(c),
                }
            }
        }
    }

    /// One more character in the row's value.
    #[inline]
    fn count(&mut self) -> Result<(), RowRule> {
        self.len += 1;
        if self.len > MAX_ROW_CHARS {
            Err(RowRule::TooLong)
        } else {
            Ok(())
        }
    }

    /// RFC 4180 section 2, restricted to one field per record.
    fn csv(&mut self, c: u32) -> Result<(), RowRule> {
        const QUOTE: u32 = b'"' as u32;
        const COMMA: u32 = b',' as u32;
        match (self.field, c) {
            (Field::Start, QUOTE) => {
                self.field = Field::Quoted;
                Ok(())
            }
            (Field::Start | Field::Unquoted, COMMA) => Err(RowRule::MoreThanOneColumn),
            (Field::Unquoted, QUOTE) => Err(RowRule::QuoteInUnquotedField),
            (Field::Start | Field::Unquoted, _) => {
                self.field = Field::Unquoted;
                self.count()
            }
            (Field::Quoted, QUOTE) => {
                self.field = Field::QuoteSeen;
                Ok(())
            }
            (Field::Quoted, _) => self.count(),
            (Field::QuoteSeen, QUOTE) => {
                // `""`: one literal quote.
                self.field = Field::Quoted;
                self.count()
            }
            (Field::QuoteSeen, _) => Err(RowRule::TextAfterClosingQuote),
        }
    }

    /// A line end (LF, or the end of the text after a non-blank last row).
    fn end_line(&mut self) -> Result<(), RowRule> {
        if !self.line_has_chars {
            return Err(RowRule::BlankLine);
        }
        if self.field == Field::Quoted {
            return Err(RowRule::UnterminatedQuote);
        }
        if self.len < MIN_ROW_CHARS {
            return Err(RowRule::TooShort);
        }
        self.rows += 1;
        self.len = 0;
        self.line_has_chars = false;
        self.field = Field::Start;
        Ok(())
    }
}

/// Why [`validate_rows`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ValidateError<E> {
    /// The reader failed; its error is kept.
    Io(E),
    /// The text broke a rule.
    Row(RowError),
    /// The caller's buffer has no room (it needs at least 1 byte).
    BufferTooSmall,
}

impl<E> fmt::Display for ValidateError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidateError::Io(_) => f.write_str("reading the package failed"),
            ValidateError::Row(e) => fmt::Display::fmt(e, f),
            ValidateError::BufferTooSmall => f.write_str("buffer is empty (need at least 1 byte)"),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for ValidateError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ValidateError::Io(e) => Some(e),
            ValidateError::Row(e) => Some(e),
            ValidateError::BufferTooSmall => None,
        }
    }
}

/// Reads `r` to its end through `buf` and validates every row.
///
/// Memory: the validator's few bytes plus the caller's `buf`, whatever its size. Reads that fail
/// with [`ErrorKind::Interrupted`] are retried.
///
/// # Errors
///
/// [`ValidateError::Row`] with the first broken rule and its line, [`ValidateError::Io`] if the
/// reader fails, [`ValidateError::BufferTooSmall`] if `buf` is empty.
///
/// # Examples
///
/// ```
/// use tpns_core::package::{validate_rows, Format};
///
/// let mut buf = [0u8; 512];
/// let summary = validate_rows(&b"user01\nuser02"[..], Format::Txt, &mut buf).unwrap();
/// assert_eq!(summary.rows, 2);
/// ```
pub fn validate_rows<R: Read>(
    mut r: R,
    format: Format,
    buf: &mut [u8],
) -> Result<RowSummary, ValidateError<R::Error>> {
    if buf.is_empty() {
        return Err(ValidateError::BufferTooSmall);
    }
    let mut v = RowValidator::new(format);
    loop {
        let n = match r.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(ValidateError::Io(e)),
        };
        v.feed(&buf[..n]).map_err(ValidateError::Row)?;
    }
    v.finish().map_err(ValidateError::Row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    type Verdict = Result<u64, (u64, RowRule)>;

    fn run_chunks<'a>(format: Format, chunks: impl IntoIterator<Item = &'a [u8]>) -> Verdict {
        let mut v = RowValidator::new(format);
        for c in chunks {
            if v.feed(c).is_err() {
                break;
            }
        }
        v.finish().map(|s| s.rows).map_err(|e| (e.line, e.rule))
    }

    /// The verdict on `data` fed whole, split at every byte, and one byte at a time; asserts
    /// that all agree.
    fn verdict(format: Format, data: &[u8]) -> Verdict {
        let whole = run_chunks(format, [data]);
        for i in 0..=data.len() {
            let (a, b) = data.split_at(i);
            assert_eq!(run_chunks(format, [a, b]), whole, "split at {i}: {data:?}");
        }
        assert_eq!(
            run_chunks(format, data.chunks(1)),
            whole,
            "bytewise: {data:?}"
        );
        let with_empty = data.chunks(3).flat_map(|c| [c, &[][..]]);
        assert_eq!(
            run_chunks(format, with_empty),
            whole,
            "empty chunks: {data:?}"
        );
        whole
    }

    use Format::{Csv, Txt};
    use RowRule::*;

    const BOM: &str = "\u{FEFF}";

    fn cases() -> Vec<(Format, Vec<u8>, Verdict)> {
        let a100 = "a".repeat(100);
        let cjk100 = "账".repeat(100);
        let emoji100 = "\u{1F600}".repeat(100);
        let s = |x: &str| x.as_bytes().to_vec();
        let mut v: Vec<(Format, Vec<u8>, Verdict)> = std::vec![
            // Lengths.
            (Txt, s("ab\ncd\n"), Ok(2)),
            (Txt, s("ab\nc\nde\n"), Err((2, TooShort))),
            (Txt, s("a"), Err((1, TooShort))),
            (Txt, s(&(a100.clone() + "\n")), Ok(1)),
            (Txt, s(&(a100.clone() + "b\n")), Err((1, TooLong))),
            (
                Txt,
                s(&(String::from("ab\n") + &a100 + "b")),
                Err((2, TooLong))
            ),
            (Txt, s(&cjk100), Ok(1)),
            (Txt, s(&(cjk100.clone() + "账")), Err((1, TooLong))),
            (Txt, s(&(emoji100.clone() + "\r\n")), Ok(1)),
            (Txt, s(&(emoji100.clone() + "\u{1F600}")), Err((1, TooLong))),
            // UTF-8.
            (Txt, b"ab\ncd\xFF\n".to_vec(), Err((2, InvalidUtf8))),
            (Txt, b"\xC0\xAF\n".to_vec(), Err((1, InvalidUtf8))),
            (Txt, b"\xC1\xBF\n".to_vec(), Err((1, InvalidUtf8))),
            (Txt, b"\xE0\x9F\xBF\n".to_vec(), Err((1, InvalidUtf8))),
            (Txt, b"ab\xED\xA0\x80\n".to_vec(), Err((1, InvalidUtf8))),
            (Txt, b"ab\xED\x9F\xBF\n".to_vec(), Ok(1)),
            (Txt, b"ab\xF4\x8F\xBF\xBF\n".to_vec(), Ok(1)),
            (Txt, b"ab\xF4\x90\x80\x80\n".to_vec(), Err((1, InvalidUtf8))),
            (Txt, b"ab\xF5\x80\x80\x80\n".to_vec(), Err((1, InvalidUtf8))),
            (Txt, b"ab\xF0\x90\x80\x80\n".to_vec(), Ok(1)),
            (Txt, b"ab\xF0\x8F\xBF\xBF\n".to_vec(), Err((1, InvalidUtf8))),
            (Txt, b"ab\x80\n".to_vec(), Err((1, InvalidUtf8))),
            (Txt, b"ab\ncd\xE8\xB4".to_vec(), Err((2, InvalidUtf8))),
            (Txt, b"ab\ncd\xE8\n".to_vec(), Err((2, InvalidUtf8))),
            (Txt, b"ab\xE8\r\n".to_vec(), Err((1, InvalidUtf8))),
            (Txt, b"\xEF\xBB".to_vec(), Err((1, InvalidUtf8))),
            // Line ends.
            (Txt, s("ab\r\ncd\r\n"), Ok(2)),
            (Txt, s("ab\r\ncd"), Ok(2)),
            (Txt, s("ab\r\ncd\nef"), Ok(3)),
            (Txt, s("ab\rcd\n"), Err((1, CarriageReturn))),
            (Txt, s("ab\ncd\r"), Err((2, CarriageReturn))),
            (Txt, s("ab\r\r\n"), Err((1, CarriageReturn))),
            (Txt, s("\r"), Err((1, CarriageReturn))),
            (Txt, b"ab\r\xFF".to_vec(), Err((1, CarriageReturn))),
            // BOM.
            (Txt, s(&(String::from(BOM) + "ab\ncd\n")), Ok(2)),
            (Txt, s(&(String::from(BOM) + "ab")), Ok(1)),
            (Txt, s(&(String::from(BOM) + "a\n")), Err((1, TooShort))),
            (Txt, s(&(String::from("ab\n") + BOM + "x\n")), Ok(2)),
            (Txt, s(&(String::from(BOM) + BOM + "x\n")), Ok(1)),
            (Txt, s(BOM), Err((0, EmptyFile))),
            (Txt, s(&(String::from(BOM) + "\n")), Err((1, BlankLine))),
            (Txt, s(&(String::from(BOM) + &a100)), Ok(1)),
            // Blank lines, empty files, final line ends.
            (Txt, s(""), Err((0, EmptyFile))),
            (Txt, s("\n"), Err((1, BlankLine))),
            (Txt, s("\r\n"), Err((1, BlankLine))),
            (Txt, s("ab\n\ncd\n"), Err((2, BlankLine))),
            (Txt, s("ab\ncd\n\n"), Err((3, BlankLine))),
            (Txt, s("ab\r\n\r\n"), Err((2, BlankLine))),
            (Txt, s("ab\ncd\n"), Ok(2)),
            (Txt, s("ab\ncd"), Ok(2)),
            (Txt, s("  \n"), Ok(1)),
            (Txt, s(" \n"), Err((1, TooShort))),
            (Txt, s("a,\"b\n"), Ok(1)),
            // CSV.
            (Csv, s("account\nuser01\n"), Ok(2)),
            (Csv, s("\"a,b\"\nabc\n"), Ok(2)),
            (Csv, s("\"a\"\"b\"\n"), Ok(1)),
            (Csv, s("\"\"\"\"\n"), Err((1, TooShort))),
            (Csv, s("\"\"\"a\"\n"), Ok(1)),
            (Csv, s("\"\"\n"), Err((1, TooShort))),
            (Csv, s("\"\""), Err((1, TooShort))),
            (Csv, s(&(String::from("\"") + &a100 + "\"\n")), Ok(1)),
            (
                Csv,
                s(&(String::from("\"") + &a100 + "b\"\n")),
                Err((1, TooLong))
            ),
            (
                Csv,
                s(&(String::from("\"") + &"a".repeat(98) + "\"\"\"\"\"")),
                Ok(1)
            ),
            (
                Csv,
                s(&(String::from("\"") + &"a".repeat(99) + "\"\"\"\"\"")),
                Err((1, TooLong))
            ),
            (Csv, s("abc\nde,fg\n"), Err((2, MoreThanOneColumn))),
            (Csv, s(",ab\n"), Err((1, MoreThanOneColumn))),
            (Csv, s("ab,\n"), Err((1, MoreThanOneColumn))),
            (Csv, s("\"ab\",\"cd\"\n"), Err((1, TextAfterClosingQuote))),
            (Csv, s("\"abc\"d\n"), Err((1, TextAfterClosingQuote))),
            (Csv, s("\"abc\" \n"), Err((1, TextAfterClosingQuote))),
            (Csv, s("ab\"c\n"), Err((1, QuoteInUnquotedField))),
            (Csv, s("abc\"\n"), Err((1, QuoteInUnquotedField))),
            (Csv, s("abc\n\"def\nghi\n"), Err((2, UnterminatedQuote))),
            (Csv, s("abc\n\"def"), Err((2, UnterminatedQuote))),
            (Csv, s("\"ab\r\ncd\"\r\n"), Err((1, UnterminatedQuote))),
            (Csv, s("\"ab\rc\"\n"), Err((1, CarriageReturn))),
            (Csv, s("\"abc\"\r\n\"d,e\"\r\nfgh"), Ok(3)),
            (Csv, s(&(String::from(BOM) + "\"ab\"\n")), Ok(1)),
            (Csv, s(&(String::from(BOM) + "\"a,b\"")), Ok(1)),
            (Csv, s("ab\n\ncd\n"), Err((2, BlankLine))),
            (Csv, b"abc\n\"d\xFE\"\n".to_vec(), Err((2, InvalidUtf8))),
            (Csv, s(""), Err((0, EmptyFile))),
            (Csv, s("\"账户\"\n"), Ok(1)),
            (Csv, s("\"账\"\n"), Err((1, TooShort))),
        ];
        // The same text with CRLF line ends gives the same verdict (no CR in the text itself).
        let crlf: Vec<_> = v
            .iter()
            .filter(|(_, d, _)| !d.contains(&b'\r'))
            .map(|(f, d, r)| {
                let mut out = Vec::new();
                for &b in d {
                    if b == b'\n' {
                        out.push(b'\r');
                    }
                    out.push(b);
                }
                (*f, out, *r)
            })
            .collect();
        v.extend(crlf);
        v
    }

    #[test]
    fn every_case_every_chunking() {
        for (format, data, expected) in cases() {
            assert_eq!(verdict(format, &data), expected, "{format:?} {data:?}");
        }
    }

    #[test]
    fn errors_are_sticky() {
        let mut v = RowValidator::new(Txt);
        let e = v.feed(b"ab\n\n").unwrap_err();
        assert_eq!(v.feed(b"cd\n"), Err(e));
        assert_eq!(v.finish(), Err(e));
    }

    #[test]
    fn display_texts() {
        use std::string::ToString;
        let e = RowError {
            line: 7,
            rule: CarriageReturn,
        };
        assert_eq!(
            e.to_string(),
            "line 7: carriage return not followed by line feed"
        );
        assert_eq!(EmptyFile.to_string(), "empty file");
    }

    #[test]
    fn validator_is_small() {
        assert!(core::mem::size_of::<RowValidator>() <= 48);
    }

    /// A reader that hands out at most `step` bytes per read and fails once with `Interrupted`.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        interrupted: bool,
    }
    #[derive(Debug)]
    struct TrickleError(ErrorKind);
    impl fmt::Display for TrickleError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl core::error::Error for TrickleError {}
    impl embedded_io::Error for TrickleError {
        fn kind(&self) -> ErrorKind {
            self.0
        }
    }
    impl embedded_io::ErrorType for Trickle<'_> {
        type Error = TrickleError;
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, TrickleError> {
            if !self.interrupted {
                self.interrupted = true;
                return Err(TrickleError(ErrorKind::Interrupted));
            }
            if self.data.is_empty() && self.step == 0 {
                return Err(TrickleError(ErrorKind::BrokenPipe));
            }
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn validate_rows_over_a_reader() {
        for (format, data, expected) in cases() {
            for buf_len in [1, 2, 3, 7, 64, 4096] {
                let mut buf = std::vec![0u8; buf_len];
                for step in [1, 5, 1000] {
                    let r = Trickle {
                        data: &data,
                        step,
                        interrupted: false,
                    };
                    let got =
                        validate_rows(r, format, &mut buf)
                            .map(|s| s.rows)
                            .map_err(|e| match e {
                                ValidateError::Row(e) => (e.line, e.rule),
                                other => panic!("{other:?}"),
                            });
                    assert_eq!(got, expected);
                }
            }
        }
        let mut empty: [u8; 0] = [];
        assert!(matches!(
            validate_rows(&b"ab"[..], Txt, &mut empty),
            Err(ValidateError::BufferTooSmall)
        ));
        let broken = Trickle {
            data: b"",
            step: 0,
            interrupted: true,
        };
        assert!(matches!(
            validate_rows(broken, Txt, &mut [0u8; 8]),
            Err(ValidateError::Io(TrickleError(ErrorKind::BrokenPipe)))
        ));
    }

    /// An independent, whole-text reading of the policy: (verdict, line) only.
    fn reference(data: &[u8], format: Format) -> Result<u64, u64> {
        let (text, bad_utf8) = match core::str::from_utf8(data) {
            Ok(t) => (t, false),
            Err(e) => (
                core::str::from_utf8(&data[..e.valid_up_to()]).unwrap(),
                true,
            ),
        };
        let text = text.strip_prefix(BOM).unwrap_or(text);
        let lines: Vec<&str> = text.split('\n').collect();
        let mut rows = 0;
        for (i, l) in lines.iter().enumerate() {
            let line = i as u64 + 1;
            let last = i + 1 == lines.len();
            if last && bad_utf8 {
                return Err(line);
            }
            let l = if last {
                l
            } else {
                l.strip_suffix('\r').unwrap_or(l)
            };
            if l.contains('\r') {
                return Err(line);
            }
            if l.is_empty() {
                if last {
                    return if rows == 0 { Err(0) } else { Ok(rows) };
                }
                return Err(line);
            }
            let value: String = match format {
                Txt => l.into(),
                Csv => match l.strip_prefix('"') {
                    Some(rest) => {
                        let Some(inner) = rest.strip_suffix('"') else {
                            return Err(line);
                        };
                        if inner.replace("\"\"", "").contains('"') {
                            return Err(line);
                        }
                        inner.replace("\"\"", "\"")
                    }
                    None if l.contains(',') || l.contains('"') => return Err(line),
                    None => l.into(),
                },
            };
            if !(2..=100).contains(&value.chars().count()) {
                return Err(line);
            }
            rows += 1;
        }
        Ok(rows)
    }

    #[test]
    fn reference_agrees_on_cases() {
        for (format, data, expected) in cases() {
            assert_eq!(
                reference(&data, format),
                expected.map_err(|(l, _)| l),
                "{data:?}"
            );
        }
    }

    fn soup() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(&b"\n"[..]),
            Just(&b"\r"[..]),
            Just(&b"\r\n"[..]),
            Just(&b"\""[..]),
            Just(&b","[..]),
            Just(&b"\xEF\xBB\xBF"[..]),
            Just(&b"\xE8\xB4\xA6"[..]),
            Just(&b"\xF0\x9F\x98\x80"[..]),
            Just(&b"\xE8"[..]),
            Just(&b"\xB4"[..]),
            Just(&b"\xFF"[..]),
            Just(&b"ab"[..]),
            Just(&b"x"[..]),
            Just(&b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"[..]),
        ];
        prop_oneof![
            proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat()),
            proptest::collection::vec(any::<u8>(), 0..200),
        ]
    }

    fn valid_value() -> impl Strategy<Value = String> {
        let ch = prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => Just(','),
            1 => Just('"'),
            1 => Just(' '),
            1 => Just('\u{FEFF}'),
            1 => proptest::char::range('\u{4E00}', '\u{9FFF}'),
            1 => proptest::char::range('\u{1F600}', '\u{1F64F}'),
            1 => any::<char>().prop_filter("no line ends", |c| *c != '\r' && *c != '\n'),
        ];
        proptest::collection::vec(ch, 2..=100).prop_map(|v| v.into_iter().collect())
    }

    fn encode_csv(value: &str, force_quotes: bool) -> String {
        if force_quotes || value.contains(',') || value.contains('"') {
            std::format!("\"{}\"", value.replace('"', "\"\""))
        } else {
            value.into()
        }
    }

    proptest! {
        #[test]
        fn valid_rows_are_accepted_and_counted(
            values in proptest::collection::vec(valid_value(), 1..20),
            crlf in proptest::collection::vec(any::<bool>(), 20),
            quote in proptest::collection::vec(any::<bool>(), 20),
            bom in any::<bool>(),
            final_end in any::<bool>(),
            csv in any::<bool>(),
            split in any::<prop::sample::Index>(),
        ) {
            let format = if csv { Csv } else { Txt };
            // Without a BOM, a leading U+FEFF would be taken for one: keep the text unambiguous.
            let bom = bom || values[0].starts_with(BOM);
            let mut text = String::from(if bom { BOM } else { "" });
            for (i, v) in values.iter().enumerate() {
                match format {
                    Txt => text.push_str(v),
                    Csv => text.push_str(&encode_csv(v, quote[i])),
                }
                if i + 1 < values.len() || final_end {
                    text.push_str(if crlf[i] { "\r\n" } else { "\n" });
                }
            }
            let data = text.as_bytes();
            let at = split.index(data.len() + 1);
            let expected = Ok(values.len() as u64);
            prop_assert_eq!(run_chunks(format, [data]), expected);
            prop_assert_eq!(run_chunks(format, [&data[..at], &data[at..]]), expected);
            prop_assert_eq!(run_chunks(format, data.chunks(1)), expected);
        }

        #[test]
        fn chunking_never_changes_the_verdict(
            data in soup(),
            csv in any::<bool>(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let format = if csv { Csv } else { Txt };
            let whole = run_chunks(format, [&data[..]]);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for p in points {
                chunks.push(&data[prev..p]);
                prev = p;
            }
            chunks.push(&data[prev..]);
            prop_assert_eq!(run_chunks(format, chunks), whole);
            prop_assert_eq!(run_chunks(format, data.chunks(1)), whole);
            prop_assert_eq!(whole.map_err(|(l, _)| l), reference(&data, format));
        }

        /// The word-at-a-time fast path against the byte state machine (fed one byte at a
        /// time, the fast path never runs): texts of mostly plain ASCII rows, with now and then
        /// a row of the wrong length, a CR, a quote, a comma or a multi-byte character.
        #[test]
        fn fast_path_agrees_with_the_state_machine(
            rows in proptest::collection::vec(
                (1usize..110, proptest::sample::select(&[
                    "", "", "", "", "", "\r", "\"", ",", "é", "\u{1F600}", "\u{FEFF}", "\t",
                ][..])),
                0..60,
            ),
            csv in any::<bool>(),
            trailing_newline in any::<bool>(),
        ) {
            let mut text = String::new();
            for (i, (len, odd)) in rows.iter().enumerate() {
                let mut row: String = (0..*len).map(|j| (b'a' + ((i + j) % 26) as u8) as char).collect();
                row.insert_str(len / 2, odd);
                text.push_str(&row);
                text.push('\n');
            }
            if !trailing_newline {
                text.pop();
            }
            let format = if csv { Format::Csv } else { Format::Txt };
            let data = text.as_bytes();
            let whole = run_chunks(format, core::iter::once(data));
            prop_assert_eq!(run_chunks(format, data.chunks(1)), whole);
        }
    }
}
