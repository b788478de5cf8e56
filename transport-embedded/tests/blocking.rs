//! The blocking device path against the emulator over real loopback sockets: the
//! embedded-nal adapter (over `std-embedded-nal`, a host implementation of embedded-nal 0.9),
//! embedded-tls verifying the emulator's P-256 certificate, uploads with I/O buffers of 64 B,
//! 512 B and 4 KiB, the stored package checked by SHA-256.

mod common;

use core::ops::ControlFlow;
use std::net::SocketAddr;

use common::{
    HANG, Server, SystemClock, assert_certificate_refused, card, foreign_ca, job, package,
    tls_upload, with_trust,
};
use embedded_io::{Read, Write};
use rand_core::OsRng;
use rustls::pki_types::CertificateDer;
use std_embedded_nal::Stack;
use tpns_core::endpoint::Endpoint;
use tpns_core::exchange::ExchangeError;
use tpns_core::upload::{Progress, Upload, UploadError, UploadResponse};
use tpns_transport_embedded::nal::{NalError, NalStream};
use tpns_transport_embedded::session::TlsSession;
use tpns_transport_embedded::source::{FlashPackage, Package};
use tpns_transport_embedded::tls::{
    HandshakeError, READ_RECORD_LEN, TlsBuffers, Trust, WRITE_RECORD_LEN, anchor_from_der, connect,
    dangerous_connect_unverified,
};
use tpns_transport_embedded::upload::{TlsUploadError, upload_package, upload_tls};

/// Checks that a handshake was refused for a certificate of another host; `what` names the
/// case.
fn assert_wrong_host(err: Option<HandshakeError>, what: &str) {
    assert!(
        matches!(
            err,
            Some(HandshakeError::Certificate(tpns_pki::Error::WrongHost))
        ),
        "{what}: {err:?}"
    );
}

fn go() -> ControlFlow<()> {
    ControlFlow::Continue(())
}

/// One upload over embedded-tls to the emulator's HTTPS port, trusting its CA, with an upload
/// buffer of `buf_len` bytes.
fn upload<P: Package>(
    server: &Server,
    job: &Upload<'_>,
    package: &mut P,
    buf_len: usize,
    progress: impl FnMut(Progress) -> ControlFlow<()>,
) -> Result<UploadResponse, TlsUploadError<P::Error>> {
    with_trust(server.emulator().ca_der(), |trust| {
        tls_upload(server.addr(), *trust, job, package, buf_len, HANG, progress)
    })
}

#[test]
fn tls_upload_over_embedded_nal_with_each_buffer_size() {
    let server = Server::start("nal");
    let endpoint = Endpoint::parse(&server.url).unwrap();
    let accounts = package(3000); // 42 000 bytes
    for (i, buf_len) in [64usize, 512, 4096].into_iter().enumerate() {
        let mut last = Progress { sent: 0, total: 0 };
        let name = format!("flash-{buf_len}.txt");
        // The socket closes cleanly after the answer (`tls_upload` checks it).
        let answer = upload(
            &server,
            &job(&endpoint, &name),
            &mut FlashPackage::new(&accounts),
            buf_len,
            |p| {
                assert!(p.sent >= last.sent, "progress goes forward");
                last = p;
                go()
            },
        )
        .unwrap_or_else(|e| panic!("buffer {buf_len}: {e}"));
        assert_eq!(last.sent, accounts.len() as u64);
        assert_eq!(last.total, accounts.len() as u64);
        assert_eq!(answer.upload_id, i as u64 + 1);
        server.assert_stored(answer.upload_id, &accounts, 3000);
        assert_eq!(
            server.emulator().uploads()[i].file_name,
            name,
            "buffer {buf_len}"
        );
    }
}

