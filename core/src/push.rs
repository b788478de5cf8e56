//! Pushing a notification to an uploaded package: `POST /v3/push/app`.
//!
//! [`PushRequest`] writes the JSON body with no allocation (strings escaped per RFC 8259 §7);
//! [`push`] sends it over any `embedded_io::{Read, Write}` stream with one caller buffer
//! (`push_async` over `embedded_io_async`, feature `async`: both run the one
//! [`Exchange`]) and reads the snake_case answer: `ret_code`, `err_msg`, `push_id` (a string, or an array for
//! loop pushes), `seq`; `result` and unknown fields are ignored. Each of those fields may
//! appear once (a second one is a malformed answer), and a success must carry a usable
//! `push_id`: present, not null, not empty, no empty id in an array.
//!
//! The message's platform parts (`message.android`, `message.ios`) are caller-provided JSON
//! objects, checked once ([`RawJson`]) and copied into the body as they are; `accept_time` and
//! `custom_content` are written from typed fields. The whole `message` value may take at most
//! [`MAX_MESSAGE_LEN`] bytes as sent; [`PushRequest::message_len`] counts them with the code
//! that writes them.

use core::convert::Infallible;
use core::fmt;
use core::ops::ControlFlow;

use crate::auth::Credentials;
use crate::endpoint::Endpoint;
use crate::exchange::{self, Answer, Exchange, ExchangeError, Outgoing, Reply};
use crate::json::{Visitor, Want};
use crate::raw_json::RawJson;
use crate::request::{Authorization, ContentType, PUSH_PATH, RequestHead};
use crate::response::Limits;
use crate::sink::{Sink, Window, count, put_decimal};
use crate::text::Text;
use crate::upload::{ERR_MSG_CAP, Progress, first_time};

/// Which kind of package the push targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Audience {
    /// An account package: `package_account_push`.
    #[default]
    Account,
    /// A device-token package: `package_token_push`.
    Token,
}

impl Audience {
    /// The `audience_type` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Audience::Account => "package_account_push",
            Audience::Token => "package_token_push",
        }
    }
}

/// Notification or in-app message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageType {
    /// A notification shown by the system: `notify`.
    #[default]
    Notify,
    /// A pass-through message to the app: `message`.
    Message,
}

impl MessageType {
    /// The `message_type` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageType::Notify => "notify",
            MessageType::Message => "message",
        }
    }
}

/// The iOS push environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Environment {
    /// `product`.
    Product,
    /// `dev`.
    Dev,
}

impl Environment {
    /// The `environment` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Environment::Product => "product",
            Environment::Dev => "dev",
        }
    }
}

/// Most seconds a message may be kept for offline devices (`expire_time`).
pub const MAX_EXPIRE_TIME: u32 = 259_200;
/// Allowed range of `push_speed` (messages per second).
pub const PUSH_SPEED: core::ops::RangeInclusive<u32> = 1000..=50_000;
/// Most bytes the `message` value may take in the body (TPNS: 4 KB), as sent: its braces,
/// keys, escapes and the platform parts' white space included.
pub const MAX_MESSAGE_LEN: u64 = 4096;

/// A time of day, as `accept_time` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClockTime {
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub min: u8,
}

/// A window of the day in which devices may show the message (`message.accept_time`).
///
/// Sent as `{"start":{"hour":"HH","min":"MM"},"end":{"hour":"HH","min":"MM"}}`: the TPNS
/// documentation gives hour and minute as two-digit *strings*. A window whose end comes
/// before its start runs over midnight; the service decides what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AcceptTime {
    /// The first minute.
    pub start: ClockTime,
    /// The last minute.
    pub end: ClockTime,
}

/// Whether `text` has the layout of `shape`, where `d` stands for an ASCII digit and any other
/// byte for itself: the fixed-width times of the push API.
fn fits_shape(text: &[u8], shape: &[u8]) -> bool {
    text.len() == shape.len()
        && text.iter().zip(shape).all(|(&c, &s)| {
            if s == b'd' {
                c.is_ascii_digit()
            } else {
                c == s
            }
        })
}

impl AcceptTime {
    /// Reads `HH:MM-HH:MM` (two digits each, 24-hour clock), such as `08:00-22:30`.
    ///
    /// # Errors
    ///
    /// [`PushRequestError::InvalidAcceptTime`] for any other text or an hour above 23 or a
    /// minute above 59.
    pub fn parse(text: &str) -> Result<AcceptTime, PushRequestError> {
        let b = text.as_bytes();
        if !fits_shape(b, b"dd:dd-dd:dd") {
            return Err(PushRequestError::InvalidAcceptTime);
        }
        let two = |i: usize| (b[i] - b'0') * 10 + (b[i + 1] - b'0');
        let window = AcceptTime {
            start: ClockTime {
                hour: two(0),
                min: two(3),
            },
            end: ClockTime {
                hour: two(6),
                min: two(9),
            },
        };
        if window.is_valid() {
            Ok(window)
        } else {
            Err(PushRequestError::InvalidAcceptTime)
        }
    }

    /// Whether both times are on the clock.
    pub fn is_valid(&self) -> bool {
        [self.start, self.end]
            .iter()
            .all(|t| t.hour <= 23 && t.min <= 59)
    }

