//! Rules 3 and 4: the streaming row validator.
//!
//! The validator is a byte-at-a-time state machine (UTF-8 decoder → line splitter → CSV field
//! decoder) whose whole state is a few integers, so it runs in O(1) memory on any chunking of
//! the input: a UTF-8 sequence, a CRLF or a `""` may be split across two calls to
//! [`RowValidator::feed`] and the verdict is the same.
//!
//! Two modes share the machine: [`feed`](RowValidator::feed) stops at the first error (what an
//! upload needs: one reason to send nothing), and [`feed_each`](RowValidator::feed_each)
//! reports each error and resynchronises at the next line end (what a user fixing a file
//! needs: every bad row, in one pass, in O(1) memory).

use core::fmt;
use core::ops::ControlFlow;

use embedded_io::{Error as _, ErrorKind, Read};

use super::Format;
use super::{blocks, utf8};

/// Fewest characters in a row.
pub const MIN_ROW_CHARS: u8 = 2;
/// Most characters in a row.
pub const MAX_ROW_CHARS: u8 = 100;
/// Characters in a device token: every row of a token package has exactly this many.
pub const TOKEN_CHARS: u8 = 36;

/// What the rows of a package hold.
///
/// TPNS device tokens are 36 characters long. Their alphabet is not documented, so the rule is
/// liberal about the characters and exact about the length: ASCII letters, digits and `-` (a
/// UUID's alphabet and more), exactly [`TOKEN_CHARS`] of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RowKind {
    /// Accounts: any characters, 2..=100 of them.
    #[default]
    Account,
    /// Device tokens: exactly 36 characters from `A-Z`, `a-z`, `0-9` and `-`.
    Token,
}

/// Whether `c` may appear in a device token.
const fn is_token_char(c: u32) -> bool {
    matches!(c, 0x30..=0x39 | 0x41..=0x5A | 0x61..=0x7A | 0x2D)
}

/// The rule a package's text broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
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
    /// Token package: a row that is not exactly 36 characters long.
    TokenLength,
    /// Token package: a character other than `A-Z`, `a-z`, `0-9` and `-`.
    TokenCharacter,
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
            RowRule::TokenLength => "token not 36 characters long",
            RowRule::TokenCharacter => "token character other than A-Z, a-z, 0-9 or -",
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

/// What [`RowValidator::finish_each`] counted: every line is either a row or a bad line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RowTally {
    /// Rows that follow every rule.
    pub rows: u64,
    /// Lines that broke a rule (one error each: the first in the line).
    pub bad_rows: u64,
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
/// [`feed_each`](Self::feed_each) and [`finish_each`](Self::finish_each) are the other mode:
/// each row error goes to a callback and checking goes on at the next line, with the same line
/// numbers. Use one mode or the other on a validator, not both.
///
/// # Examples
///
/// ```
/// use tpns_core::package::{Format, RowKind, RowRule, RowValidator};
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
///
/// // Every error, for a token package.
/// let mut v = RowValidator::with_kind(Format::Txt, RowKind::Token);
/// let mut lines = Vec::new();
/// v.feed_each(b"0123456789abcdef0123456789ABCDEF-_-_\nshort\n", |e| lines.push(e));
/// let tally = v.finish_each(|e| lines.push(e));
/// assert_eq!((tally.rows, tally.bad_rows), (0, 2));
/// assert_eq!(lines[0].rule, RowRule::TokenCharacter);
/// assert_eq!((lines[1].line, lines[1].rule), (2, RowRule::TokenLength));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowValidator {
    format: Format,
    kind: RowKind,
    /// Rows completed; the current line is `rows + bad + 1`.
    rows: u64,
    /// Lines given up on after an error ([`feed_each`](Self::feed_each) mode).
    bad: u64,
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
    /// After an error in [`feed_each`](Self::feed_each) mode: bytes up to the next LF are
    /// skipped (an LF is never part of a UTF-8 sequence, so the resync is exact).
    skip: bool,
    /// The sticky error of [`feed`](Self::feed) mode; its line is [`line`](Self::line), which
    /// no longer moves.
    error: Option<RowRule>,
}

impl RowValidator {
    /// A validator for an account package in `format`.
    pub const fn new(format: Format) -> Self {
        Self::with_kind(format, RowKind::Account)
    }

    /// A validator for a package of `kind` in `format`.
    pub const fn with_kind(format: Format, kind: RowKind) -> Self {
        RowValidator {
            format,
            kind,
            rows: 0,
            bad: 0,
            len: 0,
            line_has_chars: false,
            field: Field::Start,
            cr: false,
            need: 0,
            lo: 0x80,
            hi: 0xBF,
            cp: 0,
            at_start: true,
            skip: false,
            error: None,
        }
    }

    /// The format this validator checks.
    pub const fn format(&self) -> Format {
        self.format
    }

    /// What the rows hold.
    pub const fn kind(&self) -> RowKind {
        self.kind
    }

