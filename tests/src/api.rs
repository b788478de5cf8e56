//! The emulated endpoints, independent of how the HTTP/1.1 exchange is carried (hyper or the
//! raw writer used for byte-level faults): a request goes in, a status and a JSON body come out.

use crate::auth::{self, Apps};
use crate::fault::{FaultBudget, FaultSpec};
use crate::limits::{self, FramingGuard, Limits};
use crate::package::PackageChecker;
use crate::policy::Rule;
use crate::store::{PushRecord, Store, UploadRecord, unix_now};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use hyper::Method;
use hyper::http::HeaderMap;
use serde_json::{Value, json};
use std::io;
use std::pin::Pin;
use std::time::Duration;

/// retCode: parameter parse error.
pub const PARSE_ERROR: u32 = 1_008_001;
/// retCode: missing parameter.
pub const MISSING_PARAMETER: u32 = 1_008_002;
/// retCode: authentication failed.
pub const AUTH_FAILED: u32 = 1_008_003;
/// retCode: internal service call failed.
pub const INTERNAL: u32 = 1_008_004;
/// retCode: invalid parameter.
pub const INVALID_PARAMETER: u32 = 1_008_007;
/// retCode: a package the service refuses (size, content, zip structure).
pub const UPLOAD_FAILED: u32 = 1_008_011;
/// retCode: an empty package.
pub const EMPTY_FILE: u32 = 1_008_012;
/// retCode: request too fast.
pub const TOO_FAST: u32 = 1_008_028;

/// The largest push body read (the JSON of a push is small).
const MAX_PUSH_BODY: usize = 1 << 20;
/// Package pushes allowed per app: one per this interval.
const PUSH_INTERVAL: Duration = Duration::from_secs(1);

/// What the connection layer needs from the emulator.
pub struct Shared {
    /// Packages, pushes and ids.
    pub store: Store,
    /// The configured apps.
    pub apps: Apps,
    /// `times=N` counters.
    pub budget: FaultBudget,
    /// The `--fault` SPEC applied to every request, with its source text.
    pub global_fault: Option<(String, FaultSpec)>,
    /// Time and connection limits.
    pub limits: Limits,
}

impl std::fmt::Debug for Shared {
    /// Lists the apps' AccessIDs, never their secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.apps.keys().collect();
        ids.sort();
        f.debug_struct("Shared")
            .field("store", &self.store)
            .field("apps", &ids)
            .field("budget", &self.budget)
            .field("global_fault", &self.global_fault)
            .field("limits", &self.limits)
            .finish()
    }
}

/// A request body as a stream of byte chunks. An `Err` item means the body could not be read
/// to its end (client gone, or an injected `close-after`).
pub type BodyStream<'a> = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'a>>;

/// An answer: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A reply with `status` and `value` serialised as the body.
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            body: value.to_string().into_bytes(),
        }
    }
}

/// What to do with the exchange.
#[derive(Debug)]
pub enum Outcome {
    /// Answer this.
    Reply(Reply),
    /// Drop the connection without answering (the body could not be read).
    Drop,
}

fn upload_reply(code: u32, msg: &str, upload_id: u64) -> Outcome {
    Outcome::Reply(Reply::json(
        200,
        &json!({"retCode": code, "errMsg": msg, "uploadId": upload_id}),
    ))
}

fn push_error(code: u32, msg: &str, seq: i64) -> Outcome {
    Outcome::Reply(Reply::json(
        200,
        &json!({"seq": seq, "ret_code": code, "err_msg": msg}),
    ))
}

/// Reads the body to its end, discarding it, so the client is not cut off mid-send.
async fn drain(body: &mut BodyStream<'_>) -> io::Result<()> {
    while let Some(chunk) = body.next().await {
        chunk?;
    }
    Ok(())
}

