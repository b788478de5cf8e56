//! The `tpns` binary against small raw servers on 127.0.0.1 (issue 16): odd successes are
//! errors (a key given twice, an empty `push_id`), and `--deadline` cuts off a server that
//! keeps an exchange alive one byte at a time.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{GENEROUS, Run, tpns_within};
use tpns_test_support::raw::{RawServer, dripping_server, read_request};

fn tpns(args: &[&str]) -> Run {
    tpns_within(args, GENEROUS)
}

/// A small valid package in a fresh file.
fn package(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tpns-answers-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ok.txt");
    std::fs::write(&path, b"alice\nbob\n").unwrap();
    path
}

/// Answers one request with `status 200` and `body`.
fn answering(body: &'static str) -> RawServer<()> {
    RawServer::spawn(move |mut conn| {
        read_request(&mut conn).unwrap();
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(answer.as_bytes()).unwrap();
    })
}

fn url(server: &RawServer<impl Send + 'static>) -> String {
    format!("http://{}/", server.addr)
}

fn push_args(endpoint: &str) -> Vec<&str> {
    let mut args = vec![
        "push",
        "--upload-id",
        "42",
        "--title",
        "t",
        "--content",
        "c",
    ];
    args.extend(["--endpoint", endpoint, "--retries", "0"]);
    args
}

#[test]
fn a_refusal_and_a_success_in_one_upload_answer_exit_6_without_an_id() {
    let file = package("dup");
    let server = answering(r#"{"retCode":1008003,"errMsg":"x","retCode":0,"uploadId":42}"#);
    let endpoint = url(&server);
    let run = tpns(&[
        "upload",
        "--endpoint",
        &endpoint,
        "--retries",
        "0",
        file.to_str().unwrap(),
    ]);
    server.join();
    assert_eq!(run.code, 6, "{run:?}");
    assert_eq!(run.stdout, "", "no uploadId is printed: {run:?}");
    assert!(
        run.stderr
            .contains("upload failed: read response: bad JSON body: JSON field given twice"),
        "{run:?}"
    );
}

#[test]
fn a_push_answer_with_an_empty_push_id_exits_6_showing_the_body() {
    for body in [
        r#"{"ret_code":0,"err_msg":"NO_ERROR","push_id":""}"#,
        r#"{"ret_code":0,"push_id":null}"#,
        r#"{"ret_code":0,"push_id":[]}"#,
    ] {
        let server = answering(body);
        let endpoint = url(&server);
        let run = tpns(&push_args(&endpoint));
        server.join();
        assert_eq!(run.code, 6, "{body}: {run:?}");
        assert_eq!(run.stdout, "", "{body}: {run:?}");
        let want = format!(
            "push failed: read response: the response has no valid `push_id` (body: {body})"
        );
        assert!(run.stderr.contains(&want), "{body}: {run:?}");
    }
    // A push_id given twice is refused too.
    let server = answering(r#"{"ret_code":0,"push_id":"","push_id":"7"}"#);
    let endpoint = url(&server);
    let run = tpns(&push_args(&endpoint));
    server.join();
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("JSON field given twice"), "{run:?}");
}

#[test]
fn deadline_cuts_off_a_server_that_drips_its_answer() {
    let file = package("drip");
    let server = dripping_server();
    let endpoint = url(&server);
    let started = Instant::now();
    let run = tpns(&[
        "upload",
        "--endpoint",
        &endpoint,
        "--timeout",
        "1",
        "--deadline",
        "2",
        file.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    server.join();
    assert_eq!(run.code, 6, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(
            "upload failed: read response: deadline passed (2.0 s for the whole exchange, \
             retries included)"
        ),
        "{run:?}"
    );
    assert!(run.stderr.contains("hint: on a slow link"), "{run:?}");
    assert!(!run.stderr.contains("retrying"), "{run:?}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    println!("tpns upload --deadline 2 against a dripping server: {took:?}");

    let server = dripping_server();
    let endpoint = url(&server);
    let mut args = push_args(&endpoint);
    args.extend(["--timeout", "1", "--deadline", "2"]);
    let started = Instant::now();
    let run = tpns(&args);
    let took = started.elapsed();
    server.join();
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stderr
            .contains("push failed: read response: deadline passed"),
        "{run:?}"
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn deadline_must_be_a_positive_number_of_seconds() {
    for bad in ["0", "-1", "soon", "86401"] {
        let arg = format!("--deadline={bad}");
        let run = tpns(&["upload", &arg, "x.txt"]);
        assert_eq!(run.code, 2, "{bad}: {run:?}");
        assert!(run.stderr.contains("--deadline"), "{bad}: {run:?}");
    }
}
