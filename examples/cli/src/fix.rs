//! `tpns fix`: a clean copy of a `.txt` or `.csv` package, streamed, with a report of every
//! change. Also what `tpns pack --fix` runs on the way into the zip.
//!
//! What is repaired, because its meaning is not in doubt: a leading BOM (dropped), CRLF line
//! ends (LF), blank lines (dropped), RFC 4180 quotes of a one-column CSV (the field becomes its
//! value) and, with `--dedupe`, repeated rows (the first is kept). What is not, because only the
//! user knows what was meant: rows that break a rule once decoded (too short or too long, not a
//! token, invalid UTF-8, a stray CR, a second CSV column or a quote left after unquoting, a
//! malformed quoted field). Those are listed with their lines, and left out only with
//! `--drop-bad`; without it nothing is written.
//!
//! Every row written goes through the core's row validator on the way out (a `Copy` of the
//! validator tries the row first, so a bad row is known before a byte of it is written), and the
//! finished file is read back through the same check as `tpns upload` before it is renamed into
//! place.

use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use tpns_transport_std::tpns_core::package::{
    Format, RowKind, RowRule, RowValidator, check_file_name,
};
use tpns_transport_std::{CheckError, PackageKind, check_file_as, open_regular};

use crate::fail::{Failure, INVALID, OK};
use crate::{pack, term};

/// The longest line kept in memory, in bytes. A valid row is at most 100 characters of at most
/// 4 bytes, 802 bytes as a quoted CSV field with every character a doubled quote; a longer line
/// is too long whatever it holds, so the rest of it is only scanned for its end.
const LINE_CAP: usize = 1024;

/// What `fix` (or `pack --fix`) was asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Accounts or device tokens.
    pub kind: RowKind,
    /// Drop repeated rows.
    pub dedupe: bool,
    /// Leave bad rows out instead of refusing to write.
    pub drop_bad: bool,
    /// How many bad rows to list.
    pub max_errors: u64,
}

/// What `fix` was asked to do.
#[derive(Debug)]
pub struct Options {
    pub input: PathBuf,
    pub output: PathBuf,
    pub force: bool,
    pub rules: Rules,
}

/// A count of one kind of change, and the first line it happened on.
#[derive(Debug, Default, Clone, Copy)]
pub struct Change {
    pub count: u64,
    pub first_line: u64,
}

impl Change {
    fn note(&mut self, line: u64) {
        if self.count == 0 {
            self.first_line = line;
        }
        self.count += 1;
    }
}

/// What a fix did.
#[derive(Debug, Default)]
pub struct Fixed {
    /// Lines read (the last one's line end is optional).
    pub lines: u64,
    /// Rows written.
    pub rows: u64,
    pub bom: bool,
    pub crlf: Change,
    pub blank: Change,
    pub unquoted: Change,
    pub duplicates: Change,
    /// Bad rows (left out with `--drop-bad`).
    pub bad: Change,
    /// The first `max_errors` bad rows: line and rule.
    pub listed: Vec<(u64, RowRule)>,
}

impl Fixed {
    /// The changes, one line each, for the report.
    pub fn changes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.bom {
            out.push("byte order mark dropped".to_owned());
        }
        let mut add = |c: &Change, one: &str, many: &str, done: &str| {
            if c.count > 0 {
                let what = if c.count == 1 { one } else { many };
                out.push(format!(
                    "{} {what} {done} (first: line {})",
                    c.count, c.first_line
                ));
            }
        };
        add(
            &self.crlf,
            "CRLF line end",
            "CRLF line ends",
            "normalised to LF",
        );
        add(&self.blank, "blank line", "blank lines", "dropped");
        add(
            &self.unquoted,
            "quoted CSV field",
            "quoted CSV fields",
            "unquoted",
        );
        add(
            &self.duplicates,
            "duplicate row",
            "duplicate rows",
            "removed",
        );
        add(&self.bad, "bad row", "bad rows", "left out");
        out
    }
}

/// The row format announced by a path's extension (`.txt` or `.csv`), whatever the rest of its
/// name: the input of `fix` need not have a valid package name, only a known format.
pub fn text_format(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?;
    if ext.eq_ignore_ascii_case("txt") {
        Some(Format::Txt)
    } else if ext.eq_ignore_ascii_case("csv") {
        Some(Format::Csv)
    } else {
        None
    }
}

