//! What can go wrong: building a [`Client`](crate::Client), and each request.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use tpns_core::auth::CredentialsError;
use tpns_core::endpoint::EndpointError;
use tpns_core::exchange::ExchangeError;
use tpns_core::exchange::is_transient_status;
use tpns_core::push::PushRequestError;
use tpns_core::upload::UploadError;

use crate::deadline::DeadlinePassed;

/// Why a [`ClientBuilder`](crate::ClientBuilder) could not build a client.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// No credentials were given.
    NoCredentials,
    /// The AccessID or SecretKey is malformed (the message never holds the secret).
    Credentials(CredentialsError),
    /// The endpoint URL is malformed.
    Endpoint(EndpointError),
    /// A CA file could not be read.
    CaFile {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        source: io::Error,
    },
    /// A CA file or PEM text holds no certificate, or a broken one.
    CaPem {
        /// The file, when the PEM came from one.
        path: Option<PathBuf>,
        /// What the PEM decoder said.
        source: rustls_pki_types::pem::Error,
    },
    /// A CA certificate was refused as a trust anchor.
    CaCertificate(rustls::Error),
    /// The TLS configuration could not be built.
    Tls(rustls::Error),
    /// A proxy URL (given, or from the environment variable named) is not usable; an
    /// unsupported scheme (`socks5://`, `https://`) is one. The text never holds credentials.
    Proxy {
        /// Where the URL came from: `"the proxy URL"` or a variable such as `"HTTPS_PROXY"`.
        from: &'static str,
        /// What is wrong.
        source: crate::proxy::ProxyError,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCredentials => f.write_str("no credentials (AccessID and SecretKey) given"),
            Self::Credentials(e) => write!(f, "invalid credentials: {e}"),
            Self::Endpoint(e) => write!(f, "invalid endpoint: {e}"),
            Self::CaFile { path, source } => {
                write!(f, "cannot read the CA file {}: {source}", path.display())
            }
            Self::CaPem {
                path: Some(path),
                source,
            } => write!(
                f,
                "no usable PEM certificate in {}: {source:?}",
                path.display()
            ),
            Self::CaPem { path: None, source } => {
                write!(f, "no usable PEM certificate: {source:?}")
            }
            Self::CaCertificate(e) => write!(f, "the CA certificate was refused: {e}"),
            Self::Tls(e) => write!(f, "TLS configuration failed: {e}"),
            Self::Proxy { from, source } => write!(f, "invalid proxy ({from}): {source}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Credentials(e) => Some(e),
            Self::Endpoint(e) => Some(e),
            Self::CaFile { source, .. } => Some(source),
            Self::CaCertificate(e) | Self::Tls(e) => Some(e),
            Self::Proxy { source, .. } => Some(source),
            Self::NoCredentials | Self::CaPem { .. } => None,
        }
    }
}

/// Which part of an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Resolving the host name or opening the TCP connection (to the proxy, through one).
    Connect,
    /// Opening the tunnel through an HTTP proxy: the `CONNECT` request and its answer.
    Proxy,
    /// The TLS handshake.
    Tls,
    /// Sending the request head.
    SendHead,
    /// Sending the request body.
    SendBody {
        /// Body bytes handed to the socket before the failure: package bytes for an upload
        /// (the multipart framing not counted), JSON bytes for a push.
        sent: u64,
    },
    /// Reading the response.
    ReadResponse,
}

impl Phase {
    /// The phase of an exchange error from the core, if it is a transport failure.
    fn of<S>(e: &UploadError<io::Error, S>) -> Option<Phase> {
        match e.exchange()? {
            ExchangeError::SendHead(_) | ExchangeError::EmptyBuffer => Some(Phase::SendHead),
            ExchangeError::SendBody { sent, .. } => Some(Phase::SendBody { sent: *sent }),
            ExchangeError::ReadResponse(_)
            | ExchangeError::Response(_)
            | ExchangeError::Json(_)
            | ExchangeError::MissingField { .. } => Some(Phase::ReadResponse),
            _ => None,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect => f.write_str("connect"),
            Self::Proxy => f.write_str("proxy CONNECT"),
            Self::Tls => f.write_str("TLS handshake"),
            Self::SendHead => f.write_str("send request head"),
            Self::SendBody { sent } => write!(f, "send body (after {sent} bytes)"),
            Self::ReadResponse => f.write_str("read response"),
        }
    }
}

