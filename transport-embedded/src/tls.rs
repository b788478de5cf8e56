//! TLS 1.3 through `embedded-tls` 0.19, checking the server's certificate against a CA
//! certificate the caller gives and against the host name.
//!
//! `embedded-tls` offers AES-128-GCM with a P-256 key exchange, and verifies ECDSA P-256
//! certificates without a heap (its `rustpki` verifier). The pieces here are shared by the
//! blocking and the async connection: [`Trust`] says whom to trust, [`Verifying`] is the
//! crypto provider that holds the caller's random generator and the verifier, and
//! [`TlsBuffers`] the two record buffers. Only the connection type differs:
//! [`connect`] gives a [`TlsStream`] over any `embedded_io::{Read, Write}`, and (feature
//! `async`) `connect_async` an `AsyncTlsStream` over `embedded_io_async`.
//!
//! Switching the checks off is possible only through [`dangerous_connect_unverified`]: a
//! visible, named choice.

use core::fmt;
use core::marker::PhantomData;

use embedded_io::{Read, Write};
use embedded_tls::pki::CertVerifier;
use embedded_tls::{
    Aes128GcmSha256, Certificate, CertificateEntryRef, CertificateRef, CertificateVerifyRef,
    CryptoProvider, TlsCipherSuite, TlsConfig, TlsContext, TlsVerifier, UnsecureProvider,
};
pub use embedded_tls::{NoClock, TlsClock, TlsError};
use rand_core::{CryptoRng, RngCore};

/// The cipher suite used: TLS_AES_128_GCM_SHA256, which every TLS 1.3 server offers.
pub type Suite = Aes128GcmSha256;

/// A blocking TLS connection over the transport `T`, borrowing the record buffers for `'b`.
/// It is an `embedded_io::{Read, Write}` itself, with [`TlsError`] as its error.
pub type TlsStream<'b, T> = embedded_tls::blocking::TlsConnection<'b, T, Suite>;

/// An async TLS connection over the transport `T` (feature `async`).
#[cfg(feature = "async")]
pub type AsyncTlsStream<'b, T> = embedded_tls::TlsConnection<'b, T, Suite>;

/// The size of the read record buffer that fits any TLS record a server may send (16 KiB of
/// plaintext plus the record's overhead): what [`TlsBuffers::read`] should hold unless the
/// server is known to send smaller records.
pub const READ_RECORD_LEN: usize = 16_640;

/// A write record buffer size that fits the ClientHello and keeps the per-record overhead
/// (about 2 % here) low. Smaller works down to a few hundred bytes.
pub const WRITE_RECORD_LEN: usize = 1024;

/// Room for the server's certificate chain while it is being checked, by default. It lives
/// only during the handshake (on the stack).
pub const CERT_CAPACITY: usize = 4096;

/// Longest server name `embedded-tls` can check.
pub const MAX_SERVER_NAME: usize = 64;

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
pub enum TrustError {
    /// The CA certificate is empty.
    EmptyCa,
    /// The server name is empty, longer than [`MAX_SERVER_NAME`], or not a DNS name.
    InvalidServerName,
    /// The server name is an IP address: `embedded-tls` matches DNS names only (the
    /// certificate's DNS SANs or CN), so name the server by a DNS name in its certificate.
    IpAddressServerName,
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EmptyCa => "the CA certificate is empty",
            Self::InvalidServerName => "the server name is not a DNS name of at most 64 bytes",
            Self::IpAddressServerName => {
                "the server name is an IP address; embedded-tls checks DNS names only"
            }
        })
    }
}

impl core::error::Error for TrustError {}

/// Whom the device trusts: the CA certificate (DER) that must have signed the server's
/// certificate, and the DNS name the certificate must be for.
///
/// `C` is the clock that checks the certificates' validity dates. [`Trust::new`] leaves it
/// unchosen ([`ClockNotChosen`]), and such a `Trust` cannot open a connection: say
/// [`Trust::check_time`] with a [`TlsClock`] to check the dates, or
/// [`Trust::dangerous_skip_time_check`] on a device without a trustworthy real-time clock (an
/// expired or not-yet-valid certificate is then accepted). Skipping is never the silent default.
/// `N` is the room for the server's certificate chain during the handshake ([`CERT_CAPACITY`]
/// by default).
pub struct Trust<'a, C = ClockNotChosen, const N: usize = CERT_CAPACITY> {
    ca_der: &'a [u8],
    server_name: &'a str,
    clock: PhantomData<fn() -> C>,
}