    fn emit_json<S: Sink>(&self, s: &mut S) -> Result<(), S::Error> {
        let two = |n: u8| [b'0' + n / 10 % 10, b'0' + n % 10];
        s.put(b"{\"start\":{\"hour\":\"")?;
        s.put(&two(self.start.hour))?;
        s.put(b"\",\"min\":\"")?;
        s.put(&two(self.start.min))?;
        s.put(b"\"},\"end\":{\"hour\":\"")?;
        s.put(&two(self.end.hour))?;
        s.put(b"\",\"min\":\"")?;
        s.put(&two(self.end.min))?;
        s.put(b"\"}}")
    }
}

/// A package push. Optional fields left `None` are not sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct PushRequest<'a> {
    /// Account or token package.
    pub audience: Audience,
    /// The package's `uploadId`.
    pub upload_id: u64,
    /// Notification or message.
    pub message_type: MessageType,
    /// The title.
    pub title: &'a str,
    /// The content.
    pub content: &'a str,
    /// iOS environment.
    pub environment: Option<Environment>,
    /// `account_type`.
    pub account_type: Option<u32>,
    /// `account_push_type`: 0 the latest device, 1 all devices.
    pub account_push_type: Option<u8>,
    /// `expire_time` in seconds, at most [`MAX_EXPIRE_TIME`].
    pub expire_time: Option<u32>,
    /// `send_time` as `yyyy-MM-DD HH:MM:SS`.
    pub send_time: Option<&'a str>,
    /// `push_speed`, within [`PUSH_SPEED`].
    pub push_speed: Option<u32>,
    /// `collapse_id`.
    pub collapse_id: Option<u64>,
    /// `seq`, echoed back in the answer.
    pub seq: Option<u64>,
    /// `message.accept_time`: the windows in which devices may show the message (none: not
    /// sent).
    pub accept_time: &'a [AcceptTime],
    /// `message.android`: an object copied as it is.
    pub android: Option<RawJson<'a>>,
    /// `message.ios`: an object copied as it is.
    pub ios: Option<RawJson<'a>>,
    /// Key-value pairs for the app: sent as a JSON-encoded *string* under the documented
    /// `custom_content` key of both platform parts (`message.android.custom_content` and
    /// `message.ios.custom_content`), added in front of the members of [`android`] and
    /// [`ios`] (a part not given is created holding only it).
    ///
    /// [`android`]: PushRequest::android
    /// [`ios`]: PushRequest::ios
    pub custom_content: Option<RawJson<'a>>,
}

/// A push request that breaks the API's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PushRequestError {
    /// `upload_id` is 0.
    MissingUploadId,
    /// The content is empty.
    EmptyContent,
    /// `account_push_type` is not 0 or 1.
    InvalidAccountPushType,
    /// `expire_time` is above [`MAX_EXPIRE_TIME`].
    ExpireTimeTooLong,
    /// `push_speed` is outside [`PUSH_SPEED`].
    InvalidPushSpeed,
    /// `send_time` is not `yyyy-MM-DD HH:MM:SS`.
    InvalidSendTime,
    /// A notification (`notify`) has an empty title.
    EmptyTitle,
    /// An `accept_time` window is not `HH:MM-HH:MM` on the clock.
    InvalidAcceptTime,
    /// `custom_content` is given both on its own and inside a platform part.
    CustomContentTwice,
    /// The `message` value is longer than [`MAX_MESSAGE_LEN`].
    MessageTooLong,
}

impl fmt::Display for PushRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingUploadId => "upload_id must be a positive number",
            Self::EmptyContent => "the content must not be empty",
            Self::InvalidAccountPushType => "account_push_type must be 0 or 1",
            Self::ExpireTimeTooLong => "expire_time must be at most 259200 seconds",
            Self::InvalidPushSpeed => "push_speed must be from 1000 to 50000",
            Self::InvalidSendTime => "send_time must look like 2026-11-26 08:00:00",
            Self::EmptyTitle => "a notification needs a title",
            Self::InvalidAcceptTime => {
                "accept_time must be HH:MM-HH:MM, hours 00 to 23 and minutes 00 to 59"
            }
            Self::CustomContentTwice => {
                "custom_content is given on its own and in the android or ios part"
            }
            Self::MessageTooLong => "the message is longer than 4096 bytes",
        })
    }
}

impl core::error::Error for PushRequestError {}

