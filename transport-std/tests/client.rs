//! The client against the emulator, over real sockets on 127.0.0.1.

mod common;

use std::io::{Cursor, Read, Write};
use std::net::TcpListener;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};
use tpns_core::exchange::ExchangeError;

use tpns_emulator::Emulator;
use tpns_transport_std::rustls::{CertificateError, Error as TlsError};
use tpns_transport_std::tpns_core::upload::UploadError;
use tpns_transport_std::{
    BuildError, Client, ClientBuilder, Error, Event, Phase, PushRequest, RetryPolicy, SecretKey,
    Timeouts,
};

use common::{
    assert_timed_out_in, client_for, counting, failed_upload, failed_upload_retries, push_request,
    quick_retries, status_of, uploaded,
};
use tpns_test_support::{Emu, ID, SECRET, TempDir, accounts as package, sha256_hex};

fn builder(emu: &Emulator) -> ClientBuilder {
    common::builder(emu, 3, 20, 100)
}

/// An emulator, and a valid package of `len` bytes written to `accounts.txt` in its folder.
fn start_with_package(name: &str, len: usize) -> (Emu, Vec<u8>, String) {
    let emu = Emu::start(name);
    let pkg = package(len);
    let path = emu.dir().write("accounts.txt", &pkg);
    (emu, pkg, path)
}

/// Asserts that `emu` stored no package, and stops it (before any client of the test goes).
fn assert_nothing_stored(emu: Emu) {
    assert!(emu.uploads().is_empty());
    drop(emu);
}

#[test]
fn uploads_over_https_and_the_stored_bytes_are_identical() {
    let (emu, pkg, path) = start_with_package("https", 1_000_000);
    let client = builder(&emu).build().unwrap();
    let mut last = 0;
    let mut tls = None;
    let up = client
        .upload_file_with(&path, |e| {
            match e {
                Event::Progress { sent, total } => {
                    assert!(*sent >= last && *sent <= *total);
                    last = *sent;
                }
                Event::Connected { peer, .. } => tls = peer.tls_version,
                Event::Retrying { error, .. } => panic!("retry: {error}"),
                _ => {}
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(last, pkg.len() as u64);
    assert!(matches!(tls, Some("TLSv1_3" | "TLSv1_2")), "{tls:?}");
    assert_eq!(up.attempts, 1);
    let records = emu.uploads();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].upload_id, up.upload_id);
    assert_eq!(records[0].sha256, sha256_hex(&pkg));
    assert_eq!(records[0].file_name, "accounts.txt");
    assert_eq!(std::fs::read(emu.stored_path(up.upload_id)).unwrap(), pkg);
    drop(emu);
}

#[test]
fn uploads_20_mb_over_plain_http_from_a_reader_at_its_position() {
    let emu = Emu::start("http");
    let pkg = package(20_000_000);
    // The source starts 7 bytes in: only what follows is the package.
    let mut data = b"junk\n\n\n".to_vec();
    data.extend_from_slice(&pkg);
    let mut source = Cursor::new(data);
    source.set_position(7);
    let client = builder(&emu)
        .endpoint(emu.http_url().unwrap())
        .build()
        .unwrap();
    let up = client
        .upload_reader(source, pkg.len() as u64, "big.txt")
        .unwrap();
    let records = emu.uploads();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].sha256, sha256_hex(&pkg));
    assert_eq!(records[0].size, pkg.len() as u64);
    assert_eq!(up.size, pkg.len() as u64);
    drop(emu);
}

#[test]
fn an_empty_package_is_refused_by_the_service_and_not_retried() {
    let emu = Emu::start("empty");
    let client = builder(&emu).build().unwrap();
    let mut retries = 0;
    let empty = Cursor::new(Vec::new());
    let err = client
        .upload_reader_with(empty, 0, "empty.txt", counting(&mut retries))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Exchange(UploadError::Exchange(ExchangeError::Api { .. }))
        ),
        "{err:?}"
    );
    assert_eq!(err.ret_code(), Some(1_008_012));
    assert!(!err.is_transient() && !err.is_auth_failure() && err.is_api_error());
    assert_eq!(retries, 0);
    assert_nothing_stored(emu);
}

