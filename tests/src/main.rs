//! `tpns-emulator`: starts the emulator, prints one JSON line with its addresses, and serves
//! until it is killed. See README.md for the flags.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tpns_emulator::{DEMO_APP, Emulator, EmulatorConfig};

const USAGE: &str = "\
usage: tpns-emulator [--listen ADDR] [--http-listen ADDR] [--data-dir DIR]
                     [--app ACCESS_ID:SECRET]... [--discard] [--fault SPEC]
                     [--cert PEM --key PEM | --pki MODE] [--max-connections N]
                     [--head-timeout SECS] [--idle-timeout SECS] [--body-timeout SECS]
                     [--max-clock-skew SECS]

  --listen ADDR        HTTPS address (default 127.0.0.1:0; port 0 = any free port)
  --http-listen ADDR   also serve plain HTTP on ADDR (off unless given)
  --data-dir DIR       where packages, index.jsonl and ca.pem go (default: a new temp dir)
  --app ID:SECRET      an app (repeatable); default: the demo app of Tencent's docs
  --discard            validate and checksum uploads but store nothing
  --fault SPEC         inject a fault into every request (see README.md)
  --cert PEM --key PEM serve this certificate chain and key instead of a generated one
  --pki MODE           the generated chain's shape: simple (default: a P-256 CA signs the
                       leaf), public-rsa (RSA-4096 root and intermediate, RSA-2048 leaf with
                       42 DNS SANs), public-ecdsa (P-384 root and intermediate, P-256 leaf),
                       mixed (RSA root and intermediate, P-256 leaf); the root goes to ca.pem
  --max-connections N  connections served at once; more wait to be accepted (default 512)
  --head-timeout SECS  TLS handshake and request head (default 30)
  --idle-timeout SECS  longest pause inside a request body (default 30)
  --body-timeout SECS  longest upload body (default 600; other bodies: at most 30)
  --max-clock-skew SECS  how far a signed push's TimeStamp may be from this machine's clock,
                       either way (default 600; a whole number, 0 and up)

The first line on stdout is {\"https\":\"ADDR\",\"http\":\"ADDR\"|null,\"ca\":\"PATH\"}.";

fn fail(msg: &str) -> ! {
    eprintln!("tpns-emulator: {msg}\n\n{USAGE}");
    std::process::exit(2);
}

fn addr(flag: &str, value: Option<String>) -> SocketAddr {
    let value = value.unwrap_or_else(|| fail(&format!("{flag} needs a value")));
    value
        .parse()
        .unwrap_or_else(|_| fail(&format!("{flag}: `{value}` is not an IP:PORT address")))
}

fn seconds(flag: &str, value: Option<String>) -> Duration {
    let value = value.unwrap_or_else(|| fail(&format!("{flag} needs a number of seconds")));
    match value.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Duration::from_secs_f64(s),
        _ => fail(&format!(
            "{flag}: `{value}` is not a number of seconds in (0, 86400]"
        )),
    }
}

fn count(flag: &str, value: Option<String>) -> usize {
    let value = value.unwrap_or_else(|| fail(&format!("{flag} needs a number")));
    match value.parse::<usize>() {
        Ok(n) if (1..=65_536).contains(&n) => n,
        _ => fail(&format!("{flag}: `{value}` is not a number in 1..=65536")),
    }
}

fn temp_data_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("tpns-emulator-{}-{nanos}", std::process::id()))
}

fn main() {
    let mut config = EmulatorConfig::new(PathBuf::new());
    let mut data_dir = None;
    let mut cert = None;
    let mut key = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next());
        match flag.as_str() {
            "--listen" => config.https_listen = addr(&flag, value()),
            "--http-listen" => config.http_listen = Some(addr(&flag, value())),
            "--data-dir" => {
                data_dir = Some(PathBuf::from(
                    value().unwrap_or_else(|| fail("--data-dir needs a value")),
                ))
            }
            "--app" => {
                let v = value().unwrap_or_else(|| fail("--app needs ACCESS_ID:SECRET"));
                match v.split_once(':') {
                    Some((id, secret)) if !id.is_empty() => config = config.app(id, secret),
                    // Not echoed: the value may hold a secret.
                    _ => fail("--app: the value is not ACCESS_ID:SECRET (a non-empty id, a colon)"),
                }
            }
            "--discard" => config.discard = true,
            "--fault" => {
                config.fault = Some(value().unwrap_or_else(|| fail("--fault needs a SPEC")))
            }
            "--cert" => {
                cert = Some(PathBuf::from(
                    value().unwrap_or_else(|| fail("--cert needs a path")),
                ))
            }
            "--key" => {
                key = Some(PathBuf::from(
                    value().unwrap_or_else(|| fail("--key needs a path")),
                ))
            }
            "--pki" => {
                let v = value().unwrap_or_else(|| fail("--pki needs a MODE"));
                config.pki = v
                    .parse()
                    .unwrap_or_else(|e: String| fail(&format!("--pki: {e}")));
            }
            "--max-connections" => config.limits.max_connections = count(&flag, value()),
            "--head-timeout" => config.limits.head_timeout = seconds(&flag, value()),
            "--idle-timeout" => config.limits.idle_timeout = seconds(&flag, value()),
            "--body-timeout" => {
                let t = seconds(&flag, value());
                config.limits.upload_timeout = t;
                config.limits.push_timeout = config.limits.push_timeout.min(t);
            }
            "--max-clock-skew" => {
                let v = value().unwrap_or_else(|| fail("--max-clock-skew needs a number"));
                let secs = v.parse::<u64>().unwrap_or_else(|_| {
                    fail(&format!(
                        "--max-clock-skew: `{v}` is not a whole number of seconds"
                    ))
                });
                config.limits.max_clock_skew = Duration::from_secs(secs);
            }
            "-h" | "--help" => {
                // A closed pipe (`tpns-emulator --help | head`) is not an error worth a panic.
                use std::io::Write;
                let _ = writeln!(std::io::stdout(), "{USAGE}");
                return;
            }
            other => fail(&format!("unknown argument `{other}`")),
        }
    }
    match (cert, key) {
        (Some(c), Some(k)) => config.cert = Some((c, k)),
        (None, None) => {}
        _ => fail("--cert and --key go together"),
    }
    if config.cert.is_some() && config.pki != tpns_emulator::pki::PkiMode::Simple {
        fail("--pki makes a chain; --cert/--key serve one: give one or the other");
    }
    if config.apps.is_empty() {
        eprintln!(
            "tpns-emulator: no --app given; using the demo app {}:{}",
            DEMO_APP.0, DEMO_APP.1
        );
        config = config.app(DEMO_APP.0, DEMO_APP.1);
    }
    config.data_dir = data_dir.unwrap_or_else(temp_data_dir);
    let emulator = match Emulator::start(config.clone()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("tpns-emulator: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let line = serde_json::json!({
        "https": emulator.https_addr().to_string(),
        "http": emulator.http_addr().map(|a| a.to_string()),
        "ca": emulator.ca_path().display().to_string(),
    });
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(1);
    }
    drop(out);
    eprintln!(
        "tpns-emulator: serving https://{} (data in {}{})",
        emulator.https_addr(),
        config.data_dir.display(),
        if config.discard { ", discard mode" } else { "" }
    );
    // Serve until killed; park can wake spuriously, hence the loop.
    loop {
        std::thread::park();
    }
}
