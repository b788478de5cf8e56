//! What can go wrong: building a [`Client`](crate::Client), and each request.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use tpns_core::auth::CredentialsError;
use tpns_core::endpoint::EndpointError;
use tpns_core::json::JsonError;
use tpns_core::multipart::BodyError;
use tpns_core::push::PushRequestError;
use tpns_core::request::RequestError;
use tpns_core::response::ResponseError;
use tpns_core::upload::{RATE_LIMITED, is_auth_refusal, is_cut_short, is_transient_status};

use crate::deadline::DeadlinePassed;

/// Why a [`ClientBuilder`](crate::ClientBuilder) could not build a client.
#[derive(Debug)]
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
        /// Package bytes sent before the failure (0 for a push).
        sent: u64,
    },
    /// Reading the response.
    ReadResponse,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect => f.write_str("connect"),
            Self::Proxy => f.write_str("proxy CONNECT"),
            Self::Tls => f.write_str("TLS handshake"),
            Self::SendHead => f.write_str("send request head"),
            Self::SendBody { sent } => write!(f, "send body (after {sent} package bytes)"),
            Self::ReadResponse => f.write_str("read response"),
        }
    }
}

/// Why an upload or a push failed.
///
/// Each variant names the phase and keeps the underlying error. [`Error::is_transient`] tells
/// which ones the [`Client`](crate::Client) retries.
#[derive(Debug)]
pub enum Error {
    /// The package file could not be opened or measured.
    Open {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// Reading the package failed, or it changed length while it was sent.
    Source(BodyError<io::Error>),
    /// Seeking the package source back to its start, for a new attempt, failed.
    Rewind(io::Error),
    /// The package's file name cannot be sent (it is not UTF-8).
    FileName,
    /// The credentials are malformed.
    Credentials(CredentialsError),
    /// The push request breaks the API's rules; nothing was sent.
    InvalidPush(PushRequestError),
    /// A request value (host, path) could break the request's framing.
    Request(RequestError),
    /// The host name did not resolve.
    Resolve {
        /// The host (`the proxy HOST` for a proxy's).
        host: String,
        /// What the resolver said.
        source: io::Error,
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
    /// The connection failed (reset, closed, broken pipe).
    Io {
        /// The phase that failed.
        phase: Phase,
        /// The socket's error.
        source: io::Error,
    },
    /// The response is not valid HTTP/1.1, or exceeds the limits.
    Response(ResponseError),
    /// The response body is not the expected JSON.
    Json(JsonError),
    /// The JSON lacks a field, or the field is not usable (a non-positive `uploadId`, an
    /// empty `push_id`).
    MissingField {
        /// The field, as the API spells it.
        name: &'static str,
        /// The start of the body (at most 64 bytes, printable ASCII with `?` for anything
        /// else), to show what came instead.
        body: String,
    },
    /// The server answered with a status other than 2xx.
    Status {
        /// The HTTP status.
        status: u16,
        /// `retCode` from the body, if it was JSON and had one.
        ret_code: Option<i64>,
        /// `errMsg` from the body, or the start of the body when it is not JSON.
        message: String,
    },
    /// The service refused the request: `retCode` (`ret_code` for a push) is not 0.
    Api {
        /// The code, such as 1008003 for an authentication failure.
        ret_code: i64,
        /// `errMsg` / `err_msg`.
        message: String,
    },
    /// The caller's callback cancelled the upload.
    Cancelled {
        /// Package bytes sent before the cancellation.
        sent: u64,
    },
    /// The operating system's random number generator failed, so no unguessable multipart
    /// boundary could be made; nothing was sent.
    Random,
}

impl Error {
    /// Whether a new attempt could succeed: connect errors (to the proxy too), timeouts, a
    /// connection that broke before the response was complete, HTTP 502/503/504 (from the
    /// service, or from a proxy to `CONNECT`) and the rate limit (`retCode` 1008028).
    /// Authentication, validation and certificate failures, and a proxy's 407 or 403, are
    /// never transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Resolve { .. }
            | Self::Connect { .. }
            | Self::Timeout { .. }
            | Self::Io { .. } => true,
            Self::Response(e) => is_cut_short(e),
            Self::Status { status, .. } => is_transient_status(*status),
            Self::Proxy { status, .. } => matches!(status, 502..=504),
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

    /// Whether the service answered with an error: a non-2xx status or a non-zero `retCode`.
    pub fn is_api_error(&self) -> bool {
        matches!(self, Self::Status { .. } | Self::Api { .. })
    }

    /// Whether the failure is in the package source (the local file), not on the network.
    pub fn is_source_error(&self) -> bool {
        matches!(
            self,
            Self::Open { .. } | Self::Source(_) | Self::Rewind(_) | Self::FileName
        )
    }

    /// Whether this is the rate limit (`retCode` 1008028), which asks for a pause.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            Self::Api { ret_code, .. } => *ret_code == RATE_LIMITED,
            Self::Status { ret_code, .. } => *ret_code == Some(RATE_LIMITED),
            _ => false,
        }
    }