#[test]
fn a_wrong_secret_is_an_auth_failure_and_never_retried() {
    let emu = Emu::start("auth");
    let client = builder(&emu)
        .credentials(ID, "wrong-secret")
        .build()
        .unwrap();
    let (err, retries) = failed_upload_retries(&client, 1000);
    assert!(err.is_auth_failure(), "{err:?}");
    assert_eq!(err.ret_code(), Some(1_008_003));
    assert!(!err.is_transient());
    assert_eq!(retries, 0);
    let err = client.push(&push_request(1, "c")).unwrap_err();
    assert!(err.is_auth_failure(), "{err:?}");
    assert!(emu.uploads().is_empty() && emu.pushes().is_empty());
    drop(emu);
}

#[test]
fn retries_recover_from_injected_faults_with_exactly_one_copy_stored() {
    let (emu, pkg, path) = start_with_package("retry", 300_000);
    // 503 twice, then the connection dropped mid-body once, then a rate limit once.
    for (spec, tries) in [
        ("status=503,times=2", 3),
        ("status=502,times=1", 2),
        ("close-after=100000,times=1", 2),
        ("rate-limit,times=1", 2),
    ] {
        let before = emu.uploads().len();
        let url = format!("{}_fault/{spec}/", emu.https_url());
        let client = builder(&emu).endpoint(url).build().unwrap();
        let mut retries = 0;
        let started = Instant::now();
        let up = client
            .upload_file_with(&path, counting(&mut retries))
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(up.attempts, tries, "{spec}");
        assert_eq!(retries, tries - 1, "{spec}");
        if spec.starts_with("rate-limit") {
            assert!(
                started.elapsed() >= Duration::from_secs(1),
                "{spec}: pause >= 1 s"
            );
        }
        let records = emu.uploads();
        assert_eq!(records.len(), before + 1, "{spec}: exactly one more copy");
        let rec = records.last().unwrap();
        assert_eq!(rec.upload_id, up.upload_id);
        assert_eq!(rec.sha256, sha256_hex(&pkg), "{spec}");
        assert_eq!(std::fs::read(emu.stored_path(up.upload_id)).unwrap(), pkg);
    }
    drop(emu);
}

#[test]
fn a_non_transient_status_or_spent_retries_end_with_the_status() {
    let emu = Emu::start("status");
    let url = format!("{}_fault/status=500/", emu.https_url());
    let client = builder(&emu).endpoint(url).build().unwrap();
    let (err, retries) = failed_upload_retries(&client, 100);
    assert_eq!(status_of(&err), Some(500), "{err:?}");
    assert_eq!(retries, 0);
    let url = format!("{}_fault/status=503/", emu.https_url());
    let client = builder(&emu)
        .endpoint(url)
        .retry(quick_retries(2))
        .build()
        .unwrap();
    let (err, retries) = failed_upload_retries(&client, 100);
    assert_eq!(status_of(&err), Some(503), "{err:?}");
    assert!(err.is_transient() && err.is_api_error());
    assert_eq!(retries, 2);
    assert_nothing_stored(emu);
}

