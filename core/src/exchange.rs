//! One HTTP exchange, written once: a request goes out, a response comes back, and the answer
//! means something. Upload and push both run on it, blocking and async.
//!
//! [`Exchange`] is a state machine with no I/O of its own, in the manner of quinn-proto or
//! rustls's unbuffered API: [`Exchange::next_action`] says what to do next ([`Action`]: write these
//! bytes, flush, read into this buffer, or done), the driver does it and hands the result
//! back. The drivers, [`run`] (blocking) and `run_async` (feature `async`), are a dozen lines
//! each, and every decision lives here once:
//!
//! - the request head and body leave through the caller's one buffer, filled to the brim
//!   before each write, so the head and the first body bytes go together;
//! - with `Expect: 100-continue`, the body waits for the server's go-ahead, and an immediate
//!   answer (a 401) ends the exchange with no body sent;
//! - progress is reported after each write, and the callback may cancel;
//! - when a write fails, a server that answered early (and closed) has its answer waiting: that
//!   answer is reported rather than the broken pipe;
//! - the response is read through the same buffer by [`Collector`], and [`Reply::interpret`]
//!   says what the answer means.
//!
//! [`ExchangeError`] is what can go wrong in any exchange; upload and push errors wrap it.

use core::fmt;
use core::ops::ControlFlow;

use crate::json::{JsonError, JsonReader, Visitor};
use crate::request::RequestError;
use crate::response::{Event, Limits, ResponseError, ResponseReader};
use crate::text::Text;
use crate::upload::{ERR_MSG_CAP, Progress};

/// Capacity of the start of a non-JSON body kept for error messages, in bytes.
pub const BODY_TEXT_CAP: usize = 64;

/// `retCode` for "request too fast".
pub const RATE_LIMITED: i64 = 1_008_028;
/// `retCode`s that mean the credentials were refused.
pub const AUTH_FAILURES: [i64; 2] = [1_008_003, 10_030_002];

/// Why an exchange failed, by phase. `T` is the transport's error, kept as it was.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ExchangeError<T> {
    /// A request value (host, path) could break the request's framing.
    Request(RequestError),
    /// The caller's buffer is empty.
    EmptyBuffer,
    /// Writing the request head failed.
    SendHead(T),
    /// Writing the body failed after `sent` bytes of it (package bytes for an upload, JSON
    /// bytes for a push).
    SendBody {
        /// Body bytes written before the failure.
        sent: u64,
        /// The transport's error.
        error: T,
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
    /// The service refused the request: `retCode` is not 0.
    Api {
        /// `retCode`, such as 1008003 for an authentication failure.
        ret_code: i64,
        /// `errMsg`.
        err_msg: Text<ERR_MSG_CAP>,
    },
}

impl<T> ExchangeError<T> {
    /// Whether a new attempt could succeed: a transport failure, a response cut short, a
    /// 502/503/504 or the rate limit (1008028). Authentication and validation failures are
    /// never transient. Whether a retry is *safe* is the caller's question: a push says so
    /// with `may_have_been_sent`.
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

    /// The service's `retCode`, when it gave one.
    pub fn ret_code(&self) -> Option<i64> {
        match self {
            Self::Api { ret_code, .. } => Some(*ret_code),
            Self::Status { ret_code, .. } => *ret_code,
            _ => None,
        }
    }