/// The core's error for one exchange, with the socket's and the package source's errors as
/// they were: the exchange by phase ([`ExchangeError`]), the package source, or the
/// cancellation. A push's exchange error is wrapped the same way.
pub type CoreError = UploadError<io::Error, io::Error>;

/// Why an upload or a push failed.
///
/// What happens before the exchange (opening the file, connecting, the proxy, TLS) has its own
/// variants; the exchange itself is the core's error, wrapped in [`Error::Exchange`], except
/// that a socket error that is a stall, the deadline or a TLS failure is told as such
/// ([`Error::Timeout`], [`Error::Deadline`], [`Error::Tls`]), with its phase.
/// [`Error::is_transient`] tells which ones the [`Client`](crate::Client) retries.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The package file could not be opened or measured.
    Open {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// Seeking the package source back to its start, for a new attempt, failed.
    Rewind(io::Error),
    /// The package's file name cannot be sent (it is not UTF-8).
    FileName,
    /// The credentials are malformed.
    Credentials(CredentialsError),
    /// The push request breaks the API's rules; nothing was sent.
    InvalidPush(PushRequestError),
    /// The host name did not resolve.
    Resolve {
        /// The host (`the proxy HOST` for a proxy's).
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// The endpoint's host is not a name TLS can verify a certificate for (nothing was sent).
    ServerName {
        /// The host.
        host: String,
    },
    /// No address of the host accepted a TCP connection.
    Connect {
        /// The host and port (`the proxy HOST:PORT` for a proxy).
        target: String,
        /// The last address's error.
        source: io::Error,
    },
    /// The HTTP proxy refused to open the tunnel: its answer to `CONNECT` was not 2xx (407:
    /// it wants other credentials; 403: the target is forbidden; 502/503/504: it could not
    /// reach the service, which is transient). Nothing reached the service.
    Proxy {
        /// The proxy, as `http://host:port` (never with credentials).
        proxy: String,
        /// The status of its answer.
        status: u16,
        /// The reason phrase of its answer (at most 64 printable ASCII characters).
        reason: String,
    },
    /// The TLS layer failed: the server's certificate was refused (unknown CA, wrong host
    /// name, expired), or the peer broke the TLS protocol. Never retried.
    Tls(rustls::Error),
    /// No progress for the stall timeout.
    Timeout {
        /// The phase that stalled.
        phase: Phase,
        /// The timeout that ran out.
        after: Duration,
    },
    /// The whole-exchange deadline passed (all attempts and pauses count): the server was too
    /// slow in all, though it may have kept moving. Not transient: the call's time is spent.
    Deadline {
        /// The phase the exchange was in.
        phase: Phase,
        /// The deadline that passed.
        after: Duration,
    },
    /// The connection failed (reset, closed, broken pipe) before the exchange: while
    /// connecting, in the proxy's tunnel or in the TLS handshake. Later failures are
    /// [`Error::Exchange`].
    Io {
        /// The phase that failed.
        phase: Phase,
        /// The socket's error.
        source: io::Error,
    },
    /// The exchange failed, as the core tells it: a socket error while sending or reading
    /// (with its phase), the package source, the response, an HTTP status, the service's
    /// `retCode`, or a cancellation.
    Exchange(CoreError),
    /// The operating system's random number generator failed, so no unguessable multipart
    /// boundary could be made; nothing was sent.
    Random,
}

impl From<CoreError> for Error {
    fn from(e: CoreError) -> Self {
        Error::Exchange(e)
    }
}

impl Error {
    /// Whether a new attempt could succeed: connect errors (to the proxy too), timeouts, a
    /// connection that broke before the response was complete, HTTP 502/503/504 (from the
    /// service, or from a proxy to `CONNECT`) and the rate limit (`retCode` 1008028): the
    /// core's [`ExchangeError::is_transient`] for the exchange. Authentication, validation and
    /// certificate failures, and a proxy's 407 or 403, are never transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Resolve { .. }
            | Self::Connect { .. }
            | Self::Timeout { .. }
            | Self::Io { .. } => true,
            Self::Proxy { status, .. } => is_transient_status(*status),
            Self::Exchange(e) => e.is_transient(),
            _ => false,
        }
    }

    /// Whether the service refused the credentials (`retCode` 1008003 or 10030002, or HTTP
    /// 401/403): the core's [`ExchangeError::is_auth_failure`].
    pub fn is_auth_failure(&self) -> bool {
        self.exchange().is_some_and(UploadError::is_auth_failure)
    }

    /// Whether the service answered with an error: a non-2xx status or a non-zero `retCode`.
    pub fn is_api_error(&self) -> bool {
        matches!(
            self,
            Self::Exchange(UploadError::Exchange(
                ExchangeError::Status { .. } | ExchangeError::Api { .. }
            ))
        )
    }

    /// Whether the failure is in the package source (the local file), not on the network.
    pub fn is_source_error(&self) -> bool {
        matches!(self, Self::Open { .. } | Self::Rewind(_) | Self::FileName)
            || matches!(self, Self::Exchange(UploadError::Source(_)))
    }

    /// Whether the request could not be made as asked, so that no attempt can succeed: the
    /// credentials, a push or a request value that breaks the rules, or no random boundary.
    pub fn is_invalid_request(&self) -> bool {
        matches!(
            self,
            Self::Credentials(_) | Self::InvalidPush(_) | Self::ServerName { .. } | Self::Random
        ) || matches!(
            self,
            Self::Exchange(UploadError::Exchange(
                ExchangeError::Request(_) | ExchangeError::EmptyBuffer
            ))
        )
    }

    /// Whether this is the rate limit (`retCode` 1008028), which asks for a pause.
    pub fn is_rate_limited(&self) -> bool {
        self.exchange().is_some_and(UploadError::is_rate_limited)
    }

    /// The phase of a network failure, if this is one.
    pub fn phase(&self) -> Option<Phase> {
        match self {
            Self::Resolve { .. } | Self::Connect { .. } => Some(Phase::Connect),
            Self::Tls(_) | Self::ServerName { .. } => Some(Phase::Tls),
            Self::Proxy { .. } => Some(Phase::Proxy),
            Self::Timeout { phase, .. } | Self::Deadline { phase, .. } | Self::Io { phase, .. } => {
                Some(*phase)
            }
            Self::Exchange(e) => Phase::of(e),
            _ => None,
        }
    }

    /// The core's error, if the exchange failed.
    pub fn exchange(&self) -> Option<&CoreError> {
        match self {
            Self::Exchange(e) => Some(e),
            _ => None,
        }
    }

    /// The socket's error, if the connection failed (before or during the exchange).
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Exchange(e) => e.exchange()?.transport(),
            _ => None,
        }
    }

    /// The service's `retCode` / `ret_code`, if it sent one.
    pub fn ret_code(&self) -> Option<i64> {
        self.exchange()?.exchange()?.ret_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, source } => write!(f, "cannot open {}: {source}", path.display()),
            Self::Rewind(e) => write!(f, "cannot rewind the package for a new attempt: {e}"),
            Self::FileName => f.write_str("the package's file name is not valid UTF-8"),
            Self::Credentials(e) => write!(f, "invalid credentials: {e}"),
            Self::InvalidPush(e) => write!(f, "invalid push: {e}"),
            Self::Resolve { host, source } => write!(f, "connect: cannot resolve {host}: {source}"),
            Self::ServerName { host } => {
                write!(f, "TLS handshake: {host} is not a valid TLS server name")
            }
            Self::Connect { target, source } => {
                write!(f, "connect: cannot connect to {target}: {source}")
            }
            Self::Proxy {
                proxy,
                status,
                reason,
            } => {
                write!(
                    f,
                    "proxy CONNECT: the proxy {proxy} refused the tunnel: HTTP {status}"
                )?;
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                Ok(())
            }
            Self::Tls(e) => write!(f, "TLS handshake: {e}"),
            Self::Timeout { phase, after } => write!(
                f,
                "{phase}: timed out (no progress for {:.1} s)",
                after.as_secs_f64()
            ),
            Self::Deadline { phase, after } => write!(
                f,
                "{phase}: deadline passed ({:.1} s for the whole exchange, retries included)",
                after.as_secs_f64()
            ),
            Self::Io { phase, source } => write!(f, "{phase}: {source}"),
            Self::Exchange(e) => exchange_text(e, f),
            Self::Random => f.write_str("the system's random number generator failed"),
        }
    }
}

