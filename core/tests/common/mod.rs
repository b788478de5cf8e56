//! A scripted transport for driving the upload path without a network.

#![allow(dead_code)]

use std::fmt;

/// The error the scripted transport fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockError(pub &'static str);

impl fmt::Display for MockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for MockError {}

impl embedded_io::Error for MockError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::BrokenPipe
    }
}

/// The upload job every scripted upload sends: the test app, `accounts.txt`, a fixed boundary.
pub fn job<'a>(
    endpoint: &'a tpns_core::endpoint::Endpoint<'a>,
    expect_continue: bool,
) -> tpns_core::upload::Upload<'a> {
    tpns_core::upload::Upload {
        endpoint,
        credentials: tpns_core::auth::Credentials::new(
            "1500001048",
            "1452fcebae9f3115ba794fb0fff2fd73",
        )
        .unwrap(),
        file_name: "accounts.txt",
        boundary: tpns_core::multipart::Boundary::from_random([0x42; 16]),
        expect_continue,
        limits: tpns_core::response::Limits::default(),
    }
}

/// A push of `request` to `endpoint` with Basic authentication as `(id, secret)`.
pub fn basic_push<'a>(
    endpoint: &'a tpns_core::endpoint::Endpoint<'a>,
    app: (&'a str, &'a str),
    request: tpns_core::push::PushRequest<'a>,
) -> tpns_core::push::Push<'a> {
    tpns_core::push::Push {
        endpoint,
        auth: tpns_core::push::PushAuth::Basic(
            tpns_core::auth::Credentials::new(app.0, app.1).unwrap(),
        ),
        request,
        limits: tpns_core::response::Limits::default(),
    }
}

/// Where the request head in `written` ends: the length of the head, blank line included.
pub fn head_end(written: &[u8]) -> usize {
    written.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4
}

/// A transport that serves a canned response and records what is written, with short reads
/// and writes and failures at chosen byte offsets.
#[derive(Debug, Default)]
pub struct Script {
    pub response: Vec<u8>,
    pub read_at: usize,
    /// Most bytes returned by one read (0 = unlimited).
    pub read_chunk: usize,
    /// Most bytes accepted by one write (0 = unlimited).
    pub write_chunk: usize,
    pub written: Vec<u8>,
    /// Number of `write` calls.
    pub writes: usize,
    pub flushes: usize,
    /// Fail the write that would go past this many bytes.
    pub fail_write_at: Option<usize>,
    /// Fail reads once this many response bytes were read.
    pub fail_read_at: Option<usize>,
    /// Serve the response only after this many bytes were written (like a server that waits
    /// for the body); before that, reads see `100 Continue` handling done by the test.
    pub reads: usize,
}

impl Script {
    pub fn new(response: &[u8]) -> Self {
        Script {
            response: response.to_vec(),
            ..Script::default()
        }
    }
}

impl embedded_io::ErrorType for Script {
    type Error = MockError;
}

impl embedded_io::Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, MockError> {
        self.reads += 1;
        if self.fail_read_at.is_some_and(|at| self.read_at >= at) {
            return Err(MockError("read failed"));
        }
        let mut n = (self.response.len() - self.read_at).min(buf.len());
        if self.read_chunk > 0 {
            n = n.min(self.read_chunk);
        }
        if let Some(at) = self.fail_read_at {
            n = n.min(at - self.read_at);
        }
        buf[..n].copy_from_slice(&self.response[self.read_at..self.read_at + n]);
        self.read_at += n;
        Ok(n)
    }
}

impl embedded_io::Write for Script {
    fn write(&mut self, buf: &[u8]) -> Result<usize, MockError> {
        self.writes += 1;
        let mut n = buf.len();
        if self.write_chunk > 0 {
            n = n.min(self.write_chunk);
        }
        if let Some(at) = self.fail_write_at
            && self.written.len() + n > at
        {
            let room = at - self.written.len();
            if room == 0 {
                return Err(MockError("write failed"));
            }
            n = room;
        }
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), MockError> {
        self.flushes += 1;
        Ok(())
    }
}

/// A 200 response with the given JSON body.
pub fn ok_response(json: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    )
    .into_bytes()
}

#[cfg(feature = "async")]
impl embedded_io_async::Read for Script {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, MockError> {
        embedded_io::Read::read(self, buf)
    }
}

#[cfg(feature = "async")]
impl embedded_io_async::Write for Script {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, MockError> {
        embedded_io::Write::write(self, buf)
    }

    async fn flush(&mut self) -> Result<(), MockError> {
        embedded_io::Write::flush(self)
    }
}

/// Runs a future that never waits on anything but a ready transport.
pub fn block_on<F: core::future::Future>(future: F) -> F::Output {
    let mut future = core::pin::pin!(future);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    loop {
        if let core::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
