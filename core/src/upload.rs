//! The blocking upload driver: one account package to `POST /v3/push/package/upload` over any
//! `embedded_io::{Read, Write}` byte stream, with one caller-provided buffer.
//!
//! The driver writes the request head, the part head and the package bytes through the one
//! buffer, so they leave in as few `write` calls as the buffer allows (the head and the first
//! package bytes together), and flushes once at the end. It then reads the response through the
//! same buffer with [`ResponseReader`] and [`JsonReader`], which keep no copy of the input.
//!
//! The protocol decisions that do not depend on how bytes move (what a response means) live in
//! [`Collector`], shared with any other driver (an async one, for instance).

use core::fmt;
use core::ops::ControlFlow;

use embedded_io::{Read, Write};

use crate::auth::Credentials;
use crate::endpoint::Endpoint;
use crate::json::{JsonError, JsonReader, Visitor};
use crate::text::Text;

mod fields;
pub(crate) use fields::first_time;
pub use fields::{ERR_MSG_CAP, UploadFields};

/// Capacity of the start of a non-JSON body kept for error messages, in bytes.
pub const BODY_TEXT_CAP: usize = 64;
use crate::multipart::{Body, BodyError, Boundary, Form};
use crate::request::{Authorization, ContentType, RequestError, RequestHead, UPLOAD_PATH};
use crate::response::{Event, Limits, ResponseError, ResponseReader};
use crate::sink::{Sink, Window, count};

/// What to upload and where.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// The service's base URL.
    pub endpoint: &'a Endpoint<'a>,
    /// The app's credentials (sent with HTTP Basic).
    pub credentials: Credentials<'a>,
    /// The package's file name as the service will see it (`.txt`, `.csv` or `.zip`).
    pub file_name: &'a str,
    /// The multipart boundary, made from at least 128 random bits.
    pub boundary: Boundary,
    /// Send `Expect: 100-continue` and wait for the server's go-ahead before the body, so a
    /// request the server refuses (bad credentials) costs no upload. Use it only with servers
    /// known to answer it: whether TPNS does is unconfirmed (its documentation does not say),
    /// and a blocking transport without a read timeout would wait.
    pub expect_continue: bool,
    /// Bounds on the response.
    pub limits: Limits,
}

/// How far the upload is, in package bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Progress {
    /// Package bytes handed to the transport so far.
    pub sent: u64,
    /// Package bytes in all.
    pub total: u64,
}

/// A successful upload's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UploadResponse {
    /// The package's id, for the push API: always positive.
    pub upload_id: u64,
    /// `retCode`: always 0 here.
    pub ret_code: i64,
    /// `errMsg` (usually empty).
    pub err_msg: Text<ERR_MSG_CAP>,
}

/// Why an upload failed.
///
/// `T` is the transport's error and `S` the package source's; both are kept as they were.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum UploadError<T, S> {
    /// A request value (host, path) could break the request's framing.
    Request(RequestError),
    /// The caller's buffer is empty.
    EmptyBuffer,
    /// Writing the request head failed.
    SendHead(T),
    /// Writing the body failed after `sent` package bytes.
    SendBody {
        /// Package bytes written before the failure.
        sent: u64,
        /// The transport's error.
        error: T,
    },
    /// The package source failed, or held fewer or more bytes than declared.
    Source(BodyError<S>),
    /// The progress callback cancelled the upload after `sent` package bytes.
    Cancelled {
        /// Package bytes written before the cancellation.
        sent: u64,
    },
    /// Reading the response failed.
    ReadResponse(T),
    /// The response is not valid HTTP/1.1, or exceeds the limits.
    Response(ResponseError),
    /// The response body is not the expected JSON.
    Json(JsonError),
    /// The JSON lacks a field, or the field is not usable (a non-positive `uploadId`, an
    /// empty `push_id`).
    MissingField {
        /// The field, as the API spells it.
        name: &'static str,
        /// The start of the body, as printable ASCII (anything else shown as `?`), so that
        /// the message shows what the server said instead.
        body: Text<BODY_TEXT_CAP>,
    },
    /// The server answered with a status other than 2xx.
    Status {
        /// The HTTP status.
        status: u16,
        /// `retCode` from the body, if it was JSON and had one.
        ret_code: Option<i64>,
        /// `errMsg` from the body, or the start of the body when it is not JSON.
        message: Text<ERR_MSG_CAP>,
    },
    /// The service refused the upload: `retCode` is not 0.
    Api {
        /// `retCode`, such as 1008003 for an authentication failure.
        ret_code: i64,
        /// `errMsg`.
        err_msg: Text<ERR_MSG_CAP>,
    },
}

