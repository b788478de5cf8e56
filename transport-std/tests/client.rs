//! The client against the emulator, over real sockets on 127.0.0.1.

use std::io::Cursor;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tpns_emulator::{Emulator, EmulatorConfig};
use tpns_transport_std::{
    Client, ClientBuilder, Error, Event, Phase, PushRequest, RetryPolicy, Timeouts,
};

const ID: &str = "1500001048";
const SECRET: &str = "1452fcebae9f3115ba794fb0fff2fd73";

fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tpns-transport-std-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn emulator(tag: &str) -> (Emulator, PathBuf) {
    let dir = temp_dir(tag);
    let emu = Emulator::start(
        EmulatorConfig::new(dir.join("data"))
            .app(ID, SECRET)
            .http("127.0.0.1:0".parse().unwrap()),
    )
    .unwrap();
    (emu, dir)
}

fn client(emu: &Emulator) -> ClientBuilder {
    Client::builder()
        .endpoint(emu.https_url())
        .credentials(ID, SECRET)
        .ca_file(emu.ca_path())
        .retry(RetryPolicy {
            max_retries: 3,
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
        })
}

fn package(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("account-{i:08}\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    // Keep the last row at least 2 characters long.
    while out.len() >= 2 && (out[out.len() - 2] == b'\n') {
        out.pop();
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn uploads_over_https_and_the_stored_bytes_are_identical() {
    let (emu, dir) = emulator("https");
    let pkg = package(1_000_000);
    let path = dir.join("accounts.txt");
    std::fs::write(&path, &pkg).unwrap();
    let client = client(&emu).build().unwrap();
    let mut last = 0;
    let mut tls = None;
    let up = client
        .upload_file_with(&path, |e| {
            match e {
                Event::Progress { sent, total } => {
                    assert!(*sent >= last && *sent <= *total);
                    last = *sent;
                }
                Event::Connected { peer, .. } => tls = peer.tls_version,
                Event::Retrying { error, .. } => panic!("retry: {error}"),
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(last, pkg.len() as u64);
    assert!(matches!(tls, Some("TLSv1_3" | "TLSv1_2")), "{tls:?}");
    assert_eq!(up.attempts, 1);
    let records = emu.uploads();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].upload_id, up.upload_id);
    assert_eq!(records[0].sha256, sha256_hex(&pkg));
    assert_eq!(records[0].file_name, "accounts.txt");
    assert_eq!(std::fs::read(emu.stored_path(up.upload_id)).unwrap(), pkg);
    drop(emu);
    std::fs::remove_dir_all(dir).unwrap();
}
