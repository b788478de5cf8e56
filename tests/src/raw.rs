//! A small HTTP/1.1 server side (RFC 9112) for the faults hyper cannot produce: a response
//! written byte by byte, chunk extensions and trailers, an HTTP/1.0 close-delimited answer,
//! an answer before the body is read, and a connection dropped after N body bytes.
//!
//! It also reads every connection's request head first, so the fault of a request is known
//! before either server side touches its body.

use crate::api::{self, Reply, Shared};
use crate::fault::FaultSpec;
use bytes::{Buf, Bytes, BytesMut};
use hyper::Method;
use hyper::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest request head read (RFC 9112 leaves the limit to the server).
pub const MAX_HEAD: usize = 64 * 1024;
/// How long a closing connection waits for more bytes from the client before it closes
/// (RFC 9112 §9.6, "lingering close").
pub const LINGER: Duration = Duration::from_secs(2);
/// The longest a closing connection keeps reading what the client still sends.
pub const LINGER_MAX: Duration = Duration::from_secs(30);

/// A parsed request head.
#[derive(Debug)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request target as sent (path and query).
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// The header fields.
    pub headers: HeaderMap,
    /// Length of the head in bytes, including the blank line.
    pub len: usize,
}

/// Why a head could not be read.
#[derive(Debug)]
pub enum HeadError {
    /// The connection closed (or failed) before a complete head.
    Closed,
    /// The head is malformed: answer 400.
    Malformed(String),
    /// The head is larger than [`MAX_HEAD`] or has too many fields: answer 431.
    TooLarge,
}

/// Reads until `buf` holds a complete request head and parses it, without consuming it:
/// `buf` keeps the head and whatever body bytes arrived with it.
pub async fn read_head<IO: AsyncRead + Unpin>(
    io: &mut IO,
    buf: &mut BytesMut,
) -> Result<RequestHead, HeadError> {
    loop {
        let mut fields = [httparse::EMPTY_HEADER; 100];
        let mut req = httparse::Request::new(&mut fields);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(len)) => return build_head(&req, len),
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
            Err(e) => return Err(HeadError::Malformed(e.to_string())),
        }
        if buf.len() >= MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        buf.reserve(4096);
        match io.read_buf(buf).await {
            Ok(0) | Err(_) => return Err(HeadError::Closed),
            Ok(_) => {}
        }
    }
}

fn build_head(req: &httparse::Request<'_, '_>, len: usize) -> Result<RequestHead, HeadError> {
    let bad = |m: &str| HeadError::Malformed(m.to_owned());
    let method =
        Method::from_bytes(req.method.unwrap_or("").as_bytes()).map_err(|_| bad("bad method"))?;
    let mut headers = HeaderMap::new();
    for f in req.headers.iter() {
        let name = HeaderName::from_bytes(f.name.as_bytes()).map_err(|_| bad("bad field name"))?;
        let value = HeaderValue::from_bytes(f.value).map_err(|_| bad("bad field value"))?;
        headers.append(name, value);
    }
    Ok(RequestHead {
        method,
        target: req.path.unwrap_or("/").to_owned(),
        version: req.version.unwrap_or(1),
        headers,
        len,
    })
}

/// How the request body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Content-Length`: this many bytes remain.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunk),
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data: this many bytes remain.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: reading trailer lines up to the blank one.
    Trailers,
    /// The body ended.
    Done,
}

impl RequestHead {
    fn framing(&self) -> Result<Framing, String> {
        if let Some(te) = self.headers.get(hyper::header::TRANSFER_ENCODING) {
            let te = te.to_str().map_err(|_| "bad Transfer-Encoding")?;
            // Chunked must be the final coding (§6.3 rule 4); it overrides Content-Length.
            return match te.rsplit(',').next().map(str::trim) {
                Some(c) if c.eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked(Chunk::Size)),
                _ => Err(format!("unsupported Transfer-Encoding {te}")),
            };
        }
        let mut length = None;
        for v in self.headers.get_all(hyper::header::CONTENT_LENGTH) {
            let n = v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or("bad Content-Length")?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length fields".into());
            }
            length = Some(n);
        }
        Ok(Framing::Length(length.unwrap_or(0)))
    }

    fn expects_continue(&self) -> bool {
        self.version == 1
            && self
                .headers
                .get(hyper::header::EXPECT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    }
}

