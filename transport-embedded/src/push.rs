//! Pushes from a device: `tpns-core`'s blocking push driver ([`tpns_core::push::push`]) over
//! TLS opened here, with an error that says whether the push may have gone out.
//!
//! There is no async push yet: `tpns-core` has no async push driver (only
//! `tpns_core::upload_async` for uploads), so an embassy device cannot push with this crate
//! until the core gains one.
//!
//! # Retrying a push
//!
//! A push that reached the service is delivered: sending it again notifies the devices twice.
//! So a push is retried only while it certainly did not go out. [`TlsPushError::is_transient`]
//! is true only then (a handshake that broke, a request cut off before its body was whole, the
//! service's rate limit), and false as soon as the whole body was handed to the connection,
//! whatever comes after (a lost answer, a 502/503/504 from a gateway that may have passed the
//! push on). [`TlsPushError::may_have_been_sent`] says which side of that line a failure is on.
//! A device loop that retries transient errors therefore sends a push at most once.

use core::fmt;

use embedded_io::{Read, Write};
use rand_core::{CryptoRng, RngCore};
use tpns_core::push::{Push, PushError, PushRequestError, PushResponse};
use tpns_core::upload::UploadError;

use crate::TlsError;
use crate::session::TlsSession;
use crate::tls::{HandshakeError, TimePolicy, TlsStream};

/// Why a TLS push failed.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TlsPushError {
    /// A push field breaks the API's rules ([`PushRequestError`] names it): checked before the
    /// connection is opened, so nothing was sent.
    Invalid(PushRequestError),
    /// The TLS handshake failed; nothing of the push was sent.
    Handshake(HandshakeError),
    /// The push exchange over the TLS connection failed.
    Push {
        /// The driver's error, by phase.
        error: PushError<TlsError>,
        /// The JSON body's length: a [`UploadError::SendBody`] that wrote fewer bytes left the
        /// body incomplete, and the service acts on no incomplete request.
        body_len: u64,
    },
}

impl TlsPushError {
    /// Whether the service may have received the whole push, and so may deliver it: the whole
    /// body was handed to the connection, and no answer said that the service refused it.
    ///
    /// True for a lost or unreadable answer, for a 5xx status (a gateway may have passed the
    /// push on), and for a write error once the whole body was written (the last record may
    /// have left). False for a failure before the body was whole, for a 4xx status and for
    /// the service's own refusal (`ret_code`).
    pub fn may_have_been_sent(&self) -> bool {
        let Self::Push { error, body_len } = self else {
            return false;
        };
        match error {
            UploadError::SendBody { sent, .. } => sent >= body_len,
            UploadError::ReadResponse(_)
            | UploadError::Response(_)
            | UploadError::Json(_)
            | UploadError::MissingField { .. } => true,
            UploadError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Whether a new attempt could succeed **and** cannot send the push twice: the handshake's
    /// connection broke, the request was cut off before its body was whole, or the service's
    /// rate limit refused it. Never true when [`may_have_been_sent`](Self::may_have_been_sent)
    /// is: a 502/503/504 or a lost answer is not retried here.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Invalid(_) => false,
            Self::Handshake(e) => e.is_transient(),
            Self::Push { error, .. } => !self.may_have_been_sent() && error.is_transient(),
        }
    }

    /// Whether the service refused the credentials (see [`UploadError::is_auth_failure`]).
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, Self::Push { error, .. } if error.is_auth_failure())
    }
}

impl fmt::Display for TlsPushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "invalid push: {e}"),
            Self::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
            Self::Push { error, .. } => write!(f, "push failed: {error}"),
        }
    }
}

impl core::error::Error for TlsPushError {}

/// A whole push over TLS: the request checked ([`PushRequest::check`]), the handshake over
/// `socket` checking the server against the session's [`Trust`], the push through
/// [`tpns_core::push::push`] with the session's HTTP buffer, then TLS `close_notify`.
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
    job.request.check().map_err(TlsPushError::Invalid)?;
    let TlsSession {
        tls,
        http,
        trust,
        rng,
    } = session;
    let mut stream = TlsStream::new(socket, &mut *tls.read, &mut *tls.write);
    crate::tls::open(&mut stream, trust, &mut *rng).map_err(TlsPushError::Handshake)?;
    let answer = push_in_own_frame(&mut stream, job, http);
    // The answer is in: a failed close_notify changes nothing about it.
    let _ = stream.close();
    answer.map_err(|error| TlsPushError::Push {
        error,
        body_len: job.request.json_len(),
    })
}

/// [`tpns_core::push::push`] in a frame of its own, so that its state and the handshake's are
/// never on the stack together (as for uploads).
#[inline(never)]
fn push_in_own_frame<T: Read + Write>(
    transport: &mut T,
    job: &Push<'_>,
    buf: &mut [u8],
) -> Result<PushResponse, PushError<T::Error>> {
    tpns_core::push::push(transport, job, buf)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use tpns_core::text::Text;

    use super::*;

    fn exchange(error: PushError<TlsError>) -> TlsPushError {
        TlsPushError::Push {
            error,
            body_len: 100,
        }
    }

    #[test]
    fn a_push_whose_body_is_out_is_never_transient() {
        let gone = [
            exchange(UploadError::ReadResponse(TlsError::IoError)),
            exchange(UploadError::SendBody {
                sent: 100,
                error: TlsError::IoError,
            }),
            exchange(UploadError::Status {
                status: 503,
                ret_code: None,
                message: Text::default(),
            }),
            exchange(UploadError::Status {
                status: 502,
                ret_code: None,
                message: Text::default(),
            }),
        ];
        for e in &gone {
            // The core calls each of these transient; after a push's body they are not.
            let TlsPushError::Push { error, .. } = e else {
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
            exchange(UploadError::SendHead(TlsError::IoError)),
            exchange(UploadError::SendBody {
                sent: 99,
                error: TlsError::IoError,
            }),
            exchange(UploadError::Api {
                ret_code: 1_008_028,
                err_msg: Text::default(),
            }),
        ];
        for e in &retry {
            assert!(!e.may_have_been_sent(), "{e}");
            assert!(e.is_transient(), "{e}");
        }
        let refused = [
            TlsPushError::Invalid(PushRequestError::EmptyContent),
            TlsPushError::Handshake(HandshakeError::Unauthenticated),
            exchange(UploadError::Api {
                ret_code: 1_008_003,
                err_msg: Text::default(),
            }),
            exchange(UploadError::Status {
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