/// Runs `tpns fix`: prints the bad rows (`FILE:LINE: rule`), then the output and the changes.
/// Returns 0 when written, 3 when bad rows remain without `--drop-bad` or no row is left
/// (nothing written), or a usage failure.
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<u8, Failure> {
    let input = &opts.input;
    let Some(in_format) = text_format(input) else {
        return Err(Failure::usage(format!(
            "{}: fix takes a .txt or .csv package (for a zip, fix the text and pack it with \
             `tpns pack --fix`)",
            term::path(input)
        )));
    };
    let out_name = opts
        .output
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| {
            Failure::usage(format!(
                "the output {} has no UTF-8 file name",
                term::path(&opts.output)
            ))
        })?;
    let out_format = match check_file_name(out_name).map(PackageKind::format) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(Failure::usage(format!(
                "the output {} is a zip: use `tpns pack --fix` for a zip",
                term::path(&opts.output)
            )));
        }
        Err(e) => {
            return Err(Failure::usage(format!(
                "the output {}: {e}",
                term::path(&opts.output)
            )));
        }
    };
    if opts.output.exists() && !opts.force {
        return Err(Failure::usage(format!(
            "{} exists; add --force to replace it",
            term::path(&opts.output)
        )));
    }
    let dir = opts
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let written = pack::write_through_temp(dir, "fix", &opts.output, |file, temp| {
        let mut w = BufWriter::new(file);
        let fixed = fix(input, in_format, out_format, &opts.rules, &mut w)?;
        let file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        if !ready(&fixed, &opts.rules) {
            return Ok(((fixed, None), false));
        }
        // Read back as `upload` would read it, under the name the file will have. Every row
        // passed the validator, so only the size can fail here (above 100 MiB).
        match check_file_as(temp, Some(out_name), opts.rules.kind) {
            Ok(_) => Ok(((fixed, None), true)),
            Err(CheckError::Invalid(e)) => Ok(((fixed, Some(e)), false)),
            Err(CheckError::Io(e)) => Err(e),
        }
    });
    let ((fixed, invalid), committed) =
        written.map_err(|e| read_failure(input, &opts.output, e))?;
    if let Some(e) = invalid {
        print_bad(input, &fixed, out)?;
        return Err(Failure::new(
            INVALID,
            format!(
                "{} (the fixed package; nothing written)",
                crate::check::located(&term::path(&opts.output), &e)
            ),
        ));
    }
    report(input, &opts.output, &fixed, &opts.rules, committed, out)
}

/// Whether a fix may be written: no bad row kept, and at least one row.
pub fn ready(fixed: &Fixed, rules: &Rules) -> bool {
    fixed.rows > 0 && (fixed.bad.count == 0 || rules.drop_bad)
}

/// The failure for an I/O error while fixing `input` into `output`.
pub fn read_failure(input: &Path, output: &Path, e: io::Error) -> Failure {
    Failure::usage(format!(
        "fixing {} into {} failed: {}",
        term::path(input),
        term::path(output),
        term::sanitize(&e.to_string())
    ))
}

/// Prints the bad rows and the changes; the exit code for a fix that was (or was not) written.
pub fn report(
    input: &Path,
    output: &Path,
    fixed: &Fixed,
    rules: &Rules,
    committed: bool,
    out: &mut dyn Write,
) -> Result<u8, Failure> {
    print_bad(input, fixed, out)?;
    if !committed {
        return Err(refusal(input, fixed, rules));
    }
    let line = format!(
        "{}: {} rows written from {} lines of {}",
        term::path(output),
        fixed.rows,
        fixed.lines,
        term::path(input)
    );
    print(out, &line)?;
    print_changes(fixed, out)?;
    Ok(OK)
}

fn print(out: &mut dyn Write, line: &str) -> Result<(), Failure> {
    writeln!(out, "{line}").map_err(|e| Failure::usage(format!("writing to stdout failed: {e}")))
}

