//! Shared helpers: an emulator per test, valid packages (from the workspace's test support),
//! the job, the device-side RNG, and one TLS upload as a device makes it, blocking and async.

#![allow(dead_code)]

use core::ops::ControlFlow;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use embedded_io_adapters::std::FromStd;
use embedded_io_adapters::tokio_1::FromTokio;
use rand_core::OsRng;
use rustls::pki_types::CertificateDer;
use std_embedded_nal::Stack;
use tpns_core::auth::Credentials;
use tpns_core::endpoint::Endpoint;
use tpns_core::multipart::Boundary;
use tpns_core::response::Limits;
use tpns_core::upload::{Progress, Upload, UploadResponse};
use tpns_emulator::{Emulator, EmulatorConfig};
use tpns_test_support::{Emu, TempDir};
use tpns_transport_embedded::nal::NalStream;
use tpns_transport_embedded::session::TlsSession;
use tpns_transport_embedded::source::{Package, SeekPackage};
use tpns_transport_embedded::tls::{
    HandshakeError, READ_RECORD_LEN, SkipTime, TimePolicy, TlsBuffers, Trust, WRITE_RECORD_LEN,
    anchor_from_der,
};
use tpns_transport_embedded::upload::{TlsUploadError, upload_tls, upload_tls_async};

pub use tpns_test_support::{ID as ACCESS_ID, SECRET, devices as package, sha256_hex};

/// A running emulator (HTTPS only) and its data folder, removed on drop.
pub struct Server {
    emu: Emu,
    /// `https://localhost:PORT/` (embedded-tls checks DNS names, so `localhost`, which the
    /// emulator's leaf certificate carries).
    pub url: String,
}

impl Server {
    pub fn start(name: &str) -> Server {
        Self::start_with(name, |c| c)
    }

    pub fn start_with(name: &str, f: impl FnOnce(EmulatorConfig) -> EmulatorConfig) -> Server {
        let emu = Emu::start_with(&format!("transport-embedded-{name}"), |c, _| f(c));
        let url = format!("https://localhost:{}/", emu.https_addr().port());
        Server { emu, url }
    }

    pub fn emulator(&self) -> &Emulator {
        &self.emu
    }

    /// The temporary folder the emulator's data lives in.
    pub fn dir(&self) -> &TempDir {
        self.emu.dir()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.emulator().https_addr()
    }

    /// Checks that upload `id` holds exactly `package`: the emulator's record and the file it
    /// stored on disk.
    pub fn assert_stored(&self, id: u64, package: &[u8], rows: u64) {
        let records = self.emulator().uploads();
        let record = records
            .iter()
            .find(|r| r.upload_id == id)
            .unwrap_or_else(|| panic!("no upload {id} in {records:?}"));
        assert_eq!(record.sha256, sha256_hex(package));
        assert_eq!(record.size, package.len() as u64);
        assert_eq!(record.rows, rows);
        let stored = std::fs::read(self.emulator().stored_path(id)).unwrap();
        assert_eq!(sha256_hex(&stored), sha256_hex(package));
    }
}

pub fn job<'a>(endpoint: &'a Endpoint<'a>, file_name: &'a str) -> Upload<'a> {
    let mut random = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
    Upload {
        endpoint,
        credentials: Credentials::new(ACCESS_ID, SECRET).unwrap(),
        file_name,
        boundary: Boundary::from_random(random),
        expect_continue: false,
        limits: Limits::default(),
    }
}

/// The bound for exchanges that should succeed or fail quickly.
pub const PATIENCE: Duration = Duration::from_secs(8);

/// The bound for exchanges whose time no test measures: only a hang reaches it.
pub const HANG: Duration = Duration::from_secs(60);

/// A wait hook that gives up once `limit` has passed since it was made, sleeping briefly
/// between polls (a device would sleep until the next interrupt).
pub fn deadline(limit: Duration) -> impl FnMut() -> ControlFlow<()> {
    let end = Instant::now() + limit;
    move || {
        if Instant::now() >= end {
            return ControlFlow::Break(());
        }
        std::thread::sleep(Duration::from_micros(50));
        ControlFlow::Continue(())
    }
}

