//! Checking a package file against the service's rules before sending it.

use std::fmt;
use std::io;
use std::path::Path;

use tpns_core::multipart::BodyError;
use tpns_core::package::{
    self, Format, NameError, PackageKind, RowError, RowKind, RowRule, RowSummary, RowValidator,
    SizeError, SizeVerdict, ValidateError, ZIP_WINDOW, ZipError, ZipRule, ZipStreamCheck,
};

use crate::net::Io;

/// What a valid package holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The file name the service will see (the path's last component).
    pub file_name: String,
    /// `.txt`, `.csv` or `.zip`.
    pub kind: PackageKind,
    /// Size of the file in bytes.
    pub size: u64,
    /// Rows (accounts or tokens) in the text, or in the zip's entry.
    pub rows: u64,
    /// The size is above 10^8 bytes but within 100 MiB: the service may count "100 MB" in
    /// powers of ten and refuse it.
    pub size_warning: bool,
}

/// The rule a package broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// The file name is not valid UTF-8.
    NameNotUtf8,
    /// The file name breaks rule 1 (length, extension, control characters).
    Name(NameError),
    /// The size breaks rule 2 (empty, above 100 MiB).
    Size(SizeError),
    /// The text breaks a row rule (UTF-8, length, blank line, CSV column).
    Rows(RowRule),
    /// The zip's structure breaks rule 5 (the zip reader's I/O errors and row errors are
    /// reported as [`CheckError::Io`] and [`Violation::Rows`]).
    Zip(ZipRule),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NameNotUtf8 => f.write_str("file name is not valid UTF-8"),
            Self::Name(e) => fmt::Display::fmt(e, f),
            Self::Size(e) => fmt::Display::fmt(e, f),
            Self::Rows(e) => fmt::Display::fmt(e, f),
            Self::Zip(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// The first broken rule and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid {
    /// 1-based line of a row error; 0 for a file-level one (name, size, zip structure, empty).
    pub line: u64,
    /// The rule broken.
    pub violation: Violation,
}

impl Invalid {
    /// Whether the violation is about a row (line 1 and up) rather than the whole file.
    pub fn is_row(&self) -> bool {
        self.line > 0
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.violation)
    }
}

impl std::error::Error for Invalid {}

/// Why [`check_file`] did not pass a file.
///
/// Deliberately exhaustive, unlike the other error enums: a check either could not read the
/// file or judged it, and callers handle both (what can grow is [`Violation`]).
#[derive(Debug)]
pub enum CheckError {
    /// The file could not be read.
    Io(io::Error),
    /// The file breaks a rule.
    Invalid(Invalid),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "cannot read the file: {e}"),
            Self::Invalid(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for CheckError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Invalid(e) => Some(e),
        }
    }
}

fn invalid(line: u64, violation: Violation) -> CheckError {
    CheckError::Invalid(Invalid { line, violation })
}

/// Checks a package file against the rules of the service (`docs/TPNS-API.md`): the name, the size, and
/// the rows of a `.txt` or `.csv` file or of a `.zip`'s single entry.
///
/// The file is streamed through a 64 KiB buffer (and a 32 KiB inflate window for a zip): it is
/// never read into memory whole.
///
/// # Errors
///
/// [`CheckError::Invalid`] with the first broken rule and its line (0 for file-level rules),
/// [`CheckError::Io`] if the file cannot be read.
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("tpns-check-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let path = dir.join("accounts.txt");
/// std::fs::write(&path, "alice\nbob\n")?;
/// let report = tpns_transport_std::check_file(&path).unwrap();
/// assert_eq!(report.rows, 2);
///
/// std::fs::write(&path, "alice\n\nbob\n")?;
/// let err = tpns_transport_std::check_file(&path).unwrap_err();
/// assert_eq!(err.to_string(), "line 2: blank line");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn check_file(path: impl AsRef<Path>) -> Result<Report, CheckError> {
    check_file_as(path, None, RowKind::Account)
}