impl PushRequest<'_> {
    /// Checks the request against the API's documented limits.
    ///
    /// # Errors
    ///
    /// [`PushRequestError`] names the field.
    pub fn check(&self) -> Result<(), PushRequestError> {
        if self.upload_id == 0 {
            return Err(PushRequestError::MissingUploadId);
        }
        if self.content.is_empty() {
            return Err(PushRequestError::EmptyContent);
        }
        if self.message_type == MessageType::Notify && self.title.is_empty() {
            return Err(PushRequestError::EmptyTitle);
        }
        if !self.accept_time.iter().all(AcceptTime::is_valid) {
            return Err(PushRequestError::InvalidAcceptTime);
        }
        if self.custom_content.is_some()
            && [self.android, self.ios]
                .iter()
                .flatten()
                .any(|part| part.has_key(b"custom_content"))
        {
            return Err(PushRequestError::CustomContentTwice);
        }
        if self.message_len() > MAX_MESSAGE_LEN {
            return Err(PushRequestError::MessageTooLong);
        }
        if self.account_push_type.is_some_and(|t| t > 1) {
            return Err(PushRequestError::InvalidAccountPushType);
        }
        if self.expire_time.is_some_and(|t| t > MAX_EXPIRE_TIME) {
            return Err(PushRequestError::ExpireTimeTooLong);
        }
        if self.push_speed.is_some_and(|s| !PUSH_SPEED.contains(&s)) {
            return Err(PushRequestError::InvalidPushSpeed);
        }
        if self
            .send_time
            .is_some_and(|t| !fits_shape(t.as_bytes(), b"dddd-dd-dd dd:dd:dd"))
        {
            return Err(PushRequestError::InvalidSendTime);
        }
        Ok(())
    }

    /// Emits the JSON body.
    ///
    /// # Errors
    ///
    /// Only the sink's own errors.
    pub fn emit_json<S: Sink>(&self, s: &mut S) -> Result<(), S::Error> {
        s.put(b"{\"audience_type\":\"")?;
        s.put(self.audience.as_str().as_bytes())?;
        s.put(b"\",\"upload_id\":")?;
        put_decimal(s, self.upload_id)?;
        s.put(b",\"message_type\":\"")?;
        s.put(self.message_type.as_str().as_bytes())?;
        s.put(b"\",\"message\":")?;
        self.emit_message(s)?;
        if let Some(env) = self.environment {
            s.put(b",\"environment\":\"")?;
            s.put(env.as_str().as_bytes())?;
            s.put(b"\"")?;
        }
        let numbers = [
            ("account_type", self.account_type.map(u64::from)),
            ("account_push_type", self.account_push_type.map(u64::from)),
            ("expire_time", self.expire_time.map(u64::from)),
            ("push_speed", self.push_speed.map(u64::from)),
            ("collapse_id", self.collapse_id),
            ("seq", self.seq),
        ];
        for (name, value) in numbers {
            if let Some(value) = value {
                s.put(b",\"")?;
                s.put(name.as_bytes())?;
                s.put(b"\":")?;
                put_decimal(s, value)?;
            }
        }
        if let Some(t) = self.send_time {
            s.put(b",\"send_time\":")?;
            emit_json_string(s, t)?;
        }
        s.put(b"}")
    }

    /// The body's length in bytes.
    pub fn json_len(&self) -> u64 {
        count(|c| self.emit_json(c))
    }

    /// Emits the `message` value: title, content, then what is given of `accept_time`,
    /// `android` and `ios`.
    ///
    /// # Errors
    ///
    /// Only the sink's own errors.
    pub fn emit_message<S: Sink>(&self, s: &mut S) -> Result<(), S::Error> {
        s.put(b"{\"title\":")?;
        emit_json_string(s, self.title)?;
        s.put(b",\"content\":")?;
        emit_json_string(s, self.content)?;
        if let Some((first, rest)) = self.accept_time.split_first() {
            s.put(b",\"accept_time\":[")?;
            first.emit_json(s)?;
            for window in rest {
                s.put(b",")?;
                window.emit_json(s)?;
            }
            s.put(b"]")?;
        }
        for (name, part) in [(&b"android"[..], self.android), (b"ios", self.ios)] {
            if part.is_none() && self.custom_content.is_none() {
                continue;
            }
            s.put(b",\"")?;
            s.put(name)?;
            s.put(b"\":")?;
            emit_part(s, part, self.custom_content)?;
        }
        s.put(b"}")
    }

    /// The `message` value's length in bytes, as [`emit_message`](Self::emit_message) writes
    /// it: the number [`MAX_MESSAGE_LEN`] bounds.
    pub fn message_len(&self) -> u64 {
        count(|c| self.emit_message(c))
    }
}

/// Emits a platform part: the caller's object as it is, or, with `custom_content`, an object
/// that starts with `"custom_content":"<the JSON as a string>"` followed by the caller's
/// members.
fn emit_part<S: Sink>(
    s: &mut S,
    part: Option<RawJson<'_>>,
    custom_content: Option<RawJson<'_>>,
) -> Result<(), S::Error> {
    debug_assert!(
        [part, custom_content]
            .iter()
            .flatten()
            .all(|raw| crate::raw_json::validate_object(raw.as_bytes()).is_ok()),
        "a RawJson that is not one JSON object"
    );
    let Some(custom) = custom_content else {
        return match part {
            Some(raw) => s.put(raw.as_bytes()),
            None => s.put(b"{}"),
        };
    };
    s.put(b"{\"custom_content\":")?;
    emit_json_string(s, custom.as_str())?;
    match part {
        Some(raw) if !raw.is_empty_object() => {
            s.put(b",")?;
            s.put(raw.members())
        }
        _ => s.put(b"}"),
    }
}

/// Emits a JSON string literal (RFC 8259 §7): `"` and `\` escaped, control characters as
/// `\n`, `\r`, `\t` or `\u00XX`, everything else as UTF-8.
pub fn emit_json_string<S: Sink>(s: &mut S, text: &str) -> Result<(), S::Error> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    s.put(b"\"")?;
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f | 0x7f => &[],
            _ => continue,
        };
        s.put(&bytes[start..i])?;
        if escape.is_empty() {
            s.put(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ])?;
        } else {
            s.put(escape)?;
        }
        start = i + 1;
    }
    s.put(&bytes[start..])?;
    s.put(b"\"")
}

/// How a push authenticates.
#[derive(Debug, Clone, Copy)]
pub enum PushAuth<'a> {
    /// HTTP Basic.
    Basic(Credentials<'a>),
    /// TPNS signature headers, signed at `timestamp` (unix seconds; the service checks it
    /// against its clock).
    #[cfg(feature = "signature")]
    Signature {
        /// The credentials that sign.
        credentials: Credentials<'a>,
        /// Unix time in seconds.
        timestamp: u64,
    },
}

