//! The signature algorithms, as rustls-webpki's `SignatureVerificationAlgorithm`s: ECDSA
//! P-256 and P-384 (RustCrypto's `p256`/`p384`, no heap) with SHA-256 and SHA-384, and RSA
//! PKCS#1 v1.5 and PSS with SHA-256/384/512 (the `rsa` module: fixed-size integers, no heap).
//!
//! webpki compares each certificate's algorithm identifiers with [`public_key_alg_id`] and
//! [`signature_alg_id`] before it calls [`verify_signature`], so each algorithm only ever sees
//! keys of its own kind.
//!
//! [`public_key_alg_id`]: SignatureVerificationAlgorithm::public_key_alg_id
//! [`signature_alg_id`]: SignatureVerificationAlgorithm::signature_alg_id
//! [`verify_signature`]: SignatureVerificationAlgorithm::verify_signature

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rustls_pki_types::alg_id;
use rustls_pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};

use crate::rsa::{self, Hash};

/// One verification algorithm: a key kind, a signature scheme, a hash.
#[derive(Debug)]
pub struct Algorithm {
    public_key: AlgorithmIdentifier,
    signature: AlgorithmIdentifier,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    EcdsaP256(Hash),
    #[cfg(feature = "p384")]
    EcdsaP384(Hash),
    RsaPkcs1(Hash),
    RsaPss(Hash),
}

impl Algorithm {
    /// Checks `signature` over `message` with `public_key` (the subjectPublicKey bits: a SEC1
    /// point for ECDSA, an RSAPublicKey for RSA). `true` only for a valid signature; malformed
    /// keys and signatures are `false`.
    pub(crate) fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        match self.kind {
            Kind::EcdsaP256(hash) => {
                let Ok(key) = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key) else {
                    return false;
                };
                let Ok(sig) = p256::ecdsa::Signature::from_der(signature) else {
                    return false;
                };
                let mut digest = [0u8; 64];
                let digest = rsa::digest_into(hash, &[message], &mut digest);
                key.verify_prehash(digest, &sig).is_ok()
            }
            #[cfg(feature = "p384")]
            Kind::EcdsaP384(hash) => {
                let Ok(key) = p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key) else {
                    return false;
                };
                let Ok(sig) = p384::ecdsa::Signature::from_der(signature) else {
                    return false;
                };
                let mut digest = [0u8; 64];
                let digest = rsa::digest_into(hash, &[message], &mut digest);
                key.verify_prehash(digest, &sig).is_ok()
            }
            Kind::RsaPkcs1(hash) => rsa::PublicKey::parse(public_key)
                .is_ok_and(|key| key.verify_pkcs1(hash, message, signature)),
            Kind::RsaPss(hash) => rsa::PublicKey::parse(public_key)
                .is_ok_and(|key| key.verify_pss(hash, message, signature)),
        }
    }

    /// The identifier of the key kind this algorithm checks.
    pub(crate) fn key_id(&self) -> &AlgorithmIdentifier {
        &self.public_key
    }
}

impl SignatureVerificationAlgorithm for Algorithm {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        match self.verify(public_key, message, signature) {
            true => Ok(()),
            false => Err(InvalidSignature),
        }
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.public_key
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature
    }
}

