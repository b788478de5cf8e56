//! `tpns cert-check` through the real binary: chains from every emulator PKI mode accepted,
//! from PEM files and from a running emulator on 127.0.0.1 (`--from`); each refusal with exit 6
//! and its reason; the JSON's shape; exit 2 for usage errors and unreadable files; TLS 1.2-only
//! and silent servers; nothing but a handshake sent; hostile subjects escaped.
//!
//! Every run has a 20 s limit: a child that outlives it is killed and the test fails.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Run, TPNS, run};
use serde_json::Value;
use tpns_emulator::pki::{self, PkiMode};
use tpns_emulator::{Emulator, EmulatorConfig};
use tpns_test_support::TempDir;
use tpns_transport_std::rustls;

/// How long a run may take before it counts as a hang.
const LIMIT: Duration = Duration::from_secs(20);
const HOSTS: &[&str] = &["localhost", "127.0.0.1"];
const MODES: [PkiMode; 4] = [
    PkiMode::Simple,
    PkiMode::PublicRsa,
    PkiMode::PublicEcdsa,
    PkiMode::Mixed,
];

/// Runs `tpns ARGS`, killing it and failing if it still runs after [`LIMIT`].
fn tpns(args: &[&str]) -> Run {
    run(Command::new(TPNS).args(args), LIMIT)
}

/// `--roots ROOTS --chain CHAIN --host localhost`, then `more`.
fn chain_args<'a>(roots: &'a str, chain: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let args = ["--roots", roots, "--chain", chain, "--host", "localhost"];
    [&args[..], more].concat()
}

/// `tpns cert-check` of the chain in the file `chain` against the roots in `roots`, for
/// `localhost`, with `more` arguments.
fn check_chain(roots: &str, chain: &str, more: &[&str]) -> Run {
    tpns(&[&["cert-check"][..], &chain_args(roots, chain, more)].concat())
}

/// `tpns cert-check --roots ROOTS --from FROM` with `more` arguments.
fn check_from(roots: &str, from: &str, more: &[&str]) -> Run {
    tpns(&[&["cert-check", "--roots", roots, "--from", from][..], more].concat())
}

/// PEM text of DER certificates (RFC 7468), written here so the test does not trust the
/// program's own reader to define the format.
fn pem(ders: &[&[u8]]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for der in ders {
        let mut text = String::new();
        for chunk in der.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    text.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    text.push('=');
                }
            }
        }
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in text.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// A chain of `mode` written as `roots.pem` (its root) and `chain.pem` (what a server sends).
struct Files {
    dir: TempDir,
    roots: String,
    chain: String,
}

fn files(mode: PkiMode) -> Files {
    let dir = TempDir::new("certcheck-files");
    let g = pki::generate(mode, HOSTS).unwrap();
    let roots = dir.write("roots.pem", pem(&[&g.root_der]));
    let served: Vec<&[u8]> = g.served.iter().map(Vec::as_slice).collect();
    let chain = dir.write("chain.pem", pem(&served));
    Files { dir, roots, chain }
}

/// What each mode's chain is made of: (key, signature) of each certificate sent.
fn expected(mode: PkiMode) -> &'static [(&'static str, &'static str)] {
    const RSA: &str = "sha256WithRSAEncryption";
    match mode {
        PkiMode::Simple => &[("ECDSA P-256", "ecdsa-with-SHA256")],
        PkiMode::PublicRsa => &[("RSA-2048", RSA), ("RSA-4096", RSA)],
        PkiMode::PublicEcdsa => &[
            ("ECDSA P-256", "ecdsa-with-SHA384"),
            ("ECDSA P-384", "ecdsa-with-SHA384"),
        ],
        PkiMode::Mixed => &[("ECDSA P-256", RSA), ("RSA-4096", RSA)],
    }
}

fn json(run: &Run) -> Value {
    assert_eq!(run.stdout.lines().count(), 1, "one line of JSON: {run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {run:?}"))
}

