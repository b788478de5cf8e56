//! The client through a real `CONNECT` proxy on 127.0.0.1 (the test support's), to the
//! emulator: the package arrives whole, TLS runs inside the tunnel, the events tell each step
//! with credentials redacted, refusals are errors (transient or not), and `NO_PROXY` bypasses
//! the proxy.

mod common;

use common::{assert_timed_out_in, push_request};
use std::io::Cursor;
use std::ops::ControlFlow;
use std::time::Duration;

use tpns_emulator::Emulator;
use tpns_emulator::proxy::{ConnectProxy, ProxyConfig};
use tpns_transport_std::{BuildError, ClientBuilder, Error, Event, Phase, ProxyError, RetryPolicy};

use tpns_test_support::{Emu, SECRET, accounts as package, sha256_hex};

const PASSWORD: &str = "s3cr:t@proxy";
const USERINFO: &str = "gw:s3cr%3At%40proxy";

fn emulator(tag: &str) -> Emu {
    Emu::https_only(tag)
}

fn builder(emu: &Emulator) -> ClientBuilder {
    common::builder(emu, 2, 10, 20)
}

/// Every event of a request, as text (their `Debug`, with the heads and names).
fn recorder(log: &mut Vec<String>) -> impl FnMut(&Event<'_>) -> ControlFlow<()> + '_ {
    move |e| {
        let text = match e {
            Event::Resolved { host, .. } => format!("resolved {host}"),
            Event::TcpConnected { proxy, .. } => format!("tcp via {proxy:?}"),
            Event::Tunnel {
                request_head,
                response_head,
                ..
            } => format!("tunnel\n{request_head}{response_head}"),
            Event::TlsHandshake {
                version,
                cipher,
                certificates,
                ..
            } => format!("tls {version} {cipher} {}", certificates.len()),
            Event::Exchanged {
                request_head,
                response_head,
                answer,
                ..
            } => format!(
                "exchange {}\n{request_head}{response_head}",
                answer.is_some()
            ),
            other => format!("{other:?}"),
        };
        log.push(text);
        ControlFlow::Continue(())
    }
}

#[test]
fn an_upload_and_a_push_go_through_the_tunnel_with_tls_inside() {
    let emu = emulator("proxy-ok");
    let proxy = ConnectProxy::start(ProxyConfig {
        credentials: Some(("gw".into(), PASSWORD.into())),
        ..ProxyConfig::default()
    })
    .unwrap();
    let url = format!("http://{USERINFO}@{}", proxy.addr());
    let debug = format!("{:?}", builder(&emu).proxy(&url));
    assert!(!debug.contains("s3cr"), "{debug}");
    let client = builder(&emu).proxy(&url).build().unwrap();
    assert_eq!(
        client.proxy().map(ToString::to_string),
        Some(format!("http://{}", proxy.addr()))
    );
    let debug = format!("{client:?}");
    assert!(
        !debug.contains("s3cr") && !debug.contains("Basic"),
        "{debug}"
    );

    let pkg = package(3_000_000);
    let mut log = Vec::new();
    let up = client
        .upload_reader_with(
            Cursor::new(&pkg),
            pkg.len() as u64,
            "a.txt",
            recorder(&mut log),
        )
        .unwrap();
    assert_eq!(emu.uploads()[0].sha256, sha256_hex(&pkg));
    assert_eq!(up.peer, proxy.addr());
    let all = log.join("\n");
    for item in [
        "resolved 127.0.0.1",
        "tcp via Some(",
        "CONNECT 127.0.0.1:",
        "Proxy-Authorization: Basic <redacted>",
        "HTTP/1.1 200 Connection established",
        "tls TLSv1_3 TLS13_",
        "exchange true",
        "POST /v3/push/package/upload HTTP/1.1",
        "Authorization: Basic <redacted>",
        "HTTP/1.1 200 OK",
    ] {
        assert!(all.contains(item), "no `{item}` in:\n{all}");
    }
    assert!(!all.contains("s3cr") && !all.contains(SECRET), "{all}");

    let pushed = client.push(&push_request(up.upload_id, "c")).unwrap();
    assert_eq!(emu.pushes()[0].push_id, pushed.push_id);
    let seen = proxy.wait_for(2, Duration::from_secs(10));
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].bytes_up > pkg.len() as u64);
    assert!(
        seen.iter()
            .all(|c| c.status == 200 && !c.saw_plaintext_request)
    );
}