macro_rules! algorithms {
    ($(
        $(#[doc = $doc:literal])*
        $(#[cfg($cfg:meta)])?
        $name:ident, $key:ident, $sig:ident, $kind:ident($hash:ident);
    )*) => {
        $(
            $(#[doc = $doc])*
            $(#[cfg($cfg)])?
            pub static $name: Algorithm = Algorithm {
                public_key: alg_id::$key,
                signature: alg_id::$sig,
                kind: Kind::$kind(Hash::$hash),
            };
        )*

        /// Every algorithm this build verifies, for certificate signatures (the features
        /// `p384` and `sha512` add theirs).
        pub static ALL: &[&dyn SignatureVerificationAlgorithm] = &[
            $($(#[cfg($cfg)])? &$name,)*
        ];
    };
}

algorithms! {
    /// ECDSA on P-256 with SHA-256.
    ECDSA_P256_SHA256, ECDSA_P256, ECDSA_SHA256, EcdsaP256(Sha256);
    /// ECDSA on P-256 with SHA-384 (feature `sha512`).
    #[cfg(feature = "sha512")]
    ECDSA_P256_SHA384, ECDSA_P256, ECDSA_SHA384, EcdsaP256(Sha384);
    /// ECDSA on P-384 with SHA-256 (feature `p384`).
    #[cfg(feature = "p384")]
    ECDSA_P384_SHA256, ECDSA_P384, ECDSA_SHA256, EcdsaP384(Sha256);
    /// ECDSA on P-384 with SHA-384 (features `p384` and `sha512`).
    #[cfg(all(feature = "p384", feature = "sha512"))]
    ECDSA_P384_SHA384, ECDSA_P384, ECDSA_SHA384, EcdsaP384(Sha384);
    /// RSA PKCS#1 v1.5 with SHA-256, 2048- to 4096-bit keys.
    RSA_PKCS1_SHA256, RSA_ENCRYPTION, RSA_PKCS1_SHA256, RsaPkcs1(Sha256);
    /// RSA PKCS#1 v1.5 with SHA-384, 2048- to 4096-bit keys (feature `sha512`).
    #[cfg(feature = "sha512")]
    RSA_PKCS1_SHA384, RSA_ENCRYPTION, RSA_PKCS1_SHA384, RsaPkcs1(Sha384);
    /// RSA PKCS#1 v1.5 with SHA-512, 2048- to 4096-bit keys (feature `sha512`).
    #[cfg(feature = "sha512")]
    RSA_PKCS1_SHA512, RSA_ENCRYPTION, RSA_PKCS1_SHA512, RsaPkcs1(Sha512);
    /// RSA-PSS with SHA-256 (MGF1-SHA-256, 32-byte salt) by an rsaEncryption key.
    RSA_PSS_SHA256, RSA_ENCRYPTION, RSA_PSS_SHA256, RsaPss(Sha256);
    /// RSA-PSS with SHA-384 (MGF1-SHA-384, 48-byte salt) by an rsaEncryption key (feature
    /// `sha512`).
    #[cfg(feature = "sha512")]
    RSA_PSS_SHA384, RSA_ENCRYPTION, RSA_PSS_SHA384, RsaPss(Sha384);
    /// RSA-PSS with SHA-512 (MGF1-SHA-512, 64-byte salt) by an rsaEncryption key (feature
    /// `sha512`).
    #[cfg(feature = "sha512")]
    RSA_PSS_SHA512, RSA_ENCRYPTION, RSA_PSS_SHA512, RsaPss(Sha512);
}

/// The TLS 1.3 SignatureScheme code points a server's CertificateVerify may use with the
/// algorithms here (RFC 8446 §4.2.3). RSA PKCS#1 v1.5 is for certificates only in TLS 1.3.
pub mod scheme {
    /// ecdsa_secp256r1_sha256
    pub const ECDSA_SECP256R1_SHA256: u16 = 0x0403;
    /// ecdsa_secp384r1_sha384
    pub const ECDSA_SECP384R1_SHA384: u16 = 0x0503;
    /// rsa_pss_rsae_sha256
    pub const RSA_PSS_RSAE_SHA256: u16 = 0x0804;
    /// rsa_pss_rsae_sha384
    pub const RSA_PSS_RSAE_SHA384: u16 = 0x0805;
    /// rsa_pss_rsae_sha512
    pub const RSA_PSS_RSAE_SHA512: u16 = 0x0806;
}

/// The algorithm of a TLS 1.3 CertificateVerify signature scheme, if supported.
pub(crate) fn for_tls13_scheme(code: u16) -> Option<&'static Algorithm> {
    Some(match code {
        scheme::ECDSA_SECP256R1_SHA256 => &ECDSA_P256_SHA256,
        #[cfg(all(feature = "p384", feature = "sha512"))]
        scheme::ECDSA_SECP384R1_SHA384 => &ECDSA_P384_SHA384,
        scheme::RSA_PSS_RSAE_SHA256 => &RSA_PSS_SHA256,
        #[cfg(feature = "sha512")]
        scheme::RSA_PSS_RSAE_SHA384 => &RSA_PSS_SHA384,
        #[cfg(feature = "sha512")]
        scheme::RSA_PSS_RSAE_SHA512 => &RSA_PSS_SHA512,
        _ => return None,
    })
}
