//! Property tests: for arbitrary file names, contents and buffer sizes, the request the upload
//! driver writes is valid HTTP (httparse reads the head), its `Content-Length` equals the
//! bytes sent, and an independent multipart parser (multer) reads back the same field name,
//! file name and bytes.

mod common;

use core::ops::ControlFlow;

use common::{Script, ok_response};
use proptest::prelude::*;
use tpns_core::auth::Credentials;
use tpns_core::endpoint::Endpoint;
use tpns_core::multipart::Boundary;
use tpns_core::response::Limits;
use tpns_core::upload::{Upload, upload};

/// What a browser-style encoder makes of a file name (`"`, CR, LF and other controls as %XX).
fn escaped(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c == '"' || (c as u32) < 0x20 || c == '\u{7f}' {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

struct Parsed {
    content_length: usize,
    body_len: usize,
    field: String,
    file_name: String,
    data: Vec<u8>,
}

fn parse_request(request: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(request).expect("valid HTTP request head") {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => panic!("incomplete head"),
    };
    assert_eq!(req.method, Some("POST"));
    assert_eq!(req.path, Some("/v3/push/package/upload"));
    let header = |name: &str| {
        let h = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .unwrap();
        String::from_utf8(h.value.to_vec()).unwrap()
    };
    let content_length: usize = header("content-length").parse().unwrap();
    let boundary = multer::parse_boundary(header("content-type")).unwrap();
    let body = request[head_len..].to_vec();
    let body_len = body.len();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (field, file_name, data) = rt.block_on(async move {
        let stream =
            futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(body))]);
        let mut form = multer::Multipart::new(stream, boundary);
        let field = form.next_field().await.unwrap().expect("one part");
        let name = field.name().unwrap().to_string();
        let file_name = field.file_name().unwrap().to_string();
        let data = field.bytes().await.unwrap().to_vec();
        assert!(
            form.next_field().await.unwrap().is_none(),
            "exactly one part"
        );
        (name, file_name, data)
    });
    Parsed {
        content_length,
        body_len,
        field,
        file_name,
        data,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 128 }))]

    #[test]
    fn what_is_sent_is_what_is_received(
        name in "\\PC{1,40}|[a-z\"\\r\\n%;= ]{1,20}",
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        buf_len in 1usize..700,
        random in any::<[u8; 16]>(),
    ) {
        let file_name = format!("{name}.txt");
        let endpoint = Endpoint::parse("http://127.0.0.1:8080/").unwrap();
        let job = Upload {
            endpoint: &endpoint,
            credentials: Credentials::new("123", "secret").unwrap(),
            file_name: &file_name,
            boundary: Boundary::from_random(random),
            expect_continue: false,
            limits: Limits::default(),
        };
        let mut script = Script::new(&ok_response(r#"{"retCode":0,"errMsg":"","uploadId":9}"#));
        script.write_chunk = buf_len / 3 + 1;
        let mut buf = vec![0u8; buf_len];
        let answer = upload(&mut script, &job, &data[..], data.len() as u64, &mut buf, |_| {
            ControlFlow::Continue(())
        }).unwrap();
        prop_assert_eq!(answer.upload_id, 9);
        let parsed = parse_request(&script.written);
        prop_assert_eq!(parsed.content_length, parsed.body_len);
        prop_assert_eq!(parsed.field, "file");
        prop_assert_eq!(parsed.file_name, escaped(&file_name));
        prop_assert_eq!(parsed.data, data);
    }
}