impl<T, S> UploadError<T, S> {
    /// Whether a new attempt could succeed: a transport failure, a 502/503/504 or the rate
    /// limit (1008028). Authentication and validation failures are never transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::SendHead(_) | Self::SendBody { .. } | Self::ReadResponse(_) => true,
            Self::Response(e) => is_cut_short(e),
            Self::Status { status, .. } => is_transient_status(*status),
            Self::Api { ret_code, .. } => *ret_code == RATE_LIMITED,
            _ => false,
        }
    }

    /// Whether the service refused the credentials (`retCode` 1008003 or 10030002, or HTTP
    /// 401/403).
    pub fn is_auth_failure(&self) -> bool {
        match self {
            Self::Api { ret_code, .. } => is_auth_refusal(None, Some(*ret_code)),
            Self::Status {
                status, ret_code, ..
            } => is_auth_refusal(Some(*status), *ret_code),
            _ => false,
        }
    }

    /// Whether this is the rate limit ([`RATE_LIMITED`]), which asks for a pause.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            Self::Api { ret_code, .. } => *ret_code == RATE_LIMITED,
            Self::Status { ret_code, .. } => *ret_code == Some(RATE_LIMITED),
            _ => false,
        }
    }

    /// The same error with the package source's error mapped by `f`: for a push (`S` is
    /// [`Infallible`](core::convert::Infallible)), `|never| match never {}` gives an upload's
    /// error type, so one type can hold both.
    pub fn map_source<S2>(self, f: impl FnOnce(S) -> S2) -> UploadError<T, S2> {
        match self {
            Self::Source(e) => UploadError::Source(e.map_source(f)),
            Self::Request(e) => UploadError::Request(e),
            Self::EmptyBuffer => UploadError::EmptyBuffer,
            Self::SendHead(e) => UploadError::SendHead(e),
            Self::SendBody { sent, error } => UploadError::SendBody { sent, error },
            Self::Cancelled { sent } => UploadError::Cancelled { sent },
            Self::ReadResponse(e) => UploadError::ReadResponse(e),
            Self::Response(e) => UploadError::Response(e),
            Self::Json(e) => UploadError::Json(e),
            Self::MissingField { name, body } => UploadError::MissingField { name, body },
            Self::Status {
                status,
                ret_code,
                message,
            } => UploadError::Status {
                status,
                ret_code,
                message,
            },
            Self::Api { ret_code, err_msg } => UploadError::Api { ret_code, err_msg },
        }
    }
}

/// Whether an HTTP status is worth another attempt: 502, 503 or 504 (a gateway or the service
/// is briefly unavailable). The one place this policy is written; transports use it too.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 502..=504)
}

/// Whether an answer means the credentials were refused: HTTP 401/403, or a `retCode` of
/// [`AUTH_FAILURES`].
pub fn is_auth_refusal(status: Option<u16>, ret_code: Option<i64>) -> bool {
    status.is_some_and(|s| matches!(s, 401 | 403))
        || ret_code.is_some_and(|c| AUTH_FAILURES.contains(&c))
}

/// Whether a response error means the connection ended before the answer was complete (and
/// so a new attempt could succeed), rather than a malformed answer.
pub fn is_cut_short(error: &ResponseError) -> bool {
    matches!(
        error,
        ResponseError::IncompleteHead | ResponseError::IncompleteBody
    )
}

