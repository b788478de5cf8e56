//! TLS 1.3 through `embedded-tls` 0.19, with the server's certificate chain verified by
//! [`tpns_pki`]: RFC 5280 path validation from the leaf through the intermediates the server
//! sends to a trust anchor the caller chose, ECDSA and RSA signatures, the host name, and dates
//! as the caller decides. No heap.
//!
//! The pieces are shared by the blocking and the async connection: [`Trust`] says whom to
//! trust and how to date the chain, [`ChainVerifier`] is the `embedded-tls` verifier that holds
//! what the handshake proved, and [`TlsBuffers`] the two record buffers. Only the connection
//! type differs: [`connect`] gives a [`TlsStream`] over any `embedded_io::{Read, Write}`, and
//! (feature `async`) `connect_async` an `AsyncTlsStream` over `embedded_io_async`.
//!
//! # What embedded-tls does not enforce, and the guard here
//!
//! embedded-tls 0.19 finishes a TLS 1.3 handshake whether or not the server sent a Certificate
//! and a CertificateVerify: its verifier is only called when those messages arrive. A server
//! that skips them would get a "verified" connection, and the request with the credentials.
//! So [`ChainVerifier`] records both results, and [`open`] / `open_async` fail with
//! [`HandshakeError::Unauthenticated`] unless the chain **and** the CertificateVerify signature
//! were both verified, before a byte of the request is written. (Its own verifier also reaches
//! an `unwrap` when a CertificateVerify comes before any Certificate; ours returns an error.)
//!
//! Switching the checks off is possible only through [`dangerous_connect_unverified`]: a
//! visible, named choice.

use core::fmt;
use core::marker::PhantomData;

use embedded_io::{Read, Write};
/// embedded-tls's clock that has no time ([`TlsClock::now`] returns `None`): with
/// [`Trust::check_time`] it refuses every server, so use [`Trust::not_before`] on a board with
/// no clock instead.
pub use embedded_tls::NoClock;
/// A clock for [`Trust::check_time`]: `now()` gives the Unix time in seconds, or `None` when
/// the clock has no time (the server is then refused with
/// [`HandshakeError::ClockUnavailable`]).
pub use embedded_tls::TlsClock;
/// embedded-tls's error (also [`crate::TlsError`]): the error of a [`TlsStream`]'s reads and
/// writes, and [`HandshakeError::Tls`] for a handshake that failed below the certificate
/// checks (the transport, the protocol, an alert from the server).
pub use embedded_tls::TlsError;
use embedded_tls::{
    Aes128GcmSha256, CertificateEntryRef, CertificateRef, CertificateVerifyRef, CryptoProvider,
    TlsCipherSuite, TlsConfig, TlsContext, TlsVerifier, UnsecureProvider,
};
use rand_core::{CryptoRng, RngCore};
use sha2::Digest;
/// The server's public key, kept from its verified leaf certificate to check the
/// CertificateVerify (at most 530 bytes).
pub use tpns_pki::LeafKey;
/// The most intermediate certificates a server's chain may carry; more is
/// `tpns_pki::Error::TooManyCertificates`.
pub use tpns_pki::MAX_INTERMEDIATES;
/// The validation time of a chain: what a [`TimePolicy`] gives ([`Time::At`] a clock's time,
/// [`Time::NotBefore`] a floor, [`Time::DangerousAnyTime`] no date check).
pub use tpns_pki::Time;
/// A trust anchor: a root's name and key, as [`anchor_from_der`] reads them from a certificate
/// or [`roots`] holds them for the TPNS hosts.
pub use tpns_pki::TrustAnchor;
/// Reads a trust anchor from a CA certificate (DER) that lives as long as the anchor.
pub use tpns_pki::anchor_from_der;
/// The trust anchors of the TPNS hosts ([`roots::TPNS`]: DigiCert Global Root G2), and others
/// to pick one by one.
pub use tpns_pki::roots;

/// The cipher suite used: TLS_AES_128_GCM_SHA256, which every TLS 1.3 server offers.
pub type Suite = Aes128GcmSha256;

