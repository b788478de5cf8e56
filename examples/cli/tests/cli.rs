//! The `tpns` binary against the emulator, over real sockets on 127.0.0.1: every exit code,
//! HTTP and HTTPS, faults and retries, certificate checks, and no secret in any output.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{GENEROUS, Run, TPNS, push_args, run, tpns_command, upload_with_key_file, with_env};
use tpns_test_support::{Emu, ID, SECRET, TempDir, accounts as package, sha256_hex};

const WRONG_SECRET: &str = "0000aaaabbbbccccddddeeeeffff9999";

/// Runs `tpns` with `args`, the AccessID and SecretKey in the environment unless `env`
/// overrides them (a value of `None` removes the variable). Every run checks that no secret
/// appears in any output.
fn tpns_env(args: &[&str], env: &[(&str, Option<&str>)]) -> Run {
    let mut cmd = tpns_command();
    with_env(cmd.args(args), env);
    let run = run(&mut cmd, GENEROUS);
    run.assert_hides(&[SECRET, WRONG_SECRET], &args);
    run
}

fn tpns(args: &[&str]) -> Run {
    tpns_env(args, &[])
}

/// The emulator (HTTPS and plain HTTP) and a folder for the test's files.
struct Env {
    emu: Emu,
}

impl Env {
    fn new(tag: &str) -> Env {
        Env {
            emu: Emu::start(&format!("cli-{tag}")),
        }
    }

    fn dir(&self) -> &TempDir {
        self.emu.dir()
    }

    fn https(&self) -> String {
        self.emu.https_url()
    }

    fn fault(&self, spec: &str) -> String {
        format!("{}_fault/{spec}/", self.emu.https_url())
    }

    fn ca(&self) -> &str {
        self.emu.ca()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        self.dir().write(name, bytes)
    }

    /// `tpns upload` over HTTPS to `endpoint` (trusting the emulator's CA) plus `extra`.
    fn upload(&self, endpoint: &str, file: &str, extra: &[&str]) -> Run {
        let mut args = vec!["upload", "--endpoint", endpoint, "--ca-file", self.ca()];
        args.extend_from_slice(extra);
        args.push(file);
        tpns(&args)
    }

    /// Uploads `bytes` as `name` and checks the answer counts `rows` and the emulator stored
    /// the file whole.
    fn assert_stored_whole(&self, name: &str, bytes: &[u8], rows: u64) {
        let file = self.write(name, bytes);
        let run = self.upload(&self.https(), &file, &["--json"]);
        assert_eq!(run.code, 0, "{run:?}");
        let answer: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert_eq!(answer["rows"], rows, "{run:?}");
        let id = answer["uploadId"].as_u64().unwrap();
        let stored = std::fs::read(self.emu.stored_path(id)).unwrap();
        assert_eq!(sha256_hex(&stored), sha256_hex(bytes), "{name}");
    }

    /// Uploads `file` (case `name`) without retries and checks that it is refused as an
    /// invalid package found while sending (exit 3), `want` following the file's name in the
    /// message, and that nothing is stored.
    fn assert_refused_while_sending(&self, name: &str, file: &str, want: &str) {
        let run = self.upload(&self.https(), file, &["--retries", "0"]);
        assert_eq!(run.code, 3, "{name}: {run:?}");
        assert_eq!(run.stdout, "", "{name}");
        assert!(
            run.stderr.contains(&format!("{file}{want}")),
            "{name}: {run:?}"
        );
        assert!(
            run.stderr.contains("found while sending"),
            "{name}: {run:?}"
        );
        assert!(run.stderr.contains("nothing stored"), "{name}: {run:?}");
        assert!(self.emu.uploads().is_empty(), "{name}: stored");
    }
}

/// The rows of `package`: its line ends, and a last row without one.
fn rows_of(package: &[u8]) -> u64 {
    let line_ends = package.iter().filter(|&&b| b == b'\n').count() as u64;
    line_ends + u64::from(package.last() != Some(&b'\n'))
}

/// `package` (of 17-byte rows) with row 100000 cut to one character, `x`: a row too short,
/// about 1.7 MB in.
fn with_row_100000_of_one_character(package: &[u8]) -> Vec<u8> {
    let mut broken = package.to_vec();
    let at = broken
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(99_998)
        .unwrap()
        .0;
    broken.splice(at + 1..at + 1 + 17, b"x\n".iter().copied());
    broken
}

