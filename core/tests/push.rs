//! The push driver over a scripted transport, with Basic and signature authentication.

mod common;

use common::{Script, basic_push, head_end, ok_response};
use tpns_core::auth::Credentials;
use tpns_core::endpoint::Endpoint;
use tpns_core::exchange::ExchangeError;
use tpns_core::json::{JsonError, JsonErrorKind};
use tpns_core::push::{Push, PushAuth, PushError, PushRequest, push};
use tpns_core::response::Limits;

const ANSWER: &str = r#"{"seq":0,"push_id":"3895624686","ret_code":0,"environment":"product","err_msg":"NO_ERROR","result":""}"#;

fn request() -> PushRequest<'static> {
    PushRequest {
        upload_id: 11231,
        title: "hello",
        content: "world",
        ..PushRequest::default()
    }
}

/// The test app's push of [`request`] to `endpoint`, and the bytes it sends when all goes well.
fn app_push_and_its_bytes<'a>(endpoint: &'a Endpoint<'a>) -> (Push<'a>, Vec<u8>) {
    let job = basic_push(endpoint, ("1500001048", "s3cret"), request());
    let mut reference = Script::new(&ok_response(ANSWER));
    push(&mut reference, &job, &mut [0u8; 64]).unwrap();
    (job, reference.written)
}

