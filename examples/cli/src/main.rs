//! `tpns`: check, upload and push TPNS account packages. See README.md for the interface, which
//! scripts depend on.

mod cert_check;
mod check;
#[cfg(feature = "demo")]
mod demo;
mod diag;
mod fail;
mod fix;
mod pack;
mod push;
mod settings;
mod term;
mod upload;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Args, CommandFactory, Parser, Subcommand, ValueEnum};

/// Check, upload and push Tencent Push (TPNS) account packages.
#[derive(Debug, Parser)]
#[command(name = "tpns", version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Print diagnostics on stderr: -v the address, proxy, TLS version and cipher, server
    /// certificate, status and times; -vv also the request and response heads (credentials
    /// redacted).
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// The help's epilogue, less the pointer to `tpns demo` (which a build without the `demo`
/// feature, such as the small one of bench/README.md, does not have).
macro_rules! after_help {
    () => {
        "\
Credentials: --access-id or TPNS_ACCESS_ID; the SecretKey only from TPNS_SECRET_KEY or
--secret-key-file PATH (never a flag: every user of the machine can read the command line).

Environment:
  TPNS_ACCESS_ID     the AccessID (--access-id wins)
  TPNS_SECRET_KEY    the SecretKey (--secret-key-file wins)
  TPNS_REGION        the region: gz, sh, hk or sgp (--region wins)
  TPNS_ENDPOINT      a base URL (--endpoint wins)
  HTTPS_PROXY, https_proxy, ALL_PROXY, all_proxy
                     the HTTP proxy for HTTPS endpoints, first set wins, as in curl
                     (http://[user:password@]host[:port], port 1080 by default; --proxy
                     wins, --no-proxy ignores them); http_proxy for plain-HTTP endpoints
  NO_PROXY, no_proxy hosts that bypass the proxy: comma-separated names (matching their
                     subdomains too), IP addresses or CIDR blocks, each with an optional
                     :port; * for all

Exit codes: 0 success, 2 usage or configuration error, 3 invalid package (nothing sent; a
row found broken while sending stops the upload before its end: nothing stored),
4 authentication rejected, 5 other API error, 6 network, TLS, timeout, deadline or protocol
error (an answer that cannot be trusted included; for cert-check: the chain is refused)."
    };
}

#[cfg(feature = "demo")]
const AFTER_HELP: &str = concat!(
    after_help!(),
    "

Try `tpns demo` first: it runs the whole job against a local emulator, no account needed."
);
#[cfg(not(feature = "demo"))]
const AFTER_HELP: &str = after_help!();

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a package locally, then upload it; print the uploadId on stdout.
    Upload(UploadArgs),
    /// Check packages against the service's rules; print `FILE: ok`, or each violation as
    /// `FILE:LINE: rule` (`FILE: rule` for the whole file) and a count by rule.
    #[command(after_help = CHECK_HELP)]
    Check {
        /// The package files (.txt, .csv or .zip).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        kind: KindArgs,
        /// List at most N violations per file (all are counted).
        #[arg(long, value_name = "N", default_value_t = 20)]
        max_errors: u64,
    },
    /// Write a clean copy of a .txt or .csv package and print what changed.
    #[command(after_help = FIX_HELP)]
    Fix {
        /// The package (.txt or .csv), read as a stream.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The clean package to write (.txt or .csv).
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: PathBuf,
        /// Replace the output if it exists (it may be FILE itself).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        fix: FixArgs,
    },
    /// Push a notification to an uploaded package; print the push_id on stdout.
    // Boxed: the push options make this variant far larger than the others.
    #[command(after_help = push::PUSH_HELP)]
    Push(Box<push::PushArgs>),
    /// Pack a .txt or .csv package into a compliant .zip (one deflated entry), streamed.
    Pack {
        /// The package (.txt or .csv); it is checked first.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The zip to write (default: FILE with .zip for its extension).
        #[arg(short = 'o', long = "output", value_name = "FILE.zip")]
        output: Option<PathBuf>,
        /// Replace the output if it exists.
        #[arg(long)]
        force: bool,
        /// Repair the text on the way into the zip, as `tpns fix` does.
        #[arg(long)]
        fix: bool,
        #[command(flatten)]
        rules: FixArgs,
    },
    /// Would a device accept this server? Check its certificate chain with tpns-pki.
    ///
    /// Runs the device's own no-heap verifier on the host, on a PEM chain or on the chain a live
    /// server presents (--from). Exit 0: accepted; 6: refused, the reason on stderr (and in the
    /// JSON); 2: usage error or unreadable file.
    CertCheck(CertCheckArgs),
    /// Run the whole job against an in-process emulator: no account, no network.
    #[cfg(feature = "demo")]
    Demo,
    /// Print shell completions for bash, zsh or fish on stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: `tpns man > tpns.1`, or a command's page:
    /// `tpns man upload > tpns-upload.1`.
    Man {
        /// The command whose page to print (default: the program's).
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

const CHECK_HELP: &str = "\
A file-level violation (file name, size, zip structure, empty file) has no line and ends the
check of that file. Exit 3 when any file is invalid, 2 when any cannot be read.";

const FIX_HELP: &str = "\
Repaired, each change counted and printed: a leading byte order mark dropped, CRLF line ends
made LF, blank lines dropped, quoted CSV fields (RFC 4180) replaced by their value, and with
--dedupe repeated rows removed (the first is kept).

Not repaired: rows that still break a rule (too short or too long, not a token with --kind
token, invalid UTF-8, a stray CR, a malformed quoted field, or a comma or quote left in a .csv
row once unquoted). They are listed as FILE:LINE: rule (up to --max-errors); with --drop-bad
they are left out, without it nothing is written and the exit code is 3.

The output is written through a temporary file in its folder, checked like an upload, then
renamed into place. Exit 0 when written.";

/// `--kind`: what the rows hold.
#[derive(Debug, Clone, Copy, Args)]
struct KindArgs {
    /// What the rows hold: accounts (2-100 characters each) or device tokens (exactly 36
    /// characters from A-Z, a-z, 0-9 and -).
    #[arg(long, value_enum, default_value_t = KindArg::Account)]
    kind: KindArg,
}

/// `--kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KindArg {
    /// Accounts: 2 to 100 characters per row.
    Account,
    /// Device tokens: 36 characters per row, A-Z, a-z, 0-9 and -.
    Token,
}

