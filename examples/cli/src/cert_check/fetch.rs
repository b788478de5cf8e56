//! `--from HOST[:PORT]`: fetches the chain a server presents, through a TLS handshake made
//! the way a device makes it, and nothing more.
//!
//! rustls is given [`DangerousRecordingVerifier`], which records the certificates and lets
//! the handshake go on: the decision is tpns-pki's, made afterwards on the recorded chain
//! exactly as for `--chain`. That is safe here because nothing but the handshake happens on
//! this connection: no byte of application data is sent or read, no credential exists in this
//! command, and the connection is closed at once.
//!
//! What the device would also refuse is refused here too:
//! - the one cipher suite (TLS_AES_128_GCM_SHA256) and key exchange group (secp256r1) a
//!   device offers are the only TLS 1.3 ones offered here;
//! - TLS 1.3 only is the device's (embedded-tls speaks nothing else); TLS 1.2 is offered here
//!   too so that the chain of a TLS 1.2-only server can still be shown, but such a server is
//!   reported as refused ([`Fetched::tls12`]);
//! - the TLS 1.3 CertificateVerify is checked with tpns-pki's own signature algorithms, and
//!   only the device's schemes are offered (ECDSA P-256/P-384, RSA-PSS, and RSA PKCS#1 for
//!   certificates), so a server that cannot sign with them (an Ed25519 key, say) fails the
//!   handshake as it would on a device;
//! - the host name checked is sent as SNI (none for an IP address), as a device sends it.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tpns_transport_std::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tpns_transport_std::rustls::crypto::{
    self, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use tpns_transport_std::rustls::pki_types::{
    CertificateDer, ServerName, SignatureVerificationAlgorithm, UnixTime,
};
use tpns_transport_std::rustls::{
    self, ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme,
};

/// Where to connect: `HOST[:PORT]` split, the port 443 by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The host name or IP address, without brackets.
    pub host: String,
    pub port: u16,
}

