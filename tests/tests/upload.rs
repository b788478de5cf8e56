//! The upload endpoint over HTTPS and plain HTTP: auth, every package rule and code, framing
//! (Content-Length, chunked, Expect: 100-continue), and the read-only listings.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::{Full, StreamBody};
use hyper::Request;
use hyper::body::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn accepted_upload_is_stored_and_listed() {
    let (_dir, emu) = start_emulator("accept");
    for (i, t) in Target::both(&emu).iter().enumerate() {
        let content = rows(5);
        let a = upload(t, "accounts.txt", &content).await;
        assert_eq!(a.status, 200, "{}", t.name());
        assert_eq!(a.headers["content-type"], "application/json");
        let j = a.json();
        assert_eq!(j["retCode"], 0, "{j}");
        assert_eq!(j["errMsg"], "");
        let id = j["uploadId"].as_u64().unwrap();
        assert_eq!(id, i as u64 + 1);
        let stored = std::fs::read(emu.stored_path(id)).unwrap();
        assert_eq!(stored, content);
        let rec = emu
            .uploads()
            .into_iter()
            .find(|u| u.upload_id == id)
            .unwrap();
        assert_eq!(rec.rows, 5);
        assert_eq!(rec.size, content.len() as u64);
        assert_eq!(rec.access_id, APP.0);
        assert_eq!(rec.file_name, "accounts.txt");
        assert_eq!(rec.sha256.len(), 64);
    }
    let t = Target::https(&emu);
    let listed = get_as(&t, "/_emulator/uploads", APP).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[1]["upload_id"], 2);
    let health = get(&t, "/").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    assert_eq!(
        get_as(&t, "/_emulator/pushes", APP).await.json(),
        serde_json::json!([])
    );
}

#[tokio::test]
async fn authentication_is_checked() {
    let (_dir, emu) = start_emulator("auth");
    let t = Target::https(&emu);
    let path = UPLOAD;
    for auth in [None, Some((APP.0, "wrong")), Some(("42", APP.1))] {
        let a = send(&t, upload_request(path, auth, "a.txt", b"abc\n"))
            .await
            .unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(a.ret_code(), 1_008_003, "{auth:?}");
    }
    // The second app is accepted too.
    let a = send(&t, upload_request(path, Some(OTHER_APP), "a.txt", b"abc\n"))
        .await
        .unwrap();
    assert_eq!(a.ret_code(), 0);
    assert_eq!(emu.uploads()[0].access_id, OTHER_APP.0);
}

/// Small generated files for each rule; the shared corpus (corpus.rs) covers many more.
#[tokio::test]
async fn package_rules_and_codes() {
    let (dir, emu) = start_emulator("rules");
    let t = Target::http(&emu);
    let long_name = format!("{}.txt", "n".repeat(97));
    let cases: Vec<(&str, Vec<u8>, i64, &str)> = vec![
        ("a.doc", b"abc\n".to_vec(), 1_008_007, ".txt, .csv or .zip"),
        (&long_name, b"abc\n".to_vec(), 1_008_007, "longer than 100"),
        ("a.txt", Vec::new(), 1_008_012, "empty file"),
        ("a.txt", b"\xEF\xBB\xBF".to_vec(), 1_008_012, "empty file"),
        ("a.txt", b"abc\nd\n".to_vec(), 1_008_011, "line 2"),
        (
            "a.txt",
            b"abc\n\xFFx\n".to_vec(),
            1_008_011,
            "invalid UTF-8 at line 2",
        ),
        (
            "a.txt",
            b"abc\n\nxyz\n".to_vec(),
            1_008_011,
            "blank line at line 2",
        ),
        (
            "a.txt",
            b"abc\rxyz\n".to_vec(),
            1_008_011,
            "carriage return",
        ),
        (
            "a.txt",
            [b"ab\n".as_slice(), &[b'x'; 101]].concat(),
            1_008_011,
            "line 2",
        ),
        (
            "a.csv",
            b"abc\nx,y\n".to_vec(),
            1_008_011,
            "more than one column at line 2",
        ),
        (
            "a.csv",
            b"\"ab\"c\n".to_vec(),
            1_008_011,
            "text after closing quote at line 1",
        ),
        (
            "a.csv",
            b"ab\n\"cd\n".to_vec(),
            1_008_011,
            "unterminated quote at line 2",
        ),
        (
            "a.csv",
            b"a\"b\n".to_vec(),
            1_008_011,
            "quote in unquoted field",
        ),
        ("a.zip", b"abc\n".to_vec(), 1_008_011, "not a valid zip"),
    ];
    for (name, content, code, msg) in cases {
        let a = upload(&t, name, &content).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.ret_code(), code, "{name} {content:?}");
        assert!(
            a.err_msg().contains(msg),
            "{name}: {:?} lacks {msg:?}",
            a.err_msg()
        );
        assert_eq!(a.json()["uploadId"], 0);
    }
    assert!(emu.uploads().is_empty());
    assert!(files_in(&dir.path().join("packages")).is_empty());
    assert!(files_in(&dir.path().join("tmp")).is_empty());
}

