//! Every fault mode, selected by path prefix, by header and by the start flag, over HTTPS and
//! plain HTTP; checked on the raw bytes and with hyper's client.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::Request;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tpns_emulator::Emulator;

fn fault_path(spec: &str) -> String {
    format!("/_fault/{spec}{UPLOAD}")
}

async fn upload_at(t: &Target, path: &str) -> Result<Answer, String> {
    send(t, upload_request(path, Some(APP), "f.txt", &rows(4))).await
}

/// An upload of four rows with the fault `spec`, through hyper's client.
async fn upload_with_fault(t: &Target, spec: &str) -> Result<Answer, String> {
    upload_at(t, &fault_path(spec)).await
}

/// Asserts that hyper's client uploads four rows with the fault `spec` (one that only changes
/// how the answer is sent).
async fn assert_uploads_with_fault(t: &Target, spec: &str) {
    let a = upload_with_fault(t, spec).await.unwrap();
    assert_eq!(a.ret_code(), 0, "{spec} over {}", t.name());
}

/// The answer, head and body, to the raw bytes of an upload of four rows with the fault `spec`.
async fn raw_exchange_with_fault(t: &Target, spec: &str) -> (String, Vec<u8>) {
    split_response(&raw_exchange(t, &raw_upload_with_fault(spec)).await)
}

/// The raw bytes of an upload of four rows with the fault `spec`.
fn raw_upload_with_fault(spec: &str) -> Vec<u8> {
    raw_upload(&fault_path(spec), "f.txt", &rows(4), "")
}

#[tokio::test]
async fn delay_before_answering() {
    let (_dir, emu) = start_emulator("delay");
    for t in Target::both(&emu) {
        let start = Instant::now();
        let a = upload_with_fault(&t, "delay=300").await.unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(300),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(a.ret_code(), 0);
    }
    assert_eq!(emu.uploads().len(), 2);
}

#[tokio::test]
async fn slow_answers_byte_by_byte() {
    let (_dir, emu) = start_emulator("slow");
    // On plain TCP with Nagle off, each byte is its own segment: count the reads.
    let t = Target::http(&emu);
    let mut io = t.connect().await;
    io.write_all(b"GET /_fault/slow=3/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let (mut reads, mut total) = (0, Vec::new());
    let mut buf = [0u8; 1024];
    loop {
        match io.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                reads += 1;
                total.extend_from_slice(&buf[..n]);
            }
        }
    }
    let (head, body) = split_response(&total);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["status"],
        "ok"
    );
    assert!(
        reads > total.len() / 3,
        "{reads} reads for {} bytes",
        total.len()
    );
    assert!(start.elapsed() >= Duration::from_millis(3 * total.len() as u64 / 2));
    // hyper's client reads a slow answer over TLS.
    assert_uploads_with_fault(&Target::https(&emu), "slow=1").await;
    assert_eq!(emu.uploads().len(), 1);
}

#[tokio::test]
async fn close_after_n_body_bytes() {
    let (dir, emu) = start_emulator("close-after");
    for t in Target::both(&emu) {
        let err = upload_with_fault(&t, "close-after=100").await.unwrap_err();
        assert!(!err.is_empty());
        // Raw: no byte of answer at all.
        let req = raw_upload_with_fault("close-after=10");
        assert_eq!(raw_exchange(&t, &req).await, b"", "{}", t.name());
        // A body shorter than N is cut too: never stored, never answered.
        let req = raw_upload_with_fault("close-after=100000");
        assert_eq!(raw_exchange(&t, &req).await, b"", "{}", t.name());
    }
    assert!(emu.uploads().is_empty());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    assert!(files_in(&dir.path().join("packages")).is_empty());
}

#[tokio::test]
async fn status_500_and_503() {
    let (_dir, emu) = start_emulator("status");
    for t in Target::both(&emu) {
        for status in [500u16, 503] {
            let a = upload_with_fault(&t, &format!("status={status}"))
                .await
                .unwrap();
            assert_eq!(a.status.as_u16(), status);
            assert_eq!(a.headers["content-type"], "application/json");
            assert!(a.err_msg().contains(&status.to_string()));
        }
    }
    assert!(emu.uploads().is_empty());
}

