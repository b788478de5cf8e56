#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cert;
pub mod fault;
pub mod limits;
pub mod package;
pub mod pki;
pub mod policy;
pub mod proxy;
pub mod raw;
mod server;
pub mod store;
pub mod zipcheck;

pub use cert::{GeneratedCert, Validity, generate_cert, generate_cert_with};
pub use fault::FaultSpec;
pub use limits::Limits;
pub use store::{PushRecord, UploadRecord};

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The demo app of `docs/TPNS-API.md` (Tencent's test vector), used by the binary when no `--app` is given.
pub const DEMO_APP: (&str, &str) = ("1500001048", "1452fcebae9f3115ba794fb0fff2fd73");

/// How to start an [`Emulator`]. Its `Debug` output shows the apps' AccessIDs, not their
/// secrets.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Where packages, the index, the push log and `ca.pem` live. Created if missing.
    pub data_dir: PathBuf,
    /// The apps: (AccessID, SecretKey). Requests of other apps get retCode 1008003.
    pub apps: Vec<(String, String)>,
    /// The HTTPS listen address; port 0 picks a free port.
    pub https_listen: SocketAddr,
    /// The plain-HTTP listen address, if any; port 0 picks a free port.
    pub http_listen: Option<SocketAddr>,
    /// Validate and checksum packages but store nothing (ids and records stay in memory).
    pub discard: bool,
    /// A fault SPEC applied to every request (see [`FaultSpec`]).
    pub fault: Option<String>,
    /// A certificate chain and key (PEM files) instead of a generated CA and leaf.
    pub cert: Option<(PathBuf, PathBuf)>,
    /// The shape of the generated chain when `cert` is not given (see [`pki::PkiMode`]).
    pub pki: pki::PkiMode,
    /// Timeouts and the connection cap.
    pub limits: Limits,
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.apps.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("EmulatorConfig")
            .field("data_dir", &self.data_dir)
            .field("apps", &ids)
            .field("https_listen", &self.https_listen)
            .field("http_listen", &self.http_listen)
            .field("discard", &self.discard)
            .field("fault", &self.fault)
            .field("cert", &self.cert)
            .field("pki", &self.pki)
            .field("limits", &self.limits)
            .finish()
    }
}

impl EmulatorConfig {
    /// A configuration with no apps, HTTPS on `127.0.0.1:0`, no plain HTTP, storing packages
    /// in `data_dir`, no faults, a generated certificate, the default [`Limits`].
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EmulatorConfig {
            data_dir: data_dir.into(),
            apps: Vec::new(),
            https_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_listen: None,
            discard: false,
            fault: None,
            cert: None,
            pki: pki::PkiMode::Simple,
            limits: Limits::default(),
        }
    }

    /// Sets the timeouts and the connection cap.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Adds an app.
    pub fn app(mut self, access_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.apps.push((access_id.into(), secret.into()));
        self
    }

    /// Sets the HTTPS listen address.
    pub fn https(mut self, addr: SocketAddr) -> Self {
        self.https_listen = addr;
        self
    }

    /// Also serves plain HTTP on `addr`.
    pub fn http(mut self, addr: SocketAddr) -> Self {
        self.http_listen = Some(addr);
        self
    }

    /// Sets discard mode.
    pub fn discard(mut self, discard: bool) -> Self {
        self.discard = discard;
        self
    }

    /// Applies a fault SPEC to every request.
    pub fn fault(mut self, spec: impl Into<String>) -> Self {
        self.fault = Some(spec.into());
        self
    }

    /// Generates a chain of this shape (root, intermediate, leaf) instead of the simple one.
    pub fn pki(mut self, mode: pki::PkiMode) -> Self {
        self.pki = mode;
        self
    }

    /// Uses a certificate chain and private key from PEM files.
    pub fn cert(mut self, cert_pem: impl Into<PathBuf>, key_pem: impl Into<PathBuf>) -> Self {
        self.cert = Some((cert_pem.into(), key_pem.into()));
        self
    }
}

