//! Exit codes, and the messages that go with them.

use std::fmt;

use tpns_transport_std::{BuildError, Error, rustls};

use crate::term::sanitize;

/// Success.
pub const OK: u8 = 0;
/// Usage or configuration error (clap uses 2 for its own usage errors too).
pub const USAGE: u8 = 2;
/// Invalid package: nothing was sent.
pub const INVALID: u8 = 3;
/// Authentication rejected: `retCode` 1008003 or 10030002, or HTTP 401/403.
pub const AUTH: u8 = 4;
/// Any other API error: a non-zero `retCode`, or an HTTP error status once retries are spent.
pub const API: u8 = 5;
/// Network, TLS, timeout or protocol error.
pub const NETWORK: u8 = 6;

/// A command that failed: the exit code and the message for stderr.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(USAGE, message)
    }

    /// A failed request: the code by the error's kind, the message naming the cause.
    pub fn request(what: &str, e: &Error, attempts: u32) -> Self {
        let code = if e.is_auth_failure() {
            AUTH
        } else if e.is_api_error() {
            API
        } else if e.is_source_error() || e.is_invalid_request() {
            USAGE
        } else {
            NETWORK
        };
        // The message can hold a server's `errMsg` and a path: neither reaches the terminal raw.
        let mut message = format!("{what} failed: {}", sanitize(&e.to_string()));
        if attempts > 1 {
            message.push_str(&format!(" (after {attempts} attempts)"));
        }
        if let Some(hint) = hint(e) {
            message.push_str("\n  hint: ");
            message.push_str(hint);
        }
        Failure::new(code, message)
    }

    /// A client that cannot be built: the message can name a CA file, sanitised.
    pub fn build(e: &BuildError) -> Self {
        Failure::usage(sanitize(&e.to_string()))
    }
}

/// Prints a command's one line of answer on `out`: `json` (its text made safe for a terminal
/// by [`term::json`](crate::term::json)) when `--json` gave one, else `plain`. A stdout that
/// cannot be written is a usage failure: the answer is lost, so the script must know.
pub fn answer(
    out: &mut dyn std::io::Write,
    json: Option<serde_json::Value>,
    plain: impl FnOnce() -> String,
) -> Result<(), Failure> {
    let line = match json {
        Some(value) => crate::term::json(&value.to_string()),
        None => plain(),
    };
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::usage(format!("cannot write to stdout: {e}")))
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn hint(e: &Error) -> Option<&'static str> {
    if e.is_auth_failure() {
        return Some(
            "check the AccessID (--access-id, TPNS_ACCESS_ID) and the SecretKey (TPNS_SECRET_KEY, --secret-key-file), and the region",
        );
    }
    match e {
        Error::Tls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer | rustls::CertificateError::BadSignature,
        )) => Some(
            "the server's certificate is not signed by a trusted CA; for a private CA (such as the emulator's) pass --ca-file PEM",
        ),
        Error::Tls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName
            | rustls::CertificateError::NotValidForNameContext { .. },
        )) => Some("the server's certificate does not name the host in the URL"),
        Error::Proxy { status: 407, .. } => Some(
            "the proxy wants (other) credentials: give them in its URL, http://USER:PASSWORD@HOST:PORT, with special characters %-encoded (@ as %40)",
        ),
        Error::Proxy { .. } => Some(
            "the proxy refused the tunnel; check the proxy (--proxy, HTTPS_PROXY, ALL_PROXY), or bypass it with NO_PROXY or --no-proxy",
        ),
        Error::Connect { target: name, .. } | Error::Resolve { host: name, .. }
            if name.starts_with("the proxy ") =>
        {
            Some(
                "the proxy cannot be reached; check its URL (--proxy, HTTPS_PROXY, ALL_PROXY), or bypass it with NO_PROXY or --no-proxy",
            )
        }
        Error::Connect { .. } | Error::Resolve { .. } => {
            Some("check the network, and the region or --endpoint")
        }
        Error::Deadline { .. } => {
            Some("on a slow link give the whole exchange more time with --deadline SECS")
        }
        _ => None,
    }
}