/// The request body read straight off the connection.
struct RawBody<'a, IO> {
    io: &'a mut IO,
    buf: BytesMut,
    framing: Framing,
    expect_continue: bool,
    close_after: Option<u64>,
    delivered: u64,
    /// The next call reports the injected close.
    close_next: bool,
    finished: bool,
}

fn fault_closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "injected fault: close-after",
    )
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send> RawBody<'_, IO> {
    /// The next data chunk, `None` at the end of the body.
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        if self.finished {
            return None;
        }
        if self.close_next {
            self.finished = true;
            return Some(Err(fault_closed()));
        }
        let item = self.next_decoded().await;
        let Some(limit) = self.close_after else {
            if !matches!(item, Some(Ok(_))) {
                self.finished = true;
            }
            return item;
        };
        match item {
            Some(Ok(mut data)) => {
                let left = limit - self.delivered;
                if data.len() as u64 >= left {
                    data.truncate(left as usize);
                    self.close_next = true;
                }
                self.delivered += data.len() as u64;
                Some(Ok(data))
            }
            // With close-after, the body never ends well: a body shorter than N is still cut.
            _ => {
                self.finished = true;
                Some(Err(fault_closed()))
            }
        }
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.expect_continue {
            // RFC 9110 §10.1.1: the client waits for this before sending the body.
            self.expect_continue = false;
            self.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            self.io.flush().await?;
        }
        self.buf.reserve(64 * 1024);
        match self.io.read_buf(&mut self.buf).await? {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the end of the body",
            )),
            _ => Ok(()),
        }
    }

    /// Reads one CRLF-terminated line (without the CRLF).
    async fn line(&mut self) -> io::Result<Bytes> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf.split_to(i).freeze();
                self.buf.advance(2);
                return Ok(line);
            }
            if self.buf.len() > 8192 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "chunk line too long",
                ));
            }
            self.fill().await?;
        }
    }

    async fn next_decoded(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            match self.framing {
                Framing::Length(0) | Framing::Chunked(Chunk::Done) => return None,
                Framing::Length(n) => {
                    if self.buf.is_empty()
                        && let Err(e) = self.fill().await
                    {
                        return Some(Err(e));
                    }
                    let take = n.min(self.buf.len() as u64);
                    self.framing = Framing::Length(n - take);
                    return Some(Ok(self.buf.split_to(take as usize).freeze()));
                }
                Framing::Chunked(Chunk::Data(n)) => {
                    if self.buf.is_empty()
                        && let Err(e) = self.fill().await
                    {
                        return Some(Err(e));
                    }
                    let take = n.min(self.buf.len() as u64);
                    self.framing = Framing::Chunked(if take == n {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(n - take)
                    });
                    return Some(Ok(self.buf.split_to(take as usize).freeze()));
                }
                Framing::Chunked(state) => {
                    let line = match self.line().await {
                        Ok(l) => l,
                        Err(e) => return Some(Err(e)),
                    };
                    self.framing = Framing::Chunked(match state {
                        Chunk::Size => {
                            let size = line.split(|&b| b == b';').next().unwrap_or(b"");
                            let size = std::str::from_utf8(size)
                                .ok()
                                .and_then(|s| u64::from_str_radix(s.trim(), 16).ok());
                            match size {
                                Some(0) => Chunk::Trailers,
                                Some(n) => Chunk::Data(n),
                                None => {
                                    return Some(Err(io::Error::new(
                                        io::ErrorKind::InvalidData,
                                        "bad chunk size",
                                    )));
                                }
                            }
                        }
                        Chunk::DataEnd if line.is_empty() => Chunk::Size,
                        Chunk::DataEnd => {
                            return Some(Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "chunk data not followed by CRLF",
                            )));
                        }
                        Chunk::Trailers if line.is_empty() => Chunk::Done,
                        other => other,
                    });
                }
            }
        }
    }
}

