//! The async driver sends exactly what the blocking driver sends and reads answers the same
//! way (the shared logic), over a scripted transport.
#![cfg(feature = "async")]

mod common;

use core::convert::Infallible;
use core::ops::ControlFlow;

use common::{MockError, Script, basic_push, block_on, job, ok_response};
use tpns_core::endpoint::Endpoint;
use tpns_core::exchange::ExchangeError;
use tpns_core::upload::{UploadError, UploadResponse, upload};

const OK: &str = r#"{"retCode":0,"errMsg":"","uploadId":77}"#;

type Outcome = Result<UploadResponse, UploadError<MockError, Infallible>>;

/// The blocking driver's upload of `pkg` over `script`.
fn blocking(script: &mut Script, expect: bool, pkg: &[u8], buf: &mut [u8]) -> Outcome {
    let endpoint = Endpoint::parse("https://127.0.0.1:1/").unwrap();
    let len = pkg.len() as u64;
    upload(script, &job(&endpoint, expect), pkg, len, buf, |_| go())
}

/// The async driver's upload of `pkg` over `script`, run to its end.
fn asynchronous(script: &mut Script, expect: bool, pkg: &[u8], buf: &mut [u8]) -> Outcome {
    let endpoint = Endpoint::parse("https://127.0.0.1:1/").unwrap();
    let job = job(&endpoint, expect);
    let len = pkg.len() as u64;
    block_on(tpns_core::upload_async::upload(
        script,
        &job,
        pkg,
        len,
        buf,
        |_| go(),
    ))
}

fn go() -> ControlFlow<()> {
    ControlFlow::Continue(())
}

#[test]
fn async_and_blocking_send_the_same_bytes() {
    let pkg: Vec<u8> = (0..2000).map(|i| b'a' + (i % 26) as u8).collect();
    for expect in [false, true] {
        let response = if expect {
            [&b"HTTP/1.1 100 Continue\r\n\r\n"[..], &ok_response(OK)].concat()
        } else {
            ok_response(OK)
        };
        for buf_len in [1, 64, 300, 4096] {
            let mut blocking = Script::new(&response);
            blocking.read_chunk = 25;
            let mut buf = vec![0u8; buf_len];
            let a = self::blocking(&mut blocking, expect, &pkg, &mut buf).unwrap();
            let mut async_script = Script::new(&response);
            async_script.read_chunk = 25;
            let b = asynchronous(&mut async_script, expect, &pkg, &mut buf).unwrap();
            assert_eq!(a, b);
            assert_eq!(b.upload_id, 77);
            assert_eq!(
                blocking.written, async_script.written,
                "buffer {buf_len}, expect {expect}"
            );
        }
    }
}

#[test]
fn async_reports_early_answers_and_phases() {
    let pkg = vec![b'x'; 4000];
    let json = r#"{"retCode":1008003,"errMsg":"auth"}"#;
    let response = format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    );
    let mut script = Script::new(response.as_bytes());
    script.fail_write_at = Some(1000);
    let mut buf = [0u8; 128];
    let err = asynchronous(&mut script, false, &pkg, &mut buf).unwrap_err();
    assert!(
        matches!(
            err,
            UploadError::Exchange(ExchangeError::Status { status: 401, .. })
        ),
        "{err:?}"
    );
    assert!(err.is_auth_failure());

    let mut script = Script::new(b"");
    script.fail_write_at = Some(1000);
    let err = asynchronous(&mut script, false, &pkg, &mut buf).unwrap_err();
    assert!(
        matches!(err, UploadError::Exchange(ExchangeError::SendBody { .. })),
        "{err:?}"
    );
}

/// `push_async` runs the same exchange as `push`: the same bytes out, the same answer, and the
/// same error (with whether the push may have gone out) when the answer is lost.
#[test]
fn async_push_sends_what_the_blocking_push_sends() {
    use tpns_core::push::{PushRequest, push, push_async};
    let endpoint = Endpoint::parse("https://127.0.0.1:1/").unwrap();
    let request = PushRequest {
        upload_id: 9,
        title: "héllo",
        content: "wörld",
        ..PushRequest::default()
    };
    let job = basic_push(&endpoint, ("42", "secret"), request);
    let response = ok_response(r#"{"ret_code":0,"err_msg":"NO_ERROR","push_id":"77"}"#);
    for buf_len in [1, 64, 300, 4096] {
        let mut buf = vec![0u8; buf_len];
        let mut blocking = Script::new(&response);
        blocking.read_chunk = 25;
        let a = push(&mut blocking, &job, &mut buf).unwrap();
        let mut asynchronous = Script::new(&response);
        asynchronous.read_chunk = 25;
        let b = block_on(push_async(&mut asynchronous, &job, &mut buf)).unwrap();
        assert_eq!(a, b);
        assert_eq!(b.push_id.as_str(), "77");
        assert_eq!(blocking.written, asynchronous.written, "buffer {buf_len}");

        let mut lost = Script::new(&response);
        lost.fail_read_at = Some(0);
        let err = block_on(push_async(&mut lost, &job, &mut buf)).unwrap_err();
        assert!(
            matches!(err.exchange(), Some(ExchangeError::ReadResponse(_))),
            "{err:?}"
        );
        assert!(err.may_have_been_sent() && !err.is_transient());
    }
}
