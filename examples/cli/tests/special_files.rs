//! Special files and hostile names through the real `tpns` binary: a FIFO or a device where a
//! package, a SecretKey file or a CA file is expected is refused at once with exit 2 (never a
//! hang, never a read without end), and no file name or server text reaches the terminal raw.
//!
//! Every run has a 10 s limit: a child that outlives it is killed and the test fails.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use common::{Run, push_args, run, tpns_command, upload_with_key_file, with_env};
use tpns_test_support::{Emu, SECRET, TempDir};

/// How long a run may take before it counts as a hang. Each refusal here takes milliseconds.
const LIMIT: Duration = Duration::from_secs(10);

/// Runs `tpns` with `args`, the AccessID and SecretKey in the environment unless `env`
/// overrides them (`None` removes the variable), killing it and failing if it is still running
/// after [`LIMIT`]. stdin is closed, so nothing can wait on it.
fn tpns_env(args: &[&str], env: &[(&str, Option<&str>)]) -> Run {
    let mut cmd = tpns_command();
    with_env(cmd.args(args), env);
    let run = run(&mut cmd, LIMIT);
    run.assert_hides(&[SECRET], &args);
    run
}

fn tpns(args: &[&str]) -> Run {
    tpns_env(args, &[])
}

/// A real FIFO (`mkfifo`) named `name` in `dir`, which no one ever writes to.
fn fifo(dir: &TempDir, name: &str) -> String {
    let path = dir.join(name);
    let status = Command::new("mkfifo").arg(&path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
    path.to_str().unwrap().to_owned()
}

/// A listener that nothing should connect to: the endpoint of runs that must fail before they
/// send anything.
struct Silent(TcpListener);

impl Silent {
    fn new() -> Silent {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        Silent(l)
    }

    fn url(&self) -> String {
        format!("http://{}/", self.0.local_addr().unwrap())
    }

    fn assert_untouched(&self) {
        match self.0.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("something connected: {other:?}"),
        }
    }
}

fn assert_refused(run: &Run, want: &str) {
    assert_eq!(run.code, 2, "exit 2 expected: {run:?}");
    assert!(run.stderr.contains(want), "want {want:?} in {run:?}");
}

#[test]
fn check_refuses_a_fifo_at_once() {
    let dir = TempDir::new("special-check");
    let fifo = fifo(&dir, "accounts.txt");
    let ok = dir.write("ok.txt", b"alice\n");
    let run = tpns(&["check", &fifo, &ok]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stdout,
        format!("{fifo}: cannot read the file: not a regular file: a FIFO\n{ok}: ok\n")
    );
}

#[test]
fn upload_refuses_a_fifo_at_once_and_sends_nothing() {
    let dir = TempDir::new("special-upload");
    let fifo = fifo(&dir, "accounts.csv");
    let server = Silent::new();
    let run = tpns(&["upload", "--endpoint", &server.url(), &fifo]);
    assert_refused(
        &run,
        &format!("cannot read {fifo}: not a regular file: a FIFO"),
    );
    assert_eq!(run.stdout, "");
    server.assert_untouched();
}

#[test]
fn pack_refuses_a_fifo_at_once_and_writes_nothing() {
    let dir = TempDir::new("special-pack");
    let fifo = fifo(&dir, "accounts.txt");
    let run = tpns(&["pack", &fifo]);
    assert_refused(
        &run,
        &format!("cannot read {fifo}: not a regular file: a FIFO"),
    );
    assert_eq!(dir.names(), ["accounts.txt"], "no zip, no temporary file");
}

#[test]
fn a_secret_key_file_that_is_a_device_or_a_fifo_is_refused_at_once() {
    let dir = TempDir::new("special-secret");
    let fifo = fifo(&dir, "key");
    let package = dir.write("ok.txt", b"alice\n");
    let server = Silent::new();
    let url = server.url();
    let no_env = [("TPNS_SECRET_KEY", None)];
    for (key, kind) in [("/dev/zero", "a character device"), (&fifo, "a FIFO")] {
        let want = format!("cannot read the SecretKey file {key}: not a regular file: {kind}");
        let run = tpns_env(&upload_with_key_file(&url, key, &package), &no_env);
        assert_refused(&run, &want);
        let push = push_args("1", &["--endpoint", &url, "--secret-key-file", key]);
        assert_refused(&tpns_env(&push, &no_env), &want);
    }
    server.assert_untouched();
}

