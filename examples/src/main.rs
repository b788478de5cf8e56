//! `tpns`: check, upload and push TPNS account packages. See README.md for the interface, which
//! scripts depend on.

mod check;
#[cfg(feature = "demo")]
mod demo;
mod diag;
mod fail;
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

const AFTER_HELP: &str = "\
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

Exit codes: 0 success, 2 usage or configuration error, 3 invalid package (nothing sent),
4 authentication rejected, 5 other API error, 6 network, TLS, timeout, deadline or protocol
error (an answer that cannot be trusted included).

Try `tpns demo` first: it runs the whole job against a local emulator, no account needed.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a package locally, then upload it; print the uploadId on stdout.
    Upload(UploadArgs),
    /// Check packages against the service's rules; print `FILE: ok` or `FILE:LINE: rule`.
    Check {
        /// The package files (.txt, .csv or .zip).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Push a notification to an uploaded package; print the push_id on stdout.
    Push(PushArgs),
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
    },
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
    /// The package (.txt, .csv or .zip).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(Debug, Clone, Args)]
struct PushArgs {
    /// The package's uploadId, as printed by `tpns upload`.
    #[arg(long, value_name = "N")]
    upload_id: u64,
    /// The notification's title.
    #[arg(long, value_name = "TEXT")]
    title: String,
    /// The notification's content.
    #[arg(long, value_name = "TEXT")]
    content: String,
    /// A notification or a pass-through message.
    #[arg(long, value_enum, default_value_t = push::MessageTypeArg::Notify)]
    message_type: push::MessageTypeArg,
    /// What the package holds: accounts or device tokens.
    #[arg(long, value_enum, default_value_t = push::AudienceArg::Account)]
    audience: push::AudienceArg,
    /// The iOS environment.
    #[arg(long, value_enum)]
    environment: Option<push::EnvironmentArg>,
    #[command(flatten)]
    conn: ConnArgs,
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
            };
            upload::run(&s, &a.file, &opts, &mut out).map(|_| fail::OK)
        }),
        Command::Check { files } => Ok(check::run(&files, &mut out)),
        Command::Push(a) => settings::Settings::from_args(&a.conn).and_then(|s| {
            let req = push::Options {
                upload_id: a.upload_id,
                title: a.title,
                content: a.content,
                message_type: a.message_type,
                audience: a.audience,
                environment: a.environment,
                json: a.conn.json,
            };
            push::run(&s, &req, &mut out).map(|_| fail::OK)
        }),
        Command::Pack {
            file,
            output,
            force,
        } => pack::run(
            &pack::Options {
                input: file,
                output,
                force,
            },
            &mut out,
        ),
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
