//! `tpns pack`: a `.txt` or `.csv` package into a compliant `.zip` (one deflated entry, no
//! folders), streamed: the package is never held in memory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};

use tpns_transport_std::tpns_core::package::Format;
use tpns_transport_std::{
    CheckError, PackageKind, Report, RowKind, check_file_as, open_regular, rustls,
};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::fail::{Failure, INVALID, OK};
use crate::{fix, term};

/// What `pack` was asked to do.
#[derive(Debug)]
pub struct Options {
    /// The `.txt` or `.csv` package.
    pub input: PathBuf,
    /// The `.zip` to write (default: the input with `.zip` for its extension).
    pub output: Option<PathBuf>,
    /// Replace an existing output file.
    pub force: bool,
    /// Accounts or device tokens.
    pub kind: RowKind,
    /// Repair the text on the way into the zip (`--fix`), with these rules.
    pub fix: Option<fix::Rules>,
}

/// Packs `opts.input` and prints one line: the zip, its rows, and the sizes (after the bad rows
/// and the changes, with `--fix`). Returns the exit code: 0 packed, 3 the input breaks the
/// package rules (nothing written), 2 anything else.
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<u8, Failure> {
    let input = &opts.input;
    let (entry_name, in_size) = match opts.fix {
        None => {
            // The input must be a valid package in its own right: a zip of a bad list is a
            // bad zip.
            let report = check_input(input, opts.kind)?;
            (report.file_name, report.size)
        }
        Some(_) => {
            // Any text package may go in to be fixed: only its format must be known.
            let name = input.file_name().and_then(|n| n.to_str());
            match (name, fix::text_format(input)) {
                (Some(name), Some(_)) => {
                    let size = fs::metadata(input).map(|m| m.len()).map_err(|e| {
                        Failure::usage(format!(
                            "cannot read {}: {}",
                            term::path(input),
                            term::sanitize(&e.to_string())
                        ))
                    })?;
                    (name.to_owned(), size)
                }
                _ => {
                    return Err(Failure::usage(format!(
                        "{}: pack takes a .txt or .csv package",
                        term::path(input)
                    )));
                }
            }
        }
    };
    let output = opts
        .output
        .clone()
        .unwrap_or_else(|| input.with_extension("zip"));
    if !output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    {
        return Err(Failure::usage(format!(
            "the output {} must end in .zip",
            term::path(&output)
        )));
    }
    if output.exists() && !opts.force {
        return Err(Failure::usage(format!(
            "{} exists; add --force to replace it",
            term::path(&output)
        )));
    }

    let written = write_zip(&entry_name, &output, |zip| match &opts.fix {
        None => {
            // Opened the way the check opened it: a FIFO swapped in since would block here.
            let (source, _) = open_regular(input)?;
            // io::copy streams through a small buffer: the package is never in memory whole.
            io::copy(&mut BufReader::new(source), zip)?;
            Ok((None, true))
        }
        Some(rules) => {
            let format = fix::text_format(input).unwrap_or(Format::Txt);
            let fixed = fix::fix(input, format, format, rules, zip)?;
            let keep = fix::ready(&fixed, rules);
            Ok((Some(fixed), keep))
        }
    });
    let (fixed, kept) = written.map_err(|e| {
        Failure::usage(format!(
            "writing {} failed: {}",
            term::path(&output),
            term::sanitize(&e.to_string())
        ))
    })?;
    if let (Some(fixed), Some(rules)) = (&fixed, &opts.fix) {
        fix::print_bad(input, fixed, out)?;
        if !kept {
            return Err(fix::refusal(input, fixed, rules));
        }
    }

    // Read the result back through the same checks an upload runs (structure, inflate, CRC,
    // rows): what `pack` writes, `upload` accepts.
    let packed = check_file_as(&output, None, opts.kind).map_err(|e| {
        let _ = fs::remove_file(&output);
        Failure::usage(format!(
            "the written zip does not check out ({}); removed it",
            term::sanitize(&e.to_string())
        ))
    })?;
    let percent = if in_size == 0 {
        100.0
    } else {
        packed.size as f64 * 100.0 / in_size as f64
    };
    writeln!(
        out,
        "{}: {} rows, {} bytes -> {} bytes ({percent:.1}% of the original)",
        term::path(&output),
        packed.rows,
        in_size,
        packed.size
    )
    .map_err(|e| Failure::usage(format!("writing to stdout failed: {e}")))?;
    if let Some(fixed) = &fixed {
        fix::print_changes(fixed, out)?;
    }
    Ok(OK)
}

/// The input check without `--fix`: exit 3 for an invalid package, 2 for a zip or an unreadable
/// file.
fn check_input(input: &Path, kind: RowKind) -> Result<Report, Failure> {
    let report = match check_file_as(input, None, kind) {
        Ok(r) => r,
        Err(CheckError::Invalid(e)) => {
            return Err(Failure::new(
                INVALID,
                format!(
                    "{} (nothing written)",
                    crate::check::located(&term::path(input), &e)
                ),
            ));
        }
        Err(CheckError::Io(e)) => {
            return Err(Failure::usage(format!(
                "cannot read {}: {}",
                term::path(input),
                term::sanitize(&e.to_string())
            )));
        }
    };
    if report.kind == PackageKind::Zip {
        return Err(Failure::usage(format!(
            "{} is a zip already; pack takes a .txt or .csv package",
            term::path(input)
        )));
    }
    Ok(report)
}