/// `retCode` for "request too fast".
pub const RATE_LIMITED: i64 = 1_008_028;
/// `retCode`s that mean the credentials were refused.
pub const AUTH_FAILURES: [i64; 2] = [1_008_003, 10_030_002];

impl<T: fmt::Display, S: fmt::Display> fmt::Display for UploadError<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(e) => write!(f, "invalid request: {e}"),
            Self::EmptyBuffer => f.write_str("the I/O buffer is empty"),
            Self::SendHead(e) => write!(f, "sending the request head failed: {e}"),
            Self::SendBody { sent, error } => {
                write!(f, "sending the package failed after {sent} bytes: {error}")
            }
            Self::Source(e) => write!(f, "{e}"),
            Self::Cancelled { sent } => write!(f, "upload cancelled after {sent} bytes"),
            Self::ReadResponse(e) => write!(f, "reading the response failed: {e}"),
            Self::Response(e) => write!(f, "bad response: {e}"),
            Self::Json(e) => write!(f, "bad response body: {e}"),
            Self::MissingField { name, body } => {
                write!(f, "the response has no valid `{name}` ")?;
                if body.is_empty() {
                    f.write_str("(empty body)")
                } else {
                    write!(f, "(body: {body})")
                }
            }
            Self::Status {
                status,
                ret_code,
                message,
            } => {
                write!(f, "HTTP status {status}")?;
                if let Some(code) = ret_code {
                    write!(f, ", retCode {code}")?;
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            Self::Api { ret_code, err_msg } => write!(f, "retCode {ret_code}: {err_msg}"),
        }
    }
}

impl<T: fmt::Debug + fmt::Display, S: fmt::Debug + fmt::Display> core::error::Error
    for UploadError<T, S>
{
}

/// A finished response: status, the visitor's fields and what went wrong with the body.
#[derive(Debug, Clone)]
pub struct Answer<V> {
    /// The HTTP status.
    pub status: u16,
    /// The fields the visitor collected.
    pub fields: V,
    /// The first JSON error, if the body was not valid JSON.
    pub json_error: Option<JsonError>,
    /// The start of the body as printable ASCII (`?` for anything else), for messages when
    /// the body is not JSON or lacks a usable field.
    pub text: Text<BODY_TEXT_CAP>,
}

/// What [`Collector::feed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Feed more bytes.
    NeedMore,
    /// The server sent `100 Continue` and nothing after it: go on with the body.
    Continue,
    /// The response is complete: call [`Collector::finish`].
    Complete,
}

/// Turns response bytes into an [`Answer`]: HTTP framing, then JSON fields, with no I/O of its
/// own. Every driver (blocking, async) feeds it what it reads.
#[derive(Debug, Clone)]
pub struct Collector<V> {
    reader: ResponseReader,
    json: JsonReader,
    fields: V,
    json_error: Option<JsonError>,
    text: Text<BODY_TEXT_CAP>,
    status: Option<u16>,
}

impl<V: Visitor> Collector<V> {
    /// A collector with these limits, filling `fields`.
    pub fn new(limits: Limits, fields: V) -> Self {
        Collector {
            reader: ResponseReader::new(limits),
            json: JsonReader::new(),
            fields,
            json_error: None,
            text: Text::default(),
            status: None,
        }
    }

