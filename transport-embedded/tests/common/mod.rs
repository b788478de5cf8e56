//! Shared helpers: an emulator per test, valid packages (from the workspace's test support),
//! the job, the device-side RNG.

#![allow(dead_code)]

use tpns_core::auth::Credentials;
use tpns_core::endpoint::Endpoint;
use tpns_core::multipart::Boundary;
use tpns_core::response::Limits;
use tpns_core::upload::Upload;
use tpns_emulator::{Emulator, EmulatorConfig};
use tpns_test_support::{Emu, TempDir};

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