/// Writes the zip through a temporary file beside `output` (see [`write_through_temp`]).
/// The entry's bytes come from `fill`, which also says whether the zip is to be kept.
fn write_zip<T>(
    entry_name: &str,
    output: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<(T, bool)>,
) -> io::Result<(T, bool)> {
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    write_through_temp(dir, "pack", output, |file, _| {
        let mut zip = ZipWriter::new(file);
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(0o644);
        zip.start_file(entry_name, options)?;
        let (value, keep) = fill(&mut zip)?;
        zip.finish()?.sync_all()?;
        Ok((value, keep))
    })
}

/// Writes `output` through a temporary file in `dir`, renamed into place once `body` has
/// written it (and synced it) and said to keep it, so an interrupted run never leaves a
/// half-written file under the final name. `body` gets the new file and its path.
///
/// The temporary file, `.tpns-<tag>-<32 hex digits>.tmp`, has a random name and is created
/// with `create_new` (`O_CREAT|O_EXCL`, which never follows a symbolic link): in a shared
/// directory, a link planted under a name that will be used cannot redirect the write to
/// another file. A name that exists is never opened, replaced or removed; only the file created
/// here is removed, on failure or when `body` says not to keep it.
pub fn write_through_temp<T>(
    dir: &Path,
    tag: &str,
    output: &Path,
    body: impl FnOnce(File, &Path) -> io::Result<(T, bool)>,
) -> io::Result<(T, bool)> {
    let (file, temp) = create_temp_named(dir, || temp_name(tag))?;
    let result = body(file, &temp).and_then(|(value, keep)| {
        if keep {
            fs::rename(&temp, output)?;
        }
        Ok((value, keep))
    });
    if !matches!(result, Ok((_, true))) {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// How many random names [`create_temp_named`] tries: with 128 random bits a clash is an
/// attack (or a broken generator), not chance, and must not make `pack` loop.
const TEMP_ATTEMPTS: u32 = 8;

/// Creates a new file in `dir` under the first name from `next` that does not exist (a test
/// plants links under the names it gives; otherwise the names are [`temp_name`]s).
fn create_temp_named(
    dir: &Path,
    mut next: impl FnMut() -> io::Result<String>,
) -> io::Result<(File, PathBuf)> {
    for _ in 0..TEMP_ATTEMPTS {
        let path = dir.join(next()?);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{TEMP_ATTEMPTS} random temporary names in a row exist already"),
    ))
}

/// A random temporary file name, `.tpns-<tag>-<32 hex digits>.tmp`: 16 bytes from the CSPRNG
/// (through ring, as the client's multipart boundary), in hex.
fn temp_name(tag: &str) -> io::Result<String> {
    let mut bytes = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| io::Error::other("the system's random number generator failed"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(".tpns-{tag}-{hex}.tmp"))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;

    /// A fresh directory holding a file `victim` outside the planted names.
    fn setup(tag: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("tpns-pack-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        fs::write(&victim, b"untouched").unwrap();
        (dir, victim)
    }

    #[test]
    fn temp_names_are_random_and_hidden() {
        let (a, b) = (temp_name("pack").unwrap(), temp_name("pack").unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(".tpns-pack-") && a.ends_with(".tmp"), "{a}");
        assert_eq!(a.len(), ".tpns-pack-".len() + 32 + ".tmp".len());
    }

    #[test]
    fn a_planted_link_is_skipped_never_followed() {
        let (dir, victim) = setup("skip");
        let names = [
            ".tpns-pack-aaaa.tmp",
            ".tpns-pack-bbbb.tmp",
            ".tpns-pack-cccc.tmp",
        ];
        for n in &names[..2] {
            std::os::unix::fs::symlink(&victim, dir.join(n)).unwrap();
        }
        let mut given = names.iter();
        let (mut file, path) =
            create_temp_named(&dir, || Ok(given.next().unwrap().to_string())).unwrap();
        file.write_all(b"zip bytes").unwrap();
        assert_eq!(path, dir.join(names[2]));
        assert_eq!(fs::read(&victim).unwrap(), b"untouched");
        for n in &names[..2] {
            let meta = fs::symlink_metadata(dir.join(n)).unwrap();
            assert!(
                meta.file_type().is_symlink(),
                "the planted link {n} is left alone"
            );
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_that_all_exist_are_an_error_not_a_loop() {
        let (dir, victim) = setup("all");
        std::os::unix::fs::symlink(&victim, dir.join(".tpns-pack-x.tmp")).unwrap();
        let mut calls = 0;
        let e = create_temp_named(&dir, || {
            calls += 1;
            Ok(".tpns-pack-x.tmp".to_owned())
        })
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(calls, TEMP_ATTEMPTS);
        assert_eq!(fs::read(&victim).unwrap(), b"untouched");
        fs::remove_dir_all(&dir).unwrap();
    }
}
