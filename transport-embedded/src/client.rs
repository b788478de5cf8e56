//! [`DeviceClient`]: a device's uploads and pushes in one value, made once from the
//! endpoint, the credentials, the trust, the buffers and the RNG.

use core::fmt;
use core::ops::ControlFlow;

use embedded_io::{Read, Write};
use rand_core::{CryptoRng, RngCore};
use tpns_core::auth::Credentials;
use tpns_core::endpoint::Endpoint;
use tpns_core::multipart::Boundary;
use tpns_core::push::{Push, PushAuth, PushRequest, PushResponse};
use tpns_core::response::Limits;
use tpns_core::upload::{Progress, Upload, UploadResponse};

use crate::push::{TlsPushError, push_tls};
use crate::session::{DeviceBuffers, TlsSession};
use crate::source::Package;
use crate::tls::{TimePolicy, Trust};
use crate::upload::{TlsUploadError, upload_tls};

/// A device's TPNS client over TLS: where to send (an [`Endpoint`], such as
/// `Region::Guangzhou.endpoint()`), the app's [`Credentials`], and a [`TlsSession`] (the
/// buffers, the [`Trust`], the RNG). Each call takes a connected socket (any
/// `embedded_io::{Read, Write}`, such as a [`NalStream`](crate::nal::NalStream)), opens TLS
/// on it, runs one exchange and closes TLS; the socket is the caller's to close.
///
/// The lower-level functions it calls ([`upload_tls`], [`push_tls`]) take the session and a
/// request the caller builds, for what the client does not set (`Expect: 100-continue`, a
/// signed push).
pub struct DeviceClient<'a, Tp, R> {
    service: Service<'a>,
    session: TlsSession<'a, 'a, Tp, R>,
}

/// The settings every request is made from: where, who, and the bounds on the answers.
#[derive(Debug)]
struct Service<'a> {
    endpoint: Endpoint<'a>,
    credentials: Credentials<'a>,
    limits: Limits,
}

impl Service<'_> {
    /// An upload's request (Basic auth, no `Expect: 100-continue`).
    fn upload_job<'j>(&'j self, file_name: &'j str, boundary: Boundary) -> Upload<'j> {
        Upload {
            endpoint: &self.endpoint,
            credentials: self.credentials,
            file_name,
            boundary,
            expect_continue: false,
            limits: self.limits,
        }
    }

    /// A push's request (Basic auth).
    fn push_job<'j>(&'j self, request: &PushRequest<'j>) -> Push<'j> {
        Push {
            endpoint: &self.endpoint,
            auth: PushAuth::Basic(self.credentials),
            request: *request,
            limits: self.limits,
        }
    }
}

impl<Tp: fmt::Debug, R> fmt::Debug for DeviceClient<'_, Tp, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceClient")
            .field("endpoint", &self.service.endpoint)
            .field("credentials", &self.service.credentials)
            .field("limits", &self.service.limits)
            .field("session", &self.session)
            .finish()
    }
}

