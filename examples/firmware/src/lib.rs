//! A whole TLS package upload on a Cortex-M with 64 KiB of RAM and no heap: the pieces a
//! device program puts together, shared by this package's binaries (and by any other device
//! program: they are generic over the socket, the random generator and the package).
//!
//! - [`upload_over_tls`]: a [`DeviceClient`] over [`Buffers`] (handshake checking the server
//!   against a CA and its name, the upload, `close_notify`); every buffer on the stack of this
//!   one call, sized by the constants below.
//! - [`upload_plain`]: the same upload without TLS (a trusted link, or a measurement of the
//!   HTTP layer alone).
//! - [`Probe`] and [`InsecureProbeRng`]: stand-ins for a board's socket and TRNG, for a
//!   program that must *link* the whole path (size figures) on a board with neither. They
//!   move no data and are not random: a real device passes its TCP socket (for instance a
//!   [`tpns_transport_embedded::nal::NalStream`]) and its TRNG.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::convert::Infallible;
use core::hint::black_box;
use core::ops::ControlFlow;

use embedded_io::{ErrorKind, ErrorType, Read, Write};
use rand_core::{CryptoRng, RngCore};
use rustls_pki_types::CertificateDer;
use tpns_core::auth::Credentials;
use tpns_core::endpoint::Endpoint;
use tpns_core::multipart::Boundary;
use tpns_core::response::Limits;
use tpns_core::upload::{Upload, UploadError, UploadResponse};
use tpns_transport_embedded::source::Package;
use tpns_transport_embedded::tls::{
    NotBefore, READ_RECORD_LEN, Trust, TrustAnchor, WRITE_RECORD_LEN, anchor_from_der,
};
use tpns_transport_embedded::upload::{TlsUploadError, upload_package};
use tpns_transport_embedded::{DeviceBuffers, DeviceClient};

/// The HTTP layer's buffer: request out, response in. Over TLS it can be small: the TLS
/// write record buffer gathers the bytes into records anyway, so the socket sees as few
/// writes; 256 B keeps the HTTP layer (state + buffer) within 1 KiB (720 B of state).
pub const HTTP_BUF_LEN: usize = 256;

/// A smaller response cap than the default (64 KiB): TPNS answers in well under 1 KiB.
pub const LIMITS: Limits = Limits {
    max_head: 4096,
    max_body: 4096,
};

/// What a device needs to know to upload.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// The service, such as `https://api.tpns.tencent.com/`.
    pub endpoint: &'a Endpoint<'a>,
    /// The certificate (DER) of the trust anchor the service's chain must lead to: a root or
    /// a private CA. For the TPNS hosts, a device can use `tpns_transport_embedded::tls::roots`
    /// instead, with `Trust::new(roots::TPNS, host)`.
    pub ca_der: &'a [u8],
    /// A lower bound on the current time, Unix seconds: the firmware's build time on a board
    /// with no real-time clock. A certificate that expired before it is refused.
    pub not_before: u64,
    /// The DNS name in the service's certificate.
    pub server_name: &'a str,
    /// The app's AccessID.
    pub access_id: &'a str,
    /// The app's SecretKey.
    pub secret_key: &'a str,
    /// The package's file name, as the service will see it.
    pub file_name: &'a str,
}

/// Why a device upload failed.
#[derive(Debug)]
pub enum DeviceError<S> {
    /// The settings are unusable (empty credentials, a server name TLS cannot check, a CA
    /// certificate that cannot be read).
    Settings,
    /// The TLS upload failed.
    Tls(TlsUploadError<S>),
    /// The whole upload took longer than its bound (async path).
    TimedOut,
}

fn job<'a, R: RngCore>(settings: &Settings<'a>, rng: &mut R) -> Option<Upload<'a>> {
    let mut random = [0u8; 16];
    rng.fill_bytes(&mut random);
    Some(Upload {
        endpoint: settings.endpoint,
        credentials: Credentials::new(settings.access_id, settings.secret_key).ok()?,
        file_name: settings.file_name,
        boundary: Boundary::from_random(random),
        expect_continue: false,
        limits: LIMITS,
    })
}

/// The buffers of [`upload_over_tls`]: the TLS read record ([`READ_RECORD_LEN`]), the write
/// record ([`WRITE_RECORD_LEN`]) and the HTTP buffer ([`HTTP_BUF_LEN`]), 17 920 bytes.
pub type Buffers = DeviceBuffers<READ_RECORD_LEN, WRITE_RECORD_LEN, HTTP_BUF_LEN>;

