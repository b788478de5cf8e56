//! Hostile zips through the real `tpns` binary: every zip of the shared package corpus
//! (`tests/packages/cases.tsv`, the hostile layouts included) through `tpns check`, zip bombs
//! made at run time, and `tpns upload`, which must refuse a hostile zip before sending a byte.
//! Each run of the binary has a deadline: a refusal must come in bounded time. Last, the client's
//! inspector and the emulator's are held against each other on mutated corpus zips.

mod common;

use std::time::Duration;

use common::{Run, tpns_within};
use tpns_test_support::corpus::{self, SHARED_RULES, dir as corpus_dir};
use tpns_test_support::deflate::deflate_repeated;
use tpns_test_support::random::xorshift;
use tpns_test_support::{Emu, TempDir};

/// Runs `tpns` with `args`; kills it and fails the test if it is not done within `deadline`.
fn tpns(args: &[&str], deadline: Duration) -> Run {
    tpns_within(args, deadline)
}

/// The `.zip` cases of `cases.tsv`: (file, expected line of a rejection or None for ok, the
/// comment above the case).
fn zip_cases() -> Vec<(String, Option<u64>, String)> {
    corpus::cases()
        .into_iter()
        .filter(|c| c.name.ends_with(".zip"))
        .map(|c| (c.name, c.expected.err(), c.why))
        .collect()
}