impl<C, const N: usize> Clone for Trust<'_, C, N> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C, const N: usize> Copy for Trust<'_, C, N> {}

impl<C, const N: usize> fmt::Debug for Trust<'_, C, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trust")
            .field("ca_der_len", &self.ca_der.len())
            .field("server_name", &self.server_name)
            .field("checks_time", &(core::any::type_name::<C>()))
            .field("cert_capacity", &N)
            .finish()
    }
}

/// The clock of a [`Trust`] not chosen yet: choose [`Trust::check_time`] or
/// [`Trust::dangerous_skip_time_check`] before a handshake.
#[derive(Debug, Clone, Copy)]
pub enum ClockNotChosen {}

impl<'a> Trust<'a> {
    /// Trust servers whose certificate `ca_der` signed and that is valid for `server_name`.
    ///
    /// Then choose how validity dates are checked ([`Trust::check_time`] or
    /// [`Trust::dangerous_skip_time_check`]): until then the `Trust` opens no connection.
    ///
    /// # Errors
    ///
    /// [`TrustError`] for an empty CA, or a server name that cannot be checked.
    ///
    /// # Examples
    ///
    /// ```
    /// use tpns_transport_embedded::tls::{Trust, TrustError};
    /// static CA: &[u8] = &[0x30, 0x82]; // the CA certificate, DER (from flash)
    /// let trust = Trust::new(CA, "api.tpns.tencent.com").unwrap().dangerous_skip_time_check();
    /// assert_eq!(trust.server_name(), "api.tpns.tencent.com");
    /// assert_eq!(Trust::new(CA, "127.0.0.1").unwrap_err(), TrustError::IpAddressServerName);
    /// ```
    pub fn new(ca_der: &'a [u8], server_name: &'a str) -> Result<Self, TrustError> {
        if ca_der.is_empty() {
            return Err(TrustError::EmptyCa);
        }
        check_server_name(server_name)?;
        Ok(Trust {
            ca_der,
            server_name,
            clock: PhantomData,
        })
    }
}

impl<'a, C, const N: usize> Trust<'a, C, N> {
    /// The same trust, checking validity dates against the clock `C2`.
    pub fn check_time<C2: TlsClock>(self) -> Trust<'a, C2, N> {
        Trust {
            ca_der: self.ca_der,
            server_name: self.server_name,
            clock: PhantomData,
        }
    }

    /// The same trust, **not** checking validity dates: for a device without a trustworthy
    /// real-time clock. An expired, or not yet valid, certificate is then accepted; the chain
    /// and the host name are still checked.
    pub fn dangerous_skip_time_check(self) -> Trust<'a, NoClock, N> {
        self.check_time::<NoClock>()
    }

    /// The same trust, with room for `M` bytes of server certificates during the handshake.
    pub fn cert_capacity<const M: usize>(self) -> Trust<'a, C, M> {
        Trust {
            ca_der: self.ca_der,
            server_name: self.server_name,
            clock: PhantomData,
        }
    }

    /// The CA certificate (DER).
    pub fn ca_der(&self) -> &'a [u8] {
        self.ca_der
    }

    /// The name the server's certificate must carry.
    pub fn server_name(&self) -> &'a str {
        self.server_name
    }
}

impl<'a, C: TlsClock, const N: usize> Trust<'a, C, N> {
    /// The crypto provider for a handshake with this trust.
    pub fn provider<R: CryptoRng + RngCore>(&self, rng: R) -> Verifying<'a, R, C, N> {
        Verifying {
            rng,
            verifier: DirectlySigned {
                inner: CertVerifier::new(Certificate::X509(self.ca_der)),
                ca_der: self.ca_der,
            },
        }
    }

    /// The `embedded-tls` configuration: SNI and the name to check.
    pub fn config(&self) -> TlsConfig<'a> {
        TlsConfig::new().with_server_name(self.server_name)
    }
}