/// The client both TLS uploads use: the settings' CA as the only anchor, the build time as the
/// floor for certificate dates, the credentials and [`LIMITS`]. `None` for unusable settings.
fn device_client<'a, R: CryptoRng + RngCore>(
    settings: &Settings<'a>,
    anchors: &'a [TrustAnchor<'a>],
    buffers: &'a mut Buffers,
    rng: R,
) -> Option<DeviceClient<'a, NotBefore, R>> {
    let trust = Trust::new(anchors, settings.server_name)
        .ok()?
        // No real-time clock in this example: the build time is the floor (a certificate that
        // expired before it is refused). With an RTC, use `.check_time::<YourClock>()`.
        .not_before(settings.not_before);
    let credentials = Credentials::new(settings.access_id, settings.secret_key).ok()?;
    let mut client = DeviceClient::new(*settings.endpoint, credentials, trust, buffers, rng);
    client.set_limits(LIMITS);
    Some(client)
}

/// Declares `$client` ([`device_client`]) in the caller's frame, with the locals it borrows:
/// the trust anchor made from the settings' CA and the [`Buffers`]. A function could not
/// return them with the client. Unusable settings return [`DeviceError::Settings`] from the
/// caller. The generator stays in the caller's frame too: the client borrows it.
macro_rules! open_client {
    ($client:ident = $settings:expr, $rng:expr) => {
        let ca = CertificateDer::from($settings.ca_der);
        let anchors = [anchor_from_der(&ca).map_err(|_| DeviceError::Settings)?];
        let mut buffers = Buffers::new();
        let mut $client =
            device_client($settings, &anchors, &mut buffers, $rng).ok_or(DeviceError::Settings)?;
    };
}

/// Uploads `package` over TLS on `socket`; returns the `uploadId`.
///
/// All RAM is on this call's stack: the [`Buffers`] and the protocol state.
///
/// # Errors
///
/// [`DeviceError`]: the settings, the handshake (a refused certificate), or the upload.
pub fn upload_over_tls<T, R, P>(
    socket: T,
    mut rng: R,
    settings: &Settings<'_>,
    package: &mut P,
) -> Result<u64, DeviceError<P::Error>>
where
    T: Read + Write,
    R: CryptoRng + RngCore,
    P: Package,
{
    open_client!(client = settings, &mut rng);
    client
        .upload(socket, settings.file_name, package)
        .map(|answer| answer.upload_id)
        .map_err(DeviceError::Tls)
}

/// How long an embassy upload may take in all, from the handshake to the answer: a server
/// that stalls (or drips one byte at a time) cannot hold the task longer.
#[cfg(target_os = "none")]
pub const EMBASSY_UPLOAD_TIMEOUT: embassy_time::Duration = embassy_time::Duration::from_secs(120);

/// [`upload_over_tls`] on an embassy-net socket, async: `embedded-tls`'s async connection and
/// `tpns_core::upload_async`, the same [`Trust`] checks, the whole exchange bounded by
/// [`EMBASSY_UPLOAD_TIMEOUT`] (embassy-time's `with_timeout`). `socket` is connected to the
/// server; on [`DeviceError::TimedOut`] abort it.
///
/// Generic over the random generator and the package, so that it is compiled only where a
/// program uses it (an embassy program links a time driver and a critical section; this
/// example links neither). Builds for Arm and for riscv32imc (ESP32-C3).
///
/// # Errors
///
/// As for [`upload_over_tls`], and [`DeviceError::TimedOut`].
#[cfg(target_os = "none")]
pub async fn upload_over_embassy<R: CryptoRng + RngCore, P: Package>(
    socket: &mut embassy_net::tcp::TcpSocket<'_>,
    mut rng: R,
    settings: &Settings<'_>,
    package: &mut P,
) -> Result<u64, DeviceError<P::Error>> {
    open_client!(client = settings, &mut rng);
    let attempt = client.upload_async(socket, settings.file_name, package);
    match embassy_time::with_timeout(EMBASSY_UPLOAD_TIMEOUT, attempt).await {
        Ok(result) => result
            .map(|answer| answer.upload_id)
            .map_err(DeviceError::Tls),
        Err(_elapsed) => Err(DeviceError::TimedOut),
    }
}

/// What [`upload_plain`] returns for usable settings.
pub type PlainResult<T, S> = Result<UploadResponse, UploadError<T, S>>;

/// Uploads `package` over `transport` as it is (no TLS); returns the answer.
///
/// # Errors
///
/// [`UploadError`] by phase; `None` for unusable settings.
pub fn upload_plain<T, R, P>(
    transport: &mut T,
    rng: &mut R,
    settings: &Settings<'_>,
    package: &mut P,
) -> Option<PlainResult<T::Error, P::Error>>
where
    T: Read + Write,
    R: RngCore,
    P: Package,
{
    let job = job(settings, rng)?;
    let mut buf = [0u8; HTTP_BUF_LEN];
    Some(upload_package(transport, &job, package, &mut buf, |_| {
        ControlFlow::Continue(())
    }))
}

