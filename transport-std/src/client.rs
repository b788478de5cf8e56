//! The [`Client`]: built once, then uploads and pushes with retries.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tpns_core::auth::Credentials;
use tpns_core::endpoint::{Endpoint, Region, Scheme};
use tpns_core::multipart::Boundary;
use tpns_core::push::{self, Push, PushAuth, PushRequest};
use tpns_core::response::Limits;
use tpns_core::upload::{self, Upload, UploadError};

use crate::deadline::{Deadline, default_deadline};
use crate::error::{BuildError, CoreError, Error, Phase, exchange_error};
use crate::net::{self, Io, Peer, Timeouts};
use crate::proxy::{
    NO_PROXY_VARS, NoProxy, Proxy, ProxyRoute, ProxyUrl, first_var, proxy_env_vars,
};
use crate::retry::{RetryPolicy, random_u64};
use crate::trace::Tap;

/// A SecretKey. It has no `Display`, and its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        SecretKey(secret.into())
    }

    /// The secret itself. Handle with care: never log it.
    pub fn dangerous_expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretKey {
    fn from(s: String) -> Self {
        SecretKey(s)
    }
}

impl From<&str> for SecretKey {
    fn from(s: &str) -> Self {
        SecretKey(s.to_owned())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Where requests go, as the builder was told.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Region(Region),
    Url(String),
}

/// A checked custom endpoint, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OwnedEndpoint {
    scheme: Scheme,
    host: String,
    port: u16,
    path_prefix: String,
}

/// Where a built client sends requests.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    Region(Region),
    Custom(OwnedEndpoint),
}

/// Size of the one I/O buffer an upload or a push uses: large enough that TLS and the network,
/// not system calls, bound the speed.
pub const DEFAULT_BUFFER: usize = 64 * 1024;

/// The largest CA file [`ClientBuilder::ca_file`] reads: a whole system bundle of some 150
/// roots is about 220 KB, so a larger file is a mistake (or `/dev/zero`), not a trust store.
pub const CA_FILE_LIMIT: u64 = 4 * 1024 * 1024;

/// Builder methods that store their argument in the field of the same name (`in settings:`
/// the field of [`Settings`]).
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $name: $ty) -> Self {
                self.$name = $name;
                self
            }
        )*
    };
    (in $group:ident: $($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $name: $ty) -> Self {
                self.$group.$name = $name;
                self
            }
        )*
    };
}

/// Builds a [`Client`]. Start with [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    target: Target,
    credentials: Option<(String, SecretKey)>,
    extra_roots: Vec<CertificateDer<'static>>,
    ca_files: Vec<PathBuf>,
    webpki_roots: bool,
    settings: Settings,
    proxy: Option<ProxyUrl>,
    no_proxy: Option<String>,
    proxy_env: bool,
}

impl ClientBuilder {
    /// Sends requests to a region's access point (default: Guangzhou). Replaces an
    /// [`endpoint`](Self::endpoint).
    pub fn region(mut self, region: Region) -> Self {
        self.target = Target::Region(region);
        self
    }