/// Defines a client's upload and push from one text: the blocking `upload` and `push`, and
/// (feature `async`) `upload_async` and `push_async`, which await the async TLS functions.
/// Nothing else differs.
macro_rules! exchanges {
    (
        $(#[$upload_attr:meta])* $upload:ident = $upload_tls:path;
        $(#[$push_attr:meta])* $push:ident = $push_tls:path;
        $io:ident $(, $async:tt $await:tt)?
    ) => {
        $(#[$upload_attr])*
        pub $($async)? fn $upload<T, P>(
            &mut self,
            socket: T,
            file_name: &str,
            package: &mut P,
        ) -> Result<UploadResponse, TlsUploadError<P::Error>>
        where
            T: $io::Read + $io::Write,
            P: Package,
        {
            let boundary = self.boundary();
            let job = self.service.upload_job(file_name, boundary);
            let progress = |_| ControlFlow::Continue(());
            $upload_tls(socket, &mut self.session, &job, package, progress)$(.$await)?
        }

        $(#[$push_attr])*
        pub $($async)? fn $push<T>(
            &mut self,
            socket: T,
            request: &PushRequest<'_>,
        ) -> Result<PushResponse, TlsPushError>
        where
            T: $io::Read + $io::Write,
        {
            let job = self.service.push_job(request);
            $push_tls(socket, &mut self.session, &job)$(.$await)?
        }
    };
}

impl<'a, Tp, R> DeviceClient<'a, Tp, R>
where
    Tp: TimePolicy + Copy,
    R: CryptoRng + RngCore,
{
    /// A client of `endpoint` with `credentials`, checking servers against `trust` (whose
    /// server name should be the endpoint's host), over `buffers`, drawing randomness from
    /// `rng`.
    pub fn new<const READ: usize, const WRITE: usize, const HTTP: usize>(
        endpoint: Endpoint<'a>,
        credentials: Credentials<'a>,
        trust: Trust<'a, Tp>,
        buffers: &'a mut DeviceBuffers<READ, WRITE, HTTP>,
        rng: R,
    ) -> Self {
        DeviceClient {
            service: Service {
                endpoint,
                credentials,
                limits: Limits::default(),
            },
            session: TlsSession::new(buffers, trust, rng),
        }
    }

    /// Sets other bounds on the answers (default: [`Limits::default`]).
    pub fn set_limits(&mut self, limits: Limits) {
        self.service.limits = limits;
    }

    /// The session, for the lower-level functions.
    pub fn session(&mut self) -> &mut TlsSession<'a, 'a, Tp, R> {
        &mut self.session
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint<'a> {
        &self.service.endpoint
    }

    exchanges!(
        /// Uploads `package` (from its first byte) as `file_name` over TLS on `socket`.
        ///
        /// The package is rewound first: a retry is the same call with the same package on a new
        /// connection, when [`TlsUploadError::is_transient`] says so.
        ///
        /// # Errors
        ///
        /// As for [`upload_tls`].
        upload = upload_tls;
        /// Pushes `request` (Basic auth, with the client's credentials) over TLS on `socket`.
        ///
        /// Retry only when [`TlsPushError::is_transient`] says so: it is false once the push may
        /// have gone out, so a retry loop sends a push at most once.
        ///
        /// # Errors
        ///
        /// As for [`push_tls`].
        push = push_tls;
        embedded_io
    );

    /// [`upload`](Self::upload), calling `progress` as the package goes out; it may cancel.
    ///
    /// # Errors
    ///
    /// As for [`upload_tls`].
    pub fn upload_with_progress<T, P, F>(
        &mut self,
        socket: T,
        file_name: &str,
        package: &mut P,
        progress: F,
    ) -> Result<UploadResponse, TlsUploadError<P::Error>>
    where
        T: Read + Write,
        P: Package,
        F: FnMut(Progress) -> ControlFlow<()>,
    {
        let boundary = self.boundary();
        let job = self.service.upload_job(file_name, boundary);
        upload_tls(socket, &mut self.session, &job, package, progress)
    }

    #[cfg(feature = "async")]
    exchanges!(
        /// [`upload`](Self::upload) over an `embedded_io_async` socket (feature `async`), such as
        /// an embassy-net `TcpSocket`.
        ///
        /// # Errors
        ///
        /// As for [`upload_tls`].
        upload_async = crate::upload::upload_tls_async;
        /// [`push`](Self::push) over an `embedded_io_async` socket (feature `async`), such as an
        /// embassy-net `TcpSocket`.
        ///
        /// # Errors
        ///
        /// As for [`push_tls`].
        push_async = crate::push::push_tls_async;
        embedded_io_async,
        async await
    );

    /// A fresh multipart boundary: 128 bits from the RNG.
    fn boundary(&mut self) -> Boundary {
        let mut random = [0u8; 16];
        self.session.rng.fill_bytes(&mut random);
        Boundary::from_random(random)
    }
}
