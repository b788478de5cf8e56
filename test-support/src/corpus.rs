//! The shared package corpus, `tests/packages/`: the files and `cases.tsv`, the verdict the
//! client's checks and the emulator must both give each file (see `tests/packages/README.md`).

use std::path::{Path, PathBuf};

/// Rule texts that the client and the emulator share word for word: where a case's comment
/// starts with one, both must print it.
pub const SHARED_RULES: &[&str] = &[
    "zip must hold exactly one file",
    "zip must not hold folders",
    "zip holds macOS metadata",
    "zip central directory does not match its end record",
    "zip local header does not match the central directory",
    "zip holds data outside its entries and central directory",
    "zip entry name holds a backslash or a colon",
    "zip entry inflates to more than 1 GiB",
];

/// One line of `cases.tsv`.
#[derive(Debug)]
pub struct Case {
    /// The file, in [`dir`].
    pub name: String,
    /// `Ok(rows)` for a valid package, `Err(line)` for a rejection at `line` (0: the file as
    /// a whole).
    pub expected: Result<u64, u64>,
    /// The comment line above the case, which names the rule.
    pub why: String,
}

/// The corpus folder.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/packages")
}

/// Every case of `cases.tsv`, in order; panics on a malformed line, so that a typo in the
/// manifest fails every test that reads it, and on fewer than [`MIN_CASES`] cases, so that a
/// truncated manifest does too.
pub fn cases() -> Vec<Case> {
    let tsv = std::fs::read_to_string(dir().join("cases.tsv")).expect("read cases.tsv");
    let mut cases = Vec::new();
    let mut why = String::new();
    for line in tsv.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            why = comment.trim().to_string();
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4, "bad line in cases.tsv: {line:?}");
        let expected = match (cols[1], cols[2], cols[3]) {
            ("ok", "-", rows) => Ok(rows.parse().expect("rows")),
            ("reject", line, "-") => Err(line.parse().expect("line")),
            _ => panic!("bad verdict in cases.tsv: {line:?}"),
        };
        cases.push(Case {
            name: cols[0].to_string(),
            expected,
            why: std::mem::take(&mut why),
        });
    }
    assert!(
        cases.len() >= MIN_CASES,
        "cases.tsv looks truncated: {} cases",
        cases.len()
    );
    cases
}

/// Fewer cases than this in `cases.tsv` means the manifest was cut short.
pub const MIN_CASES: usize = 60;
