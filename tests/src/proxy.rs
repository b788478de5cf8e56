//! A small HTTP `CONNECT` proxy for tests: threads on 127.0.0.1 that read the `CONNECT`
//! request, check `Proxy-Authorization` if told to, answer (scripted refusals first, then
//! `200`), and relay bytes both ways, recording what they saw.
//!
//! It only tunnels to loopback targets, so a test can never reach the network through it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The longest a proxy connection waits for its client or target to make progress.
const IDLE: Duration = Duration::from_secs(20);

/// How to run a [`ConnectProxy`].
#[derive(Debug, Clone, Default)]
pub struct ProxyConfig {
    /// The user name and password the proxy requires (`407` without them).
    pub credentials: Option<(String, String)>,
    /// Statuses to answer the first `CONNECT` requests with, in order, before tunnelling
    /// (such as `[502]`: one refusal, then success).
    pub refusals: Vec<u16>,
}

/// One `CONNECT` request the proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The request line, such as `CONNECT 127.0.0.1:443 HTTP/1.1`.
    pub line: String,
    /// The `Host` header, if any.
    pub host: Option<String>,
    /// The `Proxy-Authorization` header, if any.
    pub authorization: Option<String>,
    /// The status answered.
    pub status: u16,
    /// Bytes relayed from the client to the target.
    pub bytes_up: u64,
    /// Bytes relayed from the target to the client.
    pub bytes_down: u64,
    /// Whether the client's bytes held the plaintext `POST /v3` (they must not: TLS runs
    /// inside the tunnel).
    pub saw_plaintext_request: bool,
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct ConnectProxy {
    addr: SocketAddr,
    seen: Arc<(Mutex<Vec<Connect>>, Condvar)>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl ConnectProxy {
    /// Starts a proxy on `127.0.0.1` on a free port.
    ///
    /// # Errors
    ///
    /// Binding the listener failed.
    pub fn start(config: ProxyConfig) -> io::Result<ConnectProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let seen = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let refusals = Arc::new(Mutex::new(config.refusals.clone()));
        let expected = config
            .credentials
            .as_ref()
            .map(|(u, p)| format!("Basic {}", STANDARD.encode(format!("{u}:{p}"))));
        let accept = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (seen, refusals, expected) =
                        (seen.clone(), refusals.clone(), expected.clone());
                    std::thread::spawn(move || {
                        if let Some(record) = serve(conn, expected.as_deref(), &refusals) {
                            seen.0.lock().unwrap().push(record);
                            seen.1.notify_all();
                        }
                    });
                }
            })
        };
        Ok(ConnectProxy {
            addr,
            seen,
            stop,
            accept: Some(accept),
        })
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, or with `user:password@` when given.
    pub fn url(&self, credentials: Option<(&str, &str)>) -> String {
        match credentials {
            Some((u, p)) => format!("http://{u}:{p}@{}", self.addr),
            None => format!("http://{}", self.addr),
        }
    }

    /// The `CONNECT` requests handled to the end so far, in the order they ended.
    pub fn seen(&self) -> Vec<Connect> {
        self.seen.0.lock().unwrap().clone()
    }

    /// [`seen`](Self::seen), once at least `count` requests have ended or `timeout` passed
    /// (a tunnel's record is made when both directions are closed, just after its client
    /// exits).
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Connect> {
        let end = Instant::now() + timeout;
        let mut seen = self.seen.0.lock().unwrap();
        while seen.len() < count {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            seen = self.seen.1.wait_timeout(seen, left).unwrap().0;
        }
        seen.clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Handles one client connection; `None` if it sent no `CONNECT` head.
fn serve(
    mut client: TcpStream,
    expected: Option<&str>,
    refusals: &Mutex<Vec<u16>>,
) -> Option<Connect> {
    client.set_read_timeout(Some(IDLE)).ok()?;
    client.set_write_timeout(Some(IDLE)).ok()?;
    let head = read_head(&mut client)?;
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default().to_owned();
    let mut host = None;
    let mut authorization = None;
    for l in lines {
        if let Some((name, value)) = l.split_once(':') {
            let value = Some(value.trim().to_owned());
            match name.trim().to_ascii_lowercase().as_str() {
                "host" => host = value,
                "proxy-authorization" => authorization = value,
                _ => {}
            }
        }
    }
    let mut record = Connect {
        line: line.clone(),
        host,
        authorization: authorization.clone(),
        status: 0,
        bytes_up: 0,
        bytes_down: 0,
        saw_plaintext_request: false,
    };
    let mut answer = |status: u16, extra: &str| {
        let reason = match status {
            200 => "Connection established",
            400 => "Bad Request",
            403 => "Forbidden",
            407 => "Proxy Authentication Required",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Refused",
        };
        let _ = write!(client, "HTTP/1.1 {status} {reason}\r\n{extra}");
        status
    };
    let target = line
        .strip_prefix("CONNECT ")
        .and_then(|r| r.strip_suffix(" HTTP/1.1"))
        .map(str::to_owned);
    let Some(target) = target.filter(|t| is_loopback_target(t)) else {
        record.status = answer(400, "Content-Length: 0\r\n\r\n");
        return Some(record);
    };
    if expected.is_some() && authorization.as_deref() != expected {
        record.status = answer(
            407,
            "Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n",
        );
        return Some(record);
    }
    let refusal = {
        let mut r = refusals.lock().unwrap();
        (!r.is_empty()).then(|| r.remove(0))
    };
    if let Some(status) = refusal {
        record.status = answer(status, "Content-Length: 0\r\n\r\n");
        return Some(record);
    }
    let Ok(upstream) = TcpStream::connect_timeout(&target.parse().ok()?, Duration::from_secs(5))
    else {
        record.status = answer(502, "Content-Length: 0\r\n\r\n");
        return Some(record);
    };
    record.status = answer(200, "\r\n");
    upstream.set_read_timeout(Some(IDLE)).ok()?;
    upstream.set_write_timeout(Some(IDLE)).ok()?;
    let (c2, u2) = (client.try_clone().ok()?, upstream.try_clone().ok()?);
    let down = std::thread::spawn(move || relay(u2, c2).0);
    let (up, plaintext) = relay(client, upstream);
    record.bytes_up = up;
    record.bytes_down = down.join().unwrap_or(0);
    record.saw_plaintext_request = plaintext;
    Some(record)
}

/// Whether a `CONNECT` target is `127.0.0.1:PORT` or `[::1]:PORT`.
fn is_loopback_target(t: &str) -> bool {
    t.parse::<SocketAddr>().is_ok_and(|a| a.ip().is_loopback())
}

/// Reads a head up to its blank line, a byte at a time (at most 16 KiB).
fn read_head(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || s.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    head.truncate(head.len() - 4);
    Some(head)
}

/// Copies `from` to `to` until either ends; the bytes copied, and whether `POST /v3` was
/// among them (across reads too).
fn relay(mut from: TcpStream, mut to: TcpStream) -> (u64, bool) {
    const NEEDLE: &[u8] = b"POST /v3";
    let mut buf = vec![0u8; 64 * 1024];
    let mut tail: Vec<u8> = Vec::new();
    let (mut total, mut seen) = (0u64, false);
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        tail.extend_from_slice(&buf[..n]);
        if tail.windows(NEEDLE.len()).any(|w| w == NEEDLE) {
            seen = true;
        }
        let keep = tail.len().saturating_sub(NEEDLE.len() - 1);
        tail.drain(..keep);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        total += n as u64;
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
    (total, seen)
}
