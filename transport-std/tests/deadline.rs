//! The whole-exchange deadline (issue 16): a server that keeps an exchange alive one byte at a
//! time is cut off at the deadline, the deadline covers every attempt and retry pause, and a
//! slow exchange that keeps moving and ends in time still succeeds. Raw servers on 127.0.0.1.

mod common;

use std::io::{Cursor, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tpns_core::exchange::ExchangeError;

use common::failed_upload;
use tpns_test_support::raw::{BOUND, RawServer, dripping_server, read_request};
use tpns_transport_std::tpns_core::upload::UploadError;
use tpns_transport_std::{Client, ClientBuilder, Error, Event, Phase, RetryPolicy};

use tpns_test_support::{ID, SECRET, accounts as package};

const STALL: Duration = Duration::from_secs(1);

/// A client for `addr` over plain HTTP with a 1 s stall timeout and `deadline`.
fn client(addr: SocketAddr, deadline: Duration) -> ClientBuilder {
    Client::builder()
        .endpoint(format!("http://{addr}/"))
        .credentials(ID, SECRET)
        .timeout(STALL)
        .deadline(deadline)
        .retry(RetryPolicy::none())
}

#[test]
fn a_server_dripping_one_header_byte_at_a_time_is_cut_off_at_the_deadline() {
    let server = dripping_server();
    let deadline = Duration::from_secs(2);
    let client = client(server.addr, deadline).build().unwrap();
    assert_eq!(client.deadline_for(1000), deadline);
    let (err, took) = failed_upload(&client, 1000);
    assert!(
        matches!(
            err,
            Error::Deadline {
                phase: Phase::ReadResponse,
                after
            } if after == deadline
        ),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(
        err.to_string(),
        "read response: deadline passed (2.0 s for the whole exchange, retries included)"
    );
    assert!(
        took >= deadline - Duration::from_millis(50) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // The server did keep the exchange moving: no stall timeout would ever have fired.
    let dripped = server.join();
    assert!(dripped >= 5, "{dripped} bytes");
    println!("dripping server cut off after {took:?} ({dripped} bytes dripped)");
}

/// Accepts every connection and answers none, holding them open until told to stop (or
/// [`BOUND`] passes). Returns the number of connections.
fn silent_server() -> (SocketAddr, Arc<AtomicBool>, JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let handle = std::thread::spawn(move || {
        let started = Instant::now();
        let mut held: Vec<TcpStream> = Vec::new();
        while !stopped.load(Ordering::Relaxed) && started.elapsed() < BOUND {
            match listener.accept() {
                Ok((conn, _)) => held.push(conn),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        held.len()
    });
    (addr, stop, handle)
}

#[test]
fn the_deadline_covers_every_attempt_and_the_pauses_between() {
    let (addr, stop, server) = silent_server();
    // Room for the third attempt to start even on a loaded machine (0.6 s of slack).
    let deadline = Duration::from_millis(2700);
    let retry = RetryPolicy {
        max_retries: 10,
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(50),
    };
    let client = client(addr, deadline).retry(retry).build().unwrap();
    let mut retries = Vec::new();
    let started = Instant::now();
    let err = client
        .upload_reader_with(Cursor::new(package(1000)), 1000, "a.txt", |e| {
            if let Event::Retrying { error, .. } = e {
                retries.push(error.to_string());
            }
            ControlFlow::Continue(())
        })
        .unwrap_err();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let connections = server.join().unwrap();
    // Two attempts stall for the full second each; the third is cut off by the deadline,
    // although seven retries were left.
    assert!(
        matches!(err, Error::Deadline { phase: Phase::ReadResponse, after } if after == deadline),
        "{err:?}"
    );
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert!(
        retries.iter().all(|e| e.contains("timed out")),
        "{retries:?}"
    );
    assert_eq!(connections, 3);
    assert!(
        took >= deadline - Duration::from_millis(50) && took < Duration::from_millis(3700),
        "{took:?}"
    );
}

#[test]
fn a_retry_pause_that_would_outlive_the_deadline_is_not_taken() {
    let server = RawServer::spawn(|mut conn| {
        read_request(&mut conn).unwrap();
        conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")
            .unwrap();
    });
    // Every pause is at least 2.5 s, the deadline 1 s.
    let retry = RetryPolicy {
        max_retries: 3,
        initial_delay: Duration::from_secs(5),
        max_delay: Duration::from_secs(5),
    };
    let client = client(server.addr, Duration::from_secs(1))
        .retry(retry)
        .build()
        .unwrap();
    let mut retried = false;
    let started = Instant::now();
    let err = client
        .upload_reader_with(Cursor::new(package(100)), 100, "a.txt", |e| {
            retried |= matches!(e, Event::Retrying { .. });
            ControlFlow::Continue(())
        })
        .unwrap_err();
    server.join();
    // The answer that stopped us is the news, not the deadline.
    assert!(
        matches!(
            err,
            Error::Exchange(UploadError::Exchange(ExchangeError::Status {
                status: 503,
                ..
            }))
        ),
        "{err:?}"
    );
    assert!(!retried);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_slow_exchange_that_keeps_moving_and_ends_in_time_succeeds() {
    let body = br#"{"retCode":0,"errMsg":"","uploadId":42}"#;
    let answer = [
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
        &body[..],
    ]
    .concat();
    let server = RawServer::spawn(move |mut conn| {
        read_request(&mut conn).unwrap();
        // 12 pieces 150 ms apart: 1.65 s in all, longer than the stall timeout.
        for piece in answer.chunks(answer.len().div_ceil(12)) {
            std::thread::sleep(Duration::from_millis(150));
            conn.write_all(piece).unwrap();
        }
    });
    let client = client(server.addr, Duration::from_secs(4)).build().unwrap();
    let started = Instant::now();
    let uploaded = client
        .upload_reader(Cursor::new(package(5000)), 5000, "a.txt")
        .unwrap();
    server.join();
    assert_eq!(uploaded.upload_id, 42);
    assert!(
        started.elapsed() > STALL,
        "slower than one stall timeout in all"
    );
}

/// Reads one request and answers it with `uploadId` 42; `None` if the client gave up.
fn answering_server() -> RawServer<Option<usize>> {
    RawServer::spawn(|mut conn| {
        let (_, len) = read_request(&mut conn).ok()?;
        let body = br#"{"retCode":0,"errMsg":"","uploadId":42}"#;
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        conn.write_all(&[head.as_bytes(), body].concat()).ok()?;
        Some(len)
    })
}

#[test]
fn a_slow_sender_is_bounded_by_the_deadline_too_and_succeeds_within_it() {
    // A slow link on the client's side: 60 ms after each 4 KiB block, 25 blocks, 1.5 s in
    // all, longer than the stall timeout; no single socket call waits.
    let len = 100_000;
    let slow_link = |e: &Event<'_>| {
        if let Event::Progress { .. } = e {
            std::thread::sleep(Duration::from_millis(60));
        }
        ControlFlow::Continue(())
    };
    let server = answering_server();
    let patient = client(server.addr, Duration::from_secs(4)).buffer_size(4096);
    let patient = patient.build().unwrap();
    let started = Instant::now();
    let uploaded = patient
        .upload_reader_with(Cursor::new(package(len)), len as u64, "a.txt", slow_link)
        .unwrap();
    assert_eq!(uploaded.upload_id, 42);
    assert!(server.join().is_some());
    assert!(started.elapsed() > STALL, "{:?}", started.elapsed());

    // The same with a 0.7 s deadline: cut off while sending, in the send-body phase.
    let server = answering_server();
    let deadline = Duration::from_millis(700);
    let cut = client(server.addr, deadline)
        .buffer_size(4096)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = cut
        .upload_reader_with(Cursor::new(package(len)), len as u64, "a.txt", slow_link)
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, Error::Deadline { phase: Phase::SendBody { sent }, after }
            if after == deadline && sent > 0 && sent < len as u64),
        "{err:?}"
    );
    assert!(
        took >= deadline && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert_eq!(server.join(), None, "the server never saw a whole request");
}

#[test]
fn pushes_have_a_deadline_too() {
    let server = dripping_server();
    let client = client(server.addr, Duration::from_millis(1500))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .push(&tpns_transport_std::PushRequest {
            upload_id: 42,
            title: "t",
            content: "c",
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Deadline {
                phase: Phase::ReadResponse,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    server.join();
}

#[test]
fn the_default_deadline_follows_the_package_size() {
    let client = Client::builder()
        .endpoint("http://127.0.0.1:9/")
        .credentials(ID, SECRET)
        .build()
        .unwrap();
    assert_eq!(client.deadline_for(0), Duration::from_secs(60));
    assert_eq!(client.deadline_for(10 << 20), Duration::from_secs(100));
    let client = Client::builder()
        .endpoint("http://127.0.0.1:9/")
        .credentials(ID, SECRET)
        .timeout(Duration::from_secs(45))
        .build()
        .unwrap();
    assert_eq!(client.deadline_for(0), Duration::from_secs(90));
}
