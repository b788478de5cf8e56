//! The fault matrix for the std transport (issue 7): connections dropped in each part of the
//! exchange, stalled servers, 5xx then success, an early 401, oversize and garbage answers,
//! refused certificates. Real sockets on 127.0.0.1: the emulator with fault injection, and
//! small raw servers (the workspace test support's) for what the emulator cannot do.
//!
//! Tests that already exist in `client.rs` are not repeated here; `notes/fault-table.md` maps
//! every fault to its test.

mod common;

use std::io::{Cursor, Read};
use std::net::{TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};
use tpns_core::exchange::ExchangeError;

use tpns_transport_std::rustls::{CertificateError, Error as TlsError};
use tpns_transport_std::tpns_core::multipart::{Boundary, Form};
use tpns_transport_std::tpns_core::response::ResponseError;
use tpns_transport_std::tpns_core::upload::UploadError;
use tpns_transport_std::{ClientBuilder, Error, Event, Phase, RetryPolicy, Timeouts};

use common::{
    assert_timed_out_after, assert_timed_out_in, client_for, counting, failed_upload,
    quick_retries, status_of,
};
use tpns_test_support::flood::{self, Refusal};
use tpns_test_support::raw::{
    CUT_ANSWERS, RawServer, answer_then_close, drain, silent_after_request,
};
use tpns_test_support::{Emu, accounts as package, sha256_hex};

/// Both base URLs of `emu`, plain first, each with `/_fault/SPEC/` appended.
fn urls(emu: &Emu, spec: &str) -> [String; 2] {
    [emu.http_url().unwrap(), emu.https_url()].map(|u| format!("{u}_fault/{spec}/"))
}

/// A client for `url` trusting the emulator's CA, without retries (so the first failure is
/// what the test sees).
fn builder(emu: &Emu, url: &str) -> ClientBuilder {
    client_for(url)
        .ca_file(emu.ca_path())
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::none())
}

/// A client for a raw server at `addr` over plain HTTP.
fn raw_client(addr: std::net::SocketAddr) -> ClientBuilder {
    client_for(format!("http://{addr}/"))
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::none())
}

/// The multipart body length of a package of `file_len` bytes named `name` (the boundary's
/// bytes do not change its length).
fn body_len(name: &str, file_len: u64) -> u64 {
    let boundary = Boundary::from_random([0; 16]);
    Form {
        boundary: &boundary,
        file_name: name,
    }
    .body_len(file_len)
}

/// An event callback that pauses once, for `pause`, as soon as `at` package bytes were
/// handed to the socket: like a slow link, it lets a server's drop land while the client
/// still has bytes to send (on loopback the kernel would otherwise take megabytes at once).
fn pause_at(at: u64, pause: Duration) -> impl FnMut(&Event<'_>) -> ControlFlow<()> {
    let mut paused = false;
    move |e| {
        if let Event::Progress { sent, .. } = e
            && *sent >= at
            && !paused
        {
            paused = true;
            std::thread::sleep(pause);
        }
        ControlFlow::Continue(())
    }
}

// --- 1. The connection dropped in each part of the request and during the response ---------