/// A push and where it goes.
#[derive(Debug, Clone, Copy)]
pub struct Push<'a> {
    /// The service's base URL.
    pub endpoint: &'a Endpoint<'a>,
    /// How to authenticate.
    pub auth: PushAuth<'a>,
    /// What to push.
    pub request: PushRequest<'a>,
    /// Bounds on the response.
    pub limits: Limits,
}

/// Capacity of a kept `push_id`, in bytes (several ids are joined with `,`).
pub const PUSH_ID_CAP: usize = 64;

/// A successful push's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PushResponse {
    /// The push id (ids joined with `,` for loop pushes).
    pub push_id: Text<PUSH_ID_CAP>,
    /// `ret_code`: always 0 here.
    pub ret_code: i64,
    /// `err_msg`, such as `NO_ERROR`.
    pub err_msg: Text<ERR_MSG_CAP>,
    /// `seq`, if the answer had one.
    pub seq: Option<i64>,
}

/// Why a push failed: the request broke a rule (nothing was sent), or the exchange failed.
///
/// # Retrying a push
///
/// A push that reached the service is delivered: sending it again notifies the devices twice.
/// So a push is retried only while it certainly did not go out. [`is_transient`] is true only
/// then (a request cut off before its body was whole, the service's rate limit), and false as
/// soon as the whole body was handed to the connection, whatever comes after (a lost answer,
/// a 502/503/504 from a gateway that may have passed the push on).
/// [`may_have_been_sent`] says which side of that line a failure is on. A loop that retries
/// transient errors therefore sends a push at most once.
///
/// [`is_transient`]: Self::is_transient
/// [`may_have_been_sent`]: Self::may_have_been_sent
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PushError<T> {
    /// A push field breaks the API's rules ([`PushRequestError`] names it): checked before
    /// anything is sent.
    Invalid(PushRequestError),
    /// The exchange failed, by phase.
    Exchange {
        /// What failed.
        error: ExchangeError<T>,
        /// The JSON body's length: an [`ExchangeError::SendBody`] that wrote fewer bytes left
        /// the body incomplete, and the service acts on no incomplete request.
        body_len: u64,
    },
}

impl<T> PushError<T> {
    /// Whether the service may have received the whole push, and so may deliver it: the whole
    /// body was handed to the connection, and no answer said that the service refused it.
    ///
    /// See [`may_have_been_sent`](fn@may_have_been_sent).
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Self::Exchange { error, body_len } => may_have_been_sent(error, *body_len),
            Self::Invalid(_) => false,
        }
    }

    /// Whether a new attempt could succeed **and** cannot send the push twice: the request was
    /// cut off before its body was whole, or the service's rate limit refused it. Never true
    /// when [`may_have_been_sent`](Self::may_have_been_sent) is.
    pub fn is_transient(&self) -> bool {
        !self.may_have_been_sent() && self.exchange().is_some_and(ExchangeError::is_transient)
    }

    crate::exchange::wrapped_queries!(Self::Exchange { error, .. } => error);

    /// The exchange's error by value, or the rule the request broke.
    ///
    /// # Errors
    ///
    /// The [`PushRequestError`] of [`PushError::Invalid`].
    pub fn into_exchange(self) -> Result<ExchangeError<T>, PushRequestError> {
        match self {
            Self::Exchange { error, .. } => Ok(error),
            Self::Invalid(e) => Err(e),
        }
    }
}

impl<T: fmt::Display> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "invalid push: {e}"),
            Self::Exchange { error, .. } => fmt::Display::fmt(error, f),
        }
    }
}

impl<T: fmt::Debug + fmt::Display + 'static> core::error::Error for PushError<T> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Exchange { error, .. } => Some(error),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PushField {
    RetCode,
    ErrMsg,
    PushId,
    Seq,
    Other,
}

/// The fields of a push answer.
///
/// Each field may appear once, under either spelling: a second one is
/// [`JsonErrorKind::DuplicateKey`](crate::json::JsonErrorKind::DuplicateKey).
#[derive(Debug, Clone, Copy)]
pub struct PushFields {
    /// `ret_code` (or `retCode`).
    pub ret_code: Option<i64>,
    /// `err_msg` (or `errMsg`).
    pub err_msg: Text<ERR_MSG_CAP>,
    /// `push_id`: a string, or the strings of an array joined with `,`.
    pub push_id: Text<PUSH_ID_CAP>,
    /// Whether a `push_id` was present.
    pub has_push_id: bool,
    /// `seq`.
    pub seq: Option<i64>,
    current: PushField,
    /// One bit per wanted field already read.
    seen: u8,
    /// Whether the id being read so far is empty or only white space.
    id_blank: bool,
    /// Whether an id was empty or only white space.
    blank_id: bool,
}

impl Default for PushFields {
    fn default() -> Self {
        PushFields {
            ret_code: None,
            err_msg: Text::default(),
            push_id: Text::default(),
            has_push_id: false,
            seq: None,
            current: PushField::Other,
            seen: 0,
            id_blank: true,
            blank_id: false,
        }
    }
}