    /// Sends requests to a base URL such as `https://127.0.0.1:8443/` (checked by
    /// [`build`](Self::build)). Replaces a [`region`](Self::region).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.target = Target::Url(url.into());
        self
    }

    /// The app's AccessID and SecretKey.
    pub fn credentials(
        mut self,
        access_id: impl Into<String>,
        secret: impl Into<SecretKey>,
    ) -> Self {
        self.credentials = Some((access_id.into(), secret.into()));
        self
    }

    /// Trusts the CA certificates of a PEM file too (read by [`build`](Self::build)). The file
    /// must be a regular file of at most [`CA_FILE_LIMIT`] bytes: a FIFO, a device or a larger
    /// file is refused ([`BuildError::CaFile`]) rather than waited on or read without end.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Trusts a CA certificate given in DER too.
    pub fn ca_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_roots.push(CertificateDer::from(der.into()));
        self
    }

    setters! {
        /// Whether the Mozilla roots (webpki-roots) are trusted (default: yes). Turning them off
        /// leaves only the CAs added with [`ca_file`](Self::ca_file) and [`ca_der`](Self::ca_der).
        webpki_roots: bool;
        /// Whether [`build`](Self::build) reads the proxy from the environment, as curl does
        /// (default: off): for an HTTPS endpoint `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`,
        /// `all_proxy` (the first one set and not empty); for plain HTTP `http_proxy`,
        /// `ALL_PROXY`, `all_proxy`; and the bypass list from `NO_PROXY` or `no_proxy`. A
        /// [`proxy`](Self::proxy) or [`no_proxy`](Self::no_proxy) given here wins over its
        /// variable.
        proxy_env: bool;
    }

    setters! {
        in settings:
        /// Connect and stall timeouts (default: 30 s each).
        timeouts: Timeouts;
        /// The retry policy (default: [`RetryPolicy::default`]).
        retry: RetryPolicy;
        /// Sends `Expect: 100-continue` with uploads (default: off), so that a refused request
        /// costs no upload. Only for servers that answer it: otherwise every upload waits for the
        /// stall timeout and fails.
        expect_continue: bool;
        /// Authenticates pushes with the TPNS signature headers (`AccessId`, `TimeStamp`, `Sign`:
        /// HMAC-SHA256 over the body, signed with the system clock) instead of HTTP Basic
        /// (default: Basic). Uploads always use Basic.
        signed_push: bool;
        /// Bounds on the responses (default: [`Limits::default`]).
        limits: Limits;
    }

    /// Sets both the connect and the stall timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeouts = Timeouts {
            connect: timeout,
            stall: timeout,
        };
        self
    }

    /// The whole-exchange deadline: the longest an upload or a push may take, all attempts,
    /// retry pauses and TLS handshakes included (default: [`default_deadline`] for the
    /// package's size: 60 s, or twice the stall timeout if longer, plus 4 s per MiB). Every
    /// socket call then waits at most the stall timeout or the time left, whichever is
    /// shorter; when the time is up the call fails with [`Error::Deadline`], and a retry whose
    /// pause would reach the deadline is not made (the last attempt's error is returned).
    /// Name resolution is not bounded by it.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.settings.deadline = Some(deadline);
        self
    }

    /// Size of the one I/O buffer of each upload and push (default: [`DEFAULT_BUFFER`]; at
    /// least 4 KiB is used).
    pub fn buffer_size(mut self, bytes: usize) -> Self {
        self.settings.buffer_size = bytes.max(4096);
        self
    }

    /// Sends every request through this HTTP proxy (`http://[user:password@]host[:port]`,
    /// checked by [`build`](Self::build)), in a `CONNECT` tunnel, unless
    /// [`no_proxy`](Self::no_proxy) names the host. Wins over the environment
    /// ([`proxy_env`](Self::proxy_env)). Only `http://` proxies are supported.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(ProxyUrl(url.into()));
        self
    }

    /// The hosts that bypass the proxy, a `NO_PROXY` list ([`NoProxy`] has the rules). Wins
    /// over the `NO_PROXY` variable.
    pub fn no_proxy(mut self, list: impl Into<String>) -> Self {
        self.no_proxy = Some(list.into());
        self
    }

    /// Checks the settings, reads the CA files and builds the TLS configuration.
    ///
    /// # Errors
    ///
    /// [`BuildError`] names the setting that is wrong.
    pub fn build(self) -> Result<Client, BuildError> {
        let (access_id, secret) = self.credentials.ok_or(BuildError::NoCredentials)?;
        Credentials::new(&access_id, secret.dangerous_expose()).map_err(BuildError::Credentials)?;
        let destination = match &self.target {
            Target::Region(r) => Destination::Region(*r),
            Target::Url(url) => {
                let e = Endpoint::parse(url).map_err(BuildError::Endpoint)?;
                Destination::Custom(OwnedEndpoint {
                    scheme: e.scheme,
                    host: e.host.to_owned(),
                    port: e.port,
                    path_prefix: e.path_prefix.to_owned(),
                })
            }
        };
        let mut roots = RootCertStore::empty();
        if self.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        for der in self.extra_roots {
            roots.add(der).map_err(BuildError::CaCertificate)?;
        }
        for path in &self.ca_files {
            let pem = crate::file::read_limited(path, CA_FILE_LIMIT).map_err(|source| {
                BuildError::CaFile {
                    path: path.clone(),
                    source,
                }
            })?;
            let mut found = false;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|source| BuildError::CaPem {
                    path: Some(path.clone()),
                    source,
                })?;
                roots.add(cert).map_err(BuildError::CaCertificate)?;
                found = true;
            }
            if !found {
                return Err(BuildError::CaPem {
                    path: Some(path.clone()),
                    source: rustls_pki_types::pem::Error::NoItemsFound,
                });
            }
        }
        let mut tls = ClientConfig::builder_with_provider(Arc::new(crypto_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(BuildError::Tls)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls_endpoint = match &destination {
            Destination::Region(_) => true,
            Destination::Custom(e) => e.scheme == Scheme::Https,
        };
        let env = |name: &str| self.proxy_env.then(|| std::env::var(name).ok()).flatten();
        let proxy = match &self.proxy {
            Some(url) => Some(("the proxy URL", url.0.clone())),
            None => first_var(proxy_env_vars(tls_endpoint), &env),
        };
        let proxy = proxy
            .map(|(from, url)| {
                Proxy::parse(&url).map_err(|source| BuildError::Proxy { from, source })
            })
            .transpose()?;
        let no_proxy = match &self.no_proxy {
            Some(list) => NoProxy::parse(list),
            None => first_var(&NO_PROXY_VARS, &env)
                .map(|(_, list)| NoProxy::parse(&list))
                .unwrap_or_default(),
        };
        Ok(Client {
            route: ProxyRoute { proxy, no_proxy },
            destination,
            access_id,
            secret,
            tls: Arc::new(tls),
            settings: self.settings,
        })
    }
}

