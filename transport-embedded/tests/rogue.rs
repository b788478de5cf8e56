//! A hostile TLS 1.3 server that skips or forges the steps by which a server proves who it is,
//! against the device's verifying handshake.
//!
//! embedded-tls 0.19 finishes a handshake whether or not the server sent a Certificate and a
//! CertificateVerify. This server speaks real TLS 1.3 (RFC 8446: P-256 key share,
//! TLS_AES_128_GCM_SHA256, its own key schedule) and can leave those messages out, send them
//! in the wrong order, or sign with another key. It decrypts everything the client sends after
//! the handshake, so a test can assert that not one byte of application data (the request,
//! with the credentials) arrived.
//!
//! Its honest mode completes the handshake with a verifying client: the proof that the refusals
//! are the client's doing, not a broken server.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Signer;
use p256::pkcs8::DecodePrivateKey;
use rand_core::OsRng;
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use std_embedded_nal::Stack;
use tpns_emulator::pki::{PkiMode, generate};
use tpns_transport_embedded::nal::NalStream;
use tpns_transport_embedded::tls::{
    HandshakeError, READ_RECORD_LEN, TlsBuffers, Trust, WRITE_RECORD_LEN, anchor_from_der, connect,
};

/// What the server sends after EncryptedExtensions, before its Finished.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Certificate and a correct CertificateVerify: an honest server.
    Honest,
    /// Neither Certificate nor CertificateVerify.
    NoCertificate,
    /// The Certificate, but no CertificateVerify.
    NoCertificateVerify,
    /// A (correct-looking) CertificateVerify before the Certificate.
    VerifyFirst,
    /// The Certificate, and a CertificateVerify signed by a key that is not the leaf's.
    VerifyByAnotherKey,
}

/// What the server saw of the client after its own Finished.
#[derive(Debug, Default)]
struct Seen {
    /// The client's Finished arrived and decrypted.
    client_finished: bool,
    /// Bytes of application data the client sent (decrypted).
    application_bytes: usize,
}

fn hkdf_expand_label(secret: &[u8], label: &str, context: &[u8], len: usize) -> Vec<u8> {
    let hk = Hkdf::<Sha256>::from_prk(secret).expect("a 32-byte PRK");
    let full = format!("tls13 {label}");
    let mut info = Vec::new();
    info.extend_from_slice(&(len as u16).to_be_bytes());
    info.push(full.len() as u8);
    info.extend_from_slice(full.as_bytes());
    info.push(context.len() as u8);
    info.extend_from_slice(context);
    let mut out = vec![0u8; len];
    hk.expand(&info, &mut out).expect("a valid length");
    out
}

fn derive_secret(secret: &[u8], label: &str, transcript: &[u8]) -> Vec<u8> {
    hkdf_expand_label(secret, label, &Sha256::digest(transcript), 32)
}

/// One direction's record protection (RFC 8446 §5.2, §5.3).
struct Protection {
    aead: Aes128Gcm,
    iv: Vec<u8>,
    seq: u64,
}

impl Protection {
    fn new(traffic_secret: &[u8]) -> Self {
        let key = hkdf_expand_label(traffic_secret, "key", &[], 16);
        Protection {
            aead: Aes128Gcm::new_from_slice(&key).unwrap(),
            iv: hkdf_expand_label(traffic_secret, "iv", &[], 12),
            seq: 0,
        }
    }

    fn nonce(&mut self) -> Vec<u8> {
        let mut nonce = self.iv.clone();
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        nonce
    }

    fn seal(&mut self, content_type: u8, plaintext: &[u8]) -> Vec<u8> {
        let mut inner = plaintext.to_vec();
        inner.push(content_type);
        let len = (inner.len() + 16) as u16;
        let mut header = vec![23, 3, 3];
        header.extend_from_slice(&len.to_be_bytes());
        let nonce = self.nonce();
        let sealed = self
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &inner,
                    aad: &header,
                },
            )
            .unwrap();
        [header, sealed].concat()
    }

    /// The inner content type and plaintext of a protected record, or `None` if it does not
    /// decrypt.
    fn open(&mut self, header: &[u8], body: &[u8]) -> Option<(u8, Vec<u8>)> {
        let nonce = self.nonce();
        let mut inner = self
            .aead
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: body,
                    aad: header,
                },
            )
            .ok()?;
        while inner.last() == Some(&0) {
            inner.pop();
        }
        let content_type = inner.pop()?;
        Some((content_type, inner))
    }
}

fn read_record(sock: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut header = [0u8; 5];
    sock.read_exact(&mut header).ok()?;
    let len = u16::from_be_bytes([header[3], header[4]]) as usize;
    let mut body = vec![0u8; len];
    sock.read_exact(&mut body).ok()?;
    Some((header.to_vec(), body))
}

