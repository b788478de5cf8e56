//! The raw JSON validator on arbitrary bytes: never panics, gives the same verdict however
//! the input is split, agrees with serde_json (an accepted document is an object to it; an
//! object it reads, nested at most `MAX_DEPTH` deep, is accepted), and an accepted object
//! written as a push's `message.android` reads back as the same value.
#![no_main]

#[path = "common.rs"]
mod common;

use common::depth;
use libfuzzer_sys::fuzz_target;
use tpns_core::json::MAX_DEPTH;
use tpns_core::push::PushRequest;
use tpns_core::raw_json::{JsonValidator, RawJson, validate_object};
use tpns_core::sink::SliceSink;

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = validate_object(input);
    let split = usize::from(split).min(input.len());
    let mut v = JsonValidator::new();
    let pieces = v
        .feed(&input[..split])
        .and_then(|()| v.feed(&input[split..]));
    let pieces = pieces.and_then(|()| v.finish());
    assert_eq!(whole.is_ok(), pieces.is_ok(), "split at {split}");
    if let (Err(a), Err(b)) = (whole, pieces) {
        assert_eq!(a, b, "split at {split}");
    }
    let serde = serde_json::from_slice::<serde_json::Value>(input);
    match (&whole, &serde) {
        (Ok(()), Ok(value)) => assert!(value.is_object()),
        // serde_json refuses numbers beyond f64; the grammar allows them.
        (Ok(()), Err(e)) => assert!(e.to_string().contains("out of range"), "{e}"),
        (Err(e), Ok(value)) => assert!(
            !value.is_object() || depth(value) > usize::from(MAX_DEPTH),
            "refused ({e}) an object serde_json reads"
        ),
        (Err(_), Err(_)) => {}
    }
    let (Ok(()), Ok(value)) = (whole, serde) else {
        return;
    };
    let raw = RawJson::new(input).expect("validated");
    let request = PushRequest {
        upload_id: 1,
        title: "t",
        content: "c",
        android: Some(raw),
        ..PushRequest::default()
    };
    let mut buf = vec![0u8; request.json_len() as usize];
    let mut sink = SliceSink::new(&mut buf);
    request.emit_json(&mut sink).unwrap();
    assert_eq!(sink.finish().unwrap(), buf.len());
    let body: serde_json::Value = serde_json::from_slice(&buf).expect("the body is JSON");
    assert_eq!(body["message"]["android"], value);
});
