//! Tiny misbehaving HTTP servers for fault tests: one connection on 127.0.0.1, served by a
//! std thread with bounded waits, doing whatever the test tells it to.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest any server-side wait may take (accept, read, write): a failing client never hangs
/// the test.
pub const BOUND: Duration = Duration::from_secs(8);

/// Most bytes a flooding server writes: far more than loopback socket buffers hold (a few
/// MiB), so that writing less proves the client closed the connection.
pub const FLOOD_CAP: usize = 64 << 20;

/// A server thread that accepts one connection and runs its script on it.
#[derive(Debug)]
pub struct RawServer<T> {
    /// Where it listens.
    pub addr: SocketAddr,
    handle: JoinHandle<T>,
}

impl<T: Send + 'static> RawServer<T> {
    /// Binds 127.0.0.1:0 and serves one connection with `script`.
    pub fn spawn(script: impl FnOnce(TcpStream) -> T + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let conn = accept_within(&listener, BOUND);
            conn.set_read_timeout(Some(BOUND)).unwrap();
            conn.set_write_timeout(Some(BOUND)).unwrap();
            script(conn)
        });
        RawServer { addr, handle }
    }

    /// The script's result (a panic in the server thread fails the test).
    pub fn join(self) -> T {
        self.handle.join().expect("the raw server thread panicked")
    }
}

/// Accepts one connection, or panics after `bound`.
pub fn accept_within(listener: &TcpListener, bound: Duration) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + bound;
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false).unwrap();
                return conn;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("no client connected: {e}"),
        }
    }
}

/// Reads one request: the head, then exactly `Content-Length` body bytes. Returns the head
/// and the body length.
pub fn read_request(conn: &mut TcpStream) -> io::Result<(String, usize)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        conn.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut left = len;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let n = conn.read(&mut buf[..left.min(64 * 1024)])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        left -= n;
    }
    Ok((head, len))
}

/// Reads and discards until the client closes (or [`BOUND`] passes); returns the bytes read.
pub fn drain(conn: &mut TcpStream) -> usize {
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0;
    while let Ok(n @ 1..) = conn.read(&mut buf) {
        total += n;
    }
    total
}

/// Writes `first`, then `filler` over and over, until the client closes the connection or
/// [`FLOOD_CAP`] bytes are out. Returns the bytes written.
pub fn flood(conn: &mut TcpStream, first: &[u8], filler: &[u8]) -> usize {
    let mut written = 0;
    if conn.write_all(first).is_err() {
        return 0;
    }
    written += first.len();
    // Whole copies of `filler` only, so that lines stay whole from block to block.
    let copies = (64 * 1024 / filler.len()).max(1);
    let block: Vec<u8> = filler.repeat(copies);
    while written < FLOOD_CAP {
        match conn.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n,
        }
    }
    written
}

/// Where an answer that the server's close cuts short stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Inside the head.
    InHead,
    /// Inside a body whose `Content-Length` promised more.
    InBody,
}

impl Cut {
    /// `in_head` or `in_body`, by where the answer stops: a transport's own error for it.
    pub fn pick<T>(self, in_head: T, in_body: T) -> T {
        match self {
            Cut::InHead => in_head,
            Cut::InBody => in_body,
        }
    }
}

/// Answers cut short by the server's close, and where each stops: every transport must report
/// them as incomplete (each maps [`Cut`] onto its own error).
pub const CUT_ANSWERS: [(&[u8], Cut); 2] = [
    (b"HTTP/1.1 200 OK\r\nContent-Type: appli", Cut::InHead),
    (
        b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"retCode\":0,",
        Cut::InBody,
    ),
];

/// A raw server that reads the whole request and never answers, reading on until the client
/// goes away.
pub fn silent_after_request() -> RawServer<()> {
    RawServer::spawn(|mut conn: TcpStream| {
        read_request(&mut conn).unwrap();
        drain(&mut conn);
    })
}

/// A raw server that reads the whole request, writes `answer`, and closes.
pub fn answer_then_close(answer: &'static [u8]) -> RawServer<()> {
    RawServer::spawn(move |mut conn: TcpStream| {
        read_request(&mut conn).unwrap();
        conn.write_all(answer).unwrap();
        conn.flush().unwrap();
    })
}

/// After the request, sends a response head one byte every 300 ms (each gap well inside a 1 s
/// stall timeout) until the client goes away or [`BOUND`] passes. Its result is the bytes sent.
pub fn dripping_server() -> RawServer<usize> {
    RawServer::spawn(|mut conn| {
        read_request(&mut conn).unwrap();
        let started = Instant::now();
        let head = b"HTTP/1.1 200 OK\r\nX-Drip: ";
        let mut sent = 0;
        while started.elapsed() < BOUND {
            let byte = head.get(sent).copied().unwrap_or(b'a');
            if conn.write_all(&[byte]).is_err() {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(300));
        }
        sent
    })
}

/// A TLS server (rustls, with `versions`) showing `chain` (leaf first) with `key_der`
/// (PKCS#8) on one connection; its result is the application bytes it received, until the
/// client's alert (an error) or its close. A client that refuses the certificate sends none.
#[cfg(feature = "tls")]
pub fn tls_server(
    chain: Vec<Vec<u8>>,
    key_der: Vec<u8>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> RawServer<usize> {
    use std::sync::Arc;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        chain.into_iter().map(Into::into).collect(),
        rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into()),
    )
    .unwrap();
    RawServer::spawn(move |sock: TcpStream| {
        let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let mut received = 0;
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = tls.read(&mut buf) {
            received += n;
        }
        received
    })
}