    /// The transport's error, when the transport failed.
    pub fn transport(&self) -> Option<&T> {
        match self {
            Self::SendHead(e) | Self::SendBody { error: e, .. } | Self::ReadResponse(e) => Some(e),
            _ => None,
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

impl<T: fmt::Display> fmt::Display for ExchangeError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(e) => write!(f, "invalid request: {e}"),
            Self::EmptyBuffer => f.write_str("the I/O buffer is empty"),
            Self::SendHead(e) => write!(f, "sending the request head failed: {e}"),
            Self::SendBody { sent, error } => {
                write!(f, "sending the body failed after {sent} bytes: {error}")
            }
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

impl<T: fmt::Debug + fmt::Display> core::error::Error for ExchangeError<T> {}

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

impl<V> Answer<V> {
    /// The checks every API answer goes through, in order: a 2xx status (else
    /// [`ExchangeError::Status`] with the best message available), valid JSON (duplicate
    /// wanted keys included), a `retCode` of 0 (else [`ExchangeError::Api`]). `ret_code` and
    /// `err_msg` are the fields as the visitor found them; `ret_code_name` names the field in
    /// the error when it is missing. Returns the `retCode` (0).
    ///
    /// # Errors
    ///
    /// As above.
    pub fn checked<T>(
        &self,
        (ret_code, err_msg): (Option<i64>, &Text<ERR_MSG_CAP>),
        ret_code_name: &'static str,
    ) -> Result<i64, ExchangeError<T>> {
        if !(200..300).contains(&self.status) {
            let message = match self.json_error {
                None if !err_msg.is_empty() => *err_msg,
                _ => self.text.resized(),
            };
            return Err(ExchangeError::Status {
                status: self.status,
                ret_code: ret_code.filter(|_| self.json_error.is_none()),
                message,
            });
        }
        if let Some(e) = self.json_error {
            return Err(ExchangeError::Json(e));
        }
        match ret_code {
            None => Err(ExchangeError::MissingField {
                name: ret_code_name,
                body: self.text,
            }),
            Some(0) => Ok(0),
            Some(ret_code) => Err(ExchangeError::Api {
                ret_code,
                err_msg: *err_msg,
            }),
        }
    }
}

/// The fields of one API's answer, and what they mean.
pub trait Reply: Visitor + Default {
    /// A successful answer.
    type Response;

    /// Success, or which kind of failure the answer is.
    ///
    /// # Errors
    ///
    /// [`ExchangeError::Status`], [`ExchangeError::Json`], [`ExchangeError::Api`] or
    /// [`ExchangeError::MissingField`].
    fn interpret<T>(answer: Answer<Self>) -> Result<Self::Response, ExchangeError<T>>;
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
/// own.
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

/// The bytes of one request, head then body, as a pull source.
pub trait Outgoing {
    /// The body source's error.
    type Error;

    /// Fills `buf` with the next request bytes and returns how many; `0` means the request is
    /// complete, or the body is held back (see [`release_body`](Self::release_body)) and the
    /// head is out.
    ///
    /// # Errors
    ///
    /// The body source's.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;

    /// Length of the request head.
    fn head_len(&self) -> u64;

    /// Lets the body follow the head (after `100 Continue`).
    fn release_body(&mut self);

    /// Progress once the first `written` request bytes have been sent.
    fn progress(&self, written: u64) -> Progress;
}

/// Why an exchange stopped short of an answer: the exchange failed, the body source failed, or
/// the progress callback returned `Break(reason)` after `sent` body bytes.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stopped<T, S, C> {
    /// The exchange failed.
    Exchange(ExchangeError<T>),
    /// The body source failed.
    Source(S),
    /// The progress callback cancelled.
    Cancelled {
        /// Body bytes sent before.
        sent: u64,
        /// What the callback broke with.
        reason: C,
    },
}

/// How an exchange ended: the API's response, or why it stopped short of one.
pub type Outcome<R, T, S, C> = Result<R, Stopped<T, S, C>>;

/// What the driver does next.
#[derive(Debug)]
pub enum Action<'a> {
    /// Write these bytes (some or all), then call [`Exchange::wrote`].
    Write(&'a [u8]),
    /// Flush the transport, then call [`Exchange::flushed`].
    Flush,
    /// Read into this buffer, then call [`Exchange::received`] (`Ok(0)` for the end of the
    /// stream).
    Read(&'a mut [u8]),
    /// The exchange is over: call [`Exchange::finish`].
    Done,
}

#[derive(Debug)]
enum State<T> {
    /// About to send the body: progress is reported once first (0 bytes), so that a callback
    /// can cancel before anything of the body is out.
    Announce,
    /// Sending request bytes (the head only while the body is held back).
    Send,
    /// Flushing the whole request, or the head while the body waits for `100 Continue`.
    Flush,
    /// Waiting for `100 Continue` or an immediate answer.
    AwaitContinue,
    /// Reading the answer.
    Receive,
    /// A write failed: reading whatever the server answered early, to report it instead.
    EarlyAnswer {
        error: T,
        head_sent: bool,
        sent: u64,
    },
    /// Over: the outcome is in `outcome`.
    Done,
}

/// One HTTP exchange as a state machine with no I/O: see the [module docs](self).
///
/// `Q` makes the request's bytes, `V` collects the answer's fields, `P` is the progress
/// callback (returning `Break(reason)` cancels) and `T` the transport's error.
pub struct Exchange<'b, Q: Outgoing, V: Reply, P, T, C> {
    buf: &'b mut [u8],
    request: Q,
    collector: Option<Collector<V>>,
    progress: P,
    state: State<T>,
    /// Queued request bytes: `buf[start..end]`.
    start: usize,
    end: usize,
    /// The request source said it is done (or is holding the body back).
    drained: bool,
    /// The body is held back until `100 Continue`.
    holding: bool,
    written: u64,
    outcome: Option<Outcome<V::Response, T, Q::Error, C>>,
}

impl<Q: Outgoing, V: Reply, P, T, C> fmt::Debug for Exchange<'_, Q, V, P, T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("buf_len", &self.buf.len())
            .field("written", &self.written)
            .field("queued", &(self.end - self.start))
            .finish_non_exhaustive()
    }
}

impl<'b, Q, V, P, T, C> Exchange<'b, Q, V, P, T, C>
where
    Q: Outgoing,
    V: Reply,
    P: FnMut(Progress) -> ControlFlow<C>,
{
    /// An exchange sending `request` through `buf` and reading the answer into `V` within
    /// `limits`. `expect_continue` holds the body back until the server's go-ahead (the
    /// request's head must ask for it).
    pub fn new(
        buf: &'b mut [u8],
        request: Q,
        limits: Limits,
        expect_continue: bool,
        progress: P,
    ) -> Self {
        let empty = buf.is_empty();
        Exchange {
            buf,
            request,
            collector: Some(Collector::new(limits, V::default())),
            progress,
            state: match (empty, expect_continue) {
                (true, _) => State::Done,
                (false, true) => State::Send,
                (false, false) => State::Announce,
            },
            start: 0,
            end: 0,
            drained: false,
            holding: expect_continue,
            written: 0,
            outcome: empty.then_some(Err(Stopped::Exchange(ExchangeError::EmptyBuffer))),
        }
    }

    /// Request bytes handed to the transport so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// What to do next.
    pub fn next_action(&mut self) -> Action<'_> {
        loop {
            match self.state {
                State::Announce => {
                    self.state = State::Send;
                    self.report_progress();
                }
                State::Send => {
                    // `>=`: a transport that claims more bytes than it was handed (a broken
                    // `Write`) gets the next ones, as before, rather than a slicing panic.
                    if self.start >= self.end {
                        if self.drained {
                            self.state = State::Flush;
                            continue;
                        }
                        // The hot path: refill and write at once. A fill that stopped the
                        // exchange, or found the request out with nothing left, queued nothing.
                        if !self.fill() {
                            continue;
                        }
                    }
                    return Action::Write(&self.buf[self.start..self.end]);
                }
                State::Flush => return Action::Flush,
                State::AwaitContinue | State::Receive | State::EarlyAnswer { .. } => {
                    return Action::Read(&mut *self.buf);
                }
                State::Done => return Action::Done,
            }
        }
    }

