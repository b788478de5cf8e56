//! Caller-provided JSON objects spliced into a request body, such as a push's
//! `message.android` and `message.ios`.
//!
//! [`JsonValidator`] checks, in pieces of any size and with no buffer, that bytes are exactly
//! one JSON object (RFC 8259): structure, strings (UTF-8, escapes, no raw control character,
//! no unpaired surrogate), numbers, literals, nesting at most
//! [`MAX_DEPTH`](crate::json::MAX_DEPTH) deep, and nothing
//! but white space around it. It is the response reader ([`JsonReader::strict`]) with a
//! visitor that wants nothing, so the grammar lives in one place.
//!
//! [`RawJson`] is a slice that passed the check: the type is the proof, so a writer copies its
//! bytes through unchanged. Duplicate keys inside it are not refused (as in most JSON readers,
//! the receiver's rule applies).

use crate::json::{JsonError, JsonErrorKind, JsonReader, Visitor, Want};

/// Looks for one top-level key; wants no value.
struct FindKey<'k> {
    key: &'k [u8],
    found: bool,
}

impl Visitor for FindKey<'_> {
    fn key(&mut self, key: &[u8]) -> Want {
        self.found |= key == self.key;
        Want::Skip
    }
}

/// Checks that a document is exactly one JSON object, fed in pieces.
///
/// # Examples
///
/// ```
/// use tpns_core::raw_json::JsonValidator;
/// let mut v = JsonValidator::new();
/// v.feed(br#"{"aps":{"alert":{"ti"#).unwrap();
/// v.feed(br#"tle":"Hi"},"badge_type":-1}}"#).unwrap();
/// assert!(v.finish().is_ok());
/// ```
#[derive(Debug, Clone, Default)]
pub struct JsonValidator {
    reader: JsonReader,
}

impl JsonValidator {
    /// A validator at the start of a document.
    pub const fn new() -> Self {
        JsonValidator {
            reader: JsonReader::strict(),
        }
    }

    /// Checks the next piece.
    ///
    /// # Errors
    ///
    /// [`JsonError`] at the first byte that makes the document invalid (its offset counts from
    /// the first byte fed).
    pub fn feed(&mut self, input: &[u8]) -> Result<(), JsonError> {
        self.reader.feed(
            input,
            &mut FindKey {
                key: b"",
                found: false,
            },
        )
    }

    /// Checks that the object is complete.
    ///
    /// # Errors
    ///
    /// [`JsonErrorKind::UnexpectedEnd`] if the input stopped inside the object (or was empty).
    pub fn finish(&self) -> Result<(), JsonError> {
        self.reader.finish()
    }
}

/// Checks that `json` is exactly one JSON object (white space around it allowed).
///
/// # Errors
///
/// The first [`JsonError`] found.
pub fn validate_object(json: &[u8]) -> Result<(), JsonError> {
    let mut v = JsonValidator::new();
    v.feed(json)?;
    v.finish()
}

/// A JSON object known to be valid, to be copied into a body as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawJson<'a> {
    /// The object, white space around it removed.
    text: &'a str,
}

impl<'a> RawJson<'a> {
    /// Checks `json` with [`validate_object`] and keeps it, surrounding white space removed.
    ///
    /// # Errors
    ///
    /// The first [`JsonError`] found.
    pub fn new(json: &'a [u8]) -> Result<Self, JsonError> {
        validate_object(json)?;
        let text = core::str::from_utf8(json.trim_ascii()).map_err(|e| JsonError {
            // Unreachable after the check (strings are UTF-8, the rest ASCII); kept an error.
            kind: JsonErrorKind::InvalidUtf8,
            offset: e.valid_up_to() as u64,
        })?;
        Ok(RawJson { text })
    }

    /// The object's text.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The object's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Whether the object has no member (`{}`, `{ }`).
    pub fn is_empty_object(&self) -> bool {
        self.members().first() == Some(&b'}')
    }

