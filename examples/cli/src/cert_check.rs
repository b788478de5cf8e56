//! `tpns cert-check`: would a device accept this server? Runs tpns-pki, the device's no-heap
//! verifier, on a chain from a PEM file or from a live handshake (`--from`), and says why not.
//!
//! The interface is a contract (examples/cli/README.md): exit 0 accepted, 6 refused (the reason on
//! stderr, and in the JSON with `--json`), 2 usage error or unreadable file.

mod fetch;
pub mod rfc3339;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tpns_transport_std::rustls::pki_types::pem::PemObject;
use tpns_transport_std::rustls::pki_types::{CertificateDer, ServerName};
use tpns_transport_std::{CA_FILE_LIMIT, read_limited};

use crate::fail::{self, Failure};
use crate::term;

pub use fetch::Target;

/// What to check, as given on the command line.
#[derive(Debug)]
pub struct Options {
    /// The PEM file of the trust anchors.
    pub roots: PathBuf,
    /// Where the chain comes from.
    pub source: Source,
    /// The host name the device connects to; `None` = the host of `--from`.
    pub host: Option<String>,
    /// The validation time, Unix seconds; `None` = now.
    pub at: Option<u64>,
    /// Connect timeout, and the bound on the whole handshake, for `--from`.
    pub timeout: Duration,
    pub json: bool,
}

/// Where the chain to check comes from.
#[derive(Debug)]
pub enum Source {
    /// A PEM file of the certificates the server sends, leaf first.
    File(PathBuf),
    /// A live TLS handshake with this server.
    Server(Target),
}

/// Runs the check and prints the verdict; returns the exit code of a verdict (0 accepted, 6
/// refused). The refusal's reason goes to stderr through the returned [`Failure`], so that it
/// is printed as `tpns: refused: REASON` like every other error.
///
/// # Errors
///
/// A usage [`Failure`] (exit 2) for an unreadable or certificate-less file, an anchor that
/// cannot be read, or a host that is not a DNS name or IP address; a refusal (exit 6).
pub fn run(opts: &Options, out: &mut impl Write) -> Result<u8, Failure> {
    let host = match (&opts.host, &opts.source) {
        (Some(h), _) => h.clone(),
        (None, Source::Server(t)) => t.host.clone(),
        // clap requires --host unless --from is given.
        (None, Source::File(_)) => return Err(Failure::usage("cert-check needs --host NAME")),
    };
    let server_name = ServerName::try_from(host.clone()).map_err(|_| {
        Failure::usage(format!(
            "--host `{}` is neither a DNS name nor an IP address",
            term::sanitize(&host)
        ))
    })?;
    let root_ders = read_pem(&opts.roots, "--roots")?;
    let anchors = root_ders
        .iter()
        .enumerate()
        .map(|(i, der)| {
            tpns_pki::anchor_from_der(der).map_err(|e| {
                Failure::usage(format!(
                    "{}: certificate {} cannot be a trust anchor: {e}",
                    term::path(&opts.roots),
                    i + 1
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let at = opts.at.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });

    let (chain, refusal) = match &opts.source {
        Source::File(path) => {
            let ders = read_pem(path, "--chain")?;
            (ders.into_iter().map(|c| c.to_vec()).collect(), None)
        }
        Source::Server(target) => match fetch::fetch(target, server_name, opts.timeout) {
            Ok(f) if f.tls12 => (
                f.chain,
                Some(format!(
                    "{target} speaks TLS 1.2 but not TLS 1.3: a device (embedded-tls, TLS 1.3 \
                     only) could not connect"
                )),
            ),
            Ok(f) => (f.chain, None),
            Err(e) if e.chain.is_empty() => (
                Vec::new(),
                Some(format!("could not fetch the chain: {}", e.message)),
            ),
            // The server showed its chain, then the handshake failed: show both.
            Err(e) => (e.chain, Some(e.message)),
        },
    };
    let refusal = refusal.or_else(|| {
        let refs: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
        tpns_pki::verify_server_chain(&refs, &anchors, &host, tpns_pki::Time::At(at))
            .err()
            .map(|e| e.to_string())
    });

    let written = if opts.json {
        write_json(out, &chain, refusal.as_deref())
    } else {
        write_human(out, &chain, refusal.is_none(), &host, at)
    };
    written.map_err(|e| Failure::new(fail::USAGE, format!("cannot write the verdict: {e}")))?;
    match refusal {
        None => Ok(fail::OK),
        Some(reason) => Err(Failure::new(
            fail::NETWORK,
            format!("refused: {}", term::sanitize(&reason)),
        )),
    }
}

/// The certificates of a PEM file (a regular file of at most [`CA_FILE_LIMIT`] bytes).
/// Sections other than `CERTIFICATE` are skipped; a file with none is an error.
fn read_pem(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let name = term::path(path);
    let pem = read_limited(path, CA_FILE_LIMIT).map_err(|e| {
        Failure::usage(format!("{flag} {name}: {}", term::sanitize(&e.to_string())))
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::usage(format!("{flag} {name}: not a valid PEM file: {e:?}")))?;
    if certs.is_empty() {
        return Err(Failure::usage(format!(
            "{flag} {name}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file"
        )));
    }
    Ok(certs)
}

/// One JSON object: `{"accepted": bool, "reason": string|null, "chain": [{"subject", "key",
/// "signature"}]}`; a certificate tpns-pki cannot read has all three `null`.
fn write_json(
    out: &mut impl Write,
    chain: &[Vec<u8>],
    refusal: Option<&str>,
) -> std::io::Result<()> {
    let certs: Vec<serde_json::Value> = chain
        .iter()
        .map(|der| match tpns_pki::describe(der) {
            Some(s) => serde_json::json!({
                "subject": s.subject.to_string(),
                "key": s.key.to_string(),
                "signature": s.signature,
            }),
            None => serde_json::json!({ "subject": null, "key": null, "signature": null }),
        })
        .collect();
    let value = serde_json::json!({
        "accepted": refusal.is_none(),
        "reason": refusal,
        "chain": certs,
    });
    writeln!(out, "{}", term::json(&value.to_string()))
}

/// Each certificate on two lines, then `accepted: …` (a refusal goes to stderr).
fn write_human(
    out: &mut impl Write,
    chain: &[Vec<u8>],
    accepted: bool,
    host: &str,
    at: u64,
) -> std::io::Result<()> {
    for (i, der) in chain.iter().enumerate() {
        let role = if i == 0 { " (leaf)" } else { "" };
        let n = i + 1;
        match tpns_pki::describe(der) {
            Some(s) => {
                let subject = s.subject.to_string();
                writeln!(out, "certificate {n}{role}: {}", term::sanitize(&subject))?;
                writeln!(
                    out,
                    "  key {}, signed {}, valid {} to {}",
                    s.key,
                    s.signature,
                    rfc3339::format(s.not_before),
                    rfc3339::format(s.not_after)
                )?;
            }
            None => writeln!(
                out,
                "certificate {n}{role}: unreadable ({} bytes of DER)",
                der.len()
            )?,
        }
    }
    if accepted {
        writeln!(
            out,
            "accepted for {} at {}",
            term::sanitize(host),
            rfc3339::format(at)
        )?;
    }
    Ok(())
}
