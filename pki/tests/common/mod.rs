//! What the verifier's tests share: chains built with rcgen on the emulator's parameters and
//! fixed keys, a little DER surgery ([`der`]), signatures by ring, and one call that verifies
//! against a single root.
#![allow(dead_code)] // each test binary uses a part of this

pub mod der;

use der::{Der, pem_der, tlv};

use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{CertificateParams, Issuer, KeyPair, PublicKeyData, SignatureAlgorithm};
use rustls_pki_types::CertificateDer;
use tpns_emulator::pki::{ca_params, ec_key, keys, leaf_params, rsa_key};
use tpns_pki::{Error, LeafKey, Time};

/// The host the generated leaves are for.
pub const HOST: &str = "api.tpns.example";

/// Now, in Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A fixed RSA key of the emulator's, signing with PKCS#1 v1.5 SHA-256.
pub fn rsa(pem: &str) -> KeyPair {
    rsa_key(pem, &rcgen::PKCS_RSA_SHA256).expect("fixed RSA key")
}

/// A fresh P-256 key.
pub fn p256() -> KeyPair {
    ec_key(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key")
}

/// A fresh P-384 key.
pub fn p384() -> KeyPair {
    ec_key(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384 key")
}

/// A certificate authority: its certificate and what signs with it.
pub struct Ca {
    /// The CA's certificate, DER.
    pub der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A self-signed root named `cn`, with the emulator's CA parameters (no pathlen).
    pub fn root(cn: &str, key: KeyPair) -> Ca {
        let params = ca_params(cn, None).expect("CA params");
        Ca::self_signed(params, key)
    }

    /// A self-signed root with these parameters.
    pub fn self_signed(params: CertificateParams, key: KeyPair) -> Ca {
        let der = params
            .self_signed(&key)
            .expect("self-signed")
            .der()
            .to_vec();
        Ca {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    /// A CA below this one, with the emulator's CA parameters and `pathlen`.
    pub fn sub(&self, cn: &str, pathlen: Option<u8>, key: KeyPair) -> Ca {
        let mut params = ca_params(cn, pathlen).expect("CA params");
        params.use_authority_key_identifier_extension = true;
        self.sub_with(params, key)
    }

    /// A CA below this one with these parameters.
    pub fn sub_with(&self, params: CertificateParams, key: KeyPair) -> Ca {
        let der = params
            .signed_by(&key, &self.issuer)
            .expect("signed")
            .der()
            .to_vec();
        Ca {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate with `params` for `key` (a key pair, or only a public key), signed here.
    pub fn sign(&self, params: &CertificateParams, key: &impl PublicKeyData) -> Vec<u8> {
        params
            .signed_by(key, &self.issuer)
            .expect("signed")
            .der()
            .to_vec()
    }

    /// The emulator's leaf for [`HOST`] (no filler SANs), signed here.
    pub fn leaf(&self, key: &impl PublicKeyData) -> Vec<u8> {
        self.sign(&leaf_params(&[HOST], 0).expect("leaf params"), key)
    }
}

/// root (RSA-4096) → intermediate (RSA-4096, pathlen 0) → the emulator's RSA-2048 leaf: the
/// `public-rsa` shape, built here so that single parts can be changed.
pub fn rsa_chain() -> (Ca, Ca, KeyPair) {
    let root = Ca::root("test root", rsa(keys::ROOT_RSA4096));
    let inter = root.sub("test intermediate", Some(0), rsa(keys::INTER_RSA4096));
    (root, inter, rsa(keys::LEAF_RSA2048))
}

/// root (P-384) → intermediate (P-384, pathlen 0) → a P-256 leaf key.
pub fn ecdsa_chain() -> (Ca, Ca, KeyPair) {
    let root = Ca::root("test root", p384());
    let inter = root.sub("test intermediate", Some(0), p384());
    (root, inter, p256())
}

/// Verifies `chain` (leaf first) for `host` at `time` with `root` (DER) the only anchor.
pub fn verify(chain: &[&[u8]], root: &[u8], host: &str, time: Time) -> Result<LeafKey, Error> {
    let root = CertificateDer::from(root);
    let anchor = tpns_pki::anchor_from_der(&root).expect("the root is an anchor");
    tpns_pki::verify_server_chain(chain, &[anchor], host, time)
}

/// The outcome of [`verify`] without the key, for `assert_eq!`.
pub fn check(chain: &[&[u8]], root: &[u8], host: &str, time: Time) -> Result<(), Error> {
    verify(chain, root, host, time).map(|_| ())
}

/// A public key rcgen does not hold the private half of: an RSA key, to be the subject of a
/// certificate someone else signs (ring will not load RSA-1024 private keys, so the key is
/// read out of its PKCS#8 here).
pub struct RsaPublicKey(Vec<u8>);

impl RsaPublicKey {
    /// The public half of an RSA private key in PKCS#8 PEM: `RSAPublicKey { n, e }` taken from
    /// the `RSAPrivateKey { version, n, e, … }` inside it.
    pub fn from_pkcs8_pem(pem: &str) -> RsaPublicKey {
        let der = pem_der(pem);
        let info = Der::children(Der::new(&der).content());
        let private = Der::new(Der::new(info[2]).content());
        let fields = Der::children(private.content());
        RsaPublicKey(tlv(0x30, &[fields[1], fields[2]].concat()))
    }
}

impl RsaPublicKey {
    /// The same modulus with another public exponent (big-endian, minimal, positive).
    pub fn with_exponent(&self, e: &[u8]) -> RsaPublicKey {
        let fields = Der::children(Der::new(&self.0).content());
        RsaPublicKey(tlv(0x30, &[fields[0], &tlv(0x02, e)].concat()))
    }
}

impl PublicKeyData for RsaPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// The PKCS#8 DER of an RSA private key in PEM.
pub fn pkcs8(pem: &str) -> Vec<u8> {
    KeyPair::from_pem(pem).expect("PKCS#8 PEM").serialize_der()
}

/// Signs with ring's RSA `padding` and the PKCS#8 key `key`.
pub fn ring_rsa_sign(
    key: &[u8],
    padding: &'static dyn ring::signature::RsaEncoding,
    msg: &[u8],
) -> Vec<u8> {
    let pair = ring::signature::RsaKeyPair::from_pkcs8(key).expect("RSA PKCS#8");
    let mut sig = vec![0u8; pair.public().modulus_len()];
    pair.sign(padding, &ring::rand::SystemRandom::new(), msg, &mut sig)
        .expect("RSA signature");
    sig
}

/// Signs with ring's ECDSA `alg` (an ASN.1 signing algorithm) and the PKCS#8 key `key`.
pub fn ring_ecdsa_sign(
    key: &[u8],
    alg: &'static ring::signature::EcdsaSigningAlgorithm,
    msg: &[u8],
) -> Vec<u8> {
    let rng = ring::rand::SystemRandom::new();
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, key, &rng).expect("EC PKCS#8");
    pair.sign(&rng, msg)
        .expect("ECDSA signature")
        .as_ref()
        .to_vec()
}