#[test]
fn refusals_are_proxy_errors_and_only_gateway_errors_are_retried() {
    let emu = emulator("proxy-refusals");
    let proxy = ConnectProxy::start(ProxyConfig {
        credentials: Some(("gw".into(), PASSWORD.into())),
        refusals: vec![502, 504],
    })
    .unwrap();
    let pkg = package(1000);
    // 502 and 504 from the proxy: nothing reached the service; both are retried.
    let good = format!("http://{USERINFO}@{}", proxy.addr());
    let client = builder(&emu).proxy(&good).build().unwrap();
    let mut retried = Vec::new();
    let up = client
        .upload_reader_with(Cursor::new(&pkg), pkg.len() as u64, "a.txt", |e| {
            if let Event::Retrying { error, .. } = e {
                retried.push(error.to_string());
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(up.attempts, 3, "{retried:?}");
    assert!(retried[0].contains("HTTP 502") && retried[1].contains("HTTP 504"));
    assert!(retried[0].starts_with("proxy CONNECT: the proxy http://127.0.0.1:"));

    // 407: not transient, the message names the proxy and the status, no credentials.
    let bad = format!("http://gw:wrong@{}", proxy.addr());
    let client = builder(&emu).proxy(&bad).build().unwrap();
    let err = client
        .upload_reader(Cursor::new(&pkg), pkg.len() as u64, "a.txt")
        .unwrap_err();
    assert!(matches!(&err, Error::Proxy { status: 407, .. }), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(err.phase(), Some(Phase::Proxy));
    let text = format!("{err} {err:?}");
    assert!(text.contains("407") && !text.contains("wrong"), "{text}");

    // A proxy that is not there: a connect error naming it, transient.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let client = builder(&emu)
        .proxy(format!("http://{addr}"))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client
        .upload_reader(Cursor::new(&pkg), pkg.len() as u64, "a.txt")
        .unwrap_err();
    assert!(
        matches!(err, Error::Connect { .. }) && err.is_transient(),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("the proxy {addr}")),
        "{err}"
    );

    // NO_PROXY: the same dead proxy is bypassed for the emulator's address.
    let client = builder(&emu)
        .proxy(format!("http://{addr}"))
        .no_proxy("localhost, 127.0.0.1")
        .build()
        .unwrap();
    assert!(client.proxy().is_none());
    client
        .upload_reader(Cursor::new(&pkg), pkg.len() as u64, "a.txt")
        .unwrap();
}

#[test]
fn unsupported_proxy_urls_fail_the_build_without_credentials() {
    let emu = emulator("proxy-build");
    let unsupported = |scheme: &str| ProxyError::UnsupportedScheme(scheme.into());
    for (url, expected) in [
        ("socks5://u:hunter2@127.0.0.1:1080", unsupported("socks5")),
        ("https://u:hunter2@127.0.0.1:3128", unsupported("https")),
        ("http://u:hunter2@127.0.0.1:0", ProxyError::BadPort),
    ] {
        let err = builder(&emu).proxy(url).build().unwrap_err();
        assert!(
            matches!(&err, BuildError::Proxy { source, .. } if *source == expected),
            "{url}: {err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

/// A fake proxy on 127.0.0.1 that reads the `CONNECT` head, then does `answer` to the socket.
fn raw_proxy(answer: impl Fn(&mut std::net::TcpStream) + Send + 'static) -> std::net::SocketAddr {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            answer(&mut conn);
        }
    });
    addr
}

#[test]
fn a_silent_or_hostile_proxy_is_an_error_never_a_hang() {
    use std::io::Write;
    let emu = emulator("proxy-hostile");
    let pkg = package(1000);
    let upload = |addr: std::net::SocketAddr| {
        builder(&emu)
            .proxy(format!("http://{addr}"))
            .timeout(Duration::from_millis(300))
            .retry(RetryPolicy::none())
            .build()
            .unwrap()
            .upload_reader(Cursor::new(&pkg), pkg.len() as u64, "a.txt")
            .unwrap_err()
    };
    // Silent: the stall timeout, in the proxy phase, transient.
    let silent = raw_proxy(|_| std::thread::sleep(Duration::from_secs(3)));
    let err = upload(silent);
    assert_timed_out_in(&err, Phase::Proxy);
    assert!(err.is_transient(), "{err:?}");
    // An endless head: refused after 16 KiB.
    let endless = raw_proxy(|c| {
        let _ = c.write_all(b"HTTP/1.1 200 OK\r\n");
        let line = [b'x'; 1024];
        for _ in 0..64 {
            if c.write_all(&line).is_err() {
                break;
            }
        }
    });
    let err = upload(endless);
    assert!(err.to_string().contains("over 16 KiB"), "{err:?}");
    assert_eq!(err.phase(), Some(Phase::Proxy));
    // Not HTTP at all, or closed without an answer.
    let garbage = raw_proxy(|c| {
        let _ = c.write_all(b"SSH-2.0-OpenSSH\r\n\r\n");
    });
    assert!(upload(garbage).to_string().contains("not HTTP"));
    let closed = raw_proxy(|_| {});
    let err = upload(closed);
    assert!(
        err.to_string()
            .contains("closed the connection before answering"),
        "{err:?}"
    );
    assert!(emu.uploads().is_empty());
}
