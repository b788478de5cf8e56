//! `LeafKey::verify_tls13`: the TLS 1.3 CertificateVerify, signed with ring by the key of a
//! leaf that passed `verify_server_chain`.

mod common;

use common::der::flipped;
use common::{Ca, HOST, now, p256, p384, pkcs8, ring_ecdsa_sign, ring_rsa_sign, rsa};
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, RSA_PKCS1_SHA256,
    RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RSA_PSS_SHA256, RSA_PSS_SHA384, RSA_PSS_SHA512,
};
use tpns_emulator::pki::{PkiMode, generate, keys};
use tpns_pki::{Error, KeyKind, LeafKey, Time, scheme};

/// What a TLS 1.3 server signs (RFC 8446 §4.4.3): 64 spaces, the context string, a zero
/// byte, and a transcript hash (a fixed one here).
fn signed_content(hash_len: usize) -> Vec<u8> {
    let mut m = vec![b' '; 64];
    m.extend_from_slice(b"TLS 1.3, server CertificateVerify\0");
    m.extend((0..hash_len).map(|i| i as u8 ^ 0x5a));
    m
}

/// Asserts that `key` takes `sig` as its signature over `msg` under `code`.
fn assert_verifies(key: &LeafKey, code: u16, msg: &[u8], sig: &[u8]) {
    assert_eq!(key.verify_tls13(code, msg, sig), Ok(()), "{code:#06x}");
}

/// The leaf key of an emulator chain, and its private key (PKCS#8).
fn leaf_of(mode: PkiMode) -> (LeafKey, Vec<u8>) {
    let chain = generate(mode, &[HOST]).unwrap();
    let served: Vec<&[u8]> = chain.served.iter().map(Vec::as_slice).collect();
    let key = common::verify(&served, &chain.root_der, HOST, Time::At(now())).unwrap();
    (key, chain.key_der)
}

#[test]
fn p256_and_p384_signatures_verify() {
    // P-256: the emulator's public-ecdsa leaf.
    let (key, private) = leaf_of(PkiMode::PublicEcdsa);
    assert_eq!(key.kind(), KeyKind::P256);
    let msg = signed_content(32);
    let sig = ring_ecdsa_sign(&private, &ECDSA_P256_SHA256_ASN1_SIGNING, &msg);
    assert_verifies(&key, scheme::ECDSA_SECP256R1_SHA256, &msg, &sig);

    // P-384: a leaf made here.
    let root = Ca::root("root", p384());
    let inter = root.sub("intermediate", Some(0), p384());
    let leaf_key = p384();
    let private = leaf_key.serialize_der();
    let leaf = inter.leaf(&leaf_key);
    let key = common::verify(&[&leaf, &inter.der], &root.der, HOST, Time::At(now())).unwrap();
    assert_eq!(key.kind(), KeyKind::P384);
    let msg = signed_content(48);
    let sig = ring_ecdsa_sign(&private, &ECDSA_P384_SHA384_ASN1_SIGNING, &msg);
    assert_verifies(&key, scheme::ECDSA_SECP384R1_SHA384, &msg, &sig);
}

#[test]
fn rsa_pss_signatures_verify_with_each_hash() {
    let (key, private) = leaf_of(PkiMode::PublicRsa);
    assert_eq!(key.kind(), KeyKind::Rsa(2048));
    let msg = signed_content(32);
    for (code, padding) in [
        (scheme::RSA_PSS_RSAE_SHA256, &RSA_PSS_SHA256),
        (scheme::RSA_PSS_RSAE_SHA384, &RSA_PSS_SHA384),
        (scheme::RSA_PSS_RSAE_SHA512, &RSA_PSS_SHA512),
    ] {
        let sig = ring_rsa_sign(&private, padding, &msg);
        assert_verifies(&key, code, &msg, &sig);
        // The same signature claimed under another hash does not verify.
        let other = match code {
            scheme::RSA_PSS_RSAE_SHA256 => scheme::RSA_PSS_RSAE_SHA384,
            _ => scheme::RSA_PSS_RSAE_SHA256,
        };
        assert_eq!(
            key.verify_tls13(other, &msg, &sig),
            Err(Error::BadSignature)
        );
    }
}

#[test]
fn an_rsa_4096_leaf_signs_too() {
    let root = Ca::root("root", rsa(keys::ROOT_RSA4096));
    let leaf = root.leaf(&rsa(keys::INTER_RSA4096));
    let key = common::verify(&[&leaf], &root.der, HOST, Time::At(now())).unwrap();
    assert_eq!(key.kind(), KeyKind::Rsa(4096));
    let msg = signed_content(64);
    let sig = ring_rsa_sign(&pkcs8(keys::INTER_RSA4096), &RSA_PSS_SHA512, &msg);
    assert_verifies(&key, scheme::RSA_PSS_RSAE_SHA512, &msg, &sig);
}

