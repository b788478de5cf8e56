//! What this crate reads out of a certificate itself (RFC 5280 §4.1), beyond webpki's checks:
//! the public key (kept for the TLS 1.3 CertificateVerify after the chain's buffer is gone),
//! the validity dates, keyUsage (which webpki does not check), and a description for people.

use core::fmt;

use rustls_pki_types::alg_id;

use crate::der::{self, Reader, tag};
use crate::rsa;

/// The parts of one certificate used here, borrowed from its DER.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parsed<'a> {
    /// The subject Name's contents (a SEQUENCE of RDN SETs).
    pub(crate) subject: &'a [u8],
    /// The subjectPublicKeyInfo's AlgorithmIdentifier contents (OID and parameters).
    pub(crate) key_alg: &'a [u8],
    /// The subjectPublicKey bits.
    pub(crate) key: &'a [u8],
    /// The outer signatureAlgorithm's contents.
    pub(crate) signature_alg: &'a [u8],
    pub(crate) not_before: u64,
    pub(crate) not_after: u64,
    /// The keyUsage bits (RFC 5280 §4.2.1.3), if the extension is present: bit 0
    /// (digitalSignature) is the top bit of the first byte.
    pub(crate) key_usage: Option<u16>,
}

const OID_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];

/// keyUsage digitalSignature: a leaf signs the TLS 1.3 CertificateVerify with its key.
pub(crate) const KU_DIGITAL_SIGNATURE: u16 = 0x8000;
/// keyUsage keyCertSign: an issuer signs certificates.
pub(crate) const KU_KEY_CERT_SIGN: u16 = 0x0400;

impl<'a> Parsed<'a> {
    /// Reads `der`, a whole Certificate; `None` if it is not well-formed enough to read.
    pub(crate) fn parse(der: &'a [u8]) -> Option<Self> {
        let mut outer = Reader::new(der);
        let cert = outer.expect(tag::SEQUENCE)?;
        if !outer.is_empty() {
            return None;
        }
        let mut cert = Reader::new(cert);
        let tbs = cert.expect(tag::SEQUENCE)?;
        let signature_alg = cert.expect(tag::SEQUENCE)?;
        cert.expect(tag::BIT_STRING)?;
        if !cert.is_empty() {
            return None;
        }
        let mut tbs = Reader::new(tbs);
        tbs.skip_if(tag::CONTEXT_0)?; // version
        tbs.expect(tag::INTEGER)?; // serialNumber
        tbs.expect(tag::SEQUENCE)?; // signature
        tbs.expect(tag::SEQUENCE)?; // issuer
        let mut validity = Reader::new(tbs.expect(tag::SEQUENCE)?);
        let (t, v) = validity.any()?;
        let not_before = der::time(t, v)?;
        let (t, v) = validity.any()?;
        let not_after = der::time(t, v)?;
        let subject = tbs.expect(tag::SEQUENCE)?;
        let mut spki = Reader::new(tbs.expect(tag::SEQUENCE)?);
        let key_alg = spki.expect(tag::SEQUENCE)?;
        let key = der::bit_string_bytes(spki.expect(tag::BIT_STRING)?)?;
        let mut key_usage = None;
        // issuerUniqueID [1], subjectUniqueID [2], extensions [3] (RFC 5280 §4.1).
        while let Some((t, value)) = tbs.any() {
            if t != 0xa3 {
                continue;
            }
            let mut exts = Reader::new(Reader::new(value).expect(tag::SEQUENCE)?);
            while !exts.is_empty() {
                let mut ext = Reader::new(exts.expect(tag::SEQUENCE)?);
                let oid = ext.expect(tag::OID)?;
                ext.skip_if(0x01)?; // critical BOOLEAN
                let value = ext.expect(0x04)?;
                if oid == OID_KEY_USAGE {
                    key_usage = Some(key_usage_bits(value)?);
                }
            }
        }
        Some(Parsed {
            subject,
            key_alg,
            key,
            signature_alg,
            not_before,
            not_after,
            key_usage,
        })
    }

    /// The kind and size of the subject's key.
    pub(crate) fn key_kind(&self) -> KeyKind {
        key_kind(self.key_alg, self.key)
    }
}

/// keyUsage's BIT STRING as 16 bits, the first named bit at the top.
fn key_usage_bits(value: &[u8]) -> Option<u16> {
    let bits = Reader::new(value).expect(tag::BIT_STRING)?;
    let (&unused, bytes) = bits.split_first()?;
    if unused > 7 || bytes.len() > 2 {
        return None;
    }
    let hi = u16::from(bytes.first().copied().unwrap_or(0));
    let lo = u16::from(bytes.get(1).copied().unwrap_or(0));
    Some(hi << 8 | lo)
}

/// A public key's kind, as people name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with a modulus of this many bits.
    Rsa(usize),
    /// ECDSA on P-256.
    P256,
    /// ECDSA on P-384.
    P384,
    /// Any other kind of key, or an RSA key that cannot be used (malformed, an even modulus,
    /// an exponent outside 3..2^33): not accepted here.
    Other,
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa(bits) => write!(f, "RSA-{bits}"),
            Self::P256 => f.write_str("ECDSA P-256"),
            Self::P384 => f.write_str("ECDSA P-384"),
            Self::Other => f.write_str("other"),
        }
    }
}

