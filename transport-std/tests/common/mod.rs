//! Helpers shared by the std transport's integration tests, on top of the workspace's test
//! support (which knows no tpns type).

#![allow(dead_code)]

use std::io::Cursor;
use std::time::{Duration, Instant};

use tpns_emulator::Emulator;
use tpns_test_support::{ID, SECRET, accounts};
use tpns_transport_std::{Client, ClientBuilder, Error, RetryPolicy};

/// A client for `emu` over HTTPS, trusting its CA, retrying `max_retries` times with pauses
/// from `initial_ms` up to `max_ms` milliseconds.
pub fn builder(emu: &Emulator, max_retries: u32, initial_ms: u64, max_ms: u64) -> ClientBuilder {
    Client::builder()
        .endpoint(emu.https_url())
        .credentials(ID, SECRET)
        .ca_file(emu.ca_path())
        .retry(RetryPolicy {
            max_retries,
            initial_delay: Duration::from_millis(initial_ms),
            max_delay: Duration::from_millis(max_ms),
        })
}

/// An upload of a valid package of `len` bytes that must fail: its error and how long it took.
pub fn failed_upload(client: &Client, len: usize) -> (Error, Duration) {
    let started = Instant::now();
    let err = client
        .upload_reader(Cursor::new(accounts(len)), len as u64, "a.txt")
        .unwrap_err();
    (err, started.elapsed())
}