/// A blocking TLS connection over the transport `T`, borrowing the record buffers for `'b`.
/// It is an `embedded_io::{Read, Write}` itself, with [`TlsError`] as its error.
///
/// Made by [`connect`] (or [`TlsStream::new`](embedded_tls::blocking::TlsConnection::new)
/// and [`open`]). Close it with
/// [`close`](embedded_tls::blocking::TlsConnection::close)`(self) -> Result<T, (T, TlsError)>`:
/// it sends `close_notify` and gives the transport back, on failure with the error, so the
/// caller can still close the socket. A stream dropped without `close` sends nothing: the
/// server sees the TCP connection end without `close_notify`.
pub type TlsStream<'b, T> = embedded_tls::blocking::TlsConnection<'b, T, Suite>;

/// An async TLS connection over the transport `T` (feature `async`): an
/// `embedded_io_async::{Read, Write}`, closed with `close().await` as [`TlsStream`] is.
#[cfg(feature = "async")]
pub type AsyncTlsStream<'b, T> = embedded_tls::TlsConnection<'b, T, Suite>;

/// The size of the read record buffer that fits any TLS record a server may send (16 KiB of
/// plaintext plus the record's overhead): what [`TlsBuffers::read`] should hold. A server's
/// whole Certificate message must fit one record here; public chains (a leaf of 6–9 KB with
/// many SANs plus an intermediate) do.
pub const READ_RECORD_LEN: usize = 16_640;

/// A write record buffer size that fits the ClientHello and keeps the per-record overhead
/// (about 2 % here) low. Smaller works down to a few hundred bytes.
pub const WRITE_RECORD_LEN: usize = 1024;

/// Longest server name: a DNS name of 253 characters.
pub const MAX_SERVER_NAME: usize = 253;

/// The two record buffers of a TLS connection, owned by the caller.
#[derive(Debug)]
pub struct TlsBuffers<'b> {
    /// Incoming records: [`READ_RECORD_LEN`] bytes fit anything.
    pub read: &'b mut [u8],
    /// Outgoing records: [`WRITE_RECORD_LEN`] is a good size.
    pub write: &'b mut [u8],
}

impl<'b> TlsBuffers<'b> {
    /// The two buffers.
    pub fn new(read: &'b mut [u8], write: &'b mut [u8]) -> Self {
        TlsBuffers { read, write }
    }
}

/// Why a [`Trust`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TrustError {
    /// No trust anchor was given.
    NoAnchors,
    /// The server name is empty, longer than [`MAX_SERVER_NAME`], or neither a DNS name nor an
    /// IP address.
    InvalidServerName,
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoAnchors => "no trust anchor was given",
            Self::InvalidServerName => {
                "the server name is not a DNS name of at most 253 bytes or an IP address"
            }
        })
    }
}

impl core::error::Error for TrustError {}

/// Why a verifying handshake failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum HandshakeError {
    /// embedded-tls failed: the transport, the protocol, or an alert from the server.
    Tls(TlsError),
    /// The server's certificate chain was refused; the rule it broke.
    Certificate(tpns_pki::Error),
    /// The server's CertificateVerify did not verify with its certificate's key, or used a
    /// scheme that key cannot make.
    Signature(tpns_pki::Error),
    /// The handshake finished without the server proving who it is: no Certificate, or no
    /// CertificateVerify, or one before the other. Nothing was sent.
    Unauthenticated,
    /// [`Trust::check_time`] was chosen and the clock gave no time: the dates cannot be
    /// checked, so the server is refused (use [`Trust::not_before`] on a board whose clock
    /// may be unset).
    ClockUnavailable,
}

impl HandshakeError {
    /// Whether a new attempt could succeed: the connection broke during the handshake. A
    /// refused server is never transient.
    pub fn is_transient(&self) -> bool {
        // embedded-tls reports a connection that broke mid-handshake as `IoError` or `Io`.
        matches!(
            self,
            Self::Tls(TlsError::Io(_) | TlsError::IoError | TlsError::ConnectionClosed)
        )
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tls(e) => write!(f, "TLS failed: {e:?}"),
            Self::Certificate(e) => write!(f, "the server's certificate was refused: {e}"),
            Self::Signature(e) => write!(f, "the server's handshake signature was refused: {e}"),
            Self::Unauthenticated => f.write_str(
                "the server finished the handshake without proving its identity (no \
                 Certificate or CertificateVerify)",
            ),
            Self::ClockUnavailable => {
                f.write_str("the clock gave no time, so certificate dates cannot be checked")
            }
        }
    }
}

