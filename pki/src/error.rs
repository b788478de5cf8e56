//! Why a chain or a signature was refused.

use core::fmt;

/// Why a server's certificate chain, or its CertificateVerify, was refused. Each variant is
/// one rule; none means "try again": a refused chain stays refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(deprecated)] // webpki's unit variants are still produced without alloc
pub enum Error {
    /// The server sent no certificate.
    NoCertificate,
    /// The server sent more certificates than a path may hold (the count is given).
    TooManyCertificates(usize),
    /// No trust anchor was given.
    NoTrustAnchor,
    /// The host name to check is neither a DNS name nor an IP address.
    InvalidHostName,
    /// A certificate is not well-formed DER, or not a certificate.
    Malformed,
    /// No path leads from the leaf to a trusted anchor.
    UnknownIssuer,
    /// The leaf is not for the host name (its SANs name other hosts).
    WrongHost,
    /// A certificate on the path expired before the validation time (Unix seconds).
    Expired {
        /// The validation time.
        at: u64,
        /// The certificate's notAfter.
        not_after: u64,
    },
    /// A certificate on the path is not valid yet at the validation time (Unix seconds).
    NotYetValid {
        /// The validation time.
        at: u64,
        /// The certificate's notBefore.
        not_before: u64,
    },
    /// An issuer on the path is not a CA (basicConstraints), or the leaf is one.
    NotCa,
    /// An issuer's pathLenConstraint allows fewer intermediates below it.
    PathLenExceeded,
    /// The leaf does not allow serverAuth (extendedKeyUsage).
    WrongUsage,
    /// A keyUsage extension forbids the use: an issuer without keyCertSign, or a leaf without
    /// digitalSignature.
    KeyUsage,
    /// A name on the path is outside an issuer's name constraints.
    NameConstraints,
    /// A signature on the path does not verify.
    BadSignature,
    /// A signature algorithm or key kind that is not supported here.
    UnsupportedAlgorithm,
    /// The leaf's key is of a kind that cannot sign a TLS 1.3 handshake here.
    UnsupportedKey,
    /// An RSA key outside 2048..=4096 bits (its size is given).
    RsaKeySize(usize),
    /// The path is longer, or takes more work, than the budget allows (rustls-webpki's limits
    /// on depth, signature checks and path-building calls).
    BudgetExceeded,
    /// A critical extension this verifier does not know.
    UnsupportedCriticalExtension,
    /// The server signed the handshake with a TLS 1.3 SignatureScheme that is not supported
    /// or does not match its key (the code point is given).
    UnsupportedScheme(u16),
    /// Any other refusal of RFC 5280 path validation, as rustls-webpki names it.
    PathValidation(webpki::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCertificate => f.write_str("the server sent no certificate"),
            Self::TooManyCertificates(n) => write!(
                f,
                "the server sent {n} certificates; a path holds a leaf and at most {} \
                 intermediates",
                crate::MAX_INTERMEDIATES
            ),
            Self::NoTrustAnchor => f.write_str("no trust anchor was given"),
            Self::InvalidHostName => f.write_str("the host name is not a DNS name or IP address"),
            Self::Malformed => f.write_str("a certificate is not well-formed DER"),
            Self::UnknownIssuer => {
                f.write_str("the chain does not lead to a trusted root (unknown issuer)")
            }
            Self::WrongHost => f.write_str("the certificate is not valid for the host name"),
            Self::Expired { at, not_after } => write!(
                f,
                "a certificate expired at {} (validation time {})",
                Date(*not_after),
                Date(*at)
            ),
            Self::NotYetValid { at, not_before } => write!(
                f,
                "a certificate is not valid before {} (validation time {})",
                Date(*not_before),
                Date(*at)
            ),
            Self::NotCa => f.write_str(
                "an issuer in the chain is not a CA (basicConstraints), or the leaf is a CA",
            ),
            Self::PathLenExceeded => f.write_str("an issuer's path length constraint is exceeded"),
            Self::WrongUsage => {
                f.write_str("the certificate does not allow server authentication (EKU)")
            }
            Self::KeyUsage => f.write_str(
                "a keyUsage forbids this use (an issuer without keyCertSign, or a leaf without \
                 digitalSignature)",
            ),
            Self::NameConstraints => f.write_str("a name is outside an issuer's name constraints"),
            Self::BadSignature => f.write_str("a signature does not verify"),
            Self::UnsupportedAlgorithm => f.write_str("a signature algorithm is not supported"),
            Self::UnsupportedKey => f.write_str("the leaf's key kind is not supported"),
            Self::RsaKeySize(bits) => write!(
                f,
                "an RSA key of {bits} bits; only 2048 to 4096 bits are accepted"
            ),
            Self::BudgetExceeded => {
                f.write_str("the path is longer or costlier than the verification budget")
            }
            Self::UnsupportedCriticalExtension => {
                f.write_str("a certificate has an unsupported critical extension")
            }
            Self::UnsupportedScheme(code) => write!(
                f,
                "the server signed with TLS signature scheme 0x{code:04x}, not supported for \
                 its key"
            ),
            Self::PathValidation(e) => write!(f, "path validation failed: {e:?}"),
        }
    }
}

impl core::error::Error for Error {}

/// Unix seconds shown as an RFC 3339 UTC date.
struct Date(u64);

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; 20];
        f.write_str(crate::time::format_time(self.0, &mut text))
    }
}

impl From<webpki::Error> for Error {
    #[allow(deprecated)] // without alloc, webpki still returns its unit variants
    fn from(e: webpki::Error) -> Self {
        use webpki::Error as W;
        let secs = |t: rustls_pki_types::UnixTime| t.as_secs();
        match e {
            W::BadDer | W::BadDerTime | W::TrailingData(_) | W::UnsupportedCertVersion => {
                Self::Malformed
            }
            W::UnknownIssuer => Self::UnknownIssuer,
            W::CertExpired { time, not_after } => Self::Expired {
                at: secs(time),
                not_after: secs(not_after),
            },
            W::CertNotValidYet { time, not_before } => Self::NotYetValid {
                at: secs(time),
                not_before: secs(not_before),
            },
            W::CertNotValidForName(_) => Self::WrongHost,
            W::CaUsedAsEndEntity | W::EndEntityUsedAsCa => Self::NotCa,
            W::PathLenConstraintViolated => Self::PathLenExceeded,
            W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) | W::EmptyEkuExtension => {
                Self::WrongUsage
            }
            W::NameConstraintViolation => Self::NameConstraints,
            W::InvalidSignatureForPublicKey => Self::BadSignature,
            W::UnsupportedSignatureAlgorithm
            | W::UnsupportedSignatureAlgorithmContext(_)
            | W::UnsupportedSignatureAlgorithmForPublicKey
            | W::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => Self::UnsupportedAlgorithm,
            W::MaximumPathDepthExceeded
            | W::MaximumSignatureChecksExceeded
            | W::MaximumPathBuildCallsExceeded
            | W::MaximumNameConstraintComparisonsExceeded => Self::BudgetExceeded,
            W::UnsupportedCriticalExtension => Self::UnsupportedCriticalExtension,
            other => Self::PathValidation(other),
        }
    }
}
