//! The emulator under abuse: each hostile client of issue 16 against the real binary, bounded in
//! time, with the binary's memory read from `/proc/<pid>/status` and printed (run with
//! `--nocapture` to see the figures; tests/README.md keeps the latest ones).

mod common;

use common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWriteExt};

const MIB: f64 = 1024.0;

/// Prints a case's memory figures: the binary's resident memory before and after, and its
/// peak. Returns the figures after.
fn report(case: &str, before: Memory, r: &Running) -> Memory {
    let after = r.memory();
    println!(
        "abuse {case}: VmRSS {:.1} MiB before, {:.1} MiB after; VmHWM {:.1} MiB",
        before.rss_kib as f64 / MIB,
        after.rss_kib as f64 / MIB,
        after.hwm_kib as f64 / MIB
    );
    after
}

/// Asserts that `figure` (one of `after`'s, in KiB) stays below the resident memory `before`
/// the case plus `mib` MiB.
fn assert_grew_less_than(mib: u64, figure: u64, before: Memory, after: Memory) {
    assert!(figure < before.rss_kib + mib * 1024, "{before:?} {after:?}");
}

/// Starts the binary on HTTPS and HTTP with the test apps and `extra` flags.
fn start_binary(dir: &TempDir, extra: &[&str]) -> Running {
    let data = dir.path().join("data");
    let apps = [
        format!("{}:{}", APP.0, APP.1),
        format!("{}:{}", OTHER_APP.0, OTHER_APP.1),
    ];
    let mut args = vec![
        "--http-listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--app",
        &apps[0],
        "--app",
        &apps[1],
    ];
    args.extend_from_slice(extra);
    start_quiet(&args)
}

/// Reads until the peer closes (or resets) the connection; `None` if that takes longer than
/// `within`.
async fn read_until_closed<R: AsyncRead + Unpin>(io: &mut R, within: Duration) -> Option<Vec<u8>> {
    tokio::time::timeout(within, read_to_close(io)).await.ok()
}

/// The status code and JSON body of a raw answer.
fn parse_answer(raw: &[u8]) -> (u16, serde_json::Value) {
    let (head, body) = split_response(raw);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&body)));
    (status, json)
}

fn code(j: &serde_json::Value) -> i64 {
    j.get("retCode")
        .or_else(|| j.get("ret_code"))
        .and_then(serde_json::Value::as_i64)
        .unwrap_or_else(|| panic!("no code in {j}"))
}

/// The head of an upload request announcing `length` body bytes.
fn upload_head(auth: Option<(&str, &str)>, length: u64, extra: &str) -> String {
    let auth = auth.map_or(String::new(), |(id, s)| {
        format!("Authorization: {}\r\n", basic(id, s))
    });
    format!(
        "POST /v3/push/package/upload HTTP/1.1\r\nHost: localhost\r\n{auth}\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\
         {extra}\r\n"
    )
}

/// The head of a push request announcing `length` body bytes.
fn push_head(auth: &str, length: u64) -> String {
    format!(
        "POST /v3/push/app HTTP/1.1\r\nHost: localhost\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
}

/// Requests refused from their head: the answer arrives while the client has sent the head
/// only, so the emulator cannot have waited for (or read) the body it announced.
#[tokio::test]
async fn requests_refused_from_the_head_get_their_answer_before_the_body() {
    let dir = TempDir::new("abuse-head");
    let r = start_binary(&dir, &[]);
    let before = r.memory();
    let sign_unknown = "AccessId: 999\r\nTimeStamp: 1700000000\r\nSign: AAAA\r\n";
    let good = format!("Authorization: {}\r\n", basic(APP.0, APP.1));
    let cases: Vec<(&str, String, i64)> = vec![
        (
            "push, no credentials, 1 MiB",
            push_head("", 1 << 20),
            1_008_003,
        ),
        (
            "push, unknown AccessId, 1 MiB",
            push_head(sign_unknown, 1 << 20),
            1_008_003,
        ),
        (
            "push, wrong password, 1 MiB",
            push_head(
                &format!("Authorization: {}\r\n", basic(APP.0, "wrong")),
                1 << 20,
            ),
            1_008_003,
        ),
        (
            "push, good credentials, 2 MiB",
            push_head(&good, 2 << 20),
            1_008_001,
        ),
        (
            "upload, no credentials, 100 MiB, Expect: 100-continue",
            upload_head(None, 100 << 20, "Expect: 100-continue\r\n"),
            1_008_003,
        ),
        (
            "upload, wrong password, chunked",
            upload_head(Some((APP.0, "wrong")), 0, "Transfer-Encoding: chunked\r\n"),
            1_008_003,
        ),
        (
            "upload, good credentials, 200 MiB",
            upload_head(Some(APP), 200 << 20, ""),
            1_008_011,
        ),
    ];
    for key in ["http", "https"] {
        let t = target(&r, key);
        for (name, head, want) in &cases {
            let mut io = t.connect().await;
            io.write_all(head.as_bytes()).await.unwrap();
            io.flush().await.unwrap();
            // Only the head was sent: an answer now was decided without the body.
            let raw = read_until_closed(&mut io, Duration::from_secs(5))
                .await
                .unwrap_or_else(|| panic!("{key} {name}: no answer to the head alone"));
            let (status, j) = parse_answer(&raw);
            assert_eq!((status, code(&j)), (200, *want), "{key} {name}: {j}");
        }
    }
    report("refused-from-head", before, &r);
}

/// What one slow client does after its head.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Slow {
    /// An upload head and 1 KiB of body, then nothing.
    StallBody,
    /// An upload head, then a body byte every 200 ms.
    DripBody,
    /// A push head, then nothing.
    StallPush,
    /// Part of a head, then a head byte every 200 ms.
    DripHead,
}

