//! How a TLS connection ends matters when the answer is close-delimited (no `Content-Length`,
//! no chunking): its end is proven only by the server's close_notify. A bare TCP close, which
//! anyone on the path can forge, is an error, not the end of the answer.

use std::io::{Cursor, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use tpns_core::exchange::ExchangeError;

use tpns_emulator::{GeneratedCert, generate_cert};
use tpns_test_support::raw::RawServer;
use tpns_test_support::{ID, SECRET, accounts as package};
use tpns_transport_std::rustls::{self, ServerConnection, StreamOwned};
use tpns_transport_std::tpns_core::upload::UploadError;
use tpns_transport_std::{Client, Error, Phase, RetryPolicy};

/// A close-delimited success: the body runs until the connection ends.
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\
    \r\n{\"retCode\":0,\"errMsg\":\"\",\"uploadId\":7}";

/// Reads one request through TLS: the head, then `Content-Length` body bytes.
fn read_request(tls: &mut impl Read) -> usize {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tls.read(&mut buf).unwrap();
        assert!(n > 0, "the client closed before its request was complete");
        got.extend_from_slice(&buf[..n]);
        let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap();
        if got.len() >= end + 4 + len {
            return got.len();
        }
    }
}

/// A TLS server that reads one request, sends [`ANSWER`], then closes the TCP connection,
/// with a close_notify first or not.
fn server(cert: &GeneratedCert, close_notify: bool) -> RawServer<()> {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.cert_der.clone().into()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_der.clone().into()),
    )
    .unwrap();
    RawServer::spawn(move |sock: TcpStream| {
        let conn = ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = StreamOwned::new(conn, sock);
        read_request(&mut tls);
        tls.write_all(ANSWER).unwrap();
        if close_notify {
            tls.conn.send_close_notify();
        }
        tls.flush().unwrap();
        // A FIN, not a reset: the request was read whole, and the client's close is awaited.
        tls.sock.shutdown(Shutdown::Write).unwrap();
        let _ = tls.sock.read(&mut [0u8; 1024]);
    })
}

fn upload(server: &RawServer<()>, cert: &GeneratedCert) -> Result<u64, Error> {
    let client = Client::builder()
        .endpoint(format!("https://{}/", server.addr))
        .credentials(ID, SECRET)
        .webpki_roots(false)
        .ca_der(cert.ca_der.clone())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    client
        .upload_reader(Cursor::new(package(1000)), 1000, "a.txt")
        .map(|u| u.upload_id)
}

#[test]
fn a_close_delimited_answer_ended_by_close_notify_is_complete() {
    let cert = generate_cert(&["127.0.0.1"]).unwrap();
    let server = server(&cert, true);
    assert_eq!(upload(&server, &cert).unwrap(), 7);
    server.join();
}

#[test]
fn a_close_delimited_answer_ended_without_close_notify_is_an_error() {
    let cert = generate_cert(&["127.0.0.1"]).unwrap();
    let server = server(&cert, false);
    let err = upload(&server, &cert).unwrap_err();
    server.join();
    let Error::Exchange(UploadError::Exchange(ExchangeError::ReadResponse(e))) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    assert_eq!(err.phase(), Some(Phase::ReadResponse));
    assert!(err.to_string().contains("without close_notify"), "{err}");
}
