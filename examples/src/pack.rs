//! `tpns pack`: a `.txt` or `.csv` package into a compliant `.zip` (one deflated entry, no
//! folders), streamed: the package is never held in memory.

use std::fs::{self, File};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};

use tpns_transport_std::{CheckError, check_file};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::fail::{Failure, INVALID, OK};

/// What `pack` was asked to do.
#[derive(Debug)]
pub struct Options {
    /// The `.txt` or `.csv` package.
    pub input: PathBuf,
    /// The `.zip` to write (default: the input with `.zip` for its extension).
    pub output: Option<PathBuf>,
    /// Replace an existing output file.
    pub force: bool,
}

/// Packs `opts.input` and prints one line: the zip, its rows, and the sizes. Returns the exit
/// code: 0 packed, 3 the input breaks the package rules (nothing written), 2 anything else.
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<u8, Failure> {
    let input = &opts.input;
    // The input must be a valid package in its own right: a zip of a bad list is a bad zip.
    let report = match check_file(input) {
        Ok(r) => r,
        Err(CheckError::Invalid(e)) => {
            return Err(Failure::new(
                INVALID,
                format!(
                    "{}:{}: {} (nothing written)",
                    input.display(),
                    e.line,
                    e.violation
                ),
            ));
        }
        Err(CheckError::Io(e)) => {
            return Err(Failure::usage(format!(
                "cannot read {}: {e}",
                input.display()
            )));
        }
    };
    if report.kind == tpns_transport_std::PackageKind::Zip {
        return Err(Failure::usage(format!(
            "{} is a zip already; pack takes a .txt or .csv package",
            input.display()
        )));
    }
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
            output.display()
        )));
    }
    if output.exists() && !opts.force {
        return Err(Failure::usage(format!(
            "{} exists; add --force to replace it",
            output.display()
        )));
    }

    write_zip(input, &report.file_name, &output)
        .map_err(|e| Failure::usage(format!("writing {} failed: {e}", output.display())))?;

    // Read the result back through the same checks an upload runs (structure, inflate, CRC,
    // rows): what `pack` writes, `upload` accepts.
    let packed = check_file(&output).map_err(|e| {
        let _ = fs::remove_file(&output);
        Failure::usage(format!(
            "the written zip does not check out ({e}); removed it"
        ))
    })?;
    let percent = if report.size == 0 {
        100.0
    } else {
        packed.size as f64 * 100.0 / report.size as f64
    };
    writeln!(
        out,
        "{}: {} rows, {} bytes -> {} bytes ({percent:.1}% of the original)",
        output.display(),
        packed.rows,
        report.size,
        packed.size
    )
    .map_err(|e| Failure::usage(format!("writing to stdout failed: {e}")))?;
    Ok(OK)
}

/// Writes the zip through a temporary file beside `output`, renamed into place once complete
/// and synced, so an interrupted `pack` never leaves a half-written zip under the final name.
fn write_zip(input: &Path, entry_name: &str, output: &Path) -> io::Result<()> {
    let dir = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = dir.join(format!(
        ".{}.tpns-pack-{}",
        output
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("package.zip"),
        std::process::id()
    ));
    let result = (|| {
        let mut zip = ZipWriter::new(File::create(&temp)?);
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(0o644);
        zip.start_file(entry_name, options)?;
        // io::copy streams through a small buffer: the package is never in memory whole.
        io::copy(&mut BufReader::new(File::open(input)?), &mut zip)?;
        zip.finish()?.sync_all()?;
        fs::rename(&temp, output)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(|e: io::Error| e)
}
