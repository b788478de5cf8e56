//! Package rules of the TPNS upload API (file name, size, rows, zip layout), checked before
//! sending, in O(1) memory and without a heap.
//!
//! TPNS rejects a bad package only after the whole upload, with a terse `errMsg`. A device that
//! streams 100 MB over a slow link should learn *before* sending that row 48 213 is blank, so
//! this module implements the package policy (`tests/packages/README.md`; the same policy is
//! applied by the emulator, and both are tested on the shared corpus in `tests/packages/`):
//!
//! 1. **File name** ([`check_file_name`]): 1..=100 characters (Unicode scalar values, extension
//!    included), ending in `.txt`, `.csv` or `.zip` (ASCII case-insensitive), no control
//!    characters.
//! 2. **Size** ([`check_size`]): 0 bytes is an empty file; above 100 MiB is too large; between
//!    10^8 bytes and 100 MiB is accepted with a warning, because whether the documented "100 MB"
//!    means 10^8 or 100 MiB is unconfirmed.
//! 3. **Rows** ([`RowValidator`], [`validate_rows`]): UTF-8; each row 2..=100 characters.
//!    - A UTF-8 **BOM** at the very start is ignored: Windows tools write one, and it is never
//!      part of an account. U+FEFF anywhere else is an ordinary character.
//!    - Rows end with **LF or CRLF**; the **final line end is optional**: both are what editors
//!      produce. A CR not directly followed by LF is an error, because it would otherwise end up
//!      inside an account.
//!    - A **blank line** is an error wherever it is, a trailing one included (a file ending in
//!      `"\n\n"` has a blank last line; a single final `"\n"` is just a line end): the service's
//!      handling of blank rows is unconfirmed, and rejecting them costs the user one edit, while a
//!      silently-accepted empty account could cost a wrong push.
//!    - A file with no rows at all (0 bytes, or only a BOM) is an empty file.
//! 4. **CSV** (`.csv`, and a `.csv` zip entry): exactly one column with RFC 4180 quoting. A field
//!    that starts with `"` is quoted, `""` inside it is one quote, a comma inside quotes is part
//!    of the value, and only the line end may follow the closing quote; a quoted field must close
//!    on its own line. In an unquoted field a comma means a second column and a `"` is an error.
//!    The length is counted on the decoded value. A header row is a row like any other (the
//!    service does not document headers, so the validator does not guess).
//! 5. **Zip** ([`inspect_zip`], [`validate_zip_rows`]): a layout every reader reads the same
//!    way (local headers agree with the central directory, which agrees with its end record, and
//!    no byte lies outside them); exactly one `.txt`/`.csv` entry, no folders, no Windows paths
//!    (`\`, `:`), no macOS metadata (`__MACOSX/`, `.DS_Store`), stored or deflate, not
//!    encrypted, not zip64, at most 1 GiB once inflated ([`ZIP_INFLATED_MAX`]); the entry's text
//!    then follows rules 3 and 4, with the entry's line numbers.
//! 6. **Token packages** ([`RowKind::Token`], [`RowValidator::with_kind`],
//!    [`validate_rows_as`], [`validate_zip_rows_as`]): every row (after CSV decoding) is a
//!    device token of exactly [`TOKEN_CHARS`] (36) characters from `A-Z`, `a-z`, `0-9` and
//!    `-`. The alphabet is not documented by the service, so the rule is liberal about the
//!    characters (a UUID's and more) and exact about the length.
//!
//! Errors carry the 1-based line of the first error in stream order, or line 0 for file-level
//! errors (name, size, empty file, zip structure). [`RowValidator::feed_each`] reports every
//! row error instead, resynchronising at the next line end.
//!
//! The text is checked in layers: bytes are decoded as UTF-8, the characters are split into lines
//! (LF, or CRLF), and for CSV each line is decoded as one field. So a CR inside a quoted CSV field
//! is still the CR error, and a line end inside a quoted field leaves the quote unterminated.
//!
//! # Examples
//!
//! ```
//! use tpns_core::package::{
//!     check_file_name, validate_rows, Format, PackageKind, RowRule, ValidateError,
//! };
//!
//! assert_eq!(check_file_name("accounts.csv"), Ok(PackageKind::Csv));
//!
//! let mut buf = [0u8; 64];
//! let summary = validate_rows(&b"\xEF\xBB\xBFuser01\r\n\"a,b\"\r\n"[..], Format::Csv, &mut buf);
//! assert_eq!(summary.unwrap().rows, 2);
//!
//! let err = validate_rows(&b"user01\n\nuser03\n"[..], Format::Txt, &mut buf).unwrap_err();
//! match err {
//!     ValidateError::Row(e) => assert_eq!((e.line, e.rule), (2, RowRule::BlankLine)),
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```

mod blocks;
mod checked;
mod name;
mod rows;
mod size;
mod utf8;
mod zip;
mod zipstream;

pub use checked::{CheckedError, CheckedSource};
pub use name::{Format, MAX_NAME_CHARS, NameError, PackageKind, check_file_name};
pub use rows::{
    MAX_ROW_CHARS, MIN_ROW_CHARS, RowError, RowKind, RowRule, RowSummary, RowTally, RowValidator,
    TOKEN_CHARS, ValidateError, validate_rows, validate_rows_as,
};
pub use size::{MAX_PACKAGE_BYTES, SIZE_WARNING_BYTES, SizeError, SizeVerdict, check_size};
pub use zip::{
    ZIP_INFLATED_MAX, ZIP_NAME_MAX, ZIP_SCRATCH_MIN, ZIP_WINDOW, ZipEntry, ZipError, ZipMethod,
    ZipRule, inspect_zip, read_zip_text, validate_zip_rows, validate_zip_rows_as,
};
pub use zipstream::ZipStreamCheck;