/// Something that happened during a request, for progress displays, logs and diagnostics.
///
/// The library prints nothing itself; a program shows what it wants of these (the `tpns`
/// program's `-v`). No event carries a secret: heads come with `Authorization`,
/// `Proxy-Authorization` and `Sign` redacted, and a [`Proxy`] shows no credentials.
/// Only the answer to [`Connected`](Self::Connected), [`Progress`](Self::Progress) and
/// [`Retrying`](Self::Retrying) is heeded.
///
/// New kinds of events may be added: match with a `_` arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The host name was resolved (the proxy's, through a proxy); its addresses are tried in
    /// this order.
    Resolved {
        /// The name.
        host: &'a str,
        /// Its addresses.
        addrs: &'a [SocketAddr],
    },
    /// A TCP connection was opened.
    TcpConnected {
        /// The address connected to (the proxy's, through a proxy).
        addr: SocketAddr,
        /// The proxy, if the connection goes through one.
        proxy: Option<&'a Proxy>,
        /// Time to open it (all addresses tried).
        elapsed: Duration,
    },
    /// The proxy answered `CONNECT` (with any status: a non-2xx one then fails the attempt
    /// with [`Error::Proxy`]).
    Tunnel {
        /// The `CONNECT` request head, `Proxy-Authorization` redacted.
        request_head: &'a str,
        /// The proxy's answer head.
        response_head: &'a str,
        /// From sending `CONNECT` to the end of the answer.
        elapsed: Duration,
    },
    /// The TLS handshake completed.
    TlsHandshake {
        /// The protocol version, such as `"TLSv1_3"`.
        version: &'static str,
        /// The cipher suite, such as `"TLS13_AES_256_GCM_SHA384"`.
        cipher: &'static str,
        /// The server's certificates (DER), its own first.
        certificates: &'a [CertificateDer<'static>],
        /// Time of the handshake.
        elapsed: Duration,
    },
    /// One HTTP exchange ended, answered or not (then before the error is returned).
    Exchanged {
        /// The request head as sent (empty if none was), credentials redacted; one line per
        /// header, each ending in `\n`.
        request_head: &'a str,
        /// The response head as received (empty if none was), the same way.
        response_head: &'a str,
        /// From the first byte of the request sent to the last.
        send: Duration,
        /// From the last byte sent to the end of the response head, if one came.
        answer: Option<Duration>,
    },
    /// A connection was opened for attempt `attempt` (1-based).
    Connected {
        /// The attempt, from 1.
        attempt: u32,
        /// The address and TLS version.
        peer: Peer,
    },
    /// Package bytes handed to the connection so far, in this attempt.
    Progress {
        /// Bytes sent.
        sent: u64,
        /// Bytes in all.
        total: u64,
    },
    /// Attempt `attempt` failed with a transient error; the next starts after `delay`.
    Retrying {
        /// The attempt that failed, from 1.
        attempt: u32,
        /// The pause before the next attempt.
        delay: Duration,
        /// Why it failed.
        error: &'a Error,
    },
}

