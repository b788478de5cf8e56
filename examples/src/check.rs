//! `tpns check`: the package rules, checked locally.

use std::io::Write;
use std::path::PathBuf;

use tpns_transport_std::{CheckError, check_file};

use crate::fail::{INVALID, OK, USAGE};
use crate::term;

/// Checks each file and prints `FILE: ok` or `FILE:LINE: rule` on `out`. Returns the exit
/// code: 0 when all are valid, 3 when one is invalid, 2 when one cannot be read.
pub fn run(files: &[PathBuf], out: &mut dyn Write) -> u8 {
    let mut code = OK;
    for file in files {
        let name = term::path(file);
        let line = match check_file(file) {
            Ok(report) => {
                if report.size_warning {
                    eprintln!(
                        "tpns: warning: {name} is larger than 10^8 bytes; the service may \
                         count 100 MB in powers of ten and refuse it"
                    );
                }
                format!("{name}: ok")
            }
            Err(CheckError::Invalid(e)) => {
                if code == OK {
                    code = INVALID;
                }
                format!("{name}:{}: {}", e.line, e.violation)
            }
            Err(CheckError::Io(e)) => {
                code = USAGE;
                format!(
                    "{name}: cannot read the file: {}",
                    term::sanitize(&e.to_string())
                )
            }
        };
        if writeln!(out, "{line}").is_err() {
            return USAGE;
        }
    }
    code
}
