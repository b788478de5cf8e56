//! The package policy through the real `tpns` binary: token packages, every violation listed
//! with counts, file-level violations without a line, `fix` on the shared corpus (and
//! `--dedupe`, `--drop-bad`), `pack --fix`, and `upload --name` against the emulator.

mod common;

use std::io::Read;
use std::path::Path;

use common::{GENEROUS, Run, run, tpns_command};
use tpns_test_support::corpus::dir as corpus_dir;
use tpns_test_support::{Emu, SECRET, TempDir};

fn tpns_in(dir: Option<&Path>, args: &[&str]) -> Run {
    let mut cmd = tpns_command();
    cmd.args(args);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let run = run(&mut cmd, GENEROUS);
    run.assert_hides(&[SECRET], &args);
    run
}

fn tpns(args: &[&str]) -> Run {
    tpns_in(None, args)
}

/// A device token: 36 characters of the token alphabet, distinct for each `i`.
fn token(i: u32) -> String {
    format!("{i:08x}-0000-4000-8000-{:012X}", u64::from(i) * 7919)
}

#[test]
fn check_kind_token_accepts_tokens_and_names_each_bad_row() {
    let dir = TempDir::new("token");
    let good: String = (0..50).map(|i| token(i) + "\n").collect();
    let good = dir.write("devices.txt", good.as_bytes());
    let run = tpns(&["check", "--kind", "token", &good]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, format!("{good}: ok\n").as_str())
    );
    // The same file is a valid account package too (36 characters are 2..=100).
    assert_eq!(tpns(&["check", &good]).code, 0);

    let short = &token(2)[1..];
    let bad = format!(
        "{}\n{short}\n{}x\n{}_\n\"{}\"\n",
        token(1),
        token(3),
        &token(4)[1..],
        token(5)
    );
    let txt = dir.write("devices-bad.txt", bad.as_bytes());
    let run = tpns(&["check", "--kind", "token", &txt]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "{txt}:2: token not 36 characters long\n\
             {txt}:3: token not 36 characters long\n\
             {txt}:4: token character other than A-Z, a-z, 0-9 or -\n\
             {txt}:5: token character other than A-Z, a-z, 0-9 or -\n\
             {txt}: 4 violations in 4 rows (token not 36 characters long: 2; token character \
             other than A-Z, a-z, 0-9 or -: 2)\n"
        )
    );
    // As a .csv, the quoted token on line 5 is a token once decoded.
    let csv = dir.write("devices-bad.csv", bad.as_bytes());
    let run = tpns(&["check", "--kind", "token", &csv]);
    assert_eq!(run.code, 3);
    assert!(
        run.stdout
            .contains(&format!("{csv}: 3 violations in 3 rows")),
        "{run:?}"
    );
    assert!(!run.stdout.contains(":5:"), "{run:?}");

    // A zip of tokens, packed with the token rules, is checked by them too.
    let zip = dir.file("devices.zip");
    let run = tpns(&["pack", "--kind", "token", &good, "-o", &zip]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(tpns(&["check", "--kind", "token", &zip]).code, 0);
    let accounts = dir.write("accounts.txt", b"alice\nbob\n");
    let run = tpns(&[
        "pack",
        "--kind",
        "token",
        &accounts,
        "-o",
        &dir.file("a.zip"),
    ]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "{accounts}:1: token not 36 characters long (nothing written)"
        )),
        "{run:?}"
    );
}