fn upload_id(run: &Run) -> u64 {
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.ends_with('\n') && run.stdout.lines().count() == 1,
        "{run:?}"
    );
    run.stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{run:?}"))
}

#[test]
fn upload_over_https_prints_the_upload_id_alone_and_stores_identical_bytes() {
    let env = Env::new("https");
    let pkg = package(1_000_000);
    let file = env.write("accounts.txt", &pkg);
    let run = env.upload(&env.https(), &file, &[]);
    let id = upload_id(&run);
    // Not a terminal: no progress bar, no chatter.
    assert_eq!(run.stderr, "");
    let records = env.emu.uploads();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].upload_id, id);
    assert_eq!(records[0].sha256, sha256_hex(&pkg));
    assert_eq!(records[0].access_id, ID);

    // --json: one object with the uploadId.
    let run = env.upload(&env.https(), &file, &["--json", "--no-progress"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["uploadId"].as_u64(), Some(id + 1));
    assert_eq!(v["file"], "accounts.txt");
    assert_eq!(v["size"].as_u64(), Some(pkg.len() as u64));
    assert_eq!(
        v["rows"].as_u64(),
        Some(pkg.split(|&b| b == b'\n').count() as u64)
    );
    assert_eq!(env.emu.uploads().len(), 2);
}

#[test]
fn upload_over_http_20_mb_with_the_secret_from_a_file() {
    let env = Env::new("http");
    let pkg = package(20_000_000);
    let file = env.write("big.csv", &pkg);
    let key = env.write("secret", format!("{SECRET}\n").as_bytes());
    let url = env.emu.http_url().unwrap();
    let run = tpns_env(
        &upload_with_key_file(&url, &key, &file),
        &[("TPNS_SECRET_KEY", None)],
    );
    let id = upload_id(&run);
    // Plain HTTP to loopback: no warning.
    assert_eq!(run.stderr, "");
    let records = env.emu.uploads();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].upload_id, id);
    assert_eq!(records[0].size, pkg.len() as u64);
    assert_eq!(records[0].sha256, sha256_hex(&pkg));
    assert_eq!(std::fs::read(env.emu.stored_path(id)).unwrap(), pkg);
}

#[test]
fn a_zip_package_is_checked_and_uploaded() {
    let env = Env::new("zip");
    let corpus = corpus_dir().join("good_deflate.zip");
    let bytes = std::fs::read(&corpus).unwrap();
    let file = env.write("good.zip", &bytes);
    let id = upload_id(&env.upload(&env.https(), &file, &[]));
    let records = env.emu.uploads();
    assert_eq!(records[0].upload_id, id);
    assert_eq!(records[0].sha256, sha256_hex(&bytes));
    // A zip with macOS metadata is refused locally.
    let bad = env.write(
        "macos.zip",
        &std::fs::read(corpus_dir().join("macos.zip")).unwrap(),
    );
    let run = env.upload(&env.https(), &bad, &[]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("macOS metadata"), "{run:?}");
    assert_eq!(env.emu.uploads().len(), 1);
}

#[test]
fn invalid_packages_exit_3_and_send_nothing() {
    let env = Env::new("invalid");
    let cases: [(&str, &[u8], &str); 5] = [
        ("empty.txt", b"", ": empty file"),
        ("blank.txt", b"alice\n\nbob\n", ":2: blank line"),
        (
            "short.txt",
            b"alice\nb\n",
            ":2: row shorter than 2 characters",
        ),
        ("two.csv", b"alice\nbob,carol\n", ":2: more than one column"),
        (
            "list.xlsx",
            b"alice\n",
            ": file name must end in .txt, .csv or .zip",
        ),
    ];
    for (name, bytes, want) in cases {
        let file = env.write(name, bytes);
        let run = env.upload(&env.https(), &file, &[]);
        assert_eq!(run.code, 3, "{name}: {run:?}");
        assert_eq!(run.stdout, "", "{name}");
        assert!(
            run.stderr.contains(&format!("{file}{want}")),
            "{name}: {run:?}"
        );
        assert!(run.stderr.contains("nothing sent"), "{name}: {run:?}");
    }
    // Even toward a plain-HTTP remote host nothing is sent: the check comes first (and the
    // warning about plain HTTP is given).
    let file = env.write("empty2.txt", b"");
    let run = tpns(&["upload", "--endpoint", "http://tpns.invalid/", &file]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("plain HTTP"), "{run:?}");
    assert!(env.emu.uploads().is_empty());
}