impl From<KindArg> for tpns_transport_std::RowKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Account => Self::Account,
            KindArg::Token => Self::Token,
        }
    }
}

/// The rules of `fix` and `pack --fix`.
#[derive(Debug, Clone, Copy, Args)]
struct FixArgs {
    #[command(flatten)]
    kind: KindArgs,
    /// Remove repeated rows, keeping the first. Costs memory: a set of 64-bit row hashes,
    /// 19-28 bytes per distinct row at its peak whatever the rows' length (55 MB for 2
    /// million rows).
    #[arg(long)]
    dedupe: bool,
    /// Leave out the rows that cannot be repaired, instead of writing nothing.
    #[arg(long)]
    drop_bad: bool,
    /// List at most N bad rows (all are counted).
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_errors: u64,
}

impl FixArgs {
    fn rules(&self) -> fix::Rules {
        fix::Rules {
            kind: self.kind.kind.into(),
            dedupe: self.dedupe,
            drop_bad: self.drop_bad,
            max_errors: self.max_errors,
        }
    }
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["chain", "from"])))]
struct CertCheckArgs {
    /// The trust anchors: a PEM file of one or more CA certificates (at most 4 MiB).
    #[arg(long, value_name = "ROOTS.pem")]
    roots: PathBuf,
    /// The certificates the server sends, leaf first: a PEM file (at most 4 MiB).
    #[arg(long, value_name = "CHAIN.pem")]
    chain: Option<PathBuf>,
    /// Fetch the chain from a live server through a TLS handshake instead (nothing else is
    /// sent); the port is 443 unless given.
    #[arg(long, value_name = "HOST[:PORT]", value_parser = cert_check::Target::parse)]
    from: Option<cert_check::Target>,
    /// The host name the device connects to (default: HOST of --from).
    #[arg(long, value_name = "NAME", required_unless_present = "from")]
    host: Option<String>,
    /// The validation time, RFC 3339 (e.g. 2026-05-01T00:00:00Z); default now.
    #[arg(long, value_name = "RFC3339", value_parser = cert_check::rfc3339::parse)]
    at: Option<u64>,
    /// With --from: connect timeout, and the longest the whole handshake may take, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    timeout: Duration,
    /// Print one JSON object on stdout: {"accepted", "reason", "chain": [{"subject", "key",
    /// "signature"}]}.
    #[arg(long)]
    json: bool,
}

/// Where to connect and how to authenticate.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// The service region.
    #[arg(long, value_enum, default_value_t = RegionArg::Gz, env = "TPNS_REGION")]
    pub region: RegionArg,
    /// A base URL such as https://127.0.0.1:8443/; wins over --region.
    #[arg(long, value_name = "URL", env = "TPNS_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Connect through this HTTP proxy, http://USER:PASSWORD@HOST:PORT (credentials and port
    /// optional), in a CONNECT tunnel with TLS to the service inside; wins over HTTPS_PROXY and
    /// ALL_PROXY. NO_PROXY still applies.
    // No `env = "HTTPS_PROXY"` here: clap would show the variable's value, password and all,
    // in --help. The client reads the proxy variables itself (curl's order, per scheme).
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy", value_parser = settings::proxy_url)]
    pub proxy: Option<settings::ProxyUrl>,
    /// Use no proxy, whatever the environment says.
    #[arg(long)]
    pub no_proxy: bool,
    /// The app's AccessID.
    #[arg(long, value_name = "ID", env = "TPNS_ACCESS_ID")]
    pub access_id: Option<String>,
    /// Read the SecretKey from this file (instead of TPNS_SECRET_KEY): a regular file of at most
    /// 1 KiB, in UTF-8; a leading BOM and surrounding whitespace are removed.
    #[arg(long, value_name = "PATH")]
    pub secret_key_file: Option<PathBuf>,
    /// Also trust the CA certificates in this PEM file (a regular file of at most 4 MiB).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Connect timeout, and the longest time without progress, in seconds.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    pub timeout: Duration,
    /// The longest the whole command may talk to the service, all attempts and retry pauses
    /// included, in seconds; a server that keeps sending a byte now and then is cut off here.
    ///
    /// [default: 60, or twice --timeout if longer, plus 4 per MiB of package]
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub deadline: Option<Duration>,
    /// Retries of transient failures (connect errors, timeouts, resets, 502/503/504, rate
    /// limit).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
    /// Print one JSON object on stdout instead of the bare id.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
