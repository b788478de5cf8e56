//! `tpns check`: the package rules, checked locally, every violation listed.

use std::io::Write;
use std::path::PathBuf;

use tpns_transport_std::{Invalid, RowKind, check_file_each};

use crate::fail::{INVALID, OK, USAGE};
use crate::term;

/// `FILE:LINE: rule` for a row, `FILE: rule` for the whole file (name, size, zip structure,
/// empty file): a file-level violation has no line.
pub fn located(name: &str, e: &Invalid) -> String {
    if e.is_row() {
        format!("{name}:{}: {}", e.line, e.violation)
    } else {
        format!("{name}: {}", e.violation)
    }
}

/// `n` and the noun for it: `1 row`, `2 rows`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Violations of one file, counted by rule in the order they first appear.
#[derive(Default)]
struct Counts(Vec<(String, u64)>);

impl Counts {
    fn add(&mut self, rule: String) {
        match self.0.iter_mut().find(|(r, _)| *r == rule) {
            Some((_, n)) => *n += 1,
            None => self.0.push((rule, 1)),
        }
    }
}

/// Checks each file as a package of `kind` and prints, on `out`, `FILE: ok` or each violation
/// (`FILE:LINE: rule`, or `FILE: rule` for a file-level one) up to `max_errors` per file; then,
/// when a file has more than one violation or some were not shown, one summary line:
/// `FILE: N violations in R rows (rule: n; rule: n)`, with `; the first M shown` when cut.
/// Returns the exit code: 0 when all are valid, 3 when one is invalid, 2 when one cannot be
/// read.
pub fn run(files: &[PathBuf], kind: RowKind, max_errors: u64, out: &mut dyn Write) -> u8 {
    let mut code = OK;
    for file in files {
        let name = term::path(file);
        let mut lines = Vec::new();
        let mut counts = Counts::default();
        let mut shown = 0u64;
        let mut broken = false;
        // Printed as found: a file of a million bad rows is never listed in memory.
        let result = check_file_each(file, kind, |e| {
            counts.add(e.violation.to_string());
            if shown < max_errors {
                shown += 1;
                broken |= writeln!(out, "{}", located(&name, &e)).is_err();
            }
        });
        if broken {
            return USAGE;
        }
        match result {
            Ok(tally) if tally.violations == 0 => {
                if tally.size_warning {
                    eprintln!(
                        "tpns: warning: {name} is larger than 10^8 bytes; the service may \
                         count 100 MB in powers of ten and refuse it"
                    );
                }
                lines.push(format!("{name}: ok"));
            }
            Ok(tally) => {
                if code == OK {
                    code = INVALID;
                }
                if tally.violations > 1 || shown < tally.violations {
                    let by_rule: Vec<String> = counts
                        .0
                        .iter()
                        .map(|(rule, n)| format!("{rule}: {n}"))
                        .collect();
                    let mut summary = format!(
                        "{name}: {} in {} ({})",
                        count(tally.violations, "violation", "violations"),
                        count(tally.bad_rows, "row", "rows"),
                        by_rule.join("; ")
                    );
                    if shown < tally.violations {
                        summary.push_str(&format!("; the first {shown} shown"));
                    }
                    lines.push(summary);
                }
            }
            Err(e) => {
                code = USAGE;
                lines.push(format!(
                    "{name}: cannot read the file: {}",
                    term::sanitize(&e.to_string())
                ));
            }
        }
        for line in lines {
            if writeln!(out, "{line}").is_err() {
                return USAGE;
            }
        }
    }
    code
}