fn check_server_name(name: &str) -> Result<(), TrustError> {
    if name.is_empty() || name.len() > MAX_SERVER_NAME {
        return Err(TrustError::InvalidServerName);
    }
    if name.parse::<core::net::IpAddr>().is_ok() {
        return Err(TrustError::IpAddressServerName);
    }
    let dns = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !dns || name.starts_with('.') || name.contains("..") {
        return Err(TrustError::InvalidServerName);
    }
    Ok(())
}

/// The crypto provider of a verifying handshake: the caller's random generator (the device's
/// TRNG, or a CSPRNG seeded from it) and `embedded-tls`'s certificate verifier. Made by
/// [`Trust::provider`].
pub struct Verifying<'a, R, C: TlsClock = NoClock, const N: usize = CERT_CAPACITY> {
    rng: R,
    verifier: DirectlySigned<'a, C, N>,
}

/// embedded-tls's verifier, allowed only chains whose leaf the pinned CA signed itself.
///
/// `CertVerifier` checks each signature along the chain the server sends, and the host name
/// against the leaf, but not that a signing certificate may sign (basicConstraints CA,
/// keyUsage keyCertSign). Through an intermediate, any certificate the CA ever issued could
/// then mint one for any host. So the chain must be the leaf alone, or the leaf followed by the
/// pinned CA certificate itself (byte for byte): the only possible signer of the leaf is then
/// the pinned CA.
struct DirectlySigned<'a, C: TlsClock, const N: usize> {
    inner: CertVerifier<'a, Suite, C, N>,
    ca_der: &'a [u8],
}

impl<C: TlsClock, const N: usize> DirectlySigned<'_, C, N> {
    /// Whether `cert` is the leaf alone, or the leaf and then the pinned CA.
    fn is_direct(&self, cert: &CertificateRef<'_>) -> bool {
        match cert.entries.as_slice() {
            [CertificateEntryRef::X509(_)] => true,
            [CertificateEntryRef::X509(_), CertificateEntryRef::X509(ca)] => *ca == self.ca_der,
            _ => false,
        }
    }
}

impl<C: TlsClock, const N: usize> TlsVerifier<Suite> for DirectlySigned<'_, C, N> {
    fn set_hostname_verification(&mut self, hostname: &str) -> Result<(), TlsError> {
        self.inner.set_hostname_verification(hostname)
    }

    fn verify_certificate(
        &mut self,
        transcript: &<Suite as TlsCipherSuite>::Hash,
        cert: CertificateRef<'_>,
    ) -> Result<(), TlsError> {
        if !self.is_direct(&cert) {
            return Err(TlsError::InvalidCertificate);
        }
        self.inner.verify_certificate(transcript, cert)
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef<'_>) -> Result<(), TlsError> {
        self.inner.verify_signature(verify)
    }
}

impl<R, C: TlsClock, const N: usize> fmt::Debug for Verifying<'_, R, C, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifying").finish_non_exhaustive()
    }
}

impl<R: CryptoRng + RngCore, C: TlsClock, const N: usize> CryptoProvider
    for Verifying<'_, R, C, N>
{
    type CipherSuite = Suite;
    type Signature = &'static [u8];

    fn rng(&mut self) -> impl embedded_tls::CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Suite>, TlsError> {
        Ok(&mut self.verifier)
    }
}

/// Opens a TLS 1.3 connection over `transport`, checking the server's certificate against
/// `trust`.
///
/// `transport` is any `embedded_io::{Read, Write}`: a [`crate::nal::NalStream`], a serial
/// line, or `&mut` one of them to keep it for closing.
///
/// # Errors
///
/// [`TlsError::InvalidCertificate`] when the server's certificate was not signed by the CA,
/// is not for the server name (or, with a clock, is out of its dates);
/// [`TlsError::InvalidSignature`] when the server does not hold the certificate's key;
/// [`TlsError::Io`] for the transport's failures; other [`TlsError`]s for protocol failures.
pub fn connect<'b, T, R, C, const N: usize>(
    transport: T,
    buffers: TlsBuffers<'b>,
    trust: &Trust<'_, C, N>,
    rng: R,
) -> Result<TlsStream<'b, T>, TlsError>
where
    T: Read + Write + 'b,
    R: CryptoRng + RngCore,
    C: TlsClock,
{
    let mut stream = TlsStream::new(transport, buffers.read, buffers.write);
    open(&mut stream, trust, rng)?;
    Ok(stream)
}