    /// Queues request bytes until the buffer is full or the request is out.
    /// Returns whether anything was queued. Called only with nothing queued.
    fn fill(&mut self) -> bool {
        let mut end = 0;
        let result = loop {
            match self.request.fill(&mut self.buf[end..]) {
                Ok(0) => {
                    self.drained = true;
                    break Ok(());
                }
                Ok(n) => {
                    end += n;
                    if end >= self.buf.len() {
                        break Ok(());
                    }
                }
                Err(e) => break Err(e),
            }
        };
        self.start = 0;
        self.end = end;
        if let Err(e) = result {
            self.stop(Stopped::Source(e));
            return false;
        }
        end > 0
    }

    /// Reports progress; a callback that cancels ends the exchange.
    #[inline(never)]
    fn report_progress(&mut self) {
        let p = self.request.progress(self.written);
        if let ControlFlow::Break(reason) = (self.progress)(p) {
            self.stop(Stopped::Cancelled {
                sent: p.sent,
                reason,
            });
        }
    }

    fn stop(&mut self, outcome: Stopped<T, Q::Error, C>) {
        self.outcome = Some(Err(outcome));
        self.state = State::Done;
    }

    /// The result of writing the bytes of [`Action::Write`].
    ///
    /// # Panics
    ///
    /// If the transport wrote 0 bytes of a non-empty buffer (a broken `Write` contract, which
    /// `embedded_io`'s own `write_all` treats the same way).
    pub fn wrote(&mut self, result: Result<usize, T>) {
        match result {
            Ok(n) => {
                assert!(n > 0, "write() returned Ok(0)");
                self.written += n as u64;
                self.start += n;
                if self.start >= self.end && !self.holding {
                    self.report_progress();
                }
            }
            Err(error) => self.write_failed(error),
        }
    }

