//! Connection settings: from the command line and the environment, to a `Client`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tpns_transport_std::{Client, Endpoint, Region, RetryPolicy, SecretKey, read_limited};

use crate::fail::Failure;
use crate::term;
use crate::{ConnArgs, RegionArg};

/// The environment variable that holds the SecretKey.
pub const SECRET_ENV: &str = "TPNS_SECRET_KEY";
/// The environment variable that holds the AccessID.
pub const ACCESS_ID_ENV: &str = "TPNS_ACCESS_ID";

/// The largest SecretKey file read: a key is 32 characters, so a larger file is a mistake (or
/// `/dev/zero`), and is refused before it is read.
pub const SECRET_FILE_LIMIT: u64 = 1024;

/// Everything needed to build a client. `Debug` redacts the secret (through `SecretKey`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub region: Region,
    pub endpoint: Option<String>,
    pub access_id: String,
    pub secret: SecretKey,
    /// Pushes authenticate with the signature headers instead of Basic.
    pub signed_push: bool,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    /// The whole-exchange deadline; `None` for the client's default for the package's size.
    pub deadline: Option<Duration>,
    pub retries: u32,
    /// `--proxy`: wins over the environment's proxy.
    pub proxy: Option<ProxyUrl>,
    /// `--no-proxy`: no proxy at all.
    pub no_proxy: bool,
}

impl Settings {
    /// Reads the settings of `upload` and `push`: the AccessID from `--access-id` or
    /// `TPNS_ACCESS_ID`, the SecretKey from `--secret-key-file` or `TPNS_SECRET_KEY`.
    pub fn from_args(a: &ConnArgs) -> Result<Settings, Failure> {
        let access_id = a
            .access_id
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Failure::usage(format!(
                    "no AccessID: pass --access-id ID or set {ACCESS_ID_ENV}"
                ))
            })?;
        let secret = match &a.secret_key_file {
            Some(path) => read_secret_file(path)?,
            None => match std::env::var(SECRET_ENV) {
                Ok(s) if !s.is_empty() => SecretKey::new(s),
                Ok(_) | Err(std::env::VarError::NotPresent) => {
                    return Err(Failure::usage(format!(
                        "no SecretKey: set {SECRET_ENV} or pass --secret-key-file PATH"
                    )));
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(Failure::usage(format!("{SECRET_ENV} is not valid UTF-8")));
                }
            },
        };
        Ok(Settings {
            region: match a.region {
                RegionArg::Gz => Region::Guangzhou,
                RegionArg::Sh => Region::Shanghai,
                RegionArg::Hk => Region::HongKong,
                RegionArg::Sgp => Region::Singapore,
            },
            endpoint: a.endpoint.clone(),
            access_id,
            secret,
            signed_push: false,
            ca_file: a.ca_file.clone(),
            timeout: a.timeout,
            deadline: a.deadline,
            retries: a.retries,
            proxy: a.proxy.clone(),
            no_proxy: a.no_proxy,
        })
    }

    /// Builds the client, warning on stderr about plain HTTP to a host that is not loopback.
    pub fn client(&self) -> Result<Client, Failure> {
        let mut b = Client::builder()
            .region(self.region)
            .credentials(self.access_id.clone(), self.secret.clone())
            .signed_push(self.signed_push)
            .timeout(self.timeout)
            .retry(RetryPolicy::default().with_max_retries(self.retries));
        if let Some(url) = &self.endpoint {
            let endpoint = Endpoint::parse(url).map_err(|e| {
                Failure::usage(format!("invalid --endpoint {}: {e}", term::sanitize(url)))
            })?;
            if !endpoint.is_tls() && !endpoint.is_loopback() {
                eprintln!(
                    "tpns: warning: {} is plain HTTP: the SecretKey and the package cross \
                     the network unencrypted",
                    term::sanitize(url)
                );
            }
            b = b.endpoint(url.clone());
        }
        if let Some(ca) = &self.ca_file {
            b = b.ca_file(ca);
        }
        if let Some(deadline) = self.deadline {
            b = b.deadline(deadline);
        }
        // The proxy as curl users set it: --proxy, else HTTPS_PROXY / ALL_PROXY; NO_PROXY
        // applies to both. --no-proxy turns all of it off.
        if !self.no_proxy {
            b = b.proxy_env(true);
            if let Some(url) = &self.proxy {
                b = b.proxy(url.0.clone());
            }
        }
        b.build().map_err(|e| Failure::build(&e))
    }
}

/// A `--proxy` URL, which can hold the proxy's password: `Debug` never shows it.
#[derive(Clone)]
pub struct ProxyUrl(String);

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProxyUrl(<redacted>)")
    }
}

/// The `--proxy` value parser: any text, checked when the client is built.
pub fn proxy_url(s: &str) -> Result<ProxyUrl, std::convert::Infallible> {
    Ok(ProxyUrl(s.to_owned()))
}

/// Reads the SecretKey from `path`: a regular file of at most [`SECRET_FILE_LIMIT`] bytes, in
/// UTF-8. A leading byte order mark (which some editors write) and surrounding whitespace
/// (the line feed `echo` adds, a CR LF) are not part of the key and are removed.
fn read_secret_file(path: &Path) -> Result<SecretKey, Failure> {
    let cannot = |why: &dyn std::fmt::Display| {
        Failure::usage(format!(
            "cannot read the SecretKey file {}: {}",
            term::path(path),
            term::sanitize(&why.to_string())
        ))
    };
    let bytes = read_limited(path, SECRET_FILE_LIMIT).map_err(|e| cannot(&e))?;
    let text = String::from_utf8(bytes).map_err(|_| cannot(&"not valid UTF-8"))?;
    let key = text.strip_prefix('\u{feff}').unwrap_or(&text).trim();
    if key.is_empty() {
        return Err(Failure::usage(format!(
            "the SecretKey file {} is empty",
            term::path(path)
        )));
    }
    Ok(SecretKey::new(key))
}