/// Prints the listed bad rows, `FILE:LINE: rule`, and how many more there are.
pub fn print_bad(input: &Path, fixed: &Fixed, out: &mut dyn Write) -> Result<(), Failure> {
    let name = term::path(input);
    for (line, rule) in &fixed.listed {
        print(out, &format!("{name}:{line}: {rule}"))?;
    }
    if fixed.bad.count > fixed.listed.len() as u64 {
        print(
            out,
            &format!(
                "{name}: {}, the first {} listed",
                crate::check::count(fixed.bad.count, "bad row", "bad rows"),
                fixed.listed.len()
            ),
        )?;
    }
    Ok(())
}

/// Prints each change on its own line, indented (or that none was needed).
pub fn print_changes(fixed: &Fixed, out: &mut dyn Write) -> Result<(), Failure> {
    let changes = fixed.changes();
    if changes.is_empty() {
        print(out, "  no change needed")?;
    }
    for c in changes {
        print(out, &format!("  {c}"))?;
    }
    Ok(())
}

/// Why a fix was not written (exit 3).
pub fn refusal(input: &Path, fixed: &Fixed, rules: &Rules) -> Failure {
    let name = term::path(input);
    let why = if fixed.bad.count > 0 && !rules.drop_bad {
        format!(
            "{name}: {} that fix cannot repair; correct the file, or add --drop-bad to leave them \
             out (nothing written)",
            crate::check::count(fixed.bad.count, "bad row", "bad rows")
        )
    } else {
        format!("{name}: no valid row left (nothing written)")
    };
    Failure::new(INVALID, why)
}

/// A hasher that passes a `u64` through: the set's keys are SipHash values already.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The rows seen, as 64-bit hashes: memory that does not grow with the rows' length (8 bytes
/// and a control byte per slot of a hash table kept at most 7/8 full: 10 to 21 bytes per
/// distinct row, and up to half as much again while the table doubles; measured peak 28 bytes
/// per row for 2 million rows). The hash is SipHash
/// with a key drawn for this run, so no input can be crafted to collide; two different rows
/// share a hash with a chance of about n²/2^65 (10^-6 for 6 million rows), in which case the
/// second would be taken for a duplicate.
struct Seen {
    keys: RandomState,
    set: HashSet<u64, BuildHasherDefault<PassThrough>>,
}

impl Seen {
    fn new() -> Self {
        Seen {
            keys: RandomState::new(),
            set: HashSet::default(),
        }
    }

    /// Whether `value` was seen before; remembers it.
    fn repeat(&mut self, value: &[u8]) -> bool {
        !self.set.insert(self.keys.hash_one(value))
    }
}