#[test]
fn a_secret_key_file_too_large_not_utf8_or_blank_is_refused() {
    let dir = TempDir::new("special-secret-bad");
    let package = dir.write("ok.txt", b"alice\n");
    let server = Silent::new();
    let url = server.url();
    let large = dir.write("large", [b'a'; 1025]);
    let latin1 = dir.write("latin1", b"caf\xe9");
    let blank = dir.write("blank", "\u{feff} \r\n\t\n".as_bytes());
    for (key, want) in [
        (&large, "larger than the limit of 1024 bytes".to_owned()),
        (&latin1, "not valid UTF-8".to_owned()),
        (&blank, format!("the SecretKey file {blank} is empty")),
    ] {
        let run = tpns_env(
            &upload_with_key_file(&url, key, &package),
            &[("TPNS_SECRET_KEY", None)],
        );
        assert_refused(&run, &want);
    }
    server.assert_untouched();
}

#[test]
fn a_secret_key_file_loses_its_bom_and_surrounding_whitespace() {
    let emu = Emu::start("special-secret-bom");
    let dir = emu.dir();
    let package = dir.write("ok.txt", b"alice\nbob\n");
    // 1 KiB exactly is still accepted.
    let padded = format!("\u{feff} \t{SECRET}\r\n");
    let padded = format!("{padded}{}", " ".repeat(1024 - padded.len()));
    let key = dir.write("key", padded.as_bytes());
    let url = emu.http_url().unwrap();
    let run = tpns_env(
        &upload_with_key_file(&url, &key, &package),
        &[("TPNS_SECRET_KEY", None)],
    );
    assert_eq!(run.code, 0, "the key authenticates once trimmed: {run:?}");
    assert_eq!(emu.uploads().len(), 1);
}

#[test]
fn a_ca_file_that_is_a_device_a_fifo_or_too_large_is_refused_at_once() {
    let dir = TempDir::new("special-ca");
    let fifo = fifo(&dir, "ca.pem");
    let large = dir.join("large.pem");
    // A PEM-looking file above 4 MiB: refused by its size, before it is parsed.
    let mut f = std::fs::File::create(&large).unwrap();
    f.write_all(&vec![b'#'; 4 * 1024 * 1024 + 1]).unwrap();
    drop(f);
    let large = large.to_str().unwrap().to_owned();
    let package = dir.write("ok.txt", b"alice\n");
    let server = Silent::new();
    for (ca, why) in [
        ("/dev/zero", "not a regular file: a character device"),
        (fifo.as_str(), "not a regular file: a FIFO"),
        (large.as_str(), "larger than the limit of 4194304 bytes"),
    ] {
        let run = tpns(&[
            "upload",
            "--endpoint",
            &server.url(),
            "--ca-file",
            ca,
            &package,
        ]);
        assert_refused(&run, &format!("cannot read the CA file {ca}: {why}"));
    }
    server.assert_untouched();
}

/// The process id Linux gave last, if it says.
fn last_pid() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[test]
fn pack_never_follows_a_planted_link() {
    use sha2::{Digest, Sha256};
    let dir = TempDir::new("special-links");
    let input = dir.write("ok.txt", b"alice\nbob\n");
    let victim = dir.write("victim", b"untouched");
    let mut planted = Vec::new();
    let mut plant = |name: String| {
        std::os::unix::fs::symlink(&victim, dir.join(&name)).unwrap();
        planted.push(name);
    };
    // The old predictable name, `.NAME.tpns-pack-PID`, for the next process ids.
    let first = last_pid().map(|p| p + 1);
    let pids = first.map_or(0..0, |p| p..p + 2000);
    for pid in pids.clone() {
        plant(format!(".ok.zip.tpns-pack-{pid}"));
    }
    // Random-looking names of the new form.
    for i in 0..64u32 {
        let hex: String = Sha256::digest(i.to_le_bytes())[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        plant(format!(".tpns-pack-{hex}.tmp"));
    }

    let run = tpns(&["pack", &input]);
    assert_eq!(run.code, 0, "{run:?}");
    if first.is_some() {
        assert!(
            pids.contains(&run.pid),
            "pid {} outside the planted {pids:?}: the old name was not covered",
            run.pid
        );
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
    for name in &planted {
        let meta = std::fs::symlink_metadata(dir.join(name)).unwrap();
        assert!(meta.file_type().is_symlink(), "{name} is left as it was");
    }
    let zip = std::fs::symlink_metadata(dir.join("ok.zip")).unwrap();
    assert!(zip.file_type().is_file(), "the zip is a new regular file");
    // Nothing else is left behind: no temporary file.
    let mut want: Vec<String> = planted.clone();
    want.extend(["ok.txt", "ok.zip", "victim"].map(String::from));
    want.sort();
    assert_eq!(dir.names(), want);
}

/// Whether `text` holds a character that must never reach a terminal raw.
fn has_raw_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && c != '\n' || matches!(c, '\u{202a}'..='\u{202e}'))
}

