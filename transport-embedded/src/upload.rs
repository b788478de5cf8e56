//! Whole uploads for devices: a [`Package`] through `tpns-core`'s driver, over a plain stream
//! or over TLS opened here.
//!
//! The protocol (request bytes, response reading, what an answer means) is `tpns-core`'s, in
//! one place for both paths: the blocking functions call [`tpns_core::upload::upload`], the
//! async ones (feature `async`) `tpns_core::upload_async::upload`. What is added here is the
//! device side around it: start the package over, open and close TLS.

use core::fmt;
use core::ops::ControlFlow;

use embedded_tls::TlsError;
use rand_core::{CryptoRng, RngCore};
use tpns_core::multipart::BodyError;
use tpns_core::upload::{Progress, Upload, UploadError, UploadResponse};

use crate::session::TlsSession;
use crate::source::Package;
use crate::tls::{HandshakeError, TimePolicy};

/// Why a TLS upload failed.
///
/// `S` is the package source's error.
#[derive(Debug)]
#[non_exhaustive]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TlsUploadError<S> {
    /// The TLS handshake failed: [`HandshakeError::Certificate`] (with the rule broken) when
    /// the server is not the one [`Trust`](crate::tls::Trust) names.
    Handshake(HandshakeError),
    /// The upload over the TLS connection failed.
    Upload(UploadError<TlsError, S>),
}

impl<S> TlsUploadError<S> {
    /// Whether a new attempt could succeed: a transport failure during the handshake or the
    /// upload, a 502/503/504 or the rate limit. A refused certificate is never transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Handshake(e) => e.is_transient(),
            Self::Upload(e) => e.is_transient(),
        }
    }

    /// Whether the service refused the credentials (see [`UploadError::is_auth_failure`]).
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, Self::Upload(e) if e.is_auth_failure())
    }
}

impl<S: fmt::Display> fmt::Display for TlsUploadError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
            Self::Upload(e) => write!(f, "{e}"),
        }
    }
}

impl<S: fmt::Debug + fmt::Display> core::error::Error for TlsUploadError<S> {}

/// Starts `package` over, with its failure as an upload error.
fn rewind<P: Package, T>(package: &mut P) -> Result<u64, UploadError<T, P::Error>> {
    package
        .rewind()
        .map_err(|error| UploadError::Source(BodyError::Source { offset: 0, error }))?;
    Ok(package.len())
}

/// Defines the package upload and the TLS upload from one text: the blocking
/// [`upload_package`] and [`upload_tls`], and (feature `async`) `upload_package_async` and
/// `upload_tls_async`, which await the core's async driver and embedded-tls's async connection.
/// Nothing else differs.
macro_rules! uploads {
    (
        $(#[$package_attr:meta])* $package:ident = $core_upload:path;
        $(#[$tls_attr:meta])* $tls:ident over $over:ident;
        $io:ident $(, $async:tt $await:tt)?
    ) => {
        $(#[$package_attr])*
        pub $($async)? fn $package<T, P, F>(
            transport: &mut T,
            job: &Upload<'_>,
            package: &mut P,
            buf: &mut [u8],
            progress: F,
        ) -> Result<UploadResponse, UploadError<T::Error, P::Error>>
        where
            T: $io::Read + $io::Write,
            P: Package,
            F: FnMut(Progress) -> ControlFlow<()>,
        {
            let len = rewind(package)?;
            $core_upload(transport, job, &mut *package, len, buf, progress)$(.$await)?
        }

        $(#[$tls_attr])*
        pub $($async)? fn $tls<T, P, R, Tp, F>(
            socket: T,
            session: &mut TlsSession<'_, '_, Tp, R>,
            job: &Upload<'_>,
            package: &mut P,
            progress: F,
        ) -> Result<UploadResponse, TlsUploadError<P::Error>>
        where
            T: $io::Read + $io::Write,
            P: Package,
            R: CryptoRng + RngCore,
            Tp: TimePolicy + Copy,
            F: FnMut(Progress) -> ControlFlow<()>,
        {
            session
                .$over(socket, $($async)? |stream, http| {
                    $package(stream, job, package, http, progress)$(.$await)?
                })
                $(.$await)?
                .map_err(TlsUploadError::Handshake)?
                .map_err(TlsUploadError::Upload)
        }
    };
}

uploads!(
    /// Uploads `package` from its first byte over `transport` (plain, or TLS the caller opened).
    ///
    /// The package is rewound first, so calling this again after a transient failure (on a new
    /// connection) sends the whole package again. `buf` and `progress` are as for
    /// [`tpns_core::upload::upload`].
    ///
    /// # Errors
    ///
    /// [`UploadError`] by phase; a failed rewind is [`UploadError::Source`] at offset 0.
    upload_package = tpns_core::upload::upload;
    /// A whole upload over TLS: handshake over `socket` checking the server against the session's
    /// [`Trust`](crate::tls::Trust), the upload of `package` (from its first byte), then TLS `close_notify`.
    ///
    /// `socket` may be `&mut` a socket, so the caller keeps it to close the TCP connection. The
    /// RAM it needs is the session's buffers and the stack. [`DeviceClient`] makes the [`Upload`]
    /// from its settings; this is for a caller who builds it.
    ///
    /// [`DeviceClient`]: crate::client::DeviceClient
    ///
    /// # Errors
    ///
    /// [`TlsUploadError::Handshake`] when TLS could not be set up (a refused certificate among
    /// others), [`TlsUploadError::Upload`] for the upload's own failures.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn run(
    /// #     socket: impl embedded_io::Read + embedded_io::Write,
    /// #     trng: impl rand_core::CryptoRng + rand_core::RngCore,
    /// #     job: &tpns_core::upload::Upload<'_>,
    /// # ) -> Result<(), tpns_transport_embedded::upload::TlsUploadError<core::convert::Infallible>> {
    /// use core::ops::ControlFlow;
    /// use tpns_transport_embedded::session::{DeviceBuffers, TlsSession};
    /// use tpns_transport_embedded::source::FlashPackage;
    /// use tpns_transport_embedded::tls::{Trust, roots};
    /// use tpns_transport_embedded::upload::upload_tls;
    ///
    /// let trust = Trust::new(roots::TPNS, "api.tpns.tencent.com").unwrap().not_before(1_795_000_000);
    /// let mut buffers: DeviceBuffers = DeviceBuffers::new();
    /// let mut session = TlsSession::new(&mut buffers, trust, trng);
    /// let mut package = FlashPackage::new(b"device-000001\n");
    /// let answer = upload_tls(socket, &mut session, job, &mut package, |_| ControlFlow::Continue(()))?;
    /// # Ok(()) }
    /// ```
    upload_tls over over_tls;
    embedded_io
);

#[cfg(feature = "async")]
uploads!(
    /// [`upload_package`] over an `embedded_io_async` transport (feature `async`): the same
    /// request and the same reading of the answer, by `tpns_core::upload_async::upload`.
    ///
    /// # Errors
    ///
    /// As for [`upload_package`].
    upload_package_async = tpns_core::upload_async::upload;
    /// [`upload_tls`] over an `embedded_io_async` socket (feature `async`), such as an
    /// embassy-net `TcpSocket`: `embedded-tls`'s async connection, the same [`Trust`](crate::tls::Trust) checks.
    ///
    /// # Errors
    ///
    /// As for [`upload_tls`].
    upload_tls_async over over_tls_async;
    embedded_io_async,
    async await
);
