//! Uploading one account package to `POST /v3/push/package/upload`: the job ([`Upload`]), the
//! request's bytes ([`UploadBytes`]), the answer's fields ([`UploadFields`]) and the blocking
//! driver ([`upload`]); `upload_async` (feature `async`) is its async twin.
//!
//! Both drivers run the one [`Exchange`] state machine: the request
//! head, the part head and the package bytes go through the caller's one buffer, so they leave
//! in as few `write` calls as the buffer allows, and the response is read through the same
//! buffer with no copy of the input. Only the moving of bytes differs between them.

use core::fmt;
use core::ops::ControlFlow;

use embedded_io::Read;

use crate::auth::Credentials;
use crate::endpoint::Endpoint;
use crate::exchange::{self, Answer, Exchange, ExchangeError, Outgoing, Reply, Stopped};
use crate::multipart::{Body, BodyError, Boundary, Form};
use crate::request::{Authorization, ContentType, RequestError, RequestHead, UPLOAD_PATH};
use crate::response::Limits;
use crate::sink::{Window, count};
use crate::text::Text;

mod fields;
pub(crate) use fields::first_time;
pub use fields::{ERR_MSG_CAP, UploadFields};

#[cfg(doc)]
use crate::exchange::RATE_LIMITED;

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

/// Why an upload failed: the exchange, the package source, or the progress callback.
///
/// `T` is the transport's error and `S` the package source's; both are kept as they were.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum UploadError<T, S> {
    /// The HTTP exchange failed, by phase ([`ExchangeError`]).
    Exchange(ExchangeError<T>),
    /// The package source failed, or held fewer or more bytes than declared.
    Source(BodyError<S>),
    /// The progress callback cancelled the upload after `sent` package bytes.
    Cancelled {
        /// Package bytes written before the cancellation.
        sent: u64,
    },
}

impl<T, S> UploadError<T, S> {
    /// Whether a new attempt could succeed ([`ExchangeError::is_transient`]): a transport
    /// failure, a 502/503/504 or the rate limit (1008028). Authentication and validation
    /// failures, the source's errors and cancellation are never transient.
    pub fn is_transient(&self) -> bool {
        self.exchange().is_some_and(ExchangeError::is_transient)
    }

    crate::exchange::wrapped_queries!(Self::Exchange(error) => error);

    /// The same error with the package source's error mapped by `f`.
    pub fn map_source<S2>(self, f: impl FnOnce(S) -> S2) -> UploadError<T, S2> {
        match self {
            Self::Exchange(e) => UploadError::Exchange(e),
            Self::Source(e) => UploadError::Source(e.map_source(f)),
            Self::Cancelled { sent } => UploadError::Cancelled { sent },
        }
    }
}

impl<T, S> From<ExchangeError<T>> for UploadError<T, S> {
    fn from(e: ExchangeError<T>) -> Self {
        UploadError::Exchange(e)
    }
}

impl<T, S> From<Stopped<T, BodyError<S>, ()>> for UploadError<T, S> {
    fn from(stopped: Stopped<T, BodyError<S>, ()>) -> Self {
        match stopped {
            Stopped::Exchange(e) => UploadError::Exchange(e),
            Stopped::Source(e) => UploadError::Source(e),
            Stopped::Cancelled { sent, reason: () } => UploadError::Cancelled { sent },
        }
    }
}

impl<T: fmt::Display, S: fmt::Display> fmt::Display for UploadError<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exchange(e) => fmt::Display::fmt(e, f),
            Self::Source(e) => write!(f, "{e}"),
            Self::Cancelled { sent } => write!(f, "upload cancelled after {sent} bytes"),
        }
    }
}

impl<T: fmt::Debug + fmt::Display, S: fmt::Debug + fmt::Display> core::error::Error
    for UploadError<T, S>
{
}

impl Reply for UploadFields {
    type Response = UploadResponse;

    /// Success, or which kind of failure: [`ExchangeError::Status`] for non-2xx,
    /// [`ExchangeError::Json`] for a body that is not JSON, [`ExchangeError::Api`] for a
    /// non-zero `retCode`, [`ExchangeError::MissingField`] (with the start of the body) when
    /// `retCode` or a positive `uploadId` is missing.
    fn interpret<T>(answer: Answer<Self>) -> Result<UploadResponse, ExchangeError<T>> {
        let f = &answer.fields;
        let ret_code = answer.checked((f.ret_code, &f.err_msg), "retCode")?;
        let upload_id = f
            .upload_id
            .and_then(|id| u64::try_from(id).ok())
            .filter(|&id| id > 0)
            .ok_or(ExchangeError::MissingField {
                name: "uploadId",
                body: answer.text,
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

impl<R: Read> Outgoing for UploadBytes<'_, R> {
    type Error = BodyError<R::Error>;

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        UploadBytes::fill(self, buf)
    }

    fn head_len(&self) -> u64 {
        self.head_len
    }

    fn release_body(&mut self) {
        self.hold_body = false;
    }

    fn progress(&self, written: u64) -> Progress {
        UploadBytes::progress(self, written)
    }
}

/// Defines an upload driver from one text: the blocking [`upload`] here over `embedded_io`,
/// and `upload_async::upload` over `embedded_io_async` (feature `async`), which awaits the
/// exchange. The package source is a blocking `embedded_io::Read` for both: flash and SD-card
/// drivers on microcontrollers are synchronous, and their reads are short.
macro_rules! upload_driver {
    ($(#[$attr:meta])* $run:path, $io:ident $(, $async:tt $await:tt)?) => {
        $(#[$attr])*
        pub $($async)? fn upload<T, R, F>(
            transport: &mut T,
            job: &Upload<'_>,
            source: R,
            file_len: u64,
            buf: &mut [u8],
            progress: F,
        ) -> Result<UploadResponse, UploadError<T::Error, R::Error>>
        where
            T: $io::Read + $io::Write,
            R: embedded_io::Read,
            F: FnMut(Progress) -> ControlFlow<()>,
        {
            let exchange = upload_exchange(job, source, file_len, buf, progress)?;
            $run(transport, exchange)$(.$await)?.map_err(UploadError::from)
        }
    };
}
#[cfg(feature = "async")]
pub(crate) use upload_driver;

upload_driver!(
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
    exchange::run,
    embedded_io
);

/// The exchange of an upload, for either driver.
pub(crate) fn upload_exchange<'b, R: Read, P, T>(
    job: &'b Upload<'b>,
    source: R,
    file_len: u64,
    buf: &'b mut [u8],
    progress: P,
) -> Result<UploadExchange<'b, R, P, T>, UploadError<T, R::Error>>
where
    P: FnMut(Progress) -> ControlFlow<()>,
{
    let request = UploadBytes::new(job, source, file_len).map_err(ExchangeError::Request)?;
    Ok(Exchange::new(
        buf,
        request,
        job.limits,
        job.expect_continue,
        progress,
    ))
}

/// The exchange [`upload_exchange`] makes.
pub(crate) type UploadExchange<'b, R, P, T> =
    Exchange<'b, UploadBytes<'b, R>, UploadFields, P, T, ()>;