impl Target {
    /// Reads `HOST`, `HOST:PORT`, `[IPv6]`, `[IPv6]:PORT` or a bare IPv6 address.
    ///
    /// # Errors
    ///
    /// A message for clap: an empty host, or a port that is not a number from 1 to 65535.
    pub fn parse(text: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("`{}`: {why}", crate::term::sanitize(text));
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address in [ ] needs its closing ]"))?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| bad("expected :PORT after ]"))?,
                    ),
                ),
            }
        } else {
            match text.matches(':').count() {
                0 => (text, None),
                1 => text
                    .split_once(':')
                    .map(|(h, p)| (h, Some(p)))
                    .unwrap_or((text, None)),
                // Several colons and no brackets: a bare IPv6 address.
                _ => (text, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None => 443,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
        };
        Ok(Target {
            host: host.to_owned(),
            port,
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What a handshake brought back.
#[derive(Debug)]
pub struct Fetched {
    /// The certificates the server presented, leaf first, as DER.
    pub chain: Vec<Vec<u8>>,
    /// The server would only speak TLS 1.2, which a device cannot.
    pub tls12: bool,
}

/// Why the server cannot be judged as a device would meet it: the connection or the handshake
/// failed.
#[derive(Debug)]
pub struct FetchError {
    /// What failed, for the refusal's reason.
    pub message: String,
    /// The chain, if the server presented one before the handshake failed.
    pub chain: Vec<Vec<u8>>,
}

impl FetchError {
    fn new(message: String) -> FetchError {
        FetchError {
            message,
            chain: Vec::new(),
        }
    }
}

/// Connects to `target`, sends `server_name` as SNI (none for an IP address), completes a
/// handshake and returns the chain presented. Connecting takes at most `timeout` per address
/// of the host; the handshake, at most `timeout` in all. Nothing else is sent.
///
/// # Errors
///
/// A [`FetchError`] naming the step that failed: resolving, connecting, the handshake (with
/// the TLS alert or rustls error, and a clear word when the server has no TLS 1.3 or 1.2).
pub fn fetch(
    target: &Target,
    server_name: ServerName<'static>,
    timeout: Duration,
) -> Result<Fetched, FetchError> {
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| FetchError::new(format!("cannot resolve {}: {e}", target.host)))?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    let mut sock = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut sock =
        sock.ok_or_else(|| FetchError::new(format!("cannot connect to {target}: {last}")))?;
    let io_err = |e: io::Error| FetchError::new(format!("cannot connect to {target}: {e}"));
    sock.set_write_timeout(Some(timeout)).map_err(io_err)?;
    sock.set_nodelay(true).map_err(io_err)?;

    let recorded = Arc::new(Mutex::new(None));
    let config = client_config(recorded.clone()).map_err(|e| FetchError::new(e.to_string()))?;
    let mut conn = ClientConnection::new(Arc::new(config), server_name)
        .map_err(|e| FetchError::new(e.to_string()))?;
    let outcome = handshake(&mut conn, &mut sock, Instant::now() + timeout);
    let chain = recorded
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let tls12 = conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_2);
    if let Err(e) = outcome {
        let why = match e {
            Handshake::Io(e) => io_text(&e),
            Handshake::Tls(e) => tls_text(&e),
        };
        return Err(FetchError {
            message: format!("the TLS handshake with {target} failed: {why}"),
            chain: chain.unwrap_or_default(),
        });
    }
    // Courtesy: tell the server we are done. Its answer, if any, is not read.
    conn.send_close_notify();
    let _ = conn.write_tls(&mut sock);
    let chain = chain.ok_or_else(|| {
        FetchError::new(format!(
            "the TLS handshake with {target} ended with no certificate presented"
        ))
    })?;
    Ok(Fetched { chain, tls12 })
}

/// The TLS 1.3 CertificateVerify schemes a device offers (tpns-pki's), and the algorithms
/// that check them: the device's own code, not ring's.
static DEVICE_SCHEMES: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: tpns_pki::ALL,
    mapping: &[
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[&tpns_pki::algs::ECDSA_P256_SHA256 as &dyn SignatureVerificationAlgorithm],
        ),
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[&tpns_pki::algs::ECDSA_P384_SHA384 as &dyn SignatureVerificationAlgorithm],
        ),
        (
            SignatureScheme::RSA_PSS_SHA256,
            &[&tpns_pki::algs::RSA_PSS_SHA256 as &dyn SignatureVerificationAlgorithm],
        ),
        (
            SignatureScheme::RSA_PSS_SHA384,
            &[&tpns_pki::algs::RSA_PSS_SHA384 as &dyn SignatureVerificationAlgorithm],
        ),
        (
            SignatureScheme::RSA_PSS_SHA512,
            &[&tpns_pki::algs::RSA_PSS_SHA512 as &dyn SignatureVerificationAlgorithm],
        ),
    ],
};

/// A rustls config that offers what a device offers, plus TLS 1.2, and records the chain
/// through [`DangerousRecordingVerifier`]: of TLS 1.3's cipher suites only
/// TLS_AES_128_GCM_SHA256 and of the key exchange groups only secp256r1, as
/// `tpns-transport-embedded` configures embedded-tls.
fn client_config(recorded: Recorded) -> Result<ClientConfig, rustls::Error> {
    let mut provider = crypto::ring::default_provider();
    provider.cipher_suites.retain(|s| match s {
        rustls::SupportedCipherSuite::Tls13(_) => {
            s.suite() == rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
        }
        rustls::SupportedCipherSuite::Tls12(_) => true,
    });
    provider.kx_groups = vec![crypto::ring::kx_group::SECP256R1];
    let provider = Arc::new(provider);
    let verifier = DangerousRecordingVerifier {
        recorded,
        tls12: provider.signature_verification_algorithms,
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

type Recorded = Arc<Mutex<Option<Vec<Vec<u8>>>>>;

/// **Dangerous** in any other place: a verifier that accepts every chain after recording
/// it. Used only for a handshake after which the connection is closed unused (see the module
/// docs); the chain is then judged by tpns-pki. The handshake signature, which proves the
/// server holds the leaf's key, is still checked.
#[derive(Debug)]
struct DangerousRecordingVerifier {
    recorded: Recorded,
    /// ring's algorithms, only to let a TLS 1.2 handshake finish (it is refused anyway). The
    /// schemes offered are the device's all the same.
    tls12: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for DangerousRecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().to_vec())
            .collect();
        *self.recorded.lock().unwrap_or_else(PoisonError::into_inner) = Some(chain);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.tls12)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &DEVICE_SCHEMES)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        // What a device offers: its TLS 1.3 schemes, and RSA PKCS#1 (which TLS 1.3 uses for
        // certificates only, and TLS 1.2 for ServerKeyExchange as well). No Ed25519.
        let mut schemes = DEVICE_SCHEMES.supported_schemes();
        schemes.extend([
            SignatureScheme::RSA_PKCS1_SHA256,
            SignatureScheme::RSA_PKCS1_SHA384,
            SignatureScheme::RSA_PKCS1_SHA512,
        ]);
        schemes
    }
}