/// How a slow client ended: the answer's status, or a close without an answer.
#[derive(Debug)]
enum Ended {
    Answered(u16),
    Closed,
}

/// Runs one slow client until the emulator ends its connection; `None` if it did not within
/// `within`.
/// Every kind of slow client, in the order the tests cycle through them.
const SLOW_KINDS: [Slow; 4] = [
    Slow::StallBody,
    Slow::DripBody,
    Slow::StallPush,
    Slow::DripHead,
];

/// The binary, in a new folder named after `tag`, with a 1 s idle timeout and body and head
/// timeouts of `seconds`, and its plain and TLS targets.
fn start_with_body_and_head_timeouts(tag: &str, seconds: &str) -> (TempDir, Running, [Target; 2]) {
    let dir = TempDir::new(tag);
    let timeouts = ["--idle-timeout", "1", "--body-timeout", seconds];
    let r = start_binary(
        &dir,
        &[&timeouts[..], &["--head-timeout", seconds]].concat(),
    );
    let targets = [target(&r, "http"), target(&r, "https")];
    (dir, r, targets)
}

/// 200 slow clients, of each kind in turn, client `i` on `targets[target_of(i)]`, each given
/// up on after `within`: their kinds and tasks.
fn spawn_slow_clients(
    targets: &[Target; 2],
    target_of: fn(usize) -> usize,
    within: Duration,
) -> Vec<(Slow, tokio::task::JoinHandle<Option<Ended>>)> {
    (0..200)
        .map(|i| {
            let kind = SLOW_KINDS[i % 4];
            let t = targets[target_of(i)].clone();
            (kind, tokio::spawn(slow_client(t, kind, within)))
        })
        .collect()
}

async fn slow_client(t: Target, kind: Slow, within: Duration) -> Option<Ended> {
    let io = t.connect().await;
    let (mut rd, mut wr) = tokio::io::split(io);
    let first = match kind {
        Slow::StallBody | Slow::DripBody => {
            let mut req = upload_head(Some(APP), 10 << 20, "").into_bytes();
            req.extend_from_slice(&multipart_parts("slow.txt").0);
            req.extend_from_slice(&[b'a'; 1024]);
            req
        }
        Slow::StallPush => {
            let auth = format!("Authorization: {}\r\n", basic(APP.0, APP.1));
            push_head(&auth, 1000).into_bytes()
        }
        Slow::DripHead => b"POST /v3/push/package/upload HTTP/1.1\r\nHost: localhost\r\n".to_vec(),
    };
    wr.write_all(&first).await.ok()?;
    wr.flush().await.ok()?;
    let drip = async move {
        if matches!(kind, Slow::DripBody | Slow::DripHead) {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let byte: &[u8] = if kind == Slow::DripHead { b"X" } else { b"a" };
                if wr.write_all(byte).await.is_err() || wr.flush().await.is_err() {
                    break;
                }
            }
        }
        std::future::pending::<()>().await;
    };
    let read = read_until_closed(&mut rd, within);
    // The drip stops once the emulator has ended the exchange.
    let raw = tokio::select! {
        r = read => r?,
        () = drip => unreachable!(),
    };
    Some(if raw.is_empty() {
        Ended::Closed
    } else {
        Ended::Answered(parse_answer(&raw).0)
    })
}

