//! Shared helpers: an emulator per test, valid packages, the job, the device-side RNG.

#![allow(dead_code)]

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tpns_core::auth::Credentials;
use tpns_core::endpoint::Endpoint;
use tpns_core::multipart::Boundary;
use tpns_core::response::Limits;
use tpns_core::upload::Upload;
use tpns_emulator::{Emulator, EmulatorConfig};

pub const ACCESS_ID: &str = "1500001048";
pub const SECRET: &str = "1452fcebae9f3115ba794fb0fff2fd73";

/// A running emulator and its data directory, removed on drop.
pub struct Server {
    pub emulator: Option<Emulator>,
    pub dir: PathBuf,
    /// `https://localhost:PORT/` (embedded-tls checks DNS names, so `localhost`, which the
    /// emulator's leaf certificate carries).
    pub url: String,
}

impl Server {
    pub fn start(name: &str) -> Server {
        Self::start_with(name, |c| c)
    }

    pub fn start_with(name: &str, f: impl FnOnce(EmulatorConfig) -> EmulatorConfig) -> Server {
        let dir = std::env::temp_dir().join(format!(
            "tpns-transport-embedded-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let emulator = Emulator::start(f(EmulatorConfig::new(&dir).app(ACCESS_ID, SECRET)))
            .expect("emulator starts");
        let url = format!("https://localhost:{}/", emulator.https_addr().port());
        Server {
            emulator: Some(emulator),
            dir,
            url,
        }
    }

    pub fn emulator(&self) -> &Emulator {
        self.emulator.as_ref().unwrap()
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

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(e) = self.emulator.take() {
            e.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A valid account package of `rows` rows: `device-000001\n`...
pub fn package(rows: u64) -> Vec<u8> {
    (1..=rows)
        .flat_map(|i| format!("device-{i:06}\n").into_bytes())
        .collect()
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
