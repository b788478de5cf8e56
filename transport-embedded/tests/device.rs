//! The device client against the emulator over `NalStream` (embedded-nal over
//! `std-embedded-nal`) and verified TLS: an upload and a push as a device program writes them,
//! and a device's retry loop that retries only what `is_transient` allows, so that a push is
//! sent once even when its answer is lost.

mod common;

use core::ops::ControlFlow;
use std::time::Duration;

use common::{ACCESS_ID, SECRET, Server, package};
use rand_core::OsRng;
use rustls::pki_types::CertificateDer;
use std_embedded_nal::Stack;
use tpns_core::auth::Credentials;
use tpns_core::endpoint::Endpoint;
use tpns_core::exchange::ExchangeError;
use tpns_core::push::{PushError, PushRequest, PushResponse};
use tpns_core::upload::UploadResponse;
use tpns_transport_embedded::nal::NalStream;
use tpns_transport_embedded::push::TlsPushError;
use tpns_transport_embedded::source::FlashPackage;
use tpns_transport_embedded::tls::{SkipTime, Trust, TrustAnchor, anchor_from_der};
use tpns_transport_embedded::{DeviceBuffers, DeviceClient};

/// A wait hook that gives up after 10 s, as a device's timer would: every exchange is bounded.
fn deadline() -> impl FnMut() -> ControlFlow<()> {
    common::deadline(Duration::from_secs(10))
}

/// One upload of `accounts` as `devices.txt` by `client`, on a new connection closed cleanly
/// after the answer.
fn upload_on_a_new_connection(
    client: &mut DeviceClient<'_, SkipTime, OsRng>,
    server: &Server,
    accounts: &[u8],
) -> UploadResponse {
    let mut stack = Stack;
    let mut socket = NalStream::connect_with(&mut stack, server.addr(), deadline()).unwrap();
    let mut package = FlashPackage::new(accounts);
    let answer = client.upload(&mut socket, "devices.txt", &mut package);
    socket.close().unwrap();
    answer.unwrap()
}

/// An emulator, the CA to trust for it, and the test app's credentials.
fn start(name: &str) -> (Server, CertificateDer<'static>, Credentials<'static>) {
    let server = Server::start(name);
    let ca = CertificateDer::from(server.emulator().ca_der().to_vec());
    (server, ca, Credentials::new(ACCESS_ID, SECRET).unwrap())
}

/// `work` to its end, failing the test if that takes more than 10 s.
async fn within_10_s<T>(work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .expect("done within 10 s")
}

fn trust<'a>(anchors: &'a [TrustAnchor<'a>]) -> Trust<'a, SkipTime> {
    // The emulator's certificates are made now; dates are tested in blocking.rs.
    Trust::new(anchors, "localhost")
        .unwrap()
        .dangerous_skip_time_check()
}

/// What a device does: push, and on a failure push again only while `is_transient` says so,
/// each attempt on a new connection. Returns the last result and the number of attempts.
fn push_with_retries(
    client: &mut DeviceClient<'_, SkipTime, OsRng>,
    server: &Server,
    request: &PushRequest<'_>,
) -> (Result<PushResponse, TlsPushError>, u32) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut stack = Stack;
        let mut socket = NalStream::connect_with(&mut stack, server.addr(), deadline()).unwrap();
        let result = client.push(&mut socket, request);
        let _ = socket.close();
        match result {
            Err(e) if e.is_transient() && attempts < 3 => continue,
            other => return (other, attempts),
        }
    }
}

#[test]
fn a_device_client_uploads_then_pushes_over_embedded_nal() {
    let (server, ca, credentials) = start("device-client");
    let endpoint = Endpoint::parse(&server.url).unwrap();
    let anchors = [anchor_from_der(&ca).unwrap()];
    let mut buffers: DeviceBuffers = DeviceBuffers::new();
    let mut client = DeviceClient::new(endpoint, credentials, trust(&anchors), &mut buffers, OsRng);

    let accounts = package(300);
    let answer = upload_on_a_new_connection(&mut client, &server, &accounts);
    let mut stack = Stack;
    server.assert_stored(answer.upload_id, &accounts, 300);

    let request = PushRequest {
        upload_id: answer.upload_id,
        title: "Hello",
        content: "from a device",
        ..PushRequest::default()
    };
    let mut socket = NalStream::connect_with(&mut stack, server.addr(), deadline()).unwrap();
    let pushed = client.push(&mut socket, &request).unwrap();
    socket.close().unwrap();
    let records = server.emulator().pushes();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].push_id, pushed.push_id.as_str());
    assert_eq!(records[0].request["upload_id"], answer.upload_id);
    assert_eq!(records[0].request["message"]["content"], "from a device");

    // A request that breaks the API's rules opens no connection at all.
    let empty = PushRequest {
        content: "",
        ..request
    };
    let mut socket = NalStream::connect_with(&mut stack, server.addr(), deadline()).unwrap();
    let err = client.push(&mut socket, &empty).unwrap_err();
    socket.close().unwrap();
    assert!(
        matches!(err, TlsPushError::Push(PushError::Invalid(_))),
        "{err:?}"
    );
    assert!(!err.is_transient() && !err.may_have_been_sent());
    assert_eq!(server.emulator().pushes().len(), 1);
}