/// The outcome of a body that could not be read: a body past its time limit is answered 408
/// (the client is slow, not gone); any other failure drops the connection.
fn broken(e: &(dyn std::error::Error + 'static)) -> Outcome {
    if limits::is_timeout(e) {
        Outcome::Reply(Reply::json(
            408,
            &json!({"retCode": PARSE_ERROR, "errMsg": format!("request timeout: {e}")}),
        ))
    } else {
        Outcome::Drop
    }
}

/// The `Content-Length` of a request, if it has one that parses.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(hyper::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The answer to a request that can be refused from its head alone, before any body byte is
/// read: an upload or a push without valid credentials (for signature auth: an unknown
/// `AccessId` or a missing `TimeStamp` / `Sign`), or with a `Content-Length` over the
/// endpoint's limit. `None`: the request goes on. Faults are decided before this.
pub fn refuse_early(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<Reply> {
    let path = path.split('?').next().unwrap_or("");
    if *method != Method::POST {
        return None;
    }
    let length = content_length(headers).unwrap_or(0);
    let reply = |o: Outcome| match o {
        Outcome::Reply(r) => Some(r),
        Outcome::Drop => None,
    };
    match path {
        "/v3/push/package/upload" => {
            if auth::basic(headers, &shared.apps).is_none() {
                reply(upload_reply(AUTH_FAILED, "authentication failed", 0))
            } else if length > limits::MAX_UPLOAD_BODY {
                reply(upload_reply(
                    Rule::TooLarge.ret_code(),
                    &format!(
                        "{} (a request body of {length} bytes)",
                        Rule::TooLarge.text()
                    ),
                    0,
                ))
            } else {
                None
            }
        }
        "/v3/push/app" => {
            let app = if headers.contains_key(hyper::header::AUTHORIZATION) {
                auth::basic(headers, &shared.apps)
            } else {
                auth::signature_head(
                    headers,
                    &shared.apps,
                    unix_now(),
                    shared.limits.max_clock_skew,
                )
            };
            if app.is_none() {
                reply(push_error(AUTH_FAILED, "authentication failed", 0))
            } else if length > MAX_PUSH_BODY as u64 {
                reply(push_error(PARSE_ERROR, "request body larger than 1 MiB", 0))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Serves one request. `path` is the request path with any `/_fault/<SPEC>` prefix removed.
pub async fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: BodyStream<'_>,
    fault: &FaultSpec,
) -> Outcome {
    let path = path.split('?').next().unwrap_or("");
    let total = if path == "/v3/push/package/upload" {
        shared.limits.upload_timeout
    } else {
        shared.limits.push_timeout
    };
    let mut body = limits::timed(body, shared.limits.idle_timeout, total);
    let outcome = if let Some(status) = fault.status {
        match drain(&mut body).await {
            Ok(()) => Outcome::Reply(Reply::json(
                status,
                &json!({"retCode": INTERNAL, "errMsg": format!("injected fault: HTTP {status}")}),
            )),
            Err(e) => broken(&e),
        }
    } else if fault.rate_limit {
        match drain(&mut body).await {
            Err(e) => broken(&e),
            Ok(()) if path == "/v3/push/app" => {
                push_error(TOO_FAST, "injected fault: request too fast", 0)
            }
            Ok(()) => upload_reply(TOO_FAST, "injected fault: request too fast", 0),
        }
    } else {
        route(shared, method, path, headers, body).await
    };
    if let Some(delay) = fault.delay {
        tokio::time::sleep(delay).await;
    }
    outcome
}

async fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    mut body: BodyStream<'_>,
) -> Outcome {
    let allowed = match path {
        "/" | "/_emulator/uploads" | "/_emulator/pushes" => Method::GET,
        "/v3/push/package/upload" | "/v3/push/app" => Method::POST,
        _ => {
            return match drain(&mut body).await {
                Ok(()) => Outcome::Reply(Reply::json(
                    404,
                    &json!({"retCode": 404, "errMsg": format!("no such endpoint: {path}")}),
                )),
                Err(e) => broken(&e),
            };
        }
    };
    if *method != allowed && !(allowed == Method::GET && *method == Method::HEAD) {
        return match drain(&mut body).await {
            Ok(()) => Outcome::Reply(Reply::json(
                405,
                &json!({"retCode": 405, "errMsg": format!("{path} takes {allowed}")}),
            )),
            Err(e) => broken(&e),
        };
    }
    if let Some(reply) = refuse_early(shared, method, path, headers) {
        // Answered without reading the body; the connection closes after the answer.
        return Outcome::Reply(reply);
    }
    match path {
        "/" => Outcome::Reply(Reply::json(
            200,
            &json!({"status": "ok", "service": "tpns-emulator",
                    "uploads": shared.store.uploads().len(), "pushes": shared.store.pushes().len()}),
        )),
        "/_emulator/uploads" | "/_emulator/pushes" => listing(shared, path, headers),
        "/v3/push/package/upload" => upload(shared, headers, body).await,
        _ => push(shared, headers, body).await,
    }
}

/// `GET /_emulator/uploads` and `/_emulator/pushes`: the records of the app whose Basic
/// credentials the request carries, and only those; HTTP 401 without valid credentials.
fn listing(shared: &Shared, path: &str, headers: &HeaderMap) -> Outcome {
    let Some(app) = auth::basic(headers, &shared.apps) else {
        return Outcome::Reply(Reply::json(
            401,
            &json!({"retCode": AUTH_FAILED,
                    "errMsg": "authentication failed: /_emulator/ listings need an app's Basic \
                               credentials"}),
        ));
    };
    let all = if path == "/_emulator/uploads" {
        json!(shared.store.uploads())
    } else {
        json!(shared.store.pushes())
    };
    // Both kinds of record name the app that made them in `access_id`.
    let mine: Vec<&Value> = (all.as_array().into_iter().flatten())
        .filter(|record| record["access_id"] == app)
        .collect();
    Outcome::Reply(Reply::json(200, &json!(mine)))
}

/// `POST /v3/push/package/upload`: Basic auth, multipart with a `file` part, every package
/// rule, then the package is stored (or, in discard mode, only counted).
async fn upload(shared: &Shared, headers: &HeaderMap, mut body: BodyStream<'_>) -> Outcome {
    let Some(app) = auth::basic(headers, &shared.apps) else {
        // refuse_early answered this already; kept so that this function stands alone.
        return upload_reply(AUTH_FAILED, "authentication failed", 0);
    };
    let content_type = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = match multer::parse_boundary(content_type) {
        Ok(b) => b,
        Err(e) => {
            return match drain(&mut body).await {
                Ok(()) => upload_reply(PARSE_ERROR, &format!("not multipart/form-data: {e}"), 0),
                Err(e) => broken(&e),
            };
        }
    };
    // multer bounds the whole body and each part; the guard bounds what is not part content.
    let guard = FramingGuard::default();
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limits::MAX_UPLOAD_BODY)
            .per_field(limits::MAX_OTHER_PART)
            .for_field("file", limits::MAX_UPLOAD_BODY),
    );
    let mut multipart =
        multer::Multipart::with_constraints(guard.wrap(body), boundary, constraints);
    // The file part's verdict and synced temporary file; committed only once the whole body
    // has been read and is well formed (a second file part or a broken closing delimiter
    // afterwards must not leave a stored package behind).
    let mut result: Option<Result<Received, (u32, String)>> = None;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return multipart_failure(e),
        };
        let file_name = field.file_name().map(str::to_owned);
        if field.name() != Some("file") || result.is_some() {
            // A second file part: refused, unless the first was already refused (its reason
            // is the more useful message).
            if field.name() == Some("file") && result.as_ref().is_some_and(Result::is_ok) {
                result = Some(Err((INVALID_PARAMETER, "more than one file part".into())));
            }
            loop {
                match field.chunk().await {
                    Ok(Some(c)) => guard.took(c.len()),
                    Ok(None) => break,
                    Err(e) => return multipart_failure(e),
                }
            }
            continue;
        }
        let Some(file_name) = file_name else {
            result = Some(Err((
                MISSING_PARAMETER,
                "the file part has no filename".into(),
            )));
            continue;
        };
        match receive_file(shared, &file_name, &mut field, &guard).await {
            Ok(r) => result = Some(r),
            Err(e) => return multipart_failure(e),
        }
    }
    match result {
        None => upload_reply(MISSING_PARAMETER, "missing parameter: file", 0),
        Some(Ok(received)) => match received.commit(shared, &app) {
            Ok(record) => upload_reply(0, "", record.upload_id),
            Err((code, msg)) => upload_reply(code, &msg, 0),
        },
        Some(Err((code, msg))) => upload_reply(code, &msg, 0),
    }
}