struct UploadArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    #[command(flatten)]
    kind: KindArgs,
    /// Send the file under this name (1-100 characters, ending in .txt, .csv or .zip; .zip
    /// exactly when FILE is a .zip). Its extension decides how the rows are read. A `"` is sent
    /// as %22 and counts as 3 characters; a name above 100 bytes in UTF-8 gets a warning.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Check every row before sending anything (reads the file twice). By default a package
    /// above 1 MiB is checked while it is sent, in one pass (a zip's structure first): a broken
    /// row or damaged zip data stops the upload before its end, and the service stores
    /// nothing. Smaller files are always checked first.
    #[arg(long)]
    check_first: bool,
    /// The package (.txt, .csv or .zip).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// `--region` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RegionArg {
    /// Guangzhou.
    Gz,
    /// Shanghai.
    Sh,
    /// Hong Kong.
    Hk,
    /// Singapore.
    Sgp,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{}` is not a number of seconds", term::sanitize(s)))?;
    if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "`{}`: the number of seconds must be above 0 and at most 86400",
            term::sanitize(s)
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `tpns man [COMMAND]`: the roff page of the program or of one of its commands, generated
/// from the same definitions as `--help`.
fn man(command: Option<&str>, out: &mut dyn Write) -> Result<u8, fail::Failure> {
    let cli = Cli::command();
    let page = match command {
        None => cli,
        Some(name) => {
            let sub = cli
                .find_subcommand(name)
                .filter(|c| c.get_name() != "help")
                .ok_or_else(|| {
                    fail::Failure::usage(format!("no command `{}`", term::sanitize(name)))
                })?;
            // Named as the program's page lists it in SUBCOMMANDS: tpns-upload(1).
            // The environment and exit codes apply to every command: they go on each page.
            sub.clone()
                .name(format!("tpns-{}", sub.get_name()))
                .version(env!("CARGO_PKG_VERSION"))
                .after_help(AFTER_HELP)
        }
    };
    clap_mangen::Man::new(page)
        .render(out)
        .map(|()| fail::OK)
        .map_err(|e| fail::Failure::usage(format!("cannot write to stdout: {e}")))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    diag::set_level(cli.verbose);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Upload(a) => settings::Settings::from_args(&a.conn).and_then(|s| {
            let opts = upload::Options {
                json: a.conn.json,
                progress: !a.no_progress,
                kind: a.kind.kind.into(),
                name: a.name.clone(),
                check_first: a.check_first,
            };
            upload::run(&s, &a.file, &opts, &mut out).map(|_| fail::OK)
        }),
        Command::Check {
            files,
            kind,
            max_errors,
        } => Ok(check::run(&files, kind.kind.into(), max_errors, &mut out)),
        Command::Fix {
            file,
            output,
            force,
            fix,
        } => fix::run(
            &fix::Options {
                input: file,
                output,
                force,
                rules: fix.rules(),
            },
            &mut out,
        ),
        Command::Push(a) => push::main(*a, &mut out).map(|_| fail::OK),
        Command::Pack {
            file,
            output,
            force,
            fix,
            rules,
        } => {
            if !fix && (rules.dedupe || rules.drop_bad) {
                Err(fail::Failure::usage(
                    "--dedupe and --drop-bad need --fix".to_owned(),
                ))
            } else {
                pack::run(
                    &pack::Options {
                        input: file,
                        output,
                        force,
                        kind: rules.kind.kind.into(),
                        fix: fix.then(|| rules.rules()),
                    },
                    &mut out,
                )
            }
        }
        Command::CertCheck(a) => match (a.chain, a.from) {
            (Some(path), None) => Ok(cert_check::Source::File(path)),
            (None, Some(target)) => Ok(cert_check::Source::Server(target)),
            _ => Err(fail::Failure::usage("give one of --chain and --from")),
        }
        .and_then(|source| {
            let opts = cert_check::Options {
                roots: a.roots,
                source,
                host: a.host,
                at: a.at,
                timeout: a.timeout,
                json: a.json,
            };
            cert_check::run(&opts, &mut out)
        }),
        #[cfg(feature = "demo")]
        Command::Demo => demo::run(&mut out).map(|()| fail::OK),
        Command::Completions { shell } => {
            // Into memory first: clap_complete panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tpns", &mut script);
            out.write_all(&script)
                .map(|()| fail::OK)
                .map_err(|e| fail::Failure::usage(format!("cannot write to stdout: {e}")))
        }
        Command::Man { command } => man(command.as_deref(), &mut out),
    };
    let _ = out.flush();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("tpns: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