/// [`check_file`] for a package of `kind` (accounts or device tokens), sent under `name` (its
/// rules and its extension apply instead of the path's; `None`: the path's last component).
///
/// # Errors
///
/// As [`check_file`].
pub fn check_file_as(
    path: impl AsRef<Path>,
    name: Option<&str>,
    kind: RowKind,
) -> Result<Report, CheckError> {
    check(path.as_ref(), name, kind, true)
}

/// [`check_file_as`] without the rows: the name, the size, and for a `.zip` its structure (the
/// central directory and the local header, read near the end and the start). [`Report::rows`]
/// is 0: check the rows (and a zip's data) while sending the file, through a
/// [`RowCheckingReader`] or a [`ZipCheckingReader`].
///
/// # Errors
///
/// As [`check_file`].
pub fn check_file_but_rows(
    path: impl AsRef<Path>,
    name: Option<&str>,
    kind: RowKind,
) -> Result<Report, CheckError> {
    check(path.as_ref(), name, kind, false)
}

fn check(path: &Path, name: Option<&str>, kind: RowKind, rows: bool) -> Result<Report, CheckError> {
    let name = match name {
        Some(n) => n.to_owned(),
        None => path_name(path)?,
    };
    let package = package::check_file_name(&name).map_err(|e| invalid(0, Violation::Name(e)))?;
    // Opened without blocking, and refused unless a regular file: a FIFO or a device would
    // stall the check or never end.
    let (file, size) = crate::file::open_regular(path).map_err(CheckError::Io)?;
    let verdict = package::check_size(size).map_err(|e| invalid(0, Violation::Size(e)))?;
    let mut buf = vec![0u8; 64 * 1024];
    let rows = match package.format() {
        Some(_) if !rows => 0,
        Some(format) => match package::validate_rows_as(Io(&file), format, kind, &mut buf) {
            Ok(summary) => summary.rows,
            Err(ValidateError::Io(e)) => return Err(CheckError::Io(e)),
            Err(ValidateError::Row(e)) => return Err(invalid(e.line, Violation::Rows(e.rule))),
            // The buffer is 64 KiB: too small it cannot be. A future variant is reported as a
            // read failure rather than hidden.
            Err(other) => return Err(CheckError::Io(io::Error::other(other.to_string()))),
        },
        None if !rows => {
            package::inspect_zip(&mut Io(&file), &mut buf).map_err(zip_error)?;
            0
        }
        None => {
            let mut reader = Io(&file);
            let mut window = zip_window();
            package::inspect_zip(&mut reader, &mut buf)
                .and_then(|entry| {
                    package::validate_zip_rows_as(&mut reader, &entry, kind, &mut window, &mut buf)
                })
                .map_err(zip_error)?
                .rows
        }
    };
    Ok(Report {
        file_name: name,
        kind: package,
        size,
        rows,
        size_warning: verdict == SizeVerdict::OkWithWarning,
    })
}

/// The error a [`RowCheckingReader`] or a [`ZipCheckingReader`] fails with when the package
/// breaks a rule: the first broken rule and its line (0 for a zip's damaged data). It travels
/// inside an [`io::Error`] of kind [`InvalidData`](io::ErrorKind::InvalidData);
/// [`broken_while_sending`] finds it in an upload's error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokenWhileSending(pub Invalid);

impl fmt::Display for BrokenWhileSending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for BrokenWhileSending {}

/// The broken rule that stopped an upload through a [`RowCheckingReader`] or a
/// [`ZipCheckingReader`], if that is what stopped it. The upload was cut before the body's
/// closing delimiter: nothing was stored.
pub fn broken_while_sending(e: &crate::Error) -> Option<Invalid> {
    match e {
        crate::Error::Exchange(tpns_core::upload::UploadError::Source(BodyError::Source {
            error,
            ..
        })) => error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<BrokenWhileSending>())
            .map(|b| b.0),
        _ => None,
    }
}

fn broken(line: u64, violation: Violation) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        BrokenWhileSending(Invalid { line, violation }),
    )
}