/// Checks the JSON's every field for an accepted or refused chain of `mode`.
fn assert_json(v: &Value, mode: PkiMode, reason: Option<&str>) {
    let obj = v.as_object().expect("an object");
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["accepted", "chain", "reason"], "{v}");
    assert_eq!(v["accepted"], Value::Bool(reason.is_none()), "{v}");
    match reason {
        None => assert_eq!(v["reason"], Value::Null, "{v}"),
        Some(want) => {
            let got = v["reason"].as_str().expect("a reason string");
            assert!(got.contains(want), "reason {got:?} lacks {want:?}");
        }
    }
    let chain = v["chain"].as_array().expect("chain is an array");
    let want = expected(mode);
    assert_eq!(chain.len(), want.len(), "{v}");
    for (i, (cert, (key, sig))) in chain.iter().zip(want).enumerate() {
        let mut keys: Vec<&str> = cert
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["key", "signature", "subject"], "{cert}");
        let subject = cert["subject"].as_str().unwrap();
        let cn = if i == 0 {
            "CN=localhost"
        } else {
            "CN=tpns-emulator test intermediate"
        };
        assert!(subject.contains(cn), "{mode:?} cert {i}: {subject}");
        assert_eq!(cert["key"], *key, "{mode:?} cert {i}");
        assert_eq!(cert["signature"], *sig, "{mode:?} cert {i}");
    }
}

fn assert_refused(run: &Run, reason: &str) {
    assert_eq!(run.code, 6, "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {run:?}");
    assert!(
        lines[0].starts_with("tpns: refused: ") && lines[0].contains(reason),
        "stderr lacks {reason:?}: {run:?}"
    );
    assert!(
        !run.stdout.lines().any(|l| l.starts_with("accepted")),
        "{run:?}"
    );
}

#[test]
fn every_emulator_mode_is_accepted_from_a_pem_chain() {
    for mode in MODES {
        let f = files(mode);
        for host in HOSTS {
            let run = tpns(&[
                "cert-check",
                "--roots",
                &f.roots,
                "--chain",
                &f.chain,
                "--host",
                host,
            ]);
            assert_eq!(run.code, 0, "{mode:?} {host}: {run:?}");
            assert!(run.stderr.is_empty(), "{run:?}");
            let lines: Vec<&str> = run.stdout.lines().collect();
            let want = expected(mode);
            assert_eq!(lines.len(), want.len() * 2 + 1, "{run:?}");
            for (i, (key, sig)) in want.iter().enumerate() {
                assert!(lines[2 * i].starts_with(&format!("certificate {}", i + 1)));
                assert!(
                    lines[2 * i + 1].contains(&format!("key {key}, signed {sig}, valid ")),
                    "{mode:?}: {}",
                    lines[2 * i + 1]
                );
            }
            assert!(
                lines
                    .last()
                    .unwrap()
                    .starts_with(&format!("accepted for {host} at ")),
                "{run:?}"
            );
        }
        let run = check_chain(&f.roots, &f.chain, &["--json"]);
        assert_eq!(run.code, 0, "{mode:?}: {run:?}");
        assert_json(&json(&run), mode, None);
    }
}

#[test]
fn at_is_the_validation_time() {
    let f = files(PkiMode::PublicRsa);
    let at = |time: &str| check_chain(&f.roots, &f.chain, &["--at", time]);
    // The leaf is valid from January of last year for three years: now is inside.
    let year: u64 = 1970
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 31_556_952;
    let inside = format!("{year}-06-01T12:00:00+08:00");
    let run = at(&inside);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(&format!("at {year}-06-01T04:00:00Z")),
        "{run:?}"
    );

    let run = at("2099-01-01T00:00:00Z");
    assert_refused(&run, "a certificate expired at ");
    assert!(
        run.stderr.contains("validation time 2099-01-01T00:00:00Z"),
        "{run:?}"
    );
    let run = at("2000-01-01T00:00:00Z");
    assert_refused(&run, "a certificate is not valid before ");
    assert!(
        run.stderr.contains("validation time 2000-01-01T00:00:00Z"),
        "{run:?}"
    );

    let run = check_chain(
        &f.roots,
        &f.chain,
        &["--at", "2099-01-01T00:00:00Z", "--json"],
    );
    assert_eq!(run.code, 6);
    assert_json(
        &json(&run),
        PkiMode::PublicRsa,
        Some("a certificate expired at "),
    );
}