/// The text of an exchange error: the phase first, as for the other network errors.
fn exchange_text(e: &CoreError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if let Some(phase) = Phase::of(e) {
        write!(f, "{phase}: ")?;
    }
    match e {
        UploadError::Exchange(ExchangeError::SendHead(e))
        | UploadError::Exchange(ExchangeError::SendBody { error: e, .. })
        | UploadError::Exchange(ExchangeError::ReadResponse(e)) => write!(f, "{e}"),
        UploadError::Exchange(ExchangeError::EmptyBuffer) => f.write_str("the I/O buffer is empty"),
        UploadError::Exchange(ExchangeError::Request(e)) => write!(f, "invalid request: {e}"),
        UploadError::Source(e) => write!(f, "{e}"),
        UploadError::Cancelled { sent } => write!(f, "cancelled after {sent} package bytes"),
        UploadError::Exchange(ExchangeError::Response(e)) => write!(f, "{e}"),
        UploadError::Exchange(ExchangeError::Json(e)) => write!(f, "bad JSON body: {e}"),
        UploadError::Exchange(ExchangeError::MissingField { name, body }) if body.is_empty() => {
            write!(f, "the response has no valid `{name}` (empty body)")
        }
        UploadError::Exchange(ExchangeError::MissingField { name, body }) => {
            write!(f, "the response has no valid `{name}` (body: {body})")
        }
        // The rest (an HTTP status, the service's `retCode`) the core says as it should be.
        e => write!(f, "{e}"),
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Open { source, .. }
            | Self::Resolve { source, .. }
            | Self::Connect { source, .. }
            | Self::Io { source, .. }
            | Self::Rewind(source) => Some(source),
            Self::Credentials(e) => Some(e),
            Self::InvalidPush(e) => Some(e),
            Self::Tls(e) => Some(e),
            Self::Exchange(e) => Some(e),
            _ => None,
        }
    }
}