#[tokio::test]
async fn malformed_requests() {
    let (_dir, emu) = start_emulator("malformed");
    let t = Target::http(&emu);
    let auth = basic(APP.0, APP.1);
    // Not multipart.
    let req = Request::post(UPLOAD)
        .header("host", "localhost")
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    assert_eq!(send(&t, req).await.unwrap().ret_code(), 1_008_001);
    // Multipart without a file part.
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
    );
    let req = multipart_post(UPLOAD)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let a = send(&t, req).await.unwrap();
    assert_eq!(a.ret_code(), 1_008_002);
    assert!(a.err_msg().contains("file"));
    // A body that never closes its boundary.
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc\n"
    );
    let req = multipart_post(UPLOAD)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    assert_eq!(send(&t, req).await.unwrap().ret_code(), 1_008_001);
    // Unknown path and wrong method.
    let a = get(&t, "/v3/nothing").await;
    assert_eq!(a.status, 404);
    assert!(a.json()["errMsg"].as_str().unwrap().contains("/v3/nothing"));
    assert_eq!(get(&t, UPLOAD).await.status, 405);
    // A broken request head gets a 400 JSON answer.
    let raw = raw_exchange(&t, b"GARBAGE\r\n\r\n").await;
    let (head, body) = split_response(&raw);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
    assert!(emu.uploads().is_empty());
}

/// A chunked request body (no Content-Length), sent by hyper's client from a stream.
#[tokio::test]
async fn chunked_request_body() {
    let (_dir, emu) = start_emulator("chunked-req");
    for t in Target::both(&emu) {
        // The second path goes through the emulator's own HTTP/1.1 reader.
        for path in [UPLOAD, "/_fault/chunked/v3/push/package/upload"] {
            let body = multipart("c.txt", &rows(100));
            let pieces: Vec<Result<Frame<Bytes>, std::io::Error>> = body
                .chunks(333)
                .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
                .collect();
            let req = multipart_post(path)
                .body(StreamBody::new(futures_util::stream::iter(pieces)))
                .unwrap();
            let a = send(&t, req).await.unwrap();
            assert_eq!(a.ret_code(), 0, "{} {path}", t.name());
        }
    }
    assert_eq!(emu.uploads().len(), 4);
    assert!(emu.uploads().iter().all(|u| u.rows == 100));
}