#[test]
fn a_connection_reset_before_the_head_is_out_fails_in_send_head() {
    // The listener goes away with the client's connection still in its accept queue: the
    // kernel resets it. The client sees the reset on its first write, the one holding the
    // request head (its buffer, at least 4 KiB, always carries the whole head in that write,
    // so "during the head" is the first write failing).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut listener = Some(listener);
    let client = raw_client(addr).build().unwrap();
    let started = Instant::now();
    let err = client
        .upload_reader_with(Cursor::new(package(1000)), 1000, "a.txt", |e| {
            if let Event::Connected { .. } = e {
                drop(listener.take());
                std::thread::sleep(Duration::from_millis(100));
            }
            ControlFlow::Continue(())
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Exchange(UploadError::Exchange(ExchangeError::SendHead(_)))
        ),
        "{err:?}"
    );
    assert_eq!(err.phase(), Some(Phase::SendHead));
    assert!(err.is_transient());
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_drop_in_the_part_head_or_the_file_bytes_fails_in_send_body_and_stores_nothing() {
    let emu = Emu::start("drop-body");
    let pkg = package(2_000_000);
    let len = pkg.len() as u64;
    // (close-after, pause once this many package bytes are out)
    for (n, pause_at_sent) in [(10u64, 1), (1_000_000, 1_100_000)] {
        for url in urls(&emu, &format!("close-after={n}")) {
            let client = builder(&emu, &url).build().unwrap();
            let err = client
                .upload_reader_with(
                    Cursor::new(&pkg),
                    len,
                    "accounts.txt",
                    pause_at(pause_at_sent, Duration::from_millis(300)),
                )
                .unwrap_err();
            let Error::Exchange(UploadError::Exchange(ExchangeError::SendBody { sent, .. })) = err
            else {
                panic!("{url}: {err:?}")
            };
            // The emulator read `n` body bytes (part head included) before it dropped the
            // connection; the client noticed at a later write, before the end of the file.
            assert!(sent + 200 >= n && sent < len, "{url}: sent {sent}");
            assert!(err.is_transient(), "{url}");
        }
    }
    assert!(emu.uploads().is_empty());
}

#[test]
fn a_drop_in_the_closing_boundary_fails_when_reading_the_answer_and_stores_nothing() {
    let emu = Emu::start("drop-tail");
    let pkg = package(10_000);
    let len = pkg.len() as u64;
    // All but the last 5 bytes of the closing delimiter reach the server.
    let n = body_len("accounts.txt", len) - 5;
    for url in urls(&emu, &format!("close-after={n}")) {
        let client = builder(&emu, &url).build().unwrap();
        let started = Instant::now();
        let err = client
            .upload_reader(Cursor::new(&pkg), len, "accounts.txt")
            .unwrap_err();
        // The whole request fits one write: the client has sent everything and learns of the
        // drop from the answer that never comes (a reset, or the end of the stream).
        assert!(
            matches!(
                err,
                Error::Exchange(
                    UploadError::Exchange(ExchangeError::ReadResponse(_))
                        | UploadError::Exchange(ExchangeError::Response(
                            ResponseError::IncompleteHead
                        ))
                )
            ),
            "{url}: {err:?}"
        );
        assert_eq!(err.phase(), Some(Phase::ReadResponse), "{url}");
        assert!(err.is_transient(), "{url}");
        assert!(started.elapsed() < Duration::from_secs(3), "{url}");
    }
    assert!(emu.uploads().is_empty());
}

#[test]
fn a_drop_during_the_response_head_or_body_is_an_incomplete_response() {
    for (answer, cut) in CUT_ANSWERS {
        let want = cut.pick(ResponseError::IncompleteHead, ResponseError::IncompleteBody);
        let server = answer_then_close(answer);
        let err = raw_client(server.addr)
            .build()
            .unwrap()
            .upload_reader(Cursor::new(package(5000)), 5000, "a.txt")
            .unwrap_err();
        server.join();
        match &err {
            Error::Exchange(UploadError::Exchange(ExchangeError::Response(e))) => {
                assert_eq!(*e, want)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.phase(), Some(Phase::ReadResponse));
        assert!(err.is_transient(), "a cut answer is worth another attempt");
    }
}

#[test]
fn a_drop_during_the_tls_handshake_fails_in_the_tls_phase_and_is_transient() {
    // The server reads the start of the ClientHello and closes.
    let server = RawServer::spawn(|mut conn: TcpStream| {
        let mut hello = [0u8; 5];
        conn.read_exact(&mut hello).unwrap();
        hello
    });
    let client = client_for(format!("https://{}/", server.addr))
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .upload_reader(Cursor::new(package(1000)), 1000, "a.txt")
        .unwrap_err();
    assert_eq!(server.join()[0], 0x16, "a TLS handshake record");
    assert!(
        matches!(
            err,
            Error::Io {
                phase: Phase::Tls,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.is_transient(),
        "a cut handshake is worth another attempt"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

// --- 2. A stalled server -----------------------------------------------------------------

#[test]
fn a_server_that_never_answers_times_out_within_the_stall_bound() {
    let stall = Duration::from_secs(1);
    // Plain HTTP: the server reads the request and says nothing.
    let server = silent_after_request();
    let client = raw_client(server.addr).timeout(stall).build().unwrap();
    let (err, took) = failed_upload(&client, 5000);
    assert_timed_out_after(&err, Phase::ReadResponse, stall);
    assert!(took >= stall && took < Duration::from_secs(5), "{took:?}");
    server.join();

    // HTTPS: the server accepts the connection but never speaks TLS.
    let server = RawServer::spawn(|mut conn: TcpStream| drain(&mut conn));
    let client = client_for(format!("https://{}/", server.addr))
        .timeouts(Timeouts {
            connect: stall,
            stall,
        })
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let (err, took) = failed_upload(&client, 5000);
    assert_timed_out_in(&err, Phase::Tls);
    assert!(err.is_transient());
    assert!(took >= stall && took < Duration::from_secs(5), "{took:?}");
    // The client closed: the server's read ends with the end of the stream, having seen only
    // the ClientHello.
    assert!(server.join() > 0);
}

// --- 4. A 401 before the body is read ------------------------------------------------------

#[test]
fn an_early_401_is_reported_rather_than_the_broken_pipe() {
    let emu = Emu::start("reject-early");
    let pkg = package(2_000_000);
    let len = pkg.len() as u64;
    for url in urls(&emu, "reject-early") {
        let client = builder(&emu, &url).retry(quick_retries(2)).build().unwrap();
        let mut retries = 0;
        let err = client
            .upload_reader_with(Cursor::new(&pkg), len, "big.txt", counting(&mut retries))
            .unwrap_err();
        assert_eq!(status_of(&err), Some(401), "{url}: {err:?}");
        assert_eq!(err.ret_code(), Some(1_008_003), "{url}");
        assert!(err.is_auth_failure() && !err.is_transient(), "{url}");
        assert_eq!(retries, 0, "{url}: an auth failure is not retried");
    }
    assert!(emu.uploads().is_empty());
}

// --- 5. Oversize and garbage answers ---------------------------------------------------------

/// Every flood of the shared table (an endless head, an endless body with and without a
/// length, garbage instead of HTTP) against one upload each: the refusal the case names, in
/// bounded time, with the server cut off before its cap.
#[test]
fn every_flood_is_refused_in_bounded_time() {
    for case in flood::CASES {
        let server = case.serve();
        let client = raw_client(server.addr).build().unwrap();
        let (err, took) = failed_upload(&client, 5000);
        let got = match &err {
            Error::Exchange(UploadError::Exchange(ExchangeError::Response(e))) => Refusal::of(e),
            _ => None,
        };
        case.check(got, err.is_transient(), took, server.join(), &err);
    }
}

// --- 6. Refused certificates: no request byte reaches the server --------------------------

/// A rustls server with `cert` that records the application bytes it receives.
fn tls_server(cert: &tpns_emulator::GeneratedCert) -> RawServer<usize> {
    use tpns_transport_std::rustls::DEFAULT_VERSIONS;
    let chain = vec![cert.cert_der.clone()];
    tpns_test_support::raw::tls_server(chain, cert.key_der.clone(), DEFAULT_VERSIONS)
}

#[test]
fn a_refused_certificate_sends_no_request_byte() {
    use tpns_emulator::{Validity, generate_cert, generate_cert_with};
    let trusted = generate_cert(&["127.0.0.1"]).unwrap();
    let cases = [
        // Another CA than the one the client trusts.
        (
            generate_cert(&["127.0.0.1"]).unwrap(),
            trusted.ca_der.clone(),
        ),
        // The right CA, another host name.
        {
            let c = generate_cert(&["tpns.example"]).unwrap();
            let ca = c.ca_der.clone();
            (c, ca)
        },
        // The right CA and name, expired.
        {
            let c = generate_cert_with(&["127.0.0.1"], Validity::Expired).unwrap();
            let ca = c.ca_der.clone();
            (c, ca)
        },
    ];
    for (i, (cert, ca)) in cases.into_iter().enumerate() {
        let server = tls_server(&cert);
        let client = client_for(format!("https://{}/", server.addr))
            .webpki_roots(false)
            .ca_der(ca)
            .retry(RetryPolicy::default())
            .build()
            .unwrap();
        let err = client
            .upload_reader(Cursor::new(package(1000)), 1000, "a.txt")
            .unwrap_err();
        let Error::Tls(TlsError::InvalidCertificate(e)) = &err else {
            panic!("case {i}: {err:?}")
        };
        let want = match i {
            // The generated CAs share their name: rustls finds the issuer by name, then the
            // signature does not verify.
            0 => matches!(
                e,
                CertificateError::UnknownIssuer | CertificateError::BadSignature
            ),
            1 => format!("{e:?}").starts_with("NotValidForName"),
            _ => format!("{e:?}").starts_with("Expired"),
        };
        assert!(want, "case {i}: {e:?}");
        assert!(!err.is_transient(), "case {i}: never retried");
        assert_eq!(
            server.join(),
            0,
            "case {i}: application data reached the server"
        );
    }
}

// --- 3. 5xx then success: see client.rs (retries_recover_from_injected_faults_...) --------
// Added here: the same over plain HTTP with the stored copy checked.

#[test]
fn a_503_then_success_over_plain_http_stores_exactly_one_copy() {
    let emu = Emu::start("503");
    let pkg = package(300_000);
    let [url, _] = urls(&emu, "status=503,times=2");
    let client = builder(&emu, &url)
        .retry(RetryPolicy {
            max_retries: 3,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
        })
        .build()
        .unwrap();
    let mut seen = Vec::new();
    let up = client
        .upload_reader_with(Cursor::new(&pkg), pkg.len() as u64, "a.txt", |e| {
            if let Event::Retrying { error, .. } = e {
                seen.push(format!("{error}"));
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(up.attempts, 3);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen.iter().all(|s| s.starts_with("HTTP status 503")),
        "{seen:?}"
    );
    let records = emu.uploads();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].upload_id, up.upload_id);
    assert_eq!(records[0].sha256, sha256_hex(&pkg));
}