/// A package source that checks the rows of a `.txt` or `.csv` package as they are read: the
/// one-pass upload. Hand it to [`Client::upload_reader_with`](crate::Client::upload_reader_with)
/// (by `&mut`, to read [`CheckingRead::summary`] afterwards).
///
/// The first broken rule fails the read that brought it ([`BrokenWhileSending`] in an
/// `io::Error`),
/// so that row is never sent; the last row is judged when the source ends, which the upload
/// reads before it sends the body's closing delimiter. Either way the server gets a body cut
/// short and stores nothing. Seeking back to where the reader started (as each retry does)
/// starts the check again; seeking anywhere else is refused.
#[derive(Debug)]
pub struct RowCheckingReader<R> {
    inner: R,
    start: u64,
    validator: RowValidator,
    summary: Option<RowSummary>,
}

impl<R: io::Read + io::Seek> RowCheckingReader<R> {
    /// Checks `inner`, from its current position to its end, as a package of `kind` in
    /// `format`.
    ///
    /// # Errors
    ///
    /// The position of `inner` cannot be read.
    pub fn new(mut inner: R, format: Format, kind: RowKind) -> io::Result<Self> {
        let start = inner.stream_position()?;
        Ok(RowCheckingReader {
            inner,
            start,
            validator: RowValidator::with_kind(format, kind),
            summary: None,
        })
    }
}

impl<R: io::Read> io::Read for RowCheckingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        let broken = |e: RowError| broken(e.line, Violation::Rows(e.rule));
        if n > 0 {
            self.validator.feed(&buf[..n]).map_err(broken)?;
        } else if self.summary.is_none() {
            self.summary = Some(self.validator.finish().map_err(broken)?);
        }
        Ok(n)
    }
}

impl<R: io::Seek> io::Seek for RowCheckingReader<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let (at, restart) = seek_to_start(&mut self.inner, self.start, pos, "row-checking")?;
        if restart {
            self.validator =
                RowValidator::with_kind(self.validator.format(), self.validator.kind());
            self.summary = None;
        }
        Ok(at)
    }
}

/// A zip package as a source that checks its entry while it is read, in one pass: the zip's
/// [`RowCheckingReader`]. The structure is inspected when it is made (the central directory and
/// the local header); then the entry's data is inflated as it passes, and its size, CRC-32 and
/// rows are judged when the archive ends, which the upload reads before it sends the body's
/// closing delimiter. A bad archive is cut short: nothing is stored. Memory: deflate's state
/// and its 32 KiB window, on the heap.
#[derive(Debug)]
pub struct ZipCheckingReader<R> {
    inner: R,
    start: u64,
    entry: package::ZipEntry,
    kind: RowKind,
    check: Option<Box<ZipStreamCheck<Box<[u8; ZIP_WINDOW]>>>>,
    summary: Option<RowSummary>,
}

impl<R: io::Read + io::Seek> ZipCheckingReader<R> {
    /// Inspects the zip `inner` (from its current position, which must be the archive's
    /// start) and gets ready to check its entry as rows of `kind`.
    ///
    /// # Errors
    ///
    /// The archive cannot be read, or its structure breaks a rule ([`BrokenWhileSending`] in
    /// an [`io::Error`] of kind [`InvalidData`](io::ErrorKind::InvalidData)).
    pub fn new(mut inner: R, kind: RowKind) -> io::Result<Self> {
        let start = inner.stream_position()?;
        let mut scratch = vec![0u8; 4096];
        let entry = match package::inspect_zip(&mut Io(&mut inner), &mut scratch) {
            Ok(entry) => entry,
            Err(e) => {
                return Err(match zip_error(e) {
                    CheckError::Io(e) => e,
                    CheckError::Invalid(i) => broken(i.line, i.violation),
                });
            }
        };
        inner.seek(io::SeekFrom::Start(start))?;
        Ok(ZipCheckingReader {
            check: Some(Box::new(ZipStreamCheck::new(entry, kind, zip_window()))),
            inner,
            start,
            entry,
            kind,
            summary: None,
        })
    }
}