/// A file part that passed the checks, synced to its temporary file, not yet committed.
struct Received {
    temp: crate::store::TempUpload,
    file_name: String,
    verdict: crate::package::Verdict,
}

impl Received {
    /// Renames the package into place and indexes it.
    fn commit(self, shared: &Shared, app: &str) -> Result<UploadRecord, (u32, String)> {
        // Renames and fsyncs block: keep them off the reactor threads.
        tokio::task::block_in_place(|| {
            shared
                .store
                .commit(self.temp, app, &self.file_name, &self.verdict)
        })
        .map_err(|e| {
            eprintln!("tpns-emulator: cannot commit an upload: {e}");
            (INTERNAL, "the emulator could not store the file".into())
        })
    }
}

/// A broken body (client gone, injected close) drops the connection and a slow one is
/// answered 408; a body over a size limit is "too large"; a malformed one is a parse error.
fn multipart_failure(e: multer::Error) -> Outcome {
    match e {
        multer::Error::StreamReadFailed(e) if limits::is_framing_error(&*e) => upload_reply(
            PARSE_ERROR,
            &format!("multipart parse error: {}", limits::FRAMING_TOO_LARGE),
            0,
        ),
        multer::Error::StreamReadFailed(e) => broken(&*e),
        multer::Error::StreamSizeExceeded { limit } => upload_reply(
            Rule::TooLarge.ret_code(),
            &format!(
                "{} (the request body passed {limit} bytes)",
                Rule::TooLarge.text()
            ),
            0,
        ),
        multer::Error::FieldSizeExceeded { limit, field_name } => upload_reply(
            Rule::TooLarge.ret_code(),
            &format!(
                "multipart part {:?} larger than {limit} bytes",
                field_name.unwrap_or_default()
            ),
            0,
        ),
        other => upload_reply(PARSE_ERROR, &format!("multipart parse error: {other}"), 0),
    }
}