impl Visitor for PushFields {
    fn key(&mut self, key: &[u8]) -> Want {
        let (field, want) = match key {
            b"ret_code" | b"retCode" => (PushField::RetCode, Want::Int),
            b"err_msg" | b"errMsg" => (PushField::ErrMsg, Want::Str),
            b"push_id" => (PushField::PushId, Want::Strs),
            b"seq" => (PushField::Seq, Want::Int),
            _ => (PushField::Other, Want::Skip),
        };
        self.current = field;
        let bit = match field {
            PushField::RetCode => 1,
            PushField::ErrMsg => 2,
            PushField::PushId => {
                self.has_push_id = true;
                4
            }
            PushField::Seq => 8,
            PushField::Other => return want,
        };
        first_time(&mut self.seen, bit, want)
    }

    fn int(&mut self, value: i64) {
        match self.current {
            PushField::RetCode => self.ret_code = Some(value),
            PushField::Seq => self.seq = Some(value),
            _ => {}
        }
    }

    fn char(&mut self, c: char) {
        match self.current {
            PushField::ErrMsg => self.err_msg.push(c),
            PushField::PushId => {
                self.push_id.push(c);
                self.id_blank &= c.is_whitespace();
            }
            _ => {}
        }
    }

    fn null(&mut self) {
        if self.current == PushField::PushId {
            self.blank_id = true;
        }
    }

    fn str_end(&mut self) {
        if self.current == PushField::PushId {
            self.blank_id |= self.id_blank;
            self.id_blank = true;
            // Separate the ids of an array; a trailing separator is trimmed in `into_result`.
            self.push_id.push(',');
        }
    }
}

impl Reply for PushFields {
    type Response = PushResponse;

    /// What a push answer means.
    ///
    /// # Errors
    ///
    /// As for uploads: [`ExchangeError::Status`], [`ExchangeError::Json`], [`ExchangeError::Api`],
    /// or [`ExchangeError::MissingField`] (with the start of the body) when `ret_code` is
    /// missing or `push_id` is not usable: missing, `null`, `""`, `[]`, an empty (or blank) id
    /// in an array, or too long to keep whole.
    fn interpret<T>(answer: Answer<Self>) -> Result<PushResponse, ExchangeError<T>> {
        let f = &answer.fields;
        let ret_code = answer.checked((f.ret_code, &f.err_msg), "ret_code")?;
        // A cut id would name another push: better no id than a wrong one. An empty one names
        // none: a success without an id to follow the push by is not a success.
        let ids = f.push_id.as_str().trim_end_matches(',');
        if !f.has_push_id || f.push_id.is_truncated() || f.blank_id || ids.is_empty() {
            return Err(ExchangeError::MissingField {
                name: "push_id",
                body: answer.text,
            });
        }
        let mut push_id = Text::default();
        push_id.push_str(ids);
        Ok(PushResponse {
            push_id,
            ret_code,
            err_msg: f.err_msg,
            seq: f.seq,
        })
    }
}

/// The bytes of a push request: the head, then the JSON body, written on demand through a
/// [`Window`] (nothing is held but the position), so any buffer size works.
#[derive(Debug)]
pub struct PushBytes<'a> {
    job: &'a Push<'a>,
    auth: HeadAuth<'a>,
    head_len: u64,
    body_len: u64,
    at: u64,
}

/// The request head's authentication, settled once: the credentials, or the signature made
/// over the body.
#[derive(Debug)]
enum HeadAuth<'a> {
    Basic(Credentials<'a>),
    #[cfg(feature = "signature")]
    Signature {
        access_id: &'a str,
        timestamp: u64,
        sign: crate::signature::Sign,
    },
}

impl<'a> PushBytes<'a> {
    /// The request for `job`, signed now when it asks for a signature.
    ///
    /// # Errors
    ///
    /// [`RequestError`](crate::request::RequestError) when a value would break the request's
    /// framing.
    pub fn new(job: &'a Push<'a>) -> Result<Self, crate::request::RequestError> {
        let auth = match job.auth {
            PushAuth::Basic(credentials) => HeadAuth::Basic(credentials),
            #[cfg(feature = "signature")]
            PushAuth::Signature {
                credentials,
                timestamp,
            } => {
                let mut signer = crate::signature::Signer::new(&credentials, timestamp);
                let Ok(()) = job.request.emit_json(&mut signer);
                HeadAuth::Signature {
                    access_id: credentials.access_id(),
                    timestamp,
                    sign: signer.finish(),
                }
            }
        };
        let mut bytes = PushBytes {
            job,
            auth,
            head_len: 0,
            body_len: job.request.json_len(),
            at: 0,
        };
        let head = bytes.head();
        head.check()?;
        bytes.head_len = count(|c| head.emit(c));
        Ok(bytes)
    }

    fn head(&self) -> RequestHead<'_> {
        let authorization = match &self.auth {
            HeadAuth::Basic(credentials) => Authorization::Basic(*credentials),
            #[cfg(feature = "signature")]
            HeadAuth::Signature {
                access_id,
                timestamp,
                sign,
            } => Authorization::Signature {
                access_id,
                timestamp: *timestamp,
                sign,
            },
        };
        RequestHead {
            endpoint: self.job.endpoint,
            path: PUSH_PATH,
            authorization,
            content_type: ContentType::Json,
            content_length: self.body_len,
            expect_continue: false,
        }
    }

    /// Length of the JSON body.
    pub fn body_len(&self) -> u64 {
        self.body_len
    }
}

impl Outgoing for PushBytes<'_> {
    type Error = Infallible;

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let mut window = Window::new(self.at, buf);
        let Ok(()) = self
            .head()
            .emit(&mut window)
            .and_then(|()| self.job.request.emit_json(&mut window));
        let n = window.filled();
        self.at += n as u64;
        Ok(n)
    }

    fn head_len(&self) -> u64 {
        self.head_len
    }

    fn release_body(&mut self) {}

    fn progress(&self, written: u64) -> Progress {
        Progress {
            sent: written.saturating_sub(self.head_len).min(self.body_len),
            total: self.body_len,
        }
    }
}