    /// The result of [`Action::Flush`].
    pub fn flushed(&mut self, result: Result<(), T>) {
        match result {
            Ok(()) if self.holding => self.state = State::AwaitContinue,
            Ok(()) => self.state = State::Receive,
            Err(error) => self.write_failed(error),
        }
    }

    fn write_failed(&mut self, error: T) {
        // The buffer coalesces the head's last bytes with the first body bytes, so a failed
        // write may hold both: then the head is what failed. While the body is held back for
        // `100 Continue`, only the head was being sent.
        self.state = State::EarlyAnswer {
            error,
            head_sent: !self.holding && self.written >= self.request.head_len(),
            sent: self.request.progress(self.written).sent,
        };
    }

    /// The result of reading into the buffer of [`Action::Read`]: `Ok(0)` is the end of the
    /// stream.
    pub fn received(&mut self, result: Result<usize, T>) {
        let Some(collector) = self.collector.as_mut() else {
            return;
        };
        let step = match result {
            Ok(0) => collector.close(),
            Ok(n) => collector.feed(&self.buf[..n]),
            Err(e) => {
                let failed = ExchangeError::ReadResponse(e);
                return self.end_with(Err(failed));
            }
        };
        match step {
            Ok(Step::NeedMore) => {}
            Ok(Step::Continue) if matches!(self.state, State::AwaitContinue) => {
                self.request.release_body();
                self.holding = false;
                self.drained = false;
                self.state = State::Announce;
            }
            // A `100 Continue` nobody asked for is only an interim answer.
            Ok(Step::Continue) => {}
            Ok(Step::Complete) => {
                let answer = self.collector.take().map(Collector::finish);
                let answer = match answer {
                    Some(Ok(answer)) => V::interpret(answer),
                    Some(Err(e)) => Err(ExchangeError::Response(e)),
                    None => return,
                };
                self.end_with(answer);
            }
            Err(e) => self.end_with(Err(ExchangeError::Response(e))),
        }
    }

    /// Ends the exchange with what the response said, or, after a failed write, with the
    /// server's early refusal if there was one and the write error otherwise.
    fn end_with(&mut self, answer: Result<V::Response, ExchangeError<T>>) {
        let outcome = match core::mem::replace(&mut self.state, State::Done) {
            State::EarlyAnswer {
                error,
                head_sent,
                sent,
            } => Err(match answer {
                // A success after a failed write would be a server bug; the write error is
                // the truth, and so is it when the answer could not be read.
                Err(refused) if !refused.is_transport() && !refused.is_response() => refused,
                _ if !head_sent => ExchangeError::SendHead(error),
                _ => ExchangeError::SendBody { sent, error },
            }),
            _ => answer,
        };
        self.outcome = Some(outcome.map_err(Stopped::Exchange));
    }

    /// The outcome, once [`Action::Done`] was returned.
    ///
    /// # Errors
    ///
    /// [`Stopped`]: the exchange's error by phase, the body source's, or the cancellation.
    pub fn finish(self) -> Outcome<V::Response, T, Q::Error, C> {
        self.outcome.unwrap_or_else(|| {
            Err(Stopped::Exchange(ExchangeError::Response(
                ResponseError::IncompleteHead,
            )))
        })
    }
}