/// Streams the file part through the checker into a temporary file, synced if it passes.
/// The outer error is a body that could not be read; the inner one a verdict.
async fn receive_file(
    shared: &Shared,
    file_name: &str,
    field: &mut multer::Field<'_>,
    guard: &FramingGuard,
) -> Result<Result<Received, (u32, String)>, multer::Error> {
    let mut checker = PackageChecker::new(file_name);
    let mut temp = match shared.store.begin_upload().await {
        Ok(t) => Some(t),
        Err(e) => {
            eprintln!("tpns-emulator: cannot create a temporary file: {e}");
            None
        }
    };
    let mut write_error = temp.is_none();
    while let Some(chunk) = field.chunk().await? {
        guard.took(chunk.len());
        checker.feed(&chunk);
        if checker.is_rejected() || write_error {
            continue;
        }
        if let Some(t) = temp.as_mut()
            && let Err(e) = t.write(&chunk).await
        {
            eprintln!("tpns-emulator: cannot write a temporary file: {e}");
            write_error = true;
        }
    }
    let verdict = match checker.finish() {
        Ok(v) => v,
        Err(v) => return Ok(Err((v.rule.ret_code(), v.to_string()))),
    };
    let Some(mut temp) = temp.filter(|_| !write_error) else {
        return Ok(Err((
            INTERNAL,
            "the emulator could not store the file".into(),
        )));
    };
    if let Err(e) = temp.sync().await {
        eprintln!("tpns-emulator: cannot fsync a temporary file: {e}");
        return Ok(Err((
            INTERNAL,
            "the emulator could not store the file".into(),
        )));
    }
    Ok(Ok(Received {
        temp,
        file_name: file_name.to_owned(),
        verdict,
    }))
}

/// Reads a whole body of at most `cap` bytes; `Ok(None)` if it is larger (the rest is
/// drained, within the body's time limits, and not kept).
async fn read_all(body: &mut BodyStream<'_>, cap: usize) -> io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let mut too_large = false;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > cap {
            too_large = true;
            out = Vec::new();
        } else if !too_large {
            out.extend_from_slice(&chunk);
        }
    }
    Ok((!too_large).then_some(out))
}