#[test]
fn a_device_retry_loop_sends_a_push_once_even_when_the_answer_is_lost() {
    let (server, ca, credentials) = start("device-retry");
    let anchors = [anchor_from_der(&ca).unwrap()];
    let accounts = package(20);
    let upload_id = {
        let endpoint = Endpoint::parse(&server.url).unwrap();
        let mut buffers: DeviceBuffers = DeviceBuffers::new();
        let mut client =
            DeviceClient::new(endpoint, credentials, trust(&anchors), &mut buffers, OsRng);
        upload_on_a_new_connection(&mut client, &server, &accounts).upload_id
    };
    let request = PushRequest {
        upload_id,
        title: "Once",
        content: "only once",
        ..PushRequest::default()
    };

    // The service refuses the first push with its rate limit: nothing was delivered, so the
    // loop tries again, and the second push goes through. One push recorded.
    let url = format!("{}_fault/rate-limit,times=1", server.url);
    let endpoint = Endpoint::parse(&url).unwrap();
    let mut buffers: DeviceBuffers = DeviceBuffers::new();
    let mut client = DeviceClient::new(endpoint, credentials, trust(&anchors), &mut buffers, OsRng);
    let (result, attempts) = push_with_retries(&mut client, &server, &request);
    result.unwrap();
    assert_eq!(attempts, 2);
    assert_eq!(server.emulator().pushes().len(), 1);

    // The server reads the whole push, then drops the connection without an answer: the push
    // may have been delivered. The exchange's error alone calls that transient; the push's
    // does not, so the loop stops after one attempt instead of sending the push again.
    let url = format!("{}_fault/close-after=100000,times=1", server.url);
    let endpoint = Endpoint::parse(&url).unwrap();
    let mut buffers: DeviceBuffers = DeviceBuffers::new();
    let mut client = DeviceClient::new(endpoint, credentials, trust(&anchors), &mut buffers, OsRng);
    let (result, attempts) = push_with_retries(&mut client, &server, &request);
    let err = result.unwrap_err();
    assert_eq!(attempts, 1, "{err}");
    let TlsPushError::Push(PushError::Exchange { error, body_len }) = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(error, ExchangeError::ReadResponse(_)),
        "the body was out: {error:?}"
    );
    assert_eq!(*body_len, request.json_len());
    // The exchange alone would call it transient; the push knows better.
    assert!(error.is_transient());
    assert!(err.may_have_been_sent());
    assert!(!err.is_transient());
    // The emulator stores nothing for a dropped request (tests/README.md), and serves the
    // fault once (`times=1`): a second attempt would have been stored. Still one push.
    assert_eq!(server.emulator().pushes().len(), 1);
}

#[test]
fn a_device_client_uploads_over_an_async_socket_and_a_refused_server_is_not_transient() {
    use embedded_io_adapters::tokio_1::FromTokio;
    let (server, ca, credentials) = start("device-async");
    let endpoint = Endpoint::parse(&server.url).unwrap();
    let anchors = [anchor_from_der(&ca).unwrap()];
    let accounts = package(100);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap();
    // Buffers sized by const: a smaller write record, and an HTTP buffer of 64 B.
    let mut buffers = DeviceBuffers::<16_640, 512, 64>::new();
    let mut client = DeviceClient::new(endpoint, credentials, trust(&anchors), &mut buffers, OsRng);
    let answer = runtime.block_on(async {
        let socket = within_10_s(tokio::net::TcpStream::connect(server.addr())).await;
        let mut package = FlashPackage::new(&accounts);
        let upload =
            client.upload_async(FromTokio::new(socket.unwrap()), "async.txt", &mut package);
        within_10_s(upload).await
    });
    let upload_id = answer.unwrap().upload_id;
    server.assert_stored(upload_id, &accounts, 100);

    // An async push to what was uploaded, through the same 64 B HTTP buffer.
    let pushed = runtime.block_on(async {
        let socket = within_10_s(tokio::net::TcpStream::connect(server.addr())).await;
        let request = PushRequest {
            upload_id,
            title: "async",
            content: "from an async device",
            ..PushRequest::default()
        };
        within_10_s(client.push_async(FromTokio::new(socket.unwrap()), &request)).await
    });
    let pushed = pushed.unwrap();
    let records = server.emulator().pushes();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].push_id, pushed.push_id.as_str());
    assert_eq!(records[0].request["upload_id"], upload_id);
    assert_eq!(
        records[0].request["message"]["content"],
        "from an async device"
    );

    // The same client under a name the server's certificate does not carry: refused at the
    // handshake, never transient, nothing more pushed.
    let wrong = Trust::new(&anchors, "api.tpns.tencent.com")
        .unwrap()
        .dangerous_skip_time_check();
    client.session().trust = wrong;
    let request = PushRequest {
        upload_id: 1,
        title: "t",
        content: "c",
        ..PushRequest::default()
    };
    let mut stack = Stack;
    let mut socket = NalStream::connect_with(&mut stack, server.addr(), deadline()).unwrap();
    let err = client.push(&mut socket, &request).unwrap_err();
    let _ = socket.close();
    assert!(
        matches!(
            err,
            TlsPushError::Handshake(tpns_transport_embedded::tls::HandshakeError::Certificate(
                tpns_pki::Error::WrongHost
            ))
        ),
        "{err:?}"
    );
    assert!(!err.is_transient() && !err.may_have_been_sent());
    assert_eq!(server.emulator().pushes().len(), 1);
}
