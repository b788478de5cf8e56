//! The fault matrix for the device path (issue 7): `NalStream` over `std-embedded-nal` (a host
//! embedded-nal 0.9 stack), plain and under embedded-tls, against the emulator's injected
//! faults and small raw servers (the workspace test support's, shared with the std transport) on
//! 127.0.0.1.
//!
//! Every socket here has a wait hook with a deadline, as a device's would: the embedded
//! transport has no timeouts of its own, the hook is its bound. Tests that already exist in
//! `blocking.rs` are not repeated; `notes/fault-table.md` maps every fault to its test.

mod common;

use core::convert::Infallible;
use core::ops::ControlFlow;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{
    PATIENCE, Server, SystemClock, assert_certificate_refused, card, deadline, foreign_ca, job,
    package, tls_upload, with_trust,
};
use embedded_io::{ErrorKind, ErrorType, Read, Write};
use rustls::pki_types::CertificateDer;
use std_embedded_nal::Stack;
use tpns_core::endpoint::Endpoint;
use tpns_core::exchange::ExchangeError;
use tpns_core::multipart::Form;
use tpns_core::response::ResponseError;
use tpns_core::upload::{Progress, Upload, UploadError, UploadResponse};
use tpns_test_support::flood::{self, Refusal};
use tpns_test_support::raw::{
    CUT_ANSWERS, RawServer, answer_then_close, drain, silent_after_request,
};
use tpns_transport_embedded::TlsError;
use tpns_transport_embedded::nal::{NalError, NalStream};
use tpns_transport_embedded::source::{FlashPackage, Package};
use tpns_transport_embedded::tls::{HandshakeError, Trust, anchor_from_der};
use tpns_transport_embedded::upload::{TlsUploadError, upload_package};

/// The upload buffer over TLS: smaller than one TLS record (`WRITE_RECORD_LEN`), so that
/// the driver's first write, the one holding the request head, never sends a record by
/// itself (see `a_failure_after_the_head_left_is_reported_as_send_body` for why).
const TLS_BUF: usize = 512;

