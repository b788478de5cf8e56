//! `tpns push`: push a notification to an uploaded package, with every field of the push
//! API that the core writes: the push options, the message's `accept_time`, its platform parts
//! (`android`, `ios`: JSON objects from files) and `custom_content`.
//!
//! Everything is checked before anything is sent: the ranges the API documents, the JSON of
//! the parts (one object each, by the core's validator), an empty notification title, and the
//! 4096-byte limit on the `message` value as it would be sent. A failed check is a usage error
//! (exit 2).

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use tpns_transport_std::tpns_core::push::{AcceptTime, MAX_MESSAGE_LEN};
use tpns_transport_std::tpns_core::raw_json::RawJson;
use tpns_transport_std::{
    Audience, Environment, Event, MessageType, PushRequest, Pushed, read_limited,
};

use crate::ConnArgs;
use crate::fail::Failure;
use crate::settings::Settings;
use crate::term;

/// A full push, for `tpns push --help`.
pub const PUSH_HELP: &str = "\
A full push, with platform parts:

  echo '{\"n_id\":0,\"ring\":1,\"action\":{\"action_type\":1}}' > android.json
  echo '{\"aps\":{\"alert\":{\"subtitle\":\"Tonight\"},\"badge_type\":-1}}' > ios.json
  tpns push --upload-id 42 --title 'Maintenance' --content 'Down 22:00-23:00' \\
      --android-json android.json --ios-json ios.json \\
      --custom-content '{\"page\":\"status\"}' --accept-time 08:00-22:00 \\
      --expire-time 3600 --send-time '2026-12-01 08:00:00' --push-speed 1000 \\
      --collapse-id 7 --seq 1 --environment product --auth sign

The `message` value (title, content, accept_time, android, ios) may take at most 4096 bytes
as sent; a longer one is refused before anything is sent (exit 2).";

/// `tpns push` arguments.
#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// The package's uploadId, as printed by `tpns upload`.
    #[arg(long, value_name = "N")]
    pub upload_id: u64,
    /// The notification's title (required for a notification, not empty).
    #[arg(long, value_name = "TEXT")]
    pub title: String,
    /// The notification's content.
    #[arg(long, value_name = "TEXT")]
    pub content: String,
    /// A notification or a pass-through message.
    #[arg(long, value_enum, default_value_t = MessageTypeArg::Notify)]
    pub message_type: MessageTypeArg,
    /// What the package holds: accounts or device tokens.
    #[arg(long, value_enum, default_value_t = AudienceArg::Account)]
    pub audience: AudienceArg,
    /// The iOS environment.
    #[arg(long, value_enum)]
    pub environment: Option<EnvironmentArg>,
    /// How the push authenticates: HTTP Basic, or the TPNS signature headers (AccessId,
    /// TimeStamp, Sign: HMAC-SHA256 of the body, signed with this machine's clock, which the
    /// service checks).
    #[arg(long, value_enum, default_value_t = AuthArg::Basic)]
    pub auth: AuthArg,
    /// `account_type`: the account type of the package's accounts.
    #[arg(long, value_name = "N")]
    pub account_type: Option<u32>,
    /// `account_push_type`: 0 the device that last logged in, 1 every device of the account.
    #[arg(long, value_name = "N")]
    pub account_push_type: Option<u8>,
    /// `expire_time`: how long the message is kept for offline devices, in seconds (at most
    /// 259200, 72 hours).
    #[arg(long, value_name = "SECS")]
    pub expire_time: Option<u32>,
    /// `send_time`: when to send, "YYYY-MM-DD HH:MM:SS" (the service's time zone).
    #[arg(long, value_name = "TIME")]
    pub send_time: Option<String>,
    /// `push_speed`: messages per second, 1000 to 50000.
    #[arg(long, value_name = "N")]
    pub push_speed: Option<u32>,
    /// `collapse_id`: a later push with the same id replaces this one.
    #[arg(long, value_name = "N")]
    pub collapse_id: Option<u64>,
    /// `seq`: echoed back in the answer (and in --json).
    #[arg(long, value_name = "N")]
    pub seq: Option<u64>,
    /// A window of the day in which devices show the message, sent in `message.accept_time`
    /// (repeatable).
    #[arg(long, value_name = "HH:MM-HH:MM", value_parser = parse_accept_time)]
    pub accept_time: Vec<AcceptTime>,
    /// A JSON object sent as `message.android` (one object, checked; at most 4096 bytes).
    #[arg(long, value_name = "FILE")]
    pub android_json: Option<PathBuf>,
    /// A JSON object sent as `message.ios` (one object, checked; at most 4096 bytes).
    #[arg(long, value_name = "FILE")]
    pub ios_json: Option<PathBuf>,
    /// A JSON object of key-value pairs for the app, sent as a string in
    /// `message.android.custom_content` and `message.ios.custom_content`.
    #[arg(long, value_name = "JSON")]
    pub custom_content: Option<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `--auth` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// HTTP Basic: `Authorization: Basic base64(AccessID:SecretKey)`.
    Basic,
    /// The TPNS signature headers `AccessId`, `TimeStamp`, `Sign`.
    Sign,
}

