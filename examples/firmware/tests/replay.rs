//! The recorded session that the `replay` binary plays back under QEMU (to measure the stack
//! of a whole TLS upload): recorded against the emulator over a loopback socket, then played
//! back on the host to check that it is exactly repeatable.
//!
//! `TPNS_RECORD=1 cargo test -p tpns-firmware-example --test replay` records it again into
//! `examples/firmware/replay/` (the emulator's CA, its URL and the server's bytes).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use tpns_core::endpoint::Endpoint;
use tpns_emulator::{DEMO_APP, Emulator, EmulatorConfig};
use tpns_firmware_example::{PACKAGE, REPLAY_SEED, Replay, replay_settings, upload_over_tls};
use tpns_transport_embedded::source::FlashPackage;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("replay")
}

/// A loopback socket that keeps a copy of every byte the server sent.
struct Recorder {
    tcp: std::net::TcpStream,
    server: Vec<u8>,
}

impl embedded_io::ErrorType for Recorder {
    type Error = std::io::Error;
}

impl embedded_io::Read for Recorder {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.server.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl embedded_io::Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

/// The example's upload of its package over `socket`, with the replay settings for `endpoint`
/// and `ca` and the random generator seeded with `seed`: its upload id.
fn upload_seeded<T: embedded_io::Read + embedded_io::Write>(
    socket: T,
    seed: u64,
    endpoint: &Endpoint<'_>,
    ca: &[u8],
) -> Result<u64, impl std::fmt::Debug> {
    let settings = replay_settings(endpoint, ca);
    let rng = ChaCha20Rng::seed_from_u64(seed);
    upload_over_tls(socket, rng, &settings, &mut FlashPackage::new(PACKAGE))
}

fn record() -> (Vec<u8>, Vec<u8>, String, u64) {
    let data = std::env::temp_dir().join(format!("tpns-fw-record-{}", std::process::id()));
    let emulator = Emulator::start(EmulatorConfig::new(&data).app(DEMO_APP.0, DEMO_APP.1)).unwrap();
    let url = format!("https://localhost:{}/", emulator.https_addr().port());
    let endpoint = Endpoint::parse(&url).unwrap();
    let ca = emulator.ca_der().to_vec();
    let mut socket = Recorder {
        tcp: std::net::TcpStream::connect(emulator.https_addr()).unwrap(),
        server: Vec::new(),
    };
    let id = upload_seeded(&mut socket, REPLAY_SEED, &endpoint, &ca).unwrap();
    let stored = std::fs::read(emulator.stored_path(id)).unwrap();
    assert_eq!(stored, PACKAGE);
    emulator.shutdown();
    let _ = std::fs::remove_dir_all(&data);
    (socket.server, ca, url, id)
}

#[test]
fn the_recorded_session_replays_exactly() {
    if std::env::var_os("TPNS_RECORD").is_some() {
        let (server, ca, url, id) = record();
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(dir().join("server.bin"), &server).unwrap();
        std::fs::write(dir().join("ca.der"), &ca).unwrap();
        std::fs::write(dir().join("url.txt"), format!("{url}\n{id}\n")).unwrap();
    }
    let server = std::fs::read(dir().join("server.bin")).unwrap();
    let ca = std::fs::read(dir().join("ca.der")).unwrap();
    let meta = std::fs::read_to_string(dir().join("url.txt")).unwrap();
    let mut lines = meta.lines();
    let url = lines.next().unwrap();
    let id: u64 = lines.next().unwrap().parse().unwrap();
    let endpoint = Endpoint::parse(url).unwrap();
    let mut socket = Replay::new(&server);
    let replayed = upload_seeded(&mut socket, REPLAY_SEED, &endpoint, &ca).unwrap();
    assert_eq!(replayed, id);
    assert!(socket.written > PACKAGE.len() as u64);

    // Another seed is another session: the server's recorded records no longer decrypt.
    let mut socket = Replay::new(&server);
    assert!(upload_seeded(&mut socket, REPLAY_SEED + 1, &endpoint, &ca).is_err());
}