#[test]
fn a_flipped_byte_in_the_signature_or_the_message_is_refused() {
    let (ec, ec_private) = leaf_of(PkiMode::Mixed);
    let (rsa, rsa_private) = leaf_of(PkiMode::PublicRsa);
    let msg = signed_content(32);
    let ec_sig = ring_ecdsa_sign(&ec_private, &ECDSA_P256_SHA256_ASN1_SIGNING, &msg);
    let rsa_sig = ring_rsa_sign(&rsa_private, &RSA_PSS_SHA256, &msg);
    for (key, code, sig) in [
        (&ec, scheme::ECDSA_SECP256R1_SHA256, &ec_sig),
        (&rsa, scheme::RSA_PSS_RSAE_SHA256, &rsa_sig),
    ] {
        assert_eq!(key.verify_tls13(code, &msg, sig), Ok(()));
        for at in [0, sig.len() / 2, sig.len() - 1] {
            assert_eq!(
                key.verify_tls13(code, &msg, &flipped(sig, at)),
                Err(Error::BadSignature),
                "{code:#06x} byte {at}"
            );
        }
        let last = msg.len() - 1;
        assert_eq!(
            key.verify_tls13(code, &flipped(&msg, last), sig),
            Err(Error::BadSignature)
        );
        // Empty, truncated and over-long signatures: refused, no panic.
        for bad in [
            &[][..],
            &sig[..sig.len() - 1],
            &[sig.as_slice(), &[0]].concat(),
        ] {
            assert_eq!(key.verify_tls13(code, &msg, bad), Err(Error::BadSignature));
        }
    }
}

#[test]
fn a_scheme_that_does_not_match_the_key_is_unsupported() {
    let (p256_key, _) = leaf_of(PkiMode::PublicEcdsa);
    let (rsa_key, _) = leaf_of(PkiMode::PublicRsa);
    let msg = signed_content(32);
    let sig = [0u8; 64];
    for code in [
        scheme::ECDSA_SECP384R1_SHA384,
        scheme::RSA_PSS_RSAE_SHA256,
        0x0807, // ed25519
    ] {
        assert_eq!(
            p256_key.verify_tls13(code, &msg, &sig),
            Err(Error::UnsupportedScheme(code))
        );
    }
    for code in [
        scheme::ECDSA_SECP256R1_SHA256,
        scheme::ECDSA_SECP384R1_SHA384,
    ] {
        assert_eq!(
            rsa_key.verify_tls13(code, &msg, &sig),
            Err(Error::UnsupportedScheme(code))
        );
    }
}

#[test]
fn rsa_pkcs1_is_not_a_tls13_scheme() {
    // rsa_pkcs1_sha256/384/512 sign certificates only in TLS 1.3 (RFC 8446 §4.2.3), even
    // when the signature itself is a good PKCS#1 one.
    let (key, private) = leaf_of(PkiMode::PublicRsa);
    let msg = signed_content(32);
    for (code, padding) in [
        (0x0401, &RSA_PKCS1_SHA256),
        (0x0501, &RSA_PKCS1_SHA384),
        (0x0601, &RSA_PKCS1_SHA512),
    ] {
        let sig = ring_rsa_sign(&private, padding, &msg);
        assert_eq!(
            key.verify_tls13(code, &msg, &sig),
            Err(Error::UnsupportedScheme(code))
        );
    }
    // rsa_pss_pss_* (PSS keys) are not offered either.
    for code in [0x0809, 0x080a, 0x080b] {
        assert_eq!(
            key.verify_tls13(code, &msg, &[0; 256]),
            Err(Error::UnsupportedScheme(code))
        );
    }
}

#[test]
fn another_keys_signature_is_refused() {
    let (key, _) = leaf_of(PkiMode::PublicEcdsa);
    let msg = signed_content(32);
    let stranger = p256().serialize_der();
    let sig = ring_ecdsa_sign(&stranger, &ECDSA_P256_SHA256_ASN1_SIGNING, &msg);
    assert_eq!(
        key.verify_tls13(scheme::ECDSA_SECP256R1_SHA256, &msg, &sig),
        Err(Error::BadSignature)
    );
    let (key, _) = leaf_of(PkiMode::PublicRsa);
    let sig = ring_rsa_sign(&pkcs8(keys::OTHER_RSA2048), &RSA_PSS_SHA256, &msg);
    assert_eq!(
        key.verify_tls13(scheme::RSA_PSS_RSAE_SHA256, &msg, &sig),
        Err(Error::BadSignature)
    );
}