    /// Valid rows completed so far (their line end seen).
    pub const fn rows(&self) -> u64 {
        self.rows
    }

    /// Bad lines passed so far ([`feed_each`](Self::feed_each) mode; 0 in the other).
    pub const fn bad_rows(&self) -> u64 {
        self.bad
    }

    /// The 1-based line being read.
    pub const fn line(&self) -> u64 {
        self.rows + self.bad + 1
    }

    /// Checks the next chunk of the text.
    ///
    /// # Errors
    ///
    /// The first [`RowError`] found, with its line; the same error on every later call.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), RowError> {
        if let Some(rule) = self.error {
            return Err(self.error_at(rule));
        }
        let mut first = None;
        self.scan(chunk, &mut |e| {
            first = Some(e);
            ControlFlow::Break(())
        });
        match first {
            Some(e) => {
                self.error = Some(e.rule);
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// Checks the next chunk, handing each row error to `on_error` and going on with the next
    /// line: the rest of a bad line is skipped up to its LF, and the line counts as bad. Line
    /// numbers are those of [`feed`](Self::feed); the first error is the one `feed` returns.
    ///
    /// Does nothing on a validator that holds an error of [`feed`](Self::feed) mode.
    pub fn feed_each(&mut self, chunk: &[u8], mut on_error: impl FnMut(RowError)) {
        if self.error.is_some() {
            return;
        }
        self.scan(chunk, &mut |e| {
            on_error(e);
            ControlFlow::Continue(())
        });
    }

    /// Ends the text in [`feed_each`](Self::feed_each) mode: checks the last line (whose line
    /// end is optional), reports [`RowRule::EmptyFile`] (line 0) if the text held no line at
    /// all, and returns how many rows were valid and how many lines were bad.
    pub fn finish_each(mut self, mut on_error: impl FnMut(RowError)) -> RowTally {
        if self.error.is_some() {
            return RowTally {
                rows: self.rows,
                bad_rows: self.bad + 1,
            };
        }
        if self.skip {
            // The bad line ends with the text.
            self.bad += 1;
        } else if let Err(rule) = self.end_of_text() {
            on_error(self.error_at(rule));
            self.bad += 1;
        }
        if self.rows + self.bad == 0 {
            on_error(self.error_at(RowRule::EmptyFile));
        }
        RowTally {
            rows: self.rows,
            bad_rows: self.bad,
        }
    }

    /// The error `rule` with its line: the current line, or 0 for [`RowRule::EmptyFile`].
    fn error_at(&self, rule: RowRule) -> RowError {
        let line = if rule == RowRule::EmptyFile {
            0
        } else {
            self.line()
        };
        RowError { line, rule }
    }

    /// The machine over one chunk; each error goes to `on_error`, which stops the scan there
    /// or lets it resync at the next line end.
    #[inline]
    fn scan(&mut self, chunk: &[u8], on_error: &mut impl FnMut(RowError) -> ControlFlow<()>) {
        let mut i = 0;
        // Bytes before this offset go through the state machine: what the fast path stopped
        // at is not offered to it again byte after byte.
        let mut slow_until = 0;
        // `chunk[i..valid_until]` is known to be valid UTF-8 whenever `i` is on a character
        // boundary (as it is in a clean state): each byte is validated once per call.
        let mut valid_until = 0;
        while i < chunk.len() {
            if self.skip {
                match chunk[i..].iter().position(|&b| b == b'\n') {
                    Some(at) => {
                        i += at + 1;
                        self.skip = false;
                        self.bad += 1;
                        continue;
                    }
                    None => return,
                }
            }
            if i >= slow_until && self.is_clean() {
                match self.kind {
                    RowKind::Account => {
                        if valid_until <= i {
                            valid_until = i + utf8::valid_prefix(&chunk[i..]);
                        }
                        let (taken, slow) = self.fast_lines(&chunk[i..valid_until]);
                        slow_until = i + slow;
                        i += taken;
                    }
                    RowKind::Token => {
                        i += self.fast_run(&chunk[i..]);
                        slow_until = i + 8;
                    }
                }
                if i == chunk.len() {
                    break;
                }
            }
            let b = chunk[i];
            i += 1;
            if let Err(rule) = self.byte(b) {
                if on_error(self.error_at(rule)).is_break() {
                    return;
                }
                self.resync(b == b'\n');
            }
        }
    }

    /// After an error in [`feed_each`](Self::feed_each) mode: back to the start of a line
    /// (past the BOM check: a BOM only counts at the very start). An error raised by an LF
    /// ended its line already; any other one leaves the rest of the line to skip.
    fn resync(&mut self, line_ended: bool) {
        self.len = 0;
        self.line_has_chars = false;
        self.field = Field::Start;
        self.cr = false;
        self.need = 0;
        self.lo = 0x80;
        self.hi = 0xBF;
        self.at_start = false;
        if line_ended {
            self.bad += 1;
        } else {
            self.skip = true;
        }
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

    /// The fast path of account packages, for text in any script: `bytes` is valid UTF-8
    /// (checked beforehand, at SIMD speed with the `simd` feature) and starts on a character
    /// boundary in a clean state.
    ///
    /// It reads 64-byte blocks as bit masks of their LFs and CRs ([`blocks`]: vector compares
    /// with the `simd` feature, eight bytes at a time otherwise) and judges rows by their byte
    /// length: a row of `n` bytes holds at most `n` and at least `n / 4` characters. A block
    /// whose rows are all surely 2..=100 characters long (line ends 7..=101 bytes apart),
    /// whose CRs all precede an LF, and (CSV) which holds no `"` or `,`, is passed with a few
    /// mask operations and no branch per row. Any other block is read row by row, counting the
    /// characters (the bytes that are not continuation bytes) of a row near a limit.
    ///
    /// Takes whole rows only, and stops at the start of a row it cannot pass: one with a
    /// quote, a comma, a CR not followed by LF, or a length out of bounds; the state machine
    /// then reads that row and finds the exact error (or, for a quoted CSV field, reads it).
    /// Returns the bytes taken (a row start, a character boundary) and the offset up to which
    /// the state machine should go on before the fast path is tried again.
    #[inline]
    fn fast_lines(&mut self, bytes: &[u8]) -> (usize, usize) {
        let mut walk = Walk {
            len: usize::from(self.len),
            rows: self.rows,
            row_start: 0,
        };
        let walked = match self.format {
            Format::Csv => walk.text::<true>(bytes),
            Format::Txt => walk.text::<false>(bytes),
        };
        // The machine reads the rest (after the last line end) up to the end of `bytes`: at
        // most a row and a few bytes per call, never the same bytes twice through this path.
        let (taken, slow) = match walked {
            Ok(()) => (walk.row_start, bytes.len()),
            Err(stop) => stop,
        };
        if taken > 0 {
            self.rows = walk.rows;
            self.len = 0;
            self.line_has_chars = false;
            self.field = Field::Start;
        }
        (taken, slow)
    }

    /// The fast path for token packages, ASCII text, eight bytes at a time (SWAR): takes the
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
        const ONES: u64 = 0x0101_0101_0101_0101;
        let eq = |x: u64, b: u8| !((x ^ (u64::from(b) * ONES)) + LOW7) & HIGH;
        // For an `x` of ASCII bytes only: the high bit of each byte that is at least `b`
        // (b <= 0x80). Exact per byte: each byte of the sum is at most 0x7F + 0x80.
        let ge = |x: u64, b: u8| (x + u64::from(0x80 - b) * ONES) & HIGH;
        let range = |x: u64, lo: u8, hi: u8| ge(x, lo) & !ge(x, hi + 1);
        let csv = self.format == Format::Csv;
        let token = self.kind == RowKind::Token;
        let (min, max) = match self.kind {
            RowKind::Account => (usize::from(MIN_ROW_CHARS), usize::from(MAX_ROW_CHARS)),
            RowKind::Token => (usize::from(TOKEN_CHARS), usize::from(TOKEN_CHARS)),
        };
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
            if token {
                let allowed = range(x, b'0', b'9')
                    | range(x, b'A', b'Z')
                    | range(x, b'a', b'z')
                    | eq(x, b'-')
                    | eq(x, b'\n');
                if allowed != HIGH {
                    break;
                }
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
            // At most MAX_ROW_CHARS (100) or TOKEN_CHARS (36): fits in a u8.
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
        if let Some(rule) = self.error {
            return Err(self.error_at(rule));
        }
        if let Err(rule) = self.end_of_text() {
            return Err(self.error_at(rule));
        }
        if self.rows == 0 {
            return Err(self.error_at(RowRule::EmptyFile));
        }
        Ok(RowSummary { rows: self.rows })
    }

    /// The end of the text: a UTF-8 sequence or a CR cut short, or the last row's checks.
    fn end_of_text(&mut self) -> Result<(), RowRule> {
        if self.need > 0 {
            Err(RowRule::InvalidUtf8)
        } else if self.cr {
            Err(RowRule::CarriageReturn)
        } else if self.line_has_chars {
            self.end_line()
        } else {
            Ok(())
        }
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
                    Format::Txt => self.count(c),
                    Format::Csv => self.csv(c),
                }
            }
        }
    }