#[test]
fn a_wrong_host_is_refused() {
    for mode in MODES {
        let f = files(mode);
        let base = ["cert-check", "--roots", &f.roots, "--chain", &f.chain];
        for host in [
            "example.com",
            "127.0.0.2",
            "svc00.push.tpns-emulator.test.evil",
        ] {
            let run = tpns(&[&base[..], &["--host", host]].concat());
            assert_refused(&run, "the certificate is not valid for the host name");
        }
        let run = tpns(&[&base[..], &["--host", "example.com", "--json"]].concat());
        assert_eq!(run.code, 6, "{run:?}");
        assert_json(
            &json(&run),
            mode,
            Some("the certificate is not valid for the host name"),
        );
    }
}

#[test]
fn an_unknown_root_or_an_impostor_is_refused_and_any_root_of_several_is_enough() {
    // Simple mode makes a fresh CA key each time, under the same name: another run's root
    // is an impostor; public-ecdsa's root has another name altogether.
    let f = files(PkiMode::Simple);
    let other = pki::generate(PkiMode::Simple, HOSTS).unwrap();
    let mine = pki::generate(PkiMode::PublicEcdsa, HOSTS).unwrap();
    let stranger = f.dir.write("stranger.pem", pem(&[&mine.root_der]));
    let run = check_chain(&stranger, &f.chain, &[]);
    assert_refused(
        &run,
        "the chain does not lead to a trusted root (unknown issuer)",
    );
    let impostor = f.dir.write("impostor.pem", pem(&[&other.root_der]));
    let run = check_chain(&impostor, &f.chain, &[]);
    assert_refused(&run, "a signature does not verify");

    // The right root after two others in the same file.
    let roots = std::fs::read_to_string(&f.roots).unwrap();
    let several = f.dir.write(
        "several.pem",
        format!("{}{roots}", pem(&[&other.root_der, &mine.root_der])),
    );
    let run = check_chain(&several, &f.chain, &[]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn a_chain_missing_its_intermediate_is_refused() {
    let dir = TempDir::new("certcheck-nointer");
    let g = pki::generate(PkiMode::PublicRsa, HOSTS).unwrap();
    let roots = dir.write("roots.pem", pem(&[&g.root_der]));
    let chain = dir.write("chain.pem", pem(&[&g.served[0]]));
    let run = check_chain(&roots, &chain, &[]);
    assert_refused(&run, "unknown issuer");
}

#[test]
fn an_unreadable_certificate_is_described_as_null_and_refused() {
    let dir = TempDir::new("certcheck-garbage");
    let g = pki::generate(PkiMode::PublicEcdsa, HOSTS).unwrap();
    let roots = dir.write("roots.pem", pem(&[&g.root_der]));
    let mut truncated = g.served[0].clone();
    truncated.truncate(truncated.len() / 2);
    let chain = dir.write("chain.pem", pem(&[&truncated, &g.served[1]]));
    let run = check_chain(&roots, &chain, &[]);
    assert_refused(&run, "a certificate is not well-formed DER");
    let half = truncated.len();
    assert!(
        run.stdout.starts_with(&format!(
            "certificate 1 (leaf): unreadable ({half} bytes of DER)\n"
        )),
        "{run:?}"
    );
    let run = check_chain(&roots, &chain, &["--json"]);
    assert_eq!(run.code, 6, "{run:?}");
    let v = json(&run);
    assert_eq!(v["accepted"], false);
    assert_eq!(v["reason"], "a certificate is not well-formed DER");
    assert_eq!(
        v["chain"][0],
        serde_json::json!({"subject": null, "key": null, "signature": null})
    );
    assert_eq!(v["chain"][1]["key"], "ECDSA P-384");
    assert_eq!(v["chain"].as_array().unwrap().len(), 2);
}

#[test]
fn usage_errors_and_unreadable_files_exit_2() {
    let f = files(PkiMode::Simple);
    let empty = f.dir.write("empty.pem", "");
    let no_cert = f.dir.write(
        "key.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\nhello\n",
    );
    let bad_base64 = f.dir.write(
        "bad.pem",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    );
    let missing = f.dir.join("missing.pem").to_str().unwrap().to_owned();
    let folder = f.dir.path().to_str().unwrap().to_owned();
    let at = |time| chain_args(&f.roots, &f.chain, &["--at", time]);
    let roots_from = |more: &[&'static str]| [&["--roots", f.roots.as_str()][..], more].concat();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (chain_args(&missing, &f.chain, &[]), "--roots"),
        (chain_args(&f.roots, &missing, &[]), "--chain"),
        (chain_args(&f.roots, &folder, &[]), "not a regular"),
        (chain_args(&empty, &f.chain, &[]), "no PEM certif"),
        (chain_args(&f.roots, &empty, &[]), "no PEM certif"),
        (chain_args(&f.roots, &no_cert, &[]), "no PEM certif"),
        (chain_args(&f.roots, &bad_base64, &[]), "not a valid PEM"),
        (at("tomorrow"), "RFC 3339"),
        (at("2026-02-30T00:00:00Z"), "no such date"),
        (
            vec![
                "--roots",
                &f.roots,
                "--chain",
                &f.chain,
                "--host",
                "bad host!",
            ],
            "neither a DNS name",
        ),
        (vec!["--roots", &f.roots, "--chain", &f.chain], "--host"),
        (vec!["--roots", &f.roots, "--host", "localhost"], "--chain"),
        (vec!["--chain", &f.chain, "--host", "localhost"], "--roots"),
        (
            chain_args(&f.roots, &f.chain, &["--from", "127.0.0.1:1"]),
            "cannot be used with",
        ),
        (roots_from(&["--from", "127.0.0.1:0"]), "port"),
        (roots_from(&["--from", "[::1"]), "closing ]"),
        (roots_from(&["--from", ":443"]), "no host"),
        (
            roots_from(&["--from", "localhost:1", "--timeout", "0"]),
            "timeout",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["cert-check"];
        all.extend(&args);
        all.push("--json");
        let run = tpns(&all);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(want),
            "{args:?}: stderr lacks {want:?}: {run:?}"
        );
    }
    // A CA file that is not a usable anchor (the leaf of a chain is fine as an anchor for
    // webpki; a broken certificate is not).
    let broken = f.dir.write("broken.pem", pem(&[b"\x30\x03\x02\x01\x01"]));
    let run = tpns(&[
        "cert-check",
        "--roots",
        &broken,
        "--chain",
        &f.chain,
        "--host",
        "x",
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("certificate 1 cannot be a trust anchor"),
        "{run:?}"
    );
}

/// An emulator with `mode`'s chain on 127.0.0.1; its root is in `ca.pem`.
fn emulator(mode: PkiMode) -> (Emulator, TempDir) {
    let dir = TempDir::new("certcheck-emu");
    let emu = Emulator::start(EmulatorConfig::new(dir.join("data")).pki(mode)).unwrap();
    (emu, dir)
}

#[test]
fn from_fetches_the_chain_of_a_running_emulator() {
    for mode in [PkiMode::PublicRsa, PkiMode::PublicEcdsa] {
        let (emu, _dir) = emulator(mode);
        let ca = emu.ca_path().to_str().unwrap().to_owned();
        let from = emu.https_addr().to_string();
        // --host defaults to HOST of --from: 127.0.0.1, an IP SAN of the leaf.
        let run = check_from(&ca, &from, &[]);
        assert_eq!(run.code, 0, "{mode:?}: {run:?}");
        assert!(run.stdout.ends_with("\n") && run.stdout.contains("accepted for 127.0.0.1 at "));
        let run = check_from(&ca, &from, &["--host", "localhost", "--json"]);
        assert_eq!(run.code, 0, "{mode:?}: {run:?}");
        assert_json(&json(&run), mode, None);

        let run = check_from(&ca, &from, &["--host", "example.com"]);
        assert_refused(&run, "the certificate is not valid for the host name");
        let run = check_from(&ca, &from, &["--at", "2099-01-01T00:00:00Z"]);
        assert_refused(&run, "a certificate expired at ");
        // The handshake does not count as an upload or a push.
        assert!(emu.uploads().is_empty() && emu.pushes().is_empty());
    }
}

#[test]
fn from_a_closed_port_or_a_silent_server_is_refused_within_the_timeout() {
    let f = files(PkiMode::Simple);
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let run = check_from(&f.roots, &closed, &["--json"]);
    assert_refused(&run, "could not fetch the chain: cannot connect to ");
    let v = json(&run);
    assert_eq!(v["accepted"], false);
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("could not fetch the chain")
    );
    assert_eq!(v["chain"], serde_json::json!([]));

    // Accepts, reads the ClientHello, never answers; holds the socket until the client leaves.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (mut s, _) = silent.accept().unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    });
    let started = Instant::now();
    let run = check_from(&f.roots, &addr, &["--timeout", "1"]);
    let took = started.elapsed();
    assert_refused(&run, "the TLS handshake with 127.0.0.1:");
    assert!(run.stderr.contains("failed: timed out"), "{run:?}");
    assert!(took < Duration::from_secs(8), "took {took:?}");
    server.join().unwrap();
}

/// A rustls server on 127.0.0.1 for one connection with `mode`'s chain and the given
/// versions. The thread returns the application bytes the client sent (there must be none).
fn tls_server(
    mode: PkiMode,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (SocketAddr, Vec<u8>, JoinHandle<Vec<u8>>) {
    let g = pki::generate(mode, HOSTS).unwrap();
    let (addr, server) = tls_server_with(&g.served, &g.key_der, versions, ring());
    (addr, g.root_der, server)
}

fn ring() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// [`tls_server`] with this chain (leaf first), PKCS#8 key and crypto provider.
fn tls_server_with(
    served: &[Vec<u8>],
    key_der: &[u8],
    versions: &[&'static rustls::SupportedProtocolVersion],
    provider: rustls::crypto::CryptoProvider,
) -> (SocketAddr, JoinHandle<Vec<u8>>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = served
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(key_der.to_vec().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(LIMIT)).unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut received = Vec::new();
        // Until the client closes: every byte of plaintext it sent is kept.
        loop {
            match conn.complete_io(&mut sock) {
                Ok((0, 0)) => break,
                Ok(_) => {}
                Err(_) => break,
            }
            let mut buf = [0u8; 1024];
            match conn.reader().read(&mut buf) {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        let _ = sock.flush();
        received
    });
    (addr, handle)
}

#[test]
fn a_tls12_only_server_is_refused_with_its_chain_shown() {
    let (addr, root, server) = tls_server(PkiMode::PublicRsa, &[&rustls::version::TLS12]);
    let dir = TempDir::new("certcheck-tls12");
    let roots = dir.write("roots.pem", pem(&[&root]));
    let run = check_from(
        &roots,
        &addr.to_string(),
        &["--host", "localhost", "--json"],
    );
    assert_refused(&run, "speaks TLS 1.2 but not TLS 1.3");
    // The chain is valid: the refusal is the protocol version alone.
    assert_json(
        &json(&run),
        PkiMode::PublicRsa,
        Some("a device (embedded-tls, TLS 1.3 only)"),
    );
    assert!(
        server.join().unwrap().is_empty(),
        "application data was sent"
    );
}

#[test]
fn from_sends_nothing_but_a_handshake() {
    let (addr, root, server) = tls_server(PkiMode::Mixed, &[&rustls::version::TLS13]);
    let dir = TempDir::new("certcheck-tls13");
    let roots = dir.write("roots.pem", pem(&[&root]));
    let run = check_from(&roots, &addr.to_string(), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("key ECDSA P-256, signed sha256WithRSAEncryption")
    );
    assert_eq!(server.join().unwrap(), b"", "application data was sent");
}

#[test]
fn hostile_subjects_are_escaped_on_the_terminal_and_kept_in_the_json() {
    use rcgen::{DnType, KeyPair};
    let hostile = "evil\u{1b}[2J\u{7}\u{202e}gnp.exe";
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = pki::ca_params("root", None).unwrap();
    ca.distinguished_name
        .push(DnType::OrganizationalUnitName, hostile);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = pki::leaf_params(&["localhost"], 0).unwrap();
    leaf.distinguished_name
        .push(DnType::OrganizationalUnitName, hostile);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();

    let dir = TempDir::new("certcheck-hostile");
    let roots = dir.write("roots.pem", pem(&[ca_cert.der()]));
    let chain = dir.write("chain.pem", pem(&[leaf_cert.der()]));
    let run = check_chain(&roots, &chain, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let raw = |c: char| c.is_control() && c != '\n' || c == '\u{202e}';
    assert!(!run.stdout.chars().any(raw), "{run:?}");
    assert!(
        run.stdout
            .contains("OU=evil\\u{1b}[2J\\u{7}\\u{202e}gnp.exe"),
        "{run:?}"
    );
    let run = check_chain(&roots, &chain, &["--json"]);
    assert!(!run.stdout.trim_end().chars().any(raw), "{run:?}");
    let subject = json(&run)["chain"][0]["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        subject.contains("OU=evil\\u{1b}[2J\\u{7}\\u{202e}gnp.exe"),
        "{subject}"
    );
}

/// The judge of the test above can see application data: a rustls client that sends some
/// after its handshake has it reported.
#[test]
fn the_test_server_reports_application_data() {
    use rustls::pki_types::CertificateDer;
    let (addr, root, server) = tls_server(PkiMode::PublicEcdsa, &[&rustls::version::TLS13]);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(root)).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(LIMIT)).unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    tls.flush().unwrap();
    conn.send_close_notify();
    conn.complete_io(&mut sock).unwrap();
    drop(sock);
    assert_eq!(server.join().unwrap(), b"GET / HTTP/1.1\r\n\r\n");
}

#[test]
fn a_server_that_cannot_sign_as_a_device_needs_is_refused() {
    // An Ed25519 leaf: its server cannot sign the CertificateVerify with any scheme a device
    // offers (ECDSA P-256/P-384, RSA-PSS), so the handshake fails before the chain is sent.
    let ca_key = pki::ec_key(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let ca = pki::ca_params("ed25519 test root", None).unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let leaf_key = pki::ec_key(&rcgen::PKCS_ED25519).unwrap();
    let leaf = pki::leaf_params(&["localhost"], 0)
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let (addr, server) = tls_server_with(
        &[leaf.der().to_vec()],
        &leaf_key.serialize_der(),
        &[&rustls::version::TLS13],
        ring(),
    );
    let dir = TempDir::new("certcheck-ed25519");
    let roots = dir.write("roots.pem", pem(&[ca_cert.der()]));
    let run = check_from(&roots, &addr.to_string(), &["--host", "localhost"]);
    assert_refused(&run, "a device could not connect");
    assert!(
        run.stderr.contains("ECDSA P-256/P-384 or RSA-PSS"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("the TLS handshake with 127.0.0.1:"),
        "{run:?}"
    );
    assert!(server.join().unwrap().is_empty());
}

#[test]
fn a_server_without_the_devices_cipher_suite_or_group_is_refused() {
    let g = pki::generate(PkiMode::PublicEcdsa, HOSTS).unwrap();
    let dir = TempDir::new("certcheck-suites");
    let roots = dir.write("roots.pem", pem(&[&g.root_der]));
    let only_aes256 = {
        let mut p = ring();
        p.cipher_suites
            .retain(|s| s.suite() == rustls::CipherSuite::TLS13_AES_256_GCM_SHA384);
        p
    };
    let only_x25519 = {
        let mut p = ring();
        p.kx_groups = vec![rustls::crypto::ring::kx_group::X25519];
        p
    };
    for provider in [only_aes256, only_x25519] {
        let (addr, server) =
            tls_server_with(&g.served, &g.key_der, &[&rustls::version::TLS13], provider);
        let run = check_from(&roots, &addr.to_string(), &[]);
        assert_refused(&run, "a device could not connect");
        assert!(
            run.stderr.contains("TLS_AES_128_GCM_SHA256, secp256r1"),
            "{run:?}"
        );
        assert!(server.join().unwrap().is_empty());
    }
}