/// Above 1 MiB a text package is checked while it is sent, in one pass: a broken row, in the
/// middle or as the last row (judged only at the end of the file), stops the upload before the
/// body's closing delimiter. Exit 3, the line and the rule, "nothing stored"; the emulator
/// (which refuses a body without its closing delimiter) stores nothing. `--check-first` sends
/// nothing at all; a valid package goes through whole, its rows counted on the way.
#[test]
fn a_row_broken_mid_stream_stops_the_upload_and_nothing_is_stored() {
    let env = Env::new("midstream");
    let good = package(3 << 20);
    let line_ends = good.iter().filter(|&&b| b == b'\n').count() as u64;
    let rows = rows_of(&good);
    // Line 100000 (about 1.7 MB in) holds one character; the last row, without a line end,
    // holds one character.
    let middle = with_row_100000_of_one_character(&good);
    let mut last = good.clone();
    let cut = last.iter().rposition(|&b| b == b'\n').unwrap();
    last.truncate(cut + 1);
    last.push(b'y');
    let last_line = line_ends + 1;
    for (name, bytes, want) in [
        (
            "middle.txt",
            &middle,
            ":100000: row shorter than 2 characters".to_owned(),
        ),
        (
            "last.txt",
            &last,
            format!(":{last_line}: row shorter than 2 characters"),
        ),
    ] {
        let file = env.write(name, bytes);
        env.assert_refused_while_sending(name, &file, &want);
        let run = env.upload(&env.https(), &file, &["--check-first"]);
        assert_eq!(run.code, 3, "{name}: {run:?}");
        assert!(
            run.stderr.contains(&format!("{file}{want}")) && run.stderr.contains("nothing sent"),
            "{name}: {run:?}"
        );
    }
    assert!(env.emu.uploads().is_empty());
    // The emulator drops a cut body's temporary file when its handler sees the connection
    // end, which may come a moment after the client has exited: wait for it, boundedly.
    let tmp = env.dir().join("data").join("tmp");
    let in_progress = || std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    let waited = std::time::Instant::now();
    while in_progress() > 0 && waited.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(in_progress(), 0, "a temporary upload was left behind");
    // The valid package: stored whole, its rows counted while it was sent.
    env.assert_stored_whole("good.txt", &good, rows);
}

/// A zip above 1 MiB is checked while it is sent too: its structure first, then its entry
/// inflated as it goes. A broken row, or data that no longer matches its CRC-32, stops the
/// upload before its end: exit 3, "nothing stored", and nothing is stored. A valid one is
/// stored whole, its rows counted on the way.
#[test]
fn a_zip_is_checked_while_it_is_sent() {
    use std::io::Write;
    let zip_of = |data: &[u8], method| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        w.start_file("accounts.txt", opts).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap().into_inner()
    };
    let env = Env::new("zipstream");
    let good = package(3 << 20);
    let rows = rows_of(&good);
    let middle = with_row_100000_of_one_character(&good);
    // Rows of 32 pseudo-random hex digits, which deflate cannot squeeze below 1 MiB; row
    // 100000 holds one character.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut noisy = Vec::new();
    for line in 1..=120_000 {
        if line == 100_000 {
            noisy.extend_from_slice(b"x\n");
            continue;
        }
        for _ in 0..32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            noisy.push(b"0123456789abcdef"[(state % 16) as usize]);
        }
        noisy.push(b'\n');
    }
    let stored = zip::CompressionMethod::Stored;
    let mut damaged = zip_of(&good, stored);
    // A byte of the entry's data, well inside it: the CRC-32 no longer matches.
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x01;
    for (name, bytes, want) in [
        (
            "middle.zip",
            zip_of(&middle, stored),
            ":100000: row shorter than 2 characters",
        ),
        (
            "deflated.zip",
            zip_of(&noisy, zip::CompressionMethod::Deflated),
            ":100000: row shorter than 2 characters",
        ),
        ("damaged.zip", damaged, ": "),
    ] {
        let file = env.write(name, &bytes);
        env.assert_refused_while_sending(name, &file, want);
    }
    // A zip of at most 1 MiB is checked first: nothing sent.
    let small = zip_of(&middle, zip::CompressionMethod::Deflated);
    assert!(small.len() <= 1 << 20);
    let file = env.write("small.zip", &small);
    let run = env.upload(&env.https(), &file, &[]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stderr.contains("nothing sent"), "{run:?}");
    let zip = zip_of(&good, stored);
    assert!(zip.len() > 1 << 20);
    env.assert_stored_whole("good.zip", &zip, rows);
}

