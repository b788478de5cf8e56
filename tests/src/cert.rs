//! Certificates: a generated ECDSA P-256 CA and leaf (embedded-tls speaks TLS 1.3 with P-256
//! only), certificates loaded from PEM files, and the rustls server configuration (ring).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// A CA and a leaf certificate signed by it, both ECDSA P-256.
#[derive(Clone)]
pub struct GeneratedCert {
    /// The CA certificate, PEM: what clients trust.
    pub ca_pem: String,
    /// The CA certificate, DER.
    pub ca_der: Vec<u8>,
    /// The leaf (server) certificate, PEM.
    pub cert_pem: String,
    /// The leaf certificate, DER.
    pub cert_der: Vec<u8>,
    /// The leaf's private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The leaf's private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for GeneratedCert {
    /// Leaves the private key out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedCert")
            .field("ca_der_len", &self.ca_der.len())
            .field("cert_der_len", &self.cert_der.len())
            .finish_non_exhaustive()
    }
}

/// How long a generated certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From 1975 to 4096 (rcgen's default): valid now.
    Current,
    /// From 2000-01-01 to 2001-01-01: expired, for tests of certificate checks.
    Expired,
    /// From 2090-01-01 to 2091-01-01: not yet valid.
    NotYetValid,
}

fn rc(e: rcgen::Error) -> io::Error {
    io::Error::other(e)
}

/// Generates a fresh CA and a leaf for `hosts` (DNS names or IP addresses), valid now.
///
/// The emulator uses `["localhost", "127.0.0.1", "::1"]`. Tests use other hosts to make a
/// wrong-host certificate, and a second call to make "another CA".
///
/// # Errors
/// A host that is neither an IP address nor a valid DNS name.
pub fn generate_cert(hosts: &[&str]) -> io::Result<GeneratedCert> {
    generate_cert_with(hosts, Validity::Current)
}

/// Like [`generate_cert`], with the leaf's validity chosen (the CA is always valid now).
///
/// # Errors
/// A host that is neither an IP address nor a valid DNS name.
pub fn generate_cert_with(hosts: &[&str], validity: Validity) -> io::Result<GeneratedCert> {
    let ca_key = KeyPair::generate().map_err(rc)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tpns-emulator test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(rc)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(rc)?;
    let names: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
    let mut leaf = CertificateParams::new(names).map_err(rc)?;
    leaf.distinguished_name.push(
        DnType::CommonName,
        hosts.first().copied().unwrap_or("tpns-emulator"),
    );
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    match validity {
        Validity::Current => {}
        Validity::Expired => {
            leaf.not_before = rcgen::date_time_ymd(2000, 1, 1);
            leaf.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        Validity::NotYetValid => {
            leaf.not_before = rcgen::date_time_ymd(2090, 1, 1);
            leaf.not_after = rcgen::date_time_ymd(2091, 1, 1);
        }
    }
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(rc)?;
    Ok(GeneratedCert {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().to_vec(),
        cert_pem: leaf_cert.pem(),
        cert_der: leaf_cert.der().to_vec(),
        key_pem: leaf_key.serialize_pem(),
        key_der: leaf_key.serialize_der(),
    })
}

/// A certificate chain and key loaded from PEM files, plus the certificate clients should
/// trust: the last certificate of the chain file (the CA if the chain includes it, else the
/// self-signed leaf itself).
pub(crate) struct LoadedCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub trust_der: Vec<u8>,
}

pub(crate) fn load_pem(cert: &Path, key: &Path) -> io::Result<LoadedCert> {
    let bad = |what: &str, e: rustls_pki_types::pem::Error| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}"))
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("certificate file", e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate file", e))?;
    let trust_der = chain
        .last()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no certificate in the file"))?
        .to_vec();
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key file", e))?;
    Ok(LoadedCert {
        chain,
        key,
        trust_der,
    })
}

/// PEM text of one DER certificate.
pub(crate) fn der_to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The TLS server configuration: ring provider, TLS 1.2 and 1.3, ALPN `http/1.1`.
pub(crate) fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> io::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