impl core::error::Error for HandshakeError {}

/// By hand: [`tpns_pki::Error`] has no `defmt::Format`, so the rule a chain broke is logged
/// through its `Display` text.
#[cfg(feature = "defmt")]
impl defmt::Format for HandshakeError {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Self::Tls(e) => defmt::write!(f, "Tls({})", e),
            Self::Certificate(e) => defmt::write!(f, "Certificate({})", defmt::Display2Format(e)),
            Self::Signature(e) => defmt::write!(f, "Signature({})", defmt::Display2Format(e)),
            Self::Unauthenticated => defmt::write!(f, "Unauthenticated"),
            Self::ClockUnavailable => defmt::write!(f, "ClockUnavailable"),
        }
    }
}

impl From<TlsError> for HandshakeError {
    fn from(e: TlsError) -> Self {
        Self::Tls(e)
    }
}

/// How a [`Trust`] dates certificates: the trait of [`CheckTime`], [`NotBefore`] and
/// [`SkipTime`]. Sealed.
pub trait TimePolicy: sealed::Sealed {
    /// The validation time for a handshake now.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::ClockUnavailable`] when a clock gives no time.
    fn validation_time(&self) -> Result<Time, HandshakeError>;
}

mod sealed {
    pub trait Sealed {}
    impl<C> Sealed for super::CheckTime<C> {}
    impl Sealed for super::NotBefore {}
    impl Sealed for super::SkipTime {}
}

/// The time of a [`Trust`] not chosen yet: choose [`Trust::check_time`], [`Trust::not_before`]
/// or [`Trust::dangerous_skip_time_check`] before a handshake.
#[derive(Debug, Clone, Copy)]
pub struct TimeNotChosen(());

/// Dates checked against the clock `C` ([`TlsClock::now`], Unix seconds). A clock that gives
/// no time refuses the server.
pub struct CheckTime<C>(PhantomData<fn() -> C>);

impl<C> Clone for CheckTime<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for CheckTime<C> {}
impl<C> fmt::Debug for CheckTime<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckTime<{}>", core::any::type_name::<C>())
    }
}

impl<C: TlsClock> TimePolicy for CheckTime<C> {
    fn validation_time(&self) -> Result<Time, HandshakeError> {
        C::now()
            .map(Time::At)
            .ok_or(HandshakeError::ClockUnavailable)
    }
}

/// Dates checked against a floor: now is at least this many Unix seconds (e.g. the firmware's
/// build time). See [`Time::NotBefore`].
#[derive(Debug, Clone, Copy)]
pub struct NotBefore(pub u64);

impl TimePolicy for NotBefore {
    fn validation_time(&self) -> Result<Time, HandshakeError> {
        Ok(Time::NotBefore(self.0))
    }
}

/// Dates not checked. See [`Trust::dangerous_skip_time_check`].
#[derive(Debug, Clone, Copy)]
pub struct SkipTime(());

impl TimePolicy for SkipTime {
    fn validation_time(&self) -> Result<Time, HandshakeError> {
        Ok(Time::DangerousAnyTime)
    }
}

/// Whom the device trusts: the trust anchors a server's chain must lead to, the name the
/// server's certificate must be for, and how certificate dates are checked.
///
/// [`Trust::new`] leaves the dates unchosen ([`TimeNotChosen`]), and such a `Trust` cannot
/// open a connection. Choose one:
///
/// - [`Trust::check_time`] with a [`TlsClock`] (an RTC, or network time): the full check; a
///   clock that returns `None` refuses the server;
/// - [`Trust::not_before`] with a floor such as the firmware's build time, for a board with no
///   RTC: a certificate that expired before the floor is refused;
/// - [`Trust::dangerous_skip_time_check`]: an expired certificate is accepted.
#[derive(Clone, Copy)]
pub struct Trust<'a, T = TimeNotChosen> {
    anchors: &'a [TrustAnchor<'a>],
    server_name: &'a str,
    time: T,
}

