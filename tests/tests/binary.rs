//! The `tpns-emulator` binary as scripts start it: flags, the first stdout line, serving until
//! killed.

mod common;

use common::*;
use std::io::Read;
use std::process::Command;
use tpns_emulator::generate_cert;

#[tokio::test]
async fn first_line_and_serving() {
    let dir = TempDir::new("bin");
    let data = dir.path().join("data");
    let r = start(&[
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--app",
        "111:aaa",
        "--app",
        "222:bbb",
    ]);
    let j = &r.first_line;
    assert_eq!(j.as_object().unwrap().len(), 3, "{j}");
    assert!(j["https"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(j["http"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(
        j["ca"].as_str().unwrap(),
        data.join("ca.pem").to_str().unwrap()
    );
    for key in ["https", "http"] {
        let t = target(&r, key);
        assert_eq!(get(&t, "/").await.json()["status"], "ok");
        for (id, secret) in [("111", "aaa"), ("222", "bbb")] {
            let req = upload_request(UPLOAD, Some((id, secret)), "b.txt", &rows(2));
            assert_eq!(send(&t, req).await.unwrap().ret_code(), 0);
        }
        // The demo app is not configured when --app is given.
        let req = upload_request(UPLOAD, Some(APP), "b.txt", &rows(2));
        assert_eq!(send(&t, req).await.unwrap().ret_code(), 1_008_003);
    }
    assert_eq!(common::files_in(&data.join("packages")).len(), 4);
}

#[tokio::test]
async fn defaults_demo_app_discard_and_fault() {
    let r = start(&["--discard", "--fault", "status=503,times=1"]);
    assert!(r.first_line["http"].is_null());
    let ca = r.first_line["ca"].as_str().unwrap().to_owned();
    let t = target(&r, "https");
    let req = upload_request(UPLOAD, Some(APP), "b.txt", &rows(2));
    assert_eq!(send(&t, req).await.unwrap().status, 503);
    let req = upload_request(UPLOAD, Some(APP), "b.txt", &rows(2));
    assert_eq!(send(&t, req).await.unwrap().ret_code(), 0);
    // Discard mode: the fresh temp data dir holds only the CA.
    let data = std::path::Path::new(&ca).parent().unwrap().to_owned();
    assert_eq!(common::files_in(&data), vec!["ca.pem".to_owned()]);
    let mut r = r;
    r.child.kill().unwrap();
    r.child.wait().unwrap();
    let mut err = String::new();
    r.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("demo app 1500001048"), "{err}");
    let _ = std::fs::remove_dir_all(data);
}

#[tokio::test]
async fn given_certificate_and_key() {
    let dir = TempDir::new("bin-cert");
    let g = generate_cert(&["localhost", "127.0.0.1"]).unwrap();
    let chain = dir.path().join("chain.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&chain, format!("{}{}", g.cert_pem, g.ca_pem)).unwrap();
    std::fs::write(&key, &g.key_pem).unwrap();
    let data = dir.path().join("data");
    let r = start(&[
        "--cert",
        chain.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let t = target(&r, "https");
    assert_eq!(
        t.ca.as_deref(),
        Some(g.ca_der.as_slice()),
        "ca file is the chain's CA"
    );
    assert_eq!(get(&t, "/").await.json()["status"], "ok");
}

#[test]
fn bad_flags_exit_2_and_help_exits_0() {
    for args in [
        &["--bogus"][..],
        &["--listen", "nowhere"][..],
        &["--app", "no-colon"][..],
        &["--cert", "x.pem"][..],
        &["--listen"][..],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
    }
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--http-listen"));
    let dir = TempDir::new("bin-bad");
    let out = Command::new(BIN)
        .args([
            "--fault",
            "explode",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// A crash (SIGKILL) in the middle of an upload: after a restart there is no file and no index
/// entry, and the next upload gets id 1.
#[tokio::test]
async fn killed_mid_upload_leaves_nothing_after_restart() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new("bin-kill");
    let data = dir.path().join("data");
    let args = [
        "--http-listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let mut r = start(&args);
    let t = target(&r, "http");
    let req = raw_upload(UPLOAD, "k.txt", &rows(50_000), "");
    let mut io = t.connect().await;
    io.write_all(&req[..req.len() / 2]).await.unwrap();
    io.flush().await.unwrap();
    for _ in 0..200 {
        if !files_in(&data.join("tmp")).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(files_in(&data.join("tmp")).len(), 1, "upload in progress");
    r.child.kill().unwrap();
    r.child.wait().unwrap();
    drop(io);
    drop(r);

    let r = start(&args);
    assert!(files_in(&data.join("tmp")).is_empty());
    assert!(files_in(&data.join("packages")).is_empty());
    assert_eq!(std::fs::read(data.join("index.jsonl")).unwrap(), b"");
    let t = target(&r, "http");
    assert_eq!(
        get_as(&t, "/_emulator/uploads", APP).await.json(),
        serde_json::json!([])
    );
    assert_eq!(upload(&t, "k.txt", &rows(3)).await.json()["uploadId"], 1);
}
