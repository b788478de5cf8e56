//! Checking the rows while they are sent: a package source that validates what passes.
//!
//! [`CheckedSource`] wraps the package source of an upload (`multipart::Body` reads it). Each
//! read feeds the bytes to a [`RowValidator`]; the first broken rule fails the read that
//! brought it, so the bytes of the bad row are never handed on. The end of the source (a read
//! of 0 bytes) is where the last row, whose line end is optional, is judged: `Body` makes that
//! read (to make sure the source holds no more than declared) before it emits the closing
//! delimiter, so a body whose last row breaks a rule is cut before its end too.
//!
//! The server then gets a body without its closing delimiter, which no multipart parser
//! accepts: nothing is stored. The package is read once instead of twice.

use core::fmt;

use embedded_io::{ErrorKind, ErrorType, Read};

use super::{Format, RowError, RowKind, RowSummary, RowValidator};

/// Why a [`CheckedSource`] read failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CheckedError<E> {
    /// The wrapped source failed; its error is kept.
    Source(E),
    /// The rows broke a rule: the first error and its line.
    Row(RowError),
}

impl<E: fmt::Display> fmt::Display for CheckedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Source(e) => fmt::Display::fmt(e, f),
            Self::Row(e) => write!(f, "{e} (found while sending: nothing stored)"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for CheckedError<E> {}

impl<E: embedded_io::Error> embedded_io::Error for CheckedError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Source(e) => e.kind(),
            Self::Row(_) => ErrorKind::InvalidData,
        }
    }
}

/// A package source that checks the rows of a `.txt` or `.csv` package as they are read.
///
/// Memory: the validator's few bytes; no buffer of its own.
///
/// # Examples
///
/// ```
/// use embedded_io::Read;
/// use tpns_core::package::{CheckedError, CheckedSource, Format, RowRule};
///
/// let mut buf = [0u8; 4];
/// let mut ok = CheckedSource::new(&b"ab\ncd"[..], Format::Txt);
/// while ok.read(&mut buf).unwrap() > 0 {}
/// assert_eq!(ok.summary().map(|s| s.rows), Some(2));
///
/// // The last row is judged at the end of the source.
/// let mut bad = CheckedSource::new(&b"ab\nc"[..], Format::Txt);
/// assert_eq!(bad.read(&mut buf).unwrap(), 4);
/// match bad.read(&mut buf) {
///     Err(CheckedError::Row(e)) => assert_eq!((e.line, e.rule), (2, RowRule::TooShort)),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
pub struct CheckedSource<R> {
    source: R,
    validator: RowValidator,
    summary: Option<RowSummary>,
}

impl<R> CheckedSource<R> {
    /// Checks the account rows of `source`, a package in `format`.
    pub const fn new(source: R, format: Format) -> Self {
        Self::with_kind(source, format, RowKind::Account)
    }

    /// Checks the rows of `source`, a package of `kind` in `format`.
    pub const fn with_kind(source: R, format: Format, kind: RowKind) -> Self {
        CheckedSource {
            source,
            validator: RowValidator::with_kind(format, kind),
            summary: None,
        }
    }

    /// Once the source has ended and every row passed: what the package holds.
    pub const fn summary(&self) -> Option<RowSummary> {
        self.summary
    }

    /// Starts the check again from the first row, for a new attempt that reads the source
    /// again from its first byte (the caller rewinds the source).
    pub fn restart(&mut self) {
        self.validator = RowValidator::with_kind(self.validator.format(), self.validator.kind());
        self.summary = None;
    }

    /// The wrapped source.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.source
    }

    /// Gives the source back.
    pub fn into_inner(self) -> R {
        self.source
    }
}

impl<R: ErrorType> ErrorType for CheckedSource<R> {
    type Error = CheckedError<R::Error>;
}

impl<R: Read> Read for CheckedSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.source.read(buf).map_err(CheckedError::Source)?;
        if n > 0 {
            self.validator.feed(&buf[..n]).map_err(CheckedError::Row)?;
        } else if self.summary.is_none() {
            self.summary = Some(self.validator.finish().map_err(CheckedError::Row)?);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::multipart::{Body, BodyError, Boundary, Form};
    use crate::package::RowRule;
    use std::vec::Vec;

    /// The body over a checked `package`, read through a buffer of `chunk` bytes: the bytes
    /// produced before the end or the error, and the error.
    fn send(package: &[u8], chunk: usize) -> (Vec<u8>, Option<BodyError<CheckedError<()>>>) {
        struct Slice<'a>(&'a [u8]);
        impl ErrorType for Slice<'_> {
            type Error = core::convert::Infallible;
        }
        impl Read for Slice<'_> {
            fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
                self.0.read(buf).map_err(|e| match e {})
            }
        }
        let boundary = Boundary::from_random([3; 16]);
        let form = Form {
            boundary: &boundary,
            file_name: "a.txt",
        };
        let source = CheckedSource::new(Slice(package), Format::Txt);
        let mut body = Body::new(form, source, package.len() as u64);
        let mut out = Vec::new();
        let mut buf = std::vec![0u8; chunk];
        loop {
            match body.fill(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    let e = match e {
                        BodyError::Source { offset, error } => BodyError::Source {
                            offset,
                            error: match error {
                                CheckedError::Row(r) => CheckedError::Row(r),
                                CheckedError::Source(never) => match never {},
                            },
                        },
                        BodyError::SourceTooShort { expected, got } => {
                            BodyError::SourceTooShort { expected, got }
                        }
                        BodyError::SourceTooLong { expected } => {
                            BodyError::SourceTooLong { expected }
                        }
                    };
                    return (out, Some(e));
                }
            }
        }
    }

    #[test]
    fn a_broken_row_cuts_the_body_before_its_closing_delimiter() {
        let closing = b"--\r\n";
        let good = b"alice\nbob\n";
        let bad_middle = b"alice\nb\nbob\n";
        let bad_last = b"alice\nbob\nc";
        for chunk in [1, 3, 7, 64, 4096] {
            let (out, err) = send(good, chunk);
            assert!(err.is_none());
            assert!(out.ends_with(closing), "a valid package gets its delimiter");
            for (package, line, rule) in [
                (&bad_middle[..], 2, RowRule::TooShort),
                (&bad_last[..], 3, RowRule::TooShort),
            ] {
                let (out, err) = send(package, chunk);
                match err {
                    Some(BodyError::Source {
                        error: CheckedError::Row(e),
                        ..
                    }) => assert_eq!((e.line, e.rule), (line, rule)),
                    other => panic!("{other:?}"),
                }
                assert!(!out.ends_with(closing), "chunk {chunk}: {out:?}");
                // What went out is a prefix of the body: the head, then the package's first
                // bytes (nothing at all when the error came in the first fill).
                let head = out
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map_or(out.len(), |at| at + 4);
                assert!(package.starts_with(&out[head..]), "chunk {chunk}: {out:?}");
            }
        }
    }
}