/// `POST /v3/push/app` for package pushes: Basic or signature auth, the message checked, the
/// upload id owned by the app, one package push per second per app.
async fn push(shared: &Shared, headers: &HeaderMap, mut body: BodyStream<'_>) -> Outcome {
    let bytes = match read_all(&mut body, MAX_PUSH_BODY).await {
        Ok(Some(b)) => b,
        Ok(None) => return push_error(PARSE_ERROR, "request body larger than 1 MiB", 0),
        Err(e) => return broken(&e),
    };
    let app = if headers.contains_key(hyper::header::AUTHORIZATION) {
        auth::basic(headers, &shared.apps)
    } else if auth::has_signature(headers) {
        auth::signature(
            headers,
            &bytes,
            &shared.apps,
            unix_now(),
            shared.limits.max_clock_skew,
        )
    } else {
        None
    };
    let Some(app) = app else {
        return push_error(AUTH_FAILED, "authentication failed", 0);
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return push_error(PARSE_ERROR, "the body must be a JSON object", 0),
        Err(e) => return push_error(PARSE_ERROR, &format!("parameter parse error: {e}"), 0),
    };
    let seq = value.get("seq").and_then(Value::as_i64).unwrap_or(0);
    let req = match check_push(&value) {
        Ok(r) => r,
        Err((code, msg)) => return push_error(code, &msg, seq),
    };
    match shared.store.upload(req.upload_id) {
        Some(u) if u.access_id == app => {}
        _ => {
            return push_error(
                INVALID_PARAMETER,
                &format!(
                    "invalid parameter: upload_id {} is not a package of app {app}",
                    req.upload_id
                ),
                seq,
            );
        }
    }
    if !shared.store.take_push_slot(&app, PUSH_INTERVAL) {
        return push_error(
            TOO_FAST,
            "request too fast: at most one package push per second per app",
            seq,
        );
    }
    let recorded = tokio::task::block_in_place(|| {
        shared.store.record_push(|push_id| PushRecord {
            push_id,
            upload_id: req.upload_id,
            access_id: app.clone(),
            audience_type: req.audience_type.clone(),
            message_type: req.message_type.clone(),
            title: req.title.clone(),
            content: req.content.clone(),
            time: unix_now(),
            request: value.clone(),
        })
    });
    match recorded {
        Ok(r) => Outcome::Reply(Reply::json(
            200,
            &json!({
                "seq": seq,
                "push_id": r.push_id,
                "ret_code": 0,
                "err_msg": "NO_ERROR",
                "err_msg_zh": "",
                "environment": req.environment,
                "result": json!({"push_id": r.push_id}).to_string(),
                "invalid_targe_list": [],
            }),
        )),
        Err(e) => {
            eprintln!("tpns-emulator: cannot record a push: {e}");
            push_error(INTERNAL, "the emulator could not record the push", seq)
        }
    }
}

/// The fields of a package push the emulator keeps.
#[derive(Debug)]
struct PushRequest {
    audience_type: String,
    upload_id: u64,
    message_type: String,
    title: String,
    content: String,
    environment: String,
}