    /// Feeds bytes read from the connection.
    ///
    /// # Errors
    ///
    /// [`ResponseError`] when the HTTP framing is broken or over the limits.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<Step, ResponseError> {
        let mut continued = false;
        loop {
            let (used, event) = self.reader.parse(input)?;
            input = &input[used..];
            match event {
                Event::NeedMore => {
                    return Ok(if continued && input.is_empty() {
                        Step::Continue
                    } else {
                        Step::NeedMore
                    });
                }
                Event::Interim { status } => continued |= status == 100,
                Event::Head(head) => self.status = Some(head.status),
                Event::Body(bytes) => self.body(bytes),
                Event::End => return Ok(Step::Complete),
            }
        }
    }

    /// Tells the collector the connection was closed.
    ///
    /// # Errors
    ///
    /// [`ResponseError`] when that cut the response short.
    pub fn close(&mut self) -> Result<Step, ResponseError> {
        self.reader.finish().map(|_| Step::Complete)
    }

    fn body(&mut self, bytes: &[u8]) {
        // The start of every body is kept, for messages: a non-JSON error body is a proxy's or
        // server's page, and a 200 without a usable id is shown as it was. Only printable
        // ASCII is kept, anything else marked with `?` (JSON `errMsg`s are decoded properly,
        // by the JSON reader), so no escape sequence reaches a terminal. No UTF-8 decoding
        // here keeps its tables out of device firmware.
        if !self.text.is_truncated() {
            for &b in bytes {
                if self.text.is_truncated() {
                    break;
                }
                self.text.push(match b {
                    b' '..=b'~' => char::from(b),
                    b'\t' | b'\r' | b'\n' => ' ',
                    _ => '?',
                });
            }
        }
        if self.json_error.is_none()
            && let Err(e) = self.json.feed(bytes, &mut self.fields)
        {
            self.json_error = Some(e);
        }
    }

    /// The answer, once [`Step::Complete`] was reported.
    ///
    /// # Errors
    ///
    /// [`ResponseError::IncompleteHead`] if no final response head was read.
    pub fn finish(self) -> Result<Answer<V>, ResponseError> {
        let status = self.status.ok_or(ResponseError::IncompleteHead)?;
        let json_error = self.json_error.or_else(|| self.json.finish().err());
        Ok(Answer {
            status,
            fields: self.fields,
            json_error,
            text: self.text,
        })
    }
}

impl Answer<UploadFields> {
    /// What an upload response means: success, or which kind of failure.
    ///
    /// # Errors
    ///
    /// [`UploadError::Status`] for non-2xx, [`UploadError::Json`] for a body that is not JSON,
    /// [`UploadError::Api`] for a non-zero `retCode`, [`UploadError::MissingField`] (with the
    /// start of the body) when `retCode` or a positive `uploadId` is missing.
    pub fn into_result<T, S>(self) -> Result<UploadResponse, UploadError<T, S>> {
        let f = self.fields;
        let ret_code = checked(
            self.status,
            self.json_error,
            &self.text,
            (f.ret_code, &f.err_msg),
            "retCode",
        )?;
        let upload_id = f
            .upload_id
            .and_then(|id| u64::try_from(id).ok())
            .filter(|&id| id > 0)
            .ok_or(UploadError::MissingField {
                name: "uploadId",
                body: self.text,
            })?;
        Ok(UploadResponse {
            upload_id,
            ret_code,
            err_msg: f.err_msg,
        })
    }
}

/// The bytes of an upload request, head then body, as one pull source.
///
/// Both drivers (blocking and async) fill their buffer from it and differ only in how they
/// move the bytes. The head is produced through a [`Window`] over [`RequestHead::emit`], so
/// any buffer size works; with `Expect: 100-continue` the body is held back until
/// [`UploadBytes::release_body`].
#[derive(Debug)]
pub struct UploadBytes<'a, R> {
    head: RequestHead<'a>,
    head_len: u64,
    head_at: u64,
    body: Body<'a, R>,
    hold_body: bool,
    file_len: u64,
}

impl<'a, R: Read> UploadBytes<'a, R> {
    /// The request for `job`, sending `file_len` bytes from `source`.
    ///
    /// # Errors
    ///
    /// [`RequestError`] when a value would break the request's framing.
    pub fn new(job: &'a Upload<'a>, source: R, file_len: u64) -> Result<Self, RequestError> {
        let form = Form {
            boundary: &job.boundary,
            file_name: job.file_name,
        };
        let body = Body::new(form, source, file_len);
        let head = RequestHead {
            endpoint: job.endpoint,
            path: UPLOAD_PATH,
            authorization: Authorization::Basic(job.credentials),
            content_type: ContentType::Multipart(&job.boundary),
            content_length: body.len(),
            expect_continue: job.expect_continue,
        };
        head.check()?;
        Ok(UploadBytes {
            head_len: count(|c| head.emit(c)),
            head,
            head_at: 0,
            body,
            hold_body: job.expect_continue,
            file_len,
        })
    }