/// Arguments, environment changes, and a text the message must hold.
type UsageCase<'a> = (Vec<&'a str>, Vec<(&'a str, Option<&'a str>)>, &'a str);

#[test]
fn usage_and_configuration_errors_exit_2() {
    let env = Env::new("usage");
    let file = env.write("ok.txt", b"alice\nbob\n");
    let https = env.https();
    let ca = env.ca();
    let upload = ["upload", "--endpoint", &https, "--ca-file", ca];
    let upload_ok = [&upload[..], &[&file]].concat();
    let cases: Vec<UsageCase<'_>> = vec![
        (vec![], vec![], "Usage"),
        (vec!["frobnicate"], vec![], "unrecognized subcommand"),
        (vec!["upload"], vec![], "FILE"),
        (vec!["check"], vec![], "FILE"),
        (
            upload_ok.clone(),
            vec![("TPNS_ACCESS_ID", None)],
            "no AccessID",
        ),
        (upload_ok, vec![("TPNS_SECRET_KEY", None)], "no SecretKey"),
    ];
    // Arguments and a text the message must hold, with the environment as it is.
    let more_cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["upload", "--secret-key", SECRET, &file],
            "unexpected argument",
        ),
        (vec!["upload", "--region", "bj", &file], "invalid value"),
        (
            vec!["upload", "--endpoint", "ftp://127.0.0.1/", &file],
            "invalid --endpoint",
        ),
        (vec!["upload", "--timeout", "0", &file], "timeout"),
        (vec!["upload", "--retries", "x", &file], "--retries"),
        (
            vec!["upload", "--access-id", "12ab", &file],
            "AccessID must be",
        ),
        (
            vec!["upload", "--secret-key-file", "/nonexistent/key", &file],
            "cannot read the SecretKey file",
        ),
        (
            vec!["upload", "--ca-file", "/nonexistent/ca.pem", &file],
            "CA file",
        ),
        (
            [&upload[..], &["/nonexistent/x.txt"]].concat(),
            "cannot read /nonexistent/x.txt",
        ),
        (
            vec!["push", "--upload-id", "1", "--title", "t"],
            "--content",
        ),
        (push_args("1", &["--message-type", "sms"]), "invalid value"),
        (
            push_args("0", &["--endpoint", &https, "--ca-file", ca]),
            "upload_id",
        ),
    ];
    let more_cases = more_cases
        .into_iter()
        .map(|(args, want)| (args, vec![], want));
    for (args, vars, want) in cases.into_iter().chain(more_cases) {
        let run = tpns_env(&args, &vars);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert_eq!(run.stdout, "", "{args:?}");
        assert!(
            run.stderr.contains(want),
            "{args:?}: want {want:?} in {run:?}"
        );
    }
    assert!(env.emu.uploads().is_empty() && env.emu.pushes().is_empty());
    // Help is not an error.
    let run = tpns(&["--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Exit codes"), "{run:?}");
}

#[test]
fn a_rejected_secret_exits_4() {
    let env = Env::new("auth");
    let file = env.write("ok.txt", b"alice\nbob\n");
    let wrong = [("TPNS_SECRET_KEY", Some(WRONG_SECRET))];
    let run = tpns_env(
        &[
            "upload",
            "--endpoint",
            &env.https(),
            "--ca-file",
            env.ca(),
            &file,
        ],
        &wrong,
    );
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("retCode 1008003"), "{run:?}");
    assert!(!run.stderr.contains("retrying"), "never retried: {run:?}");
    let https = env.https();
    let run = tpns_env(
        &push_args("1", &["--endpoint", &https, "--ca-file", env.ca()]),
        &wrong,
    );
    assert_eq!(run.code, 4, "{run:?}");
    assert!(env.emu.uploads().is_empty() && env.emu.pushes().is_empty());
}