/// Why a handshake failed.
enum Handshake {
    Io(io::Error),
    Tls(rustls::Error),
}

/// Drives the handshake to its end, each read bounded by what is left until `deadline`.
fn handshake(
    conn: &mut ClientConnection,
    sock: &mut TcpStream,
    deadline: Instant,
) -> Result<(), Handshake> {
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(sock).map_err(Handshake::Io)?;
        }
        if !conn.is_handshaking() {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Handshake::Io(io::ErrorKind::TimedOut.into()));
        }
        sock.set_read_timeout(Some(left)).map_err(Handshake::Io)?;
        let n = conn.read_tls(sock).map_err(Handshake::Io)?;
        if n == 0 {
            return Err(Handshake::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )));
        }
        if let Err(e) = conn.process_new_packets() {
            // Send the alert that tells the server why; the error stands.
            let _ = conn.write_tls(sock);
            return Err(Handshake::Tls(e));
        }
    }
    while conn.wants_write() {
        conn.write_tls(sock).map_err(Handshake::Io)?;
    }
    let _ = sock.flush();
    Ok(())
}

fn io_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            "timed out (no answer within --timeout)".to_owned()
        }
        _ => e.to_string(),
    }
}

/// A rustls error in words, naming the protocol version problem a device would have.
fn tls_text(e: &rustls::Error) -> String {
    use rustls::{AlertDescription, Error, PeerIncompatible};
    match e {
        Error::AlertReceived(AlertDescription::ProtocolVersion)
        | Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig,
        ) => format!(
            "the server speaks neither TLS 1.3 nor 1.2 ({e}); a device (TLS 1.3 only) could \
             not connect"
        ),
        Error::PeerMisbehaved(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme) => {
            format!("{e}: the server signed the handshake with a scheme a device does not offer")
        }
        Error::InvalidCertificate(rustls::CertificateError::BadSignature) => {
            format!("{e}: the server's CertificateVerify does not verify with its leaf's key")
        }
        Error::AlertReceived(AlertDescription::HandshakeFailure) => format!(
            "{e}: the server accepts none of the device's cipher suites, key exchange groups or \
             signature schemes (TLS_AES_128_GCM_SHA256, secp256r1, ECDSA P-256/P-384 or \
             RSA-PSS); a device could not connect"
        ),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_the_default_port_and_ipv6_in_brackets() {
        let t = |host: &str, port| {
            Ok(Target {
                host: host.to_owned(),
                port,
            })
        };
        assert_eq!(
            Target::parse("api.tpns.tencent.com"),
            t("api.tpns.tencent.com", 443)
        );
        assert_eq!(Target::parse("127.0.0.1:8443"), t("127.0.0.1", 8443));
        assert_eq!(Target::parse("[::1]:8443"), t("::1", 8443));
        assert_eq!(Target::parse("[::1]"), t("::1", 443));
        assert_eq!(Target::parse("::1"), t("::1", 443));
        assert_eq!(
            Target::parse("[::1]:8443").unwrap().to_string(),
            "[::1]:8443"
        );
        assert_eq!(Target::parse("a:1").unwrap().to_string(), "a:1");
        for bad in [
            "", ":443", "[]:1", "a:", "a:0", "a:65536", "a:x", "[::1", "[::1]x",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
    }
}