#[test]
fn public_style_chains_with_intermediates_are_verified_and_upload() {
    use tpns_emulator::pki::PkiMode;
    let accounts = package(200);
    for mode in [
        PkiMode::PublicRsa,
        PkiMode::PublicEcdsa,
        PkiMode::Mixed,
        PkiMode::Simple,
    ] {
        let server = Server::start_with("pki-mode", |c| c.pki(mode));
        let endpoint = Endpoint::parse(&server.url).unwrap();
        // The root the emulator wrote to ca.pem: the server sends leaf and intermediate.
        let ca_cert = CertificateDer::from(server.emulator().ca_der());
        let anchors = [anchor_from_der(&ca_cert).unwrap()];
        let trust = Trust::new(&anchors, "localhost")
            .unwrap()
            .check_time::<SystemClock>();
        let mut stack = Stack;
        let mut socket = NalStream::connect(&mut stack, server.addr()).unwrap();
        let mut rx = vec![0u8; READ_RECORD_LEN];
        let mut tx = vec![0u8; WRITE_RECORD_LEN];
        let mut buf = vec![0u8; 512];
        let answer = upload_tls(
            &mut socket,
            &mut TlsSession {
                tls: TlsBuffers::new(&mut rx, &mut tx),
                http: &mut buf,
                trust,
                rng: OsRng,
            },
            &job(&endpoint, "accounts.txt"),
            &mut FlashPackage::new(&accounts),
            |_| go(),
        )
        .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        socket.close().unwrap();
        server.assert_stored(answer.upload_id, &accounts, 200);

        // The same server, under another name in its SANs' place: refused, nothing sent.
        let trust = Trust::new(&anchors, "api.tpns.tencent.com")
            .unwrap()
            .check_time::<SystemClock>();
        let socket = NalStream::connect(&mut stack, server.addr()).unwrap();
        let result = connect(socket, TlsBuffers::new(&mut rx, &mut tx), &trust, OsRng);
        assert_wrong_host(result.err(), &format!("{mode:?}"));
        assert_eq!(server.emulator().uploads().len(), 1, "{mode:?}");
    }
}

#[test]
fn sd_card_style_source_is_rewound_for_a_retry() {
    // The emulator drops the first connection after 5 000 body bytes without answering.
    let server = Server::start("retry");
    let url = format!("{}_fault/close-after=5000,times=1", server.url);
    let endpoint = Endpoint::parse(&url).unwrap();

    // A file whose package is a region: a junk header, the package, junk after it.
    let accounts = package(2000);
    let junk = b"trailing junk that must never be sent";
    let mut card = card(server.dir(), b"HEADER--", &accounts, junk);
    assert_eq!(card.len(), accounts.len() as u64);

    let mut attempts = Vec::new();
    let answer = loop {
        match upload(&server, &job(&endpoint, "card.txt"), &mut card, 512, |_| {
            go()
        }) {
            Ok(answer) => break answer,
            Err(e) if e.is_transient() && attempts.len() < 3 => attempts.push(e.to_string()),
            Err(e) => panic!("attempt {}: {e}", attempts.len() + 1),
        }
    };
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    server.assert_stored(answer.upload_id, &accounts, 2000);
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let server = Server::start("wrong-ca");
    let endpoint = Endpoint::parse(&server.url).unwrap();
    let accounts = package(10);
    let job = job(&endpoint, "a.txt");
    let mut package = FlashPackage::new(&accounts);
    let err = with_trust(&foreign_ca(), |trust| {
        tls_upload(server.addr(), *trust, &job, &mut package, 256, HANG, |_| {
            go()
        })
    })
    .unwrap_err();
    assert_certificate_refused(&err, "another CA");
    assert!(server.emulator().uploads().is_empty());
}