#[test]
fn other_api_errors_exit_5() {
    let env = Env::new("api");
    let file = env.write("ok.txt", b"alice\nbob\n");
    // 500 is not transient: at once.
    let run = env.upload(&env.fault("status=500"), &file, &[]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains("HTTP status 500"), "{run:?}");
    assert!(!run.stderr.contains("retrying"), "{run:?}");
    // 503 is, but the retries run out.
    let run = env.upload(&env.fault("status=503"), &file, &["--retries", "1"]);
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains("HTTP status 503"), "{run:?}");
    assert!(run.stderr.contains("after 2 attempts"), "{run:?}");
    assert_eq!(run.stderr.matches("retrying").count(), 1, "{run:?}");
    // A push to a package that does not exist.
    let https = env.https();
    let run = tpns(&push_args(
        "999",
        &["--endpoint", &https, "--ca-file", env.ca()],
    ));
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains("retCode 1008007"), "{run:?}");
    assert!(env.emu.uploads().is_empty() && env.emu.pushes().is_empty());
}

#[test]
fn network_tls_and_timeout_errors_exit_6() {
    let env = Env::new("network");
    let file = env.write("ok.txt", b"alice\nbob\n");
    // A server certificate from a CA nobody trusts: nothing reaches the emulator.
    let run = tpns(&[
        "upload",
        "--endpoint",
        &env.https(),
        "--retries",
        "0",
        &file,
    ]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("TLS handshake"), "{run:?}");
    assert!(run.stderr.contains("UnknownIssuer"), "{run:?}");
    assert!(run.stderr.contains("--ca-file"), "{run:?}");
    assert!(
        !run.stderr.contains("retrying"),
        "certificate errors are final: {run:?}"
    );
    // Nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let run = tpns(&["upload", "--endpoint", &url, "--retries", "1", &file]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("upload failed: connect: "), "{run:?}");
    assert!(run.stderr.contains("(after 2 attempts)"), "{run:?}");
    assert!(env.emu.uploads().is_empty());
    // No answer within the stall timeout (the emulator stores the package, then waits).
    let started = Instant::now();
    let run = env.upload(
        &env.fault("delay=4000"),
        &file,
        &["--timeout", "0.5", "--retries", "0"],
    );
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("read response: timed out"), "{run:?}");
    assert!(started.elapsed() < Duration::from_millis(3500));
}

#[test]
fn retries_recover_from_injected_faults_leaving_exactly_one_copy() {
    let env = Env::new("retry");
    let pkg = package(500_000);
    let file = env.write("accounts.txt", &pkg);
    for spec in [
        "status=503,times=2",
        "close-after=200000,times=1",
        "status=504,times=1",
    ] {
        let before = env.emu.uploads().len();
        let run = env.upload(&env.fault(spec), &file, &[]);
        let id = upload_id(&run);
        assert!(run.stderr.contains("retrying"), "{spec}: {run:?}");
        let records = env.emu.uploads();
        assert_eq!(records.len(), before + 1, "{spec}: exactly one more copy");
        assert_eq!(records.last().unwrap().upload_id, id);
        assert_eq!(records.last().unwrap().sha256, sha256_hex(&pkg), "{spec}");
        assert_eq!(std::fs::read(env.emu.stored_path(id)).unwrap(), pkg);
    }
}

#[test]
fn a_slow_answer_that_keeps_moving_does_not_time_out() {
    let env = Env::new("slow");
    let file = env.write("ok.txt", b"alice\nbob\n");
    let started = Instant::now();
    let run = env.upload(
        &env.fault("slow=15"),
        &file,
        &["--timeout", "0.5", "--retries", "0"],
    );
    upload_id(&run);
    assert!(
        started.elapsed() > Duration::from_millis(500),
        "slower than the timeout in all"
    );
}

