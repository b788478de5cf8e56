//! The package policy (`notes/policy.md`): file-name rules and the streaming row validator for
//! `.txt` and `.csv` content.
//!
//! Written independently of `tpns-core`: the emulator is the judge of what the client accepts,
//! so the two implementations must not share code or mistakes.

use std::fmt;

use crate::api;

/// Largest accepted package, in bytes (100 MiB). Larger is "too large" (retCode 1008011).
pub const MAX_PACKAGE_SIZE: u64 = 100 * 1024 * 1024;
/// Longest accepted file name, in Unicode scalar values, extension included.
pub const MAX_NAME_CHARS: usize = 100;
/// Shortest accepted row, in characters.
pub const MIN_ROW_CHARS: u64 = 2;
/// Longest accepted row, in characters.
pub const MAX_ROW_CHARS: u64 = 100;

/// The kind of package, chosen by the file name's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `.txt`: one account per row.
    Txt,
    /// `.csv`: one column, RFC 4180 quoting.
    Csv,
    /// `.zip`: exactly one `.txt` or `.csv` entry.
    Zip,
}

/// One rule of the policy. The `Display` text is the fixed name of the rule, used in `errMsg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The file name has no characters.
    NameEmpty,
    /// The file name has more than 100 characters.
    NameTooLong,
    /// The file name does not end with `.txt`, `.csv` or `.zip`.
    NameExtension,
    /// The file has 0 bytes, or holds no rows at all.
    EmptyFile,
    /// The file is larger than 100 MiB.
    TooLarge,
    /// A byte sequence that is not UTF-8.
    InvalidUtf8,
    /// A CR that is not directly followed by an LF.
    BareCarriageReturn,
    /// A row with no characters.
    BlankLine,
    /// A row with fewer than 2 characters.
    RowTooShort,
    /// A row with more than 100 characters.
    RowTooLong,
    /// A comma in an unquoted CSV field.
    MoreThanOneColumn,
    /// A `"` inside an unquoted CSV field.
    QuoteInUnquotedField,
    /// Something other than the line end after a closing quote.
    TextAfterClosingQuote,
    /// A quoted CSV field still open at the end of its line.
    UnterminatedQuote,
    /// The archive is not a zip this emulator can read.
    ZipInvalid,
    /// The zip holds no file or more than one.
    ZipNotExactlyOne,
    /// The zip holds a directory entry or an entry name with a `/`.
    ZipFolders,
    /// The zip holds `__MACOSX/` or `.DS_Store` entries.
    ZipMacMetadata,
    /// A zip entry's name holds a `\` or a `:` (a Windows path or drive letter).
    ZipWindowsPath,
    /// The zip's central directory disagrees with its end record (entry count, size, offset).
    ZipDirectoryMismatch,
    /// A zip local header (or data descriptor) disagrees with its central directory entry.
    ZipLocalMismatch,
    /// Bytes outside the zip's entries, central directory and end record.
    ZipStrayData,
    /// The zip entry is not named `.txt` or `.csv`.
    ZipEntryExtension,
    /// The zip entry uses a compression method other than stored or deflate.
    ZipCompression,
    /// The zip entry is encrypted.
    ZipEncrypted,
    /// The zip entry's data does not match its CRC-32.
    ZipCorrupt,
    /// The zip entry inflates to more than the emulator's safety cap.
    ZipTooLargeUncompressed,
}

impl Rule {
    /// The retCode the emulator answers for this rule (see the policy's last paragraph).
    pub fn ret_code(self) -> u32 {
        match self {
            // The file name rules: a bad parameter.
            Rule::NameEmpty | Rule::NameTooLong | Rule::NameExtension => api::INVALID_PARAMETER,
            Rule::EmptyFile => api::EMPTY_FILE,
            _ => api::UPLOAD_FAILED,
        }
    }

