//! Pushes from a device: `tpns-core`'s push ([`tpns_core::push::push`], and
//! `tpns_core::push::push_async` with feature `async`) over TLS opened here.
//!
//! # Retrying a push
//!
//! A push that reached the service is delivered: sending it again notifies the devices twice.
//! So a push is retried only while it certainly did not go out. [`TlsPushError::is_transient`]
//! is true only then (a handshake that broke, a request cut off before its body was whole, the
//! service's rate limit), and false as soon as the whole body was handed to the connection,
//! whatever comes after (a lost answer, a 502/503/504 from a gateway that may have passed the
//! push on). [`TlsPushError::may_have_been_sent`] says which side of that line a failure is on;
//! the core's [`PushError`] draws the line. A device loop that retries transient errors
//! therefore sends a push at most once.

use core::fmt;

use embedded_io::{Read, Write};
use rand_core::{CryptoRng, RngCore};
use tpns_core::push::{Push, PushError, PushResponse};

use crate::TlsError;
use crate::session::TlsSession;
use crate::tls::{HandshakeError, TimePolicy};

/// Why a TLS push failed.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TlsPushError {
    /// The TLS handshake failed; nothing of the push was sent.
    Handshake(HandshakeError),
    /// The push failed: a field broke the API's rules ([`PushError::Invalid`], found before
    /// the connection was opened, so nothing was sent), or the exchange failed.
    Push(PushError<TlsError>),
}

impl TlsPushError {
    /// Whether the service may have received the whole push
    /// ([`PushError::may_have_been_sent`]); never after a failed handshake.
    pub fn may_have_been_sent(&self) -> bool {
        matches!(self, Self::Push(e) if e.may_have_been_sent())
    }

    /// Whether a new attempt could succeed **and** cannot send the push twice: the handshake's
    /// connection broke, the request was cut off before its body was whole, or the service's
    /// rate limit refused it ([`PushError::is_transient`]).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Handshake(e) => e.is_transient(),
            Self::Push(e) => e.is_transient(),
        }
    }

    /// Whether the service refused the credentials ([`PushError::is_auth_failure`]).
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, Self::Push(e) if e.is_auth_failure())
    }
}

impl fmt::Display for TlsPushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
            Self::Push(e) => write!(f, "push failed: {e}"),
        }
    }
}

impl core::error::Error for TlsPushError {}

/// A whole push over TLS: the request checked ([`PushRequest::check`]) before the connection
/// is opened, the handshake over `socket` checking the server against the session's
/// [`Trust`], the push through [`tpns_core::push::push`] with the session's HTTP buffer, then
/// TLS `close_notify`.
///
/// `socket` may be `&mut` a socket, so the caller keeps it to close the TCP connection.
/// Retry only when [`TlsPushError::is_transient`] says so, on a new connection: see the
/// [module documentation](self).
///
/// [`PushRequest::check`]: tpns_core::push::PushRequest::check
/// [`Trust`]: crate::tls::Trust
///
/// # Errors
///
/// [`TlsPushError`]: the request, the handshake, or the exchange.
pub fn push_tls<T, R, Tp>(
    socket: T,
    session: &mut TlsSession<'_, '_, Tp, R>,
    job: &Push<'_>,
) -> Result<PushResponse, TlsPushError>
where
    T: Read + Write,
    R: CryptoRng + RngCore,
    Tp: TimePolicy + Copy,
{
    checked(job)?;
    session
        .over_tls(socket, |stream, http| {
            tpns_core::push::push(stream, job, http)
        })
        .map_err(TlsPushError::Handshake)?
        .map_err(TlsPushError::Push)
}

/// [`push_tls`] over an `embedded_io_async` socket (feature `async`), such as an embassy-net
/// `TcpSocket`: `embedded-tls`'s async connection, the same [`Trust`](crate::tls::Trust)
/// checks, `tpns_core::push::push_async` for the exchange.
///
/// # Errors
///
/// As for [`push_tls`].
#[cfg(feature = "async")]
pub async fn push_tls_async<T, R, Tp>(
    socket: T,
    session: &mut TlsSession<'_, '_, Tp, R>,
    job: &Push<'_>,
) -> Result<PushResponse, TlsPushError>
where
    T: embedded_io_async::Read + embedded_io_async::Write,
    R: CryptoRng + RngCore,
    Tp: TimePolicy + Copy,
{
    checked(job)?;
    session
        .over_tls_async(socket, async |stream, http| {
            tpns_core::push::push_async(stream, job, http).await
        })
        .await
        .map_err(TlsPushError::Handshake)?
        .map_err(TlsPushError::Push)
}

/// The API's rules, before any connection is opened: an invalid push costs no handshake.
fn checked(job: &Push<'_>) -> Result<(), TlsPushError> {
    job.request
        .check()
        .map_err(|e| TlsPushError::Push(PushError::Invalid(e)))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use tpns_core::exchange::ExchangeError;
    use tpns_core::push::PushRequestError;
    use tpns_core::text::Text;

    use super::*;

    fn exchange(error: ExchangeError<TlsError>) -> TlsPushError {
        TlsPushError::Push(PushError::Exchange {
            error,
            body_len: 100,
        })
    }

    #[test]
    fn a_push_whose_body_is_out_is_never_transient() {
        let gone = [
            exchange(ExchangeError::ReadResponse(TlsError::IoError)),
            exchange(ExchangeError::SendBody {
                sent: 100,
                error: TlsError::IoError,
            }),
            exchange(ExchangeError::Status {
                status: 504,
                ret_code: None,
                message: Text::default(),
            }),
            exchange(ExchangeError::Status {
                status: 502,
                ret_code: None,
                message: Text::default(),
            }),
        ];
        for e in &gone {
            // The core calls each of these transient; after a push's body they are not.
            let TlsPushError::Push(PushError::Exchange { error, .. }) = e else {
                unreachable!()
            };
            assert!(error.is_transient(), "{e}");
            assert!(e.may_have_been_sent(), "{e}");
            assert!(!e.is_transient(), "{e}");
        }
    }

    #[test]
    fn a_push_that_certainly_did_not_go_out_is_transient_when_the_cause_is() {
        let retry = [
            TlsPushError::Handshake(HandshakeError::Tls(TlsError::IoError)),
            exchange(ExchangeError::SendHead(TlsError::IoError)),
            exchange(ExchangeError::SendBody {
                sent: 99,
                error: TlsError::IoError,
            }),
            exchange(ExchangeError::Api {
                ret_code: 1_008_028,
                err_msg: Text::default(),
            }),
            // A 503 is work refused, not taken.
            exchange(ExchangeError::Status {
                status: 503,
                ret_code: None,
                message: Text::default(),
            }),
        ];
        for e in &retry {
            assert!(!e.may_have_been_sent(), "{e}");
            assert!(e.is_transient(), "{e}");
        }
        let refused = [
            TlsPushError::Push(PushError::Invalid(PushRequestError::EmptyContent)),
            TlsPushError::Handshake(HandshakeError::Unauthenticated),
            exchange(ExchangeError::Api {
                ret_code: 1_008_003,
                err_msg: Text::default(),
            }),
            exchange(ExchangeError::Status {
                status: 401,
                ret_code: Some(1_008_003),
                message: Text::default(),
            }),
        ];
        for e in &refused {
            assert!(!e.may_have_been_sent(), "{e}");
            assert!(!e.is_transient(), "{e}");
            assert!(!e.to_string().is_empty());
        }
        assert!(refused[2].is_auth_failure() && refused[3].is_auth_failure());
    }
}
