//! Sockets: TCP with timeouts and a deadline, a blocking rustls stream, and the bridge to
//! `embedded_io`.

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection};
use rustls_pki_types::ServerName;
use tpns_core::endpoint::Endpoint;

use crate::client::Event;
use crate::deadline::Deadline;
use crate::error::{Error, Phase, io_error};
use crate::proxy::{Proxy, authority, connect_request};
use crate::trace::{HEAD_LIMIT, redact_head};

/// Connect and stall timeouts.
///
/// The stall timeout bounds every single read and write on the socket: an exchange that makes
/// no progress for that long fails, while a slow one that keeps moving does not (until its
/// whole-exchange deadline, [`ClientBuilder::deadline`](crate::ClientBuilder::deadline)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for one TCP connection to open (per address of the host).
    pub connect: Duration,
    /// Longest wait for any read or write on an open connection to make progress.
    pub stall: Duration,
}

impl Default for Timeouts {
    /// 30 s for both.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            stall: Duration::from_secs(30),
        }
    }
}

/// What a new connection reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The address connected to.
    pub addr: SocketAddr,
    /// The TLS version negotiated (`"TLSv1_3"`, `"TLSv1_2"`), or `None` for plain HTTP.
    pub tls_version: Option<&'static str>,
}

/// A connection: plain TCP or TLS over TCP.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(Socket),
    Tls(Box<TlsStream>),
}

/// A TCP socket whose every read and write waits at most `min(stall, time left until the
/// deadline)`. A call cut short by the deadline, or made after it, fails with
/// [`Deadline::error`]; one cut short by the stall timeout fails as the socket says
/// (`WouldBlock` or `TimedOut`).
#[derive(Debug)]
pub(crate) struct Socket {
    tcp: TcpStream,
    stall: Duration,
    deadline: Deadline,
    /// The read and write timeouts last set, to skip a system call when they do not change.
    set: [Option<Duration>; 2],
}

impl Socket {
    fn new(tcp: TcpStream, stall: Duration, deadline: Deadline) -> Self {
        Socket {
            tcp,
            stall,
            deadline,
            set: [None, None],
        }
    }

    /// Runs one socket call (`write` tells which timeout applies) under the bound.
    fn timed<T>(
        &mut self,
        write: bool,
        call: impl FnOnce(&mut TcpStream) -> io::Result<T>,
    ) -> io::Result<T> {
        let (wait, by_deadline) = self.deadline.bound(self.stall)?;
        // A zero timeout means "none" to the OS (and is refused by std): wait at least 1 ms.
        let wait = Some(wait.max(Duration::from_millis(1)));
        let slot = usize::from(write);
        if self.set[slot] != wait {
            if write {
                self.tcp.set_write_timeout(wait)?;
            } else {
                self.tcp.set_read_timeout(wait)?;
            }
            self.set[slot] = wait;
        }
        match call(&mut self.tcp) {
            Err(e) if by_deadline && is_timeout(&e) => Err(self.deadline.error()),
            r => r,
        }
    }
}

/// Whether a socket error is a timeout (`SO_RCVTIMEO`/`SO_SNDTIMEO` report `WouldBlock` on
/// Unix, `TimedOut` on Windows).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.timed(false, |s| s.read(buf))
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.timed(true, |s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.timed(true, |s| s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// A blocking rustls client stream.
///
/// Written by hand rather than with `rustls::StreamOwned`, so that a socket error is reported
/// on the call that met it (`StreamOwned::write` defers it to the next call) and a write never
/// waits for a read.
#[derive(Debug)]
pub(crate) struct TlsStream {
    conn: ClientConnection,
    sock: Socket,
}

/// Why a TLS handshake failed.
enum Handshake {
    Io(io::Error),
    Tls(rustls::Error),
}

impl TlsStream {
    fn handshake(mut conn: ClientConnection, mut sock: Socket) -> Result<Self, Handshake> {
        while conn.is_handshaking() {
            while conn.wants_write() {
                write_tls(&mut conn, &mut sock).map_err(Handshake::Io)?;
            }
            if !conn.is_handshaking() {
                break;
            }
            if !conn.wants_read() {
                // Nothing to send and nothing to wait for: the handshake cannot go on.
                return Err(Handshake::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the TLS handshake stalled",
                )));
            }
            let n = conn.read_tls(&mut sock).map_err(Handshake::Io)?;
            if n == 0 {
                return Err(Handshake::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection during the TLS handshake",
                )));
            }
            if let Err(e) = conn.process_new_packets() {
                // Send the alert that tells the server why, as a courtesy; the error stands.
                let _ = conn.write_tls(&mut sock);
                return Err(Handshake::Tls(e));
            }
        }
        while conn.wants_write() {
            write_tls(&mut conn, &mut sock).map_err(Handshake::Io)?;
        }
        Ok(TlsStream { conn, sock })
    }

    fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            write_tls(&mut self.conn, &mut self.sock)?;
        }
        Ok(())
    }
}