/// A running emulator: its own thread with a tokio runtime, serving until
/// [`Emulator::shutdown`] or drop.
#[derive(Debug)]
pub struct Emulator {
    shared: Arc<api::Shared>,
    https: SocketAddr,
    http: Option<SocketAddr>,
    ca_pem: String,
    ca_der: Vec<u8>,
    ca_path: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts the emulator and returns once its listeners are bound and listening. Blocking;
    /// needs no tokio runtime in the caller.
    ///
    /// # Errors
    /// A bad fault SPEC or certificate, a listen address in use, or an I/O error in the data
    /// directory.
    pub fn start(config: EmulatorConfig) -> io::Result<Emulator> {
        std::fs::create_dir_all(&config.data_dir)?;
        let global_fault = match &config.fault {
            Some(s) => Some((
                s.clone(),
                FaultSpec::parse(s).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            )),
            None => None,
        };
        let (chain, key, ca_der) = match &config.cert {
            Some((cert, key)) => {
                let loaded = cert::load_pem(cert, key)?;
                (loaded.chain, loaded.key, loaded.trust_der)
            }
            None => {
                let g = pki::generate(config.pki, &["localhost", "127.0.0.1", "::1"])?;
                let key = rustls_pki_types::PrivateKeyDer::Pkcs8(g.key_der.into());
                let served = g.served.into_iter().map(Into::into).collect();
                (served, key, g.root_der)
            }
        };
        let ca_pem = cert::der_to_pem(&ca_der);
        let ca_path = config.data_dir.join("ca.pem");
        std::fs::write(&ca_path, &ca_pem)?;
        let tls = tokio_rustls::TlsAcceptor::from(cert::server_config(chain, key)?);

        let store = store::Store::open(&config.data_dir, config.discard)?;
        let shared = Arc::new(api::Shared {
            store,
            apps: config.apps.iter().cloned().collect(),
            budget: fault::FaultBudget::default(),
            global_fault,
            limits: config.limits,
        });

        let https = std::net::TcpListener::bind(config.https_listen)?;
        https.set_nonblocking(true)?;
        let https_addr = https.local_addr()?;
        let http = match config.http_listen {
            Some(a) => {
                let l = std::net::TcpListener::bind(a)?;
                l.set_nonblocking(true)?;
                Some(l)
            }
            None => None,
        };
        let http_addr = http.as_ref().map(|l| l.local_addr()).transpose()?;

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tpns-emulator-worker")
            .enable_all()
            .build()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let task_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("tpns-emulator".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listeners = (|| {
                        let https = tokio::net::TcpListener::from_std(https)?;
                        let http = http.map(tokio::net::TcpListener::from_std).transpose()?;
                        io::Result::Ok((https, http))
                    })();
                    match listeners {
                        Ok((https, http)) => {
                            let _ = ready_tx.send(Ok(()));
                            server::run(task_shared, https, http, tls, stop_rx).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                // Connections still open are cut: a test that shuts down is done with them.
                runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::Error::other("the emulator thread ended at start")),
        }
        Ok(Emulator {
            shared,
            https: https_addr,
            http: http_addr,
            ca_pem,
            ca_der,
            ca_path,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The HTTPS address actually bound.
    pub fn https_addr(&self) -> SocketAddr {
        self.https
    }

    /// The plain-HTTP address actually bound, if plain HTTP is on.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http
    }

    /// `https://127.0.0.1:PORT/`: the base URL for a client.
    pub fn https_url(&self) -> String {
        format!("https://{}/", self.https)
    }

    /// `http://127.0.0.1:PORT/`, if plain HTTP is on.
    pub fn http_url(&self) -> Option<String> {
        self.http.map(|a| format!("http://{a}/"))
    }

    /// The certificate clients should trust, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The certificate clients should trust, DER.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// Where the trusted certificate was written (`<data_dir>/ca.pem`).
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// The accepted uploads, oldest first.
    pub fn uploads(&self) -> Vec<UploadRecord> {
        self.shared.store.uploads()
    }

    /// The accepted pushes, oldest first.
    pub fn pushes(&self) -> Vec<PushRecord> {
        self.shared.store.pushes()
    }

    /// Where the package of `upload_id` is stored (a path that does not exist for an unknown
    /// id or in discard mode).
    pub fn stored_path(&self, upload_id: u64) -> PathBuf {
        self.shared.store.stored_path(upload_id)
    }

    /// Stops serving and waits for the server thread to end.
    pub fn shutdown(self) {
        drop(self);
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}
