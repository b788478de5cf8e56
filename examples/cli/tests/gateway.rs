//! The `tpns` binary in a gateway's network, over real sockets on loopback: through a real
//! `CONNECT` proxy (with and without auth, `NO_PROXY`, refusals and retries), `-v`/`-vv`
//! diagnostics, IPv6 and `localhost`, environment defaults, completions and the man page.
//! Environment variables are set on the child process only.

mod common;

use std::time::Duration;

use common::{GENEROUS, Run, run, tpns_command};
use tpns_emulator::EmulatorConfig;
use tpns_emulator::proxy::{ConnectProxy, ProxyConfig};
use tpns_test_support::{Emu, SECRET, sha256_hex};

/// base64("1500001048:1452fcebae9f3115ba794fb0fff2fd73"): the Basic credentials.
const SECRET_B64: &str = "MTUwMDAwMTA0ODoxNDUyZmNlYmFlOWYzMTE1YmE3OTRmYjBmZmYyZmQ3Mw==";
const PROXY_USER: &str = "gw user";
const PROXY_PASS: &str = "p@ss:w0rd%";
/// The proxy URL's userinfo for them, percent-encoded.
const PROXY_USERINFO: &str = "gw%20user:p%40ss%3Aw0rd%25";
/// base64("gw user:p@ss:w0rd%").
const PROXY_B64: &str = "Z3cgdXNlcjpwQHNzOncwcmQl";
/// A proxy that refuses connections: asking it fails the command.
const DEAD_PROXY: &str = "http://127.0.0.1:1";
/// How long a test waits for the proxy's record of a tunnel its client has closed.
const RECORD_WAIT: Duration = Duration::from_secs(10);

/// Runs `tpns` with `args` and `env` (on the child only; every proxy variable not named is
/// removed), and checks that no secret or proxy credential appears in any output.
fn tpns(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tpns_command();
    cmd.args(args);
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
        "TPNS_REGION",
        "TPNS_ENDPOINT",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let run = run(&mut cmd, GENEROUS);
    run.assert_hides(
        &[
            SECRET,
            SECRET_B64,
            PROXY_PASS,
            PROXY_USERINFO,
            PROXY_B64,
            "p%40ss",
        ],
        &args,
    );
    run
}

/// The emulator in a temporary folder, which also holds the test's package.
struct Env {
    emu: Emu,
}

impl Env {
    fn new(tag: &str) -> Env {
        Env::with(tag, |c| c).expect("start the emulator")
    }

    fn with(
        tag: &str,
        config: impl FnOnce(EmulatorConfig) -> EmulatorConfig,
    ) -> std::io::Result<Env> {
        let emu = Emu::try_start_with(&format!("gateway-{tag}"), |c, _| config(c))?;
        Ok(Env { emu })
    }

    fn ca(&self) -> &str {
        self.emu.ca()
    }

    /// A package of at most `len` bytes of accounts, written to the folder; its path and bytes.
    fn package(&self, len: usize) -> (String, Vec<u8>) {
        let mut pkg = Vec::with_capacity(len + 32);
        let mut i = 0u64;
        // Whole rows only, up to about `len` bytes.
        while pkg.len() + 17 <= len.max(17) {
            pkg.extend_from_slice(format!("account-{i:08}\n").as_bytes());
            i += 1;
        }
        pkg.pop();
        (self.emu.dir().write("accounts.txt", &pkg), pkg)
    }

    /// `tpns upload` to `endpoint`, trusting the emulator's CA, plus `extra`.
    fn upload(&self, endpoint: &str, file: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut args = vec!["upload", "--endpoint", endpoint, "--ca-file", self.ca()];
        args.extend_from_slice(extra);
        args.push(file);
        tpns(&args, env)
    }

