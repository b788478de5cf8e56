//! The upload driver over a scripted transport: every buffer size, short reads and writes,
//! failures in each phase, early answers, `Expect: 100-continue`, progress and cancel.

mod common;

use core::ops::ControlFlow;

use common::{MockError, Script, head_end, job, ok_response};
use tpns_core::endpoint::Endpoint;
use tpns_core::exchange::ExchangeError;
use tpns_core::json::{JsonError, JsonErrorKind};
use tpns_core::multipart::BodyError;
use tpns_core::response::ResponseError;
use tpns_core::upload::{Progress, UploadError, upload};

const OK: &str = r#"{"retCode":0,"errMsg":"","uploadId":4242}"#;

fn package(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0u32;
    while out.len() < len {
        out.extend_from_slice(format!("account-{i:06}\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

type Result2 =
    Result<tpns_core::upload::UploadResponse, UploadError<MockError, core::convert::Infallible>>;

fn run(script: &mut Script, expect: bool, pkg: &[u8], buf_len: usize) -> Result2 {
    run_with_progress(script, expect, pkg, buf_len, |_| ControlFlow::Continue(()))
}

/// [`run`], with `progress` called as the package leaves.
fn run_with_progress(
    script: &mut Script,
    expect: bool,
    pkg: &[u8],
    buf_len: usize,
    progress: impl FnMut(Progress) -> ControlFlow<()>,
) -> Result2 {
    let endpoint = Endpoint::parse("https://127.0.0.1:8443/").unwrap();
    let mut buf = vec![0u8; buf_len];
    let job = job(&endpoint, expect);
    upload(script, &job, pkg, pkg.len() as u64, &mut buf, progress)
}

#[test]
fn golden_request_bytes() {
    let pkg = b"alice\nbob\n";
    let mut script = Script::new(&ok_response(OK));
    let answer = run(&mut script, false, pkg, 4096).unwrap();
    assert_eq!(answer.upload_id, 4242);
    assert_eq!(answer.ret_code, 0);
    let boundary = "tpns-42424242424242424242424242424242";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"accounts.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nalice\nbob\n\r\n--{boundary}--\r\n"
    );
    let expected = format!(
        "POST /v3/push/package/upload HTTP/1.1\r\n\
         Host: 127.0.0.1:8443\r\n\
         Authorization: Basic MTUwMDAwMTA0ODoxNDUyZmNlYmFlOWYzMTE1YmE3OTRmYjBmZmYyZmQ3Mw==\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\n\
         User-Agent: tpns/{}\r\n\
         Accept: application/json\r\n\r\n{body}",
        body.len(),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(String::from_utf8(script.written.clone()).unwrap(), expected);
    // Head, part head and package leave in one write, and the stream is flushed once.
    assert_eq!((script.writes, script.flushes), (1, 1));
}

#[test]
fn every_buffer_size_sends_the_same_bytes() {
    let pkg = package(700);
    let mut reference = Script::new(&ok_response(OK));
    run(&mut reference, false, &pkg, 1 << 16).unwrap();
    for buf_len in (1..=64).chain([100, 333, 512, 1000, 4096]) {
        let mut script = Script::new(&ok_response(OK));
        let answer = run(&mut script, false, &pkg, buf_len).unwrap();
        assert_eq!(answer.upload_id, 4242, "buffer {buf_len}");
        assert_eq!(script.written, reference.written, "buffer {buf_len}");
    }
}

#[test]
fn one_byte_reads_and_writes() {
    let pkg = package(300);
    let mut reference = Script::new(&ok_response(OK));
    run(&mut reference, false, &pkg, 4096).unwrap();
    for buf_len in [1, 7, 64, 4096] {
        let mut script = Script::new(&ok_response(OK));
        script.read_chunk = 1;
        script.write_chunk = 1;
        let answer = run(&mut script, false, &pkg, buf_len).unwrap();
        assert_eq!(answer.upload_id, 4242);
        assert_eq!(script.written, reference.written);
    }
}

#[test]
fn each_phase_reports_its_own_failure() {
    let pkg = package(1000);
    let mut reference = Script::new(&ok_response(OK));
    run(&mut reference, false, &pkg, 64).unwrap();
    let total = reference.written.len();
    let head_len = head_end(&reference.written);
    for at in [0, 10, head_len - 1] {
        let mut script = Script::new(b"");
        script.fail_write_at = Some(at);
        let err = run(&mut script, false, &pkg, 64).unwrap_err();
        assert!(
            matches!(
                err,
                UploadError::Exchange(ExchangeError::SendHead(MockError("write failed")))
            ),
            "at {at}: {err:?}"
        );
        assert!(err.is_transient());
    }
    // Every accepted byte is counted, even when the head's last bytes and the first package
    // bytes share one write: a failure one byte past the head is the body's.
    for at in [head_len, head_len + 1, head_len + 500, total - 1] {
        let mut script = Script::new(b"");
        script.fail_write_at = Some(at);
        let err = run(&mut script, false, &pkg, 64).unwrap_err();
        let UploadError::Exchange(ExchangeError::SendBody { sent, .. }) = err else {
            panic!("at {at}: {err:?}")
        };
        assert!(sent <= 1000, "{sent}");
    }
    let response = ok_response(OK);
    for at in [0, 5, response.len() - 1] {
        let mut script = Script::new(&response);
        script.fail_read_at = Some(at);
        let err = run(&mut script, false, &pkg, 64).unwrap_err();
        assert!(
            matches!(err, UploadError::Exchange(ExchangeError::ReadResponse(_))),
            "at {at}: {err:?}"
        );
    }
    // A connection closed mid-response is a protocol error, and transient.
    let mut script = Script::new(&response[..response.len() - 3]);
    let err = run(&mut script, false, &pkg, 64).unwrap_err();
    assert!(
        matches!(
            err,
            UploadError::Exchange(ExchangeError::Response(ResponseError::IncompleteBody))
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
}

#[test]
fn an_early_answer_beats_the_broken_pipe() {
    let pkg = package(5000);
    let json = r#"{"retCode":1008003,"errMsg":"authentication failed"}"#;
    let response = format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    let mut script = Script::new(response.as_bytes());
    script.fail_write_at = Some(400);
    let err = run(&mut script, false, &pkg, 256).unwrap_err();
    let UploadError::Exchange(ExchangeError::Status {
        status,
        ret_code,
        message,
    }) = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*status, *ret_code, message.as_str()),
        (401, Some(1_008_003), "authentication failed")
    );
    assert!(err.is_auth_failure());
    assert!(!err.is_transient());
}

#[test]
fn expect_continue_waits_for_the_go_ahead() {
    let pkg = package(200);
    let mut with_continue = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
    with_continue.extend_from_slice(&ok_response(OK));
    // The scripted server sends the interim response in its own read.
    let mut script = Script::new(&with_continue);
    script.read_chunk = 25;
    let answer = run(&mut script, true, &pkg, 128).unwrap();
    assert_eq!(answer.upload_id, 4242);
    let text = String::from_utf8(script.written.clone()).unwrap();
    assert!(text.contains("Expect: 100-continue\r\n"));
    assert!(text.ends_with("--\r\n"));

    // A final answer instead of 100: the body is never sent.
    let json = r#"{"retCode":10030002,"errMsg":"AccessID and key do not match"}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    );
    let mut script = Script::new(response.as_bytes());
    let err = run(&mut script, true, &pkg, 128).unwrap_err();
    assert!(
        matches!(
            err,
            UploadError::Exchange(ExchangeError::Api {
                ret_code: 10_030_002,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.is_auth_failure());
    let head_end = head_end(&script.written);
    assert_eq!(
        script.written.len(),
        head_end,
        "no body bytes after a refusal"
    );
}

#[test]
fn api_and_http_errors_are_told_apart() {
    let pkg = package(10);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            ok_response(r#"{"retCode":1008028,"errMsg":"request too fast"}"#),
            "api-rate",
        ),
        (
            ok_response(r#"{"retCode":1008011,"errMsg":"line 3: row too long"}"#),
            "api",
        ),
        (ok_response(r#"{"retCode":0,"errMsg":""}"#), "missing-id"),
        (ok_response(r#"{"retCode":0,"uploadId":0}"#), "missing-id"),
        (ok_response(r#"{"retCode":0,"uploadId":-7}"#), "missing-id"),
        (
            ok_response(r#"{"retCode":0,"uploadId":null}"#),
            "missing-id",
        ),
        // A refusal followed by a success for the same key: the answer is malformed.
        (
            ok_response(r#"{"retCode":1008003,"errMsg":"x","retCode":0,"uploadId":42}"#),
            "duplicate",
        ),
        (
            ok_response(r#"{"retCode":0,"uploadId":1,"upload_id":2}"#),
            "duplicate",
        ),
        (ok_response(r#"{"errMsg":"?"}"#), "missing-code"),
        (ok_response(r#"{"retCode":0,"uploadId":"#), "json"),
        (
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n\r\n<h1>x</h1"[..].to_vec(),
            "503",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnope".to_vec(),
            "json",
        ),
    ];
    for (response, kind) in cases {
        let mut script = Script::new(&response);
        let err = run(&mut script, false, &pkg, 64).unwrap_err();
        match (kind, &err) {
            (
                "api-rate",
                UploadError::Exchange(ExchangeError::Api {
                    ret_code: 1_008_028,
                    ..
                }),
            ) => assert!(err.is_transient()),
            (
                "api",
                UploadError::Exchange(ExchangeError::Api {
                    ret_code: 1_008_011,
                    err_msg,
                }),
            ) => {
                assert_eq!(err_msg.as_str(), "line 3: row too long");
                assert!(!err.is_transient());
            }
            (
                "missing-id" | "missing-code",
                UploadError::Exchange(ExchangeError::MissingField { name, body }),
            ) => {
                let want = if kind == "missing-id" {
                    "uploadId"
                } else {
                    "retCode"
                };
                assert_eq!(*name, want);
                // The whole (short) body is in the error, to show what came instead.
                let text = String::from_utf8_lossy(&response);
                assert!(
                    text.ends_with(&format!("\r\n\r\n{}", body.as_str())),
                    "{err}"
                );
                assert!(
                    err.to_string()
                        .contains(&format!("(body: {})", body.as_str()))
                );
            }
            (
                "duplicate",
                UploadError::Exchange(ExchangeError::Json(JsonError {
                    kind: JsonErrorKind::DuplicateKey,
                    ..
                })),
            ) => assert!(!err.is_transient()),
            ("json", UploadError::Exchange(ExchangeError::Json(_))) => {}
            (
                "503",
                UploadError::Exchange(ExchangeError::Status {
                    status: 503,
                    message,
                    ..
                }),
            ) => {
                assert_eq!(message.as_str(), "<h1>x</h1");
                assert!(err.is_transient());
            }
            _ => panic!("{kind}: {err:?}"),
        }
    }
}

#[test]
fn sources_of_the_wrong_length_are_errors() {
    let endpoint = Endpoint::parse("http://127.0.0.1:1/").unwrap();
    let pkg = package(100);
    for declared in [101u64, 99] {
        let mut script = Script::new(&ok_response(OK));
        let mut buf = [0u8; 64];
        let err = upload(
            &mut script,
            &job(&endpoint, false),
            &pkg[..],
            declared,
            &mut buf,
            |_| ControlFlow::Continue(()),
        )
        .unwrap_err();
        match (declared, err) {
            (
                101,
                UploadError::Source(BodyError::SourceTooShort {
                    expected: 101,
                    got: 100,
                }),
            ) => {}
            (99, UploadError::Source(BodyError::SourceTooLong { expected: 99 })) => {}
            (_, err) => panic!("{declared}: {err:?}"),
        }
    }
}

#[test]
fn progress_is_monotonic_and_cancel_stops_the_upload() {
    let pkg = package(10_000);
    let mut seen: Vec<Progress> = Vec::new();
    let mut script = Script::new(&ok_response(OK));
    run_with_progress(&mut script, false, &pkg, 512, |p| {
        seen.push(p);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert!(seen.len() > 10);
    assert!(seen.windows(2).all(|w| w[0].sent <= w[1].sent));
    assert_eq!(seen.first().unwrap().sent, 0);
    assert_eq!(
        *seen.last().unwrap(),
        Progress {
            sent: 10_000,
            total: 10_000
        }
    );

    let mut script = Script::new(&ok_response(OK));
    let err = run_with_progress(&mut script, false, &pkg, 512, |p| {
        if p.sent > 3000 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap_err();
    let UploadError::Cancelled { sent } = err else {
        panic!("{err:?}")
    };
    assert!((3000..4000).contains(&sent), "{sent}");
    assert!(script.written.len() < 5000);
    assert_eq!(script.reads, 0, "a cancelled upload reads no response");
}

/// The first report comes before any byte of the body (with `Expect`, after the go-ahead, with
/// the head out): cancelling there sends no body. Then one report per buffer of the body.
#[test]
fn the_first_report_comes_before_the_body() {
    let pkg = package(2000);
    let mut with_continue = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
    with_continue.extend_from_slice(&ok_response(OK));
    // Without Expect nothing at all is written before the first report. With it there is no
    // report while the head waits for `100 Continue`: the first one comes after it, with the
    // head out and no body byte.
    for expect in [false, true] {
        let mut script = Script::new(&with_continue[if expect { 0 } else { 25 }..]);
        // The interim answer in a read of its own, as a server sends it before the body.
        script.read_chunk = 25;
        let mut calls = 0;
        let err = run_with_progress(&mut script, expect, &pkg, 256, |p| {
            calls += 1;
            assert_eq!(p.sent, 0);
            ControlFlow::Break(())
        })
        .unwrap_err();
        assert!(matches!(err, UploadError::Cancelled { sent: 0 }), "{err:?}");
        assert_eq!(calls, 1);
        let head = String::from_utf8(script.written.clone()).unwrap();
        if expect {
            assert!(head.ends_with("\r\n\r\n") && head.contains("Expect: 100-continue\r\n"));
            assert!(
                !head.contains("Content-Disposition"),
                "a body byte went out: {head}"
            );
        } else {
            assert!(head.is_empty(), "{} bytes written", head.len());
        }
    }

    // Carried on: one report before the body, then one per buffer (the last one whole).
    for expect in [false, true] {
        let mut script = Script::new(&with_continue[if expect { 0 } else { 25 }..]);
        // The interim answer in a read of its own, as a server sends it before the body.
        script.read_chunk = 25;
        let mut sent = Vec::new();
        run_with_progress(&mut script, expect, &pkg, 256, |p| {
            sent.push(p.sent);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(sent.first(), Some(&0), "expect {expect}");
        assert_eq!(sent.last(), Some(&2000), "expect {expect}");
        // One report per buffer written, each taken whole here; with Expect, the head's own
        // buffers (before the go-ahead) are not reported.
        let head_len = script
            .written
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap()
            + 4;
        let unreported = if expect { head_len.div_ceil(256) } else { 0 };
        assert_eq!(
            sent.len(),
            script.writes - unreported + 1,
            "expect {expect}"
        );
        assert!(sent.windows(2).all(|w| w[0] <= w[1]));
    }
}

#[test]
fn bad_request_values_send_nothing() {
    let endpoint = Endpoint {
        host: "evil\r\nX: 1",
        ..Endpoint::parse("http://h/").unwrap()
    };
    let mut script = Script::new(b"");
    let mut buf = [0u8; 64];
    let err = upload(
        &mut script,
        &job(&endpoint, false),
        &b"ab\n"[..],
        3,
        &mut buf,
        |_| ControlFlow::Continue(()),
    )
    .unwrap_err();
    assert!(
        matches!(err, UploadError::Exchange(ExchangeError::Request(_))),
        "{err:?}"
    );
    assert!(script.written.is_empty());
    let endpoint = Endpoint::parse("http://h/").unwrap();
    let err = upload(
        &mut script,
        &job(&endpoint, false),
        &b"ab\n"[..],
        3,
        &mut [],
        |_| ControlFlow::Continue(()),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        UploadError::Exchange(ExchangeError::EmptyBuffer)
    ));
}

#[test]
fn the_upload_state_is_small() {
    // The driver's own state lives on the stack; the caller's buffer is the only other RAM.
    // Budgets for the device path (issue: HTTP layer within 1 KiB beyond the TLS buffers).
    assert!(core::mem::size_of::<tpns_core::response::ResponseReader>() <= 160);
    assert!(core::mem::size_of::<tpns_core::json::JsonReader>() <= 128);
    assert!(
        core::mem::size_of::<tpns_core::exchange::Collector<tpns_core::upload::UploadFields>>()
            <= 544
    );
}