/// A zip error found while sending, as the `io::Error` the upload carries.
fn broken_zip(e: ZipError<core::convert::Infallible>) -> io::Error {
    match e {
        ZipError::Io(never) => match never {},
        ZipError::Row(e) => broken(e.line, Violation::Rows(e.rule)),
        ZipError::Archive(rule) => broken(0, Violation::Zip(rule)),
        // The streaming check brings its own scratch; any other error is a broken archive.
        _ => broken(0, Violation::Zip(ZipRule::CorruptData)),
    }
}

impl<R: io::Read> io::Read for ZipCheckingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(check) = self.check.as_mut() {
                check.feed(&buf[..n]).map_err(broken_zip)?;
            }
        } else if let Some(check) = self.check.take() {
            self.summary = Some(check.finish().map_err(broken_zip)?);
        }
        Ok(n)
    }
}

impl<R: io::Seek> io::Seek for ZipCheckingReader<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let (at, restart) = seek_to_start(&mut self.inner, self.start, pos, "zip-checking")?;
        if restart {
            self.check = Some(Box::new(ZipStreamCheck::new(
                self.entry,
                self.kind,
                zip_window(),
            )));
            self.summary = None;
        }
        Ok(at)
    }
}

/// A package source that checks its rows as they are read ([`RowCheckingReader`] for text,
/// [`ZipCheckingReader`] for a zip, whose entry's rows are checked as it is inflated); a
/// caller that picks one at run time holds a `Box<dyn CheckingRead>`.
pub trait CheckingRead: io::Read + io::Seek {
    /// Once the source has been read to its end and every row passed: what it holds.
    fn summary(&self) -> Option<RowSummary>;
}

impl<R: io::Read + io::Seek> CheckingRead for RowCheckingReader<R> {
    fn summary(&self) -> Option<RowSummary> {
        self.summary
    }
}

impl<R: io::Read + io::Seek> CheckingRead for ZipCheckingReader<R> {
    fn summary(&self) -> Option<RowSummary> {
        self.summary
    }
}

/// The one seek a checking reader allows: back to where it started (a retry reads the package
/// again, and the check starts over), or asking where it is (`stream_position`), which changes
/// nothing. Returns the position and whether the check must start over.
fn seek_to_start<S: io::Seek>(
    inner: &mut S,
    start: u64,
    pos: io::SeekFrom,
    what: &str,
) -> io::Result<(u64, bool)> {
    let at = match pos {
        io::SeekFrom::Start(at) => at,
        io::SeekFrom::Current(0) => return Ok((inner.seek(pos)?, false)),
        _ => u64::MAX,
    };
    if at != start {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("a {what} reader only seeks back to its start"),
        ));
    }
    Ok((inner.seek(pos)?, true))
}

/// The file name the service will see for `path`: its last component, in UTF-8.
fn path_name(path: &Path) -> Result<String, CheckError> {
    let name = path.file_name().ok_or_else(|| {
        CheckError::Io(io::Error::new(io::ErrorKind::InvalidInput, "no file name"))
    })?;
    Ok(name
        .to_str()
        .ok_or(invalid(0, Violation::NameNotUtf8))?
        .to_owned())
}

/// The 32 KiB inflate window, on the heap (too big for some threads' stacks).
fn zip_window() -> Box<[u8; ZIP_WINDOW]> {
    vec![0u8; ZIP_WINDOW]
        .into_boxed_slice()
        .try_into()
        .expect("ZIP_WINDOW bytes")
}

/// What [`check_file_each`] found in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Violations reported, file-level ones included.
    pub violations: u64,
    /// Rows that follow every rule.
    pub rows: u64,
    /// Rows (lines) that broke a rule.
    pub bad_rows: u64,
    /// The size is above 10^8 bytes but within 100 MiB (see [`Report::size_warning`]).
    pub size_warning: bool,
}

