//! The device path: embedded-tls (TLS 1.3, P-256 only, no RSA) verifies the emulator's
//! generated certificate against its CA and uploads a package.

mod common;

use common::*;
use embedded_io_adapters::std::FromStd;
use embedded_tls::blocking::{
    Aes128GcmSha256, Certificate, CryptoProvider, TlsConfig, TlsConnection, TlsContext, TlsVerifier,
};
use embedded_tls::pki::CertVerifier;
use std::net::TcpStream;
use std::time::SystemTime;
use tpns_emulator::Emulator;

/// A provider that checks the chain against one CA and the host name, with the system clock.
struct Verifying<'a> {
    rng: rand_core::OsRng,
    verifier: CertVerifier<'a, Aes128GcmSha256, SystemTime, 4096>,
}

impl CryptoProvider for Verifying<'_> {
    type CipherSuite = Aes128GcmSha256;
    type Signature = &'static [u8];

    fn rng(&mut self) -> impl embedded_tls::CryptoRngCore {
        &mut self.rng
    }

    fn verifier(
        &mut self,
    ) -> Result<&mut impl TlsVerifier<Aes128GcmSha256>, embedded_tls::TlsError> {
        Ok(&mut self.verifier)
    }
}

fn exchange(emu: &Emulator, ca_der: &[u8], request: &[u8]) -> Result<Vec<u8>, String> {
    let tcp = TcpStream::connect(emu.https_addr()).map_err(|e| e.to_string())?;
    let mut rx = vec![0u8; 16_640];
    let mut tx = vec![0u8; 16_640];
    let mut tls: TlsConnection<'_, _, Aes128GcmSha256> =
        TlsConnection::new(FromStd::new(tcp), &mut rx, &mut tx);
    let config = TlsConfig::new().with_server_name("localhost");
    let provider = Verifying {
        rng: rand_core::OsRng,
        verifier: CertVerifier::new(Certificate::X509(ca_der)),
    };
    tls.open(TlsContext::new(&config, provider))
        .map_err(|e| format!("handshake: {e:?}"))?;
    let mut sent = 0;
    while sent < request.len() {
        sent += tls
            .write(&request[sent..])
            .map_err(|e| format!("write: {e:?}"))?;
    }
    tls.flush().map_err(|e| format!("flush: {e:?}"))?;
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn embedded_tls_uploads_with_certificate_checks() {
    let (_dir, emu) = start_emulator("etls");
    let content = rows(40);
    let req = raw_upload(UPLOAD, "device.txt", &content, "");
    let raw = exchange(&emu, emu.ca_der(), &req).unwrap();
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(j["retCode"], 0, "{j}");
    assert_eq!(emu.uploads()[0].rows, 40);
    // A raw-path fault over embedded-tls too.
    let req = raw_upload(
        "/_fault/chunked,slow=0/v3/push/package/upload",
        "d.txt",
        &content,
        "",
    );
    let raw = exchange(&emu, emu.ca_der(), &req).unwrap();
    assert!(
        split_response(&raw)
            .0
            .contains("Transfer-Encoding: chunked")
    );
    assert_eq!(emu.uploads().len(), 2);
    // Another CA is refused by the device's verifier.
    let other = tpns_emulator::generate_cert(&["localhost"]).unwrap();
    assert!(exchange(&emu, &other.ca_der, b"GET / HTTP/1.1\r\n\r\n").is_err());
}