    /// Length of the request head.
    pub fn head_len(&self) -> u64 {
        self.head_len
    }

    /// Length of the whole request, head and body.
    pub fn len(&self) -> u64 {
        self.head_len + self.body.len()
    }

    /// Whether the request is empty (never).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Lets the body follow the head (after `100 Continue`).
    pub fn release_body(&mut self) {
        self.hold_body = false;
    }

    /// Fills `buf` with the next request bytes and returns how many; `0` means the request is
    /// complete (or the body is held back and the head is out).
    ///
    /// # Errors
    ///
    /// [`BodyError`] from the package source.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<usize, BodyError<R::Error>> {
        let mut n = 0;
        if self.head_at < self.head_len {
            let mut window = Window::new(self.head_at, buf);
            let Ok(()) = self.head.emit(&mut window);
            n = window.filled();
            self.head_at += n as u64;
        }
        if self.head_at == self.head_len && !self.hold_body {
            n += self.body.fill(&mut buf[n..])?;
        }
        Ok(n)
    }

    /// Upload progress once the first `written` request bytes have been sent.
    pub fn progress(&self, written: u64) -> Progress {
        let file_start = self.head_len + self.body.head_len();
        Progress {
            sent: written.saturating_sub(file_start).min(self.file_len),
            total: self.file_len,
        }
    }
}

/// The checks every API answer goes through, in order: a 2xx status (else
/// [`UploadError::Status`] with the best message available), valid JSON (duplicate wanted keys
/// included), a `retCode` of 0 (else [`UploadError::Api`]). Returns the `retCode` (0).
pub(crate) fn checked<T, S>(
    status: u16,
    json_error: Option<JsonError>,
    text: &Text<BODY_TEXT_CAP>,
    (ret_code, err_msg): (Option<i64>, &Text<ERR_MSG_CAP>),
    ret_code_name: &'static str,
) -> Result<i64, UploadError<T, S>> {
    if !(200..300).contains(&status) {
        let message = match json_error {
            None if !err_msg.is_empty() => *err_msg,
            _ => text.resized(),
        };
        return Err(UploadError::Status {
            status,
            ret_code: ret_code.filter(|_| json_error.is_none()),
            message,
        });
    }
    if let Some(e) = json_error {
        return Err(UploadError::Json(e));
    }
    match ret_code {
        None => Err(UploadError::MissingField {
            name: ret_code_name,
            body: *text,
        }),
        Some(0) => Ok(0),
        Some(ret_code) => Err(UploadError::Api {
            ret_code,
            err_msg: *err_msg,
        }),
    }
}

/// `write_all` that adds every byte the transport accepts to `written` as it goes, so that a
/// failure's phase (head or body) and byte offset are exact even after partial writes.
///
/// # Panics
///
/// If the transport breaks the `embedded_io::Write` contract by returning `Ok(0)` for a
/// non-empty buffer, as `embedded_io`'s own `write_all` does.
pub(crate) fn write_counted<T: Write>(
    transport: &mut T,
    mut bytes: &[u8],
    written: &mut u64,
) -> Result<(), T::Error> {
    while !bytes.is_empty() {
        let n = transport.write(bytes)?;
        assert!(n > 0, "write() returned Ok(0)");
        *written += n as u64;
        bytes = &bytes[n..];
    }
    Ok(())
}

/// The caller's buffer as an output queue in front of the transport.
pub(crate) struct Outbox<'b, 't, T> {
    pub(crate) buf: &'b mut [u8],
    len: usize,
    pub(crate) transport: &'t mut T,
    written: u64,
}

impl<'b, 't, T: Write> Outbox<'b, 't, T> {
    pub(crate) fn new(buf: &'b mut [u8], transport: &'t mut T) -> Self {
        Outbox {
            buf,
            len: 0,
            transport,
            written: 0,
        }
    }