/// Calls `f` with a trust in the one CA `ca_der` for `localhost`, without a clock.
pub fn with_trust<R>(ca_der: &[u8], f: impl FnOnce(&Trust<'_, SkipTime>) -> R) -> R {
    let ca_cert = CertificateDer::from(ca_der);
    let anchors = [anchor_from_der(&ca_cert).unwrap()];
    let trust = Trust::new(&anchors, "localhost")
        .unwrap()
        .dangerous_skip_time_check();
    f(&trust)
}

/// One upload over embedded-tls to `addr` with `trust` (see [`with_trust`]), on a fresh
/// socket bounded by `limit` and closed afterwards (cleanly, after an answer), with an upload
/// buffer of `buf_len` bytes.
pub fn tls_upload<P: Package, Tp: TimePolicy + Copy>(
    addr: SocketAddr,
    trust: Trust<'_, Tp>,
    job: &Upload<'_>,
    package: &mut P,
    buf_len: usize,
    limit: Duration,
    progress: impl FnMut(Progress) -> ControlFlow<()>,
) -> Result<UploadResponse, TlsUploadError<P::Error>> {
    let mut stack = Stack;
    let mut socket = NalStream::connect_with(&mut stack, addr, deadline(limit)).unwrap();
    let mut rx = vec![0u8; READ_RECORD_LEN];
    let mut tx = vec![0u8; WRITE_RECORD_LEN];
    let mut buf = vec![0u8; buf_len];
    let session = &mut TlsSession {
        tls: TlsBuffers::new(&mut rx, &mut tx),
        http: &mut buf,
        trust,
        rng: OsRng,
    };
    let result = upload_tls(&mut socket, session, job, package, progress);
    let closed = socket.close();
    if result.is_ok() {
        closed.expect("the socket closes cleanly after an answer");
    }
    result
}

/// As [`tls_upload`], over an async socket (tokio's, through embedded-io-adapters, where a
/// device has an embassy-net socket) with the async driver.
pub async fn tls_upload_async<P: Package>(
    addr: SocketAddr,
    ca_der: &[u8],
    job: &Upload<'_>,
    package: &mut P,
    buf_len: usize,
    progress: impl FnMut(Progress) -> ControlFlow<()>,
) -> Result<UploadResponse, TlsUploadError<P::Error>> {
    let ca_cert = CertificateDer::from(ca_der);
    let anchors = [anchor_from_der(&ca_cert).unwrap()];
    let trust = Trust::new(&anchors, "localhost")
        .unwrap()
        .dangerous_skip_time_check();
    let socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut rx = vec![0u8; READ_RECORD_LEN];
    let mut tx = vec![0u8; WRITE_RECORD_LEN];
    let mut buf = vec![0u8; buf_len];
    upload_tls_async(
        FromTokio::new(socket),
        &mut TlsSession {
            tls: TlsBuffers::new(&mut rx, &mut tx),
            http: &mut buf,
            trust,
            rng: OsRng,
        },
        job,
        package,
        progress,
    )
    .await
}

/// A CA certificate (DER) for `localhost` that signed nothing any test server shows.
pub fn foreign_ca() -> Vec<u8> {
    tpns_emulator::generate_cert(&["localhost"]).unwrap().ca_der
}

/// Asserts that `err` is the server's certificate refused at the handshake, which no new
/// attempt changes; `case` names the case in the message.
pub fn assert_certificate_refused<E: core::fmt::Debug>(err: &TlsUploadError<E>, case: &str) {
    assert!(
        matches!(
            err,
            TlsUploadError::Handshake(HandshakeError::Certificate(_))
        ),
        "{case}: {err:?}"
    );
    assert!(!err.is_transient(), "{case}");
}

/// An SD-card-style source: `package` written to `card.bin` in `dir` between `header` and
/// `trailer`, read back as the region in between (which a retry rewinds).
pub fn card(
    dir: &TempDir,
    header: &[u8],
    package: &[u8],
    trailer: &[u8],
) -> SeekPackage<FromStd<std::fs::File>> {
    let path = dir.write("card.bin", [header, package, trailer].concat());
    let file = FromStd::new(std::fs::File::open(path).unwrap());
    SeekPackage::region(file, header.len() as u64, package.len() as u64).unwrap()
}

/// The host's clock, for `Trust::check_time`.
pub struct SystemClock;

impl tpns_transport_embedded::tls::TlsClock for SystemClock {
    fn now() -> Option<u64> {
        Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
    }
}