/// Checks a push body's fields (docs/TPNS-API.md, "Package push").
fn check_push(v: &Value) -> Result<PushRequest, (u32, String)> {
    let missing = |name: &str| (MISSING_PARAMETER, format!("missing parameter: {name}"));
    let invalid = |what: String| (INVALID_PARAMETER, format!("invalid parameter: {what}"));
    let audience_type = match v.get("audience_type") {
        None => return Err(missing("audience_type")),
        Some(Value::String(s)) if s == "package_account_push" || s == "package_token_push" => {
            s.clone()
        }
        Some(other) => {
            return Err(invalid(format!(
                "audience_type {other} (the emulator takes package_account_push or \
                 package_token_push)"
            )));
        }
    };
    let upload_id = match v.get("upload_id") {
        None => return Err(missing("upload_id")),
        Some(n) => match n.as_u64() {
            Some(id) if id > 0 => id,
            _ => return Err(invalid(format!("upload_id {n} must be a positive integer"))),
        },
    };
    let message_type = match v.get("message_type") {
        None => return Err(missing("message_type")),
        Some(Value::String(s)) if s == "notify" || s == "message" => s.clone(),
        Some(other) => return Err(invalid(format!("message_type {other}"))),
    };
    let message = match v.get("message") {
        None => return Err(missing("message")),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(invalid("message must be an object".into())),
    };
    let text = |name: &str, required: bool| -> Result<String, (u32, String)> {
        match message.get(name) {
            None | Some(Value::Null) if required => Err(missing(&format!("message.{name}"))),
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) if required && s.is_empty() => {
                Err(missing(&format!("message.{name}")))
            }
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(invalid(format!("message.{name} must be a string"))),
        }
    };
    let notify = message_type == "notify";
    let title = text("title", notify)?;
    let content = text("content", true)?;
    let environment = match v.get("environment") {
        None => "product".to_owned(),
        Some(Value::String(s)) if s == "product" || s == "dev" => s.clone(),
        Some(other) => return Err(invalid(format!("environment {other}"))),
    };
    let int_in = |name: &str, lo: i64, hi: i64| -> Result<(), (u32, String)> {
        match v.get(name) {
            None => Ok(()),
            Some(n) => match n.as_i64() {
                Some(x) if (lo..=hi).contains(&x) => Ok(()),
                _ => Err(invalid(format!(
                    "{name} {n} must be an integer in {lo}..={hi}"
                ))),
            },
        }
    };
    int_in("expire_time", 0, 259_200)?;
    int_in("push_speed", 1000, 50_000)?;
    int_in("account_push_type", 0, 1)?;
    int_in("account_type", 0, i64::MAX)?;
    int_in("seq", i64::MIN, i64::MAX)?;
    if let Some(t) = v.get("send_time") {
        match t.as_str() {
            Some(s) if is_send_time(s) => {}
            _ => {
                return Err(invalid(format!(
                    "send_time {t} must be yyyy-MM-DD HH:MM:SS"
                )));
            }
        }
    }
    int_in("collapse_id", 0, i64::MAX)?;
    check_message_parts(message).map_err(invalid)?;
    let len = v["message"].to_string().len();
    if len > MAX_MESSAGE_LEN {
        return Err(invalid(format!(
            "message is {len} bytes (at most {MAX_MESSAGE_LEN})"
        )));
    }
    Ok(PushRequest {
        audience_type,
        upload_id,
        message_type,
        title,
        content,
        environment,
    })
}

/// Most bytes of the `message` value (TPNS: 4 KB), measured here as compact JSON: a client
/// that sends white space inside it has less room, never more.
const MAX_MESSAGE_LEN: usize = 4096;

/// Checks the typed parts of `message` besides title and content: `accept_time` a list of
/// `{"start":{"hour":"HH","min":"MM"},"end":{…}}` (hour and min are strings of digits, as
/// TPNS documents them, on the clock), `android` and `ios` objects, and their
/// `custom_content` a string holding a JSON object. Returns what is wrong.
fn check_message_parts(message: &serde_json::Map<String, Value>) -> Result<(), String> {
    if let Some(list) = message.get("accept_time") {
        let Value::Array(windows) = list else {
            return Err(format!("message.accept_time {list} must be an array"));
        };
        for (i, w) in windows.iter().enumerate() {
            for end in ["start", "end"] {
                for (unit, max) in [("hour", 23), ("min", 59)] {
                    let at = &w[end][unit];
                    let ok = at.as_str().is_some_and(|t| {
                        (1..=2).contains(&t.len())
                            && t.bytes().all(|b| b.is_ascii_digit())
                            && t.parse::<u8>().is_ok_and(|n| n <= max)
                    });
                    if !ok {
                        return Err(format!(
                            "message.accept_time[{i}].{end}.{unit} {at} must be a string \
                             \"0\" to \"{max}\""
                        ));
                    }
                }
            }
        }
    }
    for platform in ["android", "ios"] {
        let Some(part) = message.get(platform) else {
            continue;
        };
        let Value::Object(part) = part else {
            return Err(format!("message.{platform} must be an object"));
        };
        if let Some(custom) = part.get("custom_content") {
            let holds_object = custom
                .as_str()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .is_some_and(|c| c.is_object());
            if !holds_object {
                return Err(format!(
                    "message.{platform}.custom_content {custom} must be a string holding a \
                     JSON object"
                ));
            }
        }
    }
    Ok(())
}