fn go(_: Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// A progress callback that pauses once, for `pause`, as soon as `at` package bytes were
/// handed to the socket (see the std tests: it lets a server's drop land while the client
/// still has bytes to send).
fn pause_at(at: u64, pause: Duration) -> impl FnMut(Progress) -> ControlFlow<()> {
    let mut paused = false;
    move |p| {
        if p.sent >= at && !paused {
            paused = true;
            std::thread::sleep(pause);
        }
        ControlFlow::Continue(())
    }
}

/// The multipart body length of `job`'s request for a package of `file_len` bytes.
fn body_len(job: &Upload<'_>, file_len: u64) -> u64 {
    Form {
        boundary: &job.boundary,
        file_name: job.file_name,
    }
    .body_len(file_len)
}

/// An emulator that also serves plain HTTP.
fn emulator(name: &str) -> Server {
    Server::start_with(name, |c| c.http("127.0.0.1:0".parse().unwrap()))
}

fn http_addr(server: &Server) -> SocketAddr {
    server.emulator().http_addr().unwrap()
}

type PlainResult<S> = Result<UploadResponse, UploadError<NalError<ErrorOf>, S>>;
/// The host stack's error type (not exported by name from `std-embedded-nal`).
type ErrorOf = <Stack as embedded_nal::TcpClientStack>::Error;

/// One upload over a plain `NalStream` to `addr`, with a socket bounded by `limit`.
fn plain<P: Package>(
    addr: SocketAddr,
    job: &Upload<'_>,
    package: &mut P,
    buf_len: usize,
    limit: Duration,
    progress: impl FnMut(Progress) -> ControlFlow<()>,
) -> PlainResult<P::Error> {
    let mut stack = Stack;
    let mut socket = NalStream::connect_with(&mut stack, addr, deadline(limit)).unwrap();
    let mut buf = vec![0u8; buf_len];
    let result = upload_package(&mut socket, job, package, &mut buf, progress);
    let _ = socket.close();
    result
}

/// One plain upload of `accounts` as `name` to `http://{addr}/{path}` that must fail: its
/// error.
fn plain_err(
    addr: SocketAddr,
    path: &str,
    name: &str,
    accounts: &[u8],
    buf_len: usize,
    limit: Duration,
    progress: impl FnMut(Progress) -> ControlFlow<()>,
) -> UploadError<NalError<ErrorOf>, Infallible> {
    let url = format!("http://{addr}/{path}");
    let endpoint = Endpoint::parse(&url).unwrap();
    let mut package = FlashPackage::new(accounts);
    plain(
        addr,
        &job(&endpoint, name),
        &mut package,
        buf_len,
        limit,
        progress,
    )
    .unwrap_err()
}

/// As [`plain_err`], to the emulator's plain HTTP side.
fn emulator_plain_err(
    server: &Server,
    path: &str,
    name: &str,
    accounts: &[u8],
    buf_len: usize,
    progress: impl FnMut(Progress) -> ControlFlow<()>,
) -> UploadError<NalError<ErrorOf>, Infallible> {
    let addr = http_addr(server);
    plain_err(addr, path, name, accounts, buf_len, PATIENCE, progress)
}

/// One upload over TLS of `accounts` as `name` to the emulator's `{url}{path}` that must
/// fail: its error.
fn emulator_tls_err(
    server: &Server,
    path: &str,
    name: &str,
    accounts: &[u8],
    progress: impl FnMut(Progress) -> ControlFlow<()>,
) -> TlsUploadError<Infallible> {
    let url = format!("{}{path}", server.url);
    let endpoint = Endpoint::parse(&url).unwrap();
    let job = job(&endpoint, name);
    let mut package = FlashPackage::new(accounts);
    let addr = server.addr();
    with_trust(server.emulator().ca_der(), |trust| {
        tls_upload(
            addr,
            *trust,
            &job,
            &mut package,
            TLS_BUF,
            PATIENCE,
            progress,
        )
    })
    .unwrap_err()
}

/// One upload over TLS of `accounts` as `a.txt` to `https://localhost:{port}/` at `addr`,
/// trusting `ca`, on a socket bounded by `limit`.
fn tls_to_localhost(
    addr: SocketAddr,
    ca: &[u8],
    accounts: &[u8],
    limit: Duration,
) -> Result<UploadResponse, TlsUploadError<Infallible>> {
    let url = format!("https://localhost:{}/", addr.port());
    let endpoint = Endpoint::parse(&url).unwrap();
    let job = job(&endpoint, "a.txt");
    let mut package = FlashPackage::new(accounts);
    with_trust(ca, |trust| {
        tls_upload(addr, *trust, &job, &mut package, 512, limit, go)
    })
}

/// One plain upload of `accounts` as `a.txt` to `addr` over `transport` (a socket connected
/// to it, or a wrapper around one) with a `buf_len`-byte buffer, that must fail: its error.
fn upload_through<T: Read + Write>(
    addr: SocketAddr,
    transport: &mut T,
    accounts: &[u8],
    buf_len: usize,
) -> UploadError<T::Error, Infallible> {
    let url = format!("http://{addr}/");
    let endpoint = Endpoint::parse(&url).unwrap();
    let job = job(&endpoint, "a.txt");
    let mut package = FlashPackage::new(accounts);
    let mut buf = vec![0u8; buf_len];
    upload_package(transport, &job, &mut package, &mut buf, go).unwrap_err()
}

// --- 1. The connection dropped in each part of the request and during the response ---------

#[test]
fn a_connection_reset_before_the_head_is_out_fails_in_send_head() {
    // The listener goes away with our connection still in its accept queue: the kernel
    // resets it before the first request byte is written.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut stack = Stack;
    let mut socket = NalStream::connect_with(&mut stack, addr, deadline(PATIENCE)).unwrap();
    drop(listener);
    std::thread::sleep(Duration::from_millis(100));
    let err = upload_through(addr, &mut socket, &package(100), 512);
    assert_failed_in_send_head(&err);
}

/// A connection lost before the whole head is out: `SendHead`, from the stack, transient.
fn assert_failed_in_send_head(err: &UploadError<NalError<ErrorOf>, Infallible>) {
    assert!(
        matches!(
            err,
            UploadError::Exchange(ExchangeError::SendHead(NalError::Stack(_)))
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
}

#[test]
fn a_drop_in_the_middle_of_the_head_fails_in_send_head() {
    // With a 64-byte buffer the head leaves in several writes. The server reads 20 bytes of
    // the first 64 and closes with the rest unread, which resets the connection.
    let (closed, gate) = mpsc::channel();
    let server = RawServer::spawn(move |mut conn: TcpStream| {
        let mut first = [0u8; 20];
        std::io::Read::read_exact(&mut conn, &mut first).unwrap();
        drop(conn);
        closed.send(()).unwrap();
        first
    });
    // The device's link stalls after its first write, until the server has closed.
    let mut stack = Stack;
    let socket = NalStream::connect_with(&mut stack, server.addr, deadline(PATIENCE)).unwrap();
    let mut transport = ShortWrites::new(socket, usize::MAX, 1, gate);
    let err = upload_through(server.addr, &mut transport, &package(100), 64);
    assert_eq!(&server.join(), b"POST /v3/push/packag");
    assert_failed_in_send_head(&err);
}

#[test]
fn a_drop_in_the_part_head_or_the_file_bytes_fails_in_send_body_and_stores_nothing() {
    let server = emulator("faults-drop-body");
    let accounts = package(150_000); // 2 100 000 bytes
    let len = accounts.len() as u64;
    // (close-after, pause once this many package bytes are out)
    for (n, pause) in [(10u64, 1), (1_000_000, 1_100_000)] {
        let spec = format!("_fault/close-after={n}/");
        let pause = || pause_at(pause, Duration::from_millis(300));
        // Plain.
        let err = emulator_plain_err(&server, &spec, "a.txt", &accounts, 4096, pause());
        let UploadError::Exchange(ExchangeError::SendBody {
            sent,
            error: NalError::Stack(_),
        }) = err
        else {
            panic!("plain, close-after={n}: {err:?}")
        };
        assert!(sent + 200 >= n && sent < len, "plain {n}: sent {sent}");
        // Over TLS.
        let err = emulator_tls_err(&server, &spec, "a.txt", &accounts, pause());
        let TlsUploadError::Upload(UploadError::Exchange(ExchangeError::SendBody {
            sent,
            error: TlsError::Io(_),
        })) = err
        else {
            panic!("tls, close-after={n}: {err:?}")
        };
        assert!(sent + 200 >= n && sent < len, "tls {n}: sent {sent}");
        assert!(err.is_transient());
    }
    assert!(server.emulator().uploads().is_empty());
}

/// A stack whose sends take at most `cap` bytes each (a smoltcp socket with a small TX
/// buffer does this), and whose link pauses once, when `gate_at` bytes are out, until `gate`
/// opens: the server's drop lands right there.
struct ShortWrites<T> {
    inner: T,
    cap: usize,
    written: usize,
    gate_at: usize,
    gate: Option<mpsc::Receiver<()>>,
}

impl<T> ShortWrites<T> {
    fn new(inner: T, cap: usize, gate_at: usize, gate: mpsc::Receiver<()>) -> Self {
        ShortWrites {
            inner,
            cap,
            written: 0,
            gate_at,
            gate: Some(gate),
        }
    }
}

impl<T: ErrorType> ErrorType for ShortWrites<T> {
    type Error = T::Error;
}

impl<T: Read> Read for ShortWrites<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, T::Error> {
        self.inner.read(buf)
    }
}

impl<T: Write> Write for ShortWrites<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, T::Error> {
        let n = self.inner.write(&buf[..buf.len().min(self.cap)])?;
        self.written += n;
        if self.written >= self.gate_at
            && let Some(gate) = self.gate.take()
        {
            gate.recv_timeout(PATIENCE).expect("the server closed");
            // Let the reset arrive.
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), T::Error> {
        self.inner.flush()
    }
}

#[test]
fn a_failure_after_the_head_left_is_reported_as_send_body() {
    // The driver's 4 KiB buffer leaves in 256-byte sends. The server takes the whole head and
    // 512 body bytes, waits for more to arrive, and resets the connection: the failure comes
    // while package bytes are being sent, in the same `write_all` as the head.
    let accounts = package(1000);
    let (tell_taken, taken_rx) = mpsc::channel::<usize>();
    let (closed, gate) = mpsc::channel();
    let server = RawServer::spawn(move |mut conn: TcpStream| {
        let taken = taken_rx.recv_timeout(PATIENCE).unwrap();
        let mut got = vec![0u8; taken];
        std::io::Read::read_exact(&mut conn, &mut got).unwrap();
        // More is on its way: closing with it unread resets the connection.
        conn.peek(&mut [0u8; 1]).unwrap();
        drop(conn);
        closed.send(()).unwrap();
    });
    // The head's length does not depend on the boundary's random bytes.
    let url = format!("http://{}/", server.addr);
    let endpoint = Endpoint::parse(&url).unwrap();
    let job = job(&endpoint, "a.txt");
    let head_len = tpns_core::upload::UploadBytes::new(&job, FlashPackage::new(&accounts), 14_000)
        .unwrap()
        .head_len() as usize;
    let taken = head_len + 512;
    tell_taken.send(taken).unwrap();
    let mut stack = Stack;
    let socket = NalStream::connect_with(&mut stack, server.addr, deadline(PATIENCE)).unwrap();
    let mut transport = ShortWrites::new(socket, 256, taken + 1, gate);
    let err = upload_through(server.addr, &mut transport, &accounts, 4096);
    server.join();
    assert!(transport.written > head_len + 512, "{}", transport.written);
    // The head and 512 body bytes were out: this is a body failure, after some package bytes.
    assert!(
        matches!(err, UploadError::Exchange(ExchangeError::SendBody { sent, .. }) if sent > 0),
        "{err:?}"
    );
}

#[test]
fn a_drop_in_the_closing_boundary_fails_when_reading_the_answer_and_stores_nothing() {
    let server = emulator("faults-drop-tail");
    let accounts = package(700); // 9 800 bytes: the whole request leaves before the drop
    let len = accounts.len() as u64;
    let probe = Endpoint::parse("http://127.0.0.1/").unwrap();
    // All but the last 5 bytes of the closing delimiter reach the server.
    let n = body_len(&job(&probe, "a.txt"), len) - 5;
    let spec = format!("_fault/close-after={n}/");
    let err = emulator_plain_err(&server, &spec, "a.txt", &accounts, 16 * 1024, go);
    assert!(
        matches!(
            err,
            UploadError::Exchange(ExchangeError::ReadResponse(NalError::Stack(_)))
                | UploadError::Exchange(ExchangeError::Response(ResponseError::IncompleteHead))
        ),
        "plain: {err:?}"
    );
    assert!(err.is_transient());
    let err = emulator_tls_err(&server, &spec, "a.txt", &accounts, go);
    assert!(
        matches!(
            err,
            TlsUploadError::Upload(
                UploadError::Exchange(ExchangeError::ReadResponse(
                    TlsError::Io(_) | TlsError::IoError | TlsError::ConnectionClosed
                )) | UploadError::Exchange(ExchangeError::Response(ResponseError::IncompleteHead))
            )
        ),
        "tls: {err:?}"
    );
    assert!(err.is_transient());
    assert!(server.emulator().uploads().is_empty());
}

#[test]
fn a_drop_during_the_response_head_or_body_is_an_incomplete_response() {
    for (answer, cut) in CUT_ANSWERS {
        let want = cut.pick(ResponseError::IncompleteHead, ResponseError::IncompleteBody);
        let server = answer_then_close(answer);
        let err = plain_err(server.addr, "", "a.txt", &package(300), 512, PATIENCE, go);
        server.join();
        match &err {
            UploadError::Exchange(ExchangeError::Response(e)) => assert_eq!(*e, want),
            other => panic!("{other:?}"),
        }
        assert!(err.is_transient());
    }
}

/// A server that reads the ClientHello (some bytes of it) and closes.
fn close_in_handshake() -> RawServer<usize> {
    RawServer::spawn(|mut conn: TcpStream| {
        let mut hello = [0u8; 5];
        std::io::Read::read_exact(&mut conn, &mut hello).unwrap();
        // Read what else came, so that closing sends a FIN, not a reset.
        std::thread::sleep(Duration::from_millis(50));
        conn.set_nonblocking(true).unwrap();
        let mut rest = [0u8; 4096];
        let more = std::io::Read::read(&mut conn, &mut rest).unwrap_or(0);
        5 + more
    })
}

/// An upload over TLS to `addr`, where a server that is no TLS server listens.
fn tls_to_raw(addr: SocketAddr) -> TlsUploadError<Infallible> {
    tls_to_localhost(addr, &foreign_ca(), &package(300), PATIENCE).unwrap_err()
}

#[test]
fn a_drop_during_the_tls_handshake_fails_the_handshake() {
    let server = close_in_handshake();
    let started = Instant::now();
    let err = tls_to_raw(server.addr);
    assert!(server.join() > 5, "the ClientHello arrived");
    assert!(
        matches!(
            err,
            TlsUploadError::Handshake(HandshakeError::Tls(TlsError::IoError | TlsError::Io(_)))
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_drop_during_the_tls_handshake_is_transient() {
    let server = close_in_handshake();
    let err = tls_to_raw(server.addr);
    server.join();
    assert!(matches!(err, TlsUploadError::Handshake(_)), "{err:?}");
    // A connection that ended mid-handshake is a transport failure: a new attempt may
    // succeed (the std transport retries the same case: Error::Io { phase: Tls }).
    assert!(err.is_transient(), "{err:?}");
}

// --- 2. A stalled server: the wait hook is the bound ---------------------------------------

#[test]
fn a_server_that_never_answers_ends_with_timed_out_within_the_hook_bound() {
    let bound = Duration::from_secs(1);
    // Plain: the server reads the request and says nothing.
    let server = silent_after_request();
    let accounts = package(300);
    let started = Instant::now();
    let err = plain_err(server.addr, "", "a.txt", &accounts, 512, bound, go);
    let took = started.elapsed();
    assert!(
        matches!(
            err,
            UploadError::Exchange(ExchangeError::ReadResponse(NalError::TimedOut))
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(took < Duration::from_secs(5), "{took:?}");
    server.join();

    // TLS: the server accepts but never speaks TLS; the handshake waits in the hook.
    let server = RawServer::spawn(|mut conn: TcpStream| drain(&mut conn));
    let ca = foreign_ca();
    let started = Instant::now();
    let err = tls_to_localhost(server.addr, &ca, &accounts, bound).unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            err,
            TlsUploadError::Handshake(HandshakeError::Tls(TlsError::Io(ErrorKind::TimedOut)))
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(took >= bound && took < Duration::from_secs(5), "{took:?}");
    // It saw the ClientHello and nothing after it.
    assert!(server.join() > 0);
}

// --- 3. 5xx then success: the device's own retry loop --------------------------------------

#[test]
fn a_device_retry_loop_gets_past_two_503s_with_exactly_one_copy_stored() {
    let server = emulator("faults-503");
    let url = format!("http://{}/_fault/status=503,times=2/", http_addr(&server));
    let endpoint = Endpoint::parse(&url).unwrap();
    // An SD-card-style source: the package is a region of a file, rewound for each attempt.
    let accounts = package(5000);
    let mut card = card(server.dir(), b"HDR", &accounts, b"junk after the package");
    let mut failures = Vec::new();
    let answer = loop {
        match plain(
            http_addr(&server),
            &job(&endpoint, "card.txt"),
            &mut card,
            512,
            PATIENCE,
            go,
        ) {
            Ok(answer) => break answer,
            Err(e) if e.is_transient() && failures.len() < 4 => {
                // What a device does: start the package over (upload_package does it too),
                // then a new connection.
                card.rewind().unwrap();
                failures.push(e);
            }
            Err(e) => panic!("attempt {}: {e:?}", failures.len() + 1),
        }
    };
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(
        failures.iter().all(|e| matches!(
            e,
            UploadError::Exchange(ExchangeError::Status { status: 503, .. })
        )),
        "{failures:?}"
    );
    assert_eq!(server.emulator().uploads().len(), 1);
    server.assert_stored(answer.upload_id, &accounts, 5000);
}

// --- 4. A 401 before the body is read ------------------------------------------------------

#[test]
fn an_early_401_on_a_2_mb_upload_is_reported_rather_than_the_broken_pipe() {
    let server = emulator("faults-early");
    let accounts = package(150_000); // 2 100 000 bytes
    let path = "_fault/reject-early/";
    let err = emulator_plain_err(&server, path, "big.txt", &accounts, 4096, go);
    assert!(
        matches!(
            err,
            UploadError::Exchange(ExchangeError::Status {
                status: 401,
                ret_code: Some(1_008_003),
                ..
            })
        ),
        "plain: {err:?}"
    );
    assert!(err.is_auth_failure() && !err.is_transient());
    let err = emulator_tls_err(&server, path, "big.txt", &accounts, go);
    assert!(
        matches!(
            err,
            TlsUploadError::Upload(UploadError::Exchange(ExchangeError::Status {
                status: 401,
                ..
            }))
        ),
        "tls: {err:?}"
    );
    assert!(err.is_auth_failure() && !err.is_transient());
    assert!(server.emulator().uploads().is_empty());
}

// --- 5. Oversize and garbage answers ---------------------------------------------------------

/// Every flood of the shared table (an endless head, an endless body with and without a
/// length, garbage instead of HTTP) against one upload each: the refusal the case names, in
/// bounded time, with the server cut off before its cap.
#[test]
fn every_flood_is_refused_in_bounded_time() {
    for case in flood::CASES {
        let server = case.serve();
        let accounts = package(300);
        let started = Instant::now();
        let err = plain_err(server.addr, "", "a.txt", &accounts, 512, PATIENCE, go);
        let took = started.elapsed();
        let got = match &err {
            UploadError::Exchange(ExchangeError::Response(e)) => Refusal::of(e),
            _ => None,
        };
        case.check(got, err.is_transient(), took, server.join(), &err);
    }
}

// --- 6. Refused certificates: no request byte reaches the server --------------------------
// (Against the emulator: blocking.rs has a_certificate_from_another_ca_is_refused,
// a_certificate_for_another_host_is_refused, validity_dates_are_checked_only_with_a_clock.)

/// A rustls server (TLS 1.3) with `cert` that counts the application bytes it receives.
fn tls_server(cert: &tpns_emulator::GeneratedCert) -> RawServer<usize> {
    tls_server_with_chain(vec![cert.cert_der.clone()], cert.key_der.clone())
}

#[test]
fn a_refused_certificate_sends_no_request_byte() {
    use tpns_emulator::{Validity, generate_cert, generate_cert_with};
    let accounts = package(100);
    let other_ca = generate_cert(&["localhost"]).unwrap().ca_der;
    let wrong_host = generate_cert(&["tpns.example"]).unwrap();
    let expired = generate_cert_with(&["localhost"], Validity::Expired).unwrap();
    let good = generate_cert(&["localhost"]).unwrap();
    // (what the server shows, the CA the device trusts, check dates, expect a refusal)
    let cases = [
        ("another CA", &good, &other_ca, false, true),
        ("another host", &wrong_host, &wrong_host.ca_der, false, true),
        ("expired", &expired, &expired.ca_der, true, true),
        // The control: the same server with a certificate the device accepts gets the request.
        ("valid", &good, &good.ca_der, true, false),
    ];
    for (what, cert, ca, check_time, refused) in cases {
        let server = tls_server(cert);
        let url = format!("https://localhost:{}/", server.addr.port());
        let endpoint = Endpoint::parse(&url).unwrap();
        let ca_cert = CertificateDer::from(ca.as_slice());
        let anchors = [anchor_from_der(&ca_cert).unwrap()];
        let trust = Trust::new(&anchors, "localhost").unwrap();
        let (addr, limit) = (server.addr, Duration::from_millis(1500));
        let job = job(&endpoint, "a.txt");
        let mut pkg = FlashPackage::new(&accounts);
        let result = if check_time {
            let trust = trust.check_time::<SystemClock>();
            tls_upload(addr, trust, &job, &mut pkg, 512, limit, go)
        } else {
            let trust = trust.dangerous_skip_time_check();
            tls_upload(addr, trust, &job, &mut pkg, 512, limit, go)
        };
        let received = server.join();
        if refused {
            assert_certificate_refused(&result.unwrap_err(), what);
            assert_eq!(received, 0, "{what}: application data reached the server");
        } else {
            // No HTTP answer comes from this server: the request went out, the answer did not.
            assert!(result.is_err(), "{what}");
            assert!(received > 0, "{what}: the request was sent");
        }
    }
}

/// A TLS server that shows `chain` (leaf first) with `key_der` (PKCS#8) and counts the
/// application bytes it receives.
fn tls_server_with_chain(chain: Vec<Vec<u8>>, key_der: Vec<u8>) -> RawServer<usize> {
    tpns_test_support::raw::tls_server(chain, key_der, &[&rustls::version::TLS13])
}

/// Runs a TLS upload to `server` trusting `ca` for `localhost`; returns the result.
fn upload_to(server: &RawServer<usize>, ca: &[u8]) -> Result<(), TlsUploadError<Infallible>> {
    let limit = Duration::from_millis(1500);
    tls_to_localhost(server.addr, ca, &package(100), limit).map(|_| ())
}

/// Certificate parameters for `names` with the common name `cn`.
fn params(names: &[&str], cn: &str, is_ca: rcgen::IsCa) -> rcgen::CertificateParams {
    let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.is_ca = is_ca;
    params
}

/// A certificate the pinned CA issued to someone else (`evil.example`, not a CA) must not be
/// able to vouch for another host: the chain [forged leaf for localhost, that certificate]
/// verifies signature by signature, so only the rule "the pinned CA signs the leaf itself"
/// stops it. The leaf followed by the pinned CA itself stays accepted.
#[test]
fn a_chain_through_a_non_ca_certificate_is_refused() {
    use rcgen::{IsCa, Issuer, KeyPair};
    let good = tpns_emulator::generate_cert(&["localhost"]).unwrap();
    // Someone's ordinary leaf from the same CA (the CA's key is not in GeneratedCert, so make
    // the whole set here the same way).
    let ca_key = KeyPair::generate().unwrap();
    let ca_params = params(
        &[],
        "pinned CA",
        IsCa::Ca(rcgen::BasicConstraints::Unconstrained),
    );
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let ca_issuer = Issuer::new(ca_params, ca_key);
    let other_key = KeyPair::generate().unwrap();
    let other = params(&["evil.example"], "evil.example", IsCa::ExplicitNoCa);
    let other_cert = other.signed_by(&other_key, &ca_issuer).unwrap();
    let other_issuer = Issuer::new(other, other_key);
    let forged_key = KeyPair::generate().unwrap();
    let forged = params(&["localhost"], "localhost", IsCa::NoCa);
    let forged_cert = forged.signed_by(&forged_key, &other_issuer).unwrap();

    let server = tls_server_with_chain(
        vec![forged_cert.der().to_vec(), other_cert.der().to_vec()],
        forged_key.serialize_der(),
    );
    assert_certificate_refused(&upload_to(&server, ca.der()).unwrap_err(), "forged");
    assert_eq!(
        server.join(),
        0,
        "no request byte may reach a forged server"
    );

    // The leaf alone, or the leaf and the pinned CA itself: both accepted (the request goes
    // out; this raw server sends no HTTP answer, so the upload itself fails afterwards).
    for chain in [
        vec![good.cert_der.clone()],
        vec![good.cert_der.clone(), good.ca_der.clone()],
    ] {
        let len = chain.len();
        let server = tls_server_with_chain(chain, good.key_der.clone());
        let err = upload_to(&server, &good.ca_der).unwrap_err();
        assert!(
            !matches!(err, TlsUploadError::Handshake(_)),
            "chain of {len}: {err:?}"
        );
        assert!(server.join() > 0, "chain of {len}: the request was sent");
    }
}
