//! Test helpers: a temporary directory, an emulator started for a test, and an independent
//! client (hyper's client with a hand-written multipart body, and a raw socket client for
//! byte-level checks). Nothing here uses the emulator's own code to build or read requests.

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tpns_emulator::{Emulator, EmulatorConfig};

/// The app every test uses, and a second one for ownership checks.
pub const APP: (&str, &str) = ("1500001048", "1452fcebae9f3115ba794fb0fff2fd73");
pub const OTHER_APP: (&str, &str) = ("1500009999", "another-secret");

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let p = std::env::temp_dir().join(format!(
            "tpns-emu-test-{tag}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to the file `name` in the folder; its path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The upload endpoint's path.
pub const UPLOAD: &str = "/v3/push/package/upload";

/// The base configuration of a test: both apps, plain HTTP on too.
pub fn config(dir: &Path) -> EmulatorConfig {
    EmulatorConfig::new(dir)
        .app(APP.0, APP.1)
        .app(OTHER_APP.0, OTHER_APP.1)
        .http("127.0.0.1:0".parse().unwrap())
}

/// An emulator with the base configuration, in a new folder named after `tag` (removed when
/// the returned `TempDir` is dropped: keep it as long as the emulator).
pub fn start_emulator(tag: &str) -> (TempDir, Emulator) {
    let dir = TempDir::new(tag);
    let emu = Emulator::start(config(dir.path())).unwrap();
    (dir, emu)
}

/// Where and how to reach the emulator.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// The CA to trust for HTTPS; None for plain HTTP.
    pub ca: Option<Vec<u8>>,
}

impl Target {
    pub fn https(e: &Emulator) -> Target {
        Target {
            addr: e.https_addr(),
            ca: Some(e.ca_der().to_vec()),
        }
    }

    pub fn http(e: &Emulator) -> Target {
        Target {
            addr: e.http_addr().expect("plain HTTP on"),
            ca: None,
        }
    }

    /// Both ways to reach `e`.
    pub fn both(e: &Emulator) -> [Target; 2] {
        [Target::https(e), Target::http(e)]
    }

    pub fn name(&self) -> &'static str {
        if self.ca.is_some() { "https" } else { "http" }
    }

    pub async fn connect(&self) -> Box<dyn Io> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        match &self.ca {
            None => Box::new(tcp),
            Some(ca) => {
                let connector = tokio_rustls::TlsConnector::from(client_config(ca));
                let name = ServerName::try_from("localhost").unwrap();
                Box::new(connector.connect(name, tcp).await.unwrap())
            }
        }
    }
}

/// A client stream: TCP or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A rustls client trusting only `ca_der` (ring provider, TLS 1.2 and 1.3).
pub fn client_config(ca_der: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der.to_vec())).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A response as the test sees it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn ret_code(&self) -> i64 {
        let j = self.json();
        j.get("retCode")
            .or_else(|| j.get("ret_code"))
            .and_then(|v| v.as_i64())
            .unwrap_or_else(|| panic!("no retCode in {j}"))
    }

    pub fn err_msg(&self) -> String {
        let j = self.json();
        j.get("errMsg")
            .or_else(|| j.get("err_msg"))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    }
}

/// Sends a request with hyper's client on a fresh connection.
pub async fn send<B>(t: &Target, req: Request<B>) -> Result<Answer, String>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io = t.connect().await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

pub const BOUNDARY: &str = "----tpns-test-boundary-7d1b3c0e9a5f4e21";

/// The multipart/form-data parts before and after the file bytes (RFC 7578).
pub fn multipart_parts(file_name: &str) -> (Vec<u8>, Vec<u8>) {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    (head.into_bytes(), tail.into_bytes())
}

/// A whole multipart body with one `file` part.
pub fn multipart(file_name: &str, content: &[u8]) -> Vec<u8> {
    let (mut body, tail) = multipart_parts(file_name);
    body.extend_from_slice(content);
    body.extend_from_slice(&tail);
    body
}

pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// A multipart POST to `path` with the test app's Basic credentials, before its body (and
/// any length: the body decides how it is framed).
pub fn multipart_post(path: &str) -> hyper::http::request::Builder {
    Request::post(path)
        .header("host", "localhost")
        .header("authorization", basic(APP.0, APP.1))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
}

