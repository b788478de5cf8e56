//! The async device path (feature `async`) against the emulator over real loopback sockets:
//! embedded-tls's async connection over an `embedded_io_async` socket (tokio's TcpStream
//! through embedded-io-adapters, standing where an embassy-net `TcpSocket` stands on a
//! device), driven by `tpns_core::upload_async` on a host executor.

mod common;

use core::ops::ControlFlow;

use common::{Server, assert_certificate_refused, foreign_ca, job, package, tls_upload_async};
use tpns_core::endpoint::Endpoint;
use tpns_transport_embedded::source::FlashPackage;

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
    let accounts = package(3000);
    runtime().block_on(async {
        for buf_len in [64usize, 512, 4096] {
            let mut reports = 0;
            let answer = tls_upload_async(
                server.addr(),
                server.emulator().ca_der(),
                &job(&endpoint, "async.txt"),
                &mut FlashPackage::new(&accounts),
                buf_len,
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
    let accounts = package(10);
    let err = runtime().block_on(async {
        tls_upload_async(
            server.addr(),
            &foreign_ca(),
            &job(&endpoint, "a.txt"),
            &mut FlashPackage::new(&accounts),
            512,
            |_| ControlFlow::Continue(()),
        )
        .await
        .unwrap_err()
    });
    assert_certificate_refused(&err, "another CA");
    assert!(server.emulator().uploads().is_empty());
}