fn write_tls(conn: &mut ClientConnection, sock: &mut Socket) -> io::Result<usize> {
    match conn.write_tls(sock)? {
        0 => Err(io::ErrorKind::WriteZero.into()),
        n => Ok(n),
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed without close_notify. The driver reads no further than a
                // response's length or chunking, so only a close-delimited body meets this, and
                // its end is then unproven: anyone on the path can cut a TLS stream with a TCP
                // FIN. An error, not an end (RFC 8446 section 6.1).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the TLS connection without close_notify: the \
                         answer may be cut short",
                    ));
                }
                Err(e) => return Err(e),
            }
            self.flush_tls()?;
            self.conn.read_tls(&mut self.sock)?;
            self.conn
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(buf)?;
        self.flush_tls()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.flush_tls()
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Opens a connection to `endpoint`, through `proxy` if one is given: resolves the host (the
/// proxy's, through one; IPv4 and IPv6), tries each address with the connect timeout (or the
/// time left until `deadline`, if shorter), bounds every later read and write by the stall
/// timeout and the deadline, opens the `CONNECT` tunnel through the proxy, and, for HTTPS,
/// completes the TLS handshake with `tls` (inside the tunnel, with the same verification).
/// Each step is told to `on_event` (whose answer is ignored here).
///
/// Resolving the name is not bounded by the deadline: the system resolver cannot be
/// interrupted (its own timeouts, a few seconds per server, apply).
pub(crate) fn connect(
    endpoint: &Endpoint<'_>,
    proxy: Option<&Proxy>,
    tls: &Arc<ClientConfig>,
    (timeouts, deadline): (Timeouts, Deadline),
    on_event: &mut dyn FnMut(&Event<'_>) -> ControlFlow<()>,
) -> Result<(Stream, Peer), Error> {
    // Checked first: not a resolver failure, and not worth a retry (the name is what it is),
    // and no connection is opened for a name that TLS could never verify.
    let server_name = || {
        ServerName::try_from(endpoint.host.to_owned()).map_err(|_| Error::ServerName {
            host: endpoint.host.to_owned(),
        })
    };
    let name = if endpoint.is_tls() {
        Some(server_name()?)
    } else {
        None
    };
    let (host, port) = match proxy {
        Some(p) => (p.host(), p.port()),
        None => (endpoint.host, endpoint.port),
    };
    let target = match proxy {
        Some(_) => format!("the proxy {}", authority(host, port)),
        None => authority(host, port),
    };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| Error::Resolve {
            host: match proxy {
                Some(_) => format!("the proxy {host}"),
                None => host.to_owned(),
            },
            source,
        })?
        .collect();
    let _ = on_event(&Event::Resolved {
        host,
        addrs: &addrs,
    });
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    let mut connected = None;
    let began = Instant::now();
    for addr in addrs {
        let (wait, by_deadline) = deadline
            .bound(timeouts.connect)
            .map_err(|e| io_error(Phase::Connect, e, timeouts.connect))?;
        match TcpStream::connect_timeout(&addr, wait.max(Duration::from_millis(1))) {
            Ok(s) => {
                connected = Some((s, addr));
                break;
            }
            Err(e) if by_deadline && is_timeout(&e) => {
                return Err(io_error(Phase::Connect, deadline.error(), timeouts.connect));
            }
            Err(e) => last = e,
        }
    }
    let Some((sock, addr)) = connected else {
        if is_timeout(&last) {
            return Err(Error::Timeout {
                phase: Phase::Connect,
                after: timeouts.connect,
            });
        }
        return Err(Error::Connect {
            target,
            source: last,
        });
    };
    let _ = on_event(&Event::TcpConnected {
        addr,
        proxy,
        elapsed: began.elapsed(),
    });
    // The driver writes in large blocks; the last, small one should not wait for an ACK.
    sock.set_nodelay(true).map_err(|source| Error::Connect {
        target: target.clone(),
        source,
    })?;
    let mut sock = Socket::new(sock, timeouts.stall, deadline);
    if let Some(proxy) = proxy {
        tunnel(&mut sock, proxy, endpoint, timeouts.stall, on_event)?;
    }
    let Some(name) = name else {
        return Ok((
            Stream::Plain(sock),
            Peer {
                addr,
                tls_version: None,
            },
        ));
    };
    let conn = ClientConnection::new(tls.clone(), name).map_err(Error::Tls)?;
    let began = Instant::now();
    let stream = TlsStream::handshake(conn, sock).map_err(|e| match e {
        Handshake::Tls(e) => Error::Tls(e),
        Handshake::Io(e) => io_error(Phase::Tls, e, timeouts.stall),
    })?;
    let tls_version = stream.conn.protocol_version().and_then(|v| v.as_str());
    let _ = on_event(&Event::TlsHandshake {
        version: tls_version.unwrap_or("?"),
        cipher: stream
            .conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .unwrap_or("?"),
        certificates: stream.conn.peer_certificates().unwrap_or(&[]),
        elapsed: began.elapsed(),
    });
    Ok((Stream::Tls(Box::new(stream)), Peer { addr, tls_version }))
}

/// Opens the tunnel to `endpoint` through `proxy` on `sock`: sends `CONNECT host:port`, reads
/// the answer's head (at most [`HEAD_LIMIT`] bytes, one byte at a time so that nothing of the
/// tunnel is read with it, each read under the stall timeout and the deadline) and accepts a
/// 2xx status only.
fn tunnel(
    sock: &mut Socket,
    proxy: &Proxy,
    endpoint: &Endpoint<'_>,
    stall: Duration,
    on_event: &mut dyn FnMut(&Event<'_>) -> ControlFlow<()>,
) -> Result<(), Error> {
    let began = Instant::now();
    let request = connect_request(proxy, &authority(endpoint.host, endpoint.port));
    let fail = |e| io_error(Phase::Proxy, e, stall);
    sock.write_all(request.as_bytes()).map_err(fail)?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= HEAD_LIMIT {
            return Err(fail(io::Error::new(
                io::ErrorKind::InvalidData,
                "the proxy's answer to CONNECT has a head over 16 KiB",
            )));
        }
        match sock.read(&mut byte) {
            Ok(0) => {
                return Err(fail(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the proxy closed the connection before answering CONNECT",
                )));
            }
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(e)),
        }
    }
    let _ = on_event(&Event::Tunnel {
        request_head: &redact_head(request.as_bytes()),
        response_head: &redact_head(&head),
        elapsed: began.elapsed(),
    });
    let (status, reason) = status_line(&head).ok_or_else(|| {
        fail(io::Error::new(
            io::ErrorKind::InvalidData,
            "the proxy's answer to CONNECT is not HTTP",
        ))
    })?;
    if (200..300).contains(&status) {
        return Ok(());
    }
    Err(Error::Proxy {
        proxy: proxy.to_string(),
        status,
        reason,
    })
}

