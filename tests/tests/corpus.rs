//! The shared package corpus (`tests/packages/cases.tsv`) uploaded case by case, and the one
//! case not committed: a file of 100 MiB + 1 byte, streamed from disk.

mod common;

use bytes::Bytes;
use common::*;
use futures_util::StreamExt;
use http_body_util::StreamBody;
use hyper::Request;
use hyper::body::Frame;
use std::path::Path;
use tokio::io::AsyncReadExt;
use tpns_emulator::Emulator;

struct Case {
    file: String,
    ok: bool,
    line: Option<u64>,
    rows: Option<u64>,
    /// The comment line above the case, which names the rule.
    why: String,
}

/// Rule texts that the client and the emulator share word for word: where a case's comment
/// starts with one, the emulator's `errMsg` must contain it (the client's test checks its own
/// message the same way).
const SHARED_RULES: &[&str] = &[
    "zip must hold exactly one file",
    "zip must not hold folders",
    "zip holds macOS metadata",
    "zip central directory does not match its end record",
    "zip local header does not match the central directory",
    "zip holds data outside its entries and central directory",
    "zip entry name holds a backslash or a colon",
    "zip entry inflates to more than 1 GiB",
];

fn cases(manifest: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut why = String::new();
    let mut cases = Vec::new();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(comment) = l.strip_prefix('#') {
            why = comment.trim().to_owned();
            continue;
        }
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f.len(), 4, "bad manifest line {l:?}");
        cases.push(Case {
            file: f[0].to_owned(),
            ok: match f[1] {
                "ok" => true,
                "reject" => false,
                v => panic!("bad verdict {v:?}"),
            },
            line: f[2].parse().ok(),
            rows: f[3].parse().ok(),
            why: std::mem::take(&mut why),
        });
    }
    cases
}

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
    let dir = TempDir::new("corpus");
    let emu = Emulator::start(config(dir.path())).unwrap();
    let t = Target::https(&emu);
    let cases = cases(&manifest);
    assert!(
        cases.len() >= 20,
        "the corpus has only {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for c in &cases {
        let content = std::fs::read(folder.join(&c.file)).unwrap();
        let a = upload(&t, &c.file, &content).await;
        let j = a.json();
        let code = a.ret_code();
        let msg = a.err_msg();
        if c.ok {
            let id = j["uploadId"].as_u64().unwrap_or(0);
            let stored_rows = emu
                .uploads()
                .iter()
                .find(|u| u.upload_id == id)
                .map(|u| u.rows);
            if code != 0 || stored_rows != c.rows {
                failures.push(format!(
                    "{}: want ok rows {:?}, got {j} rows {stored_rows:?}",
                    c.file, c.rows
                ));
            }
        } else {
            let line_ok = match c.line {
                Some(n) if n > 0 => msg.contains(&format!("line {n}")),
                _ => !msg.contains("at line"),
            };
            let rule = c.why.split([':', '(']).next().unwrap_or("").trim();
            let rule_ok = !SHARED_RULES.contains(&rule) || msg.contains(rule);
            if code == 0 || !line_ok || !rule_ok || a.status != 200 {
                failures.push(format!(
                    "{}: want reject at line {:?} ({}), got {j}",
                    c.file, c.line, c.why
                ));
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
    let dir = TempDir::new("big");
    let emu = Emulator::start(config(dir.path())).unwrap();
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
    let req = Request::post("/v3/push/package/upload")
        .header("host", "localhost")
        .header("authorization", basic(APP.0, APP.1))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
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
