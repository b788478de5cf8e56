//! The push endpoint: Basic and signature auth (with Tencent's vector), field checks, package
//! ownership, the one-push-per-second limit, and recorded pushes.

mod common;

use base64::Engine;
use bytes::Bytes;
use common::*;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::Request;
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;
use tpns_emulator::Emulator;

/// The signature of docs/TPNS-API.md, computed here independently of the emulator's code.
fn sign(secret: &str, ts: &str, id: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(id.as_bytes());
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    base64::engine::general_purpose::STANDARD.encode(hex)
}

const VECTOR_BODY: &str = r#"{"audience_type": "account","message": {"title": "test title","content": "test content","android": { "action": {"action_type": 3,"intent": "xgscheme://com.xg.push/notify_detail?param1=xg"}}},"message_type": "notify","account_list": ["5822f0eee44c3625ef0000bb"] }"#;
const VECTOR_SIGN: &str =
    "MDlmMDdkMmE1MThhODgxNGUzNjlkY2Q5NTM0ZjEwYjhhMjlkMTI4NTMxYTE5YWRhYTI4Y2IyNDc2MDVjMWU4NA==";

enum Auth<'a> {
    Basic(&'a str, &'a str),
    Sign(&'a str, &'a str, &'a str),
    Raw(&'a str, &'a str, &'a str),
    None,
}

async fn push(t: &Target, auth: Auth<'_>, body: &[u8]) -> Answer {
    let mut b = Request::post("/v3/push/app")
        .header("host", "localhost")
        .header("content-type", "application/json");
    match auth {
        Auth::Basic(id, secret) => b = b.header("authorization", basic(id, secret)),
        Auth::Sign(id, secret, ts) => {
            b = b
                .header("AccessId", id)
                .header("TimeStamp", ts)
                .header("Sign", sign(secret, ts, id, body));
        }
        Auth::Raw(id, ts, sig) => {
            b = b
                .header("AccessId", id)
                .header("TimeStamp", ts)
                .header("Sign", sig);
        }
        Auth::None => {}
    }
    send(t, b.body(Full::new(Bytes::copy_from_slice(body))).unwrap())
        .await
        .unwrap()
}

/// A push signed by the test app with the TimeStamp `ts`.
async fn push_signed_at(t: &Target, ts: u64, body: &[u8]) -> Answer {
    push(t, Auth::Sign(APP.0, APP.1, &ts.to_string()), body).await
}

/// This machine's clock, in unix seconds: the emulator checks a signature's TimeStamp
/// against it.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Uploads `n` rows as `file_name` with the test app's credentials: the upload's id.
async fn uploaded(t: &Target, file_name: &str, n: usize) -> u64 {
    let answer = upload(t, file_name, &rows(n)).await.json();
    answer["uploadId"].as_u64().unwrap()
}

/// An emulator with the base configuration reached over plain HTTP, with a package of two
/// rows that the test app uploaded: its id.
async fn start_with_a_package(tag: &str) -> (TempDir, Emulator, Target, u64) {
    let (dir, emu) = start_emulator(tag);
    let t = Target::http(&emu);
    let id = uploaded(&t, "p.txt", 2).await;
    (dir, emu, t, id)
}

/// Uploads two rows with the other app's credentials: the upload's id.
async fn uploaded_by_the_other_app(t: &Target) -> u64 {
    let request = upload_request(UPLOAD, Some(OTHER_APP), "o.txt", &rows(2));
    let answer = send(t, request).await.unwrap().json();
    answer["uploadId"].as_u64().unwrap()
}

/// The test app's Basic credentials.
fn basic_auth() -> Auth<'static> {
    Auth::Basic(APP.0, APP.1)
}

/// `base` with the value at `path` (keys from the top) set to `value`, or removed where
/// `value` is null: one wrong or missing field in an otherwise valid push.
fn edited(base: &serde_json::Value, path: &[&str], value: serde_json::Value) -> serde_json::Value {
    let mut v = base.clone();
    let (last, parents) = path.split_last().unwrap();
    let mut at = &mut v;
    for key in parents {
        at = &mut at[*key];
    }
    if value.is_null() {
        at.as_object_mut().unwrap().remove(*last);
    } else {
        at[*last] = value;
    }
    v
}

fn push_body(upload_id: u64) -> Vec<u8> {
    json!({"audience_type": "package_account_push", "upload_id": upload_id,
           "message_type": "notify", "message": {"title": "hello", "content": "world"},
           "seq": 77})
    .to_string()
    .into_bytes()
}

#[test]
fn api_md_vector_by_an_independent_signer() {
    assert_eq!(
        sign(
            "1452fcebae9f3115ba794fb0fff2fd73",
            "1565314789",
            "1500001048",
            VECTOR_BODY.as_bytes()
        ),
        VECTOR_SIGN
    );
}

