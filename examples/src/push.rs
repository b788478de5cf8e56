//! `tpns push`: push a notification to an uploaded package.

use std::io::Write;
use std::ops::ControlFlow;

use clap::ValueEnum;
use tpns_transport_std::{Audience, Environment, Event, MessageType, PushRequest, Pushed};

use crate::fail::Failure;
use crate::settings::Settings;
use crate::term;

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
}

/// Pushes and prints the push_id (or JSON) on `out`.
pub fn run(settings: &Settings, o: &Options, out: &mut dyn Write) -> Result<Pushed, Failure> {
    let client = settings.client()?;
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
        ..PushRequest::default()
    };
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
    let line = if o.json {
        let json = serde_json::json!({
            "pushId": pushed.push_id,
            "uploadId": o.upload_id,
            "seq": pushed.seq,
            "message": pushed.message,
            "attempts": pushed.attempts,
        })
        .to_string();
        // The push_id and the message are the server's: valid JSON, nothing raw.
        term::json(&json)
    } else {
        term::sanitize(&pushed.push_id).into_owned()
    };
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| Failure::usage(format!("cannot write to stdout: {e}")))?;
    Ok(pushed)
}