/// The exchange of a push, for either driver, after the request's rules are checked.
/// Returns it with the body's length, which says whether a failed push may have gone out.
fn push_exchange<'b, T>(
    job: &'b Push<'b>,
    buf: &'b mut [u8],
) -> Result<(PushExchange<'b, T>, u64), PushError<T>> {
    job.request.check().map_err(PushError::Invalid)?;
    let request = PushBytes::new(job).map_err(|e| PushError::Exchange {
        error: ExchangeError::Request(e),
        body_len: job.request.json_len(),
    })?;
    let body_len = request.body_len();
    let exchange: PushExchange<'b, T> =
        Exchange::new(buf, request, job.limits, false, never_cancel);
    Ok((exchange, body_len))
}

type PushExchange<'b, T> =
    Exchange<'b, PushBytes<'b>, PushFields, fn(Progress) -> ControlFlow<Infallible>, T, Infallible>;

fn never_cancel(_: Progress) -> ControlFlow<Infallible> {
    ControlFlow::Continue(())
}

/// A push's outcome from the exchange's.
fn pushed<T>(
    outcome: exchange::Outcome<PushResponse, T, Infallible, Infallible>,
    body_len: u64,
) -> Result<PushResponse, PushError<T>> {
    outcome.map_err(|stopped| match stopped {
        exchange::Stopped::Exchange(error) => PushError::Exchange { error, body_len },
        exchange::Stopped::Source(never) | exchange::Stopped::Cancelled { reason: never, .. } => {
            match never {}
        }
    })
}

/// Whether a push whose exchange failed with `error` may have reached the service whole, its
/// JSON body being `body_len` bytes long. The one place this rule is written; transports with
/// errors of their own (timeouts) use it too.
///
/// True for a lost or unreadable answer, for a 5xx status other than 503 (a gateway says 502
/// or 504 after it forwarded the request, and a 500 may come after the service acted), and
/// for a write error once the whole body was written (the last bytes may have left). False
/// for a failure before the body was whole, for a 4xx status, for a 503 (the service or a
/// gateway refusing work it did not take) and for the service's own refusal (`ret_code`).
pub fn may_have_been_sent<T>(error: &ExchangeError<T>, body_len: u64) -> bool {
    match error {
        ExchangeError::SendBody { sent, .. } => *sent >= body_len,
        ExchangeError::ReadResponse(_)
        | ExchangeError::Response(_)
        | ExchangeError::Json(_)
        | ExchangeError::MissingField { .. } => true,
        ExchangeError::Status { status, .. } => *status >= 500 && *status != 503,
        _ => false,
    }
}

/// Checks a push against the API's rules, sends it and reads its answer, through one caller
/// buffer of any size.
///
/// # Errors
///
/// [`PushError::Invalid`] before anything is sent, or [`PushError::Exchange`]: a transport
/// error, a bad response, an HTTP status, or the service's `ret_code`. Retry only when
/// [`PushError::is_transient`] says so: see [`PushError`].
pub fn push<T: embedded_io::Read + embedded_io::Write>(
    transport: &mut T,
    job: &Push<'_>,
    buf: &mut [u8],
) -> Result<PushResponse, PushError<T::Error>> {
    let (exchange, body_len) = push_exchange(job, buf)?;
    pushed(exchange::run(transport, exchange), body_len)
}