#[tokio::test]
async fn package_push_with_both_auth_schemes() {
    let (dir, emu) = start_emulator("push");
    let t = Target::https(&emu);
    let id = uploaded(&t, "p.txt", 3).await;

    let a = push(&t, Auth::Basic(APP.0, APP.1), &push_body(id)).await;
    assert_eq!(a.status, 200);
    let j = a.json();
    assert_eq!(j["ret_code"], 0, "{j}");
    assert_eq!(j["err_msg"], "NO_ERROR");
    assert_eq!(j["seq"], 77);
    assert_eq!(j["push_id"], "1");
    assert!(j["result"].is_string());

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ts = now().to_string();
    let a = push(&t, Auth::Sign(APP.0, APP.1, &ts), &push_body(id)).await;
    assert_eq!(a.json()["ret_code"], 0, "{}", a.json());
    assert_eq!(a.json()["push_id"], "2");

    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[0].upload_id, id);
    assert_eq!(pushes[0].access_id, APP.0);
    assert_eq!(pushes[0].audience_type, "package_account_push");
    assert_eq!(pushes[0].message_type, "notify");
    assert_eq!(
        (pushes[0].title.as_str(), pushes[0].content.as_str()),
        ("hello", "world")
    );
    let listed = get_as(&t, "/_emulator/pushes", APP).await.json();
    assert_eq!(listed[1]["push_id"], "2");

    // Pushes are recorded durably and push ids keep increasing after a restart.
    emu.shutdown();
    let emu = Emulator::start(config(dir.path())).unwrap();
    assert_eq!(emu.pushes(), pushes);
    let a = push(
        &Target::https(&emu),
        Auth::Basic(APP.0, APP.1),
        &push_body(id),
    )
    .await;
    assert_eq!(a.json()["push_id"], "3");
}

#[tokio::test]
async fn bad_credentials_and_signatures() {
    let dir = TempDir::new("push-auth");
    // Tencent's test vector was signed in 2019: allow its age, to check its signature alone.
    let mut cfg = config(dir.path());
    cfg.limits.max_clock_skew = Duration::from_secs(u64::MAX);
    let emu = Emulator::start(cfg).unwrap();
    let t = Target::http(&emu);
    let body = push_body(1);
    let ts = now().to_string();
    for auth in [
        Auth::None,
        Auth::Basic(APP.0, "nope"),
        Auth::Sign(APP.0, "nope", &ts),
        Auth::Sign("123", APP.1, &ts),
        Auth::Raw(APP.0, &ts, "bm90IGEgc2lnbg=="),
    ] {
        assert_eq!(push(&t, auth, &body).await.ret_code(), 1_008_003);
    }
    // Tencent's test vector authenticates (its body is an account push, which the emulator
    // refuses as a parameter, not as auth); one changed byte of the body does not.
    let vector_auth = || Auth::Raw(APP.0, "1565314789", VECTOR_SIGN);
    let a = push(&t, vector_auth(), VECTOR_BODY.as_bytes()).await;
    assert_eq!(a.ret_code(), 1_008_007, "{}", a.json());
    let tampered = VECTOR_BODY.replace("test title", "test titlf");
    let a = push(&t, vector_auth(), tampered.as_bytes()).await;
    assert_eq!(a.ret_code(), 1_008_003);
    assert!(emu.pushes().is_empty());
}

#[tokio::test]
async fn fields_and_ownership_are_checked() {
    let (_dir, emu, t, mine) = start_with_a_package("push-fields").await;
    let theirs = uploaded_by_the_other_app(&t).await;
    let base = json!({"audience_type": "package_account_push", "upload_id": mine,
                      "message_type": "notify", "message": {"title": "t", "content": "c"}});
    let token = edited(&base, &["audience_type"], json!("package_token_push"));
    let cases = [
        (edited(&base, &["upload_id"], json!(theirs)), 1_008_007),
        (edited(&base, &["upload_id"], json!(999)), 1_008_007),
        (edited(&base, &["audience_type"], json!(null)), 1_008_002),
        (edited(&base, &["upload_id"], json!(null)), 1_008_002),
        (edited(&base, &["audience_type"], json!("all")), 1_008_007),
        (edited(&token, &["message_type"], json!("toast")), 1_008_007),
        (
            edited(&token, &["message", "title"], json!(null)),
            1_008_002,
        ),
        (edited(&token, &["expire_time"], json!(300000)), 1_008_007),
    ];
    for (body, code) in cases {
        let a = push(&t, basic_auth(), body.to_string().as_bytes()).await;
        assert_eq!(a.ret_code(), code, "{body} -> {}", a.json());
    }
    assert_eq!(
        push(&t, basic_auth(), b"{not json").await.ret_code(),
        1_008_001
    );
    assert_eq!(push(&t, basic_auth(), b"[1,2]").await.ret_code(), 1_008_001);
    assert!(emu.pushes().is_empty());
    // A token push of the app's own package is fine.
    let ok = json!({"audience_type":"package_token_push","upload_id":mine,"message_type":"message",
                    "message":{"content":"c"},"environment":"dev"});
    let a = push(&t, basic_auth(), ok.to_string().as_bytes()).await;
    assert_eq!(a.ret_code(), 0, "{}", a.json());
    assert_eq!(a.json()["environment"], "dev");
}