/// A socket error in `phase`: the deadline, a timeout, a TLS failure carried inside an I/O
/// error, or `None` for a plain one.
fn classify(phase: Phase, e: &io::Error, stall: Duration) -> Option<Error> {
    if let Some(d) = e.get_ref().and_then(|i| i.downcast_ref::<DeadlinePassed>()) {
        return Some(Error::Deadline {
            phase,
            after: d.total,
        });
    }
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        return Some(Error::Timeout {
            phase,
            after: stall,
        });
    }
    let tls = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())?;
    Some(Error::Tls(tls.clone()))
}

/// A socket error in `phase`, before the exchange: the deadline, a timeout, a TLS failure
/// carried inside an I/O error, or the error as it is.
pub(crate) fn io_error(phase: Phase, e: io::Error, stall: Duration) -> Error {
    classify(phase, &e, stall).unwrap_or(Error::Io { phase, source: e })
}

/// An exchange error from the core: wrapped as it is, unless its socket error is a stall, the
/// deadline or a TLS failure, which are told as such.
pub(crate) fn exchange_error(e: CoreError, stall: Duration) -> Error {
    let classified = match (&e, Phase::of(&e)) {
        (
            UploadError::Exchange(ExchangeError::SendHead(io))
            | UploadError::Exchange(ExchangeError::SendBody { error: io, .. })
            | UploadError::Exchange(ExchangeError::ReadResponse(io)),
            Some(phase),
        ) => classify(phase, io, stall),
        _ => None,
    };
    classified.unwrap_or(Error::Exchange(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tpns_core::response::ResponseError;
    use tpns_core::text::Text;

    fn io(kind: io::ErrorKind) -> io::Error {
        io::Error::from(kind)
    }

    #[test]
    fn transient_auth_and_api_errors_are_sorted() {
        let status = |status, ret_code| {
            Error::Exchange(UploadError::Exchange(ExchangeError::Status {
                status,
                ret_code,
                message: Text::default(),
            }))
        };
        let api = |ret_code| {
            Error::Exchange(UploadError::Exchange(ExchangeError::Api {
                ret_code,
                err_msg: Text::default(),
            }))
        };
        let proxy = |status| Error::Proxy {
            proxy: "http://127.0.0.1:3128".into(),
            status,
            reason: String::new(),
        };
        let cases: Vec<(Error, bool, bool, bool)> = vec![
            // (error, transient, auth, api)
            (status(502, None), true, false, true),
            (status(503, Some(1_008_004)), true, false, true),
            (status(504, None), true, false, true),
            (status(500, None), false, false, true),
            (status(401, None), false, true, true),
            (status(403, None), false, true, true),
            (status(400, Some(10_030_002)), false, true, true),
            (api(1_008_028), true, false, true),
            (api(1_008_003), false, true, true),
            (api(10_030_002), false, true, true),
            (api(1_008_007), false, false, true),
            (api(1_008_011), false, false, true),
            (
                Error::Exchange(UploadError::Exchange(ExchangeError::Response(
                    ResponseError::IncompleteHead,
                ))),
                true,
                false,
                false,
            ),
            (
                Error::Exchange(UploadError::Exchange(ExchangeError::Response(
                    ResponseError::InvalidStatusLine,
                ))),
                false,
                false,
                false,
            ),
            (
                Error::Exchange(UploadError::Exchange(ExchangeError::ReadResponse(io(
                    io::ErrorKind::ConnectionReset,
                )))),
                true,
                false,
                false,
            ),
            (
                Error::Tls(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer,
                )),
                false,
                false,
                false,
            ),
            (
                Error::Exchange(UploadError::Exchange(ExchangeError::MissingField {
                    name: "uploadId",
                    body: Text::default(),
                })),
                false,
                false,
                false,
            ),
            (
                Error::Exchange(UploadError::Cancelled { sent: 3 }),
                false,
                false,
                false,
            ),
            (proxy(407), false, false, false),
            (proxy(403), false, false, false),
            (proxy(502), true, false, false),
            (proxy(504), true, false, false),
            (
                Error::Deadline {
                    phase: Phase::ReadResponse,
                    after: Duration::from_secs(2),
                },
                false,
                false,
                false,
            ),
        ];
        for (e, transient, auth, api) in cases {
            assert_eq!(e.is_transient(), transient, "{e:?}");
            assert_eq!(e.is_auth_failure(), auth, "{e:?}");
            assert_eq!(e.is_api_error(), api, "{e:?}");
        }
    }

    #[test]
    fn socket_errors_become_timeouts_tls_errors_or_wrapped_exchange_errors() {
        let stall = Duration::from_secs(7);
        for kind in [io::ErrorKind::WouldBlock, io::ErrorKind::TimedOut] {
            let body = UploadError::Exchange(ExchangeError::SendBody {
                sent: 5,
                error: io(kind),
            });
            let e = exchange_error(body, stall);
            assert!(
                matches!(
                    e,
                    Error::Timeout {
                        phase: Phase::SendBody { sent: 5 },
                        after
                    } if after == stall
                ),
                "{e:?}"
            );
            assert_eq!(
                e.to_string(),
                "send body (after 5 bytes): timed out (no progress for 7.0 s)"
            );
        }
        let tls = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(matches!(
            exchange_error(
                UploadError::Exchange(ExchangeError::ReadResponse(tls)),
                stall
            ),
            Error::Tls(rustls::Error::DecryptError)
        ));
        // A plain socket error stays the core's, with its phase and the io::Error kept.
        let head = UploadError::Exchange(ExchangeError::SendHead(io(io::ErrorKind::BrokenPipe)));
        let e = exchange_error(head, stall);
        assert!(
            matches!(
                e,
                Error::Exchange(UploadError::Exchange(ExchangeError::SendHead(_)))
            ),
            "{e:?}"
        );
        assert_eq!(e.phase(), Some(Phase::SendHead));
        assert_eq!(
            e.io_error().map(io::Error::kind),
            Some(io::ErrorKind::BrokenPipe)
        );
        assert!(e.is_transient());
        assert!(e.to_string().starts_with("send request head: "), "{e}");
        // Before the exchange, the same error is an Error::Io.
        let e = io_error(Phase::Tls, io(io::ErrorKind::ConnectionReset), stall);
        assert!(
            matches!(
                e,
                Error::Io {
                    phase: Phase::Tls,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("TLS handshake: "), "{e}");
        // The deadline, however deep the layers it crossed, wins over a plain timeout.
        let deadline = crate::deadline::Deadline::after(Duration::from_millis(2500)).error();
        let e = io_error(Phase::Tls, deadline, stall);
        assert!(
            matches!(
                e,
                Error::Deadline {
                    phase: Phase::Tls,
                    after
                } if after == Duration::from_millis(2500)
            ),
            "{e:?}"
        );
        assert_eq!(e.phase(), Some(Phase::Tls));
        assert_eq!(
            e.to_string(),
            "TLS handshake: deadline passed (2.5 s for the whole exchange, retries included)"
        );
    }
}
