//! The async device path (feature `async`) against the emulator over real loopback sockets:
//! embedded-tls's async connection over an `embedded_io_async` socket (tokio's TcpStream
//! through embedded-io-adapters, standing where an embassy-net `TcpSocket` stands on a
//! device), driven by `tpns_core::upload_async` on a host executor.

mod common;

use core::ops::ControlFlow;

use common::{Server, job, package};
use embedded_io_adapters::tokio_1::FromTokio;
use rand_core::OsRng;
use tpns_core::endpoint::Endpoint;

use rustls::pki_types::CertificateDer;
use tpns_transport_embedded::session::TlsSession;
use tpns_transport_embedded::source::FlashPackage;
use tpns_transport_embedded::tls::{
    HandshakeError, READ_RECORD_LEN, TlsBuffers, Trust, WRITE_RECORD_LEN, anchor_from_der,
};
use tpns_transport_embedded::upload::{TlsUploadError, upload_tls_async};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap()
}

#[test]
fn async_tls_upload_with_each_buffer_size() {
    let server = Server::start("async");
    let endpoint = Endpoint::parse(&server.url).unwrap();
    let ca = server.emulator().ca_der().to_vec();
    let ca_cert = CertificateDer::from(ca.as_slice());
    let anchors = [anchor_from_der(&ca_cert).unwrap()];
    let trust = Trust::new(&anchors, "localhost")
        .unwrap()
        .dangerous_skip_time_check();
    let accounts = package(3000);
    runtime().block_on(async {
        for buf_len in [64usize, 512, 4096] {
            let socket = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
            let mut socket = FromTokio::new(socket);
            let mut rx = vec![0u8; READ_RECORD_LEN];
            let mut tx = vec![0u8; WRITE_RECORD_LEN];
            let mut buf = vec![0u8; buf_len];
            let mut reports = 0;
            let answer = upload_tls_async(
                &mut socket,
                &mut TlsSession {
                    tls: TlsBuffers::new(&mut rx, &mut tx),
                    http: &mut buf,
                    trust,
                    rng: OsRng,
                },
                &job(&endpoint, "async.txt"),
                &mut FlashPackage::new(&accounts),
                |p| {
                    reports += 1;
                    assert_eq!(p.total, accounts.len() as u64);
                    ControlFlow::Continue(())
                },
            )
            .await
            .unwrap_or_else(|e| panic!("buffer {buf_len}: {e}"));
            assert!(reports >= (accounts.len() / buf_len).max(1));
            server.assert_stored(answer.upload_id, &accounts, 3000);
        }
    });
    assert_eq!(server.emulator().uploads().len(), 3);
}

#[test]
fn async_path_refuses_a_certificate_from_another_ca() {
    let server = Server::start("async-wrong-ca");
    let endpoint = Endpoint::parse(&server.url).unwrap();
    let other = tpns_emulator::generate_cert(&["localhost"]).unwrap();
    let ca_cert = CertificateDer::from(other.ca_der.as_slice());
    let anchors = [anchor_from_der(&ca_cert).unwrap()];
    let trust = Trust::new(&anchors, "localhost")
        .unwrap()
        .dangerous_skip_time_check();
    let accounts = package(10);
    let err = runtime().block_on(async {
        let socket = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let mut rx = vec![0u8; READ_RECORD_LEN];
        let mut tx = vec![0u8; WRITE_RECORD_LEN];
        let mut buf = [0u8; 512];
        upload_tls_async(
            FromTokio::new(socket),
            &mut TlsSession {
                tls: TlsBuffers::new(&mut rx, &mut tx),
                http: &mut buf,
                trust,
                rng: OsRng,
            },
            &job(&endpoint, "a.txt"),
            &mut FlashPackage::new(&accounts),
            |_| ControlFlow::Continue(()),
        )
        .await
        .unwrap_err()
    });
    assert!(
        matches!(
            err,
            TlsUploadError::Handshake(HandshakeError::Certificate(_))
        ),
        "{err:?}"
    );
    assert!(server.emulator().uploads().is_empty());
}