/// Checks a package like [`check_file_as`] but reports *every* violation to `on_violation`, in
/// file order, instead of stopping at the first: each bad row, with its line. A file-level
/// violation (name, size, zip structure, empty file) ends the check of that file: what follows
/// it cannot be judged. The package is valid when the returned [`Tally`] counts no violation.
///
/// A file whose rows break a rule is read a second time: the first pass, [`check_file_as`],
/// settles the name, the size and a zip's structure and CRC (so that a damaged archive is never
/// reported as bad rows); the second lists the rows. Memory is as for [`check_file`].
///
/// # Errors
///
/// The file cannot be read.
pub fn check_file_each(
    path: impl AsRef<Path>,
    kind: RowKind,
    mut on_violation: impl FnMut(Invalid),
) -> io::Result<Tally> {
    let path = path.as_ref();
    let mut tally = Tally::default();
    let mut file_level = |violation, tally: &mut Tally| {
        tally.violations += 1;
        on_violation(Invalid { line: 0, violation });
    };
    // The first pass is the stop-at-the-first-error check: it settles everything but the rows.
    let report = match check_file_as(path, None, kind) {
        Ok(report) => report,
        Err(CheckError::Io(e)) => return Err(e),
        Err(CheckError::Invalid(e)) if !e.is_row() => {
            file_level(e.violation, &mut tally);
            return Ok(tally);
        }
        Err(CheckError::Invalid(_)) => return each_row(path, kind, &mut on_violation),
    };
    tally.rows = report.rows;
    tally.size_warning = report.size_warning;
    Ok(tally)
}