/// A socket that plays back a recorded server's bytes and discards what is written.
///
/// With the recording's random seed, [`upload_over_tls`] repeats the recorded session exactly
/// (same ClientHello, same key share, so the server's recorded records decrypt): a whole TLS
/// upload, certificate check included, on a board or in QEMU without a network. Used to
/// measure the stack (the `replay` binary); `tests/replay.rs` records and checks it.
#[derive(Debug)]
pub struct Replay<'a> {
    server: &'a [u8],
    at: usize,
    /// Bytes the client wrote.
    pub written: u64,
}

impl<'a> Replay<'a> {
    /// Plays back `server`, the bytes the server sent in the recorded session.
    pub const fn new(server: &'a [u8]) -> Self {
        Replay {
            server,
            at: 0,
            written: 0,
        }
    }
}

impl ErrorType for Replay<'_> {
    type Error = ErrorKind;
}

impl Read for Replay<'_> {
    /// At most 1 460 bytes at a time (one TCP segment), like a socket.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let rest = &self.server[self.at..];
        let n = rest.len().min(buf.len()).min(1460);
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Replay<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// The seed of the recorded session's random generator (`rand_chacha::ChaCha20Rng`). Only a
/// replay may use a fixed seed; a device seeds from its TRNG.
pub const REPLAY_SEED: u64 = 0x7470_6e73_2d72_6570;

/// The recorded session's settings: the emulator's URL, its CA, the demo app.
pub fn replay_settings<'a>(endpoint: &'a Endpoint<'a>, ca_der: &'a [u8]) -> Settings<'a> {
    Settings {
        endpoint,
        ca_der,
        // The recorded emulator certificates are valid from 1975 (rcgen's default).
        not_before: 1_700_000_000,
        server_name: "localhost",
        access_id: "1500001048",
        secret_key: "1452fcebae9f3115ba794fb0fff2fd73",
        file_name: "replay.txt",
    }
}

/// A stand-in socket whose bytes the compiler cannot predict, so that a program linking the
/// whole upload keeps all its code (size figures). It moves no data anywhere.
#[derive(Debug, Default)]
pub struct Probe;

impl ErrorType for Probe {
    type Error = ErrorKind;
}

impl Read for Probe {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        black_box(&mut *buf);
        Ok(black_box(buf.len()).min(buf.len()))
    }
}

impl Write for Probe {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        black_box(buf);
        Ok(black_box(buf.len()).min(buf.len()))
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        black_box(Ok(()))
    }
}

/// A stand-in for a board's TRNG, for size figures only: **not random**. A device passes its
/// TRNG (or a CSPRNG seeded from it) instead.
#[derive(Debug, Default)]
pub struct InsecureProbeRng;

impl RngCore for InsecureProbeRng {
    fn next_u32(&mut self) -> u32 {
        black_box(0)
    }

    fn next_u64(&mut self) -> u64 {
        black_box(0)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        black_box(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Marks [`InsecureProbeRng`] usable for TLS so the program links; see its warning.
impl CryptoRng for InsecureProbeRng {}

/// The firmware's build time (Unix seconds, from the build script): the date floor of the examples.
pub const BUILD_TIME: u64 = parse_decimal(env!("TPNS_BUILD_TIME"));

const fn parse_decimal(s: &str) -> u64 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0u64;
    while i < b.len() {
        n = n * 10 + (b[i] - b'0') as u64;
        i += 1;
    }
    n
}

/// The example's settings: TPNS in Guangzhou, the example CA (replace it with the CA that
/// signed your server's certificate).
pub static CA_DER: &[u8] = include_bytes!("../ca.der");

/// The settings of this package's programs: TPNS in Guangzhou, `ca_der` as the anchor, the
/// build time as the date floor, placeholder credentials (behind `black_box`, so that the
/// figures count code that handles any secret). Always inlined, as the literal it replaced
/// was: the flash figures stay those of the same program.
#[inline(always)]
pub fn example_settings<'a>(endpoint: &'a Endpoint<'a>, ca_der: &'a [u8]) -> Settings<'a> {
    Settings {
        endpoint,
        ca_der,
        not_before: BUILD_TIME,
        server_name: tpns_core::endpoint::Region::Guangzhou.host(),
        access_id: "1500001048",
        secret_key: black_box("secret"),
        file_name: "devices.txt",
    }
}

/// A small account package kept in flash.
pub static PACKAGE: &[u8] = b"device-000001\ndevice-000002\ndevice-000003\ndevice-000004\n";

/// On a panic, stop at an undefined instruction (a debugger shows where; QEMU reports a
/// lockup). Shared by this package's binaries.
#[cfg(all(target_arch = "arm", target_os = "none"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    cortex_m::asm::udf()
}

/// Never fails: a package in flash reads without errors.
pub type FlashError = Infallible;