/// `yyyy-MM-DD HH:MM:SS`, digits in the right places.
fn is_send_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(v: Value) -> u32 {
        check_push(&v).map(|_| 0).unwrap_or_else(|e| e.0)
    }

    #[test]
    fn push_fields() {
        let ok = json!({"audience_type":"package_account_push","upload_id":7,
                        "message_type":"notify","message":{"title":"t","content":"c"}});
        assert_eq!(code(ok.clone()), 0);
        let mut v = ok.clone();
        v.as_object_mut().unwrap().remove("upload_id");
        assert_eq!(code(v), MISSING_PARAMETER);
        let mut v = ok.clone();
        v["audience_type"] = json!("all");
        assert_eq!(code(v), INVALID_PARAMETER);
        let mut v = ok.clone();
        v["upload_id"] = json!("7");
        assert_eq!(code(v), INVALID_PARAMETER);
        let mut v = ok.clone();
        v["message_type"] = json!("toast");
        assert_eq!(code(v), INVALID_PARAMETER);
        let mut v = ok.clone();
        v["message"] = json!({"content":"c"});
        assert_eq!(code(v), MISSING_PARAMETER);
        let mut v = ok.clone();
        v["message_type"] = json!("message");
        v["message"] = json!({"content":"c"});
        assert_eq!(code(v), 0);
        let mut v = ok.clone();
        v["expire_time"] = json!(259_201);
        assert_eq!(code(v), INVALID_PARAMETER);
        let mut v = ok.clone();
        v["push_speed"] = json!(999);
        assert_eq!(code(v), INVALID_PARAMETER);
        let mut v = ok.clone();
        v["send_time"] = json!("2026-11-26 13:00:00");
        v["environment"] = json!("dev");
        v["seq"] = json!(42);
        assert_eq!(code(v), 0);
        let mut v = ok.clone();
        v["send_time"] = json!("2026-11-26T13:00:00");
        assert_eq!(code(v), INVALID_PARAMETER);
    }

    #[test]
    fn message_parts() {
        let ok = json!({"audience_type":"package_account_push","upload_id":7,
                        "message_type":"notify","message":{"title":"t","content":"c"}});
        let with = |key: &str, part: Value| {
            let mut v = ok.clone();
            v["message"][key] = part;
            code(v)
        };
        let window = |h: Value, m: Value| json!([{"start":{"hour":h,"min":m},"end":{"hour":"23","min":"59"}}]);
        assert_eq!(with("accept_time", window(json!("08"), json!("00"))), 0);
        assert_eq!(with("accept_time", json!([])), 0);
        for bad in [
            window(json!(8), json!("00")),
            window(json!("24"), json!("00")),
            window(json!("08"), json!("60")),
            window(json!("8a"), json!("00")),
            window(json!("008"), json!("00")),
            json!([{"start":{"hour":"08","min":"00"}}]),
            json!({"start":{}}),
            json!("08:00-09:00"),
        ] {
            assert_eq!(with("accept_time", bad.clone()), INVALID_PARAMETER, "{bad}");
        }
        for platform in ["android", "ios"] {
            assert_eq!(with(platform, json!({"n_id":1,"aps":{"x":[1]}})), 0);
            assert_eq!(with(platform, json!({"custom_content":"{\"k\":1}"})), 0);
            for bad in [
                json!([1]),
                json!("{}"),
                json!({"custom_content":{"k":1}}),
                json!({"custom_content":"[1]"}),
                json!({"custom_content":"{"}),
            ] {
                assert_eq!(with(platform, bad.clone()), INVALID_PARAMETER, "{bad}");
            }
        }
        for (field, bad) in [
            ("collapse_id", json!(-1)),
            ("collapse_id", json!("12")),
            ("account_type", json!("1")),
            ("account_type", json!(-1)),
            ("account_push_type", json!(2)),
            ("seq", json!(1.5)),
            ("expire_time", json!("60")),
            ("push_speed", json!(50_001)),
        ] {
            let mut v = ok.clone();
            v[field] = bad.clone();
            assert_eq!(code(v), INVALID_PARAMETER, "{field}: {bad}");
        }
        let mut v = ok.clone();
        v["collapse_id"] = json!(12);
        assert_eq!(code(v), 0);
        // 4096 bytes of compact message pass, one more does not.
        let frame = json!({"title":"t","content":""}).to_string().len();
        let mut v = ok.clone();
        v["message"]["content"] = json!("x".repeat(MAX_MESSAGE_LEN - frame));
        assert_eq!(code(v.clone()), 0);
        v["message"]["content"] = json!("x".repeat(MAX_MESSAGE_LEN - frame + 1));
        assert_eq!(code(v), INVALID_PARAMETER);
    }
}
