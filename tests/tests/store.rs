//! Durability: restarts, torn index lines, orphan files, cut-off uploads, discard mode, and 32
//! concurrent uploads stored intact.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tpns_emulator::Emulator;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn uploads_survive_a_restart_and_ids_keep_increasing() {
    let dir = TempDir::new("restart");
    let first = {
        let emu = Emulator::start(config(dir.path())).unwrap();
        let t = Target::https(&emu);
        for i in 0..3 {
            assert_eq!(
                upload(&t, &format!("p{i}.txt"), &rows(i + 2))
                    .await
                    .ret_code(),
                0
            );
        }
        let ups = emu.uploads();
        emu.shutdown();
        ups
    };
    assert_eq!(
        first.iter().map(|u| u.upload_id).collect::<Vec<_>>(),
        [1, 2, 3]
    );

    let emu = Emulator::start(config(dir.path())).unwrap();
    assert_eq!(emu.uploads(), first);
    for u in &first {
        let data = std::fs::read(emu.stored_path(u.upload_id)).unwrap();
        assert_eq!(hex(&Sha256::digest(&data)), u.sha256);
    }
    let a = upload(&Target::http(&emu), "p3.csv", &rows(2)).await;
    assert_eq!(a.json()["uploadId"], 4);
    // Listed through HTTP as well.
    let listed = get_as(&Target::http(&emu), "/_emulator/uploads", APP)
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn crash_leftovers_are_cleaned_and_ids_never_reused() {
    let dir = TempDir::new("crash");
    {
        let emu = Emulator::start(config(dir.path())).unwrap();
        assert_eq!(
            upload(&Target::http(&emu), "a.txt", &rows(2))
                .await
                .ret_code(),
            0
        );
    }
    // What a crash can leave: a half-written temp file, a package renamed but never indexed
    // (id 7), and a torn last index line.
    std::fs::write(dir.path().join("tmp/upload-1-0.part"), b"half").unwrap();
    std::fs::write(dir.path().join("packages/7-orphan.txt"), b"ab\n").unwrap();
    let mut index = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("index.jsonl"))
        .unwrap();
    index
        .write_all(br#"{"upload_id":5,"access_id":"15"#)
        .unwrap();
    drop(index);

    let emu = Emulator::start(config(dir.path())).unwrap();
    assert_eq!(emu.uploads().len(), 1);
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    assert_eq!(
        files_in(&dir.path().join("packages")),
        vec!["1-a.txt".to_owned()]
    );
    let a = upload(&Target::http(&emu), "b.txt", &rows(2)).await;
    assert_eq!(
        a.json()["uploadId"],
        8,
        "an orphan's id is never handed out again"
    );
    // The torn line was cut off, so the new line is whole.
    let ids = index_ids(dir.path());
    assert_eq!(ids, [1, 8]);
}

/// A client that disconnects mid-upload leaves no file and no index entry.
#[tokio::test]
async fn cut_off_upload_leaves_nothing() {
    let (dir, emu) = start_emulator("cutoff");
    for t in Target::both(&emu) {
        let content = rows(20_000);
        let req = raw_upload(UPLOAD, "cut.txt", &content, "");
        let mut io = t.connect().await;
        io.write_all(&req[..req.len() / 2]).await.unwrap();
        io.flush().await.unwrap();
        // Wait until the server has started writing the temporary file.
        let tmp = dir.path().join("tmp");
        for _ in 0..100 {
            if !files_in(&tmp).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(files_in(&tmp).len(), 1, "{}: upload in progress", t.name());
        drop(io);
        for _ in 0..200 {
            if files_in(&tmp).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(files_in(&tmp).is_empty(), "{}: temp file left", t.name());
    }
    assert!(emu.uploads().is_empty());
    assert!(files_in(&dir.path().join("packages")).is_empty());
    assert_eq!(std::fs::read(dir.path().join("index.jsonl")).unwrap(), b"");
}

#[tokio::test]
async fn discard_mode_validates_but_stores_nothing() {
    let dir = TempDir::new("discard");
    let emu = Emulator::start(config(dir.path()).discard(true)).unwrap();
    let t = Target::https(&emu);
    let content = rows(10);
    let a = upload(&t, "d.txt", &content).await;
    assert_eq!(a.json()["uploadId"], 1);
    assert_eq!(upload(&t, "d.txt", b"x\n").await.ret_code(), 1_008_011);
    assert_eq!(upload(&t, "e.txt", &content).await.json()["uploadId"], 2);
    let ups = emu.uploads();
    assert_eq!(ups.len(), 2);
    assert_eq!(ups[0].sha256, hex(&Sha256::digest(&content)));
    assert_eq!(ups[0].rows, 10);
    assert!(!emu.stored_path(1).exists());
    // Only the CA file is written.
    assert_eq!(files_in(dir.path()), vec!["ca.pem".to_owned()]);
}

/// 32 uploads at once, each a different file: every one stored byte for byte, ids distinct.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_uploads_are_stored_intact() {
    let (dir, emu) = start_emulator("concurrent");
    let targets = Target::both(&emu);
    let mut tasks = Vec::new();
    for i in 0..32usize {
        let t = targets[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let content: Vec<u8> = (0..(500 + i * 37))
                .map(|r| format!("user-{i:02}-{r:08}\n"))
                .collect::<String>()
                .into_bytes();
            let name = format!("batch-{i:02}.txt");
            let a = upload(&t, &name, &content).await;
            assert_eq!(a.ret_code(), 0, "{i}: {}", a.json());
            (a.json()["uploadId"].as_u64().unwrap(), name, content)
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let mut ids: Vec<u64> = results.iter().map(|r| r.0).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=32).collect::<Vec<u64>>());
    let uploads = emu.uploads();
    assert_eq!(uploads.len(), 32);
    for (id, name, content) in &results {
        let rec = uploads.iter().find(|u| u.upload_id == *id).unwrap();
        assert_eq!(&rec.file_name, name);
        assert_eq!(
            rec.rows as usize,
            content.iter().filter(|&&b| b == b'\n').count()
        );
        assert_eq!(&std::fs::read(emu.stored_path(*id)).unwrap(), content);
        assert_eq!(rec.sha256, hex(&Sha256::digest(content)));
    }
    // The index lists them in id order.
    let order = index_ids(dir.path());
    assert_eq!(order, (1..=32).collect::<Vec<u64>>());
}

/// Debug output of the configuration and of a running emulator names apps, not secrets.
#[test]
fn debug_output_hides_secrets() {
    let dir = TempDir::new("debug");
    let cfg = config(dir.path());
    assert!(format!("{cfg:?}").contains(APP.0));
    assert!(!format!("{cfg:?}").contains(APP.1));
    let emu = Emulator::start(cfg).unwrap();
    let shown = format!("{emu:?}");
    assert!(shown.contains(APP.0) && !shown.contains(APP.1) && !shown.contains(OTHER_APP.1));
}

/// The upload ids of the store's index (`index.jsonl` in `data_dir`), in file order.
fn index_ids(data_dir: &std::path::Path) -> Vec<u64> {
    let text = std::fs::read_to_string(data_dir.join("index.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["upload_id"]
                .as_u64()
                .unwrap()
        })
        .collect()
}