/// [`push`] over an async transport (feature `async`): an embassy-net socket or embedded-tls's
/// async connection.
///
/// # Errors
///
/// As for [`push`].
#[cfg(feature = "async")]
pub async fn push_async<T: embedded_io_async::Read + embedded_io_async::Write>(
    transport: &mut T,
    job: &Push<'_>,
    buf: &mut [u8],
) -> Result<PushResponse, PushError<T::Error>> {
    let (exchange, body_len) = push_exchange(job, buf)?;
    let outcome = exchange::run_async(transport, exchange).await;
    pushed(outcome, body_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{JsonError, JsonErrorKind, JsonReader};
    use crate::sink::{SliceSink, emitted};
    use std::string::String;
    use std::string::ToString;

    /// The smallest valid push: upload 1, title "t", content "c".
    fn minimal() -> PushRequest<'static> {
        PushRequest {
            upload_id: 1,
            title: "t",
            content: "c",
            ..PushRequest::default()
        }
    }

    fn json(req: &PushRequest<'_>) -> String {
        let text = emitted(|s| req.emit_json(s));
        assert_eq!(text.len() as u64, req.json_len());
        text
    }

    #[test]
    fn golden_bodies() {
        let req = PushRequest {
            upload_id: 11231,
            title: "t",
            content: "c",
            ..PushRequest::default()
        };
        assert_eq!(
            json(&req),
            r#"{"audience_type":"package_account_push","upload_id":11231,"message_type":"notify","message":{"title":"t","content":"c"}}"#
        );
        let req = PushRequest {
            audience: Audience::Token,
            upload_id: 7,
            message_type: MessageType::Message,
            title: "a \"quoted\"\n\\ 标题\u{1}",
            content: "x",
            environment: Some(Environment::Dev),
            account_type: Some(1),
            account_push_type: Some(1),
            expire_time: Some(3600),
            send_time: Some("2026-11-26 08:00:00"),
            push_speed: Some(1000),
            collapse_id: Some(5),
            seq: Some(99),
            ..PushRequest::default()
        };
        assert_eq!(req.check(), Ok(()));
        assert_eq!(
            json(&req),
            "{\"audience_type\":\"package_token_push\",\"upload_id\":7,\"message_type\":\"message\",\
             \"message\":{\"title\":\"a \\\"quoted\\\"\\n\\\\ 标题\\u0001\",\"content\":\"x\"},\
             \"environment\":\"dev\",\"account_type\":1,\"account_push_type\":1,\"expire_time\":3600,\
             \"push_speed\":1000,\"collapse_id\":5,\"seq\":99,\"send_time\":\"2026-11-26 08:00:00\"}"
        );
    }

    #[test]
    fn escaped_strings_read_back_through_the_json_reader() {
        struct Title(String);
        impl Visitor for Title {
            fn key(&mut self, key: &[u8]) -> Want {
                if key == b"t" { Want::Str } else { Want::Skip }
            }
            fn char(&mut self, c: char) {
                self.0.push(c);
            }
        }
        let text = "q\" b\\ \n\r\t \u{0}\u{1f}\u{7f} é 😀";
        let mut buf = [0u8; 128];
        let mut s = SliceSink::new(&mut buf);
        s.put(b"{\"t\":").unwrap();
        emit_json_string(&mut s, text).unwrap();
        s.put(b"}").unwrap();
        let n = s.finish().unwrap();
        let mut v = Title(String::new());
        let mut r = JsonReader::new();
        r.feed(&buf[..n], &mut v).unwrap();
        r.finish().unwrap();
        assert_eq!(v.0, text);
    }

    #[test]
    fn rules() {
        let ok = minimal();
        assert_eq!(ok.check(), Ok(()));
        use PushRequestError::*;
        for (req, err) in [
            (PushRequest { upload_id: 0, ..ok }, MissingUploadId),
            (PushRequest { content: "", ..ok }, EmptyContent),
            (
                PushRequest {
                    account_push_type: Some(2),
                    ..ok
                },
                InvalidAccountPushType,
            ),
            (
                PushRequest {
                    expire_time: Some(259_201),
                    ..ok
                },
                ExpireTimeTooLong,
            ),
            (
                PushRequest {
                    push_speed: Some(999),
                    ..ok
                },
                InvalidPushSpeed,
            ),
            (
                PushRequest {
                    push_speed: Some(50_001),
                    ..ok
                },
                InvalidPushSpeed,
            ),
            (
                PushRequest {
                    send_time: Some("2026-11-26T08:00:00"),
                    ..ok
                },
                InvalidSendTime,
            ),
            (
                PushRequest {
                    send_time: Some("2026-11-26 8:00:00"),
                    ..ok
                },
                InvalidSendTime,
            ),
        ] {
            assert_eq!(req.check(), Err(err));
        }
    }

    #[test]
    fn message_rules() {
        use crate::raw_json::RawJson;
        let ok = minimal();
        use PushRequestError::*;
        assert_eq!(PushRequest { title: "", ..ok }.check(), Err(EmptyTitle));
        let message = PushRequest {
            title: "",
            message_type: MessageType::Message,
            ..ok
        };
        assert_eq!(message.check(), Ok(()));
        let bad = [AcceptTime {
            start: ClockTime { hour: 24, min: 0 },
            end: ClockTime::default(),
        }];
        assert_eq!(
            PushRequest {
                accept_time: &bad,
                ..ok
            }
            .check(),
            Err(InvalidAcceptTime)
        );
        let custom = RawJson::new(br#"{"k":"v"}"#).unwrap();
        let android = RawJson::new(br#"{"custom_content":"{}"}"#).unwrap();
        let nested = RawJson::new(br#"{"x":{"custom_content":"{}"}}"#).unwrap();
        let with = |android, ios| PushRequest {
            android,
            ios,
            custom_content: Some(custom),
            ..ok
        };
        assert_eq!(with(Some(android), None).check(), Err(CustomContentTwice));
        assert_eq!(with(None, Some(android)).check(), Err(CustomContentTwice));
        assert_eq!(with(Some(nested), Some(nested)).check(), Ok(()));
        assert_eq!(
            json(&with(None, None)),
            r#"{"audience_type":"package_account_push","upload_id":1,"message_type":"notify","message":{"title":"t","content":"c","android":{"custom_content":"{\"k\":\"v\"}"},"ios":{"custom_content":"{\"k\":\"v\"}"}}}"#
        );
        assert_eq!(
            json(&PushRequest {
                android: Some(RawJson::new(b" {} ").unwrap()),
                ..ok
            }),
            r#"{"audience_type":"package_account_push","upload_id":1,"message_type":"notify","message":{"title":"t","content":"c","android":{}}}"#
        );
    }

    #[test]
    fn the_message_may_take_4096_bytes_and_no_more() {
        let base = minimal();
        // `{"title":"t","content":""}` is 26 bytes; the content fills the rest.
        let frame = base.message_len() - 1;
        let fill = std::string::String::from("x").repeat((MAX_MESSAGE_LEN - frame) as usize);
        let full = PushRequest {
            content: &fill,
            ..base
        };
        assert_eq!(full.message_len(), MAX_MESSAGE_LEN);
        assert_eq!(full.check(), Ok(()));
        let over = std::format!("{fill}x");
        let over = PushRequest {
            content: &over,
            ..base
        };
        assert_eq!(over.check(), Err(PushRequestError::MessageTooLong));
        // Escapes count as sent: 2048 quotes are 4096 bytes.
        let quotes = "\"".repeat(2048);
        let quoted = PushRequest {
            content: &quotes,
            ..base
        };
        assert!(quoted.message_len() > MAX_MESSAGE_LEN);
        assert_eq!(quoted.check(), Err(PushRequestError::MessageTooLong));
    }

    #[test]
    fn accept_time_parses_only_clock_windows() {
        assert_eq!(
            AcceptTime::parse("08:05-23:59"),
            Ok(AcceptTime {
                start: ClockTime { hour: 8, min: 5 },
                end: ClockTime { hour: 23, min: 59 },
            })
        );
        for bad in [
            "",
            "8:05-23:59",
            "08:05-24:00",
            "08:60-09:00",
            "08:05 - 09:00",
            "08:05-09:00 ",
            "08.05-09.00",
            "08:05",
            "０8:05-09:00",
            "08:05-09:0a",
        ] {
            assert_eq!(
                AcceptTime::parse(bad),
                Err(PushRequestError::InvalidAcceptTime),
                "{bad}"
            );
        }
    }

    fn answer(body: &[u8]) -> Result<PushResponse, ExchangeError<Infallible>> {
        let mut fields = PushFields::default();
        let mut reader = JsonReader::new();
        let json_error = reader
            .feed(body, &mut fields)
            .and_then(|()| reader.finish())
            .err();
        let mut text = Text::default();
        body.iter().for_each(|&b| text.push(char::from(b)));
        PushFields::interpret(Answer {
            status: 200,
            fields,
            json_error,
            text,
        })
    }

    #[test]
    fn setup_errors_say_what_failed_and_keep_the_cause() {
        use core::error::Error as _;
        let invalid: PushError<Infallible> = PushError::Invalid(PushRequestError::EmptyContent);
        assert_eq!(
            invalid.to_string(),
            std::format!("invalid push: {}", PushRequestError::EmptyContent)
        );
        assert!(invalid.source().is_some());
        let failed = PushError::Exchange {
            error: answer(br#"{"ret_code":1008003,"err_msg":"auth"}"#).unwrap_err(),
            body_len: 10,
        };
        assert!(failed.is_auth_failure() && !failed.may_have_been_sent());
        assert_eq!(failed.to_string(), "retCode 1008003: auth");
        assert!(
            failed
                .source()
                .is_some_and(|e| e.to_string() == failed.to_string())
        );
    }

    #[test]
    fn reads_answers() {
        let ok = answer(br#"{"seq":0,"push_id":"12345","ret_code":0,"environment":"product","err_msg":"NO_ERROR","result":"{\"a\":1}","err_msg_zh":"\u6210\u529f","invalid_targe_list":[]}"#).unwrap();
        assert_eq!(
            (ok.push_id.as_str(), ok.err_msg.as_str(), ok.seq),
            ("12345", "NO_ERROR", Some(0))
        );
        let looped = answer(br#"{"push_id":["1","2","3"],"ret_code":0}"#).unwrap();
        assert_eq!(looped.push_id.as_str(), "1,2,3");
        let err = answer(br#"{"ret_code":1008028,"err_msg":"too fast"}"#).unwrap_err();
        assert!(err.is_transient());
        assert!(matches!(
            answer(br#"{"ret_code":0}"#),
            Err(ExchangeError::MissingField {
                name: "push_id",
                ..
            })
        ));
    }

    #[test]
    fn a_success_without_a_usable_push_id_is_an_error_showing_the_body() {
        for body in [
            &br#"{"ret_code":0,"push_id":null}"#[..],
            br#"{"ret_code":0,"push_id":""}"#,
            br#"{"ret_code":0,"push_id":[]}"#,
            br#"{"ret_code":0,"push_id":" "}"#,
            br#"{"ret_code":0,"push_id":["1",""]}"#,
            br#"{"ret_code":0,"push_id":["","2"]}"#,
            br#"{"ret_code":0,"push_id":[null]}"#,
            br#"{"ret_code":0,"push_id":["1",null]}"#,
        ] {
            let err = answer(body).unwrap_err();
            let ExchangeError::MissingField { name, body: text } = &err else {
                panic!("{err:?}")
            };
            assert_eq!(*name, "push_id");
            assert_eq!(text.as_str().as_bytes(), body, "{err}");
            assert!(
                err.to_string()
                    .starts_with("the response has no valid `push_id` (body: {")
            );
        }
    }

    #[test]
    fn a_wanted_push_field_given_twice_is_a_malformed_answer() {
        for body in [
            &br#"{"ret_code":1008003,"ret_code":0,"push_id":"1"}"#[..],
            br#"{"retCode":1,"ret_code":0,"push_id":"1"}"#,
            br#"{"ret_code":0,"push_id":"1","push_id":"2"}"#,
            br#"{"ret_code":0,"push_id":"","push_id":"2"}"#,
            br#"{"ret_code":0,"err_msg":"a","errMsg":"b","push_id":"1"}"#,
            br#"{"ret_code":0,"seq":1,"seq":2,"push_id":"1"}"#,
        ] {
            let err = answer(body).unwrap_err();
            assert!(
                matches!(
                    err,
                    ExchangeError::Json(JsonError {
                        kind: JsonErrorKind::DuplicateKey,
                        ..
                    })
                ),
                "{err:?}"
            );
            assert!(!err.is_transient());
        }
    }
}