#[test]
fn check_lists_violations_up_to_max_errors_then_counts_them() {
    let dir = TempDir::new("max");
    // 30 bad rows among good ones: 25 too short, 5 blank.
    let mut text = String::new();
    for i in 0..30 {
        text.push_str("account\n");
        text.push_str(if i % 6 == 5 { "\n" } else { "x\n" });
    }
    let file = dir.write("many.txt", text.as_bytes());
    let run = tpns(&["check", &file]);
    assert_eq!(run.code, 3, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 21, "{run:?}");
    for (i, l) in lines[..20].iter().enumerate() {
        let line = 2 * (i + 1);
        let rule = if i % 6 == 5 {
            "blank line"
        } else {
            "row shorter than 2 characters"
        };
        assert_eq!(*l, format!("{file}:{line}: {rule}"));
    }
    assert_eq!(
        lines[20],
        format!(
            "{file}: 30 violations in 30 rows (row shorter than 2 characters: 25; \
             blank line: 5); the first 20 shown"
        )
    );
    let run = tpns(&["check", "--max-errors", "2", &file]);
    assert_eq!(run.code, 3);
    assert_eq!(run.stdout.lines().count(), 3, "{run:?}");
    assert!(run.stdout.ends_with("; the first 2 shown\n"), "{run:?}");
    let run = tpns(&["check", "--max-errors", "0", &file]);
    assert_eq!(run.code, 3);
    assert_eq!(
        run.stdout,
        format!(
            "{file}: 30 violations in 30 rows (row shorter than 2 characters: 25; \
             blank line: 5); the first 0 shown\n"
        )
    );
    // One violation: one line, as before --max-errors existed.
    let one = dir.write("one.txt", b"alice\n\nbob\n");
    let run = tpns(&["check", &one]);
    assert_eq!(
        (run.code, run.stdout),
        (3, format!("{one}:2: blank line\n"))
    );
    // A zip's bad rows are listed with the entry's lines.
    let bad_zip = dir.write("bad.zip", zip_of("accounts.txt", text.as_bytes()));
    let run = tpns(&["check", "--max-errors", "3", &bad_zip]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "{}{bad_zip}: 30 violations in 30 rows (row shorter than 2 characters: 25; \
             blank line: 5); the first 3 shown\n",
            short_rows_2_4_6(&bad_zip)
        )
    );
}

/// A stored zip holding one entry, written by the `zip` crate.
fn zip_of(name: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file(name, opts).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap().into_inner()
}

#[test]
fn file_level_violations_have_no_line_number() {
    let dir = TempDir::new("fileline");
    let xlsx = dir.write("list.xlsx", b"alice\n");
    let empty = dir.write("empty.txt", b"");
    let mut zip = zip_of("accounts.txt", b"alice\nbob\n");
    // The entry's data is stored as is: change a byte of it, and only the CRC can tell.
    let at = zip.windows(5).position(|w| w == b"alice").unwrap();
    zip[at] = b'A';
    let crc = dir.write("crc.zip", &zip);
    let run = tpns(&["check", &xlsx, &empty, &crc]);
    assert_eq!(run.code, 3);
    assert_eq!(
        run.stdout,
        format!(
            "{xlsx}: file name must end in .txt, .csv or .zip\n\
             {empty}: empty file\n\
             {crc}: zip entry's CRC-32 does not match its data\n"
        )
    );
    assert!(!run.stdout.contains(":0:"), "{run:?}");
    // The same form in pack's and upload's messages.
    let run = tpns(&["pack", &empty]);
    assert_eq!(run.code, 3);
    assert!(
        run.stderr
            .contains(&format!("{empty}: empty file (nothing written)")),
        "{run:?}"
    );
    let run = tpns(&["upload", "--endpoint", "http://127.0.0.1:9/", &crc]);
    assert_eq!(run.code, 3);
    assert!(
        run.stderr.contains(&format!(
            "{crc}: zip entry's CRC-32 does not match its data (invalid package, nothing sent)"
        )),
        "{run:?}"
    );
}

/// One line of `fixes.tsv`.
struct FixCase {
    file: String,
    plain: String,
    drop_bad: String,
    changes: Vec<String>,
}

fn fix_cases() -> Vec<FixCase> {
    std::fs::read_to_string(corpus_dir().join("fixes.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "{l}");
            FixCase {
                file: f[0].to_owned(),
                plain: f[1].to_owned(),
                drop_bad: f[2].to_owned(),
                changes: match f[3] {
                    "-" => Vec::new(),
                    c => c.split(',').map(str::to_owned).collect(),
                },
            }
        })
        .collect()
}