#[test]
fn a_certificate_for_another_host_is_refused() {
    let server = Server::start("wrong-host");
    let ca = server.emulator().ca_der().to_vec();
    // Signed by the right CA, but the emulator's certificate is not for this name.
    let ca_cert = CertificateDer::from(ca.as_slice());
    let anchors = [anchor_from_der(&ca_cert).unwrap()];
    let trust = Trust::new(&anchors, "api.tpns.tencent.com")
        .unwrap()
        .dangerous_skip_time_check();
    let mut stack = Stack;
    let socket = NalStream::connect(&mut stack, server.addr()).unwrap();
    let mut rx = vec![0u8; READ_RECORD_LEN];
    let mut tx = vec![0u8; WRITE_RECORD_LEN];
    let result = connect(socket, TlsBuffers::new(&mut rx, &mut tx), &trust, OsRng);
    assert_wrong_host(result.err(), "");
}

#[test]
fn only_the_dangerous_opt_out_talks_to_an_unknown_server() {
    let server = Server::start("dangerous");
    let endpoint = Endpoint::parse(&server.url).unwrap();
    let accounts = package(50);
    let mut stack = Stack;
    let socket = NalStream::connect(&mut stack, server.addr()).unwrap();
    let mut rx = vec![0u8; READ_RECORD_LEN];
    let mut tx = vec![0u8; WRITE_RECORD_LEN];
    let mut tls = dangerous_connect_unverified(
        socket,
        TlsBuffers::new(&mut rx, &mut tx),
        Some("localhost"),
        OsRng,
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let answer = upload_package(
        &mut tls,
        &job(&endpoint, "unverified.txt"),
        &mut FlashPackage::new(&accounts),
        &mut buf,
        |_| go(),
    )
    .unwrap();
    server.assert_stored(answer.upload_id, &accounts, 50);
}

#[test]
fn the_service_refusal_comes_back_typed_over_tls() {
    let server = Server::start("refused");
    let endpoint = Endpoint::parse(&server.url).unwrap();
    // One row is too short: the emulator refuses the package (retCode 1008011, line 2).
    let bad = b"device-000001\nx\ndevice-000003\n";
    let job = job(&endpoint, "bad.txt");
    let err = upload(&server, &job, &mut FlashPackage::new(bad), 64, |_| go()).unwrap_err();
    match err {
        TlsUploadError::Upload(UploadError::Exchange(ExchangeError::Api { ret_code, err_msg }))
        | TlsUploadError::Upload(UploadError::Exchange(ExchangeError::Status {
            ret_code: Some(ret_code),
            message: err_msg,
            ..
        })) => {
            assert_eq!(ret_code, 1_008_011);
            assert!(err_msg.as_str().contains("line 2"), "{err_msg}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn nal_stream_reads_to_the_end_and_times_out_through_its_wait_hook() {
    // A plain TCP peer on loopback: it sends a greeting, reads 5 bytes, then closes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"hello").unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"world");
        // Hold the connection open while the client waits in vain, then close.
        std::thread::sleep(std::time::Duration::from_millis(300));
    });
    let mut stack = Stack;
    let mut waits = 0u32;
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(100);
    let mut stream = NalStream::connect_with(&mut stack, addr, || {
        waits += 1;
        std::thread::sleep(std::time::Duration::from_millis(1));
        if std::time::Instant::now() > deadline {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    let mut hello = [0u8; 5];
    stream.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"hello");
    stream.write_all(b"world").unwrap();
    stream.flush().unwrap();
    let mut more = [0u8; 8];
    let err = stream.read(&mut more).unwrap_err();
    assert!(matches!(err, NalError::TimedOut), "{err:?}");
    assert_eq!(
        embedded_io::Error::kind(&err),
        embedded_io::ErrorKind::TimedOut
    );
    drop(stream);
    peer.join().unwrap();
    assert!(waits > 0);

    // After the peer closed, a read is the end of the stream.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || drop(listener.accept().unwrap()));
    let mut stack = Stack;
    let mut stream = NalStream::connect(&mut stack, addr).unwrap();
    peer.join().unwrap();
    assert_eq!(stream.read(&mut more).unwrap(), 0);
    stream.close().unwrap();
}

#[test]
fn a_refused_connection_is_a_stack_error() {
    // Bind then drop a listener: nothing listens on that loopback port any more.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut stack = Stack;
    let err = NalStream::connect(&mut stack, addr).unwrap_err();
    assert!(matches!(err, NalError::Stack(_)), "{err:?}");
}

#[test]
fn validity_dates_are_checked_only_with_a_clock() {
    use tpns_emulator::{Validity, generate_cert_with};
    let cert = generate_cert_with(&["localhost"], Validity::Expired).unwrap();
    let dir = std::env::temp_dir().join(format!("tpns-te-expired-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &cert.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &cert.key_pem).unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    let server = Server::start_with("expired", |cfg| cfg.cert(c, k));
    let open = |check_time: bool| {
        let mut stack = Stack;
        let socket = NalStream::connect(&mut stack, server.addr()).unwrap();
        let mut rx = vec![0u8; READ_RECORD_LEN];
        let mut tx = vec![0u8; WRITE_RECORD_LEN];
        let ca_cert = CertificateDer::from(cert.ca_der.as_slice());
        let anchors = [anchor_from_der(&ca_cert).unwrap()];
        let trust = Trust::new(&anchors, "localhost")
            .unwrap()
            .dangerous_skip_time_check();
        let buffers = TlsBuffers::new(&mut rx, &mut tx);
        let result = if check_time {
            connect(socket, buffers, &trust.check_time::<SystemClock>(), OsRng).map(drop)
        } else {
            connect(socket, buffers, &trust.dangerous_skip_time_check(), OsRng).map(drop)
        };
        result.err()
    };
    // Without a clock (a device without a trusted RTC) the dates are not looked at.
    assert!(open(false).is_none());
    assert!(matches!(
        open(true),
        Some(HandshakeError::Certificate(tpns_pki::Error::Expired { .. }))
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn expect_continue_and_refused_credentials_over_tls() {
    let server = Server::start("continue");
    let endpoint = Endpoint::parse(&server.url).unwrap();
    let accounts = package(500);
    let run = |job: &tpns_core::upload::Upload<'_>| {
        upload(&server, job, &mut FlashPackage::new(&accounts), 512, |_| {
            go()
        })
    };
    // `Expect: 100-continue`: the body follows the server's go-ahead.
    let mut with_continue = job(&endpoint, "continue.txt");
    with_continue.expect_continue = true;
    let answer = run(&with_continue).unwrap();
    server.assert_stored(answer.upload_id, &accounts, 500);

    // A wrong secret: the service's refusal, typed, not a transport error.
    for expect_continue in [false, true] {
        let mut wrong = job(&endpoint, "wrong.txt");
        wrong.credentials = tpns_core::auth::Credentials::new(common::ACCESS_ID, "nope").unwrap();
        wrong.expect_continue = expect_continue;
        let err = run(&wrong).unwrap_err();
        assert!(err.is_auth_failure(), "{err:?}");
        assert!(matches!(err, TlsUploadError::Upload(_)), "{err:?}");
        assert!(!err.is_transient());
    }
    assert_eq!(server.emulator().uploads().len(), 1);
}

#[test]
fn an_early_answer_beats_the_broken_pipe_over_tls() {
    // The emulator answers 401 before reading the body, then closes: the upload reports the
    // answer, whether or not the rest of the body could still be written.
    let server = Server::start("early");
    let url = format!("{}_fault/reject-early", server.url);
    let endpoint = Endpoint::parse(&url).unwrap();
    let accounts = package(20_000); // 280 000 bytes: more than the socket buffers hold
    let job = job(&endpoint, "early.txt");
    let mut pkg = FlashPackage::new(&accounts);
    let err = upload(&server, &job, &mut pkg, 4096, |_| go()).unwrap_err();
    match &err {
        TlsUploadError::Upload(UploadError::Exchange(ExchangeError::Status {
            status: 401,
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    assert!(server.emulator().uploads().is_empty());
}