/// `Expect: 100-continue` (as the C# sample sends): the client waits for the interim answer
/// before sending the body, on both server sides.
#[tokio::test]
async fn expect_100_continue() {
    let (_dir, emu) = start_emulator("expect");
    for t in Target::both(&emu) {
        for path in [UPLOAD, "/_fault/slow=0/v3/push/package/upload"] {
            let req = raw_upload(path, "e.txt", &rows(3), "Expect: 100-continue\r\n");
            let split = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let mut io = t.connect().await;
            io.write_all(&req[..split]).await.unwrap();
            let mut interim = [0u8; 25];
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                io.read_exact(&mut interim),
            )
            .await
            .expect("no 100 Continue")
            .unwrap();
            assert_eq!(
                &interim,
                b"HTTP/1.1 100 Continue\r\n\r\n",
                "{} {path}",
                t.name()
            );
            io.write_all(&req[split..]).await.unwrap();
            let raw = read_to_close(&mut io).await;
            let (head, body) = split_response(&raw);
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(j["retCode"], 0);
        }
    }
    assert_eq!(emu.uploads().len(), 4);
}

/// A file name with quotes or path parts is stored under a safe name.
#[tokio::test]
async fn stored_names_are_sanitised() {
    let (dir, emu) = start_emulator("names");
    let t = Target::http(&emu);
    let a = upload(&t, "../../evil name.txt", &rows(2)).await;
    assert_eq!(a.ret_code(), 0);
    let files = files_in(&dir.path().join("packages"));
    assert_eq!(files, vec!["1-evil_name.txt".to_owned()]);
    assert_eq!(emu.uploads()[0].file_name, "../../evil name.txt");
}

/// TLS 1.2 and TLS 1.3 are both served (rustls client pinned to each).
#[tokio::test]
async fn tls_1_2_and_1_3() {
    let (_dir, emu) = start_emulator("tls-versions");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(
            emu.ca_der().to_vec(),
        ))
        .unwrap();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
        let tcp = tokio::net::TcpStream::connect(emu.https_addr())
            .await
            .unwrap();
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        assert_eq!(tls.get_ref().1.protocol_version(), Some(version.version));
        tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut raw = Vec::new();
        let _ = tls.read_to_end(&mut raw).await;
        assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 200 OK"));
    }
}

/// Garbage from a hostile client never stops the server: after each, it still answers.
#[tokio::test]
async fn hostile_inputs_do_not_stop_the_server() {
    let (_dir, emu) = start_emulator("hostile");
    let auth = basic(APP.0, APP.1);
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let mut inputs: Vec<Vec<u8>> = vec![
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        b"POST /v3/push/package/upload HTTP/1.1\r\nContent-Length: x\r\n\r\n".to_vec(),
        b"POST /v3/push/package/upload HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
            .to_vec(),
        b"POST /_fault/chunked/v3/push/app HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
            .to_vec(),
        b"POST /_fault/slow=0/v3/push/app HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
        format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(70_000)).into_bytes(),
        format!("GET / HTTP/1.1\r\n{}\r\n", "X-A: b\r\n".repeat(200)).into_bytes(),
        format!(
            "POST /_fault/{}/v3/push/package/upload HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "times=99999999999999999999999"
        )
        .into_bytes(),
    ];
    for zipish in [
        b"PK\x03\x04\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
        b"PK\x03\x04\x14\x00\x08\x00\x08\x00".to_vec(),
        [
            b"PK\x03\x04".as_slice(),
            &[0u8; 22],
            &[0xff, 0xff, 0xff, 0xff],
        ]
        .concat(),
    ] {
        let body = multipart("x.zip", &zipish);
        let mut req = format!(
            "POST /v3/push/package/upload HTTP/1.1\r\nAuthorization: {auth}\r\n\
             Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        inputs.push(req);
    }
    for t in Target::both(&emu) {
        for input in &inputs {
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(5), raw_exchange(&t, input))
                    .await
                    .expect("the server answers or closes");
            assert_eq!(get(&t, "/").await.status, 200);
        }
    }
    assert!(emu.uploads().is_empty());
}

