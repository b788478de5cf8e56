#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod algs;
mod cert;
mod der;
mod error;
pub mod roots;
mod rsa;
pub mod time;

use rustls_pki_types::{CertificateDer, ServerName, SignatureVerificationAlgorithm, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

pub use algs::{ALL, Algorithm, scheme};
pub use cert::{KeyKind, Name, Summary, describe, issuer};
pub use error::Error;
pub use rustls_pki_types::TrustAnchor;

/// The most intermediates a chain may bring. rustls-webpki refuses paths with more than six
/// intermediates anyway; a longer list is refused before any signature is checked.
pub const MAX_INTERMEDIATES: usize = 6;

/// The largest leaf public key kept for the CertificateVerify, in bytes of
/// subjectPublicKey: an RSA-4096 RSAPublicKey is 526 bytes.
pub const MAX_KEY_LEN: usize = 530;

/// The time a chain is validated at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
    /// Now, from a clock: Unix seconds.
    At(u64),
    /// A lower bound on now: Unix seconds, e.g. the firmware's build time on a board with no
    /// real-time clock. The chain is validated at the later of this floor and the latest
    /// notBefore among the certificates sent, so a certificate that expired before the floor
    /// is refused; one that expired after it is accepted.
    NotBefore(u64),
    /// **Dangerous:** no date is known. The chain is validated at the latest notBefore among
    /// the certificates sent, so dates only have to overlap: an expired chain is accepted.
    DangerousAnyTime,
}

/// A server's chain that passed: the leaf's public key, kept to check the TLS 1.3
/// CertificateVerify after the handshake buffer that held the chain is reused.
#[derive(Clone)]
pub struct LeafKey {
    kind: KeyKind,
    key: [u8; MAX_KEY_LEN],
    len: usize,
}

impl core::fmt::Debug for LeafKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LeafKey")
            .field("kind", &self.kind)
            .field("len", &self.len)
            .finish()
    }
}

impl LeafKey {
    /// The key's kind and size.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Checks a TLS 1.3 CertificateVerify (RFC 8446 §4.4.3): `signature` by this key with the
    /// SignatureScheme `scheme` (see [`scheme`]) over `message`, the 64 spaces, context string
    /// and transcript hash the handshake signs.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedScheme`] for a scheme not offered here or not matching the key's
    /// kind; [`Error::BadSignature`] for a signature that does not verify (malformed ones
    /// included).
    pub fn verify_tls13(&self, scheme: u16, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        let alg = algs::for_tls13_scheme(scheme).ok_or(Error::UnsupportedScheme(scheme))?;
        let matches = match self.kind {
            KeyKind::Rsa(_) => alg.key_id() == &rustls_pki_types::alg_id::RSA_ENCRYPTION,
            KeyKind::P256 => alg.key_id() == &rustls_pki_types::alg_id::ECDSA_P256,
            KeyKind::P384 => alg.key_id() == &rustls_pki_types::alg_id::ECDSA_P384,
            KeyKind::Other => false,
        };
        if !matches {
            return Err(Error::UnsupportedScheme(scheme));
        }
        match alg.verify(&self.key[..self.len], message, signature) {
            true => Ok(()),
            false => Err(Error::BadSignature),
        }
    }
}

