//! Valid account packages, and the SHA-256 the emulator records for what it stored.

use sha2::{Digest, Sha256};

/// A valid package of exactly `len` bytes: rows `account-00000000\n`…, the last row kept at
/// least 2 characters long (a row of 1 character is invalid).
pub fn accounts(len: usize) -> Vec<u8> {
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

/// A valid package of `rows` rows: `device-000001\n`, `device-000002\n`, …
pub fn devices(rows: u64) -> Vec<u8> {
    (1..=rows)
        .flat_map(|i| format!("device-{i:06}\n").into_bytes())
        .collect()
}

/// Lower-case hex SHA-256, as the emulator records it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_exactly_as_long_as_asked_and_end_in_a_valid_row() {
        for len in [0, 1, 2, 17, 18, 19, 1000, 65_537] {
            let p = accounts(len);
            assert!(p.len() == len || p.len() + 1 == len, "{len}: {}", p.len());
            assert!(!p.ends_with(b"\n\n") && !p.starts_with(b"\n"), "{len}");
        }
    }

    #[test]
    fn sha256_hex_is_the_known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