    /// `tpns push` to `upload_id` at `endpoint`, plus `extra`.
    fn push(&self, endpoint: &str, upload_id: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let mut args = vec![
            "push",
            "--endpoint",
            endpoint,
            "--ca-file",
            self.ca(),
            "--upload-id",
            upload_id,
            "--title",
            "Maintenance",
            "--content",
            "Tonight at two.",
        ];
        args.extend_from_slice(extra);
        tpns(&args, env)
    }

    /// Checks that the emulator stored `pkg` whole as the upload `run` printed.
    /// [`Env::upload`] to the emulator's HTTPS endpoint.
    fn upload_https(&self, file: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
        self.upload(&self.emu.https_url(), file, extra, env)
    }

    /// [`Env::push`] to the emulator's HTTPS endpoint.
    fn push_https(&self, upload_id: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
        self.push(&self.emu.https_url(), upload_id, extra, env)
    }

    fn stored(&self, run: &Run, pkg: &[u8]) -> String {
        assert_eq!(run.code, 0, "{run:?}");
        let id = run.stdout.trim().to_owned();
        let records = self.emu.uploads();
        let record = records
            .iter()
            .find(|r| r.upload_id.to_string() == id)
            .unwrap_or_else(|| panic!("upload {id} not stored: {run:?}"));
        assert_eq!(record.sha256, sha256_hex(pkg));
        id
    }
}

fn proxy_with(config: ProxyConfig) -> ConnectProxy {
    ConnectProxy::start(config).expect("start the proxy")
}

/// An emulator and a proxy with `config`, and a package of about `len` bytes written for the
/// test: the environment, the proxy, the package's path and its bytes.
fn with_proxy(tag: &str, config: ProxyConfig, len: usize) -> (Env, ConnectProxy, String, Vec<u8>) {
    let env = Env::new(tag);
    let (file, pkg) = env.package(len);
    (env, proxy_with(config), file, pkg)
}

/// Asserts that `run`'s stderr holds `item`.
fn assert_stderr_has(run: &Run, item: &str) {
    assert!(run.stderr.contains(item), "no `{item}` in:\n{}", run.stderr);
}

/// Asserts that `run` succeeded and its stderr holds every one of `items`.
fn assert_succeeded_saying(run: &Run, items: &[&str]) {
    assert_eq!(run.code, 0, "{run:?}");
    for item in items {
        assert_stderr_has(run, item);
    }
}

/// The first `n` connections `proxy` records (waiting for them), checking there are no more.
fn connections(proxy: &ConnectProxy, n: usize) -> Vec<tpns_emulator::proxy::Connect> {
    let seen = proxy.wait_for(n, RECORD_WAIT);
    assert_eq!(seen.len(), n, "{seen:?}");
    seen
}

fn with_auth() -> ProxyConfig {
    ProxyConfig {
        credentials: Some((PROXY_USER.into(), PROXY_PASS.into())),
        ..ProxyConfig::default()
    }
}

#[test]
fn upload_and_push_through_a_connect_proxy_from_https_proxy() {
    let (env, proxy, file, pkg) = with_proxy("proxy", ProxyConfig::default(), 2_000_000);
    let via = [("HTTPS_PROXY", proxy.url(None))];
    let via: Vec<(&str, &str)> = via.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = env.upload_https(&file, &[], &via);
    let id = env.stored(&run, &pkg);
    let seen = connections(&proxy, 1);
    let target = env.emu.https_addr().to_string();
    assert_eq!(seen[0].line, format!("CONNECT {target} HTTP/1.1"));
    assert_eq!(seen[0].host.as_deref(), Some(target.as_str()));
    assert_eq!(seen[0].authorization, None);
    assert_eq!(seen[0].status, 200);
    // The package and its TLS framing went through; the request itself was never in clear.
    assert!(seen[0].bytes_up > pkg.len() as u64, "{seen:?}");
    assert!(seen[0].bytes_down > 0, "{seen:?}");
    assert!(!seen[0].saw_plaintext_request, "{seen:?}");

    // The lowercase variable and ALL_PROXY work too, and so does a push.
    for var in ["https_proxy", "ALL_PROXY"] {
        let run = env.push_https(&id, &[], &[(var, &proxy.url(None))]);
        assert_eq!(run.code, 0, "{var}: {run:?}");
    }
    assert_eq!(env.emu.pushes().len(), 2);
    // (A push may be retried once here: the emulator allows one push a second.)
    let seen = proxy.wait_for(3, RECORD_WAIT);
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(
        seen.iter()
            .all(|c| c.status == 200 && !c.saw_plaintext_request)
    );
}