impl<T: fmt::Debug> fmt::Debug for Trust<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("anchors", &self.anchors.len())
            .field("server_name", &self.server_name)
            .field("time", &self.time)
            .finish()
    }
}

impl<'a> Trust<'a> {
    /// Trust servers whose chain leads to one of `anchors` and whose certificate is for
    /// `server_name` (a DNS name, or an IP address matched against IP SANs).
    ///
    /// Then choose how dates are checked: until then the `Trust` opens no connection.
    ///
    /// # Errors
    ///
    /// [`TrustError`] for no anchors, or a server name that cannot be checked.
    ///
    /// # Examples
    ///
    /// ```
    /// use tpns_transport_embedded::tls::{Trust, TrustError, roots};
    /// const BUILD_TIME: u64 = 1_795_000_000; // e.g. from the build script
    /// let trust = Trust::new(roots::TPNS, "api.tpns.tencent.com").unwrap().not_before(BUILD_TIME);
    /// assert_eq!(trust.server_name(), "api.tpns.tencent.com");
    /// assert_eq!(Trust::new(&[], "localhost").unwrap_err(), TrustError::NoAnchors);
    /// ```
    pub fn new(anchors: &'a [TrustAnchor<'a>], server_name: &'a str) -> Result<Self, TrustError> {
        if anchors.is_empty() {
            return Err(TrustError::NoAnchors);
        }
        if server_name.is_empty()
            || server_name.len() > MAX_SERVER_NAME
            || rustls_pki_types::ServerName::try_from(server_name).is_err()
        {
            return Err(TrustError::InvalidServerName);
        }
        Ok(Trust {
            anchors,
            server_name,
            time: TimeNotChosen(()),
        })
    }
}

impl<'a, T> Trust<'a, T> {
    fn with_time<U>(self, time: U) -> Trust<'a, U> {
        Trust {
            anchors: self.anchors,
            server_name: self.server_name,
            time,
        }
    }

    /// The same trust, checking dates against the clock `C`. When the clock gives no time
    /// (`None`), the handshake fails with [`HandshakeError::ClockUnavailable`].
    pub fn check_time<C: TlsClock>(self) -> Trust<'a, CheckTime<C>> {
        self.with_time(CheckTime(PhantomData))
    }

    /// The same trust, taking `floor` (Unix seconds) as a lower bound on now: for a board with
    /// no real-time clock, pass the firmware's build time. A certificate that expired before
    /// `floor` is refused; one that expired since is accepted. See [`Time::NotBefore`].
    pub fn not_before(self, floor: u64) -> Trust<'a, NotBefore> {
        self.with_time(NotBefore(floor))
    }

    /// The same trust, **not** checking validity dates: an expired, or not yet valid,
    /// certificate is accepted; the chain, the signatures and the host name are still checked.
    /// Prefer [`Trust::not_before`] on a board with no clock.
    pub fn dangerous_skip_time_check(self) -> Trust<'a, SkipTime> {
        self.with_time(SkipTime(()))
    }

    /// The trust anchors.
    pub fn anchors(&self) -> &'a [TrustAnchor<'a>] {
        self.anchors
    }

    /// The name the server's certificate must carry.
    pub fn server_name(&self) -> &'a str {
        self.server_name
    }
}

impl<'a, T: TimePolicy> Trust<'a, T> {
    /// The verifier for one handshake with this trust.
    pub fn verifier(&self) -> ChainVerifier<'a, T>
    where
        T: Copy,
    {
        ChainVerifier {
            trust: *self,
            leaf: None,
            transcript: None,
            signature_verified: false,
            refusal: None,
        }
    }

    /// The `embedded-tls` configuration: the server name as SNI (DNS names only, RFC 6066
    /// §3), and the RSA signature schemes offered beside ECDSA.
    pub fn config(&self) -> TlsConfig<'a> {
        let config = TlsConfig::new().enable_rsa_signatures();
        if self.server_name.parse::<core::net::IpAddr>().is_ok() {
            config
        } else {
            config.with_server_name(self.server_name)
        }
    }
}