fn parse_accept_time(s: &str) -> Result<AcceptTime, String> {
    AcceptTime::parse(s).map_err(|e| format!("`{}`: {e}", term::sanitize(s)))
}

/// `tpns push`: reads the parts, checks the whole request, then pushes.
pub fn main(a: PushArgs, out: &mut dyn Write) -> Result<Pushed, Failure> {
    let mut settings = Settings::from_args(&a.conn)?;
    settings.signed_push = a.auth == AuthArg::Sign;
    let android = a.android_json.as_deref().map(read_part).transpose()?;
    let ios = a.ios_json.as_deref().map(read_part).transpose()?;
    let o = Options {
        upload_id: a.upload_id,
        title: a.title,
        content: a.content,
        message_type: a.message_type,
        audience: a.audience,
        environment: a.environment,
        json: a.conn.json,
        account_type: a.account_type,
        account_push_type: a.account_push_type,
        expire_time: a.expire_time,
        send_time: a.send_time,
        push_speed: a.push_speed,
        collapse_id: a.collapse_id,
        seq: a.seq,
        accept_time: a.accept_time,
        android,
        ios,
        custom_content: a.custom_content,
    };
    run(&settings, &o, out)
}

/// Reads a platform part: a regular file of at most [`MAX_MESSAGE_LEN`] bytes (a larger one
/// cannot fit in the message), checked to be one JSON object.
fn read_part(path: &Path) -> Result<Vec<u8>, Failure> {
    let bytes = read_limited(path, MAX_MESSAGE_LEN).map_err(|e| {
        Failure::usage(format!(
            "cannot read {}: {} (the message may take at most {MAX_MESSAGE_LEN} bytes)",
            term::path(path),
            term::sanitize(&e.to_string())
        ))
    })?;
    RawJson::new(&bytes)
        .map_err(|e| Failure::usage(format!("{} is not one JSON object: {e}", term::path(path))))?;
    Ok(bytes)
}

/// `--message-type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageTypeArg {
    /// A notification shown by the system.
    Notify,
    /// A pass-through message to the app.
    Message,
}

/// `--audience` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AudienceArg {
    /// The package holds accounts.
    Account,
    /// The package holds device tokens.
    Token,
}

/// `--environment` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvironmentArg {
    /// iOS production.
    Product,
    /// iOS development.
    Dev,
}

/// What to push.
#[derive(Debug, Clone)]
pub struct Options {
    pub upload_id: u64,
    pub title: String,
    pub content: String,
    pub message_type: MessageTypeArg,
    pub audience: AudienceArg,
    pub environment: Option<EnvironmentArg>,
    pub json: bool,
    pub account_type: Option<u32>,
    pub account_push_type: Option<u8>,
    pub expire_time: Option<u32>,
    pub send_time: Option<String>,
    pub push_speed: Option<u32>,
    pub collapse_id: Option<u64>,
    pub seq: Option<u64>,
    pub accept_time: Vec<AcceptTime>,
    /// `message.android`, already checked to be one JSON object.
    pub android: Option<Vec<u8>>,
    /// `message.ios`, already checked to be one JSON object.
    pub ios: Option<Vec<u8>>,
    /// `--custom-content`, not yet checked.
    pub custom_content: Option<String>,
}