/// The handshake of [`connect`] on a connection the caller made with
/// [`TlsStream::new`](embedded_tls::blocking::TlsConnection::new): the connection then stays
/// where the caller put it (no move of its 1.3 KB state).
///
/// # Errors
///
/// As for [`connect`].
// Never inlined: the handshake's state (the verifier with its certificate buffer, the key
// schedule in the making) then lives in this call's frame only, gone before the upload's
// state is made; the peak stack is the larger of the two, not their sum.
#[inline(never)]
pub fn open<T, R, C, const N: usize>(
    stream: &mut TlsStream<'_, T>,
    trust: &Trust<'_, C, N>,
    rng: R,
) -> Result<(), TlsError>
where
    T: Read + Write,
    R: CryptoRng + RngCore,
    C: TlsClock,
{
    let config = trust.config();
    stream.open(TlsContext::new(&config, trust.provider(rng)))
}

/// Like [`connect`], over an `embedded_io_async` transport (an embassy-net `TcpSocket`, an
/// `embedded-nal-async` connection).
///
/// # Errors
///
/// As for [`connect`].
#[cfg(feature = "async")]
pub async fn connect_async<'b, T, R, C, const N: usize>(
    transport: T,
    buffers: TlsBuffers<'b>,
    trust: &Trust<'_, C, N>,
    rng: R,
) -> Result<AsyncTlsStream<'b, T>, TlsError>
where
    T: embedded_io_async::Read + embedded_io_async::Write + 'b,
    R: CryptoRng + RngCore,
    C: TlsClock,
{
    let mut stream = AsyncTlsStream::new(transport, buffers.read, buffers.write);
    open_async(&mut stream, trust, rng).await?;
    Ok(stream)
}

/// [`open`] for the async connection.
///
/// # Errors
///
/// As for [`connect`].
#[cfg(feature = "async")]
pub async fn open_async<T, R, C, const N: usize>(
    stream: &mut AsyncTlsStream<'_, T>,
    trust: &Trust<'_, C, N>,
    rng: R,
) -> Result<(), TlsError>
where
    T: embedded_io_async::Read + embedded_io_async::Write,
    R: CryptoRng + RngCore,
    C: TlsClock,
{
    let config = trust.config();
    stream
        .open(TlsContext::new(&config, trust.provider(rng)))
        .await
}

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
    fn trust_refuses_what_embedded_tls_cannot_check() {
        let ca = [0x30u8, 0x82];
        assert_eq!(
            Trust::new(&[], "localhost").unwrap_err(),
            TrustError::EmptyCa
        );
        for ip in ["127.0.0.1", "::1", "127.0.0.2"] {
            assert_eq!(
                Trust::new(&ca, ip).unwrap_err(),
                TrustError::IpAddressServerName,
                "{ip}"
            );
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            "a b",
            "host/",
            ".lead",
            "a..b",
            "caf\u{e9}.example",
            long.as_str(),
        ] {
            assert_eq!(
                Trust::new(&ca, bad).unwrap_err(),
                TrustError::InvalidServerName,
                "{bad}"
            );
        }
        for good in [
            "localhost",
            "api.tpns.sgp.tencent.com",
            "a-b.example",
            &"a".repeat(64),
        ] {
            let t = Trust::new(&ca, good).unwrap();
            assert_eq!(t.server_name(), good);
            assert_eq!(t.ca_der(), &ca);
        }
    }

    #[test]
    fn trust_knobs_keep_the_ca_and_name() {
        let ca = [1u8; 3];
        let t = Trust::new(&ca, "localhost")
            .unwrap()
            .cert_capacity::<2048>()
            .check_time::<NoClock>();
        assert_eq!((t.ca_der(), t.server_name()), (&ca[..], "localhost"));
        let debug = std::format!("{t:?}");
        assert!(debug.contains("cert_capacity: 2048"), "{debug}");
        assert!(!TrustError::EmptyCa.to_string().is_empty());
    }
}