    /// The text after the opening `{` and any white space: the members and the closing `}`.
    /// Lets a writer add members in front: `{` + its own + `,` + this (or `}` when empty).
    pub fn members(&self) -> &'a [u8] {
        self.as_bytes().get(1..).unwrap_or(b"").trim_ascii_start()
    }

    /// Whether the object has `key` (decoded, at most [`KEY_CAP`](crate::json::KEY_CAP)
    /// bytes) among its own members, not counting nested objects.
    pub fn has_key(&self, key: &[u8]) -> bool {
        let mut find = FindKey { key, found: false };
        let mut reader = JsonReader::strict();
        // Checked at construction: the reader cannot fail here.
        let _ = reader.feed(self.as_bytes(), &mut find);
        find.found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::MAX_DEPTH;
    use std::format;
    use std::string::String;
    use std::vec::Vec;

    /// Feeds `doc` in pieces of `chunk` bytes.
    fn chunked(doc: &[u8], chunk: usize) -> Result<(), JsonError> {
        let mut v = JsonValidator::new();
        for piece in doc.chunks(chunk.max(1)) {
            v.feed(piece)?;
        }
        v.finish()
    }

    fn nested(depth: usize) -> String {
        let mut s = String::new();
        for _ in 0..depth - 1 {
            s.push_str("{\"a\":");
        }
        s.push_str("{}");
        for _ in 0..depth - 1 {
            s.push('}');
        }
        s
    }

    #[test]
    fn accepts() {
        let deep = nested(usize::from(MAX_DEPTH));
        let docs: Vec<&[u8]> = std::vec![
            b"{}",
            b" \t\r\n{ }\n",
            br#"{"aps":{"alert":{"title":"t","body":"b"},"badge_type":-1,"sound":"a.caf"}}"#,
            br#"{"n":[0,-0,1.5,-2e10,3E+2,4e-1,0.0,12345678901234567890123]}"#,
            br#"{"t":true,"f":false,"z":null,"a":[],"o":{},"s":""}"#,
            br#"{"esc":"\" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 \uFFFF"}"#,
            "{\"utf8\":\"标题 é 😀\"}".as_bytes(),
            br#"{"dup":1,"dup":2}"#,
            deep.as_bytes(),
        ];
        for doc in docs {
            for chunk in 1..=doc.len() {
                assert_eq!(
                    chunked(doc, chunk),
                    Ok(()),
                    "{}",
                    String::from_utf8_lossy(doc)
                );
            }
            assert!(serde_json::from_slice::<serde_json::Value>(doc).is_ok_and(|v| v.is_object()));
        }
    }

    #[test]
    fn refuses() {
        use JsonErrorKind::*;
        let too_deep = nested(usize::from(MAX_DEPTH) + 1);
        let cases: Vec<(&[u8], JsonErrorKind)> = std::vec![
            (b"", UnexpectedEnd),
            (b"   ", UnexpectedEnd),
            (b"[]", NotAnObject),
            (b"\"s\"", NotAnObject),
            (b"1", NotAnObject),
            (b"null", NotAnObject),
            (b"{", UnexpectedEnd),
            (br#"{"a":1"#, UnexpectedEnd),
            (br#"{"a":"x"#, UnexpectedEnd),
            (b"{}{}", Syntax),
            (b"{} x", Syntax),
            (br#"{"a":1,}"#, Syntax),
            (br#"{"a" 1}"#, Syntax),
            (br#"{a:1}"#, Syntax),
            (br#"{'a':1}"#, Syntax),
            (br#"{"a":[1,]}"#, Syntax),
            (br#"{"a":01}"#, Syntax),
            (br#"{"a":1.}"#, Syntax),
            (br#"{"a":.5}"#, Syntax),
            (br#"{"a":-}"#, Syntax),
            (br#"{"a":1e}"#, Syntax),
            (br#"{"a":+1}"#, Syntax),
            (br#"{"a":tru}"#, Syntax),
            (br#"{"a":nul}"#, Syntax),
            (br#"{"a":NaN}"#, Syntax),
            (br#"{"a":"\x"}"#, InvalidEscape),
            (br#"{"a":"\u12g4"}"#, InvalidEscape),
            (br#"{"a":"\ud800"}"#, InvalidEscape),
            (br#"{"a":"\udc00"}"#, InvalidEscape),
            (br#"{"a":"\ud800\u0041"}"#, InvalidEscape),
            (br#"{"a":"\ud800x"}"#, InvalidEscape),
            (b"{\"a\":\"\t\"}", InvalidEscape),
            (b"{\"a\":\"\xff\"}", InvalidUtf8),
            (b"{\"a\":\"\xc0\x80\"}", InvalidUtf8),
            (b"{\"a\":\"\xed\xa0\x80\"}", InvalidUtf8),
            (b"\xef\xbb\xbf{}", NotAnObject),
            (too_deep.as_bytes(), TooDeep),
        ];
        for (doc, kind) in cases {
            for chunk in 1..=doc.len().max(1) {
                let err = chunked(doc, chunk).expect_err(&format!("{doc:?}"));
                assert_eq!(err.kind, kind, "{}", String::from_utf8_lossy(doc));
            }
            // serde_json agrees, except on depth: it nests deeper (128) than our bound.
            assert!(
                kind == TooDeep
                    || serde_json::from_slice::<serde_json::Value>(doc)
                        .map_or(true, |v| !v.is_object()),
                "serde_json takes {}",
                String::from_utf8_lossy(doc)
            );
        }
    }

    #[test]
    fn raw_json_keeps_the_trimmed_object() {
        let raw =
            RawJson::new(b"\n { \"custom_content\" : \"{}\" , \"x\":{\"k\":1}} \r\n").unwrap();
        assert_eq!(
            raw.as_str(),
            "{ \"custom_content\" : \"{}\" , \"x\":{\"k\":1}}"
        );
        assert!(!raw.is_empty_object());
        assert_eq!(
            raw.members(),
            b"\"custom_content\" : \"{}\" , \"x\":{\"k\":1}}"
        );
        assert!(raw.has_key(b"custom_content"));
        assert!(raw.has_key(b"x"));
        assert!(!raw.has_key(b"k"));
        let empty = RawJson::new(b"{ \n}").unwrap();
        assert!(empty.is_empty_object());
        assert_eq!(empty.members(), b"}");
        assert_eq!(
            RawJson::new(b"[1]").unwrap_err().kind,
            JsonErrorKind::NotAnObject
        );
    }

    /// Documents over JSON's own alphabet, most of them broken: the validator's verdict
    /// agrees with serde_json's (shallow ones, so that depth does not decide), whatever the
    /// split.
    #[test]
    fn agrees_with_serde_json_on_generated_documents() {
        use proptest::prelude::*;
        let config = proptest::test_runner::Config {
            // Under Miri a few cases: the interpreter is slow and the grammar is tested above.
            cases: if cfg!(miri) { 8 } else { 4000 },
            ..Default::default()
        };
        // A fixed seed: the share of valid documents a random run draws varies, and the count
        // below must not depend on luck.
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            config,
            proptest::test_runner::TestRng::deterministic_rng(
                proptest::test_runner::RngAlgorithm::ChaCha,
            ),
        );
        let accepted = core::cell::Cell::new(0u32);
        let docs = proptest::string::string_regex(
            r#"\{([ "a:,01e.\-\[\]{}tfnrul\\]|\\u[0-9a-fA-F]{4}|\\ud8[0-9a-f]{2}){0,40}\}?"#,
        )
        .unwrap();
        runner
            .run(&(docs, 0usize..48), |(doc, split)| {
                let bytes = doc.as_bytes();
                let ours = validate_object(bytes);
                let split = split.min(bytes.len());
                let mut v = JsonValidator::new();
                let pieces = v
                    .feed(&bytes[..split])
                    .and_then(|()| v.feed(&bytes[split..]))
                    .and_then(|()| v.finish());
                prop_assert_eq!(ours, pieces);
                let theirs =
                    serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| v.is_object());
                prop_assert_eq!(ours.is_ok(), theirs, "{}", doc);
                accepted.set(accepted.get() + u32::from(theirs));
                Ok(())
            })
            .unwrap();
        // Not only broken documents.
        assert!(
            cfg!(miri) || accepted.get() > 40,
            "{} accepted",
            accepted.get()
        );
    }
}