pub(crate) fn key_kind(key_alg: &[u8], key: &[u8]) -> KeyKind {
    if key_alg == &*alg_id::RSA_ENCRYPTION {
        match rsa::PublicKey::parse(key) {
            Ok(k) => KeyKind::Rsa(k.bits()),
            Err(rsa::KeyError::Size(bits)) => KeyKind::Rsa(bits),
            // Not a size problem (a broken RSAPublicKey, an even modulus, an exponent out of
            // bounds): no usable RSA key, so no size to refuse it for.
            Err(rsa::KeyError::Malformed) => KeyKind::Other,
        }
    } else if key_alg == &*alg_id::ECDSA_P256 {
        KeyKind::P256
    } else if key_alg == &*alg_id::ECDSA_P384 {
        KeyKind::P384
    } else {
        KeyKind::Other
    }
}

/// The name of a signature algorithm identifier, for people.
pub(crate) fn signature_name(alg: &[u8]) -> &'static str {
    const NAMES: &[(alg_id::AlgorithmIdentifier, &str)] = &[
        (alg_id::ECDSA_SHA256, "ecdsa-with-SHA256"),
        (alg_id::ECDSA_SHA384, "ecdsa-with-SHA384"),
        (alg_id::ECDSA_SHA512, "ecdsa-with-SHA512"),
        (alg_id::RSA_PKCS1_SHA256, "sha256WithRSAEncryption"),
        (alg_id::RSA_PKCS1_SHA384, "sha384WithRSAEncryption"),
        (alg_id::RSA_PKCS1_SHA512, "sha512WithRSAEncryption"),
        (alg_id::RSA_PSS_SHA256, "RSASSA-PSS-SHA256"),
        (alg_id::RSA_PSS_SHA384, "RSASSA-PSS-SHA384"),
        (alg_id::RSA_PSS_SHA512, "RSASSA-PSS-SHA512"),
        (alg_id::ED25519, "Ed25519"),
    ];
    NAMES
        .iter()
        .find(|(id, _)| alg == &**id)
        .map_or("other", |(_, name)| name)
}

/// A distinguished name shown as `CN=…, O=…` in the certificate's order. Attribute values
/// are printed with control and non-ASCII-printable characters escaped (`\u{1b}`), since they
/// come from whoever made the certificate.
#[derive(Clone, Copy)]
pub struct Name<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut rdns = Reader::new(self.0);
        while !rdns.is_empty() {
            let Some(set) = rdns.expect(tag::SET) else {
                return f.write_str("<malformed name>");
            };
            let mut attrs = Reader::new(set);
            while !attrs.is_empty() {
                let Some(attr) = attrs.expect(tag::SEQUENCE) else {
                    return f.write_str("<malformed name>");
                };
                let mut attr = Reader::new(attr);
                let (Some(oid), Some((_, value))) = (attr.expect(tag::OID), attr.any()) else {
                    return f.write_str("<malformed name>");
                };
                let label = match oid {
                    [0x55, 0x04, 0x03] => "CN",
                    [0x55, 0x04, 0x06] => "C",
                    [0x55, 0x04, 0x07] => "L",
                    [0x55, 0x04, 0x08] => "ST",
                    [0x55, 0x04, 0x0a] => "O",
                    [0x55, 0x04, 0x0b] => "OU",
                    _ => continue,
                };
                if !first {
                    f.write_str(", ")?;
                }
                first = false;
                write!(f, "{label}=")?;
                match core::str::from_utf8(value) {
                    Ok(text) => {
                        for c in text.chars() {
                            if c.is_control() || is_format(c) {
                                write!(f, "\\u{{{:x}}}", u32::from(c))?;
                            } else {
                                write!(f, "{c}")?;
                            }
                        }
                    }
                    Err(_) => f.write_str("<not UTF-8>")?,
                }
            }
        }
        Ok(())
    }
}

/// Characters that reorder or hide text on a terminal (bidi controls, zero-width marks).
fn is_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{061c}' | '\u{feff}')
}

/// What `tpns cert-check` shows of each certificate: the subject, the key, the signature.
#[derive(Debug, Clone, Copy)]
pub struct Summary<'a> {
    /// The subject's distinguished name.
    pub subject: Name<'a>,
    /// The subject's key.
    pub key: KeyKind,
    /// The algorithm of the issuer's signature on this certificate.
    pub signature: &'static str,
    /// notBefore, Unix seconds.
    pub not_before: u64,
    /// notAfter, Unix seconds.
    pub not_after: u64,
}

/// Describes one certificate (DER), or `None` if it cannot be read.
pub fn describe(der: &[u8]) -> Option<Summary<'_>> {
    let p = Parsed::parse(der)?;
    Some(Summary {
        subject: Name(p.subject),
        key: p.key_kind(),
        signature: signature_name(p.signature_alg),
        not_before: p.not_before,
        not_after: p.not_after,
    })
}

/// The issuer's distinguished name of one certificate (DER), or `None` if it cannot be read
/// (what `-v` diagnostics show beside [`describe`]'s subject).
pub fn issuer(der: &[u8]) -> Option<Name<'_>> {
    Parsed::parse(der)?;
    let mut outer = Reader::new(der);
    let mut cert = Reader::new(outer.expect(tag::SEQUENCE)?);
    let mut tbs = Reader::new(cert.expect(tag::SEQUENCE)?);
    tbs.skip_if(tag::CONTEXT_0)?; // version
    tbs.expect(tag::INTEGER)?; // serialNumber
    tbs.expect(tag::SEQUENCE)?; // signature
    Some(Name(tbs.expect(tag::SEQUENCE)?))
}