/// 200 slow clients (half over TLS) that stall or drip after their head, or drip the head
/// itself: every one is cut within the time limits, with memory bounded, and the emulator
/// serves the next upload.
#[tokio::test]
async fn slow_bodies_and_heads_are_cut() {
    let (_dir, r, targets) = start_with_body_and_head_timeouts("abuse-slow", "2");
    let before = r.memory();
    let start = Instant::now();
    let clients = spawn_slow_clients(&targets, |i| (i / 4) % 2, Duration::from_secs(15));
    let mut answered = 0;
    for (kind, c) in clients {
        let ended = c
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{kind:?}: never cut"));
        match (kind, ended) {
            // A stalled body is answered 408.
            (Slow::StallBody | Slow::StallPush, Ended::Answered(s)) => {
                assert_eq!(s, 408, "{kind:?}");
                answered += 1;
            }
            // A dripping body meets the deadline: 408 too.
            (Slow::DripBody, Ended::Answered(s)) => {
                assert_eq!(s, 408, "{kind:?}");
                answered += 1;
            }
            // A head that never ends gets no answer: the connection is closed.
            (Slow::DripHead, Ended::Closed) => {}
            (kind, ended) => panic!("{kind:?} ended as {ended:?}"),
        }
    }
    let took = start.elapsed();
    let after = report("slow-bodies (200 clients)", before, &r);
    println!("abuse slow-bodies: {answered} answered 408, all cut in {took:.1?}");
    assert_eq!(answered, 150);
    assert_grew_less_than(64, after.hwm_kib, before, after);
    let a = upload(&targets[0], "after.txt", &rows(3)).await;
    assert_eq!(a.ret_code(), 0, "{}", a.json());
}

/// A part header that never ends (64 MiB of one header line) is refused after 1 MiB of
/// framing; a non-file part over 64 KiB is refused too.
#[tokio::test]
async fn an_endless_part_header_is_refused() {
    let dir = TempDir::new("abuse-header");
    let r = start_binary(&dir, &[]);
    let before = r.memory();
    for key in ["http", "https"] {
        let t = target(&r, key);
        let total: u64 = 64 << 20;
        let io = t.connect().await;
        let (mut rd, mut wr) = tokio::io::split(io);
        let writer = tokio::spawn(async move {
            let head = upload_head(Some(APP), total, "");
            let start = format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"a.txt\"\r\nX-Endless: "
            );
            let mut sent = 0u64;
            if wr.write_all(head.as_bytes()).await.is_err()
                || wr.write_all(start.as_bytes()).await.is_err()
            {
                return sent;
            }
            sent += start.len() as u64;
            let block = vec![b'a'; 64 * 1024];
            while sent + block.len() as u64 <= total {
                if wr.write_all(&block).await.is_err() {
                    break;
                }
                sent += block.len() as u64;
            }
            sent
        });
        let raw = read_until_closed(&mut rd, Duration::from_secs(20))
            .await
            .expect("an answer");
        let (status, j) = parse_answer(&raw);
        assert_eq!((status, code(&j)), (200, 1_008_001), "{key}: {j}");
        assert!(
            j["errMsg"].as_str().unwrap().contains("multipart framing"),
            "{j}"
        );
        drop(rd);
        writer.abort();
    }
    // A non-file part larger than 64 KiB.
    let t = target(&r, "http");
    let mut body =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\n")
            .into_bytes();
    body.extend_from_slice(&vec![b'c'; 100 * 1024]);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let mut req = upload_head(Some(APP), body.len() as u64, "").into_bytes();
    req.extend_from_slice(&body);
    let (status, j) = parse_answer(&raw_exchange(&t, &req).await);
    assert_eq!((status, code(&j)), (200, 1_008_011), "{j}");
    assert!(j["errMsg"].as_str().unwrap().contains("\"comment\""), "{j}");
    let after = report("endless-part-header (64 MiB, twice)", before, &r);
    assert_grew_less_than(32, after.hwm_kib, before, after);
}

/// 3000 distinct `times=N` SPECs: the first 256 are counted, the rest refused with a clear
/// answer, and memory stays flat.
#[tokio::test]
async fn the_fault_budget_table_is_capped() {
    let dir = TempDir::new("abuse-faults");
    let r = start_binary(&dir, &[]);
    let t = target(&r, "http");
    let before = r.memory();
    let exchange = |t: Target, spec: String| async move {
        let req = format!("GET / HTTP/1.1\r\nHost: localhost\r\nX-Emulator-Fault: {spec}\r\n\r\n");
        parse_answer(&raw_exchange(&t, req.as_bytes()).await)
    };
    // Eight clients at a time, each SPEC distinct.
    let mut statuses = Vec::new();
    for batch in (0..3000).collect::<Vec<u32>>().chunks(8) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|i| tokio::spawn(exchange(t.clone(), format!("status=503,times={}", i + 1))))
            .collect();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
    }
    let faulted = statuses.iter().filter(|(s, _)| *s == 503).count();
    let refused: Vec<_> = statuses.iter().filter(|(s, _)| *s == 400).collect();
    assert_eq!(faulted, 256);
    assert_eq!(refused.len(), 3000 - 256);
    let msg = refused[0].1["errMsg"].as_str().unwrap();
    assert!(msg.contains("256 distinct times=N SPECs"), "{msg}");
    // A counted SPEC keeps working; a SPEC without times needs no entry; a long one is refused.
    let (status, _) = exchange(t.clone(), "status=503,times=1".into()).await;
    assert_eq!(status, 200, "times=1 was used up");
    assert_eq!(exchange(t.clone(), "status=500".into()).await.0, 500);
    let long = format!("status=503,times=1{}", ",".repeat(300));
    let (status, j) = exchange(t.clone(), long).await;
    assert_eq!(status, 400);
    assert!(
        j["errMsg"].as_str().unwrap().contains("longer than 256"),
        "{j}"
    );
    let after = report("fault-specs (3000 distinct)", before, &r);
    assert_grew_less_than(16, after.rss_kib, before, after);
}