/// Over both targets: the raw answer to an upload with the fault `spec` (one that only changes
/// how the answer is framed), its head and body given to `check`; then hyper's client uploads
/// with it too. Four packages are stored in all.
async fn check_answer_framing(spec: &str, check: impl Fn(&str, Vec<u8>)) {
    let (_dir, emu) = start_emulator(spec);
    for t in Target::both(&emu) {
        let (head, body) = raw_exchange_with_fault(&t, spec).await;
        check(&head, body);
        // hyper's client decodes it.
        assert_uploads_with_fault(&t, spec).await;
    }
    assert_eq!(emu.uploads().len(), 4);
}

#[tokio::test]
async fn chunked_answer_with_extensions_and_trailer() {
    check_answer_framing("chunked", |head, body| {
        assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
        assert!(!head.contains("Content-Length"));
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains(";emulator=chunk\r\n"), "{body}");
        assert!(
            body.ends_with("0;emulator=last\r\nX-Emulator-Trailer: done\r\n\r\n"),
            "{body}"
        );
    })
    .await;
}

#[tokio::test]
async fn http10_close_delimited_answer() {
    check_answer_framing("http10", |head, body| {
        assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
        assert!(!head.contains("Content-Length") && !head.contains("chunked"));
        let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(j["retCode"], 0);
    })
    .await;
}

#[tokio::test]
async fn reject_early_before_the_body() {
    let (_dir, emu) = start_emulator("reject-early");
    for t in Target::both(&emu) {
        // Only the head is sent; the answer comes anyway.
        let req = raw_upload_with_fault("reject-early");
        let split = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let mut io = t.connect().await;
        io.write_all(&req[..split]).await.unwrap();
        let raw = tokio::time::timeout(Duration::from_secs(5), read_to_close(&mut io))
            .await
            .expect("answer before the body");
        let (head, body) = split_response(&raw);
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");
        let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(j["retCode"], 1_008_003);
        // hyper's client, sending the whole body, still reads the 401.
        let a = upload_with_fault(&t, "reject-early").await.unwrap();
        assert_eq!(a.status, 401);
    }
    assert!(emu.uploads().is_empty());
}

#[tokio::test]
async fn rate_limit_on_upload_and_push() {
    let (_dir, emu) = start_emulator("rate");
    let t = Target::https(&emu);
    let a = upload_with_fault(&t, "rate-limit").await.unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.ret_code(), 1_008_028);
    let req = Request::post("/_fault/rate-limit/v3/push/app")
        .header("host", "localhost")
        .header("authorization", basic(APP.0, APP.1))
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let a = send(&t, req).await.unwrap();
    assert_eq!(a.json()["ret_code"], 1_008_028);
    assert!(emu.uploads().is_empty());
}

/// `times=N`: the first N requests with that exact SPEC fail, then a retry succeeds.
#[tokio::test]
async fn times_lets_a_retry_succeed() {
    let (_dir, emu) = start_emulator("times");
    let t = Target::http(&emu);
    let path = fault_path("status=503,times=2");
    assert_eq!(upload_at(&t, &path).await.unwrap().status, 503);
    assert_eq!(upload_at(&t, &path).await.unwrap().status, 503);
    assert_eq!(upload_at(&t, &path).await.unwrap().ret_code(), 0);
    // A raw-path fault with a budget.
    let path = fault_path("close-after=5,times=1");
    assert!(upload_at(&t, &path).await.is_err());
    assert_eq!(upload_at(&t, &path).await.unwrap().ret_code(), 0);
    assert_eq!(emu.uploads().len(), 2);
}

