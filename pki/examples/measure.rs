//! The verifier's cost on the host, for `pki/callgrind.sh`: instructions (under valgrind's
//! callgrind, counting only [`measured_chain`] and [`measured_verify`]) and stack (how much
//! less of a thread's stack can be used up beforehand with the verification than without).
//!
//! ```text
//! measure run KIND      verify KIND's chain and CertificateVerify once (callgrind counts it)
//! measure stack KIND    print the stack, in bytes, that verifying KIND takes
//! measure probe KIND N  verify KIND after using N bytes of a thread's stack (exit 0), or
//!                       overflow (`none` verifies nothing: the calibration)
//! ```
//!
//! KIND is an emulator mode (`simple`, `public-rsa`, `public-ecdsa`, `mixed`), whose chain
//! and leaf key are made fresh before anything is measured, or a real chain from
//! `tests/data` (`real-letsencrypt`, ECDSA; `real-aws`, RSA), verified at its capture time
//! and with no CertificateVerify.

use std::hint::black_box;
use std::process::{Command, ExitCode};

use rustls_pki_types::{CertificateDer, TrustAnchor};
use tpns_emulator::pki::{PkiMode, generate};
use tpns_pki::{Error, LeafKey, Time, scheme, verify_server_chain};

/// Everything one verification needs, prepared before it is measured.
struct Case {
    chain: Vec<Vec<u8>>,
    root: Option<Vec<u8>>,
    anchor: Option<TrustAnchor<'static>>,
    host: &'static str,
    time: Time,
    /// A CertificateVerify: scheme, signed content, signature.
    verify: Option<(u16, Vec<u8>, Vec<u8>)>,
}

const HOST: &str = "api.tpns.example";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn case(kind: &str) -> Result<Case, String> {
    let real = |chain: &[&[u8]], cn: &str, host| {
        let anchor = webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .find(|a| {
                a.subject
                    .as_ref()
                    .windows(cn.len())
                    .any(|w| w == cn.as_bytes())
            })
            .cloned();
        Case {
            chain: chain.iter().map(|c| c.to_vec()).collect(),
            root: None,
            anchor,
            host,
            time: Time::At(1_755_113_506),
            verify: None,
        }
    };
    let mode = match kind {
        "real-letsencrypt" => {
            return Ok(real(
                &[
                    include_bytes!("../tests/data/letsencrypt_org_valid_1.crt"),
                    include_bytes!("../tests/data/letsencrypt_org_valid_2.crt"),
                ],
                "ISRG Root X1",
                "letsencrypt.org",
            ));
        }
        "real-aws" => {
            return Ok(real(
                &[
                    include_bytes!("../tests/data/aws_amazon_com_valid_1.crt"),
                    include_bytes!("../tests/data/aws_amazon_com_valid_2.crt"),
                ],
                "Amazon Root CA 1",
                "aws.amazon.com",
            ));
        }
        other => other.parse::<PkiMode>()?,
    };
    let chain = generate(mode, &[HOST]).map_err(|e| e.to_string())?;
    let mut content = vec![b' '; 64];
    content.extend_from_slice(b"TLS 1.3, server CertificateVerify\0");
    content.extend_from_slice(&[0x5a; 32]);
    let rng = ring::rand::SystemRandom::new();
    let verify = if mode == PkiMode::PublicRsa {
        let pair =
            ring::signature::RsaKeyPair::from_pkcs8(&chain.key_der).map_err(|e| e.to_string())?;
        let mut sig = vec![0; pair.public().modulus_len()];
        pair.sign(&ring::signature::RSA_PSS_SHA256, &rng, &content, &mut sig)
            .map_err(|e| e.to_string())?;
        (scheme::RSA_PSS_RSAE_SHA256, content, sig)
    } else {
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &chain.key_der,
            &rng,
        )
        .map_err(|e| e.to_string())?;
        let sig = pair.sign(&rng, &content).map_err(|e| e.to_string())?;
        (
            scheme::ECDSA_SECP256R1_SHA256,
            content,
            sig.as_ref().to_vec(),
        )
    };
    Ok(Case {
        chain: chain.served,
        root: Some(chain.root_der),
        anchor: None,
        host: HOST,
        time: Time::At(now()),
        verify: Some(verify),
    })
}