    /// One more character, `c`, in the row's value.
    #[inline]
    fn count(&mut self, c: u32) -> Result<(), RowRule> {
        // The error comes at the first character too many, so `len` never passes 101.
        self.len += 1;
        match self.kind {
            RowKind::Account if self.len > MAX_ROW_CHARS => Err(RowRule::TooLong),
            RowKind::Account => Ok(()),
            RowKind::Token if !is_token_char(c) => Err(RowRule::TokenCharacter),
            RowKind::Token if self.len > TOKEN_CHARS => Err(RowRule::TokenLength),
            RowKind::Token => Ok(()),
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
                self.count(c)
            }
            (Field::Quoted, QUOTE) => {
                self.field = Field::QuoteSeen;
                Ok(())
            }
            (Field::Quoted, _) => self.count(c),
            (Field::QuoteSeen, QUOTE) => {
                // `""`: one literal quote.
                self.field = Field::Quoted;
                self.count(c)
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
        match self.kind {
            RowKind::Account if self.len < MIN_ROW_CHARS => return Err(RowRule::TooShort),
            RowKind::Token if self.len != TOKEN_CHARS => return Err(RowRule::TokenLength),
            _ => {}
        }
        self.rows += 1;
        self.len = 0;
        self.line_has_chars = false;
        self.field = Field::Start;
        Ok(())
    }
}

/// The fast path of account packages ([`RowValidator::fast_lines`]) through one run of valid
/// UTF-8: the rows it passed so far.
#[derive(Clone, Copy)]
struct Walk {
    /// Characters of the current row before `row_start` (only the first row may have some;
    /// counted as bytes in the gap test, which only makes it stricter).
    len: usize,
    /// Rows completed, those before the run included.
    rows: u64,
    /// Where the current row starts: everything before it is passed.
    row_start: usize,
}

impl Walk {
    /// Walks `bytes` (valid UTF-8, starting on a row's character boundary) in 64-byte blocks,
    /// then in 8-byte words, until a row it cannot pass; then `Err((row_start, keep))`: the
    /// state machine takes over at that row and keeps the text up to `keep`.
    ///
    /// Inlined whole with the `simd` feature (a third fewer instructions on x86-64 than when
    /// left to the compiler); without it, where a device's flash counts more, left to it.
    #[cfg_attr(feature = "simd", inline(always))]
    #[cfg_attr(not(feature = "simd"), inline)]
    fn text<const CSV: bool>(&mut self, bytes: &[u8]) -> Result<(), (usize, usize)> {
        let (blocks, rest) = bytes.as_chunks::<64>();
        // The blocks' line ends come in batches that grow from one block to `BATCH`: a walk
        // that stops early (at a row the machine must read, as each bad row of a file makes
        // it) has had at most as many blocks read ahead as it walked, plus one.
        let mut ends = [blocks::LineEnds::default(); blocks::BATCH];
        let (mut k, mut batch) = (0, 1);
        while k < blocks.len() {
            let asked = &blocks[k..blocks.len().min(k + batch)];
            let got = blocks::line_ends::<CSV>(asked, &mut ends);
            for (j, m) in ends[..got].iter().enumerate() {
                self.block::<64>(bytes, 64 * (k + j), m.lf, m.cr, m.lines)?;
            }
            k += got;
            if got < asked.len() {
                // Block `k` holds a quote or a comma: the machine reads on to its end.
                return Err((self.row_start, 64 * k + 64));
            }
            batch = (2 * batch).min(blocks::BATCH);
        }
        // The last few words of the run.
        let tail = 64 * blocks.len();
        let (words, _) = rest.as_chunks::<8>();
        for (k, word) in words.iter().enumerate() {
            let (lf, cr, quote_or_comma) = utf8::masks::<CSV>(word);
            if quote_or_comma {
                return Err((self.row_start, tail + 8 * k + 8));
            }
            self.block::<8>(bytes, tail + 8 * k, lf, cr, lf.count_ones())?;
        }
        Ok(())
    }