impl<T> ExchangeError<T> {
    fn is_transport(&self) -> bool {
        self.transport().is_some()
    }

    fn is_response(&self) -> bool {
        matches!(self, Self::Response(_))
    }
}

/// The queries of an error that may wrap an [`ExchangeError`] (an upload's, a push's), in its
/// `impl` block: `exchange()` by the pattern given, and `is_auth_failure` / `is_rate_limited`
/// through it.
macro_rules! wrapped_queries {
    ($variant:pat => $error:ident) => {
        /// Whether the service refused the credentials ([`ExchangeError::is_auth_failure`]).
        pub fn is_auth_failure(&self) -> bool {
            self.exchange().is_some_and(ExchangeError::is_auth_failure)
        }

        /// Whether this is the service's rate limit
        /// ([`RATE_LIMITED`](crate::exchange::RATE_LIMITED)), which asks for a pause.
        pub fn is_rate_limited(&self) -> bool {
            self.exchange().is_some_and(ExchangeError::is_rate_limited)
        }

        /// The exchange's error, if the exchange is what failed.
        pub fn exchange(&self) -> Option<&ExchangeError<T>> {
            match self {
                $variant => Some($error),
                #[allow(unreachable_patterns)]
                _ => None,
            }
        }
    };
}
pub(crate) use wrapped_queries;