/// The `embedded-tls` verifier of a handshake: it verifies the server's chain with
/// [`tpns_pki::verify_server_chain`] when the Certificate arrives, keeps the leaf's key, checks
/// the CertificateVerify with it, and remembers what was proved and why something was refused.
/// Made by [`Trust::verifier`]; [`open`] checks [`ChainVerifier::is_authenticated`] after the
/// handshake.
pub struct ChainVerifier<'a, T> {
    trust: Trust<'a, T>,
    leaf: Option<LeafKey>,
    /// The transcript up to the Certificate, which the CertificateVerify signs.
    transcript: Option<<Suite as TlsCipherSuite>::Hash>,
    signature_verified: bool,
    refusal: Option<HandshakeError>,
}

impl<T> fmt::Debug for ChainVerifier<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainVerifier")
            .field("server_name", &self.trust.server_name)
            .field("leaf", &self.leaf)
            .field("signature_verified", &self.signature_verified)
            .field("refusal", &self.refusal)
            .finish()
    }
}

impl<T> ChainVerifier<'_, T> {
    /// Whether the server proved who it is: its chain verified and then its CertificateVerify.
    pub fn is_authenticated(&self) -> bool {
        self.leaf.is_some() && self.signature_verified
    }

    /// The handshake's outcome: `result` is what embedded-tls returned; the refusal recorded
    /// here, if any, is the better reason.
    fn outcome(&mut self, result: Result<(), TlsError>) -> Result<(), HandshakeError> {
        match result {
            Err(e) => Err(self.refusal.take().unwrap_or(HandshakeError::Tls(e))),
            Ok(()) if self.is_authenticated() => Ok(()),
            Ok(()) => Err(HandshakeError::Unauthenticated),
        }
    }
}

/// The context string and padding of a TLS 1.3 server CertificateVerify (RFC 8446 §4.4.3).
const CERTIFICATE_VERIFY_CONTEXT: &[u8] = b"TLS 1.3, server CertificateVerify\x00";

impl<T: TimePolicy> TlsVerifier<Suite> for ChainVerifier<'_, T> {
    fn set_hostname_verification(&mut self, _hostname: &str) -> Result<(), TlsError> {
        // The name checked is the Trust's own, not whatever the config says.
        Ok(())
    }

    fn verify_certificate(
        &mut self,
        transcript: &<Suite as TlsCipherSuite>::Hash,
        cert: CertificateRef<'_>,
    ) -> Result<(), TlsError> {
        // A second Certificate starts over: nothing proved by the first one counts.
        self.leaf = None;
        self.transcript = None;
        self.signature_verified = false;
        let mut chain: [&[u8]; 1 + MAX_INTERMEDIATES] = [&[]; 1 + MAX_INTERMEDIATES];
        let mut n = 0;
        for entry in cert.entries.iter() {
            let CertificateEntryRef::X509(der) = entry else {
                self.refusal = Some(HandshakeError::Certificate(tpns_pki::Error::Malformed));
                return Err(TlsError::InvalidCertificate);
            };
            let Some(slot) = chain.get_mut(n) else {
                let count = cert.entries.len();
                self.refusal = Some(HandshakeError::Certificate(
                    tpns_pki::Error::TooManyCertificates(count),
                ));
                return Err(TlsError::InvalidCertificate);
            };
            *slot = der;
            n += 1;
        }
        let time = match self.trust.time.validation_time() {
            Ok(time) => time,
            Err(e) => {
                self.refusal = Some(e);
                return Err(TlsError::InvalidCertificate);
            }
        };
        match tpns_pki::verify_server_chain(
            &chain[..n],
            self.trust.anchors,
            self.trust.server_name,
            time,
        ) {
            Ok(key) => {
                self.leaf = Some(key);
                self.transcript = Some(transcript.clone());
                Ok(())
            }
            Err(e) => {
                self.refusal = Some(HandshakeError::Certificate(e));
                Err(TlsError::InvalidCertificate)
            }
        }
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef<'_>) -> Result<(), TlsError> {
        // One CertificateVerify per verified Certificate, and never one before it.
        let (Some(leaf), Some(transcript)) = (&self.leaf, self.transcript.take()) else {
            self.refusal = Some(HandshakeError::Unauthenticated);
            return Err(TlsError::InvalidSignature);
        };
        let mut message = [0x20u8; 64 + CERTIFICATE_VERIFY_CONTEXT.len() + 32];
        message[64..64 + CERTIFICATE_VERIFY_CONTEXT.len()]
            .copy_from_slice(CERTIFICATE_VERIFY_CONTEXT);
        message[64 + CERTIFICATE_VERIFY_CONTEXT.len()..].copy_from_slice(&transcript.finalize());
        match leaf.verify_tls13(verify.signature_scheme.as_u16(), &message, verify.signature) {
            Ok(()) => {
                self.signature_verified = true;
                Ok(())
            }
            Err(e) => {
                self.refusal = Some(HandshakeError::Signature(e));
                Err(TlsError::InvalidSignature)
            }
        }
    }
}