/// Verifies a server's certificate chain, as a TLS client must before it trusts the server
/// (RFC 5280 §6 path validation, by rustls-webpki, with the algorithms of this crate):
///
/// - `chain` is what the server sent, leaf first, then intermediates in any order (at most
///   [`MAX_INTERMEDIATES`]);
/// - a path must lead from the leaf through intermediates to one of `anchors`, every signature
///   valid, every issuer a CA (basicConstraints, pathLenConstraint, keyUsage keyCertSign when
///   present), within name constraints, and every certificate valid at `time`;
/// - the leaf must allow serverAuth (extendedKeyUsage), digitalSignature (keyUsage, when
///   present), and be for `host` (a DNS name, wildcards included, or an IP address in its
///   SANs);
/// - RSA keys must be 2048 to 4096 bits; ECDSA keys P-256 or P-384.
///
/// Nothing is allocated; the stack holds the intermediates' list and, for an RSA signature,
/// a few 4096-bit integers.
///
/// # Errors
///
/// An [`Error`] naming the rule the chain broke.
pub fn verify_server_chain(
    chain: &[&[u8]],
    anchors: &[TrustAnchor<'_>],
    host: &str,
    time: Time,
) -> Result<LeafKey, Error> {
    let (&leaf_der, intermediates) = chain.split_first().ok_or(Error::NoCertificate)?;
    if intermediates.len() > MAX_INTERMEDIATES {
        return Err(Error::TooManyCertificates(chain.len()));
    }
    if anchors.is_empty() {
        return Err(Error::NoTrustAnchor);
    }
    let name = ServerName::try_from(host).map_err(|_| Error::InvalidHostName)?;

    // Our own reading first: key sizes (so RSA-1024 gets its own reason rather than "bad
    // signature"), dates for the floor and dangerous modes, and the leaf's keyUsage.
    let mut latest_start = 0;
    let mut leaf = None;
    for (i, &der) in chain.iter().enumerate() {
        let parsed = cert::Parsed::parse(der).ok_or(Error::Malformed)?;
        match parsed.key_kind() {
            KeyKind::Rsa(bits) if !(rsa::MIN_BITS..=rsa::MAX_BITS).contains(&bits) => {
                return Err(Error::RsaKeySize(bits));
            }
            _ => {}
        }
        latest_start = latest_start.max(parsed.not_before);
        if i == 0 {
            // The leaf is on every path; the issuers' keyUsage is checked on the path found
            // (below), since a server may send certificates that are not on it.
            if parsed
                .key_usage
                .is_some_and(|ku| ku & cert::KU_DIGITAL_SIGNATURE == 0)
            {
                return Err(Error::KeyUsage);
            }
            leaf = Some(parsed);
        }
    }
    let leaf = leaf.ok_or(Error::NoCertificate)?;
    let at = match time {
        Time::At(now) => now,
        Time::NotBefore(floor) => floor.max(latest_start),
        Time::DangerousAnyTime => latest_start,
    };

    let leaf_cert = CertificateDer::from(leaf_der);
    let end_entity = EndEntityCert::try_from(&leaf_cert).map_err(Error::from)?;
    let mut inter = [const { CertificateDer::from_slice(&[]) }; MAX_INTERMEDIATES];
    for (slot, &der) in inter.iter_mut().zip(intermediates) {
        *slot = CertificateDer::from(der);
    }
    let algs: &[&dyn SignatureVerificationAlgorithm] = ALL;
    // webpki does not read keyUsage: each path it would accept is checked here, and a path
    // refused for it leaves webpki free to try another one.
    let key_usage_refused = core::cell::Cell::new(false);
    let issuers_may_sign = |path: &webpki::VerifiedPath<'_>| {
        let refused = path.intermediate_certificates().any(|issuer| {
            cert::Parsed::parse(issuer.der().as_ref()).is_none_or(|p| {
                p.key_usage
                    .is_some_and(|ku| ku & cert::KU_KEY_CERT_SIGN == 0)
            })
        });
        if refused {
            key_usage_refused.set(true);
            return Err(webpki::Error::UnknownIssuer);
        }
        Ok(())
    };
    end_entity
        .verify_for_usage(
            algs,
            anchors,
            &inter[..intermediates.len()],
            UnixTime::since_unix_epoch(core::time::Duration::from_secs(at)),
            KeyUsage::server_auth(),
            None,
            Some(&issuers_may_sign),
        )
        .map_err(|e| match key_usage_refused.get() {
            true => Error::KeyUsage,
            false => Error::from(e),
        })?;
    end_entity
        .verify_is_valid_for_subject_name(&name)
        .map_err(|_| Error::WrongHost)?;

    let mut key = LeafKey {
        kind: leaf.key_kind(),
        key: [0; MAX_KEY_LEN],
        len: leaf.key.len(),
    };
    if matches!(key.kind, KeyKind::Other) || leaf.key.len() > MAX_KEY_LEN {
        return Err(Error::UnsupportedKey);
    }
    key.key[..leaf.key.len()].copy_from_slice(leaf.key);
    Ok(key)
}

/// Makes a trust anchor of a CA certificate (DER), e.g. a private CA or a root not in
/// [`roots`]. The anchor borrows `der`.
///
/// # Errors
///
/// [`Error::Malformed`] if `der` is not a certificate webpki can read.
pub fn anchor_from_der<'a>(der: &'a CertificateDer<'a>) -> Result<TrustAnchor<'a>, Error> {
    webpki::anchor_from_trusted_cert(der).map_err(|_| Error::Malformed)
}

#[cfg(test)]
mod tests {}