/// The line `fix` prints for a change named in `fixes.tsv` (`crlf=2`): its start.
fn change_text(change: &str) -> String {
    let (what, n) = change.split_once('=').unwrap_or((change, "1"));
    let plural = n != "1";
    let s = |one: &str, many: &str| {
        if plural {
            many.to_owned()
        } else {
            one.to_owned()
        }
    };
    match what {
        "bom" => "  byte order mark dropped".to_owned(),
        "crlf" => format!(
            "  {n} {} normalised to LF",
            s("CRLF line end", "CRLF line ends")
        ),
        "blank" => format!("  {n} {} dropped", s("blank line", "blank lines")),
        "unquoted" => format!(
            "  {n} {} unquoted",
            s("quoted CSV field", "quoted CSV fields")
        ),
        "bad" => format!("  {n} {} left out", s("bad row", "bad rows")),
        other => panic!("unknown change {other}"),
    }
}

/// Runs `fix` on a corpus file into `out`, and checks the outcome against `expect` (`N`,
/// `bad` or `empty`) and the changes: what is written checks out, and what is refused leaves
/// nothing behind.
fn fix_one(case: &FixCase, dir: &TempDir, drop_bad: bool, expect: &str) {
    let ext = Path::new(&case.file)
        .extension()
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    let out = dir.file(&format!("out.{ext}"));
    let mut args = vec!["fix", case.file.as_str(), "-o", out.as_str(), "--force"];
    if drop_bad {
        args.push("--drop-bad");
    }
    let _ = std::fs::remove_file(&out);
    let run = tpns_in(Some(&corpus_dir()), &args);
    let what = format!("{} (--drop-bad: {drop_bad}): {run:?}", case.file);
    match expect {
        "bad" | "empty" => {
            assert_eq!(run.code, 3, "{what}");
            assert!(!Path::new(&out).exists(), "{what}");
            assert_eq!(
                dir.names(),
                Vec::<String>::new(),
                "{what}: no temp file left"
            );
            if expect == "bad" {
                assert!(run.stderr.contains("add --drop-bad"), "{what}");
                assert!(
                    run.stdout.starts_with(&format!("{}:", case.file)),
                    "{what}: the bad rows are listed"
                );
            } else {
                assert!(run.stderr.contains("no valid row left"), "{what}");
            }
        }
        rows => {
            assert_eq!(run.code, 0, "{what}");
            assert!(
                run.stdout
                    .contains(&format!("{out}: {rows} rows written from ")),
                "{what}"
            );
            for change in &case.changes {
                let text = change_text(change);
                assert!(
                    run.stdout.lines().any(|l| l.starts_with(&text)),
                    "{what}: want {text:?}"
                );
            }
            let reported = run.stdout.lines().filter(|l| l.starts_with("  ")).count();
            assert_eq!(
                reported,
                case.changes.len().max(1),
                "{what}: exactly the expected changes"
            );
            // What fix writes, check accepts, with the same rows: no BOM, no CR, no blank.
            let check = tpns(&["check", &out]);
            assert_eq!(check.code, 0, "{what}: {check:?}");
            let bytes = std::fs::read(&out).unwrap();
            assert!(
                !bytes.starts_with(b"\xEF\xBB\xBF") && !bytes.contains(&b'\r'),
                "{what}"
            );
            assert!(!bytes.windows(2).any(|w| w == b"\n\n") && bytes.ends_with(b"\n"));
            assert_eq!(
                bytes.iter().filter(|&&b| b == b'\n').count().to_string(),
                rows,
                "{what}"
            );
            std::fs::remove_file(&out).unwrap();
        }
    }
}