/// Serves one request whose fault needs the raw writer, then closes the connection.
/// `buf` holds the request head (not yet consumed) and any bytes read after it.
pub async fn serve_one<IO>(
    mut io: IO,
    mut buf: BytesMut,
    head: RequestHead,
    path: &str,
    fault: &FaultSpec,
    shared: &Shared,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send,
{
    if fault.reject_early {
        let reply = Reply::json(
            401,
            &serde_json::json!({"retCode": api::AUTH_FAILED,
                "errMsg": "injected fault: rejected before reading the body"}),
        );
        let _ = write_reply(&mut io, &reply, fault).await;
        linger_close(io).await;
        return;
    }
    let framing = match head.framing() {
        Ok(f) => f,
        Err(msg) => return answer_and_close(io, 400, &msg).await,
    };
    buf.advance(head.len);
    let expect_continue = head.expects_continue();
    let outcome = {
        let body = RawBody {
            io: &mut io,
            buf,
            framing,
            expect_continue,
            close_after: fault.close_after,
            delivered: 0,
            close_next: false,
            finished: false,
        };
        let stream = futures_util::stream::unfold(body, |mut b| async move {
            let item = b.next().await?;
            Some((item, b))
        });
        let body = Box::pin(stream);
        api::handle(shared, &head.method, path, &head.headers, body, fault).await
    };
    match outcome {
        // Dropping the stream without close_notify or FIN-after-answer is the fault.
        api::Outcome::Drop => drop(io),
        api::Outcome::Reply(reply) => {
            if head.method == Method::HEAD {
                // RFC 9110 §9.3.2: the same head as GET, no content.
                let mut bytes = render(&reply, fault);
                let end = bytes
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map_or(0, |i| i + 4);
                bytes.truncate(end);
                let _ = write_bytes(&mut io, bytes, fault).await;
                return linger_close(io).await;
            }
            if write_reply(&mut io, &reply, fault).await.is_ok() {
                linger_close(io).await;
            }
        }
    }
}

/// Answers a protocol error with a JSON body and closes.
pub async fn answer_and_close<IO>(mut io: IO, status: u16, msg: &str)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let reply = Reply::json(
        status,
        &serde_json::json!({"retCode": api::PARSE_ERROR, "errMsg": msg}),
    );
    if write_reply(&mut io, &reply, &FaultSpec::default())
        .await
        .is_ok()
    {
        linger_close(io).await;
    }
}

