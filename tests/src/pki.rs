//! Certificate chains shaped like the public web's, for `--pki MODE`: a root the client trusts,
//! an intermediate, and a leaf, with the server sending leaf and intermediate as real public
//! servers do.
//!
//! | mode | root | intermediate | leaf |
//! |---|---|---|---|
//! | `simple` | ECDSA P-256 CA that signs the leaf directly (no intermediate) | — | P-256 |
//! | `public-rsa` | RSA-4096 | RSA-4096, pathlen 0, serverAuth | RSA-2048, 42 DNS SANs, the served names last |
//! | `public-ecdsa` | P-384 | P-384 | P-256 |
//! | `mixed` | RSA-4096 | RSA-4096 | P-256 |
//!
//! ring can sign with RSA keys but cannot make them, so the RSA keys are fixed test keys kept
//! in `tests/pki/` ([`keys`]); the certificates are made fresh at every start. These keys are
//! public: they prove nothing outside tests.

use std::io;
use std::str::FromStr;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SignatureAlgorithm,
};

/// Fixed RSA test keys (PKCS#8 PEM, made with `openssl genpkey`).
pub mod keys {
    /// RSA-4096, for roots.
    pub const ROOT_RSA4096: &str = include_str!("../pki/root-rsa4096.pem");
    /// RSA-4096, for intermediates.
    pub const INTER_RSA4096: &str = include_str!("../pki/inter-rsa4096.pem");
    /// RSA-2048, for leaves.
    pub const LEAF_RSA2048: &str = include_str!("../pki/leaf-rsa2048.pem");
    /// Another RSA-2048, for "another CA" and forged signatures.
    pub const OTHER_RSA2048: &str = include_str!("../pki/other-rsa2048.pem");
    /// RSA-1024: too small, for refusal tests (ring will not sign with it; use it only as a
    /// subject's key).
    pub const WEAK_RSA1024: &str = include_str!("../pki/weak-rsa1024.pem");
}

/// The shape of the emulator's certificate chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PkiMode {
    /// A P-256 CA signing a P-256 leaf; the server sends the leaf alone.
    #[default]
    Simple,
    /// RSA-4096 root, RSA-4096 intermediate, RSA-2048 leaf with many SANs.
    PublicRsa,
    /// P-384 root, P-384 intermediate, P-256 leaf.
    PublicEcdsa,
    /// RSA-4096 root and intermediate, P-256 leaf.
    Mixed,
}

impl FromStr for PkiMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "simple" => Self::Simple,
            "public-rsa" => Self::PublicRsa,
            "public-ecdsa" => Self::PublicEcdsa,
            "mixed" => Self::Mixed,
            _ => {
                return Err("unknown PKI mode (simple, public-rsa, public-ecdsa, mixed)".to_owned());
            }
        })
    }
}