    /// The fixed text naming the rule.
    pub fn text(self) -> &'static str {
        match self {
            Rule::NameEmpty => "file name is empty",
            Rule::NameTooLong => "file name longer than 100 characters",
            Rule::NameExtension => "file name must end with .txt, .csv or .zip",
            Rule::EmptyFile => "empty file",
            Rule::TooLarge => "file too large (more than 100 MiB)",
            Rule::InvalidUtf8 => "invalid UTF-8",
            Rule::BareCarriageReturn => "carriage return not followed by line feed",
            Rule::BlankLine => "blank line",
            Rule::RowTooShort => "row shorter than 2 characters",
            Rule::RowTooLong => "row longer than 100 characters",
            Rule::MoreThanOneColumn => "more than one column",
            Rule::QuoteInUnquotedField => "quote in unquoted field",
            Rule::TextAfterClosingQuote => "text after closing quote",
            Rule::UnterminatedQuote => "unterminated quote",
            Rule::ZipInvalid => "not a valid zip",
            Rule::ZipNotExactlyOne => "zip must hold exactly one file",
            Rule::ZipFolders => "zip must not hold folders",
            Rule::ZipMacMetadata => "zip holds macOS metadata (__MACOSX/.DS_Store)",
            Rule::ZipWindowsPath => "zip entry name holds a backslash or a colon (a Windows path)",
            Rule::ZipDirectoryMismatch => "zip central directory does not match its end record",
            Rule::ZipLocalMismatch => "zip local header does not match the central directory",
            Rule::ZipStrayData => "zip holds data outside its entries and central directory",
            Rule::ZipEntryExtension => "zip entry must be a .txt or .csv file",
            Rule::ZipCompression => "zip entry must be stored or deflated",
            Rule::ZipEncrypted => "zip entry is encrypted",
            Rule::ZipCorrupt => "zip entry is corrupt (CRC-32 mismatch)",
            Rule::ZipTooLargeUncompressed => "zip entry inflates to more than 1 GiB",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// A broken rule: which one, on which 1-based line (0 for file-level rules), and a detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// The 1-based line of the row, or 0 for a file-level rule.
    pub line: u64,
    /// Extra context (may be empty), appended to the message.
    pub detail: String,
}

impl Violation {
    /// A violation with no detail.
    pub fn new(rule: Rule, line: u64) -> Self {
        Violation {
            rule,
            line,
            detail: String::new(),
        }
    }