#[test]
fn an_unknown_ca_fails_the_handshake_and_nothing_is_sent() {
    let emu = Emu::start("unknown-ca");
    let client = client_for(emu.https_url()).build().unwrap();
    let (err, retries) = failed_upload_retries(&client, 100);
    assert!(
        matches!(
            err,
            Error::Tls(TlsError::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ),
        "{err:?}"
    );
    assert_eq!(err.phase(), Some(Phase::Tls));
    assert!(!err.is_transient());
    assert_eq!(retries, 0);
    // Another CA than the server's is no better.
    let other = tpns_emulator::generate_cert(&["127.0.0.1"]).unwrap();
    let client = client_with_ca(&emu, other.ca_der);
    assert!(matches!(
        client.upload_reader(Cursor::new(package(100)), 100, "a.txt"),
        Err(Error::Tls(TlsError::InvalidCertificate(_)))
    ));
    assert_nothing_stored(emu);
}

fn client_with_ca(emu: &Emulator, ca_der: Vec<u8>) -> Client {
    client_for(emu.https_url())
        .webpki_roots(false)
        .ca_der(ca_der)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

#[test]
fn the_host_name_and_validity_are_checked() {
    use tpns_emulator::{Validity, generate_cert, generate_cert_with};
    for (cert, want) in [
        (generate_cert(&["tpns.example"]).unwrap(), "NotValidForName"),
        (
            generate_cert_with(&["127.0.0.1"], Validity::Expired).unwrap(),
            "Expired",
        ),
    ] {
        let emu = Emu::start_with("cert", |config, dir| {
            let cert_pem = dir.write("cert.pem", cert.cert_pem.as_bytes());
            let key_pem = dir.write("key.pem", cert.key_pem.as_bytes());
            config.cert(cert_pem, key_pem)
        });
        let err = client_with_ca(&emu, cert.ca_der.clone())
            .upload_reader(Cursor::new(package(100)), 100, "a.txt")
            .unwrap_err();
        let Error::Tls(TlsError::InvalidCertificate(e)) = &err else {
            panic!("{err:?}")
        };
        assert!(format!("{e:?}").starts_with(want), "{e:?}");
        assert!(emu.uploads().is_empty());
        drop(emu);
    }
}

#[test]
fn connect_errors_are_retried_then_reported() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = client_for(format!("http://127.0.0.1:{port}/"))
        .retry(RetryPolicy {
            max_retries: 2,
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        })
        .build()
        .unwrap();
    let (err, retries) = failed_upload_retries(&client, 100);
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(err.phase(), Some(Phase::Connect));
    assert_eq!(retries, 2);
}

#[test]
fn a_stalled_response_times_out_but_a_slow_moving_one_does_not() {
    let emu = Emu::start("stall");
    let stall = Duration::from_millis(600);
    let timeouts = Timeouts {
        connect: stall,
        stall,
    };
    let client_with_fault = |spec: &str| {
        let url = format!("{}_fault/{spec}/", emu.https_url());
        let builder = builder(&emu).endpoint(url).timeouts(timeouts);
        builder.retry(RetryPolicy::none()).build().unwrap()
    };
    // No answer for 3 s: the read fails after the stall timeout.
    let (err, took) = failed_upload(&client_with_fault("delay=3000"), 1000);
    assert_timed_out_in(&err, Phase::ReadResponse);
    assert!(err.is_transient());
    assert!(
        took >= stall && took < Duration::from_millis(2500),
        "{took:?}"
    );
    // The answer trickles in a byte every 20 ms: slower in all than the stall timeout, but
    // never stalled.
    let started = Instant::now();
    let up = uploaded(&client_with_fault("slow=20"), 1000);
    assert!(started.elapsed() > stall, "{:?}", started.elapsed());
    assert!(up.upload_id > 0);
    drop(emu);
}

#[test]
fn a_server_that_stops_reading_makes_the_upload_time_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut head = [0u8; 100];
        conn.read_exact(&mut head).unwrap();
        // Then read nothing more, and hold the connection open until the client gives up.
        let mut rest = Vec::new();
        std::thread::sleep(Duration::from_millis(2500));
        let _ = conn.read_to_end(&mut rest);
    });
    let stall = Duration::from_millis(500);
    let client = client_for(format!("http://{addr}/"))
        .timeout(stall)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let len = 50_000_000u64;
    let started = Instant::now();
    let err = client
        .upload_reader(Cursor::new(vec![b'a'; len as usize]), len, "a.txt")
        .unwrap_err();
    let took = started.elapsed();
    let Error::Timeout {
        phase: Phase::SendBody { sent },
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(sent > 0 && sent < len, "{sent}");
    assert!(took < Duration::from_millis(2400), "{took:?}");
    server.join().unwrap();
}