#[test]
fn hostile_file_names_print_escaped() {
    let dir = TempDir::new("special-names");
    // ESC ] 0 ; ... BEL sets a terminal's title; U+202E reverses what follows.
    let name = "evil\u{1b}]0;pwned\u{7}\u{202e}txt.txt";
    let shown = "evil\\u{1b}]0;pwned\\u{7}\\u{202e}txt.txt";
    let path = dir.write(name, b"alice\n");
    let dir_shown = dir.path().to_str().unwrap();

    // The package rules refuse such a name (exit 3), and the message shows it escaped:
    // `check` on stdout, `pack` and `upload` (before sending anything) on stderr.
    let server = Silent::new();
    let url = server.url();
    let named = format!("{dir_shown}/{shown}: file name");
    for (args, on_stdout) in [
        (vec!["check", &path], true),
        (vec!["pack", &path], false),
        (vec!["upload", "--endpoint", &url, &path], false),
    ] {
        let run = tpns(&args);
        assert_eq!(run.code, 3, "{args:?}: {run:?}");
        assert!(
            !has_raw_control(&run.stdout) && !has_raw_control(&run.stderr),
            "{args:?}: {run:?}"
        );
        let shown_right = if on_stdout {
            run.stdout.starts_with(&named)
        } else {
            run.stderr.contains(&named)
        };
        assert!(shown_right, "{args:?}: {run:?}");
    }

    // A valid name in a hostile folder: printed with `ok`, with the folder escaped.
    let folder = dir.join("d\u{1b}[31m\u{202e}");
    std::fs::create_dir(&folder).unwrap();
    let ok = folder.join("ok.txt");
    std::fs::write(&ok, b"alice\n").unwrap();
    let run = tpns(&["check", ok.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        format!("{dir_shown}/d\\u{{1b}}[31m\\u{{202e}}/ok.txt: ok\n")
    );

    // Packing it names the hostile folder in its output line, escaped.
    let run = tpns(&["pack", ok.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!has_raw_control(&run.stdout), "{run:?}");
    assert!(
        run.stdout.starts_with(&format!(
            "{dir_shown}/d\\u{{1b}}[31m\\u{{202e}}/ok.zip: 1 rows"
        )),
        "{run:?}"
    );
    server.assert_untouched();
}

/// A one-shot HTTP server: reads one request (head and `Content-Length` body) and answers 200
/// with `body`.
fn answer_once(body: &'static str) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(LIMIT)).unwrap();
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            assert_eq!(
                conn.read(&mut byte).unwrap(),
                1,
                "the request head ends early"
            );
            got.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&got).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut request_body = vec![0u8; len];
        conn.read_exact(&mut request_body).unwrap();
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(answer.as_bytes()).unwrap();
    });
    (url, handle)
}

#[test]
fn server_text_prints_escaped() {
    // A JSON string may carry ESC, BEL and U+202E as \u escapes.
    let (url, server) = answer_once(
        r#"{"ret_code":10110001,"err_msg":"bad \u001b[2J\u0007\u202eobviously","push_id":""}"#,
    );
    let run = tpns(&push_args("1", &["--retries", "0", "--endpoint", &url]));
    server.join().unwrap();
    assert_eq!(run.code, 5, "{run:?}");
    assert!(!has_raw_control(&run.stderr), "{run:?}");
    assert!(
        run.stderr.contains("\\u{1b}[2J\\u{7}\\u{202e}obviously"),
        "{run:?}"
    );
}

#[test]
fn the_limits_are_documented_in_help() {
    let run = tpns(&["upload", "--help"]);
    assert_eq!(run.code, 0, "{run:?}");
    let help = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("at most 1 KiB"), "{help}");
    assert!(
        help.contains("BOM and surrounding whitespace are removed"),
        "{help}"
    );
    assert!(help.contains("at most 4 MiB"), "{help}");
}