#[tokio::test]
async fn one_package_push_per_second_per_app() {
    let (_dir, emu, t, mine) = start_with_a_package("push-rate").await;
    let theirs = uploaded_by_the_other_app(&t).await;
    let body = push_body(mine);
    let push_mine = || push(&t, basic_auth(), &body);
    assert_eq!(push_mine().await.ret_code(), 0);
    let a = push_mine().await;
    assert_eq!(a.ret_code(), 1_008_028);
    // Another app has its own budget.
    let a = push(
        &t,
        Auth::Basic(OTHER_APP.0, OTHER_APP.1),
        &push_body(theirs),
    )
    .await;
    assert_eq!(a.ret_code(), 0);
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(push_mine().await.ret_code(), 0);
    assert_eq!(emu.pushes().len(), 3);
}

#[tokio::test]
async fn a_signature_timestamp_out_of_the_clock_skew_is_refused() {
    let (_dir, emu, t, id) = start_with_a_package("push-skew").await;
    let body = push_body(id);
    // Ten minutes either way by default; a margin of 60 s keeps the test off the edge.
    for ts in [now() - 660, now() + 660, 0] {
        let a = push_signed_at(&t, ts, &body).await;
        assert_eq!(a.ret_code(), 1_008_003, "{ts}: {}", a.json());
    }
    assert!(emu.pushes().is_empty());
    let a = push_signed_at(&t, now() - 540, &body).await;
    assert_eq!(a.ret_code(), 0, "{}", a.json());
    emu.shutdown();

    // A tighter skew: 30 s.
    let dir = TempDir::new("push-skew-30");
    let mut cfg = config(dir.path());
    cfg.limits.max_clock_skew = Duration::from_secs(30);
    let emu = Emulator::start(cfg).unwrap();
    let t = Target::http(&emu);
    let id = uploaded(&t, "s.txt", 2).await;
    let a = push_signed_at(&t, now() - 90, &push_body(id)).await;
    assert_eq!(a.ret_code(), 1_008_003);
    assert!(emu.pushes().is_empty());
}

#[tokio::test]
async fn message_parts_are_checked_and_the_request_recorded() {
    let (dir, emu, t, id) = start_with_a_package("push-parts").await;
    let full = json!({
        "audience_type": "package_account_push", "upload_id": id, "message_type": "notify",
        "message": {
            "title": "t", "content": "c",
            "accept_time": [{"start": {"hour": "08", "min": "00"},
                             "end": {"hour": "22", "min": "30"}}],
            "android": {"n_id": 0, "custom_content": "{\"k\":\"v\"}"},
            "ios": {"aps": {"badge_type": -1}, "custom_content": "{\"k\":\"v\"}"},
        },
        "environment": "dev", "account_type": 1, "account_push_type": 1, "expire_time": 3600,
        "push_speed": 1000, "collapse_id": 5, "seq": 9, "send_time": "2026-12-01 08:00:00",
    });
    let bad = |path: &[&str], value| edited(&full, path, value);
    for body in [
        bad(
            &["message", "accept_time"],
            json!([{"start": {"hour": 8, "min": "00"}}]),
        ),
        bad(&["message", "android"], json!("{}")),
        bad(&["message", "ios", "custom_content"], json!({"k": "v"})),
        bad(&["message", "android", "custom_content"], json!("not json")),
        bad(&["collapse_id"], json!("5")),
        bad(&["account_push_type"], json!(2)),
        bad(&["message", "content"], json!("x".repeat(4096))),
    ] {
        let a = push(&t, basic_auth(), body.to_string().as_bytes()).await;
        assert_eq!(a.ret_code(), 1_008_007, "{body} -> {}", a.json());
    }
    assert!(emu.pushes().is_empty());
    let a = push(&t, basic_auth(), full.to_string().as_bytes()).await;
    assert_eq!(a.ret_code(), 0, "{}", a.json());
    assert_eq!(a.json()["seq"], 9);
    let pushes = emu.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].request, full);
    // The listing shows it too, and it survives a restart.
    let listed = get_as(&t, "/_emulator/pushes", APP).await.json();
    assert_eq!(listed[0]["request"], full);
    emu.shutdown();
    let emu = Emulator::start(config(dir.path())).unwrap();
    assert_eq!(emu.pushes()[0].request, full);
}