/// The load test: 64 concurrent uploads of about 300 KB while 200 slow clients hold
/// connections; every upload is stored, every slow client is cut, and memory stays bounded.
#[tokio::test]
async fn load_uploads_and_slow_clients_together() {
    let (_dir, r, targets) = start_with_body_and_head_timeouts("abuse-load", "3");
    let before = r.memory();
    let start = Instant::now();
    let slow = spawn_slow_clients(&targets, |i| i % 2, Duration::from_secs(20));
    let content = rows(25_000); // 350 000 bytes
    let uploads: Vec<_> = (0..64)
        .map(|i| {
            let t = targets[i % 2].clone();
            let content = content.clone();
            tokio::spawn(async move {
                tokio::time::timeout(
                    Duration::from_secs(60),
                    upload(&t, &format!("load{i}.txt"), &content),
                )
                .await
            })
        })
        .collect();
    for u in uploads {
        let a = u.await.unwrap().expect("an upload within 60 s");
        assert_eq!(a.ret_code(), 0, "{}", a.json());
    }
    let uploads_took = start.elapsed();
    for (_, s) in slow {
        assert!(s.await.unwrap().is_some(), "a slow client was never cut");
    }
    let took = start.elapsed();
    let after = report("load (64 uploads of 350 kB + 200 slow clients)", before, &r);
    println!("abuse load: uploads done in {uploads_took:.1?}, slow clients cut in {took:.1?}");
    assert_eq!(
        get_as(&targets[0], "/_emulator/uploads", APP)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        64
    );
    assert_grew_less_than(128, after.hwm_kib, before, after);
}

/// At the connection cap, a new client waits in the listen queue and is served once a slot
/// frees (here: when stalled connections reach the head timeout).
#[tokio::test]
async fn the_connection_cap_queues_then_serves() {
    let dir = TempDir::new("abuse-cap");
    let r = start_binary(&dir, &["--max-connections", "4", "--head-timeout", "1"]);
    let t = target(&r, "http");
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(tokio::net::TcpStream::connect(t.addr).await.unwrap());
    }
    let start = Instant::now();
    let a = tokio::time::timeout(Duration::from_secs(10), upload(&t, "cap.txt", &rows(3)))
        .await
        .expect("served once a slot frees");
    let waited = start.elapsed();
    assert_eq!(a.ret_code(), 0, "{}", a.json());
    println!("abuse connection-cap: the fifth client waited {waited:.1?}");
    // The slots were held by the four stalled connections until their head timeout.
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    for mut s in stalled {
        assert_eq!(
            read_until_closed(&mut s, Duration::from_secs(5)).await,
            Some(Vec::new())
        );
    }
}

/// The `/_emulator/` listings need an app's Basic credentials and show only that app's records.
#[tokio::test]
async fn listings_need_credentials_and_show_one_app() {
    let dir = TempDir::new("abuse-listing");
    let emu = tpns_emulator::Emulator::start(config(dir.path())).unwrap();
    let t = Target::http(&emu);
    assert_eq!(upload(&t, "mine.txt", &rows(2)).await.ret_code(), 0);
    let req = upload_request(UPLOAD, Some(OTHER_APP), "theirs.txt", &rows(2));
    assert_eq!(send(&t, req).await.unwrap().ret_code(), 0);
    for path in ["/_emulator/uploads", "/_emulator/pushes"] {
        for (who, a) in [
            ("no credentials", get(&t, path).await),
            ("a wrong secret", get_as(&t, path, (APP.0, "wrong")).await),
        ] {
            let got = (a.status.as_u16(), a.ret_code());
            assert_eq!(got, (401, 1_008_003), "{path}, {who}");
        }
    }
    let mine = get_as(&t, "/_emulator/uploads", APP).await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["file_name"], "mine.txt");
    let theirs = get_as(&t, "/_emulator/uploads", OTHER_APP).await.json();
    assert_eq!(theirs.as_array().unwrap().len(), 1, "{theirs}");
    assert_eq!(theirs[0]["file_name"], "theirs.txt");
}