#[test]
fn proxy_basic_auth_comes_from_the_url_percent_decoded() {
    let (env, proxy, file, pkg) = with_proxy("proxy-auth", with_auth(), 300_000);
    let url = format!("http://{PROXY_USERINFO}@{}", proxy.addr());
    let run = env.upload_https(&file, &["--proxy", &url], &[]);
    let id = env.stored(&run, &pkg);
    let run = env.push_https(
        &id,
        &[],
        &[
            ("HTTPS_PROXY", &url),
            ("NO_PROXY", "example.com,10.0.0.0/8"),
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let seen = connections(&proxy, 2);
    for c in &seen {
        assert_eq!(
            c.authorization.as_deref(),
            Some(&*format!("Basic {PROXY_B64}"))
        );
        assert_eq!(c.status, 200);
        assert!(!c.saw_plaintext_request);
    }
}

#[test]
fn a_wrong_proxy_password_is_a_clear_network_error_and_not_retried() {
    let (env, proxy, file, _) = with_proxy("proxy-407", with_auth(), 10_000);
    let url = format!("http://gw%20user:wrong%40pass@{}", proxy.addr());
    let run = env.upload_https(&file, &[], &[("HTTPS_PROXY", &url)]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("proxy"), "{run:?}");
    assert!(run.stderr.contains("407"), "{run:?}");
    assert!(run.stderr.contains("hint: the proxy wants"), "{run:?}");
    assert!(!run.stderr.contains("wrong"), "{run:?}");
    assert!(!run.stderr.contains("retrying"), "{run:?}");
    assert!(env.emu.uploads().is_empty());
    let seen = connections(&proxy, 1);
    assert_eq!(seen[0].status, 407);
    // No credentials at all: the same.
    let run = env.upload_https(&file, &["--proxy", &proxy.url(None)], &[]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("407"), "{run:?}");
}

#[test]
fn a_proxy_answering_502_is_retried_for_uploads_and_pushes() {
    let env = Env::new("proxy-502");
    let proxy = proxy_with(ProxyConfig {
        refusals: vec![502, 503],
        ..ProxyConfig::default()
    });
    let (file, pkg) = env.package(100_000);
    let via = proxy.url(None);
    let run = env.upload_https(&file, &[], &[("HTTPS_PROXY", &via)]);
    let id = env.stored(&run, &pkg);
    assert!(
        run.stderr
            .contains("attempt 1 failed: proxy CONNECT: the proxy http://127.0.0.1:")
            && run.stderr.contains("HTTP 502 Bad Gateway")
            && run.stderr.contains("attempt 2 failed: proxy CONNECT")
            && run.stderr.contains("HTTP 503 Service Unavailable"),
        "{run:?}"
    );
    // Nothing reached the service: a push is retried too.
    let push_proxy = proxy_with(ProxyConfig {
        refusals: vec![504],
        ..ProxyConfig::default()
    });
    let run = env.push_https(&id, &[], &[("HTTPS_PROXY", &push_proxy.url(None))]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("attempt 1 failed: proxy CONNECT") && run.stderr.contains("504"),
        "{run:?}"
    );
    assert_eq!(env.emu.pushes().len(), 1);
    assert_eq!(push_proxy.wait_for(2, RECORD_WAIT).len(), 2);
    let statuses: Vec<u16> = proxy
        .wait_for(3, RECORD_WAIT)
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [502, 503, 200]);
}

#[test]
fn no_proxy_and_the_flags_decide_which_proxy_is_asked() {
    let env = Env::new("no-proxy");
    let (file, pkg) = env.package(50_000);
    let https = env.emu.https_url();
    let port = env.emu.https_addr().port().to_string();
    // A dead proxy in the environment fails the upload: the variable is read.
    let run = env.upload(
        &https,
        &file,
        &["--retries", "0"],
        &[("HTTPS_PROXY", DEAD_PROXY)],
    );
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("the proxy 127.0.0.1:1"), "{run:?}");
    assert!(
        run.stderr.contains("hint: the proxy cannot be reached"),
        "{run:?}"
    );
    // NO_PROXY entries that match 127.0.0.1 bypass it.
    for list in [
        "127.0.0.1",
        "example.com, 127.0.0.1",
        "*",
        "127.0.0.0/8",
        &format!("127.0.0.1:{port}"),
    ] {
        for var in ["NO_PROXY", "no_proxy"] {
            let run = env.upload(
                &https,
                &file,
                &[],
                &[("HTTPS_PROXY", DEAD_PROXY), (var, list)],
            );
            env.stored(&run, &pkg);
        }
    }
    // Entries that do not match leave the proxy in use.
    for list in ["127.0.0.2", "localhost", "127.0.0.1:1"] {
        let run = env.upload(
            &https,
            &file,
            &["--retries", "0"],
            &[("HTTPS_PROXY", DEAD_PROXY), ("NO_PROXY", list)],
        );
        assert_eq!(run.code, 6, "{list}: {run:?}");
    }
    // --no-proxy ignores the environment; --proxy wins over it.
    let run = env.upload(&https, &file, &["--no-proxy"], &[("ALL_PROXY", DEAD_PROXY)]);
    env.stored(&run, &pkg);
    let live = proxy_with(ProxyConfig::default());
    let run = env.upload(
        &https,
        &file,
        &["--proxy", &live.url(None)],
        &[("HTTPS_PROXY", DEAD_PROXY)],
    );
    env.stored(&run, &pkg);
    assert_eq!(live.wait_for(1, RECORD_WAIT).len(), 1);
    // Plain HTTP endpoints read http_proxy, not HTTPS_PROXY.
    let http_env = Env::with("no-proxy-http", |c| c.http("127.0.0.1:0".parse().unwrap())).unwrap();
    let (file, pkg) = http_env.package(1000);
    let http = http_env.emu.http_url().unwrap();
    let run = tpns(
        &["upload", "--endpoint", &http, &file],
        &[("HTTPS_PROXY", DEAD_PROXY)],
    );
    http_env.stored(&run, &pkg);
    let run = tpns(
        &["upload", "--retries", "0", "--endpoint", &http, &file],
        &[("http_proxy", DEAD_PROXY)],
    );
    assert_eq!(run.code, 6, "{run:?}");
}