#[test]
fn push_prints_the_push_id() {
    let env = Env::new("push");
    let file = env.write("ok.txt", b"alice\nbob\n");
    let id = upload_id(&env.upload(&env.https(), &file, &[])).to_string();
    let base = [
        "push",
        "--upload-id",
        &id,
        "--title",
        "Hello",
        "--content",
        "World",
        "--endpoint",
        &env.https(),
        "--ca-file",
        env.ca(),
    ];
    let run = tpns(&base);
    assert_eq!(run.code, 0, "{run:?}");
    let pushes = env.emu.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(run.stdout, format!("{}\n", pushes[0].push_id));
    assert_eq!(pushes[0].upload_id.to_string(), id);
    assert_eq!(
        (pushes[0].title.as_str(), pushes[0].content.as_str()),
        ("Hello", "World")
    );
    assert_eq!(pushes[0].message_type, "notify");
    assert_eq!(pushes[0].audience_type, "package_account_push");
    // The package pushes are rate-limited to one a second per app.
    std::thread::sleep(Duration::from_millis(1100));
    let mut args = base.to_vec();
    args.extend([
        "--json",
        "--message-type",
        "message",
        "--audience",
        "token",
        "--environment",
        "dev",
    ]);
    let run = tpns(&args);
    assert_eq!(run.code, 0, "{run:?}");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let pushes = env.emu.pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(v["pushId"].as_str(), Some(pushes[1].push_id.as_str()));
    assert_eq!(pushes[1].message_type, "message");
    assert_eq!(pushes[1].audience_type, "package_token_push");
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/packages")
}

