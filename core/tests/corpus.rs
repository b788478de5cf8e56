//! Runs every case of the shared package corpus (`tests/packages/cases.tsv`) through the client's
//! checks, the way an uploader would: file name, size, then rows (or the zip inspector and the
//! entry's rows). The emulator is tested against the same file.

use embedded_io_adapters::std::FromStd;
use tpns_core::package::{
    Format, PackageKind, RowValidator, SizeError, ValidateError, ZIP_WINDOW, check_file_name,
    check_size, inspect_zip, validate_rows, validate_zip_rows,
};
use tpns_test_support::corpus::{SHARED_RULES, cases, dir as corpus_dir};
use tpns_test_support::random::xorshift;

/// `Ok(rows)` or `Err((line, message))`, the message being the error's `Display` text.
type Verdict = Result<u64, (u64, String)>;

fn judge(name: &str, data: &[u8]) -> Verdict {
    let kind = check_file_name(name).map_err(|e| (0, e.to_string()))?;
    check_size(data.len() as u64).map_err(|e| (0, e.to_string()))?;
    let mut buf = [0u8; 512];
    match kind.format() {
        Some(format) => {
            let whole = validate_rows(data, format, &mut buf).map(|s| s.rows);
            // The verdict must not depend on how the bytes arrive.
            let mut v = RowValidator::new(format);
            let bytewise = data
                .chunks(1)
                .try_for_each(|b| v.feed(b))
                .and_then(|()| v.finish())
                .map(|s| s.rows);
            assert_eq!(
                bytewise,
                whole.map_err(|e| match e {
                    ValidateError::Row(e) => e,
                    other => panic!("{name}: {other:?}"),
                }),
                "{name}: byte-at-a-time differs"
            );
            whole.map_err(|e| match e {
                ValidateError::Row(e) => (e.line, e.to_string()),
                other => panic!("{name}: {other:?}"),
            })
        }
        None => {
            assert_eq!(kind, PackageKind::Zip);
            // A seekable in-memory file (the corpus files are small).
            let mut file = FromStd::new(std::io::Cursor::new(data));
            let mut window = Box::new([0u8; ZIP_WINDOW]);
            inspect_zip(&mut file, &mut buf)
                .and_then(|entry| validate_zip_rows(&mut file, &entry, &mut window, &mut buf))
                .map(|s| s.rows)
                .map_err(|e| (e.line(), e.to_string()))
        }
    }
}

/// Row rule texts shared by the policy, the client and the emulator (the zip rules are the
/// corpus's [`SHARED_RULES`]).
const RULES: &[&str] = &[
    "invalid UTF-8",
    "carriage return not followed by line feed",
    "blank line",
    "row shorter than 2 characters",
    "row longer than 100 characters",
    "empty file",
    "more than one column",
    "quote in unquoted field",
    "text after closing quote",
    "unterminated quote",
];

#[test]
fn every_corpus_case() {
    // `cases` refuses a truncated manifest.
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        let data = std::fs::read(corpus_dir().join(&case.name)).expect(&case.name);
        let got = judge(&case.name, &data);
        let matches = match (&got, &case.expected) {
            (Ok(rows), Ok(expected)) => rows == expected,
            (Err((line, msg)), Err(expected)) => {
                // Where the comment above the case starts with a rule's text, the error must
                // name that rule.
                let rule = case.why.split([':', '(']).next().unwrap_or("").trim();
                line == expected
                    && (!RULES.contains(&rule) && !SHARED_RULES.contains(&rule)
                        || msg.contains(rule))
            }
            _ => false,
        };
        if !matches {
            failures.push(format!(
                "{}: expected {:?} ({}), got {:?}",
                case.name, case.expected, case.why, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "corpus failures:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_corpus_file_is_listed() {
    let listed: std::collections::BTreeSet<String> = cases().into_iter().map(|c| c.name).collect();
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !matches!(
            name.as_str(),
            "cases.tsv" | "fixes.tsv" | "README.md" | "make_corpus.py"
        ) {
            assert!(listed.contains(&name), "{name} is not in cases.tsv");
        }
    }
}

#[test]
fn corpus_is_small() {
    let total: u64 = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(total < 200 * 1024, "corpus is {total} bytes");
}

/// The one case not committed: a file above 100 MiB. Sparse, so it costs no disk.
#[test]
fn file_above_100_mib_is_too_large() {
    let dir = std::env::temp_dir().join(format!("tpns-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge.txt");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(100 * 1024 * 1024 + 1).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(check_file_name("huge.txt"), Ok(PackageKind::Txt));
    assert_eq!(check_size(len), Err(SizeError::TooLarge));
    assert_eq!(check_size(len - 1).map(|_| ()), Ok(()));
}

#[test]
fn formats_follow_extensions() {
    assert_eq!(
        check_file_name("a.TXT").unwrap().format(),
        Some(Format::Txt)
    );
    assert_eq!(
        check_file_name("a.csv").unwrap().format(),
        Some(Format::Csv)
    );
    assert_eq!(check_file_name("a.zip").unwrap().format(), None);
}

/// Every zip of the corpus seeds the `zip` fuzz target, as a copy (`fuzz/seeds/zip/`).
#[test]
fn every_corpus_zip_seeds_the_fuzzer() {
    let seeds = corpus_dir().join("../../fuzz/seeds/zip");
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "zip") {
            let name = path.file_name().unwrap();
            let seed = std::fs::read(seeds.join(name));
            assert!(
                seed.ok() == Some(std::fs::read(&path).unwrap()),
                "{} is not a seed of the zip fuzz target (copy it to fuzz/seeds/zip/)",
                name.to_string_lossy()
            );
        }
    }
}

/// Every corpus zip with a few bytes changed or cut: the inspector never panics (a cheap stand-in
/// for the `zip` fuzz target, which runs only where cargo-fuzz is installed; the client and the
/// emulator are held against each other on such zips in `examples/cli/tests/hostile_zips.rs`).
#[test]
fn mutated_corpus_zips_never_panic() {
    let rounds = if cfg!(miri) { 2 } else { 300 };
    let mut next = xorshift(0x2545_F491_4F6C_DD1Du64);
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "zip") {
            continue;
        }
        let zip = std::fs::read(&path).unwrap();
        for _ in 0..rounds {
            let mut z = zip.clone();
            for _ in 0..1 + next() % 3 {
                let i = (next() % z.len() as u64) as usize;
                z[i] = next() as u8;
            }
            if next().is_multiple_of(4) {
                z.truncate((next() % z.len() as u64) as usize);
            }
            let _ = judge("m.zip", &z);
        }
    }
}
