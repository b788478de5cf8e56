//! Helpers shared by the std transport's integration tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use sha2::{Digest, Sha256};

/// The test app's AccessID.
pub const ID: &str = "1500001048";
/// The test app's SecretKey.
pub const SECRET: &str = "1452fcebae9f3115ba794fb0fff2fd73";

/// A fresh, empty directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
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

/// A valid package of exactly `len` bytes: rows `account-00000000\n`…, the last row kept at
/// least 2 characters long.
pub fn package(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("account-{i:08}\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    while out.len() >= 2 && out[out.len() - 2] == b'\n' {
        out.pop();
    }
    out
}

/// Lower-case hex SHA-256, as the emulator records it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
