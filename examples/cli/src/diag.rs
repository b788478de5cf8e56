//! `-v` / `-vv`: what an operator needs to see where an upload or a push failed, printed on
//! stderr from the client's events (the library prints nothing itself).
//!
//! `-v`: the resolved addresses, the proxy (never its credentials), the proxy's answer, the
//! TLS version and cipher suite, the server certificate's subject and issuer, the status line,
//! and the times of connect, TLS, send and answer. `-vv` adds the request and response heads,
//! which the client hands over with `Authorization`, `Proxy-Authorization` and `Sign`
//! redacted. Everything that came from the network or a certificate goes through the
//! sanitiser.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tpns_transport_std::Event;

use crate::term::sanitize;

static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The times of the current attempt's connection, for the summary line.
static TIMES: Mutex<Times> = Mutex::new(Times {
    connect: None,
    tunnel: None,
    tls: None,
});

#[derive(Debug, Clone, Copy)]
struct Times {
    connect: Option<Duration>,
    tunnel: Option<Duration>,
    tls: Option<Duration>,
}

/// Sets the level: the number of `-v` flags.
pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

/// Whether anything is printed.
pub fn on() -> bool {
    LEVEL.load(Ordering::Relaxed) > 0
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn line(text: &str) {
    eprintln!("tpns: * {}", sanitize(text));
}

/// Prints the heads of `head` with `prefix` (`> ` sent, `< ` received) at `-vv`.
fn heads(prefix: &str, head: &str) {
    if LEVEL.load(Ordering::Relaxed) < 2 {
        return;
    }
    for l in head.lines() {
        eprintln!("tpns: {prefix}{}", sanitize(l));
    }
}

/// Prints what `event` tells, at the level set.
pub fn event(event: &Event<'_>) {
    if !on() {
        return;
    }
    let mut times = TIMES.lock().unwrap_or_else(|e| e.into_inner());
    match event {
        Event::Resolved { host, addrs } => {
            *times = Times {
                connect: None,
                tunnel: None,
                tls: None,
            };
            let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            line(&format!("resolved {host}: {}", list.join(", ")));
        }
        Event::TcpConnected {
            addr,
            proxy,
            elapsed,
        } => {
            times.connect = Some(*elapsed);
            match proxy {
                Some(p) => line(&format!(
                    "connected to {addr} in {}: the proxy {p}{}",
                    ms(*elapsed),
                    if p.has_credentials() {
                        " (with credentials)"
                    } else {
                        ""
                    }
                )),
                None => line(&format!(
                    "connected to {addr} in {} (no proxy)",
                    ms(*elapsed)
                )),
            }
        }
        Event::Tunnel {
            request_head,
            response_head,
            elapsed,
        } => {
            times.tunnel = Some(*elapsed);
            heads("> ", request_head);
            heads("< ", response_head);
            let status = response_head.lines().next().unwrap_or("");
            line(&format!(
                "proxy answered CONNECT: {status} ({})",
                ms(*elapsed)
            ));
        }
        Event::TlsHandshake {
            version,
            cipher,
            certificates,
            elapsed,
        } => {
            times.tls = Some(*elapsed);
            line(&format!(
                "TLS {version}, cipher {cipher} ({})",
                ms(*elapsed)
            ));
            if let Some(der) = certificates.first() {
                match (tpns_pki::describe(der), tpns_pki::issuer(der)) {
                    (Some(summary), Some(issuer)) => line(&format!(
                        "server certificate: subject {}; issuer {issuer}",
                        summary.subject
                    )),
                    _ => line("server certificate: unreadable"),
                }
            }
        }
        Event::Exchanged {
            request_head,
            response_head,
            send,
            answer,
        } => {
            heads("> ", request_head);
            heads("< ", response_head);
            match response_head.lines().next() {
                Some(status) => line(&format!("status: {status}")),
                None => line("status: no answer"),
            }
            let show = |d: Option<Duration>| d.map_or_else(|| "-".to_owned(), ms);
            let mut summary = format!("times: connect {}", show(times.connect));
            if let Some(t) = times.tunnel {
                summary.push_str(&format!(", proxy {}", ms(t)));
            }
            summary.push_str(&format!(
                ", TLS {}, send {}, answer {}",
                show(times.tls),
                ms(*send),
                show(*answer)
            ));
            line(&summary);
        }
        // Connections, progress and retries are the callers' own lines.
        _ => {}
    }
}