/// A generated chain: what the server sends, its key, and the root clients trust.
#[derive(Clone)]
pub struct Chain {
    /// The root certificate, DER (written to `ca.pem`).
    pub root_der: Vec<u8>,
    /// What the server sends, leaf first.
    pub served: Vec<Vec<u8>>,
    /// The leaf's private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for Chain {
    /// Leaves the private key out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("root_der_len", &self.root_der.len())
            .field(
                "served_lens",
                &self.served.iter().map(Vec::len).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn rc(e: rcgen::Error) -> io::Error {
    io::Error::other(e)
}

/// A fixed RSA key that signs with `alg` (e.g. `rcgen::PKCS_RSA_SHA256`).
///
/// # Errors
/// A key rcgen cannot read.
pub fn rsa_key(pem: &str, alg: &'static SignatureAlgorithm) -> io::Result<KeyPair> {
    KeyPair::from_pem_and_sign_algo(pem, alg).map_err(rc)
}

/// A fresh ECDSA key: `rcgen::PKCS_ECDSA_P256_SHA256` or `PKCS_ECDSA_P384_SHA384`.
///
/// # Errors
/// A key rcgen cannot make.
pub fn ec_key(alg: &'static SignatureAlgorithm) -> io::Result<KeyPair> {
    KeyPair::generate_for(alg).map_err(rc)
}

/// The current year, for validity periods around now.
fn this_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    1970 + (secs / 31_556_952) as i32
}

/// Parameters of a CA certificate named `cn`: basicConstraints CA with `pathlen` (None =
/// unconstrained), keyUsage keyCertSign and cRLSign, valid from last year for ten years.
pub fn ca_params(cn: &str, pathlen: Option<u8>) -> io::Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
    p.distinguished_name
        .push(DnType::OrganizationName, "tpns-emulator test PKI");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(match pathlen {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = rcgen::date_time_ymd(this_year() - 1, 1, 1);
    p.not_after = rcgen::date_time_ymd(this_year() + 9, 1, 1);
    Ok(p)
}

/// Parameters of a server leaf for `hosts` after `fillers` other DNS names (so the served
/// names are not among the first SANs), with serverAuth, digitalSignature and an authority key
/// identifier, valid from last year to two years ahead.
pub fn leaf_params(hosts: &[&str], fillers: usize) -> io::Result<CertificateParams> {
    let mut names: Vec<String> = (0..fillers)
        .map(|i| format!("svc{i:02}.push.tpns-emulator.test"))
        .collect();
    names.extend(hosts.iter().map(|h| (*h).to_owned()));
    let mut p = CertificateParams::new(names).map_err(rc)?;
    p.distinguished_name
        .push(DnType::OrganizationName, "tpns-emulator test PKI");
    p.distinguished_name
        .push(DnType::CommonName, hosts.first().copied().unwrap_or("tpns"));
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    p.not_before = rcgen::date_time_ymd(this_year() - 1, 1, 1);
    p.not_after = rcgen::date_time_ymd(this_year() + 2, 1, 1);
    Ok(p)
}

/// Generates the chain of `mode` for `hosts`.
///
/// # Errors
/// A host that is neither an IP address nor a DNS name, or a key rcgen cannot use.
pub fn generate(mode: PkiMode, hosts: &[&str]) -> io::Result<Chain> {
    if mode == PkiMode::Simple {
        let g = crate::generate_cert(hosts)?;
        return Ok(Chain {
            root_der: g.ca_der,
            served: vec![g.cert_der],
            key_der: g.key_der,
        });
    }
    let (root_key, inter_key, leaf_key, fillers) = match mode {
        PkiMode::PublicRsa => (
            rsa_key(keys::ROOT_RSA4096, &rcgen::PKCS_RSA_SHA256)?,
            rsa_key(keys::INTER_RSA4096, &rcgen::PKCS_RSA_SHA256)?,
            rsa_key(keys::LEAF_RSA2048, &rcgen::PKCS_RSA_SHA256)?,
            41,
        ),
        PkiMode::PublicEcdsa => (
            ec_key(&rcgen::PKCS_ECDSA_P384_SHA384)?,
            ec_key(&rcgen::PKCS_ECDSA_P384_SHA384)?,
            ec_key(&rcgen::PKCS_ECDSA_P256_SHA256)?,
            3,
        ),
        PkiMode::Mixed | PkiMode::Simple => (
            rsa_key(keys::ROOT_RSA4096, &rcgen::PKCS_RSA_SHA256)?,
            rsa_key(keys::INTER_RSA4096, &rcgen::PKCS_RSA_SHA256)?,
            ec_key(&rcgen::PKCS_ECDSA_P256_SHA256)?,
            3,
        ),
    };
    let root_params = ca_params("tpns-emulator test root", None)?;
    let root = root_params.self_signed(&root_key).map_err(rc)?;
    let root_issuer = Issuer::new(root_params, root_key);
    let mut inter_params = ca_params("tpns-emulator test intermediate", Some(0))?;
    inter_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    inter_params.use_authority_key_identifier_extension = true;
    let inter = inter_params
        .signed_by(&inter_key, &root_issuer)
        .map_err(rc)?;
    let inter_issuer = Issuer::new(inter_params, inter_key);
    let leaf = leaf_params(hosts, fillers)?
        .signed_by(&leaf_key, &inter_issuer)
        .map_err(rc)?;
    Ok(Chain {
        root_der: root.der().to_vec(),
        served: vec![leaf.der().to_vec(), inter.der().to_vec()],
        key_der: leaf_key.serialize_der(),
    })
}