#[test]
fn check_gives_every_corpus_zip_its_verdict() {
    let cases = zip_cases();
    let hostile = [
        "cdcount.zip",
        "hidden_local.zip",
        "localname.zip",
        "enc_local.zip",
    ];
    for name in hostile
        .iter()
        .chain(&["method_local.zip", "bslash.zip", "drive.zip"])
    {
        assert!(
            cases.iter().any(|c| c.0 == *name),
            "{name} is missing from cases.tsv"
        );
    }
    let mut failures = Vec::new();
    for (name, line, why) in &cases {
        let path = corpus_dir().join(name);
        let run = tpns(&["check", path.to_str().unwrap()], Duration::from_secs(30));
        let printed = run.stdout.trim_end();
        let ok = match line {
            None => run.code == 0 && printed.ends_with(": ok"),
            Some(line) => {
                let rule = why.split([':', '(']).next().unwrap_or("").trim();
                // A file-level violation has no line number: `FILE: rule`.
                let place = match line {
                    0 => format!("{name}: "),
                    n => format!("{name}:{n}: "),
                };
                run.code == 3
                    && printed.contains(&place)
                    && (!SHARED_RULES.contains(&rule) || printed.contains(rule))
            }
        };
        if !ok {
            failures.push(format!("{name} ({why}): want {line:?}, got {run:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The ISO-HDLC CRC-32 of the zip format, bit-reflected (APPNOTE.TXT 4.4.7).
const POLY: u32 = 0xEDB8_8320;

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `a * b` modulo the CRC polynomial, in the reflected representation (as zlib's `multmodp`).
fn mul_mod_p(a: u32, mut b: u32) -> u32 {
    let mut m = 1u32 << 31;
    let mut p = 0;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                return p;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
}

/// The CRC-32 of `A` followed by `B`, from the CRC-32 of each and the length of `B` (zlib's
/// `crc32_combine`): a bomb's honest CRC without running 1.5 GiB through a CRC.
fn crc32_combine(crc_a: u32, crc_b: u32, len_b: u64) -> u32 {
    // x^(8 len_b) mod P, by squaring: appending len_b bytes multiplies a CRC by it.
    let (mut shift, mut square, mut bits) = (1u32 << 31, 1u32 << 30, len_b * 8);
    while bits != 0 {
        if bits & 1 != 0 {
            shift = mul_mod_p(square, shift);
        }
        square = mul_mod_p(square, square);
        bits >>= 1;
    }
    mul_mod_p(shift, crc_a) ^ crc_b
}

/// A one-entry zip (`accounts.txt`) holding `stream`, whose headers give `crc` and `size`.
fn zip_of(stream: &[u8], crc: u32, size: u32) -> Vec<u8> {
    let name = b"accounts.txt";
    let facts = |v: &mut Vec<u8>| {
        v.extend_from_slice(&[8, 0, 0, 0, 0x21, 0x50]); // deflate, time, date
        v.extend_from_slice(&crc.to_le_bytes());
        v.extend_from_slice(&(stream.len() as u32).to_le_bytes());
        v.extend_from_slice(&size.to_le_bytes());
        v.extend_from_slice(&(name.len() as u16).to_le_bytes());
    };
    let mut z = b"PK\x03\x04\x14\0\0\0".to_vec();
    facts(&mut z);
    z.extend_from_slice(&[0, 0]);
    z.extend_from_slice(name);
    z.extend_from_slice(stream);
    let cd = z.len() as u32;
    z.extend_from_slice(b"PK\x01\x02\x1e\x03\x14\0\0\0");
    facts(&mut z);
    z.extend_from_slice(&[0; 8]);
    z.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
    z.extend_from_slice(&[0; 4]);
    z.extend_from_slice(name);
    let cd_size = z.len() as u32 - cd;
    z.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0");
    z.extend_from_slice(&cd_size.to_le_bytes());
    z.extend_from_slice(&cd.to_le_bytes());
    z.extend_from_slice(&[0, 0]);
    z
}

/// `copies` copies of `chunk` as one deflate stream, with the CRC-32 of the whole text.
fn bomb_stream(chunk: &[u8], copies: usize) -> (Vec<u8>, u32) {
    let crc_chunk = crc32(chunk);
    let len = chunk.len() as u64;
    let crc = (1..copies).fold(crc_chunk, |crc, _| crc32_combine(crc, crc_chunk, len));
    (deflate_repeated(chunk, copies), crc)
}

#[test]
fn zip_bombs_are_refused_at_the_cap_in_bounded_time() {
    let chunk = b"ab\n".repeat(1 << 18); // 768 KiB of valid rows ("ab")
    let crc_chunk = crc32(&chunk);
    assert_eq!(
        crc32_combine(crc_chunk, crc_chunk, chunk.len() as u64),
        crc32(&chunk.repeat(2)),
        "the CRC-32 arithmetic"
    );
    let dir = TempDir::new("hostile-bomb");
    // 1.5 GiB, honest in every header: before the cap, it passed `check`.
    let (stream, crc) = bomb_stream(&chunk, 2048);
    let size = chunk.len() as u64 * 2048;
    assert_eq!(size, 3 << 29);
    let honest = dir.join("bomb_1_5_gib.zip");
    std::fs::write(&honest, zip_of(&stream, crc, size as u32)).unwrap();
    // 4 GiB + 768 KiB, its size written without zip64 as a naive writer does: modulo 2^32,
    // 768 KiB. Before, the whole 4 GiB was inflated before the size was found wrong.
    let (stream, crc) = bomb_stream(&chunk, 5462);
    let size = chunk.len() as u64 * 5462;
    assert!(size > 4 << 30);
    let wrapped = dir.join("bomb_4_gib.zip");
    std::fs::write(&wrapped, zip_of(&stream, crc, size as u32)).unwrap();

    for (path, rule) in [
        (&honest, "zip entry inflates to more than 1 GiB"),
        (&wrapped, "zip entry's size does not match its data"),
    ] {
        let run = tpns(&["check", path.to_str().unwrap()], Duration::from_secs(60));
        let zip_len = std::fs::metadata(path).unwrap().len();
        println!(
            "{}: {zip_len} bytes, refused in {:?}: {}",
            path.file_name().unwrap().to_string_lossy(),
            run.took,
            run.stdout.trim_end()
        );
        assert_eq!(run.code, 3, "{run:?}");
        assert!(run.stdout.contains(&format!(".zip: {rule}")), "{run:?}");
    }
}

#[test]
fn upload_refuses_a_hostile_zip_before_sending_it() {
    let emu = Emu::start("hostile-upload");
    for name in ["cdcount.zip", "hidden_local.zip", "localname.zip"] {
        let path = corpus_dir().join(name);
        let args = [
            "upload",
            "--endpoint",
            &emu.https_url(),
            "--ca-file",
            emu.ca(),
            path.to_str().unwrap(),
        ];
        let run = tpns(&args, Duration::from_secs(30));
        assert_eq!(run.code, 3, "{name}: {run:?}");
        assert!(
            format!("{}{}", run.stdout, run.stderr).contains("zip "),
            "{name}: {run:?}"
        );
    }
    assert!(
        emu.uploads().is_empty(),
        "a hostile zip reached the service"
    );
}

/// The client's verdict on a zip held in memory: `Ok(rows)`, or the error's text.
fn client_verdict(zip: &[u8]) -> Result<u64, String> {
    use tpns_transport_std::tpns_core::package::{ZIP_WINDOW, inspect_zip, validate_zip_rows};
    let mut file = tpns_transport_std::Io(std::io::Cursor::new(zip));
    let mut scratch = vec![0u8; 4096];
    let mut window = Box::new([0u8; ZIP_WINDOW]);
    inspect_zip(&mut file, &mut scratch)
        .and_then(|entry| validate_zip_rows(&mut file, &entry, &mut window, &mut scratch))
        .map(|summary| summary.rows)
        .map_err(|e| e.to_string())
}

/// The emulator's verdict on the same bytes, fed in one piece.
fn emulator_verdict(zip: &[u8]) -> Result<u64, String> {
    let mut inspector = tpns_emulator::zipcheck::ZipInspector::new();
    inspector.feed(zip);
    inspector.finish().map_err(|v| v.to_string())
}

/// Every corpus zip with a few bytes changed or cut, through both independent inspectors: what
/// one accepts, the other accepts with the same row count. An archive that reads differently to
/// a directory reader (the client) and a streaming reader (the emulator) must not pass either.
#[test]
fn client_and_emulator_accept_the_same_mutated_zips() {
    let mut next = xorshift(0x9E37_79B9_7F4A_7C15u64);
    let (mut accepted, mut tried) = (0, 0);
    let mut disagreements = Vec::new();
    for (name, _, _) in zip_cases() {
        let zip = std::fs::read(corpus_dir().join(&name)).unwrap();
        for _ in 0..400 {
            let mut z = zip.clone();
            for _ in 0..1 + next() % 2 {
                let i = (next() % z.len() as u64) as usize;
                z[i] = next() as u8;
            }
            let (client, emulator) = (client_verdict(&z), emulator_verdict(&z));
            tried += 1;
            accepted += usize::from(client.is_ok());
            if client.is_ok() != emulator.is_ok() || (client.is_ok() && client != emulator) {
                disagreements.push(format!("{name}: client {client:?}, emulator {emulator:?}"));
            }
        }
    }
    println!("{tried} mutated zips, {accepted} accepted by both");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(30)].join("\n")
    );
}