    /// One block of `N` bytes (64, or a word of 8) at `at` in `bytes`, whose LFs and CRs are
    /// `lf` and `cr`: passes the rows it ends, or returns where the machine takes over.
    #[cfg_attr(feature = "simd", inline(always))]
    #[cfg_attr(not(feature = "simd"), inline)]
    fn block<const N: usize>(
        &mut self,
        bytes: &[u8],
        at: usize,
        lf: u64,
        cr: u64,
        lines: u32,
    ) -> Result<(), (usize, usize)> {
        let max = usize::from(MAX_ROW_CHARS);
        let next = at + N;
        // Each CR must be directly followed by LF, in this block or the next one.
        let last = 1u64 << (N - 1);
        let mut lone = cr & !(lf >> 1);
        if lone & last != 0 && bytes.get(next) == Some(&b'\n') {
            lone &= !last;
        }
        if lone != 0 {
            return Err((self.row_start, next));
        }
        if lf == 0 {
            return Ok(());
        }
        // The common case: every line end of the block 7..=101 bytes after the one before
        // (the first one measured from the row's start), so each row holds 5..=100 bytes
        // before its CR or LF: surely 2..=100 characters. `near`: the 6 bytes after each LF.
        let first = at + lf.trailing_zeros() as usize;
        let gap = first + self.len + 1 - self.row_start;
        let two = (lf << 1) | (lf << 2);
        let near = two | (two << 2) | (two << 4);
        if (7..=max + 1).contains(&gap) && lf & near == 0 {
            self.rows += u64::from(lines);
            self.len = 0;
            self.row_start = at + 64 - lf.leading_zeros() as usize;
            return Ok(());
        }
        // By value, so that the walk's fields stay in registers in the loop that calls this.
        let (walk, passed) = self.row_by_row(bytes, at, lf);
        *self = walk;
        passed
    }