#[test]
fn check_agrees_with_the_shared_corpus() {
    let dir = corpus_dir();
    let cases: Vec<(String, String, String)> = std::fs::read_to_string(dir.join("cases.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
        })
        .collect();
    assert!(cases.len() > 50);
    let mut cmd = Command::new(TPNS);
    cmd.current_dir(&dir).arg("check");
    cmd.args(cases.iter().map(|c| &c.0));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines().peekable();
    for (name, verdict, line) in &cases {
        let printed = lines.next().unwrap_or_else(|| panic!("{name}: no line"));
        let rest = printed
            .strip_prefix(name.as_str())
            .unwrap_or_else(|| panic!("{printed}"));
        // The first violation is the one checked; later ones (and the count by rule) follow
        // on lines of their own, each starting with `FILE:`.
        while lines
            .peek()
            .is_some_and(|l| verdict != "ok" && l.starts_with(&format!("{name}:")))
        {
            lines.next();
        }
        if verdict == "ok" {
            assert_eq!(rest, ": ok", "{name}");
        } else {
            // A file-level violation has no line: `FILE: rule`.
            let want = if line == "0" {
                ": ".to_owned()
            } else {
                format!(":{line}: ")
            };
            assert!(
                rest.starts_with(&want),
                "{name}: want line {line}, got {printed}"
            );
            assert!(rest.len() > want.len(), "{name}: the rule is named");
        }
    }
    assert_eq!(lines.next(), None, "{stdout}");
    // A file above 100 MiB (sparse: only its length matters) and all-valid runs.
    let tmp = TempDir::new("cli-check");
    let big = tmp.join("big.txt");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100 * 1024 * 1024 + 1)
        .unwrap();
    let good = tmp.join("good.txt");
    std::fs::write(&good, "alice\nbob\n").unwrap();
    let run = tpns(&["check", big.to_str().unwrap()]);
    assert_eq!(run.code, 3);
    assert_eq!(
        run.stdout,
        format!("{}: file larger than 100 MiB\n", big.display())
    );
    let run = tpns(&["check", good.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout, format!("{0}: ok\n{0}: ok\n", good.display()));
    let run = tpns(&["check", good.to_str().unwrap(), "/nonexistent/a.txt"]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn demo_runs_the_whole_job() {
    let started = Instant::now();
    let run = tpns_env(
        &["demo"],
        &[("TPNS_ACCESS_ID", None), ("TPNS_SECRET_KEY", None)],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let last = run.stdout.lines().last().unwrap();
    let id: u64 = last.strip_prefix("uploadId: ").unwrap().parse().unwrap();
    assert!(id > 0);
    assert!(run.stdout.contains("matches the local file"), "{run:?}");
    assert!(run.stdout.contains("push_id"), "{run:?}");
}

/// Under a terminal (a pseudo-terminal made by util-linux `script`), the progress bar shows
/// bytes, rate and time left on stderr; `--no-progress` turns it off.
#[test]
fn the_progress_bar_draws_on_a_terminal_only() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let env = Env::new("progress");
    let file = env.write("ok.txt", &package(2_000_000));
    // The answer comes after 1 s, so the bar is on screen for a while.
    let endpoint = env.fault("delay=1000");
    let line = |extra: &str| {
        format!(
            "{} upload --endpoint {endpoint} --ca-file {} {extra} {file}",
            TPNS,
            env.ca()
        )
    };
    let run = |extra: &str| {
        let out = Command::new("script")
            .args(["-qec", &line(extra), "/dev/null"])
            .env("TPNS_ACCESS_ID", ID)
            .env("TPNS_SECRET_KEY", SECRET)
            // indicatif does not draw on a dumb terminal (or one with no TERM, as in CI).
            .env("TERM", "xterm")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = run("");
    assert!(shown.contains("left"), "{shown:?}");
    assert!(shown.contains("MiB"), "{shown:?}");
    let hidden = run("--no-progress");
    assert!(!hidden.contains("left"), "{hidden:?}");
    for text in [&shown, &hidden] {
        assert!(!text.contains(SECRET));
    }
    assert_eq!(env.emu.uploads().len(), 2);
}

/// Reads the single entry of a zip with the `zip` crate (independent of tpns's inspector).
fn zip_entries(path: &str) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let name = entry.name().unwrap().to_string();
            assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

#[test]
fn pack_writes_a_compliant_zip_that_uploads() {
    let env = Env::new("pack");
    let text = package(1_000_000);
    let input = env.write("accounts.txt", &text);
    let zip_path = env.dir().join("accounts.zip");
    let zip_str = zip_path.to_str().unwrap();

    let run = tpns(&["pack", &input, "-o", zip_str]);
    assert_eq!(run.code, 0, "{run:?}");
    let rows = text.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    assert!(run.stdout.contains(&format!("{rows} rows")), "{run:?}");
    // One deflated entry, named like the input, holding exactly its bytes; much smaller.
    let entries = zip_entries(zip_str);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].0, "accounts.txt");
    assert!(entries[0].1 == text, "the entry differs from the input");
    let zip_len = std::fs::metadata(&zip_path).unwrap().len();
    assert!(
        zip_len * 4 < text.len() as u64,
        "{zip_len} bytes is not much smaller"
    );
    // No temporary file is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(env.dir().path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("tpns-pack"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // It passes `check`, and the service (the emulator) accepts it with the same rows.
    assert_eq!(
        tpns(&["check", zip_str]).stdout.trim(),
        format!("{zip_str}: ok")
    );
    let run = env.upload(&env.https(), zip_str, &["--no-progress"]);
    assert_eq!(run.code, 0, "{run:?}");
    let stored = env.emu.uploads();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].upload_id, stored[0].rows),
        (upload_id(&run), rows)
    );

    // An existing output is kept unless --force.
    let run = tpns(&["pack", &input, "-o", zip_str]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--force"), "{run:?}");
    assert_eq!(tpns(&["pack", &input, "-o", zip_str, "--force"]).code, 0);
}

#[test]
fn pack_refuses_bad_input_and_writes_nothing() {
    let env = Env::new("pack-bad");
    let bad = env.write("bad.txt", b"alice\nx\nbob\n");
    let out = env.dir().join("bad.zip");
    let run = tpns(&["pack", &bad, "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr.contains(":2: "),
        "the line of the short row: {run:?}"
    );
    assert!(
        !out.exists(),
        "nothing may be written for an invalid package"
    );

    let good = env.write("good.csv", b"alice\nbob\n");
    let run = tpns(&[
        "pack",
        &good,
        "-o",
        env.dir().join("good.tar").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    // Default output name: the input with .zip.
    let run = tpns(&["pack", &good]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        zip_entries(env.dir().join("good.zip").to_str().unwrap())[0].0,
        "good.csv"
    );
    // A zip is not packed again.
    let run = tpns(&["pack", env.dir().join("good.zip").to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:?}");
}
