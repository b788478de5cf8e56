//! `tpns upload`: check the package locally and upload it with a progress bar.
//!
//! A package above [`CHECK_FIRST_MAX`] is checked while it is sent, in one pass: the name, the
//! size and a zip's structure first, then each row (a zip's entry inflated) as it goes out; a
//! broken row or damaged zip data stops the upload before the body's closing delimiter, so the
//! service stores nothing (exit 3). Smaller files, and any file with `--check-first`, are
//! checked whole before the first byte is sent.

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tpns_transport_std::tpns_core::package::MAX_NAME_CHARS;
use tpns_transport_std::{
    CheckError, CheckingRead, Event, Report, RowCheckingReader, RowKind, Uploaded,
    ZipCheckingReader, broken_while_sending, check_file_as, check_file_but_rows, open_regular,
};

use crate::fail::{Failure, INVALID, USAGE};
use crate::settings::Settings;
use crate::term;

/// What to send and how to report.
#[derive(Debug, Clone)]
pub struct Options {
    /// One JSON object on stdout instead of the bare uploadId.
    pub json: bool,
    /// A progress bar on stderr (drawn only when stderr is a terminal).
    pub progress: bool,
    /// Accounts or device tokens: the rows are checked by this kind's rules.
    pub kind: RowKind,
    /// The file name the service sees (`--name`), instead of the path's last component.
    pub name: Option<String>,
    /// Check every row before sending anything, whatever the size (`--check-first`).
    pub check_first: bool,
}

/// Packages up to this size (1 MiB) are checked whole before sending: the second read costs
/// little, and an invalid one then sends nothing at all. Larger ones are checked while they
/// are sent, in one pass.
pub const CHECK_FIRST_MAX: u64 = 1 << 20;

/// What an upload did (read by `demo`).
#[derive(Debug)]
#[cfg_attr(not(feature = "demo"), allow(dead_code))]
pub struct Outcome {
    pub report: Report,
    pub uploaded: Uploaded,
}

