//! The JSON reader on arbitrary bytes: never panics, gives the same fields however the input
//! is split, agrees with serde_json on every document serde_json reads as an upload answer,
//! and refuses every document that gives a wanted key of an upload or push answer twice.
#![no_main]

#[path = "common.rs"]
mod common;

use common::depth;
use libfuzzer_sys::fuzz_target;
use tpns_core::json::JsonReader;
use tpns_core::push::PushFields;
use tpns_core::upload::UploadFields;

type Fields = (Option<i64>, String, Option<i64>);

fn upload_fields(input: &[u8], split: usize) -> Option<Fields> {
    let mut fields = UploadFields::default();
    let mut reader = JsonReader::new();
    let split = split.min(input.len());
    reader.feed(&input[..split], &mut fields).ok()?;
    reader.feed(&input[split..], &mut fields).ok()?;
    reader.finish().ok()?;
    Some((
        fields.ret_code,
        fields.err_msg.as_str().to_owned(),
        fields.upload_id,
    ))
}

/// A JSON object's members in order, duplicates kept (serde_json's `Map` drops them).
struct Pairs(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = m.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(V)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = upload_fields(input, input.len());
    assert_eq!(
        whole,
        upload_fields(input, usize::from(split)),
        "the split changed the result"
    );

    let mut push = PushFields::default();
    let mut reader = JsonReader::new();
    let push_read = reader.feed(input, &mut push).and_then(|()| reader.finish());

    // Differential check on documents serde_json reads, with the field types we require.
    let Ok(Pairs(pairs)) = serde_json::from_slice::<Pairs>(input) else {
        return;
    };
    let map: serde_json::Map<String, serde_json::Value> = pairs.iter().cloned().collect();
    if depth(&serde_json::Value::Object(map.clone())) > 32 {
        return;
    }
    // A wanted field given twice (under any of its spellings) must be refused: serde_json
    // keeps the last value, another reader the first, so the answer means nothing for sure.
    // Ours may fail earlier for another reason (a first value of the wrong type); it must not
    // succeed.
    let given_twice = |spellings: &[&str]| {
        pairs
            .iter()
            .filter(|(k, _)| spellings.contains(&k.as_str()))
            .count()
            > 1
    };
    let upload_keys: [&[&str]; 3] = [
        &["retCode", "ret_code"],
        &["errMsg", "err_msg"],
        &["uploadId", "upload_id"],
    ];
    let push_keys: [&[&str]; 4] = [
        &["ret_code", "retCode"],
        &["err_msg", "errMsg"],
        &["push_id"],
        &["seq"],
    ];
    if push_keys.into_iter().any(given_twice) {
        assert!(
            push_read.is_err(),
            "a push answer with a duplicate key was accepted"
        );
    }
    if upload_keys.into_iter().any(given_twice) {
        assert_eq!(
            whole, None,
            "an upload answer with a duplicate key was accepted"
        );
        return;
    }
    let int = |k1: &str, k2: &str| match map.get(k1).or_else(|| map.get(k2)) {
        None | Some(serde_json::Value::Null) => Some(None),
        Some(serde_json::Value::Number(n)) => n.as_i64().map(Some),
        Some(_) => None,
    };
    let text = match map.get("errMsg").or_else(|| map.get("err_msg")) {
        None | Some(serde_json::Value::Null) => Some(String::new()),
        Some(serde_json::Value::String(s)) => Some(
            s.chars()
                .scan(0, |len, c| {
                    *len += c.len_utf8();
                    (*len <= tpns_core::upload::ERR_MSG_CAP).then_some(c)
                })
                .collect(),
        ),
        Some(_) => None,
    };
    let (Some(ret), Some(msg), Some(id)) = (
        int("retCode", "ret_code"),
        text,
        int("uploadId", "upload_id"),
    ) else {
        return;
    };
    // serde_json accepts "1.0" as a Number that is not an i64: then we reject too (checked above).
    assert_eq!(whole, Some((ret, msg, id)), "disagrees with serde_json");
});