    /// The phase of a network failure, if this is one.
    pub fn phase(&self) -> Option<Phase> {
        match self {
            Self::Resolve { .. } | Self::Connect { .. } => Some(Phase::Connect),
            Self::Tls(_) => Some(Phase::Tls),
            Self::Proxy { .. } => Some(Phase::Proxy),
            Self::Timeout { phase, .. } | Self::Deadline { phase, .. } | Self::Io { phase, .. } => {
                Some(*phase)
            }
            Self::Response(_) | Self::Json(_) | Self::MissingField { .. } => {
                Some(Phase::ReadResponse)
            }
            _ => None,
        }
    }

    /// The service's `retCode` / `ret_code`, if it sent one.
    pub fn ret_code(&self) -> Option<i64> {
        match self {
            Self::Api { ret_code, .. } => Some(*ret_code),
            Self::Status { ret_code, .. } => *ret_code,
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, source } => write!(f, "cannot open {}: {source}", path.display()),
            Self::Source(e) => write!(f, "{e}"),
            Self::Rewind(e) => write!(f, "cannot rewind the package for a new attempt: {e}"),
            Self::FileName => f.write_str("the package's file name is not valid UTF-8"),
            Self::Credentials(e) => write!(f, "invalid credentials: {e}"),
            Self::InvalidPush(e) => write!(f, "invalid push: {e}"),
            Self::Request(e) => write!(f, "invalid request: {e}"),
            Self::Resolve { host, source } => write!(f, "connect: cannot resolve {host}: {source}"),
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
            Self::Response(e) => write!(f, "read response: {e}"),
            Self::Json(e) => write!(f, "read response: bad JSON body: {e}"),
            Self::MissingField { name, body } if body.is_empty() => {
                write!(
                    f,
                    "read response: the response has no valid `{name}` (empty body)"
                )
            }
            Self::MissingField { name, body } => {
                write!(
                    f,
                    "read response: the response has no valid `{name}` (body: {body})"
                )
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
            Self::Api { ret_code, message } => write!(f, "retCode {ret_code}: {message}"),
            Self::Cancelled { sent } => write!(f, "cancelled after {sent} package bytes"),
            Self::Random => f.write_str("the system's random number generator failed"),
        }
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
            Self::Source(e) => Some(e),
            Self::Credentials(e) => Some(e),
            Self::InvalidPush(e) => Some(e),
            Self::Request(e) => Some(e),
            Self::Tls(e) => Some(e),
            Self::Response(e) => Some(e),
            Self::Json(e) => Some(e),
            _ => None,
        }
    }
}

/// A socket error in `phase`: the deadline, a timeout, a TLS failure carried inside an I/O
/// error, or the error as it is.
pub(crate) fn io_error(phase: Phase, e: io::Error, stall: Duration) -> Error {
    if let Some(d) = e.get_ref().and_then(|i| i.downcast_ref::<DeadlinePassed>()) {
        return Error::Deadline {
            phase,
            after: d.total,
        };
    }
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        return Error::Timeout {
            phase,
            after: stall,
        };
    }
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return Error::Tls(tls.clone());
    }
    Error::Io { phase, source: e }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: io::ErrorKind) -> io::Error {
        io::Error::from(kind)
    }

    #[test]
    fn transient_auth_and_api_errors_are_sorted() {
        let status = |status, ret_code| Error::Status {
            status,
            ret_code,
            message: String::new(),
        };
        let api = |ret_code| Error::Api {
            ret_code,
            message: String::new(),
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
                Error::Response(ResponseError::IncompleteHead),
                true,
                false,
                false,
            ),
            (
                Error::Response(ResponseError::InvalidStatusLine),
                false,
                false,
                false,
            ),
            (
                Error::Io {
                    phase: Phase::ReadResponse,
                    source: io(io::ErrorKind::ConnectionReset),
                },
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
                Error::MissingField {
                    name: "uploadId",
                    body: String::new(),
                },
                false,
                false,
                false,
            ),
            (Error::Cancelled { sent: 3 }, false, false, false),
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
    fn socket_errors_become_timeouts_tls_errors_or_io_errors() {
        let stall = Duration::from_secs(7);
        for kind in [io::ErrorKind::WouldBlock, io::ErrorKind::TimedOut] {
            let e = io_error(Phase::SendBody { sent: 5 }, io(kind), stall);
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
                "send body (after 5 package bytes): timed out (no progress for 7.0 s)"
            );
        }
        let tls = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(matches!(
            io_error(Phase::ReadResponse, tls, stall),
            Error::Tls(rustls::Error::DecryptError)
        ));
        let e = io_error(Phase::SendHead, io(io::ErrorKind::BrokenPipe), stall);
        assert!(
            matches!(
                e,
                Error::Io {
                    phase: Phase::SendHead,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.phase(), Some(Phase::SendHead));
        assert!(e.to_string().starts_with("send request head: "), "{e}");
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