    /// The rows ended by the LFs `lf` of the block at `at`, one at a time, counting the
    /// characters of those whose byte length does not settle it; the walk after them, and
    /// whether they all passed.
    ///
    /// Out of line with the `simd` feature: the common case of [`block`](Self::block) then
    /// has the registers to itself (a seventh faster on mixed text than with this inlined).
    #[cfg_attr(feature = "simd", inline(never))]
    #[cfg_attr(not(feature = "simd"), inline)]
    fn row_by_row(
        mut self,
        bytes: &[u8],
        at: usize,
        mut lf: u64,
    ) -> (Self, Result<(), (usize, usize)>) {
        let (min, max) = (usize::from(MIN_ROW_CHARS), usize::from(MAX_ROW_CHARS));
        while lf != 0 {
            let lf_at = at + lf.trailing_zeros() as usize;
            lf &= lf - 1;
            // A CR before the LF is part of the line end (all CRs were checked above).
            let end = if lf_at > self.row_start && bytes[lf_at - 1] == b'\r' {
                lf_at - 1
            } else {
                lf_at
            };
            let n = end - self.row_start;
            let sure = self.len + n <= max && self.len + n.div_ceil(4) >= min;
            if !sure {
                let chars = self.len + blocks::chars(bytes, self.row_start..end);
                if chars < min || chars > max {
                    let stop = (self.row_start, lf_at + 1);
                    return (self, Err(stop));
                }
            }
            self.rows += 1;
            self.len = 0;
            self.row_start = lf_at + 1;
        }
        (self, Ok(()))
    }
}

/// Why [`validate_rows`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
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
    r: R,
    format: Format,
    buf: &mut [u8],
) -> Result<RowSummary, ValidateError<R::Error>> {
    validate_rows_as(r, format, RowKind::Account, buf)
}