/// The chain's verification: what callgrind counts first.
#[inline(never)]
fn measured_chain(
    chain: &[&[u8]],
    anchors: &[TrustAnchor<'_>],
    host: &str,
    time: Time,
) -> Result<LeafKey, Error> {
    verify_server_chain(black_box(chain), anchors, host, time)
}

/// The CertificateVerify's check: what callgrind counts second.
#[inline(never)]
fn measured_verify(key: &LeafKey, scheme: u16, content: &[u8], sig: &[u8]) -> Result<(), Error> {
    key.verify_tls13(black_box(scheme), content, sig)
}

/// Verifies `case` once: the chain, then its CertificateVerify if it has one.
fn run(case: &Case) -> Result<(), Error> {
    let root = case
        .root
        .as_ref()
        .map(|r| CertificateDer::from(r.as_slice()));
    let anchor = match (&root, &case.anchor) {
        (Some(root), _) => tpns_pki::anchor_from_der(root)?,
        (None, Some(anchor)) => anchor.clone(),
        (None, None) => return Err(Error::NoTrustAnchor),
    };
    let chain: Vec<&[u8]> = case.chain.iter().map(Vec::as_slice).collect();
    let key = measured_chain(&chain, &[anchor], case.host, case.time)?;
    if let Some((scheme, content, sig)) = &case.verify {
        measured_verify(&key, *scheme, content, sig)?;
    }
    Ok(())
}

/// The thread stack the stack probes run in: more than any verification needs.
const PROBE_STACK: usize = 512 * 1024;

/// Recurses until `pad` bytes of stack lie between `base` and this frame, then runs `work`.
#[inline(never)]
fn padded(base: usize, pad: usize, work: &dyn Fn() -> bool) -> bool {
    let frame = black_box([0u8; 64]);
    let here = std::ptr::from_ref(&frame) as usize;
    let done = if base.saturating_sub(here) >= pad {
        work()
    } else {
        padded(base, pad, work)
    };
    black_box(&frame);
    done
}

/// Runs `case` (or nothing, with `None`) in a thread of [`PROBE_STACK`] bytes after using
/// `pad` bytes of it; an overflow aborts the process.
fn probe(case: Option<Case>, pad: usize) -> bool {
    std::thread::Builder::new()
        .stack_size(PROBE_STACK)
        .spawn(move || {
            let base = black_box(0u8);
            let base = std::ptr::from_ref(&base) as usize;
            padded(base, pad, &|| case.as_ref().is_none_or(|c| run(c).is_ok()))
        })
        .expect("thread")
        .join()
        .unwrap_or(false)
}

/// The largest padding (to 16 bytes) after which `probe` still succeeds, each try in a fresh
/// process.
fn largest_pad(kind: &str) -> Result<usize, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let works = |pad: usize| {
        Command::new(&me)
            .args(["probe", kind, &pad.to_string()])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    let (mut low, mut high) = (0, PROBE_STACK);
    if !works(low) {
        return Err(format!(
            "{kind} does not verify even with {PROBE_STACK} bytes of stack"
        ));
    }
    while high - low > 16 {
        let mid = (low + high) / 2;
        if works(mid) {
            low = mid;
        } else {
            high = mid;
        }
    }
    Ok(low)
}

/// The stack `kind`'s verification takes: how much less padding it leaves room for than
/// doing nothing in the same place.
fn stack_use(kind: &str) -> Result<usize, String> {
    Ok(largest_pad("none")? - largest_pad(kind)?)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["run", kind] => case(kind).and_then(|c| run(&c).map_err(|e| e.to_string())),
        ["probe", kind, stack] => {
            let stack = stack
                .parse()
                .map_err(|_| "stack: a number of bytes".to_owned());
            let case = match kind {
                "none" => Ok(None),
                kind => case(kind).map(Some),
            };
            case.and_then(|c| match probe(c, stack?) {
                true => Ok(()),
                false => Err("refused".to_owned()),
            })
        }
        ["stack", kind] => stack_use(kind).map(|bytes| println!("{bytes}")),
        _ => Err("usage: measure run|stack KIND, or measure probe KIND BYTES".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("measure: {e}");
            ExitCode::FAILURE
        }
    }
}