fn split(written: &[u8]) -> (String, String) {
    let text = String::from_utf8(written.to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

#[test]
fn basic_push_with_every_buffer_size() {
    let endpoint = Endpoint::parse("https://127.0.0.1:9443/").unwrap();
    let job = basic_push(&endpoint, ("1500001048", "s3cret"), request());
    let mut reference = None;
    for buf_len in [1, 2, 63, 64, 500, 4096] {
        let mut script = Script::new(&ok_response(ANSWER));
        script.read_chunk = 7;
        let mut buf = vec![0u8; buf_len];
        let answer = push(&mut script, &job, &mut buf).unwrap();
        assert_eq!(answer.push_id.as_str(), "3895624686");
        assert_eq!(answer.err_msg.as_str(), "NO_ERROR");
        let written = script.written.clone();
        assert_eq!(reference.get_or_insert(written.clone()), &written);
    }
    let (head, body) = split(reference.as_ref().unwrap());
    assert!(head.starts_with("POST /v3/push/app HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Type: application/json"));
    assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
    assert_eq!(
        body,
        r#"{"audience_type":"package_account_push","upload_id":11231,"message_type":"notify","message":{"title":"hello","content":"world"}}"#
    );
}

/// A push with every message part: accept_time windows, both platform parts (one of them
/// empty, with odd white space) and custom_content merged into them.
#[test]
fn platform_parts_are_spliced_whole_with_every_buffer_size() {
    use tpns_core::push::AcceptTime;
    use tpns_core::raw_json::RawJson;
    let endpoint = Endpoint::parse("https://127.0.0.1:9443/").unwrap();
    let windows = [
        AcceptTime::parse("08:05-12:00").unwrap(),
        AcceptTime::parse("23:59-00:00").unwrap(),
    ];
    let android = br#"
      {"n_id":0, "action":{"action_type":3,"intent":"xgscheme://com.xg.push/detail?x=\u00e9"},
       "ring":1}
    "#;
    let ios = b"{ 	}";
    let custom = br#"{"key":"va\"lue","n":[1,2]}"#;
    let request = PushRequest {
        accept_time: &windows,
        android: Some(RawJson::new(android).unwrap()),
        ios: Some(RawJson::new(ios).unwrap()),
        custom_content: Some(RawJson::new(custom).unwrap()),
        ..request()
    };
    request.check().unwrap();
    let job = basic_push(&endpoint, ("1500001048", "s3cret"), request);
    let mut reference: Option<Vec<u8>> = None;
    let mut buf_len = 1;
    // Every buffer size up to one that holds the whole request.
    while reference.as_ref().is_none_or(|r| buf_len <= r.len() + 1) {
        let mut script = Script::new(&ok_response(ANSWER));
        let mut buf = vec![0u8; buf_len];
        push(&mut script, &job, &mut buf).unwrap();
        assert_eq!(
            reference.get_or_insert(script.written.clone()),
            &script.written
        );
        buf_len += 1;
    }
    let (head, body) = split(reference.as_ref().unwrap());
    assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let message = &v["message"];
    assert_eq!(
        message["accept_time"],
        serde_json::json!([
            {"start": {"hour": "08", "min": "05"}, "end": {"hour": "12", "min": "00"}},
            {"start": {"hour": "23", "min": "59"}, "end": {"hour": "00", "min": "00"}},
        ])
    );
    let custom_text = std::str::from_utf8(custom).unwrap();
    let mut want_android: serde_json::Value = serde_json::from_slice(android).unwrap();
    want_android["custom_content"] = custom_text.into();
    assert_eq!(message["android"], want_android);
    assert_eq!(
        message["ios"],
        serde_json::json!({"custom_content": custom_text})
    );
    // The caller's object is copied byte for byte, after the added member.
    let android_text = std::str::from_utf8(android).unwrap().trim();
    assert!(body.contains(&android_text[1..]), "{body}");
    // `message` is the body's last member here: its value runs to the last byte but one.
    let start = body.find("\"message\":").unwrap() + "\"message\":".len();
    assert_eq!(request.message_len(), (body.len() - 1 - start) as u64);
}

#[cfg(feature = "signature")]
#[test]
fn signed_push_carries_the_signature_headers() {
    let endpoint = Endpoint::parse("https://127.0.0.1:9443/").unwrap();
    let creds = Credentials::new("1500001048", "1452fcebae9f3115ba794fb0fff2fd73").unwrap();
    let job = Push {
        endpoint: &endpoint,
        auth: PushAuth::Signature {
            credentials: creds,
            timestamp: 1_565_314_789,
        },
        request: request(),
        limits: Limits::default(),
    };
    let mut script = Script::new(&ok_response(ANSWER));
    push(&mut script, &job, &mut [0u8; 256]).unwrap();
    let (head, body) = split(&script.written);
    assert!(!head.contains("Authorization"));
    assert!(head.contains("\r\nAccessId: 1500001048\r\n"));
    assert!(head.contains("\r\nTimeStamp: 1565314789\r\n"));
    let mut signer = tpns_core::signature::Signer::new(&creds, 1_565_314_789);
    tpns_core::sink::Sink::put(&mut signer, body.as_bytes()).unwrap();
    assert!(
        head.contains(&format!("\r\nSign: {}\r\n", signer.finish().as_str())),
        "{head}"
    );
}

#[test]
fn invalid_requests_send_nothing_and_api_errors_are_reported() {
    let endpoint = Endpoint::parse("https://127.0.0.1:9443/").unwrap();
    let mut job = Push {
        endpoint: &endpoint,
        auth: PushAuth::Basic(Credentials::new("1", "s").unwrap()),
        request: PushRequest {
            push_speed: Some(5),
            ..request()
        },
        limits: Limits::default(),
    };
    let mut script = Script::new(&ok_response(ANSWER));
    let err = push(&mut script, &job, &mut [0u8; 64]).unwrap_err();
    assert!(matches!(err, PushError::Invalid(_)), "{err:?}");
    assert!(!err.is_transient() && !err.may_have_been_sent());
    assert!(script.written.is_empty());

    job.request = request();
    let mut script = Script::new(&ok_response(
        r#"{"ret_code":1008028,"err_msg":"request too fast"}"#,
    ));
    let err = push(&mut script, &job, &mut [0u8; 64]).unwrap_err();
    assert!(matches!(
        err,
        PushError::Exchange {
            error: ExchangeError::Api {
                ret_code: 1_008_028,
                ..
            },
            ..
        }
    ));
    assert!(err.is_transient());
}

#[test]
fn odd_successes_are_errors_through_the_driver() {
    let endpoint = Endpoint::parse("https://127.0.0.1:9443/").unwrap();
    let job = basic_push(&endpoint, ("1", "s"), request());
    for answer in [
        r#"{"ret_code":0,"err_msg":"NO_ERROR","push_id":""}"#,
        r#"{"ret_code":0,"push_id":null}"#,
        r#"{"ret_code":0,"push_id":[]}"#,
        r#"{"ret_code":0,"err_msg":"NO_ERROR"}"#,
    ] {
        for buf_len in [1, 64, 4096] {
            let mut script = Script::new(&ok_response(answer));
            script.read_chunk = 5;
            let err = push(&mut script, &job, &mut vec![0u8; buf_len]).unwrap_err();
            let Some(ExchangeError::MissingField { name, body }) = err.exchange() else {
                panic!("{answer}: {err:?}")
            };
            assert_eq!((*name, body.as_str()), ("push_id", answer));
            assert!(!err.is_transient());
        }
    }
    // A refusal and a success in one answer: refused whichever comes last.
    for answer in [
        r#"{"ret_code":1008003,"err_msg":"x","ret_code":0,"push_id":"1"}"#,
        r#"{"ret_code":0,"push_id":"1","retCode":1008003}"#,
        r#"{"ret_code":0,"push_id":"","push_id":"2"}"#,
    ] {
        let mut script = Script::new(&ok_response(answer));
        let err = push(&mut script, &job, &mut [0u8; 64]).unwrap_err();
        assert!(
            matches!(
                err.exchange(),
                Some(ExchangeError::Json(JsonError {
                    kind: JsonErrorKind::DuplicateKey,
                    ..
                }))
            ),
            "{answer}: {err:?}"
        );
    }
}

#[test]
fn write_failures_name_their_phase() {
    let endpoint = Endpoint::parse("https://127.0.0.1:9443/").unwrap();
    let (job, whole) = app_push_and_its_bytes(&endpoint);
    let head_len = head_end(&whole);
    for (at, head) in [(10, true), (head_len + 70, false)] {
        let mut script = Script::new(b"");
        script.fail_write_at = Some(at);
        let err = push(&mut script, &job, &mut [0u8; 64]).unwrap_err();
        match err.exchange() {
            Some(ExchangeError::SendHead(_)) if head => {}
            Some(ExchangeError::SendBody { sent, .. }) if !head => assert!(*sent > 0),
            _ => panic!("at {at}: {err:?}"),
        }
        // Cut off before the body was whole: the service saw no push, so a retry is safe.
        assert!(err.is_transient() && !err.may_have_been_sent(), "{err:?}");
    }
}

/// Where each failure falls: before the whole body left (retry is safe), or after (the push
/// may be delivered; a retry could deliver it twice).
#[test]
fn a_push_error_says_whether_the_push_may_have_gone_out() {
    let endpoint = Endpoint::parse("https://127.0.0.1:9443/").unwrap();
    let (job, whole) = app_push_and_its_bytes(&endpoint);
    let request_len = whole.len();
    let status = |code: &str| format!("HTTP/1.1 {code}\r\nContent-Length: 0\r\n\r\n");
    // (what the server does, transient, may have been sent)
    type Setup = fn(&mut Script, usize);
    let cases: [(&str, Vec<u8>, Setup, bool, bool); 6] = [
        (
            "write fails in the head",
            vec![],
            |s, _| s.fail_write_at = Some(5),
            true,
            false,
        ),
        (
            "write fails in the body",
            vec![],
            |s, n| s.fail_write_at = Some(n - 3),
            true,
            false,
        ),
        (
            "the answer is lost",
            vec![],
            |s, _| s.fail_read_at = Some(0),
            false,
            true,
        ),
        (
            "the answer is cut short",
            b"HTTP/1.1 200 OK\r\nContent-Le".to_vec(),
            |_, _| {},
            false,
            true,
        ),
        (
            "a gateway's 502",
            status("502 Bad Gateway").into_bytes(),
            |_, _| {},
            false,
            true,
        ),
        (
            "the rate limit",
            ok_response(r#"{"ret_code":1008028,"err_msg":"request too fast"}"#),
            |_, _| {},
            true,
            false,
        ),
    ];
    for (case, response, setup, transient, sent) in cases {
        let mut script = Script::new(&response);
        setup(&mut script, request_len);
        let err = push(&mut script, &job, &mut [0u8; 64]).unwrap_err();
        assert_eq!(err.is_transient(), transient, "{case}: {err:?}");
        assert_eq!(err.may_have_been_sent(), sent, "{case}: {err:?}");
    }
}

/// A device loop that retries what `is_transient` allows sends a push whose answer was lost
/// exactly once, and one cut off mid-body until it gets through.
#[test]
fn a_retry_loop_on_is_transient_sends_a_push_once() {
    let endpoint = Endpoint::parse("https://127.0.0.1:9443/").unwrap();
    let (job, whole) = app_push_and_its_bytes(&endpoint);
    // Each attempt is a new connection: `attempts[i]` sets up the i-th.
    let retry_loop = |attempts: &[fn(&mut Script)]| {
        let mut delivered = 0;
        let mut result = None;
        for setup in attempts {
            let mut script = Script::new(&ok_response(ANSWER));
            setup(&mut script);
            let outcome = push(&mut script, &job, &mut [0u8; 64]);
            delivered += usize::from(script.written == whole);
            match outcome {
                Err(e) if e.is_transient() => continue,
                other => {
                    result = Some(other.map(|_| ()).map_err(|e| e.may_have_been_sent()));
                    break;
                }
            }
        }
        (delivered, result)
    };
    // The answer is lost after the whole push left: no second attempt.
    let (delivered, result) = retry_loop(&[|s| s.fail_read_at = Some(0), |_| {}]);
    assert_eq!((delivered, result), (1, Some(Err(true))));
    // Cut off in the body, then through: one whole push, on the second attempt.
    let (delivered, result) = retry_loop(&[|s| s.fail_write_at = Some(200), |_| {}]);
    assert_eq!((delivered, result), (1, Some(Ok(()))));
}
