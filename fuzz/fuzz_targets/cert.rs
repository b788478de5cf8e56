//! The device's certificate verifier (tpns-pki) on arbitrary DER: `verify_server_chain`,
//! `describe` and the Display of what they return must never panic, whatever the bytes.
//!
//! Input: one header byte, then the certificates. Header bits 0–1: how many certificates
//! (1 to 4); bits 2–3: the host name checked ([`HOSTS`]); bits 4–5: the validation time
//! ([`time`]). Each certificate but the last is a 2-byte big-endian length and that many bytes
//! (fewer if the input ends); the last takes the rest.
//!
//! The anchors are DigiCert Global Root G2 ([`tpns_pki::roots::TPNS`]) and the roots of the
//! emulator chains the seeds were made from (`cert_anchors/`), so that the seeds verify all the
//! way and mutations start from a path that passes. `tests/examples/cert_fuzz_seeds.rs`
//! regenerates both.
#![no_main]

use std::fmt::Write;

use libfuzzer_sys::fuzz_target;
use rustls_pki_types::CertificateDer;
use tpns_pki::{Time, TrustAnchor, roots, scheme};

const HOSTS: [&str; 4] = [
    "localhost",
    "127.0.0.1",
    "svc07.push.tpns-emulator.test",
    "*.x",
];

/// 2026-09-21, inside the seeds' validity when they were made.
const NOW: u64 = 1_790_000_000;

const ANCHOR_DERS: [&[u8]; 4] = [
    include_bytes!("cert_anchors/simple.der"),
    include_bytes!("cert_anchors/public-rsa.der"),
    include_bytes!("cert_anchors/public-ecdsa.der"),
    include_bytes!("cert_anchors/mixed.der"),
];

/// 9999-12-31T23:59:59Z, the last time a certificate can name.
const LAST: u64 = 253_402_300_799;

fn time(bits: u8) -> Time {
    match bits & 3 {
        0 => Time::At(NOW),
        1 => Time::NotBefore(NOW),
        2 => Time::DangerousAnyTime,
        // Not `u64::MAX`: the Display of `Error::Expired` walks from 1970 one year at a time,
        // so a clock that far off takes minutes to describe (a known issue of the error text,
        // not of the DER input this target is about).
        _ => Time::At(LAST),
    }
}

/// Splits `input` into at most `count` certificates as the module docs say.
fn split(mut input: &[u8], count: usize) -> Vec<&[u8]> {
    let mut certs = Vec::with_capacity(count);
    for _ in 1..count {
        let Some((len, rest)) = input.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
        let (cert, rest) = rest.split_at(len);
        certs.push(cert);
        input = rest;
    }
    certs.push(input);
    certs
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, input)) = data.split_first() else {
        return;
    };
    let certs = split(input, usize::from(head & 3) + 1);
    let host = HOSTS[usize::from(head >> 2 & 3)];

    let ders: Vec<CertificateDer<'static>> = ANCHOR_DERS
        .iter()
        .map(|d| CertificateDer::from(d.to_vec()))
        .collect();
    let mut anchors: Vec<TrustAnchor<'_>> = roots::TPNS.to_vec();
    anchors.extend(
        ders.iter()
            .map(|d| tpns_pki::anchor_from_der(d).expect("a seed root")),
    );

    let mut text = String::new();
    for cert in &certs {
        if let Some(s) = tpns_pki::describe(cert) {
            let _ = write!(text, "{} {} {} {s:?}", s.subject, s.key, s.signature);
        }
        // Anything may be offered as an anchor too.
        let der = CertificateDer::from(*cert);
        if let Ok(a) = tpns_pki::anchor_from_der(&der) {
            let _ = write!(text, "{:?}", a.subject);
        }
    }
    match tpns_pki::verify_server_chain(&certs, &anchors, host, time(head >> 4)) {
        Ok(key) => {
            let _ = write!(text, "{} {key:?}", key.kind());
            // The leaf's key against a malformed CertificateVerify of each scheme.
            let leaf = certs[0];
            let signature = &leaf[leaf.len().saturating_sub(512)..];
            for s in [
                scheme::ECDSA_SECP256R1_SHA256,
                scheme::ECDSA_SECP384R1_SHA384,
                scheme::RSA_PSS_RSAE_SHA256,
                scheme::RSA_PSS_RSAE_SHA384,
                scheme::RSA_PSS_RSAE_SHA512,
                0x0807,
            ] {
                let _ = key.verify_tls13(s, leaf, signature);
            }
        }
        Err(e) => {
            let _ = write!(text, "{e} {e:?}");
        }
    }
});