impl Options {
    /// A notification to an account package with nothing else set (for `tpns demo`; the
    /// small build, `--no-default-features`, has no demo).
    #[cfg(feature = "demo")]
    pub fn new(upload_id: u64, title: String, content: String) -> Options {
        Options {
            upload_id,
            title,
            content,
            message_type: MessageTypeArg::Notify,
            audience: AudienceArg::Account,
            environment: None,
            json: false,
            account_type: None,
            account_push_type: None,
            expire_time: None,
            send_time: None,
            push_speed: None,
            collapse_id: None,
            seq: None,
            accept_time: Vec::new(),
            android: None,
            ios: None,
            custom_content: None,
        }
    }
}

/// A part that [`read_part`] checked.
fn checked_part(bytes: &Option<Vec<u8>>) -> Option<RawJson<'_>> {
    bytes.as_deref().and_then(|b| RawJson::new(b).ok())
}

/// Pushes and prints the push_id (or JSON) on `out`.
pub fn run(settings: &Settings, o: &Options, out: &mut dyn Write) -> Result<Pushed, Failure> {
    let custom_content = o
        .custom_content
        .as_deref()
        .map(|text| {
            RawJson::new(text.as_bytes()).map_err(|e| {
                Failure::usage(format!("--custom-content is not one JSON object: {e}"))
            })
        })
        .transpose()?;
    let request = PushRequest {
        audience: match o.audience {
            AudienceArg::Account => Audience::Account,
            AudienceArg::Token => Audience::Token,
        },
        upload_id: o.upload_id,
        message_type: match o.message_type {
            MessageTypeArg::Notify => MessageType::Notify,
            MessageTypeArg::Message => MessageType::Message,
        },
        title: &o.title,
        content: &o.content,
        environment: o.environment.map(|e| match e {
            EnvironmentArg::Product => Environment::Product,
            EnvironmentArg::Dev => Environment::Dev,
        }),
        account_type: o.account_type,
        account_push_type: o.account_push_type,
        expire_time: o.expire_time,
        send_time: o.send_time.as_deref(),
        push_speed: o.push_speed,
        collapse_id: o.collapse_id,
        seq: o.seq,
        accept_time: &o.accept_time,
        android: checked_part(&o.android),
        ios: checked_part(&o.ios),
        custom_content,
    };
    // The client checks too, but a refusal here says what is wrong without a request phase.
    request
        .check()
        .map_err(|e| Failure::usage(format!("invalid push: {e}")))?;
    let client = settings.client()?;
    let mut attempts = 1;
    let pushed = client
        .push_with(&request, |event| {
            crate::diag::event(event);
            match event {
                Event::Retrying {
                    attempt,
                    delay,
                    error,
                } => {
                    attempts = attempt + 1;
                    eprintln!(
                        "tpns: attempt {attempt} failed: {}; retrying in {:.1} s",
                        term::sanitize(&error.to_string()),
                        delay.as_secs_f64()
                    );
                }
                Event::Connected { .. } | Event::Progress { .. } => {}
                // Diagnostic events: printed by `diag` above.
                _ => {}
            }
            ControlFlow::Continue(())
        })
        .map_err(|e| Failure::request("push", &e, attempts))?;
    // The push_id and the message are the server's: valid JSON, nothing raw.
    let json = o.json.then(|| {
        serde_json::json!({
            "pushId": pushed.push_id,
            "uploadId": o.upload_id,
            "seq": pushed.seq,
            "message": pushed.message,
            "attempts": pushed.attempts,
        })
    });
    crate::fail::answer(out, json, || term::sanitize(&pushed.push_id).into_owned())?;
    Ok(pushed)
}