/// The status and reason phrase (at most 64 printable ASCII characters, `?` for others) of
/// an HTTP/1.x status line.
fn status_line(head: &[u8]) -> Option<(u16, String)> {
    let end = head.iter().position(|&b| b == b'\r')?;
    let line = &head[..end];
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| line.strip_prefix(b"HTTP/1.0 "))?;
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|&b| b != b' ') {
        return None;
    }
    let status = std::str::from_utf8(code).ok()?.parse().ok()?;
    let reason = rest
        .get(4..)
        .unwrap_or_default()
        .iter()
        .take(64)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect::<String>();
    Some((status, reason.trim().to_owned()))
}

/// A `std::io` object seen as an `embedded_io` one, with `std::io::Error` as its error.
///
/// Interrupted calls are retried; a write that accepts nothing is an error rather than the
/// `Ok(0)` that `embedded_io::Write::write_all` refuses.
#[derive(Debug)]
pub struct Io<T>(pub T);

impl<T> embedded_io::ErrorType for Io<T> {
    type Error = io::Error;
}

impl<T: Read> embedded_io::Read for Io<T> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, io::Error> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }
}

impl<T: Write> embedded_io::Write for Io<T> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, io::Error> {
        loop {
            match self.0.write(buf) {
                Ok(0) if !buf.is_empty() => return Err(io::ErrorKind::WriteZero.into()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> Result<(), io::Error> {
        self.0.flush()
    }
}

impl<T: io::Seek> embedded_io::Seek for Io<T> {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, io::Error> {
        self.0.seek(match pos {
            embedded_io::SeekFrom::Start(n) => io::SeekFrom::Start(n),
            embedded_io::SeekFrom::End(n) => io::SeekFrom::End(n),
            embedded_io::SeekFrom::Current(n) => io::SeekFrom::Current(n),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes accept at most `chunk` bytes, and fail with `Interrupted` every other call.
    struct Flaky {
        chunk: usize,
        calls: usize,
        written: Vec<u8>,
    }

    impl Write for Flaky {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 2 == 1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.chunk);
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Read for Flaky {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 2 == 1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            buf[0] = b'x';
            Ok(1)
        }
    }

    #[test]
    fn the_adapter_retries_interrupted_calls() {
        let mut io = Io(Flaky {
            chunk: 3,
            calls: 0,
            written: Vec::new(),
        });
        embedded_io::Write::write_all(&mut io, b"hello world").unwrap();
        assert_eq!(io.0.written, b"hello world");
        let mut buf = [0u8; 4];
        assert_eq!(embedded_io::Read::read(&mut io, &mut buf).unwrap(), 1);
    }

    #[test]
    fn a_write_of_nothing_is_an_error_not_a_panic() {
        let mut full: &mut [u8] = &mut [];
        let mut io = Io(&mut full);
        let err = embedded_io::Write::write_all(&mut io, b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
        assert_eq!(embedded_io::Write::write(&mut io, b"").unwrap(), 0);
    }

    #[test]
    fn proxy_status_lines_are_read_strictly() {
        let ok = status_line(b"HTTP/1.1 200 Connection established\r\n\r\n");
        assert_eq!(ok, Some((200, "Connection established".into())));
        let no_reason = status_line(b"HTTP/1.0 407\r\n\r\n");
        assert_eq!(no_reason, Some((407, String::new())));
        let odd = status_line(b"HTTP/1.1 502 Bad\x1b[31m\r\n\r\n").unwrap();
        assert_eq!(odd.1, "Bad?[31m");
        for bad in [
            &b"SSH-2.0\r\n\r\n"[..],
            b"HTTP/1.1 20x OK\r\n",
            b"HTTP/1.1 2000\r\n",
        ] {
            assert_eq!(status_line(bad), None);
        }
    }

    #[test]
    fn seeks_map_to_std() {
        use embedded_io::{Seek, SeekFrom};
        let mut io = Io(io::Cursor::new(vec![0u8; 10]));
        assert_eq!(io.seek(SeekFrom::End(-3)).unwrap(), 7);
        assert_eq!(io.seek(SeekFrom::Current(-2)).unwrap(), 5);
        assert_eq!(io.seek(SeekFrom::Start(1)).unwrap(), 1);
    }

    #[test]
    fn a_host_tls_cannot_verify_is_a_server_name_error_before_any_connection() {
        // `~` is allowed in a URL's host, but not in a DNS name a certificate can hold.
        let client = crate::Client::builder()
            .endpoint("https://bad~host/")
            .credentials("1500001048", "1452fcebae9f3115ba794fb0fff2fd73")
            .build()
            .unwrap();
        let mut events = 0;
        let err = client
            .upload_reader_with(io::Cursor::new(b"alice\n"), 6, "a.txt", |_| {
                events += 1;
                ControlFlow::Continue(())
            })
            .unwrap_err();
        assert!(
            matches!(&err, Error::ServerName { host } if host == "bad~host"),
            "{err:?}"
        );
        assert_eq!(events, 0, "nothing resolved, nothing connected, no retry");
        assert!(!err.is_transient() && err.is_invalid_request(), "{err:?}");
        assert_eq!(err.phase(), Some(Phase::Tls));
        assert_eq!(
            err.to_string(),
            "TLS handshake: bad~host is not a valid TLS server name"
        );
    }
}
