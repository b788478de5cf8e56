//! `tpns push` with every push option against the emulator, over real sockets on 127.0.0.1:
//! each flag's value read back from the JSON the emulator received, both auth modes, the
//! 4096-byte message limit, and the local checks that send nothing (exit 2).

mod common;

use std::net::TcpListener;

use common::{GENEROUS, Run, run, tpns_command};
use serde_json::{Value, json};
use tpns_test_support::{Emu, SECRET, TempDir};

/// Runs `tpns` with `args`, the AccessID and `secret` in the environment; checks that the
/// secret appears in no output.
fn tpns_with_secret(args: &[&str], secret: &str) -> Run {
    let run = run(
        tpns_command().args(args).env("TPNS_SECRET_KEY", secret),
        GENEROUS,
    );
    run.assert_hides(&[secret], &args);
    run
}

fn tpns(args: &[&str]) -> Run {
    tpns_with_secret(args, SECRET)
}

/// Appends `--title TITLE` and `--content CONTENT` to `args` where `extra` does not give
/// them, then `extra`.
fn with_text<'a>(args: &mut Vec<&'a str>, extra: &[&'a str], title: &'a str, content: &'a str) {
    if !extra.contains(&"--title") {
        args.extend(["--title", title]);
    }
    if !extra.contains(&"--content") {
        args.extend(["--content", content]);
    }
    args.extend_from_slice(extra);
}

/// An emulator with the app, a package uploaded to it, and a scratch directory.
struct Env {
    emu: Emu,
    upload_id: String,
}

impl Env {
    fn new(tag: &str) -> Env {
        let mut env = Env {
            emu: Emu::https_only(&format!("push-{tag}")),
            upload_id: String::new(),
        };
        let package = env.write("p.txt", b"alice\nbob\n");
        let run = tpns(&[
            "upload",
            "--endpoint",
            &env.emu.https_url(),
            "--ca-file",
            env.emu.ca(),
            &package,
        ]);
        assert_eq!(run.code, 0, "{run:?}");
        env.upload_id = run.stdout.trim().to_owned();
        env
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        self.emu.dir().write(name, bytes)
    }

    /// `tpns push` of this package with title and content, then `extra`.
    fn push(&self, extra: &[&str]) -> Run {
        self.push_as(SECRET, extra)
    }

    fn push_as(&self, secret: &str, extra: &[&str]) -> Run {
        let url = self.emu.https_url();
        let mut args = vec![
            "push",
            "--upload-id",
            &self.upload_id,
            "--endpoint",
            &url,
            "--ca-file",
            self.emu.ca(),
            "--retries",
            "0",
        ];
        with_text(&mut args, extra, "Hello", "World");
        tpns_with_secret(&args, secret)
    }

    /// The bodies the emulator accepted, as it parsed them.
    fn received(&self) -> Vec<Value> {
        self.emu.pushes().into_iter().map(|p| p.request).collect()
    }
}

const ANDROID: &str = r#"{
  "n_id": 0, "ring": 1, "vibrate": 1,
  "action": {"action_type": 3, "intent": "xgscheme://com.xg.push/detail?x=\u00e9"}
}
"#;
const IOS: &str = r#"{"aps":{"alert":{"subtitle":"Tonight"},"badge_type":-1,"sound":"a.caf"}}"#;