fn handshake_message(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() as u32;
    let mut m = vec![kind];
    m.extend_from_slice(&len.to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

/// The P-256 key share the ClientHello offers (group 0x0017), and its session id.
fn parse_client_hello(msg: &[u8]) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(msg[0], 1, "a ClientHello");
    let mut at = 4 + 2 + 32;
    let sid_len = msg[at] as usize;
    let session_id = msg[at + 1..at + 1 + sid_len].to_vec();
    at += 1 + sid_len;
    at += 2 + u16::from_be_bytes([msg[at], msg[at + 1]]) as usize; // cipher suites
    at += 1 + msg[at] as usize; // compression
    let end = at + 2 + u16::from_be_bytes([msg[at], msg[at + 1]]) as usize;
    at += 2;
    while at < end {
        let kind = u16::from_be_bytes([msg[at], msg[at + 1]]);
        let len = u16::from_be_bytes([msg[at + 2], msg[at + 3]]) as usize;
        let data = &msg[at + 4..at + 4 + len];
        if kind == 0x0033 {
            let mut k = 2;
            while k < data.len() {
                let group = u16::from_be_bytes([data[k], data[k + 1]]);
                let klen = u16::from_be_bytes([data[k + 2], data[k + 3]]) as usize;
                if group == 0x0017 {
                    return (data[k + 4..k + 4 + klen].to_vec(), session_id);
                }
                k += 4 + klen;
            }
        }
        at += 4 + len;
    }
    panic!("no P-256 key share in the ClientHello");
}

/// Serves one TLS 1.3 handshake in `mode` with `chain` (leaf first) and the leaf's key, then
/// reports what the client sent afterwards.
fn serve(listener: TcpListener, mode: Mode, chain: Vec<Vec<u8>>, leaf_key: Vec<u8>) -> Seen {
    let (mut sock, _) = listener.accept().unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let (_, client_hello) = read_record(&mut sock).unwrap();
    let (client_share, session_id) = parse_client_hello(&client_hello);

    let secret = p256::ecdh::EphemeralSecret::random(&mut OsRng);
    let server_share = p256::EncodedPoint::from(secret.public_key());
    let client_public = p256::PublicKey::from_sec1_bytes(&client_share).unwrap();
    let shared = secret.diffie_hellman(&client_public);

    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[7u8; 32]);
    sh.push(session_id.len() as u8);
    sh.extend_from_slice(&session_id);
    sh.extend_from_slice(&[0x13, 0x01, 0]);
    let mut ext = vec![0x00, 0x2b, 0, 2, 3, 4, 0x00, 0x33];
    let share = server_share.as_bytes();
    ext.extend_from_slice(&((share.len() + 4) as u16).to_be_bytes());
    ext.extend_from_slice(&[0x00, 0x17]);
    ext.extend_from_slice(&(share.len() as u16).to_be_bytes());
    ext.extend_from_slice(share);
    sh.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    sh.extend_from_slice(&ext);
    let server_hello = handshake_message(2, &sh);
    let mut record = vec![22, 3, 3];
    record.extend_from_slice(&(server_hello.len() as u16).to_be_bytes());
    record.extend_from_slice(&server_hello);
    sock.write_all(&record).unwrap();

    let mut transcript = [client_hello, server_hello].concat();
    let zeros = [0u8; 32];
    let (early, _) = Hkdf::<Sha256>::extract(Some(&zeros), &zeros);
    let derived = derive_secret(&early, "derived", &[]);
    let (handshake_secret, _) = Hkdf::<Sha256>::extract(Some(&derived), shared.raw_secret_bytes());
    let s_hs = derive_secret(&handshake_secret, "s hs traffic", &transcript);
    let c_hs = derive_secret(&handshake_secret, "c hs traffic", &transcript);
    let mut server_protection = Protection::new(&s_hs);
    let mut client_protection = Protection::new(&c_hs);

    let mut flight = Vec::new();
    let mut send = |msg: Vec<u8>, transcript: &mut Vec<u8>, flight: &mut Vec<u8>| {
        transcript.extend_from_slice(&msg);
        flight.extend(server_protection.seal(22, &msg));
    };
    send(handshake_message(8, &[0, 0]), &mut transcript, &mut flight);

    let certificate = {
        let mut list = Vec::new();
        for der in &chain {
            list.extend_from_slice(&(der.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(der);
            list.extend_from_slice(&[0, 0]);
        }
        let mut body = vec![0];
        body.extend_from_slice(&(list.len() as u32).to_be_bytes()[1..]);
        body.extend_from_slice(&list);
        handshake_message(11, &body)
    };
    let leaf_signer = p256::ecdsa::SigningKey::from_pkcs8_der(&leaf_key).unwrap();
    let other_signer = p256::ecdsa::SigningKey::random(&mut OsRng);
    let certificate_verify = |transcript: &[u8], signer: &p256::ecdsa::SigningKey| {
        let mut signed = vec![0x20u8; 64];
        signed.extend_from_slice(b"TLS 1.3, server CertificateVerify\0");
        signed.extend_from_slice(&Sha256::digest(transcript));
        let sig: p256::ecdsa::Signature = signer.sign(&signed);
        let der = sig.to_der();
        let mut body = vec![0x04, 0x03];
        body.extend_from_slice(&(der.as_bytes().len() as u16).to_be_bytes());
        body.extend_from_slice(der.as_bytes());
        handshake_message(15, &body)
    };
    match mode {
        Mode::Honest => {
            send(certificate.clone(), &mut transcript, &mut flight);
            let cv = certificate_verify(&transcript, &leaf_signer);
            send(cv, &mut transcript, &mut flight);
        }
        Mode::NoCertificate => {}
        Mode::NoCertificateVerify => send(certificate.clone(), &mut transcript, &mut flight),
        Mode::VerifyFirst => {
            let cv = certificate_verify(&transcript, &leaf_signer);
            send(cv, &mut transcript, &mut flight);
            send(certificate.clone(), &mut transcript, &mut flight);
        }
        Mode::VerifyByAnotherKey => {
            send(certificate.clone(), &mut transcript, &mut flight);
            let cv = certificate_verify(&transcript, &other_signer);
            send(cv, &mut transcript, &mut flight);
        }
    }
    let finished_key = hkdf_expand_label(&s_hs, "finished", &[], 32);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&finished_key).unwrap();
    mac.update(&Sha256::digest(&transcript));
    let finished = handshake_message(20, &mac.finalize().into_bytes());
    send(finished, &mut transcript, &mut flight);
    if sock.write_all(&flight).is_err() {
        return Seen::default();
    }

    // The application secrets, to read whatever the client sends after its Finished.
    let derived = derive_secret(&handshake_secret, "derived", &[]);
    let (master, _) = Hkdf::<Sha256>::extract(Some(&derived), &zeros);
    let c_ap = derive_secret(&master, "c ap traffic", &transcript);
    let mut app_protection = Protection::new(&c_ap);

    let mut seen = Seen::default();
    while let Some((header, body)) = read_record(&mut sock) {
        match header[0] {
            20 => continue, // a compatibility ChangeCipherSpec
            23 if !seen.client_finished => match client_protection.open(&header, &body) {
                Some((22, msg)) if msg.first() == Some(&20) => seen.client_finished = true,
                Some((23, data)) => seen.application_bytes += data.len(),
                _ => {}
            },
            23 => match app_protection.open(&header, &body) {
                Some((23, data)) => seen.application_bytes += data.len(),
                Some(_) => {}
                // Not decryptable with the application keys: count it, to be safe.
                None => seen.application_bytes += body.len(),
            },
            _ => {}
        }
    }
    seen
}

/// Runs one handshake of the verifying device client against the rogue server in `mode`.
fn run(mode: Mode) -> (Result<(), HandshakeError>, Seen) {
    let chain = generate(PkiMode::Simple, &["localhost"]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (served, key) = (chain.served.clone(), chain.key_der.clone());
    let server = thread::spawn(move || serve(listener, mode, served, key));

    let ca = CertificateDer::from(chain.root_der.as_slice());
    let anchors = [anchor_from_der(&ca).unwrap()];
    let trust = Trust::new(&anchors, "localhost")
        .unwrap()
        .dangerous_skip_time_check();
    let mut stack = Stack;
    let socket = NalStream::connect(&mut stack, addr).unwrap();
    let mut rx = vec![0u8; READ_RECORD_LEN];
    let mut tx = vec![0u8; WRITE_RECORD_LEN];
    let result = match connect(socket, TlsBuffers::new(&mut rx, &mut tx), &trust, OsRng) {
        Ok(mut tls) => {
            // What an upload would do next: send the request. Only an honest server gets here.
            use embedded_io::Write as _;
            let _ = tls.write_all(b"POST /v3/push/package/upload HTTP/1.1\r\n");
            let _ = tls.flush();
            drop(tls);
            Ok(())
        }
        Err(e) => Err(e),
    };
    // The socket is closed once the connection is dropped, which ends the server's reading.
    let seen = server.join().expect("the rogue server does not panic");
    (result, seen)
}

#[test]
fn an_honest_server_completes_the_handshake_and_gets_the_request() {
    let (result, seen) = run(Mode::Honest);
    assert!(result.is_ok(), "{result:?}");
    assert!(seen.client_finished);
    assert!(
        seen.application_bytes > 0,
        "the control case must see the request"
    );
}

/// A server that never proves it holds the certificate's key: no certificate at all, a
/// certificate without CertificateVerify, or a CertificateVerify before the certificate (an
/// error, not a panic). Each is refused before any request byte.
#[test]
fn a_server_that_never_proves_its_key_is_refused_before_any_request_byte() {
    for mode in [
        Mode::NoCertificate,
        Mode::NoCertificateVerify,
        Mode::VerifyFirst,
    ] {
        let (result, seen) = run(mode);
        assert!(
            matches!(result, Err(HandshakeError::Unauthenticated)),
            "{mode:?}: {result:?}"
        );
        assert_eq!(seen.application_bytes, 0, "{mode:?}: {seen:?}");
    }
}

#[test]
fn a_certificate_verify_by_another_key_is_refused_before_any_request_byte() {
    let (result, seen) = run(Mode::VerifyByAnotherKey);
    assert!(
        matches!(
            result,
            Err(HandshakeError::Signature(tpns_pki::Error::BadSignature))
        ),
        "{result:?}"
    );
    assert_eq!(seen.application_bytes, 0, "{seen:?}");
}