/// Checks `file`, uploads it and prints the uploadId (or JSON) on `out`.
pub fn run(
    settings: &Settings,
    file: &Path,
    opts: &Options,
    out: &mut dyn Write,
) -> Result<Outcome, Failure> {
    let client = settings.client()?;
    if let Some(name) = &opts.name {
        same_family(file, name)?;
    }
    let head = check_with(file, opts.name.as_deref(), opts.kind, false)?;
    let streamed = !opts.check_first && head.size > CHECK_FIRST_MAX;
    let mut report = if streamed {
        head
    } else {
        check_with(file, opts.name.as_deref(), opts.kind, true)?
    };
    warn(file, &report);
    let bar = progress_bar(report.size, opts.progress);
    let mut attempts = 1;
    let on_event = |event: &Event<'_>| {
        if crate::diag::on() {
            bar.suspend(|| crate::diag::event(event));
        }
        match event {
            Event::Connected { .. } => bar.set_position(0),
            Event::Progress { sent, .. } => bar.set_position(*sent),
            Event::Retrying {
                attempt,
                delay,
                error,
            } => bar.suspend(|| {
                attempts = attempt + 1;
                eprintln!(
                    "tpns: attempt {attempt} failed: {}; retrying in {:.1} s",
                    term::sanitize(&error.to_string()),
                    delay.as_secs_f64()
                );
            }),
            _ => {}
        }
        ControlFlow::Continue(())
    };
    let cannot_read = |e: std::io::Error| {
        Failure::usage(format!(
            "cannot read {}: {}",
            term::path(file),
            term::sanitize(&e.to_string())
        ))
    };
    let result = match (streamed, &opts.name) {
        (false, None) => client.upload_file_with(file, on_event),
        (false, Some(name)) => match open_regular(file) {
            Ok((source, len)) => client.upload_reader_with(source, len, name, on_event),
            Err(e) => {
                bar.finish_and_clear();
                return Err(cannot_read(e));
            }
        },
        (true, _) => {
            let (source, len) = match open_regular(file) {
                Ok(x) => x,
                Err(e) => {
                    bar.finish_and_clear();
                    return Err(cannot_read(e));
                }
            };
            let name = &report.file_name;
            // The structure of a zip was inspected already: only a file changed since then
            // fails to open here.
            let reader: std::io::Result<Box<dyn CheckingRead>> = match report.kind.format() {
                Some(format) => RowCheckingReader::new(source, format, opts.kind)
                    .map(|r| Box::new(r) as Box<dyn CheckingRead>),
                None => ZipCheckingReader::new(source, opts.kind)
                    .map(|r| Box::new(r) as Box<dyn CheckingRead>),
            };
            let mut reader = match reader {
                Ok(reader) => reader,
                Err(e) => {
                    bar.finish_and_clear();
                    return Err(cannot_read(e));
                }
            };
            let result = client.upload_reader_with(&mut reader, len, name, on_event);
            let summary = reader.summary();
            if let Some(summary) = summary {
                report.rows = summary.rows;
            }
            result
        }
    };
    bar.finish_and_clear();
    let uploaded = result.map_err(|e| match broken_while_sending(&e) {
        Some(invalid) => Failure::new(
            INVALID,
            format!(
                "{} (invalid package, found while sending: the upload was stopped before its \
                 end, nothing stored)",
                crate::check::located(&term::path(file), &invalid)
            ),
        ),
        None => Failure::request("upload", &e, attempts),
    })?;
    // The file name is the user's, and can hold a bidi control: `answer` escapes it.
    let json = opts.json.then(|| {
        serde_json::json!({
            "uploadId": uploaded.upload_id,
            "file": report.file_name,
            "size": uploaded.size,
            "rows": report.rows,
            "attempts": uploaded.attempts,
            "elapsedMs": u64::try_from(uploaded.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
    });
    crate::fail::answer(out, json, || uploaded.upload_id.to_string())?;
    Ok(Outcome { report, uploaded })
}

/// The local check before anything is sent, for a package of `kind` sent under `name`
/// (default: the path's last component): exit 3 for an invalid package, 2 for a file that
/// cannot be read. Without `rows`, the rows (and a zip's data) are left out (they are then
/// checked while sending; the report counts 0 rows until then).
///
/// The name is checked as the service will receive it: a `"` is sent as `%22` (see the
/// multipart encoder), so the 100-character limit counts the escaped form. Warnings are
/// [`warn`]'s.
fn check_with(
    file: &Path,
    name: Option<&str>,
    kind: RowKind,
    rows: bool,
) -> Result<Report, Failure> {
    let checked = if rows {
        check_file_as(file, name, kind)
    } else {
        check_file_but_rows(file, name, kind)
    };
    match checked {
        Ok(report) => {
            let sent = &report.file_name;
            let quotes = sent.matches('"').count();
            // Each `"` becomes the three characters `%22`.
            if sent.chars().count() + 2 * quotes > MAX_NAME_CHARS {
                return Err(Failure::new(
                    INVALID,
                    format!(
                        "{}: file name longer than 100 characters once each `\"` is sent as \
                         %22 (invalid package, nothing sent)",
                        term::sanitize(sent)
                    ),
                ));
            }
            Ok(report)
        }
        Err(CheckError::Invalid(e)) => {
            // A name refused is the sent name's fault, whatever the path.
            let shown = match name {
                Some(n) if !e.is_row() => format!("--name {}", term::sanitize(n)),
                _ => term::path(file),
            };
            Err(Failure::new(
                INVALID,
                format!(
                    "{} (invalid package, nothing sent)",
                    crate::check::located(&shown, &e)
                ),
            ))
        }
        Err(CheckError::Io(e)) => Err(Failure::new(
            USAGE,
            format!(
                "cannot read {}: {}",
                term::path(file),
                term::sanitize(&e.to_string())
            ),
        )),
    }
}

/// The warnings about a valid package: a name above 100 bytes, a size above 10^8 bytes.
fn warn(file: &Path, report: &Report) {
    let sent = &report.file_name;
    let bytes = sent.len() + 2 * sent.matches('"').count();
    if bytes > MAX_NAME_CHARS {
        eprintln!(
            "tpns: warning: the file name {} is {bytes} bytes in UTF-8; the limit is 100 \
             characters, and the service may count bytes",
            term::sanitize(sent)
        );
    }
    if report.size_warning {
        eprintln!(
            "tpns: warning: {} is larger than 10^8 bytes; the service may count 100 MB in \
             powers of ten and refuse it",
            term::path(file)
        );
    }
}

/// `--name` must announce the same kind of file as the path: a zip for a `.zip`, text
/// (`.txt`/`.csv`) for anything else. Otherwise the service would read a zip as text or the
/// reverse: a usage error (exit 2).
fn same_family(file: &Path, name: &str) -> Result<(), Failure> {
    let is_zip = |n: &str| {
        n.len() >= 4
            && n.is_char_boundary(n.len() - 4)
            && n[n.len() - 4..].eq_ignore_ascii_case(".zip")
    };
    let local = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if local != is_zip(name) {
        return Err(Failure::usage(format!(
            "--name {} must have the same kind of extension as {} (.zip for a zip, .txt or \
             .csv for text)",
            term::sanitize(name),
            term::path(file)
        )));
    }
    Ok(())
}

fn progress_bar(total: u64, on: bool) -> ProgressBar {
    let target = if on {
        // Hidden by indicatif itself when stderr is not a terminal.
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    if let Ok(style) = ProgressStyle::with_template(
        "{wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta} left",
    ) {
        bar.set_style(style);
    }
    // The ticker is a thread: none when nothing is drawn (it would cost memory for nothing).
    if on && std::io::stderr().is_terminal() {
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    bar
}