#[test]
fn fix_on_the_shared_corpus() {
    let dir = TempDir::new("corpus");
    let cases = fix_cases();
    assert!(cases.len() > 50);
    let fixable = cases
        .iter()
        .filter(|c| c.plain.parse::<u64>().is_ok())
        .count();
    assert!(fixable > 20, "{fixable}");
    for case in &cases {
        fix_one(case, &dir, false, &case.plain);
        fix_one(case, &dir, true, &case.drop_bad);
    }
    // Every file the corpus says is broken only in what fix repairs is rejected by check as
    // it is, and accepted once fixed (above).
    for name in [
        "blank_line_middle.txt",
        "blank_line_trailing.txt",
        "blank_line_trailing_crlf.txt",
        "csv_blank_line.csv",
    ] {
        assert_eq!(tpns_in(Some(&corpus_dir()), &["check", name]).code, 3);
    }
}

#[test]
fn fix_lists_bad_rows_up_to_max_errors_and_drops_them_only_when_asked() {
    let dir = TempDir::new("dropbad");
    let mut text = String::from("\u{FEFF}");
    for i in 0..10 {
        text.push_str(&format!("account-{i}\r\nx\r\n"));
    }
    let input = dir.write("in.txt", text.as_bytes());
    let out = dir.file("out.txt");
    let run = tpns(&["fix", &input, "-o", &out, "--max-errors", "3"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "{}{input}: 10 bad rows, the first 3 listed\n",
            short_rows_2_4_6(&input)
        )
    );
    assert!(run.stderr.contains("nothing written"), "{run:?}");
    assert_eq!(dir.names(), ["in.txt"]);

    let run = tpns(&["fix", &input, "-o", &out, "--drop-bad", "--max-errors", "1"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        format!(
            "{input}:2: row shorter than 2 characters\n\
             {input}: 10 bad rows, the first 1 listed\n\
             {out}: 10 rows written from 20 lines of {input}\n  \
             byte order mark dropped\n  \
             10 CRLF line ends normalised to LF (first: line 1)\n  \
             10 bad rows left out (first: line 2)\n"
        )
    );
    let want: String = (0..10).map(|i| format!("account-{i}\n")).collect();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), want);
    assert_eq!(dir.names(), ["in.txt", "out.txt"]);

    // An existing output is replaced only with --force; the input itself may be the output.
    let run = tpns(&["fix", &input, "-o", &out, "--drop-bad"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_writes(
        &["fix", &input, "-o", &input, "--drop-bad", "--force"],
        &input,
        &want,
    );
    // Not a text package, or a zip as the output: usage errors.
    assert_eq!(tpns(&["fix", &dir.file("x.zip"), "-o", &out]).code, 2);
    assert_eq!(tpns(&["fix", &input, "-o", &dir.file("o.zip")]).code, 2);
    assert_eq!(tpns(&["fix", &input, "-o", &dir.file("o.xlsx")]).code, 2);
}

/// A new folder named after `tag` with `rows` in its file `name`: the folder and the file.
fn folder_with(tag: &str, name: &str, rows: &[u8]) -> (TempDir, String) {
    let dir = TempDir::new(tag);
    let file = dir.write(name, rows);
    (dir, file)
}

/// The lines that report rows 2, 4 and 6 of `file` as too short.
fn short_rows_2_4_6(file: &str) -> String {
    [2, 4, 6]
        .map(|line| format!("{file}:{line}: row shorter than 2 characters\n"))
        .concat()
}

/// Runs `tpns ARGS`, which must succeed and leave `written` holding `want`.
fn assert_writes(args: &[&str], written: &str, want: &str) -> Run {
    let run = tpns(args);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(std::fs::read_to_string(written).unwrap(), want, "{args:?}");
    run
}

#[test]
fn fix_dedupe_keeps_the_first_of_each_row() {
    // Quoted and unquoted forms of the same value are the same row.
    let rows = b"alice\nbob\n\"alice\"\ncarol\nbob\nbob\n\"dave\"\n";
    let (dir, input) = folder_with("dedupe", "in.csv", rows);
    let out = dir.file("out.csv");
    let all = "alice\nbob\nalice\ncarol\nbob\nbob\ndave\n";
    assert_writes(&["fix", &input, "-o", &out], &out, all);
    let dedupe = ["fix", &input, "-o", &out, "--force", "--dedupe"];
    let run = assert_writes(&dedupe, &out, "alice\nbob\ncarol\ndave\n");
    for says in [
        "\n  3 duplicate rows removed (first: line 3)\n",
        "\n  1 quoted CSV field unquoted (first: line 7)\n",
    ] {
        assert!(run.stdout.contains(says), "{says:?}: {run:?}");
    }
    // Many rows, all distinct but one: nothing else is taken for a duplicate.
    let mut big = String::new();
    for i in 0..200_000 {
        big.push_str(&format!("user-{i}\n"));
    }
    big.push_str("user-199999\n");
    let input = dir.write("big.txt", big.as_bytes());
    let out = dir.file("big-out.txt");
    let run = tpns(&["fix", &input, "-o", &out, "--dedupe"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .starts_with(&format!("{out}: 200000 rows written from 200001 lines")),
        "{run:?}"
    );
}

#[test]
fn pack_fix_repairs_on_the_way_into_the_zip() {
    // A BOM, a quoted row, a blank line, a duplicate and a row too short, with CRLF ends.
    let rows = b"\xEF\xBB\xBF\"alice\"\r\n\r\nbob\r\nbob\r\nx\r\n";
    let (dir, input) = folder_with("packfix", "list.csv", rows);
    let zip = dir.file("list.zip");
    // Without --fix the input is refused as it is.
    let run = tpns(&["pack", &input, "-o", &zip]);
    assert_eq!(run.code, 3, "{run:?}");
    // With --fix, the bad row still stops it, and nothing is written.
    let run = tpns(&["pack", "--fix", &input, "-o", &zip]);
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(
        run.stdout,
        format!("{input}:5: row shorter than 2 characters\n")
    );
    assert!(run.stderr.contains("add --drop-bad"), "{run:?}");
    assert_eq!(dir.names(), ["list.csv"]);
    // --dedupe and --drop-bad mean nothing without --fix.
    assert_eq!(tpns(&["pack", "--drop-bad", &input, "-o", &zip]).code, 2);

    let run = tpns(&[
        "pack",
        "--fix",
        "--dedupe",
        "--drop-bad",
        &input,
        "-o",
        &zip,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("{input}:5: row shorter than 2 characters")
    );
    assert!(lines[1].starts_with(&format!("{zip}: 2 rows, ")), "{run:?}");
    assert_eq!(
        &lines[2..],
        [
            "  byte order mark dropped",
            "  2 CRLF line ends normalised to LF (first: line 1)",
            "  1 blank line dropped (first: line 2)",
            "  1 quoted CSV field unquoted (first: line 1)",
            "  1 duplicate row removed (first: line 4)",
            "  1 bad row left out (first: line 5)",
        ]
    );
    assert_eq!(dir.names(), ["list.csv", "list.zip"]);
    // The entry, read by the zip crate: the clean text, under the input's name.
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    assert_eq!(archive.len(), 1);
    let mut entry = archive.by_index(0).unwrap();
    assert_eq!(entry.name().unwrap(), "list.csv");
    let mut text = String::new();
    entry.read_to_string(&mut text).unwrap();
    assert_eq!(text, "alice\nbob\n");
    assert_eq!(tpns(&["check", &zip]).code, 0);
}

/// `tpns upload --json` of `file` to `emu` over HTTPS, trusting its CA, plus `extra`.
fn upload(emu: &Emu, file: &str, extra: &[&str]) -> Run {
    let url = emu.https_url();
    let mut args = vec![
        "upload",
        "--endpoint",
        &url,
        "--ca-file",
        emu.ca(),
        "--json",
    ];
    args.extend_from_slice(extra);
    args.push(file);
    tpns(&args)
}

/// Writes two rows to `file_name` in `emu`'s folder and uploads them `--name NAME`, which must
/// succeed: the file's path and the run.
fn upload_as(emu: &Emu, file_name: &str, name: &str) -> (String, Run) {
    let file = emu.dir().write(file_name, b"alice\nbob\n");
    let run = upload(emu, &file, &["--name", name]);
    assert_eq!(run.code, 0, "{name}: {run:?}");
    (file, run)
}

#[test]
fn upload_name_sends_the_file_under_another_name() {
    let env = Emu::https_only("policy-name");
    let (file, run) = upload_as(&env, "export-2026-11-28.dat", "accounts.txt");
    assert_eq!(run.stderr, "");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["file"], "accounts.txt");
    let records = env.uploads();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].file_name, "accounts.txt");
    assert_eq!(records[0].rows, 2);

    // The name's extension decides how the rows are read: a comma is a second column in CSV.
    let commas = env.dir().write("rows.txt", b"a,b\ncd\n");
    assert_eq!(upload(&env, &commas, &[]).code, 0);
    let run = upload(&env, &commas, &["--name", "rows.csv"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains(":1: more than one column"), "{run:?}");

    // Token rules on upload too.
    let tokens = env
        .dir()
        .write("tokens.txt", format!("{}\n", token(9)).as_bytes());
    assert_eq!(upload(&env, &tokens, &["--kind", "token"]).code, 0);
    let run = upload(&env, &commas, &["--kind", "token"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("token"), "{run:?}");

    // The name follows the name rules (exit 3), and its family must match the file's (exit 2).
    let run = upload(&env, &file, &["--name", "accounts.xlsx"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .contains("--name accounts.xlsx: file name must end in .txt, .csv or .zip"),
        "{run:?}"
    );
    let long = "n".repeat(97) + ".txt";
    assert_eq!(upload(&env, &file, &["--name", &long]).code, 3);
    let run = upload(&env, &file, &["--name", "accounts.zip"]);
    assert_eq!(run.code, 2, "{run:?}");
    let zip = env.dir().write("a.zip", zip_of("a.txt", b"alice\n"));
    assert_eq!(upload(&env, &zip, &["--name", "a.txt"]).code, 2);
    assert_eq!(upload(&env, &zip, &["--name", "b.ZIP"]).code, 0);
    assert_eq!(env.uploads().len(), 4, "nothing else was sent");
    assert_eq!(env.uploads()[3].file_name, "b.ZIP");
}

#[test]
fn upload_name_quotes_are_escaped_and_counted_escaped() {
    let env = Emu::https_only("policy-quote");
    let (file, _) = upload_as(&env, "list.txt", "my \"best\" list.txt");
    let records = env.uploads();
    // The service receives the escaped form, %22 for each quote.
    assert_eq!(records[0].file_name, "my %22best%22 list.txt");
    // 98 characters with one quote: 100 escaped characters are fine, 96 + 2 quotes are not.
    let ok = "n".repeat(93) + "\"" + ".txt";
    assert_eq!(ok.chars().count(), 98);
    assert_eq!(upload(&env, &file, &["--name", &ok]).code, 0);
    let too_long = "n".repeat(92) + "\"\"" + ".txt";
    assert_eq!(too_long.chars().count(), 98);
    let run = upload(&env, &file, &["--name", &too_long]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains("longer than 100 characters once"),
        "{run:?}"
    );
    assert_eq!(env.uploads().len(), 2);
}

#[test]
fn upload_name_above_100_bytes_warns() {
    let env = Emu::https_only("policy-bytes");
    let file = env.dir().write("list.txt", b"alice\nbob\n");
    // 100 characters, 196 bytes: accepted, with a warning.
    let name = "é".repeat(96) + ".txt";
    let run = upload(&env, &file, &["--name", &name]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "warning: the file name {name} is 196 bytes in UTF-8; the limit is 100 characters, \
             and the service may count bytes"
        )),
        "{run:?}"
    );
    assert_eq!(env.uploads()[0].file_name, name);
    // 100 bytes exactly: no warning.
    let name = "é".repeat(48) + ".txt";
    assert_eq!(name.len(), 100);
    let run = upload(&env, &file, &["--name", &name]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
}