    /// A violation with a detail text.
    pub fn with_detail(rule: Rule, line: u64, detail: impl Into<String>) -> Self {
        Violation {
            rule,
            line,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    /// `"<rule> at line N[: detail]"` for row errors, `"<rule>[: detail]"` for file-level ones:
    /// tests look for `line N` in `errMsg`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rule.text())?;
        if self.line > 0 {
            write!(f, " at line {}", self.line)?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// The base name of an uploaded file name: everything after the last `/` or `\` (browsers and
/// some clients send a full path).
pub fn base_name(name: &str) -> &str {
    match name.rfind(['/', '\\']) {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// Checks a file name (rule 1) and returns the package kind.
///
/// # Errors
/// A file-level [`Violation`] (line 0) for an empty or too long name or a bad extension.
pub fn check_name(name: &str) -> Result<Kind, Violation> {
    let name = base_name(name);
    let chars = name.chars().count();
    if chars == 0 {
        return Err(Violation::new(Rule::NameEmpty, 0));
    }
    if chars > MAX_NAME_CHARS {
        return Err(Violation::with_detail(
            Rule::NameTooLong,
            0,
            format!("{chars} characters"),
        ));
    }
    kind_of(name).ok_or_else(|| Violation::new(Rule::NameExtension, 0))
}

/// The kind a name's extension selects (ASCII case-insensitive), if any.
pub fn kind_of(name: &str) -> Option<Kind> {
    let lower = name
        .get(name.len().saturating_sub(4)..)?
        .to_ascii_lowercase();
    match lower.as_str() {
        ".txt" => Some(Kind::Txt),
        ".csv" => Some(Kind::Csv),
        ".zip" => Some(Kind::Zip),
        _ => None,
    }
}

/// An incremental UTF-8 decoder (RFC 3629 / Unicode table 3-7): rejects overlong forms,
/// surrogates and code points above U+10FFFF, exactly as `std::str::from_utf8` does.
#[derive(Debug, Default, Clone)]
struct Utf8Decoder {
    need: u8,
    cp: u32,
    lower: u8,
    upper: u8,
}

/// What one byte did to the decoder.
enum Step {
    Char(u32),
    More,
    Invalid,
}

impl Utf8Decoder {
    fn push(&mut self, b: u8) -> Step {
        if self.need == 0 {
            let (need, cp, lower, upper) = match b {
                0x00..=0x7F => return Step::Char(u32::from(b)),
                0xC2..=0xDF => (1, b & 0x1F, 0x80, 0xBF),
                0xE0 => (2, b & 0x0F, 0xA0, 0xBF),
                0xE1..=0xEC | 0xEE..=0xEF => (2, b & 0x0F, 0x80, 0xBF),
                0xED => (2, b & 0x0F, 0x80, 0x9F),
                0xF0 => (3, b & 0x07, 0x90, 0xBF),
                0xF1..=0xF3 => (3, b & 0x07, 0x80, 0xBF),
                0xF4 => (3, b & 0x07, 0x80, 0x8F),
                _ => return Step::Invalid,
            };
            *self = Utf8Decoder {
                need,
                cp: u32::from(cp),
                lower,
                upper,
            };
            return Step::More;
        }
        if b < self.lower || b > self.upper {
            return Step::Invalid;
        }
        self.cp = (self.cp << 6) | u32::from(b & 0x3F);
        self.lower = 0x80;
        self.upper = 0xBF;
        self.need -= 1;
        if self.need == 0 {
            Step::Char(self.cp)
        } else {
            Step::More
        }
    }
}

/// Where a CSV row's single field is (RFC 4180 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Csv {
    /// Nothing of the field seen yet.
    Start,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// A `"` seen inside a quoted field: either the first half of `""` or the closing quote.
    QuoteInQuoted,
}

/// Streaming validator for `.txt` / `.csv` content (policy rules 3 and 4).
///
/// Feed it the bytes in chunks of any size, then call [`TextValidator::finish`]. It keeps the
/// first violation and ignores the rest of the input after it; memory use is constant.
#[derive(Debug, Clone)]
pub struct TextValidator {
    csv: bool,
    line: u64,
    rows: u64,
    /// Characters of the current row's value (CSV: quotes removed, `""` counted once).
    chars: u64,
    /// Whether the current line has any character before its line end (for "blank line").
    line_has_text: bool,
    at_start: bool,
    pending_cr: bool,
    field: Csv,
    utf8: Utf8Decoder,
    error: Option<Violation>,
    /// Rows left to the decoder before the plain-row pass is tried again, and how many it
    /// was last time: after a try that passed nothing (a CSV whose every row is quoted), the
    /// wait doubles up to 64 rows, so that such a file is not read ahead on every row.
    plain_wait: u32,
    plain_backoff: u32,
}

impl TextValidator {
    /// A validator for `.csv` content if `csv`, else for `.txt` content.
    pub fn new(csv: bool) -> Self {
        TextValidator {
            csv,
            line: 1,
            rows: 0,
            chars: 0,
            line_has_text: false,
            at_start: true,
            pending_cr: false,
            field: Csv::Start,
            utf8: Utf8Decoder::default(),
            error: None,
            plain_wait: 0,
            plain_backoff: 0,
        }
    }

    /// The first violation seen so far, if any.
    pub fn error(&self) -> Option<&Violation> {
        self.error.as_ref()
    }

    /// Feeds the next bytes of the content.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.error.is_none() {
            if self.between_rows() {
                if self.plain_wait > 0 {
                    self.plain_wait -= 1;
                } else {
                    let passed = self.plain_rows(bytes);
                    self.plain_backoff = match passed {
                        0 => (2 * self.plain_backoff).clamp(1, 64),
                        _ => 0,
                    };
                    self.plain_wait = self.plain_backoff;
                    bytes = &bytes[passed..];
                }
            }
            // The decoder takes the rest of the row the plain-row pass left (or all of the
            // bytes, if they end no row): to its line end, or to the end of `bytes`.
            let end = bytes
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |lf| lf + 1);
            for &b in &bytes[..end] {
                if self.error.is_some() {
                    return;
                }
                match self.utf8.push(b) {
                    Step::Char(c) => self.char(c),
                    Step::More => {}
                    Step::Invalid => self.fail(Rule::InvalidUtf8),
                }
            }
            bytes = &bytes[end..];
        }
    }

    /// Whether the decoder stands at the start of a row, with nothing pending: where whole
    /// rows can be judged as strings.
    fn between_rows(&self) -> bool {
        !self.at_start
            && !self.pending_cr
            && self.utf8.need == 0
            && self.chars == 0
            && !self.line_has_text
            && self.field == Csv::Start
    }

    /// Passes the longest run of whole rows at the start of `bytes` that need no decoder:
    /// valid UTF-8 (`str::from_utf8`), 2..=100 characters (the bytes that are not
    /// continuation bytes), ended by LF or CRLF with no other CR, and (CSV) without a quote
    /// or a comma. Returns the bytes passed; the row after them, if any, is the decoder's (it
    /// finds its error, or reads its quotes).
    ///
    /// The same verdicts as the decoder, with UTF-8 judged by the standard library instead
    /// of this file's decoder, and rows by one loop without calls instead of the state
    /// machine's call per byte: the emulator keeps up with its clients on large packages. The rows are taken in windows
    /// that start small and double while every row in them passes, so that a file in which
    /// many rows need the decoder (quoted CSV fields) is not read ahead again and again.
    fn plain_rows(&mut self, bytes: &[u8]) -> usize {
        let mut passed = 0;
        let mut window = 256;
        while passed < bytes.len() {
            let rest = &bytes[passed..];
            let cut = rest.len().min(window);
            window = (window * 2).min(1 << 16);
            let Some(last_lf) = rest[..cut].iter().rposition(|&b| b == b'\n') else {
                // No whole row left, or a row longer than the widest window (far longer
                // than a plain row can be): the decoder's. The window does not grow past
                // 64 KiB, so going on would read the same window forever.
                if cut == rest.len() || cut == 1 << 16 {
                    break;
                }
                continue; // a row longer than the window: a wider one
            };
            let (taken, all) = self.plain_rows_in(&rest[..=last_lf]);
            passed += taken;
            if !all {
                break;
            }
        }
        passed
    }

    /// [`plain_rows`](Self::plain_rows) within `rows`, which ends with an LF: the bytes
    /// passed, and whether that is all of them.
    fn plain_rows_in(&mut self, rows: &[u8]) -> (usize, bool) {
        // Only up to a UTF-8 error: its row goes to the decoder.
        let valid = match std::str::from_utf8(rows) {
            Ok(_) => rows.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = &rows[..valid];
        // Most windows hold no CR (LF line ends) and, in CSV, no quote or comma: the loop
        // then looks for LFs alone (about twice as fast).
        let special =
            text.contains(&b'\r') || self.csv && (text.contains(&b'"') || text.contains(&b','));
        let passed = if special {
            self.whole_rows::<true>(text)
        } else {
            self.whole_rows::<false>(text)
        };
        (passed, passed == rows.len())
    }

    /// The bytes of the whole rows at the start of `text` (valid UTF-8) that pass, counted
    /// as rows. `SPECIAL`: whether `text` may hold a CR or (CSV) a quote or a comma.
    fn whole_rows<const SPECIAL: bool>(&mut self, text: &[u8]) -> usize {
        let (mut passed, mut chars) = (0, 0u64);
        for (i, &b) in text.iter().enumerate() {
            match b {
                b'\n' => {
                    if !(MIN_ROW_CHARS..=MAX_ROW_CHARS).contains(&chars) {
                        break;
                    }
                    self.rows += 1;
                    self.line += 1;
                    (passed, chars) = (i + 1, 0);
                }
                // The CR of a CRLF is no character; any other is the decoder's to report.
                b'\r' if SPECIAL && text.get(i + 1) == Some(&b'\n') => {}
                b'\r' if SPECIAL => break,
                b'"' | b',' if SPECIAL && self.csv => break,
                // In valid UTF-8, every byte but a continuation byte starts a character.
                _ => chars += u64::from(b & 0xC0 != 0x80),
            }
        }
        passed
    }

    /// Ends the content and returns the number of rows.
    ///
    /// # Errors
    /// The first [`Violation`] met, or "empty file" (line 0) when there is no row at all.
    pub fn finish(mut self) -> Result<u64, Violation> {
        if self.error.is_none() {
            if self.utf8.need > 0 {
                // A sequence cut by the end of the file.
                self.fail(Rule::InvalidUtf8);
            } else if self.pending_cr {
                self.fail(Rule::BareCarriageReturn);
            } else if self.line_has_text {
                // The last row's line end is optional.
                self.end_row();
            }
        }
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.rows == 0 {
            return Err(Violation::new(Rule::EmptyFile, 0));
        }
        Ok(self.rows)
    }

    fn fail(&mut self, rule: Rule) {
        if self.error.is_none() {
            self.error = Some(Violation::new(rule, self.line));
        }
    }

    fn char(&mut self, c: u32) {
        if std::mem::take(&mut self.at_start) && c == 0xFEFF {
            // A BOM at the very start is not content.
            return;
        }
        if std::mem::take(&mut self.pending_cr) {
            if c == u32::from(b'\n') {
                self.end_row();
            } else {
                self.fail(Rule::BareCarriageReturn);
            }
            return;
        }
        match c {
            0x0D => self.pending_cr = true,
            0x0A => self.end_row(),
            _ => {
                self.line_has_text = true;
                if self.csv {
                    self.csv_char(c);
                } else {
                    self.count_char();
                }
            }
        }
    }

    fn count_char(&mut self) {
        self.chars += 1;
        if self.chars > MAX_ROW_CHARS {
            self.fail(Rule::RowTooLong);
        }
    }

    fn csv_char(&mut self, c: u32) {
        const QUOTE: u32 = b'"' as u32;
        const COMMA: u32 = b',' as u32;
        match (self.field, c) {
            (Csv::Start, QUOTE) => self.field = Csv::Quoted,
            (Csv::Start | Csv::Unquoted, COMMA) => self.fail(Rule::MoreThanOneColumn),
            (Csv::Unquoted, QUOTE) => self.fail(Rule::QuoteInUnquotedField),
            (Csv::Start | Csv::Unquoted, _) => {
                self.field = Csv::Unquoted;
                self.count_char();
            }
            (Csv::Quoted, QUOTE) => self.field = Csv::QuoteInQuoted,
            (Csv::Quoted, _) => self.count_char(),
            (Csv::QuoteInQuoted, QUOTE) => {
                // `""` inside quotes is one literal quote.
                self.field = Csv::Quoted;
                self.count_char();
            }
            (Csv::QuoteInQuoted, _) => self.fail(Rule::TextAfterClosingQuote),
        }
    }

    fn end_row(&mut self) {
        if !self.line_has_text {
            return self.fail(Rule::BlankLine);
        }
        if self.field == Csv::Quoted {
            return self.fail(Rule::UnterminatedQuote);
        }
        if self.chars < MIN_ROW_CHARS {
            return self.fail(Rule::RowTooShort);
        }
        self.rows += 1;
        self.line += 1;
        self.chars = 0;
        self.line_has_text = false;
        self.field = Csv::Start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(csv: bool, input: &[u8]) -> Result<u64, (Rule, u64)> {
        let whole = {
            let mut v = TextValidator::new(csv);
            v.feed(input);
            v.finish().map_err(|e| (e.rule, e.line))
        };
        // The verdict must not depend on how the stream is cut.
        for split in 0..=input.len() {
            let mut v = TextValidator::new(csv);
            v.feed(&input[..split]);
            v.feed(&input[split..]);
            assert_eq!(
                v.finish().map_err(|e| (e.rule, e.line)),
                whole,
                "split {split}"
            );
        }
        let mut v = TextValidator::new(csv);
        for b in input {
            v.feed(std::slice::from_ref(b));
        }
        assert_eq!(v.finish().map_err(|e| (e.rule, e.line)), whole);
        whole
    }

    #[test]
    fn names() {
        assert_eq!(check_name("a.txt"), Ok(Kind::Txt));
        assert_eq!(check_name("A.CSV"), Ok(Kind::Csv));
        assert_eq!(check_name("dir/x.Zip"), Ok(Kind::Zip));
        assert_eq!(check_name("C:\\dir\\x.txt"), Ok(Kind::Txt));
        assert_eq!(check_name("").unwrap_err().rule, Rule::NameEmpty);
        assert_eq!(check_name("a.json").unwrap_err().rule, Rule::NameExtension);
        assert_eq!(check_name("txt").unwrap_err().rule, Rule::NameExtension);
        assert_eq!(check_name("é.tx").unwrap_err().rule, Rule::NameExtension);
        let ok = format!("{}.txt", "é".repeat(96));
        assert_eq!(check_name(&ok), Ok(Kind::Txt));
        let long = format!("{}.txt", "é".repeat(97));
        assert_eq!(check_name(&long).unwrap_err().rule, Rule::NameTooLong);
    }

    #[test]
    fn txt_rows_and_line_ends() {
        assert_eq!(check(false, b"ab\ncd\n"), Ok(2));
        assert_eq!(check(false, b"ab\r\ncd"), Ok(2));
        assert_eq!(check(false, b"\xEF\xBB\xBFab\n"), Ok(1));
        assert_eq!(check(false, b""), Err((Rule::EmptyFile, 0)));
        assert_eq!(check(false, b"\xEF\xBB\xBF"), Err((Rule::EmptyFile, 0)));
        assert_eq!(check(false, b"\n"), Err((Rule::BlankLine, 1)));
        assert_eq!(check(false, b"ab\n\n"), Err((Rule::BlankLine, 2)));
        assert_eq!(check(false, b"ab\n\ncd"), Err((Rule::BlankLine, 2)));
        assert_eq!(check(false, b"ab\rcd"), Err((Rule::BareCarriageReturn, 1)));
        assert_eq!(
            check(false, b"ab\ncd\r"),
            Err((Rule::BareCarriageReturn, 2))
        );
        assert_eq!(check(false, b"ab\na\n"), Err((Rule::RowTooShort, 2)));
        // A BOM in the middle is a character like any other.
        assert_eq!(check(false, b"ab\n\xEF\xBB\xBFc\n"), Ok(2));
        let row100 = "é".repeat(100);
        assert_eq!(check(false, row100.as_bytes()), Ok(1));
        let row101 = format!("ab\n{}", "x".repeat(101));
        assert_eq!(check(false, row101.as_bytes()), Err((Rule::RowTooLong, 2)));
    }

    #[test]
    fn txt_utf8() {
        assert_eq!(check(false, "日本語\n😀😀".as_bytes()), Ok(2));
        assert_eq!(check(false, b"ab\nc\xFFd\n"), Err((Rule::InvalidUtf8, 2)));
        assert_eq!(
            check(false, b"ab\n\xC0\x80x\n"),
            Err((Rule::InvalidUtf8, 2))
        );
        assert_eq!(check(false, b"\xED\xA0\x80ab"), Err((Rule::InvalidUtf8, 1)));
        assert_eq!(
            check(false, b"\xF4\x90\x80\x80ab"),
            Err((Rule::InvalidUtf8, 1))
        );
        assert_eq!(check(false, b"ab\ncd\xE6\x97"), Err((Rule::InvalidUtf8, 2)));
        assert_eq!(check(false, b"ab\xE6\ncd"), Err((Rule::InvalidUtf8, 1)));
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(check(true, b"ab\n\"c,d\"\n\"e\"\"f\"\n"), Ok(3));
        assert_eq!(check(true, b"account\nab"), Ok(2));
        assert_eq!(check(true, b"ab\na,b\n"), Err((Rule::MoreThanOneColumn, 2)));
        assert_eq!(check(true, b",ab\n"), Err((Rule::MoreThanOneColumn, 1)));
        assert_eq!(check(true, b"a\"b\n"), Err((Rule::QuoteInUnquotedField, 1)));
        assert_eq!(
            check(true, b"\"ab\"c\n"),
            Err((Rule::TextAfterClosingQuote, 1))
        );
        assert_eq!(
            check(true, b"\"ab\n\"\n"),
            Err((Rule::UnterminatedQuote, 1))
        );
        assert_eq!(check(true, b"ab\n\"cd"), Err((Rule::UnterminatedQuote, 2)));
        assert_eq!(check(true, b"\"a\"\n"), Err((Rule::RowTooShort, 1)));
        assert_eq!(check(true, b"\"\"\"\"\"\"\r\n"), Ok(1));
        let q100 = format!("\"{}\"", "\"\"".repeat(100));
        assert_eq!(check(true, q100.as_bytes()), Ok(1));
        let q101 = format!("\"{}\"", "\"\"".repeat(101));
        assert_eq!(check(true, q101.as_bytes()), Err((Rule::RowTooLong, 1)));
        // In a .txt file, commas and quotes are plain characters.
        assert_eq!(check(false, b"a,b\n\"c\n"), Ok(2));
    }

    /// Pieces of rows: the bytes the plain-row pass and the decoder treat differently.
    fn piece() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            4 => "[a-z0-9._]{1,12}".prop_map(String::into_bytes),
            2 => "[é王😀α]{1,5}".prop_map(String::into_bytes),
            3 => Just(b"\n".to_vec()),
            1 => Just(b"\r\n".to_vec()),
            1 => Just(b"\r".to_vec()),
            1 => Just(b"\"".to_vec()),
            1 => Just(b",".to_vec()),
            1 => Just(b"\xEF\xBB\xBF".to_vec()),
            1 => Just("x".repeat(99).into_bytes()),
            1 => prop::sample::select(vec![0x80u8, 0xC3, 0xE6, 0xED, 0xF0, 0xFF]).prop_map(|b| vec![b]),
        ]
    }

    proptest::proptest! {
        /// Whole, at every split, and a byte at a time (where the plain-row pass never
        /// runs: one byte is no whole row but a blank one, which the decoder reports): the
        /// same verdict.
        #[test]
        fn the_plain_row_pass_agrees_with_the_decoder(
            pieces in proptest::collection::vec(piece(), 0..40),
            csv in proptest::bool::ANY,
        ) {
            let input: Vec<u8> = pieces.concat();
            let _verdict = check(csv, &input);
        }
    }

    /// Runs `f` on another thread and fails (instead of hanging) if it takes over 20 s.
    fn within_time<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .expect("the validator did not finish within 20 s (a loop that never ends?)")
    }

    /// A row longer than the plain-row pass's widest window (64 KiB) after the first row, in
    /// one `feed`: the decoder must get it (row too long), the pass must not spin on it.
    #[test]
    fn a_row_longer_than_the_widest_window_is_the_decoders() {
        for csv in [false, true] {
            let verdict = within_time(move || {
                let mut input = b"ab\n".to_vec();
                input.extend(std::iter::repeat_n(b'x', (1 << 16) + 10));
                input.push(b'\n');
                let mut v = TextValidator::new(csv);
                v.feed(&input);
                v.finish().map_err(|e| (e.rule, e.line))
            });
            assert_eq!(verdict, Err((Rule::RowTooLong, 2)));
        }
    }

    #[test]
    fn messages_name_rule_and_line() {
        let v = Violation::new(Rule::BlankLine, 7);
        assert_eq!(v.to_string(), "blank line at line 7");
        let v = Violation::with_detail(Rule::NameTooLong, 0, "101 characters");
        assert_eq!(
            v.to_string(),
            "file name longer than 100 characters: 101 characters"
        );
        assert_eq!(Rule::NameExtension.ret_code(), 1_008_007);
        assert_eq!(Rule::EmptyFile.ret_code(), 1_008_012);
        assert_eq!(Rule::TooLarge.ret_code(), 1_008_011);
        assert_eq!(Rule::ZipFolders.ret_code(), 1_008_011);
    }
}