#[test]
fn every_push_option_arrives_as_given() {
    let env = Env::new("all");
    let android = env.write("android.json", ANDROID.as_bytes());
    let ios = env.write("ios.json", IOS.as_bytes());
    let custom = r#"{"page":"status","n":[1,2]}"#;
    let run = env.push(&[
        "--title",
        "Maintenance \"tonight\" 维护",
        "--content",
        "Down 22:00-23:00\n",
        "--environment",
        "dev",
        "--account-type",
        "1",
        "--account-push-type",
        "1",
        "--expire-time",
        "3600",
        "--send-time",
        "2026-12-01 08:00:00",
        "--push-speed",
        "1000",
        "--collapse-id",
        "77",
        "--seq",
        "42",
        "--accept-time",
        "08:00-12:30",
        "--accept-time",
        "22:15-06:05",
        "--android-json",
        &android,
        "--ios-json",
        &ios,
        "--custom-content",
        custom,
        "--json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let printed: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(printed["seq"], 42);
    let mut android: Value = serde_json::from_str(ANDROID).unwrap();
    android["custom_content"] = custom.into();
    let mut ios: Value = serde_json::from_str(IOS).unwrap();
    ios["custom_content"] = custom.into();
    let upload_id: u64 = env.upload_id.parse().unwrap();
    assert_eq!(
        env.received(),
        [json!({
            "audience_type": "package_account_push",
            "upload_id": upload_id,
            "message_type": "notify",
            "message": {
                "title": "Maintenance \"tonight\" 维护",
                "content": "Down 22:00-23:00\n",
                "accept_time": [
                    {"start": {"hour": "08", "min": "00"}, "end": {"hour": "12", "min": "30"}},
                    {"start": {"hour": "22", "min": "15"}, "end": {"hour": "06", "min": "05"}},
                ],
                "android": android,
                "ios": ios,
            },
            "environment": "dev",
            "account_type": 1,
            "account_push_type": 1,
            "expire_time": 3600,
            "push_speed": 1000,
            "collapse_id": 77,
            "seq": 42,
            "send_time": "2026-12-01 08:00:00",
        })]
    );
    assert_eq!(printed["pushId"], env.emu.pushes()[0].push_id.as_str());
}

#[test]
fn platform_parts_alone_and_custom_content_alone() {
    let env = Env::new("parts");
    let android = env.write("android.json", ANDROID.as_bytes());
    let ios = env.write("ios.json", b"  {}\n");
    let run = env.push(&[
        "--message-type",
        "message",
        "--audience",
        "token",
        "--title",
        "",
        "--android-json",
        &android,
        "--ios-json",
        &ios,
        "--account-push-type",
        "0",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let got = env.received();
    assert_eq!(got.len(), 1);
    let message = &got[0]["message"];
    assert_eq!(message["title"], "");
    assert_eq!(
        message["android"],
        serde_json::from_str::<Value>(ANDROID).unwrap()
    );
    assert_eq!(message["ios"], json!({}));
    assert!(message.get("accept_time").is_none());
    assert_eq!(got[0]["message_type"], "message");
    assert_eq!(got[0]["audience_type"], "package_token_push");
    assert_eq!(got[0]["account_push_type"], 0);
    for absent in [
        "environment",
        "expire_time",
        "push_speed",
        "collapse_id",
        "seq",
    ] {
        assert!(got[0].get(absent).is_none(), "{absent}: {}", got[0]);
    }

    let env = Env::new("custom");
    let run = env.push(&["--custom-content", r#"{"k":"v"}"#]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        env.received()[0]["message"],
        json!({"title": "Hello", "content": "World",
               "android": {"custom_content": "{\"k\":\"v\"}"},
               "ios": {"custom_content": "{\"k\":\"v\"}"}})
    );
}

#[test]
fn both_auth_modes_push_and_a_wrong_secret_is_refused() {
    let env = Env::new("basic");
    let run = env.push(&["--auth", "basic", "--seq", "1"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(env.received().len(), 1);

    let env = Env::new("sign");
    let run = env.push(&["--auth", "sign", "--seq", "2"]);
    assert_eq!(run.code, 0, "{run:?}");
    let pushes = env.emu.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].request["seq"], 2);
    assert_eq!(run.stdout, format!("{}\n", pushes[0].push_id));

    // A signature made with the wrong secret: exit 4, nothing recorded.
    let env = Env::new("sign-wrong");
    let run = env.push_as("0000aaaabbbbccccddddeeeeffff9999", &["--auth", "sign"]);
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stdout.is_empty());
    assert!(env.received().is_empty());
}

#[test]
fn the_message_takes_4096_bytes_and_no_more() {
    let env = Env::new("4k");
    // {"title":"Hello","content":""} is 30 bytes.
    let fits = "x".repeat(4096 - 30);
    let run = env.push(&["--content", &fits]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(env.received().len(), 1);

    let env = Env::new("4k-over");
    let over = format!("{fits}x");
    let run = env.push(&["--content", &over]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("longer than 4096 bytes"), "{run:?}");
    // Escapes count as sent: 2100 quotes take 4200 bytes.
    let quotes = "\"".repeat(2100);
    assert_eq!(env.push(&["--content", &quotes]).code, 2);
    // A platform part counts with its white space.
    let padded = format!("{{{}}}", " ".repeat(4096 - 30 - 12));
    let android = env.write("padded.json", padded.as_bytes());
    let run = env.push(&["--android-json", &android]);
    assert_eq!(run.code, 2, "{run:?}");
    let big = env.write(
        "big.json",
        format!("{{\"a\":\"{}\"}}", "y".repeat(5000)).as_bytes(),
    );
    let run = env.push(&["--ios-json", &big]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("4096"), "{run:?}");
    assert!(env.received().is_empty());
}

/// Runs `tpns push` with `args` against a listener that must never see a connection.
fn refused_locally(dir: &std::path::Path, args: &[&str]) -> Run {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let mut all = vec![
        "push",
        "--upload-id",
        "7",
        "--endpoint",
        &url,
        "--retries",
        "0",
    ];
    with_text(&mut all, args, "t", "c");
    let run = tpns(&all);
    assert_eq!(run.code, 2, "{args:?}: {run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(
        listener
            .accept()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "{args:?} connected"
    );
    let _ = dir;
    run
}

#[test]
fn bad_push_input_exits_2_and_sends_nothing() {
    let tmp = TempDir::new("push-bad");
    let dir = tmp.path();
    let file = |name: &str, bytes: &[u8]| tmp.write(name, bytes);
    let deep = format!("{}1{}", "{\"a\":".repeat(40), "}".repeat(40));
    let bad_json: [(&str, &[u8]); 9] = [
        ("empty.json", b""),
        ("array.json", b"[1,2]"),
        ("string.json", b"\"{}\""),
        ("two.json", b"{} {}"),
        ("comma.json", br#"{"a":1,}"#),
        ("surrogate.json", br#"{"a":"\ud800"}"#),
        ("utf8.json", b"{\"a\":\"\xff\"}"),
        ("bom.json", b"\xef\xbb\xbf{}"),
        ("deep.json", deep.as_bytes()),
    ];
    for (name, bytes) in bad_json {
        let path = file(name, bytes);
        for flag in ["--android-json", "--ios-json"] {
            let run = refused_locally(dir, &[flag, &path]);
            assert!(run.stderr.contains("JSON"), "{name}: {run:?}");
        }
    }
    let missing = dir.join("missing.json");
    refused_locally(dir, &["--android-json", missing.to_str().unwrap()]);
    refused_locally(dir, &["--ios-json", dir.to_str().unwrap()]);
    for custom in ["", "[]", "{", r#"{"a":1}x"#, "\"s\""] {
        refused_locally(dir, &["--custom-content", custom]);
    }
    let with_custom = file("with-custom.json", br#"{"custom_content":"{}"}"#);
    let run = refused_locally(
        dir,
        &["--android-json", &with_custom, "--custom-content", "{}"],
    );
    assert!(run.stderr.contains("custom_content"), "{run:?}");
    let run = refused_locally(dir, &["--title", ""]);
    assert!(run.stderr.contains("title"), "{run:?}");
    for args in [
        &["--expire-time", "259201"][..],
        &["--expire-time", "-1"],
        &["--push-speed", "999"],
        &["--push-speed", "50001"],
        &["--account-push-type", "2"],
        &["--account-type", "x"],
        &["--collapse-id", "-5"],
        &["--seq", "1.5"],
        &["--send-time", "2026-12-01T08:00:00"],
        &["--send-time", "2026-12-01 8:00:00"],
        &["--accept-time", "8:00-09:00"],
        &["--accept-time", "08:00-24:00"],
        &["--accept-time", "08:00"],
        &["--auth", "hmac"],
        &["--environment", "staging"],
    ] {
        refused_locally(dir, args);
    }
}