/// A one-entry zip with a deflated entry, written by hand (flate2 + crc32fast), so the test
/// controls the compression ratio.
fn deflate_zip(name: &str, content: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(content).unwrap();
    let data = enc.finish().unwrap();
    let crc = crc32fast::hash(content);
    let (n, c, u) = (name.len() as u16, data.len() as u32, content.len() as u32);
    let mut zip = Vec::new();
    // Local file header (APPNOTE 4.3.7), method 8, sizes known up front.
    zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    for v in [20u16, 0, 8, 0, 0x21] {
        zip.extend_from_slice(&v.to_le_bytes());
    }
    for v in [crc, c, u] {
        zip.extend_from_slice(&v.to_le_bytes());
    }
    zip.extend_from_slice(&n.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(name.as_bytes());
    zip.extend_from_slice(&data);
    let cd = zip.len() as u32;
    // Central directory header (4.3.12).
    zip.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    for v in [20u16, 20, 0, 8, 0, 0x21] {
        zip.extend_from_slice(&v.to_le_bytes());
    }
    for v in [crc, c, u] {
        zip.extend_from_slice(&v.to_le_bytes());
    }
    for v in [n, 0, 0, 0, 0] {
        zip.extend_from_slice(&v.to_le_bytes());
    }
    zip.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    zip.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    zip.extend_from_slice(name.as_bytes());
    let cd_len = zip.len() as u32 - cd;
    // End of central directory (4.3.16).
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, 1, 1] {
        zip.extend_from_slice(&v.to_le_bytes());
    }
    zip.extend_from_slice(&cd_len.to_le_bytes());
    zip.extend_from_slice(&cd.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

/// A well-compressed entry makes the inflater fill its output buffer many times per input
/// chunk; the checker must still find the stream's end exactly at the compressed size.
/// (Regression: `tpns pack`'s zips of 1 MB of rows were refused with "deflate stream ends
/// before the entry's compressed size".)
#[tokio::test]
async fn a_highly_compressed_zip_is_accepted() {
    let (_dir, emu) = start_emulator("deflate-ratio");
    let content = rows(60_000);
    let zip = deflate_zip("accounts.txt", &content);
    assert!(
        zip.len() * 5 < content.len(),
        "the entry must compress well"
    );
    let t = Target::http(&emu);
    let a = upload(&t, "accounts.zip", &zip).await;
    assert_eq!(a.ret_code(), 0, "{}", a.err_msg());
    assert_eq!(emu.uploads()[0].rows, 60_000);
}

/// A raw upload request with `body` as the multipart body.
fn raw_request_with_body(body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST /v3/push/package/upload HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        basic(APP.0, APP.1),
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

/// A package is stored only once the whole body has been read and is well formed: a valid
/// file part followed by a second file part, or by a broken closing delimiter, leaves nothing
/// stored (and hands out no upload id).
#[tokio::test]
async fn nothing_is_stored_unless_the_whole_body_is_well_formed() {
    let (dir, emu) = start_emulator("whole-body");
    let t = Target::http(&emu);
    let (head, tail) = multipart_parts("a.txt");
    let part = [&head[..], b"alice\nbob\n"].concat();

    // Two file parts.
    let second = format!(
        "\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\n\r\ncarol\n"
    );
    let body = [&part[..], second.as_bytes(), &tail].concat();
    let (_, json) = split_response(&raw_exchange(&t, &raw_request_with_body(&body)).await);
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["retCode"], 1_008_007, "{json}");
    assert!(
        json["errMsg"]
            .as_str()
            .unwrap()
            .contains("more than one file part"),
        "{json}"
    );

    // A closing delimiter that never comes right: the body ends inside the part.
    let body = [&part[..], b"\r\n--not-the-boundary--\r\n"].concat();
    let answer = raw_exchange(&t, &raw_request_with_body(&body)).await;
    if !answer.is_empty() {
        let (_, json) = split_response(&answer);
        let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_ne!(json["retCode"], 0, "{json}");
    }

    assert!(emu.uploads().is_empty(), "{:?}", emu.uploads());
    assert!(files_in(&dir.path().join("packages")).is_empty());
    // The next good upload gets id 1: no id was spent on the refused ones.
    let a = upload(&t, "c.txt", b"dave\nerin\n").await;
    assert_eq!(a.json()["uploadId"], 1, "{}", a.json());
}