/// The second pass of [`check_file_each`] over a file whose only violations are in its rows.
fn each_row(
    path: &Path,
    kind: RowKind,
    on_violation: &mut impl FnMut(Invalid),
) -> io::Result<Tally> {
    let name = path_name(path).map_err(|_| io::Error::other("the file name changed"))?;
    let package = package::check_file_name(&name).map_err(io::Error::other)?;
    let (file, size) = crate::file::open_regular(path)?;
    let mut tally = Tally {
        size_warning: package::check_size(size) == Ok(SizeVerdict::OkWithWarning),
        ..Tally::default()
    };
    let mut report = |e: package::RowError| {
        tally.violations += 1;
        on_violation(Invalid {
            line: e.line,
            violation: Violation::Rows(e.rule),
        });
    };
    let mut buf = vec![0u8; 64 * 1024];
    let counted = match package.format() {
        Some(format) => {
            let mut v = RowValidator::with_kind(format, kind);
            let mut reader = Io(&file);
            loop {
                let n = match embedded_io::Read::read(&mut reader, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                v.feed_each(&buf[..n], &mut report);
            }
            v.finish_each(&mut report)
        }
        None => {
            let mut reader = Io(&file);
            let mut window = zip_window();
            let entry = package::inspect_zip(&mut reader, &mut buf).map_err(zip_io_error)?;
            let mut v = RowValidator::with_kind(entry.format, kind);
            let mut inbuf = vec![0u8; 16 * 1024];
            package::read_zip_text(&mut reader, &entry, &mut window, &mut inbuf, |text| {
                v.feed_each(text, &mut report)
            })
            .map_err(zip_io_error)?;
            v.finish_each(&mut report)
        }
    };
    tally.rows = counted.rows;
    tally.bad_rows = counted.bad_rows;
    Ok(tally)
}

/// A zip that failed on the second read, after passing the first: it changed in between.
fn zip_io_error(e: ZipError<io::Error>) -> io::Error {
    match e {
        ZipError::Io(e) => e,
        other => io::Error::other(format!("the zip changed while it was read: {other}")),
    }
}

fn zip_error(e: ZipError<io::Error>) -> CheckError {
    match e {
        ZipError::Io(e) => CheckError::Io(e),
        ZipError::Row(e) => invalid(e.line, Violation::Rows(e.rule)),
        ZipError::Archive(rule) => invalid(0, Violation::Zip(rule)),
        // The buffers here are 64 KiB: the reader's minimum is far below. A future variant is
        // reported as a read failure rather than hidden.
        other => CheckError::Io(io::Error::other(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn corpus(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/packages")
            .join(name)
    }

    fn violation(path: &Path) -> (u64, Violation) {
        match check_file(path) {
            Err(CheckError::Invalid(e)) => (e.line, e.violation),
            other => panic!("{}: {other:?}", path.display()),
        }
    }

    /// Each corpus file breaks its rule as a whole (line 0), not in a row.
    fn assert_whole_file_violations(cases: &[(&str, Violation)]) {
        for (file, rule) in cases {
            assert_eq!(violation(&corpus(file)), (0, *rule), "{file}");
        }
    }

    #[test]
    fn zips_are_inspected_and_their_rows_checked() {
        let r = check_file(corpus("good_deflate.zip")).unwrap();
        assert_eq!((r.kind, r.size_warning), (PackageKind::Zip, false));
        assert!(r.rows > 0);
        assert_whole_file_violations(&[
            ("macos.zip", Violation::Zip(ZipRule::MacMetadata)),
            ("not_a_zip.zip", Violation::Zip(ZipRule::NotZip)),
        ]);
        let (line, v) = violation(&corpus("bad_row.zip"));
        assert!(line > 0 && matches!(v, Violation::Rows(_)), "{line} {v:?}");
    }

    #[test]
    fn names_sizes_and_unreadable_paths() {
        assert_whole_file_violations(&[
            ("accounts.xlsx", Violation::Name(NameError::Extension)),
            ("empty.txt", Violation::Size(SizeError::Empty)),
        ]);
        assert!(matches!(
            check_file(corpus("no-such-file.txt")),
            Err(CheckError::Io(_))
        ));
        // A directory with a package's name is not a package.
        let dir = std::env::temp_dir().join(format!("tpns-check-{}.txt", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(check_file(&dir), Err(CheckError::Io(_))));
        std::fs::remove_dir(&dir).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let name = std::ffi::OsStr::from_bytes(b"bad\xff.txt");
            assert_eq!(violation(Path::new(name)), (0, Violation::NameNotUtf8));
        }
    }

    /// Every violation of a file, as (line, text).
    fn each(path: &Path, kind: RowKind) -> (Vec<(u64, String)>, Tally) {
        let mut found = Vec::new();
        let tally = check_file_each(path, kind, |e| {
            found.push((e.line, e.violation.to_string()))
        })
        .unwrap();
        (found, tally)
    }

    #[test]
    fn every_violation_is_reported_and_file_level_ones_end_the_check() {
        let (found, tally) = each(&corpus("quoted_newline.csv"), RowKind::Account);
        assert_eq!(
            found,
            [
                (1, "unterminated quote".to_owned()),
                (2, "quote in unquoted field".to_owned())
            ]
        );
        assert_eq!((tally.violations, tally.rows, tally.bad_rows), (2, 0, 2));
        // The zip's rows, on the second pass, with the entry's lines.
        let (found, tally) = each(&corpus("bad_row.zip"), RowKind::Account);
        assert_eq!(found, [(3, "row shorter than 2 characters".to_owned())]);
        assert_eq!((tally.violations, tally.rows, tally.bad_rows), (1, 3, 1));
        // File-level: one violation, line 0, nothing else read.
        let (found, tally) = each(&corpus("macos.zip"), RowKind::Account);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0, tally.violations, tally.rows), (0, 1, 0));
        // Valid: no violation, the rows counted.
        let (found, tally) = each(&corpus("good_deflate.zip"), RowKind::Account);
        assert!(found.is_empty());
        assert_eq!((tally.violations, tally.rows), (0, 200));
        // The same file by the token rules: every row is bad.
        let (found, tally) = each(&corpus("good_deflate.zip"), RowKind::Token);
        assert_eq!((found.len() as u64, tally.bad_rows), (200, 200));
        assert!(check_file_each(corpus("no-such-file.txt"), RowKind::Account, |_| {}).is_err());
    }

    #[test]
    fn a_name_given_replaces_the_path_s_name() {
        // The rules of the name given apply, and its extension decides the format.
        let r = check_file_as(
            corpus("two_columns.csv"),
            Some("list.txt"),
            RowKind::Account,
        )
        .unwrap();
        assert_eq!(
            (r.file_name.as_str(), r.kind, r.rows),
            ("list.txt", PackageKind::Txt, 2)
        );
        let (line, v) = match check_file_as(corpus("plain.csv"), Some("a.xlsx"), RowKind::Account) {
            Err(CheckError::Invalid(e)) => (e.line, e.violation),
            other => panic!("{other:?}"),
        };
        assert_eq!((line, v), (0, Violation::Name(NameError::Extension)));
    }

    #[test]
    fn a_size_above_10_pow_8_is_accepted_with_a_warning() {
        let dir = std::env::temp_dir().join(format!("tpns-check-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.txt");
        // Just above 10^8 bytes. The rows are checked, so the file cannot be sparse.
        let row = format!("{}\n", "a".repeat(99));
        let rows = 100_000_000 / row.len() as u64 + 1;
        {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            for _ in 0..rows {
                std::io::Write::write_all(&mut w, row.as_bytes()).unwrap();
            }
        }
        let r = check_file(&path).unwrap();
        assert!(r.size > 100_000_000 && r.size_warning, "{r:?}");
        assert_eq!(r.rows, rows);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The one-pass reader: counts the rows of a valid package, fails the read that brings a
    /// broken row (or the end of the text, for a broken last row), starts again on a rewind,
    /// and refuses any other seek.
    #[test]
    fn the_row_checking_reader_checks_as_it_reads() {
        use std::io::{Cursor, Read, Seek, SeekFrom};
        let drain = |r: &mut RowCheckingReader<Cursor<&[u8]>>| -> io::Result<Vec<u8>> {
            let mut out = Vec::new();
            let mut buf = [0u8; 3];
            loop {
                match r.read(&mut buf)? {
                    0 => return Ok(out),
                    n => out.extend_from_slice(&buf[..n]),
                }
            }
        };
        let broken = |e: io::Error| {
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            let r = e
                .get_ref()
                .and_then(|i| i.downcast_ref::<BrokenWhileSending>())
                .copied();
            r.map(|r| (r.0.line, r.0.violation))
        };
        let mut ok = RowCheckingReader::new(
            Cursor::new(&b"alice\nbob"[..]),
            Format::Txt,
            RowKind::Account,
        )
        .unwrap();
        assert_eq!(drain(&mut ok).unwrap(), b"alice\nbob");
        assert_eq!(ok.summary().map(|s| s.rows), Some(2));
        // A retry rewinds: the check starts again and ends the same.
        assert_eq!(ok.seek(SeekFrom::Start(0)).unwrap(), 0);
        assert_eq!(ok.summary(), None);
        assert_eq!(drain(&mut ok).unwrap(), b"alice\nbob");
        assert_eq!(ok.summary().map(|s| s.rows), Some(2));
        assert_eq!(
            ok.seek(SeekFrom::Start(2)).unwrap_err().kind(),
            io::ErrorKind::Unsupported
        );
        for (text, want) in [
            (
                &b"alice\nb\nbob\n"[..],
                (2, Violation::Rows(RowRule::TooShort)),
            ),
            (
                &b"alice\nbob\nc"[..],
                (3, Violation::Rows(RowRule::TooShort)),
            ),
            (
                &b"a,b\n"[..],
                (1, Violation::Rows(RowRule::MoreThanOneColumn)),
            ),
        ] {
            let mut r =
                RowCheckingReader::new(Cursor::new(text), Format::Csv, RowKind::Account).unwrap();
            assert_eq!(drain(&mut r).map_err(broken).unwrap_err(), Some(want));
            assert_eq!(r.summary(), None);
        }
    }
}