/// An upload request with a Content-Length body.
pub fn upload_request(
    path: &str,
    auth: Option<(&str, &str)>,
    file_name: &str,
    content: &[u8],
) -> Request<Full<Bytes>> {
    let body = multipart(file_name, content);
    let mut b = Request::post(path)
        .header("host", "localhost")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("content-length", body.len());
    if let Some((id, secret)) = auth {
        b = b.header("authorization", basic(id, secret));
    }
    b.body(Full::new(Bytes::from(body))).unwrap()
}

/// Uploads `content` as `file_name` with the test app's credentials.
pub async fn upload(t: &Target, file_name: &str, content: &[u8]) -> Answer {
    send(t, upload_request(UPLOAD, Some(APP), file_name, content))
        .await
        .unwrap()
}

/// A GET request.
pub async fn get(t: &Target, path: &str) -> Answer {
    let req = Request::get(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(t, req).await.unwrap()
}

/// A GET request with an app's Basic credentials (the `/_emulator/` listings need them).
pub async fn get_as(t: &Target, path: &str, app: (&str, &str)) -> Answer {
    let req = Request::get(path)
        .header("host", "localhost")
        .header("authorization", basic(app.0, app.1))
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(t, req).await.unwrap()
}

/// Writes raw request bytes and reads everything the server sends until it closes.
/// A TLS peer that closes without close_notify still yields what arrived.
pub async fn raw_exchange(t: &Target, request: &[u8]) -> Vec<u8> {
    let mut io = t.connect().await;
    io.write_all(request).await.unwrap();
    io.flush().await.unwrap();
    read_to_close(&mut io).await
}

/// Reads until the peer closes (or resets) the connection.
pub async fn read_to_close<R: tokio::io::AsyncRead + Unpin + ?Sized>(io: &mut R) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match io.read(&mut buf).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// The raw bytes of an upload request (head and body).
pub fn raw_upload(path: &str, file_name: &str, content: &[u8], extra_headers: &str) -> Vec<u8> {
    let body = multipart(file_name, content);
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n{extra_headers}\r\n",
        basic(APP.0, APP.1),
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    req
}

/// Splits a raw HTTP response into its head (as text) and body bytes.
pub fn split_response(raw: &[u8]) -> (String, Vec<u8>) {
    let i = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head end in {:?}", String::from_utf8_lossy(raw)));
    (
        String::from_utf8_lossy(&raw[..i + 4]).into_owned(),
        raw[i + 4..].to_vec(),
    )
}

/// `n` distinct valid rows.
pub fn rows(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| format!("account{i:06}\n"))
        .collect::<String>()
        .into_bytes()
}

/// Lists a directory's file names (empty if it does not exist).
pub fn files_in(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The emulator binary of this build.
pub const BIN: &str = env!("CARGO_BIN_EXE_tpns-emulator");

/// A started binary, killed on drop.
pub struct Running {
    pub child: Child,
    pub first_line: serde_json::Value,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with `args` and reads its first stdout line. Its stderr is piped: a test
/// that lets it write much must read it or start it with [`start_quiet`].
pub fn start(args: &[&str]) -> Running {
    start_with(args, Stdio::piped())
}

/// [`start`] with stderr discarded.
pub fn start_quiet(args: &[&str]) -> Running {
    start_with(args, Stdio::null())
}

fn start_with(args: &[&str], stderr: Stdio) -> Running {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let first_line = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    Running { child, first_line }
}

/// How to reach a started binary: `key` is `https` or `http`.
pub fn target(r: &Running, key: &str) -> Target {
    let addr = r.first_line[key].as_str().unwrap().parse().unwrap();
    let ca = if key == "https" {
        let pem = std::fs::read(r.first_line["ca"].as_str().unwrap()).unwrap();
        let der = rustls_pki_types::pem::PemObject::from_pem_slice(&pem)
            .map(|c: rustls_pki_types::CertificateDer<'_>| c.to_vec())
            .unwrap();
        Some(der)
    } else {
        None
    };
    Target { addr, ca }
}

/// A process's resident memory from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// VmRSS: resident now.
    pub rss_kib: u64,
    /// VmHWM: the most ever resident.
    pub hwm_kib: u64,
}

impl Running {
    /// The binary's memory now (Linux only).
    pub fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc status"))
        };
        Memory {
            rss_kib: field("VmRSS:"),
            hwm_kib: field("VmHWM:"),
        }
    }
}

/// A tokio runtime for a plain #[test].
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
