//! The shared package corpus (`tests/packages/cases.tsv`) uploaded case by case, and the one
//! case not committed: a file of 100 MiB + 1 byte, streamed from disk.

mod common;

use bytes::Bytes;
use common::*;
use futures_util::StreamExt;
use http_body_util::StreamBody;
use hyper::body::Frame;
use std::path::Path;
use tokio::io::AsyncReadExt;
use tpns_test_support::corpus::{self, SHARED_RULES};

#[tokio::test]
async fn shared_corpus() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("packages");
    let manifest = folder.join("cases.tsv");
    if !manifest.exists() {
        println!(
            "note: {} does not exist yet; corpus not run",
            manifest.display()
        );
        return;
    }
    let (_dir, emu) = start_emulator("corpus");
    let t = Target::https(&emu);
    // `cases` refuses a truncated manifest.
    let cases = corpus::cases();
    let mut failures = Vec::new();
    for c in &cases {
        let content = std::fs::read(folder.join(&c.name)).unwrap();
        let a = upload(&t, &c.name, &content).await;
        let j = a.json();
        let code = a.ret_code();
        let msg = a.err_msg();
        match c.expected {
            Ok(rows) => {
                let id = j["uploadId"].as_u64().unwrap_or(0);
                let stored_rows = emu
                    .uploads()
                    .iter()
                    .find(|u| u.upload_id == id)
                    .map(|u| u.rows);
                if code != 0 || stored_rows != Some(rows) {
                    failures.push(format!(
                        "{}: want ok rows {rows}, got {j} rows {stored_rows:?}",
                        c.name
                    ));
                }
            }
            Err(line) => {
                let line_ok = if line > 0 {
                    msg.contains(&format!("line {line}"))
                } else {
                    !msg.contains("at line")
                };
                let rule = c.why.split([':', '(']).next().unwrap_or("").trim();
                let rule_ok = !SHARED_RULES.contains(&rule) || msg.contains(rule);
                if code == 0 || !line_ok || !rule_ok || a.status != 200 {
                    failures.push(format!(
                        "{}: want reject at line {line} ({}), got {j}",
                        c.name, c.why
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// 100 MiB + 1 byte: rejected with 1008011, the body streamed from a file on disk.
#[tokio::test]
async fn one_byte_over_100_mib_is_too_large() {
    let (dir, emu) = start_emulator("big");
    let t = Target::http(&emu);
    let big = dir.path().join("big.txt");
    {
        // Only the length matters (the policy checks size before content): a sparse file.
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(100 * 1024 * 1024 + 1).unwrap();
    }
    let (head, tail) = multipart_parts("big.txt");
    let len = head.len() as u64 + (100 * 1024 * 1024 + 1) + tail.len() as u64;
    let file = tokio::fs::File::open(&big).await.unwrap();
    let file_stream = futures_util::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Frame::data(Bytes::from(buf))), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let body = futures_util::stream::once(async move { Ok(Frame::data(Bytes::from(head))) })
        .chain(file_stream)
        .chain(futures_util::stream::once(async move {
            Ok(Frame::data(Bytes::from(tail)))
        }));
    let req = multipart_post(UPLOAD)
        .header("content-length", len)
        .body(StreamBody::new(body))
        .unwrap();
    let a = send(&t, req).await.unwrap();
    assert_eq!(a.ret_code(), 1_008_011, "{}", a.json());
    assert!(a.err_msg().contains("too large"), "{}", a.err_msg());
    assert!(emu.uploads().is_empty());
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    assert!(files_in(&dir.path().join("packages")).is_empty());
}