    /// Bytes handed to the transport so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Writes out what is queued.
    pub(crate) fn drain(&mut self) -> Result<(), T::Error> {
        let queued = core::mem::take(&mut self.len);
        write_counted(self.transport, &self.buf[..queued], &mut self.written)
    }
}

impl<T: Write> Sink for Outbox<'_, '_, T> {
    type Error = T::Error;

    fn put(&mut self, mut bytes: &[u8]) -> Result<(), T::Error> {
        while !bytes.is_empty() {
            if self.len == self.buf.len() {
                self.drain()?;
            }
            let n = (self.buf.len() - self.len).min(bytes.len());
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

/// Reads from `transport` into `buf` and feeds `collector` until it reports something other
/// than [`Step::NeedMore`].
pub(crate) fn read_step<T: Read, S, V: Visitor>(
    transport: &mut T,
    buf: &mut [u8],
    collector: &mut Collector<V>,
) -> Result<Step, UploadError<T::Error, S>> {
    loop {
        let n = transport.read(buf).map_err(UploadError::ReadResponse)?;
        let step = if n == 0 {
            collector.close()
        } else {
            collector.feed(&buf[..n])
        }
        .map_err(UploadError::Response)?;
        if step != Step::NeedMore {
            return Ok(step);
        }
    }
}

/// Reads the rest of a response into an answer.
pub(crate) fn read_answer<T: Read, S, V: Visitor>(
    transport: &mut T,
    buf: &mut [u8],
    mut collector: Collector<V>,
) -> Result<Answer<V>, UploadError<T::Error, S>> {
    while read_step(transport, buf, &mut collector)? != Step::Complete {}
    collector.finish().map_err(UploadError::Response)
}

/// Uploads `file_len` bytes read from `source` as the package `job.file_name`.
///
/// `buf` is the only buffer used for sending and receiving; any size works, larger is faster
/// (64 bytes is enough; 4 KiB or more keeps system calls few). `progress` is called after each
/// write with the package bytes sent so far; returning [`ControlFlow::Break`] cancels.
///
/// The package is not validated here: check it first with [`crate::package`]. The connection
/// is not reused afterwards: close it.
///
/// # Errors
///
/// [`UploadError`] says which phase failed and keeps the transport's or source's error. If the
/// server answers before the whole body was sent (a 401 before reading the body) and the write
/// then fails, the server's answer is reported rather than the broken pipe.
///
/// # Examples
///
/// See the crate documentation for a whole upload over a `std::net::TcpStream`; on a device
/// the transport is a TLS connection over the TCP stack, and the source a flash region:
///
/// ```
/// # use core::ops::ControlFlow;
/// # use tpns_core::{auth::Credentials, endpoint::Endpoint, multipart::Boundary, response::Limits};
/// # use tpns_core::upload::{upload, Upload};
/// # struct Loopback<'a>(&'a [u8], usize);
/// # impl embedded_io::ErrorType for Loopback<'_> { type Error = embedded_io::ErrorKind; }
/// # impl embedded_io::Read for Loopback<'_> {
/// #     fn read(&mut self, b: &mut [u8]) -> Result<usize, Self::Error> {
/// #         let n = b.len().min(self.0.len() - self.1);
/// #         b[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
/// #         self.1 += n;
/// #         Ok(n)
/// #     }
/// # }
/// # impl embedded_io::Write for Loopback<'_> {
/// #     fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { Ok(b.len()) }
/// #     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// # let mut socket = Loopback(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"retCode\":0,\"errMsg\":\"\",\"uploadId\":123}", 0);
/// static PACKAGE: &[u8] = b"device-0001\ndevice-0002\n"; // in flash
/// let endpoint = Endpoint::parse("https://api.tpns.tencent.com/").unwrap();
/// let job = Upload {
///     endpoint: &endpoint,
///     credentials: Credentials::new("1500001048", "secret").unwrap(),
///     file_name: "devices.txt",
///     boundary: Boundary::from_random([0x5a; 16]), // use the TRNG
///     expect_continue: false,
///     limits: Limits::default(),
/// };
/// let mut buf = [0u8; 512];
/// let answer = upload(&mut socket, &job, PACKAGE, PACKAGE.len() as u64, &mut buf, |_| {
///     ControlFlow::Continue(())
/// })
/// .unwrap();
/// assert_eq!(answer.upload_id, 123);
/// ```
pub fn upload<T, R, F>(
    transport: &mut T,
    job: &Upload<'_>,
    source: R,
    file_len: u64,
    buf: &mut [u8],
    mut progress: F,
) -> Result<UploadResponse, UploadError<T::Error, R::Error>>
where
    T: Read + Write,
    R: Read,
    F: FnMut(Progress) -> ControlFlow<()>,
{
    let mut request = UploadBytes::new(job, source, file_len).map_err(UploadError::Request)?;
    if buf.is_empty() {
        return Err(UploadError::EmptyBuffer);
    }
    let mut collector = Collector::new(job.limits, UploadFields::default());
    let mut written = 0u64;
    let mut len = 0;

    if job.expect_continue {
        // Head only, then wait for the go-ahead (RFC 9110 §10.1.1).
        loop {
            let n = request.fill(&mut buf[len..]).map_err(UploadError::Source)?;
            len += n;
            if len == buf.len() || n == 0 {
                let sent = write_counted(transport, &buf[..len], &mut written);
                let flushed = sent.and_then(|()| if n == 0 { transport.flush() } else { Ok(()) });
                if let Err(error) = flushed {
                    return Err(early_answer_or(
                        transport,
                        buf,
                        collector,
                        (false, 0),
                        error,
                    ));
                }
                len = 0;
            }
            if n == 0 {
                break;
            }
        }
        match read_step(transport, buf, &mut collector)? {
            Step::Continue => request.release_body(),
            // The server answered at once (e.g. 401): the body is not sent.
            _ => {
                return collector
                    .finish()
                    .map_err(UploadError::Response)?
                    .into_result();
            }
        }
    }

    if progress(request.progress(written)).is_break() {
        return Err(UploadError::Cancelled { sent: 0 });
    }
    loop {
        let n = request.fill(&mut buf[len..]).map_err(UploadError::Source)?;
        len += n;
        let done = n == 0;
        if len == buf.len() || (done && len > 0) {
            if let Err(error) = write_counted(transport, &buf[..len], &mut written) {
                let at = (
                    written >= request.head_len(),
                    request.progress(written).sent,
                );
                return Err(early_answer_or(transport, buf, collector, at, error));
            }
            len = 0;
            let p = request.progress(written);
            if progress(p).is_break() {
                return Err(UploadError::Cancelled { sent: p.sent });
            }
        }
        if done {
            break;
        }
    }
    if let Err(error) = transport.flush() {
        let at = (true, request.progress(written).sent);
        return Err(early_answer_or(transport, buf, collector, at, error));
    }
    read_answer(transport, buf, collector)?.into_result()
}

/// After a failed write, a server that answered early (and closed) has its answer waiting:
/// report that rather than the broken pipe. Otherwise report the write error.
///
/// `head_sent` tells whether the request head had been written completely: the buffer
/// coalesces the head's last bytes with the first package bytes, so a failed write may hold
/// both, and then the head is what failed.
pub(crate) fn early_answer_or<T: Read + Write, S>(
    transport: &mut T,
    buf: &mut [u8],
    collector: Collector<UploadFields>,
    (head_sent, sent): (bool, u64),
    error: T::Error,
) -> UploadError<T::Error, S> {
    match read_answer::<T, S, _>(transport, buf, collector).map(Answer::<UploadFields>::into_result)
    {
        Ok(Err(answered)) => answered,
        // A success after a failed write would be a server bug; the write error is the truth.
        Ok(Ok(_)) | Err(_) if !head_sent => UploadError::SendHead(error),
        Ok(Ok(_)) | Err(_) => UploadError::SendBody { sent, error },
    }
}