/// The bytes of a response, framed as the fault asks.
pub fn render(reply: &Reply, fault: &FaultSpec) -> Vec<u8> {
    let reason = StatusCode::from_u16(reply.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = Vec::with_capacity(reply.body.len() + 256);
    if fault.http10 {
        // HTTP/1.0 with neither Content-Length nor chunked: the body ends when the
        // connection closes (RFC 9112 §6.3 rule 8).
        out.extend_from_slice(format!("HTTP/1.0 {} {reason}\r\n", reply.status).as_bytes());
        out.extend_from_slice(b"Content-Type: application/json\r\nServer: tpns-emulator\r\n\r\n");
        out.extend_from_slice(&reply.body);
        return out;
    }
    out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", reply.status).as_bytes());
    out.extend_from_slice(b"Content-Type: application/json\r\nServer: tpns-emulator\r\n");
    out.extend_from_slice(b"Connection: close\r\n");
    if fault.chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\nTrailer: X-Emulator-Trailer\r\n\r\n");
        // Small chunks, each with an extension (RFC 9112 §7.1.1), then a trailer (§7.1.2): a
        // client must skip both.
        for piece in reply.body.chunks(16) {
            out.extend_from_slice(format!("{:x};emulator=chunk\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0;emulator=last\r\nX-Emulator-Trailer: done\r\n\r\n");
    } else {
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", reply.body.len()).as_bytes());
        out.extend_from_slice(&reply.body);
    }
    out
}

/// Writes a response, one byte at a time with a pause under `slow`.
pub async fn write_reply<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    reply: &Reply,
    fault: &FaultSpec,
) -> io::Result<()> {
    write_bytes(io, render(reply, fault), fault).await
}

/// Writes bytes, one at a time with a pause under `slow`.
async fn write_bytes<IO: AsyncWrite + Unpin>(
    io: &mut IO,
    bytes: Vec<u8>,
    fault: &FaultSpec,
) -> io::Result<()> {
    match fault.slow {
        Some(pause) => {
            for b in bytes {
                io.write_all(&[b]).await?;
                io.flush().await?;
                tokio::time::sleep(pause).await;
            }
        }
        None => io.write_all(&bytes).await?,
    }
    io.flush().await
}

/// Closes the sending side (TLS close_notify, then FIN), then reads and discards what the
/// client still sends, so that closing with unread data does not reset the connection and
/// destroy the answer before the client reads it (RFC 9112 §9.6). A client that keeps
/// sending (a blocking client writing its whole body before reading) is read until it stops,
/// goes idle for [`LINGER`], or [`LINGER_MAX`] has passed.
pub async fn linger_close<IO: AsyncRead + AsyncWrite + Unpin>(mut io: IO) {
    let _ = io.shutdown().await;
    let start = tokio::time::Instant::now();
    // Small: hundreds of connections may linger at once.
    let mut sink = vec![0u8; 8 * 1024];
    while start.elapsed() < LINGER_MAX {
        match tokio::time::timeout(LINGER, io.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply() -> Reply {
        Reply {
            status: 200,
            body: br#"{"retCode":0,"errMsg":"","uploadId":1}"#.to_vec(),
        }
    }

    #[test]
    fn framings() {
        let plain = String::from_utf8(render(&reply(), &FaultSpec::default())).unwrap();
        assert!(plain.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(plain.contains("Content-Length: 38\r\n"));
        let f = FaultSpec::parse("http10").unwrap();
        let old = String::from_utf8(render(&reply(), &f)).unwrap();
        assert!(old.starts_with("HTTP/1.0 200 OK\r\n"));
        assert!(!old.contains("Content-Length") && old.ends_with("\"uploadId\":1}"));
        let f = FaultSpec::parse("chunked").unwrap();
        let ch = String::from_utf8(render(&reply(), &f)).unwrap();
        assert!(ch.contains("Transfer-Encoding: chunked\r\n"));
        assert!(ch.contains("\r\n\r\n10;emulator=chunk\r\n{\"retCode\":0,\"er\r\n"));
        assert!(ch.ends_with("\r\n0;emulator=last\r\nX-Emulator-Trailer: done\r\n\r\n"));
    }

    #[tokio::test]
    async fn chunked_request_bodies_are_decoded() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            client
                .write_all(b"4;x=y\r\nabcd\r\n3\r\nefg\r\n0\r\nT: 1\r\n\r\n")
                .await
                .unwrap();
            client
        });
        let mut body = RawBody {
            io: &mut server,
            buf: BytesMut::new(),
            framing: Framing::Chunked(Chunk::Size),
            expect_continue: false,
            close_after: None,
            delivered: 0,
            close_next: false,
            finished: false,
        };
        let mut got = Vec::new();
        while let Some(chunk) = body.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(got, b"abcdefg");
        drop(writer.await.unwrap());
    }

    #[tokio::test]
    async fn close_after_cuts_the_body() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(b"0123456789").await.unwrap();
        let mut body = RawBody {
            io: &mut server,
            buf: BytesMut::new(),
            framing: Framing::Length(10),
            expect_continue: false,
            close_after: Some(4),
            delivered: 0,
            close_next: false,
            finished: false,
        };
        assert_eq!(&body.next().await.unwrap().unwrap()[..], b"0123");
        assert!(body.next().await.unwrap().is_err());
        assert!(body.next().await.is_none());
    }
}