#[test]
fn push_to_an_uploaded_package() {
    let emu = Emu::start("push");
    let client = builder(&emu).build().unwrap();
    let up = uploaded(&client, 1000);
    let pushed = client
        .push(&PushRequest {
            upload_id: up.upload_id,
            title: "Title \"quoted\"",
            content: "内容",
            ..PushRequest::default()
        })
        .unwrap();
    assert!(!pushed.push_id.is_empty());
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].push_id, pushed.push_id);
    assert_eq!(pushes[0].upload_id, up.upload_id);
    assert_eq!(pushes[0].title, "Title \"quoted\"");
    assert_eq!(pushes[0].content, "内容");
    assert_eq!(pushes[0].audience_type, "package_account_push");
    // Signed pushes too.
    let signed = builder(&emu).signed_push(true).build().unwrap();
    signed.push(&push_request(up.upload_id, "signed")).unwrap();
    assert_eq!(emu.pushes().len(), 2);
    // An unknown package is the service's error; an invalid request sends nothing.
    let err = client
        .push(&push_request(up.upload_id + 100, "c"))
        .unwrap_err();
    assert!(
        err.is_api_error() && !err.is_auth_failure() && !err.is_transient(),
        "{err:?}"
    );
    let err = client.push(&push_request(up.upload_id, "")).unwrap_err();
    assert!(matches!(err, Error::InvalidPush(_)), "{err:?}");
    assert_eq!(emu.pushes().len(), 2);
    drop(emu);
}

#[test]
fn debug_output_never_shows_the_secret() {
    let client = Client::builder().credentials(ID, SECRET).build().unwrap();
    let text = format!("{client:?} {:?}", SecretKey::new(SECRET));
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("redacted"), "{text}");
    let builder = Client::builder().credentials(ID, SECRET);
    assert!(!format!("{builder:?}").contains(SECRET));
    // A malformed secret's error does not show it either.
    let err = Client::builder()
        .credentials(ID, "bad\nsecret")
        .build()
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("bad\nsecret"));
}

#[test]
fn build_errors_name_the_setting() {
    let dir = TempDir::new("pem");
    let pem = dir.write("ca.pem", "not a certificate\n");
    let with_secret = || Client::builder().credentials(ID, "s");
    // (what is wrong, the build's result, the error it must be)
    let cases = [
        ("no credentials", Client::builder().build()),
        (
            "a bad AccessID",
            Client::builder().credentials("abc", "s").build(),
        ),
        (
            "an FTP endpoint",
            with_secret().endpoint("ftp://x/").build(),
        ),
        (
            "a missing CA file",
            with_secret().ca_file("/nonexistent/ca.pem").build(),
        ),
        (
            "a CA file that is not PEM",
            with_secret().ca_file(&pem).build(),
        ),
    ];
    for (what, result) in cases {
        let named = match result {
            Err(BuildError::NoCredentials) => "no credentials",
            Err(BuildError::Credentials(_)) => "a bad AccessID",
            Err(BuildError::Endpoint(_)) => "an FTP endpoint",
            Err(BuildError::CaFile { .. }) => "a missing CA file",
            Err(BuildError::CaPem { .. }) => "a CA file that is not PEM",
            other => panic!("{what}: {other:?}"),
        };
        assert_eq!(named, what);
    }
}