/// The crypto provider of a verifying handshake: the caller's random generator (the device's
/// TRNG, or a CSPRNG seeded from it) and a [`ChainVerifier`] the caller keeps, to read what the
/// handshake proved once it is over.
pub struct Verifying<'v, 'a, R, T> {
    rng: R,
    verifier: &'v mut ChainVerifier<'a, T>,
}

impl<R, T> fmt::Debug for Verifying<'_, '_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifying").finish_non_exhaustive()
    }
}

impl<R: CryptoRng + RngCore, T: TimePolicy> CryptoProvider for Verifying<'_, '_, R, T> {
    type CipherSuite = Suite;
    type Signature = &'static [u8];

    fn rng(&mut self) -> impl embedded_tls::CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Suite>, TlsError> {
        Ok(&mut *self.verifier)
    }
}

/// Defines the handshake functions from one text: the blocking [`connect`] and [`open`] over
/// `embedded_io`, and (feature `async`) `connect_async` and `open_async` over
/// `embedded_io_async`, which await embedded-tls's async connection. Nothing else differs.
macro_rules! handshakes {
    (
        $(#[$connect_attr:meta])* $connect:ident;
        $(#[$open_attr:meta])* $open:ident;
        $stream:ident, $io:ident $(, $async:tt $await:tt)?
    ) => {
        $(#[$connect_attr])*
        pub $($async)? fn $connect<'b, T, R, P>(
            transport: T,
            buffers: TlsBuffers<'b>,
            trust: &Trust<'_, P>,
            rng: R,
        ) -> Result<$stream<'b, T>, HandshakeError>
        where
            T: $io::Read + $io::Write + 'b,
            R: CryptoRng + RngCore,
            P: TimePolicy + Copy,
        {
            let mut stream = $stream::new(transport, buffers.read, buffers.write);
            $open(&mut stream, trust, rng)$(.$await)??;
            Ok(stream)
        }

        $(#[$open_attr])*
        pub $($async)? fn $open<T, R, P>(
            stream: &mut $stream<'_, T>,
            trust: &Trust<'_, P>,
            rng: R,
        ) -> Result<(), HandshakeError>
        where
            T: $io::Read + $io::Write,
            R: CryptoRng + RngCore,
            P: TimePolicy + Copy,
        {
            let config = trust.config();
            let mut verifier = trust.verifier();
            let context = TlsContext::new(
                &config,
                Verifying {
                    rng,
                    verifier: &mut verifier,
                },
            );
            let result = stream.open(context)$(.$await)?;
            verifier.outcome(result)
        }
    };
}

handshakes!(
    /// Opens a TLS 1.3 connection over `transport`, verifying the server against `trust`.
    ///
    /// `transport` is any `embedded_io::{Read, Write}`: a [`crate::nal::NalStream`], a serial
    /// line, or `&mut` one of them to keep it for closing.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::Certificate`] with the rule the chain broke;
    /// [`HandshakeError::Signature`] when the server does not hold the certificate's key;
    /// [`HandshakeError::Unauthenticated`] when the server skipped proving who it is;
    /// [`HandshakeError::ClockUnavailable`]; [`HandshakeError::Tls`] for the transport's and the
    /// protocol's failures.
    connect;
    /// The handshake of [`connect`] on a connection the caller made with
    /// [`TlsStream::new`](embedded_tls::blocking::TlsConnection::new): the connection then stays
    /// where the caller put it (no move of its 1.3 KB state). On an error, drop the connection
    /// without writing to it.
    ///
    /// # Errors
    ///
    /// As for [`connect`].
    // Never inlined: the handshake's state (the verifier, the key schedule in the making) then
    // lives in this call's frame only, gone before the upload's state is made; the peak stack is
    // the larger of the two, not their sum.
    #[inline(never)]
    open;
    TlsStream,
    embedded_io
);

#[cfg(feature = "async")]
handshakes!(
    /// Like [`connect`], over an `embedded_io_async` transport (an embassy-net `TcpSocket`, an
    /// `embedded-nal-async` connection).
    ///
    /// # Errors
    ///
    /// As for [`connect`].
    connect_async;
    /// [`open`] for the async connection.
    ///
    /// # Errors
    ///
    /// As for [`connect`].
    open_async;
    AsyncTlsStream,
    embedded_io_async,
    async await
);

/// **Dangerous**: opens a TLS connection that accepts *any* server certificate, so anyone on
/// the path can read the credentials and the package. Only for a server whose identity is
/// established by other means, or a bench test; never for TPNS.
///
/// `server_name` is sent as SNI only; it is not checked.
///
/// # Errors
///
/// [`TlsError`] for transport and protocol failures.
pub fn dangerous_connect_unverified<'b, T, R>(
    transport: T,
    buffers: TlsBuffers<'b>,
    server_name: Option<&str>,
    rng: R,
) -> Result<TlsStream<'b, T>, TlsError>
where
    T: Read + Write + 'b,
    R: CryptoRng + RngCore,
{
    let mut tls = TlsStream::new(transport, buffers.read, buffers.write);
    let mut config = TlsConfig::new();
    if let Some(name) = server_name {
        config = config.with_server_name(name);
    }
    tls.open(TlsContext::new(
        &config,
        UnsecureProvider::new::<Suite>(rng),
    ))?;
    Ok(tls)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn trust_refuses_what_cannot_be_checked() {
        let anchors = roots::TPNS;
        assert_eq!(
            Trust::new(&[], "localhost").unwrap_err(),
            TrustError::NoAnchors
        );
        let long = "a".repeat(254);
        for bad in [
            "",
            "a b",
            "host/",
            "a..b",
            "caf\u{e9}.example",
            long.as_str(),
        ] {
            assert_eq!(
                Trust::new(anchors, bad).unwrap_err(),
                TrustError::InvalidServerName,
                "{bad}"
            );
        }
        for good in [
            "localhost",
            "api.tpns.sgp.tencent.com",
            "127.0.0.1",
            "::1",
            &"a".repeat(63),
        ] {
            let t = Trust::new(anchors, good).unwrap();
            assert_eq!(t.server_name(), good);
            assert_eq!(t.anchors().len(), anchors.len());
        }
        assert!(!TrustError::NoAnchors.to_string().is_empty());
    }

    /// The clock whose `now()` fails.
    struct BrokenClock;
    impl TlsClock for BrokenClock {
        fn now() -> Option<u64> {
            None
        }
    }

    #[test]
    fn a_clock_without_time_refuses_instead_of_skipping_dates() {
        let t = Trust::new(roots::TPNS, "localhost").unwrap();
        assert!(matches!(
            t.check_time::<BrokenClock>().time.validation_time(),
            Err(HandshakeError::ClockUnavailable)
        ));
        assert!(matches!(
            t.not_before(5).time.validation_time(),
            Ok(Time::NotBefore(5))
        ));
        assert!(matches!(
            t.dangerous_skip_time_check().time.validation_time(),
            Ok(Time::DangerousAnyTime)
        ));
    }

    #[test]
    fn sni_is_sent_for_names_not_addresses() {
        // The config is opaque; its Debug shows the server name.
        let config = |host| {
            let trust = Trust::new(roots::TPNS, host).unwrap().not_before(0);
            std::format!("{:?}", trust.config())
        };
        let name = config("api.tpns.tencent.com");
        assert!(name.contains("api.tpns.tencent.com"), "{name}");
        let ip = config("127.0.0.1");
        assert!(!ip.contains("127.0.0.1"), "{ip}");
    }
}
