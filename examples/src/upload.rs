//! `tpns upload`: check the package locally, then upload it with a progress bar.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tpns_transport_std::{CheckError, Event, Report, Uploaded, check_file};

use crate::fail::{Failure, INVALID, USAGE};
use crate::settings::Settings;
use crate::term;

/// How to report.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// One JSON object on stdout instead of the bare uploadId.
    pub json: bool,
    /// A progress bar on stderr (drawn only when stderr is a terminal).
    pub progress: bool,
}

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
    let report = check(file)?;
    let bar = progress_bar(report.size, opts.progress);
    let mut attempts = 1;
    let result = client.upload_file_with(file, |event| {
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
    });
    bar.finish_and_clear();
    let uploaded = result.map_err(|e| Failure::request("upload", &e, attempts))?;
    let line = if opts.json {
        let json = serde_json::json!({
            "uploadId": uploaded.upload_id,
            "file": report.file_name,
            "size": uploaded.size,
            "rows": report.rows,
            "attempts": uploaded.attempts,
            "elapsedMs": u64::try_from(uploaded.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
        .to_string();
        // The file name is the user's, and can hold a bidi control.
        term::json(&json)
    } else {
        uploaded.upload_id.to_string()
    };
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::usage(format!("cannot write to stdout: {e}")))?;
    Ok(Outcome { report, uploaded })
}

/// The local check before anything is sent: exit 3 for an invalid package, 2 for a file that
/// cannot be read.
pub fn check(file: &Path) -> Result<Report, Failure> {
    match check_file(file) {
        Ok(report) => {
            if report.size_warning {
                eprintln!(
                    "tpns: warning: {} is larger than 10^8 bytes; the service may count 100 MB \
                     in powers of ten and refuse it",
                    term::path(file)
                );
            }
            Ok(report)
        }
        Err(CheckError::Invalid(e)) => Err(Failure::new(
            INVALID,
            format!(
                "{}:{}: {} (invalid package, nothing sent)",
                term::path(file),
                e.line,
                e.violation
            ),
        )),
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
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