#[test]
fn tls_1_2_only_servers_are_accepted() {
    use std::sync::Arc;
    use tpns_transport_std::rustls;
    let cert = tpns_emulator::generate_cert(&["127.0.0.1"]).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.cert_der.clone().into()],
        rustls_pki_types_key(&cert.key_der),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        // Read the head, then exactly Content-Length body bytes.
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            tls.read_exact(&mut byte).unwrap();
            got.push(byte[0]);
        }
        let head = String::from_utf8(got).unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut body = vec![0u8; len];
        tls.read_exact(&mut body).unwrap();
        let answer = r#"{"retCode":0,"errMsg":"","uploadId":77}"#;
        write!(
            tls,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        )
        .unwrap();
        tls.flush().unwrap();
        tls.conn.protocol_version()
    });
    let client = client_for(format!("https://{addr}/"))
        .webpki_roots(false)
        .ca_der(cert.ca_der.clone())
        .build()
        .unwrap();
    let mut version = None;
    let up = client
        .upload_reader_with(Cursor::new(package(5000)), 5000, "a.txt", |e| {
            if let Event::Connected { peer, .. } = e {
                version = peer.tls_version;
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(up.upload_id, 77);
    assert_eq!(version, Some("TLSv1_2"));
    assert_eq!(
        server.join().unwrap(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

fn rustls_pki_types_key(
    der: &[u8],
) -> tpns_transport_std::rustls::pki_types::PrivateKeyDer<'static> {
    tpns_transport_std::rustls::pki_types::PrivateKeyDer::Pkcs8(der.to_vec().into())
}

#[test]
fn a_client_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Client>();
    let emu = Emu::start("threads");
    let client = builder(&emu).build().unwrap();
    let pkg = package(10_000);
    std::thread::scope(|s| {
        for i in 0..4 {
            let (client, pkg) = (&client, &pkg);
            s.spawn(move || {
                client
                    .upload_reader(Cursor::new(pkg), pkg.len() as u64, &format!("t{i}.txt"))
                    .unwrap()
            });
        }
    });
    let records = emu.uploads();
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| r.sha256 == sha256_hex(&pkg)));
    drop(emu);
}

#[test]
fn a_push_whose_answer_is_lost_is_not_sent_again() {
    let emu = Emu::start("push-lost");
    let up = builder(&emu)
        .build()
        .unwrap()
        .upload_reader(Cursor::new(package(1000)), 1000, "a.txt")
        .unwrap();
    // The emulator acts on the push, then answers only after 3 s: the client has given up by
    // then, and must not push a second time.
    let url = format!("{}_fault/delay=3000/", emu.https_url());
    let client = builder(&emu)
        .endpoint(url)
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let mut retries = 0;
    let request = push_request(up.upload_id, "once");
    let err = client
        .push_with(&request, counting(&mut retries))
        .unwrap_err();
    assert_timed_out_in(&err, Phase::ReadResponse);
    assert_eq!(retries, 0);
    assert_eq!(emu.pushes().len(), 1);
    // A 503 means the service did not act: that is retried.
    let url = format!("{}_fault/status=503,times=1/", emu.https_url());
    let mut retries = 0;
    builder(&emu)
        .endpoint(url)
        .build()
        .unwrap()
        .push_with(&request, counting(&mut retries))
        .unwrap();
    // One retry for the 503, and perhaps one more for the rate limit of one package push a
    // second per app (the first push was just now).
    assert!((1..=2).contains(&retries), "{retries}");
    assert_eq!(emu.pushes().len(), 2);
    // 502 and 504 come from gateways that may have forwarded the push: never repeated.
    for status in [502, 504] {
        let url = format!("{}_fault/status={status},times=1/", emu.https_url());
        let mut retries = 0;
        let err = builder(&emu)
            .endpoint(url)
            .build()
            .unwrap()
            .push_with(&request, counting(&mut retries))
            .unwrap_err();
        assert_eq!(status_of(&err), Some(status), "{err:?}");
        assert_eq!(retries, 0, "a {status} answer to a push is not retried");
    }
    drop(emu);
}

/// The core's push driver signs with the timestamp it is given (the caller's clock): one an
/// hour old is refused by the emulator as an authentication failure; the current one is not.
#[test]
fn a_stale_signature_timestamp_is_an_auth_failure() {
    use tpns_transport_std::tpns_core::auth::Credentials;
    use tpns_transport_std::tpns_core::push::{Push, PushAuth, push};
    use tpns_transport_std::tpns_core::response::Limits;
    use tpns_transport_std::{Endpoint, Io};
    let emu = Emu::start("stale-sign");
    let client = builder(&emu).build().unwrap();
    let up = uploaded(&client, 100);
    let url = emu.http_url().unwrap();
    let endpoint = Endpoint::parse(&url).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let job = |timestamp| Push {
        endpoint: &endpoint,
        auth: PushAuth::Signature {
            credentials: Credentials::new(ID, SECRET).unwrap(),
            timestamp,
        },
        request: push_request(up.upload_id, "c"),
        limits: Limits::default(),
    };
    let exchange = |timestamp| {
        let stream = std::net::TcpStream::connect(emu.http_addr().unwrap()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        push(&mut Io(stream), &job(timestamp), &mut [0u8; 512])
    };
    for stale in [now - 3600, now + 3600] {
        let err = exchange(stale).unwrap_err();
        assert!(err.is_auth_failure(), "{err:?}");
    }
    assert!(emu.pushes().is_empty());
    exchange(now).unwrap();
    assert_eq!(emu.pushes().len(), 1);
    drop(emu);
}