/// [`validate_rows`] for a package of `kind` (accounts or device tokens).
///
/// # Errors
///
/// As [`validate_rows`].
pub fn validate_rows_as<R: Read>(
    mut r: R,
    format: Format,
    kind: RowKind,
    buf: &mut [u8],
) -> Result<RowSummary, ValidateError<R::Error>> {
    if buf.is_empty() {
        return Err(ValidateError::BufferTooSmall);
    }
    let mut v = RowValidator::with_kind(format, kind);
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

    /// `data` cut at the (sorted) points `cuts` pick: the pieces, in order, empty ones included.
    fn split_at<'a>(data: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for p in points {
            chunks.push(&data[prev..p]);
            prev = p;
        }
        chunks.push(&data[prev..]);
        chunks
    }

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
        let ordinary = "abcdefgh\n".repeat(4);
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
            // A row at a limit among ordinary rows, in a block the fast path would pass whole
            // but for it: 5 bytes of one character (CRLF), 101 bytes of 101 characters.
            (
                Txt,
                s(&(ordinary.clone() + "\u{1F600}\r\n" + &ordinary)),
                Err((5, TooShort))
            ),
            (
                Txt,
                s(&(ordinary.clone() + &a100 + "b\n" + &ordinary)),
                Err((5, TooLong))
            ),
            (
                Txt,
                s(&(ordinary.clone() + &a100 + "\n" + &ordinary)),
                Ok(9)
            ),
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

    /// Rows of `len` characters (`char_at(row, column)`) with `odd` planted in the middle of
    /// each, one per line, the last line end dropped unless `trailing_newline`.
    fn rows_text(
        rows: &[(usize, &str)],
        trailing_newline: bool,
        char_at: impl Fn(usize, usize) -> char,
    ) -> String {
        let mut text = String::new();
        for (i, (len, odd)) in rows.iter().enumerate() {
            let mut row: String = (0..*len).map(|j| char_at(i, j)).collect();
            row.insert_str(len / 2, odd);
            text.push_str(&row);
            text.push('\n');
        }
        if !trailing_newline {
            text.pop();
        }
        text
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
            let chunks = split_at(&data, &cuts);
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
            let text = rows_text(&rows, trailing_newline, |i, j| (b'a' + ((i + j) % 26) as u8) as char);
            let format = if csv { Format::Csv } else { Format::Txt };
            let data = text.as_bytes();
            let whole = run_chunks(format, core::iter::once(data));
            prop_assert_eq!(run_chunks(format, data.chunks(1)), whole);
        }

        /// The same for token packages, whose fast path also checks the token alphabet: rows
        /// of 30..42 characters around the token length, now and then with a character outside
        /// the alphabet (the ASCII neighbours of each range, and more).
        #[test]
        fn token_fast_path_agrees_with_the_state_machine(
            rows in proptest::collection::vec(
                (30usize..42, proptest::sample::select(&[
                    "", "", "", "", "", "", "-", "/", ":", "@", "[", "`", "{", "_", " ", "\r",
                    "\"", ",", "é", "\u{7f}", "\0",
                ][..])),
                0..40,
            ),
            csv in any::<bool>(),
            trailing_newline in any::<bool>(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        ) {
            let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-";
            let text = rows_text(&rows, trailing_newline, |i, j| alphabet[(i * 7 + j) % alphabet.len()] as char);
            let format = if csv { Format::Csv } else { Format::Txt };
            let data = text.as_bytes();
            let bytewise = run_kind(format, RowKind::Token, data.chunks(1));
            prop_assert_eq!(run_kind(format, RowKind::Token, [data]), bytewise);
            let chunks = split_at(data, &cuts);
            prop_assert_eq!(run_kind(format, RowKind::Token, chunks), bytewise);
            // Every-error mode, any chunking, against the line-by-line oracle.
            prop_assert_eq!(each_chunks(format, RowKind::Token, [data]), each_oracle(format, RowKind::Token, data));
        }

        /// Every-error mode: the errors and counts are the same for any chunking, and are
        /// those of the stop-at-the-first-error mode run on each line alone.
        #[test]
        fn every_error_mode_agrees_with_a_line_by_line_oracle(
            data in soup(),
            csv in any::<bool>(),
            token in any::<bool>(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let format = if csv { Csv } else { Txt };
            let kind = if token { RowKind::Token } else { RowKind::Account };
            let whole = each_chunks(format, kind, [&data[..]]);
            prop_assert_eq!(&whole, &each_oracle(format, kind, &data));
            prop_assert_eq!(&each_chunks(format, kind, data.chunks(1)), &whole);
            let chunks = split_at(&data, &cuts);
            prop_assert_eq!(&each_chunks(format, kind, chunks), &whole);
            // The first error is the one the other mode stops at.
            let first = run_kind(format, kind, [&data[..]]);
            match whole.0.first() {
                Some(e) => prop_assert_eq!(first, Err(*e)),
                None => prop_assert_eq!(first, Ok(whole.1)),
            }
        }
    }

    proptest! {
        // A fixed seed: the same 512 texts on every run, so that this test cannot flake; the
        // `rows` fuzz target explores further with the same comparison.
        #![proptest_config(ProptestConfig {
            cases: if cfg!(miri) { 4 } else { 512 },
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x7470_6e73_726f_7773),
            ..ProptestConfig::default()
        })]

        /// The fast path of any script (64-byte blocks, then words) against the byte state
        /// machine, its oracle: rows of 0..=110 characters from ASCII, 2-, 3- and 4-byte
        /// characters (so byte lengths straddle the limits both ways), LF or CRLF, now and then
        /// a lone CR, a quote, a comma, a BOM, a bad byte; cut anywhere, in both modes.
        #[test]
        fn multibyte_fast_path_agrees_with_the_state_machine(
            rows in proptest::collection::vec(
                (row_chars(), proptest::sample::select(&[
                    "", "", "", "", "", "", "\r", "\"", ",", "\u{FEFF}", "\u{FFFF}",
                ][..]), any::<bool>(), any::<bool>()),
                0..40,
            ),
            csv in any::<bool>(),
            bad_byte in proptest::option::of((any::<prop::sample::Index>(), 0x80u8..=0xFF)),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        ) {
            let mut text = Vec::new();
            for (chars, odd, crlf, end) in &rows {
                let mut row: String = chars.concat();
                let mid = row.char_indices().nth(chars.len() / 2).map_or(row.len(), |c| c.0);
                row.insert_str(mid, odd);
                text.extend_from_slice(row.as_bytes());
                if *end {
                    text.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
                }
            }
            if let Some((at, b)) = bad_byte
                && !text.is_empty()
            {
                let at = at.index(text.len());
                text[at] = b;
            }
            let format = if csv { Format::Csv } else { Format::Txt };
            let data = &text[..];
            let bytewise = run_chunks(format, data.chunks(1));
            prop_assert_eq!(run_chunks(format, [data]), bytewise);
            let chunks = split_at(data, &cuts);
            prop_assert_eq!(run_chunks(format, chunks.iter().copied()), bytewise);
            let each = each_chunks(format, RowKind::Account, data.chunks(1));
            prop_assert_eq!(&each_chunks(format, RowKind::Account, [data]), &each);
            prop_assert_eq!(&each_chunks(format, RowKind::Account, chunks), &each);
            // Without its CRs the text takes the cheapest masks (no CR, and a VT now and then
            // right after an LF, the one byte those masks must not mistake for a line end).
            let lf_only: Vec<u8> = data.iter().copied().filter(|&b| b != b'\r').collect();
            prop_assert_eq!(
                run_chunks(format, [&lf_only[..]]),
                run_chunks(format, lf_only.chunks(1))
            );
            prop_assert_eq!(
                each_chunks(format, RowKind::Account, [&lf_only[..]]),
                each_chunks(format, RowKind::Account, lf_only.chunks(1))
            );
        }
    }

    /// The characters of one row: ASCII only, mixed scripts, or mostly CJK and emoji; mostly
    /// 5..30 of them (blocks of ordinary rows, which the fast path passes whole), often at
    /// either limit (0..=7, 96..=104), so that rows of ASCII land exactly on the byte gaps the
    /// fast path tests and rows of other scripts straddle them.
    fn row_chars() -> impl Strategy<Value = Vec<&'static str>> {
        const ASCII: &[&str] = &["a", "b", "z", "-"];
        const MIXED: &[&str] = &["a", "b", "é", "ж", "λ", "王", "\t", "\u{b}"];
        const WIDE: &[&str] = &["王", "明", "账", "\u{1F600}", "\u{10FFFF}"];
        let script = prop_oneof![Just(ASCII), Just(MIXED), Just(WIDE)];
        let count =
            prop_oneof![3 => 5..30usize, 1 => 0..8usize, 1 => 96..105usize, 1 => 0..110usize];
        (script, count)
            .prop_flat_map(|(set, n)| proptest::collection::vec(proptest::sample::select(set), n))
    }

    fn run_kind<'a>(
        format: Format,
        kind: RowKind,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Verdict {
        let mut v = RowValidator::with_kind(format, kind);
        for c in chunks {
            if v.feed(c).is_err() {
                break;
            }
        }
        v.finish().map(|s| s.rows).map_err(|e| (e.line, e.rule))
    }

    /// Every-error mode: the errors, the valid rows and the bad lines.
    fn each_chunks<'a>(
        format: Format,
        kind: RowKind,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> (Vec<(u64, RowRule)>, u64, u64) {
        let mut v = RowValidator::with_kind(format, kind);
        let mut errors = Vec::new();
        for c in chunks {
            v.feed_each(c, |e| errors.push((e.line, e.rule)));
        }
        let t = v.finish_each(|e| errors.push((e.line, e.rule)));
        (errors, t.rows, t.bad_rows)
    }

    /// The oracle of every-error mode: the text split at each LF byte, and each line judged by
    /// the stop mode on its own (after a valid line `xx`, so that a U+FEFF there is a
    /// character, not a BOM, as it is after line 1).
    fn each_oracle(format: Format, kind: RowKind, data: &[u8]) -> (Vec<(u64, RowRule)>, u64, u64) {
        let pieces: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
        let mut errors = Vec::new();
        let (mut rows, mut bad) = (0, 0);
        let prefix: &[u8] = match kind {
            RowKind::Account => b"xx\n",
            RowKind::Token => b"0123456789abcdef0123456789abcdef0123\n",
        };
        for (i, piece) in pieces.iter().enumerate() {
            let last = i + 1 == pieces.len();
            if last && piece.is_empty() {
                break; // the text ended with a line end
            }
            let mut line = if i == 0 { Vec::new() } else { prefix.to_vec() };
            line.extend_from_slice(piece);
            if !last {
                line.push(b'\n');
            }
            match run_kind(format, kind, [&line[..]]) {
                Ok(_) => rows += 1,
                // Only a BOM on line 1: no line at all.
                Err((0, EmptyFile)) => {}
                Err((_, rule)) => {
                    errors.push((i as u64 + 1, rule));
                    bad += 1;
                }
            }
        }
        if rows + bad == 0 {
            errors.push((0, EmptyFile));
        }
        (errors, rows, bad)
    }

    /// A VT (0x0B) right after an LF is a character, not a line end, on every path (the
    /// cheapest LF masks are only used on a text without VT and CR).
    #[test]
    fn a_vertical_tab_after_a_line_end_is_a_character() {
        let mut text = Vec::new();
        for i in 0..400 {
            text.extend_from_slice(if i % 3 == 0 {
                b"\x0bab\n"
            } else {
                b"abcdefgh\n"
            });
        }
        for format in [Txt, Csv] {
            assert_eq!(run_chunks(format, [&text[..]]), Ok(400));
            assert_eq!(run_chunks(format, text.chunks(1)), Ok(400));
        }
        // One row of a single VT: too short, found on its line whatever the path.
        text.extend_from_slice(b"\x0b\n");
        assert_eq!(run_chunks(Txt, [&text[..]]), Err((401, TooShort)));
    }

    #[test]
    fn token_rows() {
        use std::string::ToString;
        let t = "0123456789abcdefABCDEF-0123456789xyz"; // 36
        assert_eq!(t.len(), 36);
        let s = |x: &str| x.as_bytes().to_vec();
        let cases: Vec<(Format, Vec<u8>, Verdict)> = std::vec![
            (Txt, s(&std::format!("{t}\n{t}\n")), Ok(2)),
            (Txt, s(&std::format!("{t}\r\n{t}")), Ok(2)),
            (Txt, s(&std::format!("{BOM}{t}\n")), Ok(1)),
            (Txt, s(&std::format!("{t}x\n")), Err((1, TokenLength))),
            (
                Txt,
                s(&std::format!("{t}\n{}\n", &t[1..])),
                Err((2, TokenLength))
            ),
            (Txt, s(&t[1..]), Err((1, TokenLength))),
            (Txt, s("ab\n"), Err((1, TokenLength))),
            (
                Txt,
                s(&std::format!("{}_\n", &t[1..])),
                Err((1, TokenCharacter))
            ),
            (
                Txt,
                s(&std::format!("{} \n", &t[1..])),
                Err((1, TokenCharacter))
            ),
            (
                Txt,
                s(&std::format!("{}é\n", &t[1..])),
                Err((1, TokenCharacter))
            ),
            (Txt, s(&std::format!("{t}\n\n")), Err((2, BlankLine))),
            (Txt, s(""), Err((0, EmptyFile))),
            (Csv, s(&std::format!("\"{t}\"\n{t}\n")), Ok(2)),
            (Csv, s(&std::format!("{t},\n")), Err((1, MoreThanOneColumn))),
            (
                Csv,
                s(&std::format!("\"{}\"\"\"\n", &t[1..])),
                Err((1, TokenCharacter))
            ),
        ];
        for (format, data, expected) in cases {
            let whole = run_kind(format, RowKind::Token, [&data[..]]);
            assert_eq!(whole, expected, "{data:?}");
            assert_eq!(run_kind(format, RowKind::Token, data.chunks(1)), whole);
            for i in 0..=data.len() {
                let (a, b) = data.split_at(i);
                assert_eq!(run_kind(format, RowKind::Token, [a, b]), whole);
            }
        }
        // Account rules are unchanged for the same rows.
        assert_eq!(run_kind(Txt, RowKind::Account, [&b"ab\n"[..]]), Ok(1));
        assert_eq!(
            TokenCharacter.to_string(),
            "token character other than A-Z, a-z, 0-9 or -"
        );
        assert_eq!(TokenLength.to_string(), "token not 36 characters long");
    }

    #[test]
    fn every_error_mode_reports_each_bad_line_and_resyncs() {
        let mut v = RowValidator::new(Txt);
        let mut errors = Vec::new();
        v.feed_each(b"ab\nc\n\nd\xFFef\nok\r\nx\rzz\n", |e| {
            errors.push((e.line, e.rule))
        });
        v.feed_each(b"\nlast", |e| errors.push((e.line, e.rule)));
        let t = v.finish_each(|e| errors.push((e.line, e.rule)));
        assert_eq!(
            errors,
            [
                (2, TooShort),
                (3, BlankLine),
                (4, InvalidUtf8),
                (6, CarriageReturn),
                (7, BlankLine),
            ]
        );
        assert_eq!((t.rows, t.bad_rows), (3, 5));
        // A bad last line without a line end, and a file of bad lines only (not empty).
        let mut v = RowValidator::new(Csv);
        let mut errors = Vec::new();
        v.feed_each(b"a,b\n\"cd", |e| errors.push((e.line, e.rule)));
        let t = v.finish_each(|e| errors.push((e.line, e.rule)));
        assert_eq!(errors, [(1, MoreThanOneColumn), (2, UnterminatedQuote)]);
        assert_eq!((t.rows, t.bad_rows), (0, 2));
        // Nothing at all is the empty file, on line 0.
        let mut errors = Vec::new();
        let t = RowValidator::new(Txt).finish_each(|e| errors.push((e.line, e.rule)));
        assert_eq!(errors, [(0, EmptyFile)]);
        assert_eq!((t.rows, t.bad_rows), (0, 0));
        // The stop mode is unchanged after a row error: sticky.
        let mut v = RowValidator::new(Txt);
        assert_eq!(v.feed(b"a\nbb\n").map_err(|e| e.line), Err(1));
        assert_eq!(v.feed(b"cc\n").map_err(|e| e.line), Err(1));
    }

    #[test]
    fn every_error_mode_on_the_cases() {
        for (format, data, expected) in cases() {
            let whole = each_chunks(format, RowKind::Account, [&data[..]]);
            match expected {
                Ok(rows) => assert_eq!((whole.0.len(), whole.1), (0, rows), "{data:?}"),
                Err(e) => assert_eq!(whole.0.first(), Some(&e), "{data:?}"),
            }
            assert_eq!(each_chunks(format, RowKind::Account, data.chunks(1)), whole);
            assert_eq!(
                whole,
                each_oracle(format, RowKind::Account, &data),
                "{data:?}"
            );
        }
    }
}