#[tokio::test]
async fn fault_by_header() {
    let (_dir, emu) = start_emulator("header");
    let t = Target::https(&emu);
    let mut req = upload_request(UPLOAD, Some(APP), "f.txt", &rows(2));
    req.headers_mut()
        .insert("x-emulator-fault", "status=500".parse().unwrap());
    assert_eq!(send(&t, req).await.unwrap().status, 500);
    let mut req = upload_request(UPLOAD, Some(APP), "f.txt", &rows(2));
    req.headers_mut()
        .insert("X-Emulator-Fault", "http10".parse().unwrap());
    assert_eq!(send(&t, req).await.unwrap().ret_code(), 0);
    // The path prefix wins over the header.
    let mut req = upload_request(&fault_path("status=503"), Some(APP), "f.txt", &rows(2));
    req.headers_mut()
        .insert("x-emulator-fault", "status=500".parse().unwrap());
    assert_eq!(send(&t, req).await.unwrap().status, 503);
    assert_eq!(emu.uploads().len(), 1);
}

#[tokio::test]
async fn fault_for_every_request_from_the_start_flag() {
    let dir = TempDir::new("global");
    let emu = Emulator::start(config(dir.path()).fault("status=503,times=1")).unwrap();
    let t = Target::https(&emu);
    assert_eq!(upload_at(&t, UPLOAD).await.unwrap().status, 503);
    assert_eq!(upload_at(&t, UPLOAD).await.unwrap().ret_code(), 0);
    drop(emu);
    let dir = TempDir::new("global2");
    let emu = Emulator::start(config(dir.path()).fault("chunked,delay=50")).unwrap();
    for t in Target::both(&emu) {
        let raw = raw_exchange(&t, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(
            split_response(&raw)
                .0
                .contains("Transfer-Encoding: chunked")
        );
        assert_eq!(upload_at(&t, UPLOAD).await.unwrap().ret_code(), 0);
    }
    assert!(Emulator::start(config(dir.path()).fault("explode")).is_err());
}

#[tokio::test]
async fn bad_fault_spec_is_a_400() {
    let (_dir, emu) = start_emulator("badspec");
    let a = upload_with_fault(&Target::http(&emu), "bogus=1")
        .await
        .unwrap();
    assert_eq!(a.status, 400);
    assert!(a.err_msg().contains("bogus"));
}

/// Faults combine: slow + chunked + delay over TLS, read by hyper's client.
#[tokio::test]
async fn combined_faults_over_tls() {
    let (_dir, emu) = start_emulator("combined");
    let start = Instant::now();
    let a = upload_at(
        &Target::https(&emu),
        &fault_path("slow=0,chunked,delay=100"),
    )
    .await
    .unwrap();
    assert_eq!(a.ret_code(), 0);
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert_eq!(emu.uploads().len(), 1);
}

/// HEAD gets GET's head and no body on both server sides.
#[tokio::test]
async fn head_requests_have_no_body() {
    let (_dir, emu) = start_emulator("head");
    let t = Target::http(&emu);
    for path in ["/", "/_fault/slow=0/"] {
        let raw = raw_exchange(
            &t,
            format!("HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        )
        .await;
        let (head, body) = split_response(&raw);
        assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}");
        assert!(
            head.to_ascii_lowercase().contains("content-length: "),
            "{path}: {head}"
        );
        assert!(body.is_empty(), "{path}: {body:?}");
    }
}

/// A blocking client that writes its whole (large) body before reading still gets the early
/// 401: the emulator keeps reading after answering instead of resetting the connection.
#[test]
fn reject_early_reaches_a_client_that_writes_everything_first() {
    use std::io::{Read, Write};
    let (_dir, emu) = start_emulator("reject-early-blocking");
    let req = raw_upload(&fault_path("reject-early"), "big.txt", &rows(1_500_000), "");
    assert!(req.len() > 20_000_000);
    let mut tcp = std::net::TcpStream::connect(emu.http_addr().unwrap()).unwrap();
    tcp.write_all(&req).unwrap();
    let mut raw = Vec::new();
    let _ = tcp.read_to_end(&mut raw);
    let (head, _) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
}