/// A successful upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// The package's id, for the push API: always positive.
    pub upload_id: u64,
    /// `errMsg` of the answer (usually empty).
    pub message: String,
    /// Package bytes sent (in the successful attempt).
    pub size: u64,
    /// Attempts made, from 1.
    pub attempts: u32,
    /// The address of the server that accepted it.
    pub peer: SocketAddr,
    /// Time from the call to the answer, retries and pauses included.
    pub elapsed: Duration,
}

/// A TPNS client over `std::net` and rustls: uploads packages and pushes to them.
///
/// Build it once with [`Client::builder`]; it holds no connection (each request opens its own)
/// and can be shared between threads. `Debug` never shows the secret.
///
/// # Examples
///
/// ```no_run
/// use tpns_transport_std::{Client, Region};
///
/// let client = Client::builder()
///     .region(Region::Singapore)
///     .credentials("1500001048", std::env::var("TPNS_SECRET_KEY")?)
///     .build()?;
/// let uploaded = client.upload_file("accounts.txt")?;
/// println!("uploadId {}", uploaded.upload_id);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Client {
    route: ProxyRoute,
    destination: Destination,
    access_id: String,
    secret: SecretKey,
    tls: Arc<ClientConfig>,
    settings: Settings,
}

/// What a [`ClientBuilder`] hands to its [`Client`] as it is.
#[derive(Debug, Clone)]
struct Settings {
    timeouts: Timeouts,
    deadline: Option<Duration>,
    retry: RetryPolicy,
    buffer_size: usize,
    expect_continue: bool,
    signed_push: bool,
    limits: Limits,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("destination", &self.destination)
            .field("proxy", &self.route)
            .field("access_id", &self.access_id)
            .field("secret", &self.secret)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder: Guangzhou, no credentials, the Mozilla roots, 30 s timeouts, the default
    /// deadline for each package's size, the default retry policy, a 64 KiB buffer.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            target: Target::Region(Region::Guangzhou),
            credentials: None,
            extra_roots: Vec::new(),
            ca_files: Vec::new(),
            webpki_roots: true,
            settings: Settings {
                timeouts: Timeouts::default(),
                deadline: None,
                retry: RetryPolicy::default(),
                buffer_size: DEFAULT_BUFFER,
                expect_continue: false,
                signed_push: false,
                limits: Limits::default(),
            },
            proxy: None,
            no_proxy: None,
            proxy_env: false,
        }
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> Endpoint<'_> {
        match &self.destination {
            Destination::Region(r) => r.endpoint(),
            Destination::Custom(e) => Endpoint {
                scheme: e.scheme,
                host: &e.host,
                port: e.port,
                path_prefix: &e.path_prefix,
            },
        }
    }

    /// The AccessID.
    pub fn access_id(&self) -> &str {
        &self.access_id
    }

    /// The timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.settings.timeouts
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> RetryPolicy {
        self.settings.retry
    }

    /// The whole-exchange deadline of a request that sends `size` bytes (the package's size
    /// for an upload): the one set with [`ClientBuilder::deadline`], or [`default_deadline`].
    pub fn deadline_for(&self, size: u64) -> Duration {
        self.settings
            .deadline
            .unwrap_or_else(|| default_deadline(size, self.settings.timeouts))
    }

    pub(crate) fn credentials(&self) -> Result<Credentials<'_>, Error> {
        Credentials::new(&self.access_id, self.secret.dangerous_expose())
            .map_err(Error::Credentials)
    }

    /// The proxy a request to the endpoint goes through, if any (none when `NO_PROXY`
    /// bypasses it).
    pub fn proxy(&self) -> Option<&Proxy> {
        let e = self.endpoint();
        self.route.for_target(e.host, e.port)
    }

    pub(crate) fn connect(
        &self,
        deadline: Deadline,
        on_event: &mut dyn FnMut(&Event<'_>) -> ControlFlow<()>,
    ) -> Result<(net::Stream, Peer), Error> {
        net::connect(
            &self.endpoint(),
            self.proxy(),
            &self.tls,
            (self.settings.timeouts, deadline),
            on_event,
        )
    }

    fn exchange_error(&self, e: CoreError) -> Error {
        exchange_error(e, self.settings.timeouts.stall)
    }

    /// Uploads the package file at `path`, under its own file name.
    ///
    /// The package is not validated here: check it first with [`check_file`](crate::check_file).
    ///
    /// # Errors
    ///
    /// [`Error`] once the retries are spent, or at once for a failure that is not transient.
    pub fn upload_file(&self, path: impl AsRef<Path>) -> Result<Uploaded, Error> {
        self.upload_file_with(path, |_| ControlFlow::Continue(()))
    }

    /// [`upload_file`](Self::upload_file), telling `on_event` what happens. Returning
    /// [`ControlFlow::Break`] from a progress event cancels the upload; from a retry event, it
    /// gives up with that error.
    ///
    /// # Errors
    ///
    /// As [`upload_file`](Self::upload_file), and [`UploadError::Cancelled`] in
    /// [`Error::Exchange`].
    pub fn upload_file_with<F>(
        &self,
        path: impl AsRef<Path>,
        on_event: F,
    ) -> Result<Uploaded, Error>
    where
        F: FnMut(&Event<'_>) -> ControlFlow<()>,
    {
        let path = path.as_ref();
        let open = |source| Error::Open {
            path: path.to_owned(),
            source,
        };
        let name = path
            .file_name()
            .ok_or_else(|| open(io::Error::new(io::ErrorKind::InvalidInput, "no file name")))?
            .to_str()
            .ok_or(Error::FileName)?;
        let (file, len) = crate::file::open_regular(path).map_err(open)?;
        self.upload_reader_with(file, len, name, on_event)
    }

    /// Uploads `len` bytes of `source`, from its current position, as the package `file_name`.
    /// For each retry the source is sought back to where it was.
    ///
    /// # Errors
    ///
    /// As [`upload_file`](Self::upload_file); [`UploadError::Source`] in [`Error::Exchange`]
    /// if the source holds fewer or more than `len` bytes.
    pub fn upload_reader<R: Read + Seek>(
        &self,
        source: R,
        len: u64,
        file_name: &str,
    ) -> Result<Uploaded, Error> {
        self.upload_reader_with(source, len, file_name, |_| ControlFlow::Continue(()))
    }

    /// [`upload_reader`](Self::upload_reader) with events, as in
    /// [`upload_file_with`](Self::upload_file_with).
    ///
    /// # Errors
    ///
    /// As [`upload_reader`](Self::upload_reader), and [`UploadError::Cancelled`] in
    /// [`Error::Exchange`].
    pub fn upload_reader_with<R, F>(
        &self,
        mut source: R,
        len: u64,
        file_name: &str,
        mut on_event: F,
    ) -> Result<Uploaded, Error>
    where
        R: Read + Seek,
        F: FnMut(&Event<'_>) -> ControlFlow<()>,
    {
        let start = source.stream_position().map_err(Error::Rewind)?;
        let mut buf = vec![0u8; self.settings.buffer_size];
        let began = Instant::now();
        let deadline = Deadline::after(self.deadline_for(len));
        self.with_retries(deadline, &mut on_event, |this, attempt, on_event| {
            source.seek(SeekFrom::Start(start)).map_err(Error::Rewind)?;
            let (answer, peer) = this.upload_once(
                &mut source,
                (len, file_name),
                &mut buf,
                (attempt, deadline),
                on_event,
            )?;
            Ok(Uploaded {
                upload_id: answer.upload_id,
                message: answer.err_msg.as_str().to_owned(),
                size: len,
                attempts: attempt,
                peer,
                elapsed: began.elapsed(),
            })
        })
    }

    /// Runs `once` until it succeeds, fails for good, the retries are spent, or the next
    /// attempt would start at or after `deadline`.
    fn with_retries<T>(
        &self,
        deadline: Deadline,
        on_event: &mut dyn FnMut(&Event<'_>) -> ControlFlow<()>,
        once: impl FnMut(&Self, u32, &mut dyn FnMut(&Event<'_>) -> ControlFlow<()>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.with_retries_if(deadline, on_event, |_| true, once)
    }

    /// [`with_retries`](Self::with_retries), retrying only transient errors that `may_retry`
    /// also accepts.
    fn with_retries_if<T>(
        &self,
        deadline: Deadline,
        on_event: &mut dyn FnMut(&Event<'_>) -> ControlFlow<()>,
        may_retry: impl Fn(&Error) -> bool,
        mut once: impl FnMut(
            &Self,
            u32,
            &mut dyn FnMut(&Event<'_>) -> ControlFlow<()>,
        ) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut attempt = 1;
        loop {
            match once(self, attempt, on_event) {
                Ok(v) => return Ok(v),
                Err(e)
                    if e.is_transient()
                        && may_retry(&e)
                        && attempt <= self.settings.retry.max_retries =>
                {
                    let mut delay = self.settings.retry.delay(attempt, random_u64());
                    if e.is_rate_limited() {
                        delay = delay.max(Duration::from_secs(1));
                    }
                    // The deadline covers every attempt: a retry that could not even start
                    // before it is not made, and the error that stopped us is the news.
                    if deadline.left().is_none_or(|left| left <= delay) {
                        return Err(e);
                    }
                    let event = Event::Retrying {
                        attempt,
                        delay,
                        error: &e,
                    };
                    if on_event(&event).is_break() {
                        return Err(e);
                    }
                    std::thread::sleep(delay);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn upload_once<R: Read>(
        &self,
        source: &mut R,
        (len, file_name): (u64, &str),
        buf: &mut [u8],
        (attempt, deadline): (u32, Deadline),
        on_event: &mut dyn FnMut(&Event<'_>) -> ControlFlow<()>,
    ) -> Result<(upload::UploadResponse, SocketAddr), Error> {
        let endpoint = self.endpoint();
        let job = Upload {
            endpoint: &endpoint,
            credentials: self.credentials()?,
            file_name,
            boundary: Boundary::from_random(random_bytes()?),
            expect_continue: self.settings.expect_continue,
            limits: self.settings.limits,
        };
        let (stream, peer) = self.connect(deadline, on_event)?;
        if on_event(&Event::Connected { attempt, peer }).is_break() {
            return Err(UploadError::Cancelled { sent: 0 }.into());
        }
        let mut transport = Io(Tap::new(stream));
        let answer = upload::upload(&mut transport, &job, Io(source), len, buf, |p| {
            on_event(&Event::Progress {
                sent: p.sent,
                total: p.total,
            })
        });
        exchanged(&transport.0, on_event);
        let answer = answer.map_err(|e| self.exchange_error(e))?;
        Ok((answer, peer.addr))
    }
}

/// A successful push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The push id (several joined with `,` for loop pushes).
    pub push_id: String,
    /// `err_msg` of the answer (such as `NO_ERROR`).
    pub message: String,
    /// `seq`, if the answer had one.
    pub seq: Option<i64>,
    /// Attempts made, from 1.
    pub attempts: u32,
}

impl Client {
    /// Pushes a notification to an uploaded package.
    ///
    /// The request is checked against the API's limits first; one that breaks them sends
    /// nothing. A push is not idempotent, so it is retried only when the service cannot have
    /// acted on it: a failure to connect or to send the request, HTTP 503, or the rate limit
    /// (1008028) — never after the request was sent and the answer was lost, and never after
    /// a 502 or 504, which a gateway answers after forwarding the push.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPush`] before sending; otherwise as for uploads.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tpns_transport_std::Client;
    /// use tpns_transport_std::tpns_core::push::PushRequest;
    ///
    /// # let client = Client::builder().credentials("1500001048", "secret").build()?;
    /// let pushed = client.push(&PushRequest {
    ///     upload_id: 42,
    ///     title: "Maintenance",
    ///     content: "The service restarts at 02:00.",
    ///     ..PushRequest::default()
    /// })?;
    /// println!("push_id {}", pushed.push_id);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&self, request: &PushRequest<'_>) -> Result<Pushed, Error> {
        self.push_with(request, |_| ControlFlow::Continue(()))
    }

    /// [`push`](Self::push), telling `on_event` about connections and retries.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    pub fn push_with<F>(&self, request: &PushRequest<'_>, mut on_event: F) -> Result<Pushed, Error>
    where
        F: FnMut(&Event<'_>) -> ControlFlow<()>,
    {
        request.check().map_err(Error::InvalidPush)?;
        let mut buf = vec![0u8; self.settings.buffer_size];
        // A push is not idempotent: retry only what the service cannot have acted on. The
        // core draws the line for the exchange (`push::may_have_been_sent`: not a lost or
        // broken answer, not a 502/504 from a gateway that forwarded it); a stall once the
        // whole body is out is on the same side of it.
        let body_len = request.json_len();
        let retry_push = |e: &Error| match e {
            Error::Timeout { phase, .. } => match phase {
                Phase::ReadResponse => false,
                Phase::SendBody { sent } => *sent < body_len,
                _ => true,
            },
            Error::Exchange(e) => !e
                .exchange()
                .is_some_and(|e| push::may_have_been_sent(e, body_len)),
            _ => true,
        };
        let deadline = Deadline::after(self.deadline_for(request.json_len()));
        self.with_retries_if(
            deadline,
            &mut on_event,
            retry_push,
            |this, attempt, on_event| {
                let endpoint = this.endpoint();
                let credentials = this.credentials()?;
                let auth = if this.settings.signed_push {
                    let timestamp = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    PushAuth::Signature {
                        credentials,
                        timestamp,
                    }
                } else {
                    PushAuth::Basic(credentials)
                };
                let job = Push {
                    endpoint: &endpoint,
                    auth,
                    request: *request,
                    limits: this.settings.limits,
                };
                let (stream, peer) = this.connect(deadline, on_event)?;
                if on_event(&Event::Connected { attempt, peer }).is_break() {
                    return Err(UploadError::Cancelled { sent: 0 }.into());
                }
                let mut transport = Io(Tap::new(stream));
                let answer = push::push(&mut transport, &job, &mut buf);
                exchanged(&transport.0, on_event);
                let answer = answer.map_err(|e| match e.into_exchange() {
                    Ok(e) => this.exchange_error(UploadError::Exchange(e)),
                    Err(invalid) => Error::InvalidPush(invalid),
                })?;
                Ok(Pushed {
                    push_id: answer.push_id.as_str().to_owned(),
                    message: answer.err_msg.as_str().to_owned(),
                    seq: answer.seq,
                    attempts: attempt,
                })
            },
        )
    }
}

/// Tells `on_event` what the tap saw of an exchange.
fn exchanged<S>(tap: &Tap<S>, on_event: &mut dyn FnMut(&Event<'_>) -> ControlFlow<()>) {
    let _ = on_event(&Event::Exchanged {
        request_head: &tap.request_head(),
        response_head: &tap.response_head(),
        send: tap.send_time(),
        answer: tap.answer_time(),
    });
}

/// ring, with the AES-128-GCM suites offered first (the order is otherwise ring's: AES-256-GCM,
/// then ChaCha20-Poly1305). AES-128-GCM is as sound for this traffic and about 12 % cheaper
/// per byte on both ends of a large upload (9.8 against 8.7 GB/s here, `bench/README.md`); a
/// server that honours the client's order, as rustls's does, picks it.
fn crypto_provider() -> rustls::crypto::CryptoProvider {
    use rustls::CipherSuite::{
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS13_AES_128_GCM_SHA256,
    };
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            TLS13_AES_128_GCM_SHA256
                | TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    provider
}

/// 16 bytes from the operating system's CSPRNG, for a multipart boundary. There is no
/// fallback: a guessable boundary could be ended early by a row crafted to match it.
fn random_bytes() -> Result<[u8; 16], Error> {
    let mut out = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut out)
        .map_err(|_| Error::Random)?;
    Ok(out)
}