#[test]
fn unsupported_or_broken_proxy_urls_are_usage_errors() {
    let env = Env::new("proxy-usage");
    let (file, _) = env.package(1000);
    for (url, says) in [
        (
            "socks5://user:p%40ss@127.0.0.1:1080",
            "only http:// proxies",
        ),
        ("https://127.0.0.1:3128", "only http:// proxies"),
        ("http://127.0.0.1:99999", "port"),
        ("http://u:%zz@127.0.0.1:3128", "%-escape"),
    ] {
        for how in ["flag", "env"] {
            let run = if how == "flag" {
                env.upload_https(&file, &["--proxy", url], &[])
            } else {
                env.upload_https(&file, &[], &[("HTTPS_PROXY", url)])
            };
            assert_eq!(run.code, 2, "{url} ({how}): {run:?}");
            assert!(run.stderr.contains(says), "{url} ({how}): {run:?}");
        }
    }
    assert!(env.emu.uploads().is_empty());
    // --proxy and --no-proxy together make no sense.
    let run = env.upload_https(&file, &["--proxy", DEAD_PROXY, "--no-proxy"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn verbose_output_tells_where_an_exchange_went_and_hides_every_secret() {
    let (env, proxy, file, pkg) = with_proxy("verbose", with_auth(), 20_000);
    let url = format!("http://{PROXY_USERINFO}@{}", proxy.addr());
    let run = env.upload_https(&file, &["-v"], &[("HTTPS_PROXY", &url)]);
    let id = env.stored(&run, &pkg);
    let p = proxy.addr().to_string();
    for item in [
        format!("tpns: * resolved 127.0.0.1: {p}"),
        format!("connected to {p} in "),
        format!("the proxy http://{p} (with credentials)"),
        "proxy answered CONNECT: HTTP/1.1 200".to_owned(),
        // AES-128-GCM is offered first, and the emulator (rustls) honours the client's order.
        "TLS TLSv1_3, cipher TLS13_AES_128_GCM_SHA256".to_owned(),
        "server certificate: subject CN=localhost; issuer CN=tpns-emulator test CA".to_owned(),
        "status: HTTP/1.1 200".to_owned(),
        "times: connect ".to_owned(),
        ", TLS ".to_owned(),
        ", send ".to_owned(),
        ", answer ".to_owned(),
    ] {
        assert_stderr_has(&run, &item);
    }
    // -v shows no heads, so no Authorization header at all.
    assert!(!run.stderr.contains("Authorization"), "{}", run.stderr);

    // -vv: the heads, credentials redacted; for a push too, without a proxy.
    let run = env.upload_https(&file, &["-vv"], &[("HTTPS_PROXY", &url)]);
    assert_succeeded_saying(
        &run,
        &[
            "tpns: > CONNECT 127.0.0.1:",
            "tpns: > Proxy-Authorization: Basic <redacted>",
            "tpns: < HTTP/1.1 200 Connection established",
            "tpns: > POST /v3/push/package/upload HTTP/1.1",
            "tpns: > Authorization: Basic <redacted>",
            "tpns: < HTTP/1.1 200 OK",
        ],
    );
    let run = env.push_https(&id, &["-vv"], &[]);
    let push_says = [
        "(no proxy)",
        "tpns: > POST /v3/push/app HTTP/1.1",
        "tpns: > Authorization: Basic <redacted>",
        "status: HTTP/1.1 200",
    ];
    assert_succeeded_saying(&run, &push_says);
    // A failure says where it happened: the proxy's refusal, before any TLS.
    let run = env.upload_https(&file, &["-v", "--proxy", &proxy.url(None)], &[]);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(
        run.stderr.contains("proxy answered CONNECT: HTTP/1.1 407")
            && !run.stderr.contains("TLS TLS"),
        "{}",
        run.stderr
    );
}

#[test]
fn uploads_reach_ipv6_and_localhost() {
    let env = Env::new("localhost");
    let (file, pkg) = env.package(100_000);
    let port = env.emu.https_addr().port();
    let run = env.upload(&format!("https://localhost:{port}/"), &file, &[], &[]);
    env.stored(&run, &pkg);

    let v6 = match Env::with("ipv6", |c| c.https("[::1]:0".parse().unwrap())) {
        Ok(env) => env,
        Err(e) => {
            println!("skipped: this machine has no IPv6 loopback ([::1]: {e})");
            return;
        }
    };
    let (file, pkg) = v6.package(100_000);
    let url = v6.emu.https_url();
    assert!(url.starts_with("https://[::1]:"), "{url}");
    let run = v6.upload(&url, &file, &["-v"], &[]);
    let id = v6.stored(&run, &pkg);
    assert!(
        run.stderr.contains("resolved ::1: [::1]:"),
        "{}",
        run.stderr
    );
    let run = v6.push(&url, &id, &[], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    // Through the proxy, the CONNECT target is the bracketed literal.
    let proxy = proxy_with(ProxyConfig::default());
    let run = v6.upload(&url, &file, &["--proxy", &proxy.url(None)], &[]);
    v6.stored(&run, &pkg);
    let seen = connections(&proxy, 1);
    assert_eq!(
        seen[0].line,
        format!("CONNECT {} HTTP/1.1", v6.emu.https_addr())
    );
    // NO_PROXY with a bracketed IPv6 address bypasses it.
    let run = v6.upload(
        &url,
        &file,
        &[],
        &[("HTTPS_PROXY", DEAD_PROXY), ("NO_PROXY", "[::1]")],
    );
    v6.stored(&run, &pkg);
}

#[test]
fn tpns_endpoint_and_tpns_region_fill_the_flags_which_win() {
    let env = Env::new("env-defaults");
    let (file, pkg) = env.package(1000);
    let https = env.emu.https_url();
    let run = tpns(
        &["upload", "--ca-file", env.ca(), &file],
        &[("TPNS_ENDPOINT", &https)],
    );
    env.stored(&run, &pkg);
    let run = tpns(
        &["upload", "--ca-file", env.ca(), "--endpoint", &https, &file],
        &[
            ("TPNS_ENDPOINT", "https://127.0.0.1:1/"),
            ("TPNS_REGION", "sgp"),
        ],
    );
    env.stored(&run, &pkg);
    let run = tpns(&["upload", &file], &[("TPNS_REGION", "mars")]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("mars"), "{run:?}");
    let run = tpns(
        &["upload", "--ca-file", env.ca(), &file],
        &[("TPNS_ENDPOINT", "ftp://x/")],
    );
    assert_eq!(run.code, 2, "{run:?}");
    let help = tpns(&["--help"], &[]);
    assert_eq!(help.code, 0);
    for var in [
        "TPNS_ACCESS_ID",
        "TPNS_SECRET_KEY",
        "TPNS_REGION",
        "TPNS_ENDPOINT",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ] {
        assert!(help.stdout.contains(var), "--help does not mention {var}");
    }
}

/// The subcommands `tpns --help` lists.
fn subcommands() -> Vec<String> {
    let help = tpns(&["--help"], &[]).stdout;
    let list = help
        .split("Commands:")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .expect("a Commands section");
    list.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn completions_and_the_man_page_cover_every_subcommand() {
    let commands = subcommands();
    assert!(commands.len() >= 6, "{commands:?}");
    for shell in ["bash", "zsh", "fish"] {
        let run = tpns(&["completions", shell], &[]);
        assert_eq!(run.code, 0, "{shell}: {run:?}");
        for c in &commands {
            assert!(
                run.stdout.contains(c.as_str()),
                "{shell} completions lack {c}"
            );
        }
    }
    let run = tpns(&["completions", "tcsh"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    let man = tpns(&["man"], &[]);
    assert_eq!(man.code, 0, "{man:?}");
    assert!(man.stdout.contains(".TH tpns"), "{}", man.stdout);
    assert!(man.stdout.contains(".SH SUBCOMMANDS"), "{}", man.stdout);
    for c in &commands {
        let entry = format!("tpns\\-{}(1)", c.replace('-', "\\-"));
        assert!(man.stdout.contains(&entry), "the man page lacks {entry}");
    }
    assert!(
        man.stdout.contains("HTTPS_PROXY"),
        "the man page lacks the environment"
    );
    // Each command's own page, for the names the program's page lists.
    for c in &commands {
        let page = tpns(&["man", c], &[]);
        assert_eq!(page.code, 0, "{page:?}");
        let title = format!(".TH tpns-{c} 1");
        assert!(page.stdout.contains(&title), "{c}: {}", page.stdout);
    }
    let upload = tpns(&["man", "upload"], &[]).stdout;
    for item in ["\\-\\-proxy", "\\-\\-no\\-proxy", "TPNS_ENDPOINT"] {
        assert!(upload.contains(item), "the upload page lacks {item}");
    }
    let run = tpns(&["man", "nope"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
}