/// Defines a driver from one text: the blocking `run` over `embedded_io`, and the async
/// `run_async` over `embedded_io_async`, which puts `.await` after each transport call.
/// Nothing else differs: do what the exchange says, hand back the result, until it is done.
macro_rules! driver {
    ($(#[$attr:meta])* $name:ident, $io:ident $(, $async:tt $await:tt)?) => {
        $(#[$attr])*
        ///
        /// # Errors
        ///
        /// See [`Exchange::finish`].
        pub $($async)? fn $name<X, Q, V, P, C>(
            transport: &mut X,
            mut exchange: Exchange<'_, Q, V, P, X::Error, C>,
        ) -> Outcome<V::Response, X::Error, Q::Error, C>
        where
            X: $io::Read + $io::Write,
            Q: Outgoing,
            V: Reply,
            P: FnMut(Progress) -> ControlFlow<C>,
        {
            loop {
                match exchange.next_action() {
                    Action::Write(bytes) => {
                        let result = transport.write(bytes)$(.$await)?;
                        exchange.wrote(result);
                    }
                    Action::Flush => {
                        let result = transport.flush()$(.$await)?;
                        exchange.flushed(result);
                    }
                    Action::Read(buf) => {
                        let result = transport.read(buf)$(.$await)?;
                        exchange.received(result);
                    }
                    Action::Done => return exchange.finish(),
                }
            }
        }
    };
}

driver!(
    /// Runs `exchange` over a blocking transport.
    run,
    embedded_io
);

driver!(
    /// Runs `exchange` over an async transport (feature `async`).
    #[cfg(feature = "async")]
    run_async,
    embedded_io_async,
    async await
);

#[cfg(test)]
mod tests {
    use core::convert::Infallible;
    use core::ops::ControlFlow;

    use super::*;
    use crate::push::{Push, PushAuth, PushBytes, PushFields, PushRequest};
    use crate::{auth::Credentials, endpoint::Endpoint};

    const ANSWER: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\n{\"ret_code\":0,\"push_id\":\"7\"}";

    fn job<'a>(endpoint: &'a Endpoint<'a>) -> Push<'a> {
        Push {
            endpoint,
            auth: PushAuth::Basic(Credentials::new("1", "s").unwrap()),
            request: PushRequest {
                upload_id: 1,
                title: "t",
                content: "c",
                ..PushRequest::default()
            },
            limits: Limits::default(),
        }
    }

    fn never(_: Progress) -> ControlFlow<Infallible> {
        ControlFlow::Continue(())
    }

    /// A server's read: the next bytes of `answer`, at most `most`, into `into`.
    fn serve(into: &mut [u8], answer: &mut &[u8], most: usize) -> usize {
        let n = into.len().min(answer.len()).min(most);
        into[..n].copy_from_slice(&answer[..n]);
        *answer = &answer[n..];
        n
    }

    /// Driven by hand: the whole request in writes (any size accepted), one flush, then reads
    /// until the answer is whole; no read is asked for before the flush. A transport that
    /// breaks `Write`'s contract by claiming more bytes than it was handed costs the request
    /// its integrity, not a panic: the machine moves on to the next bytes.
    #[test]
    fn the_machine_writes_flushes_then_reads() {
        let endpoint = Endpoint::parse("https://127.0.0.1:1/").unwrap();
        let job = job(&endpoint);
        for claims_too_much in [false, true] {
            let mut buf = [0u8; 100];
            let request = PushBytes::new(&job).unwrap();
            let mut exchange: Exchange<'_, _, PushFields, _, &str, _> =
                Exchange::new(&mut buf, request, job.limits, false, never);
            let mut sent = std::vec::Vec::new();
            let mut flushed = false;
            let mut answer = ANSWER;
            loop {
                match exchange.next_action() {
                    Action::Write(bytes) => {
                        assert!(!flushed, "a write after the flush");
                        // A few bytes at a time, as a busy socket would take them.
                        let n = bytes.len().min(7);
                        sent.extend_from_slice(&bytes[..n]);
                        exchange.wrote(Ok(if claims_too_much { n + 10 } else { n }));
                    }
                    Action::Flush => {
                        assert!(!flushed, "a second flush");
                        flushed = true;
                        exchange.flushed(Ok(()));
                    }
                    Action::Read(into) => {
                        assert!(flushed, "a read before the request was out");
                        let n = serve(into, &mut answer, 3);
                        exchange.received(Ok(n));
                    }
                    Action::Done => break,
                }
            }
            let response = exchange.finish().unwrap();
            assert_eq!(response.push_id.as_str(), "7");
            if claims_too_much {
                continue;
            }
            let text = std::string::String::from_utf8(sent).unwrap();
            assert!(text.starts_with("POST /v3/push/app HTTP/1.1\r\n"), "{text}");
            assert!(
                text.ends_with("\"message\":{\"title\":\"t\",\"content\":\"c\"}}"),
                "{text}"
            );
        }
    }

    /// A failed write turns the machine to reading: an answer already there (a refusal) is
    /// the outcome; with none, the write error is, in the phase it happened.
    #[test]
    fn a_failed_write_reads_the_early_answer() {
        let endpoint = Endpoint::parse("https://127.0.0.1:1/").unwrap();
        let job = job(&endpoint);
        let refusal: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";
        type Expected = fn(&Stopped<&'static str, Infallible, Infallible>) -> bool;
        let cases: [(&str, &[u8], usize, Expected); 3] = [
            ("a refusal waiting", refusal, 0, |e| {
                matches!(
                    e,
                    Stopped::Exchange(ExchangeError::Status { status: 401, .. })
                )
            }),
            ("no answer, first write", b"", 0, |e| {
                matches!(e, Stopped::Exchange(ExchangeError::SendHead("broken pipe")))
            }),
            ("no answer, in the body", b"", 3, |e| {
                matches!(
                    e,
                    Stopped::Exchange(ExchangeError::SendBody {
                        error: "broken pipe",
                        ..
                    })
                )
            }),
        ];
        for (case, answer, fail_at_write, expected) in cases {
            let mut buf = [0u8; 64];
            let request = PushBytes::new(&job).unwrap();
            let mut exchange: Exchange<'_, _, PushFields, _, &str, _> =
                Exchange::new(&mut buf, request, job.limits, false, never);
            let mut writes = 0;
            let mut answer = answer;
            loop {
                match exchange.next_action() {
                    Action::Write(_) if writes == fail_at_write => {
                        exchange.wrote(Err("broken pipe"));
                    }
                    Action::Write(bytes) => {
                        let n = bytes.len();
                        writes += 1;
                        exchange.wrote(Ok(n));
                    }
                    Action::Flush => exchange.flushed(Ok(())),
                    Action::Read(into) => {
                        let n = serve(into, &mut answer, usize::MAX);
                        exchange.received(Ok(n));
                    }
                    Action::Done => break,
                }
            }
            let outcome = exchange.finish();
            assert!(outcome.as_ref().is_err_and(expected), "{case}: {outcome:?}");
        }
    }
}
