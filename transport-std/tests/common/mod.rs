//! Helpers shared by the std transport's integration tests, on top of the workspace's test
//! support (which knows no tpns type).

#![allow(dead_code)]

use std::io::Cursor;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use tpns_emulator::Emulator;
use tpns_test_support::{ID, SECRET, accounts};
use tpns_transport_std::tpns_core::exchange::ExchangeError;
use tpns_transport_std::tpns_core::upload::UploadError;
use tpns_transport_std::{
    Client, ClientBuilder, Error, Event, Phase, PushRequest, RetryPolicy, Uploaded,
};

/// A client for `emu` over HTTPS, trusting its CA, retrying `max_retries` times with pauses
/// from `initial_ms` up to `max_ms` milliseconds.
pub fn builder(emu: &Emulator, max_retries: u32, initial_ms: u64, max_ms: u64) -> ClientBuilder {
    client_for(emu.https_url())
        .ca_file(emu.ca_path())
        .retry(RetryPolicy {
            max_retries,
            initial_delay: Duration::from_millis(initial_ms),
            max_delay: Duration::from_millis(max_ms),
        })
}

/// A client for `url` with the test app's credentials and every other setting at its default.
pub fn client_for(url: impl Into<String>) -> ClientBuilder {
    Client::builder().endpoint(url).credentials(ID, SECRET)
}

/// `max_retries` retries, 1 ms apart: the retries without the wait.
pub fn quick_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        initial_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    }
}

/// A push to package `upload_id` titled `t`.
pub fn push_request(upload_id: u64, content: &str) -> PushRequest<'_> {
    PushRequest {
        upload_id,
        title: "t",
        content,
        ..PushRequest::default()
    }
}

/// Counts the retry events of a request.
pub fn counting(retries: &mut u32) -> impl FnMut(&Event<'_>) -> ControlFlow<()> + '_ {
    move |e| {
        if let Event::Retrying { .. } = e {
            *retries += 1;
        }
        ControlFlow::Continue(())
    }
}

/// An upload of a valid package of `len` bytes that must fail: its error and the number of
/// retries it made.
pub fn failed_upload_retries(client: &Client, len: usize) -> (Error, u32) {
    let mut retries = 0;
    let package = Cursor::new(accounts(len));
    let err = client
        .upload_reader_with(package, len as u64, "a.txt", counting(&mut retries))
        .unwrap_err();
    (err, retries)
}

/// The HTTP status of `err` where it is the service's status error (not 2xx, any retCode).
pub fn status_of(err: &Error) -> Option<u16> {
    match err {
        Error::Exchange(UploadError::Exchange(ExchangeError::Status { status, .. })) => {
            Some(*status)
        }
        _ => None,
    }
}

/// Asserts that `err` is a timeout in `phase`.
pub fn assert_timed_out_in(err: &Error, phase: Phase) {
    assert!(
        matches!(err, Error::Timeout { phase: p, .. } if *p == phase),
        "{phase:?}: {err:?}"
    );
}

/// Asserts that `err` is a timeout in `phase`, of the timeout `after`.
pub fn assert_timed_out_after(err: &Error, phase: Phase, after: Duration) {
    assert!(
        matches!(err, Error::Timeout { phase: p, after: a } if *p == phase && *a == after),
        "{phase:?} after {after:?}: {err:?}"
    );
}

/// Asserts that `err` is the whole exchange's deadline running out in `phase`, that deadline
/// being `after` where given.
pub fn assert_deadline_in(err: &Error, phase: Phase, after: Option<Duration>) {
    assert!(
        matches!(err, Error::Deadline { phase: p, after: a }
            if *p == phase && after.is_none_or(|after| *a == after)),
        "{phase:?} after {after:?}: {err:?}"
    );
}

/// An upload of a valid package of `len` bytes as `a.txt` that must succeed: its answer.
pub fn uploaded(client: &Client, len: usize) -> Uploaded {
    let package = Cursor::new(accounts(len));
    client.upload_reader(package, len as u64, "a.txt").unwrap()
}

/// An upload of a valid package of `len` bytes that must fail: its error and how long it took.
pub fn failed_upload(client: &Client, len: usize) -> (Error, Duration) {
    let started = Instant::now();
    let err = client
        .upload_reader(Cursor::new(accounts(len)), len as u64, "a.txt")
        .unwrap_err();
    (err, started.elapsed())
}