/// Streams the package at `input` (`in_format`) into `w` as a clean `out_format` package:
/// one value per line, LF line ends, no BOM, no quotes. Bad rows are counted, listed (up to
/// `max_errors`) and never written; whether the result may be kept is the caller's decision
/// ([`ready`]). Memory: one line of at most [`LINE_CAP`] bytes, the reader's 64 KiB, and with
/// `dedupe` the set of row hashes.
pub fn fix(
    input: &Path,
    in_format: Format,
    out_format: Format,
    rules: &Rules,
    w: &mut dyn Write,
) -> io::Result<Fixed> {
    let (file, _) = open_regular(input)?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut fixed = Fixed::default();
    let mut out = RowValidator::with_kind(out_format, rules.kind);
    let mut seen = rules.dedupe.then(Seen::new);
    let mut line = Vec::with_capacity(LINE_CAP);
    let mut value = Vec::with_capacity(LINE_CAP);
    loop {
        // One line: its bytes up to LINE_CAP, whether it was longer, whether it had an LF.
        line.clear();
        let mut overlong = false;
        let mut ended = false;
        loop {
            let buf = match reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                break;
            }
            let (take, lf) = match buf.iter().position(|&b| b == b'\n') {
                Some(at) => (at, true),
                None => (buf.len(), false),
            };
            let room = LINE_CAP - line.len();
            if take > room {
                overlong = true;
            }
            line.extend_from_slice(&buf[..take.min(room)]);
            reader.consume(take + usize::from(lf));
            if lf {
                ended = true;
                break;
            }
        }
        if !ended && line.is_empty() && !overlong {
            break; // the end of the text (after a final line end, or an empty file)
        }
        let n = fixed.lines + 1;
        let bad = |fixed: &mut Fixed, rule: RowRule| {
            fixed.bad.note(n);
            if (fixed.listed.len() as u64) < rules.max_errors {
                fixed.listed.push((n, rule));
            }
        };
        let mut row = &line[..];
        if n == 1 && row.starts_with(b"\xEF\xBB\xBF") {
            fixed.bom = true;
            row = &row[3..];
        }
        if !ended && row.is_empty() && !overlong {
            break; // only a BOM: no line at all
        }
        fixed.lines = n;
        if overlong {
            let rule = match rules.kind {
                RowKind::Account => RowRule::TooLong,
                RowKind::Token => RowRule::TokenLength,
            };
            bad(&mut fixed, rule);
            continue;
        }
        // A CRLF or quotes count as changes only for rows written: a row left out is a change
        // of its own.
        let mut crlf = false;
        if ended && let Some(r) = row.strip_suffix(b"\r") {
            crlf = true;
            row = r;
        }
        if row.is_empty() {
            fixed.blank.note(n);
            continue;
        }
        value.clear();
        let quoted = in_format == Format::Csv && row.first() == Some(&b'"');
        if quoted {
            if unquote(row, &mut value).is_err() {
                bad(&mut fixed, csv_rule(row, rules.kind));
                continue;
            }
            if value.is_empty() {
                // `""`: a value too short, not a blank line.
                let rule = match rules.kind {
                    RowKind::Account => RowRule::TooShort,
                    RowKind::Token => RowRule::TokenLength,
                };
                bad(&mut fixed, rule);
                continue;
            }
        } else {
            value.extend_from_slice(row);
        }
        // A CR left in the value would pair with the LF written after it into a CRLF the
        // validator accepts: the row would go out with its stray CR.
        if value.contains(&b'\r') {
            bad(&mut fixed, RowRule::CarriageReturn);
            continue;
        }
        // The row as it will be written, tried on a copy of the output's validator.
        let mut trial = out;
        let verdict = trial.feed(&value).and_then(|()| trial.feed(b"\n"));
        if let Err(e) = verdict {
            bad(&mut fixed, e.rule);
            continue;
        }
        if let Some(seen) = seen.as_mut()
            && seen.repeat(&value)
        {
            fixed.duplicates.note(n);
            continue;
        }
        out = trial;
        w.write_all(&value)?;
        w.write_all(b"\n")?;
        fixed.rows += 1;
        if crlf {
            fixed.crlf.note(n);
        }
        if quoted {
            fixed.unquoted.note(n);
        }
    }
    w.flush()?;
    Ok(fixed)
}

/// An RFC 4180 quoted field (`row` starts with `"`) into its value: `""` is one quote, and
/// the closing quote must end the row.
fn unquote(row: &[u8], value: &mut Vec<u8>) -> Result<(), ()> {
    let mut i = 1;
    while i < row.len() {
        if row[i] == b'"' {
            if row.get(i + 1) == Some(&b'"') {
                value.push(b'"');
                i += 2;
                continue;
            }
            // The closing quote: nothing may follow it.
            return if i + 1 == row.len() { Ok(()) } else { Err(()) };
        }
        value.push(row[i]);
        i += 1;
    }
    Err(()) // never closed
}

/// The rule a malformed quoted CSV field breaks, as the validator names it.
fn csv_rule(row: &[u8], kind: RowKind) -> RowRule {
    // After one valid row, so that the field is judged as a line of its own.
    let mut v = RowValidator::with_kind(Format::Csv, kind);
    let prefix: &[u8] = match kind {
        RowKind::Account => b"xx\n",
        RowKind::Token => b"0123456789abcdef0123456789abcdef0123\n",
    };
    match v
        .feed(prefix)
        .and_then(|()| v.feed(row))
        .and_then(|()| v.feed(b"\n"))
    {
        Err(e) => e.rule,
        // Not reached: `unquote` refuses only what the validator refuses.
        Ok(()) => RowRule::UnterminatedQuote,
    }
}
