//! Writes the seeds of the `cert` fuzz target (`fuzz/seeds/cert/`) and the anchors it trusts
//! (`fuzz/fuzz_targets/cert_anchors/`) from fresh emulator chains of every `--pki` mode:
//!
//! ```sh
//! cargo run -p tpns-emulator --example cert_fuzz_seeds
//! ```
//!
//! A seed is the target's input format (see `fuzz/fuzz_targets/cert.rs`): a header byte (count
//! − 1 in bits 0–1, host index in bits 2–3, time mode in bits 4–5), then each certificate but
//! the last behind a 2-byte big-endian length, then the last. The seeds and the anchors must be
//! written together: a seed verifies only against the roots of its own run.

use std::path::Path;

use tpns_emulator::pki::{self, PkiMode};

const MODES: [(PkiMode, &str); 4] = [
    (PkiMode::Simple, "simple"),
    (PkiMode::PublicRsa, "public-rsa"),
    (PkiMode::PublicEcdsa, "public-ecdsa"),
    (PkiMode::Mixed, "mixed"),
];

/// Host indexes of the target's `HOSTS`.
const LOCALHOST: u8 = 0;
const LOOPBACK_IP: u8 = 1;
const FILLER_SAN: u8 = 2;
/// Time modes: `Time::At(NOW)`, `Time::NotBefore(NOW)`, `Time::DangerousAnyTime`.
const AT: u8 = 0;
const FLOOR: u8 = 1;
const ANY: u8 = 2;

fn seed(certs: &[&[u8]], host: u8, time: u8) -> Vec<u8> {
    assert!((1..=4).contains(&certs.len()));
    let mut out = vec![(certs.len() as u8 - 1) | host << 2 | time << 4];
    let (last, rest) = certs.split_last().expect("a certificate");
    for c in rest {
        let len = u16::try_from(c.len()).expect("a certificate under 64 KiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(last);
    out
}

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let seeds = root.join("seeds/cert");
    let anchors = root.join("fuzz_targets/cert_anchors");
    std::fs::create_dir_all(&seeds)?;
    std::fs::create_dir_all(&anchors)?;
    for (mode, name) in MODES {
        let g = pki::generate(mode, &["localhost", "127.0.0.1"])?;
        std::fs::write(anchors.join(format!("{name}.der")), &g.root_der)?;
        let served: Vec<&[u8]> = g.served.iter().map(Vec::as_slice).collect();
        let mut with_root = served.clone();
        with_root.push(&g.root_der);
        let mut reversed = served.clone();
        reversed.reverse();
        let mut files = vec![
            ("chain", seed(&served, LOCALHOST, FLOOR)),
            ("chain-ip", seed(&served, LOOPBACK_IP, AT)),
            ("chain-filler-san", seed(&served, FILLER_SAN, ANY)),
            ("chain-with-root", seed(&with_root, LOCALHOST, FLOOR)),
            ("leaf-alone", seed(&served[..1], LOCALHOST, AT)),
            ("root-as-leaf", seed(&[&g.root_der], LOCALHOST, ANY)),
        ];
        if served.len() > 1 {
            files.push(("reversed", seed(&reversed, LOCALHOST, FLOOR)));
        }
        for (variant, bytes) in files {
            std::fs::write(seeds.join(format!("{name}-{variant}")), bytes)?;
        }
    }
    println!("wrote {} and {}", seeds.display(), anchors.display());
    Ok(())
}
