//! A streaming, allocation-free JSON reader for API responses (RFC 8259).
//!
//! The body is fed in pieces of any size, as it comes off the wire; nothing is buffered but a
//! top-level key (up to [`KEY_CAP`] bytes). A [`Visitor`] says which top-level fields it wants
//! and receives their values: integers whole, strings one decoded `char` at a time (escapes,
//! `\uXXXX` and surrogate pairs resolved). Everything else, nested objects and arrays included,
//! is checked for syntax and skipped. The document must be one object.
//!
//! A wanted key given twice is refused ([`JsonErrorKind::DuplicateKey`]): the visitor answers
//! [`Want::Duplicate`]. Otherwise `{"retCode":1008003,"retCode":0}` would read as whatever the
//! last value says, and other JSON readers (a proxy's, a log tool's) may read the first.
//!
//! The visitors of the API's answers live with their exchanges:
//! [`UploadFields`](crate::upload::UploadFields) and [`PushFields`](crate::push::PushFields).

use core::fmt;

/// Longest top-level key, in bytes, that a [`Visitor`] is asked about; longer keys are skipped.
pub const KEY_CAP: usize = 32;

/// Deepest nesting of objects and arrays accepted.
pub const MAX_DEPTH: u8 = 32;

/// Which value a visitor wants for a top-level key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Not interested: check the value's syntax and skip it.
    Skip,
    /// An integer, delivered through [`Visitor::int`].
    Int,
    /// A string, delivered through [`Visitor::char`] and [`Visitor::str_end`].
    Str,
    /// A string, or an array of strings (each delivered like [`Want::Str`]).
    Strs,
    /// The visitor already had a value for this key: the document is refused with
    /// [`JsonErrorKind::DuplicateKey`].
    Duplicate,
}

/// Receives the fields a caller is interested in.
///
/// A `null` value for a wanted field is reported through [`Visitor::null`] rather than as a
/// type mismatch: absent and null are treated alike.
pub trait Visitor {
    /// A top-level key was read (its decoded UTF-8 bytes, escapes resolved); say what to do
    /// with its value. Bytes rather than `&str` so that no UTF-8 re-validation is linked in.
    fn key(&mut self, key: &[u8]) -> Want;
    /// The integer value of the current field.
    fn int(&mut self, value: i64) {
        let _ = value;
    }
    /// The next character of the current string value.
    fn char(&mut self, c: char) {
        let _ = c;
    }
    /// The current string value ended.
    fn str_end(&mut self) {}
    /// The current field's value is `null`, or (for [`Want::Strs`]) an element of its array.
    fn null(&mut self) {}
}

/// What is wrong with a JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// A byte that the grammar does not allow here.
    Syntax,
    /// The document is not a JSON object.
    NotAnObject,
    /// The input ended inside the document.
    UnexpectedEnd,
    /// Objects and arrays nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A wanted field has a value of another type.
    TypeMismatch,
    /// A wanted integer does not fit in 64 bits or is not an integer.
    NumberOutOfRange,
    /// A string holds invalid UTF-8.
    InvalidUtf8,
    /// A string holds an unknown escape or a raw control character.
    InvalidEscape,
    /// A wanted field appears twice (under the same or another accepted spelling).
    DuplicateKey,
}

/// A JSON error and the byte offset in the body where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct JsonError {
    /// What is wrong.
    pub kind: JsonErrorKind,
    /// Offset of the offending byte from the start of the body.
    pub offset: u64,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            JsonErrorKind::Syntax => "malformed JSON",
            JsonErrorKind::NotAnObject => "JSON body is not an object",
            JsonErrorKind::UnexpectedEnd => "JSON body ended early",
            JsonErrorKind::TooDeep => "JSON nested too deeply",
            JsonErrorKind::TypeMismatch => "JSON field has an unexpected type",
            JsonErrorKind::NumberOutOfRange => "JSON number is not a 64-bit integer",
            JsonErrorKind::InvalidUtf8 => "JSON string is not valid UTF-8",
            JsonErrorKind::InvalidEscape => {
                "JSON string has an invalid escape or control character"
            }
            JsonErrorKind::DuplicateKey => "JSON field given twice",
        };
        write!(f, "{what} (at byte {})", self.offset)
    }
}

impl core::error::Error for JsonError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Before the top-level object.
    Start,
    /// After `{`: a key or `}`.
    KeyOrClose,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After `:` or `,` in an array: a value.
    Value,
    /// After `[`: a value or `]`.
    ValueOrClose,
    /// After a value: `,` or the closing bracket.
    Comma,
    /// After the top-level object: only whitespace.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Backslash,
    /// Reading `\u` hex digits: how many so far and their value.
    Unicode(u8, u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    None,
    /// In a string; `is_key` tells a key from a value.
    Str {
        is_key: bool,
    },
    Number(Num),
    /// Matching a literal: which one and how many bytes matched.
    Literal(&'static [u8], u8),
}

/// How the value being read relates to the visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deliver {
    No,
    Int,
    Str,
    /// An array whose string elements are delivered.
    StrArray,
}

/// The streaming reader. Feed it with [`JsonReader::feed`], then call [`JsonReader::finish`].
///
/// # Examples
///
/// ```
/// use tpns_core::json::JsonReader;
/// use tpns_core::upload::UploadFields;
///
/// let mut fields = UploadFields::default();
/// let mut reader = JsonReader::new();
/// for piece in [&br#"{"retCode":0,"errMsg":"ok \u00e9","#[..], br#""uploadId":42,"x":[1,{}]}"#] {
///     reader.feed(piece, &mut fields).unwrap();
/// }
/// reader.finish().unwrap();
/// assert_eq!((fields.ret_code, fields.err_msg.as_str(), fields.upload_id), (Some(0), "ok é", Some(42)));
/// ```
#[derive(Debug, Clone)]
pub struct JsonReader {
    expect: Expect,
    token: Token,
    /// Bit `i` set: level `i` is an array.
    stack: u32,
    depth: u8,
    deliver: Deliver,
    /// What the current top-level field wants.
    want: Want,
    key: [u8; KEY_CAP],
    key_len: usize,
    key_overflow: bool,
    escape: Escape,
    high_surrogate: Option<u16>,
    utf8_need: u8,
    utf8_cp: u32,
    utf8_min: u32,
    int: i64,
    negative: bool,
    int_overflow: bool,
    offset: u64,
    /// Refuse unpaired surrogates instead of reading them as U+FFFD.
    strict: bool,
}

impl Default for JsonReader {
    fn default() -> Self {
        JsonReader::new()
    }
}

impl JsonReader {
    /// A reader at the start of a document.
    pub const fn new() -> Self {
        JsonReader {
            expect: Expect::Start,
            token: Token::None,
            stack: 0,
            depth: 0,
            deliver: Deliver::No,
            want: Want::Skip,
            key: [0; KEY_CAP],
            key_len: 0,
            key_overflow: false,
            escape: Escape::None,
            high_surrogate: None,
            utf8_need: 0,
            utf8_cp: 0,
            utf8_min: 0,
            int: 0,
            negative: false,
            int_overflow: false,
            offset: 0,
            strict: false,
        }
    }

    /// A reader that also refuses an unpaired surrogate escape (`"\ud800"`) as
    /// [`JsonErrorKind::InvalidEscape`]. RFC 8259 §8.2 leaves such strings to the receiver,
    /// and common readers (serde_json among them) refuse them: JSON this crate *sends* is held
    /// to that. Answers are read leniently ([`JsonReader::new`]), the lone half as U+FFFD.
    pub const fn strict() -> Self {
        let mut reader = JsonReader::new();
        reader.strict = true;
        reader
    }

    /// Reads the next piece of the body.
    ///
    /// # Errors
    ///
    /// [`JsonError`] at the first byte that makes the document invalid.
    #[inline(never)]
    pub fn feed<V: Visitor + ?Sized>(&mut self, input: &[u8], v: &mut V) -> Result<(), JsonError> {
        for &b in input {
            self.byte(b, v).map_err(|kind| JsonError {
                kind,
                offset: self.offset,
            })?;
            self.offset += 1;
        }
        Ok(())
    }

    /// Checks that the document is complete.
    ///
    /// # Errors
    ///
    /// [`JsonErrorKind::UnexpectedEnd`] if the top-level object is not closed.
    pub fn finish(&self) -> Result<(), JsonError> {
        if self.expect == Expect::End && self.token == Token::None {
            Ok(())
        } else {
            Err(JsonError {
                kind: JsonErrorKind::UnexpectedEnd,
                offset: self.offset,
            })
        }
    }

    fn in_array(&self) -> bool {
        self.depth > 0 && self.stack & (1 << (self.depth - 1)) != 0
    }

    fn byte<V: Visitor + ?Sized>(&mut self, b: u8, v: &mut V) -> Result<(), JsonErrorKind> {
        match self.token {
            Token::Str { is_key } => return self.string_byte(b, is_key, v),
            Token::Number(n) => {
                if self.number_byte(n, b)? {
                    return Ok(());
                }
                // The byte ends the number; it is handled below as structure.
                self.end_number(v)?;
            }
            Token::Literal(lit, i) => {
                if b != lit[usize::from(i)] {
                    return Err(JsonErrorKind::Syntax);
                }
                if usize::from(i) + 1 < lit.len() {
                    self.token = Token::Literal(lit, i + 1);
                } else {
                    self.token = Token::None;
                    self.end_literal(lit, v)?;
                }
                return Ok(());
            }
            Token::None => {}
        }
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            return Ok(());
        }
        match self.expect {
            Expect::Start => {
                if b != b'{' {
                    return Err(JsonErrorKind::NotAnObject);
                }
                self.open(false)
            }
            Expect::KeyOrClose | Expect::Key => match b {
                b'"' => {
                    self.key_len = 0;
                    self.key_overflow = false;
                    self.token = Token::Str { is_key: true };
                    Ok(())
                }
                b'}' if self.expect == Expect::KeyOrClose => self.close(false, v),
                _ => Err(JsonErrorKind::Syntax),
            },
            Expect::Colon => {
                if b != b':' {
                    return Err(JsonErrorKind::Syntax);
                }
                self.expect = Expect::Value;
                Ok(())
            }
            Expect::Value | Expect::ValueOrClose => {
                if b == b']' && self.expect == Expect::ValueOrClose {
                    return self.close(true, v);
                }
                self.start_value(b)
            }
            Expect::Comma => match b {
                b',' => {
                    self.expect = if self.in_array() {
                        Expect::Value
                    } else {
                        Expect::Key
                    };
                    Ok(())
                }
                b'}' if !self.in_array() => self.close(false, v),
                b']' if self.in_array() => self.close(true, v),
                _ => Err(JsonErrorKind::Syntax),
            },
            Expect::End => Err(JsonErrorKind::Syntax),
        }
    }

    /// Decides whether the value starting now goes to the visitor.
    fn delivery(&self) -> Deliver {
        if self.depth == 1 && !self.in_array() {
            match self.want {
                Want::Skip | Want::Duplicate => Deliver::No,
                Want::Int => Deliver::Int,
                Want::Str | Want::Strs => Deliver::Str,
            }
        } else if self.depth == 2 && self.deliver == Deliver::StrArray {
            Deliver::Str
        } else {
            Deliver::No
        }
    }

    fn start_value(&mut self, b: u8) -> Result<(), JsonErrorKind> {
        let deliver = self.delivery();
        let top_field = self.depth == 1;
        let mismatch = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(JsonErrorKind::TypeMismatch)
            }
        };
        match b {
            b'{' => {
                mismatch(deliver == Deliver::No)?;
                self.open(false)
            }
            b'[' => {
                if top_field && self.want == Want::Strs {
                    self.deliver = Deliver::StrArray;
                } else {
                    mismatch(deliver == Deliver::No)?;
                }
                self.open(true)
            }
            b'"' => {
                mismatch(matches!(deliver, Deliver::No | Deliver::Str))?;
                if top_field {
                    self.deliver = deliver;
                }
                self.token = Token::Str { is_key: false };
                Ok(())
            }
            b'-' | b'0'..=b'9' => {
                mismatch(matches!(deliver, Deliver::No | Deliver::Int))?;
                if top_field {
                    self.deliver = deliver;
                }
                self.int = 0;
                self.negative = b == b'-';
                self.int_overflow = false;
                self.token = Token::Number(match b {
                    b'-' => Num::Minus,
                    b'0' => Num::Zero,
                    _ => {
                        self.int = i64::from(b - b'0');
                        Num::Int
                    }
                });
                Ok(())
            }
            b't' | b'f' => {
                mismatch(deliver == Deliver::No)?;
                let lit: &'static [u8] = if b == b't' { b"true" } else { b"false" };
                self.token = Token::Literal(lit, 1);
                Ok(())
            }
            b'n' => {
                if top_field {
                    self.deliver = deliver;
                }
                self.token = Token::Literal(b"null", 1);
                Ok(())
            }
            _ => Err(JsonErrorKind::Syntax),
        }
    }

    fn open(&mut self, array: bool) -> Result<(), JsonErrorKind> {
        if self.depth >= MAX_DEPTH {
            return Err(JsonErrorKind::TooDeep);
        }
        if array {
            self.stack |= 1 << self.depth;
        } else {
            self.stack &= !(1 << self.depth);
        }
        self.depth += 1;
        self.expect = if array {
            Expect::ValueOrClose
        } else {
            Expect::KeyOrClose
        };
        Ok(())
    }

    fn close<V: Visitor + ?Sized>(&mut self, array: bool, v: &mut V) -> Result<(), JsonErrorKind> {
        debug_assert_eq!(self.in_array(), array);
        let _ = (array, v);
        self.depth -= 1;
        self.value_done();
        Ok(())
    }

    /// A value (of any kind) just ended at the current depth.
    fn value_done(&mut self) {
        if self.depth == 1 {
            self.deliver = Deliver::No;
            self.want = Want::Skip;
        }
        self.expect = if self.depth == 0 {
            Expect::End
        } else {
            Expect::Comma
        };
    }

    fn end_literal<V: Visitor + ?Sized>(
        &mut self,
        lit: &[u8],
        v: &mut V,
    ) -> Result<(), JsonErrorKind> {
        let wanted = match self.depth {
            1 => self.deliver != Deliver::No,
            2 => self.deliver == Deliver::StrArray,
            _ => false,
        };
        if lit == b"null" && wanted {
            v.null();
        }
        self.value_done();
        Ok(())
    }

    /// Returns `true` if `b` belongs to the number.
    fn number_byte(&mut self, n: Num, b: u8) -> Result<bool, JsonErrorKind> {
        let next = match (n, b) {
            (Num::Minus, b'0') => Num::Zero,
            (Num::Minus, b'1'..=b'9') | (Num::Int, b'0'..=b'9') => {
                let digit = i64::from(b - b'0');
                let signed = if self.negative { -digit } else { digit };
                match self.int.checked_mul(10).and_then(|x| x.checked_add(signed)) {
                    Some(x) => self.int = x,
                    None => self.int_overflow = true,
                }
                Num::Int
            }
            (Num::Zero | Num::Int, b'.') => Num::Dot,
            (Num::Dot | Num::Frac, b'0'..=b'9') => Num::Frac,
            (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Num::E,
            (Num::E, b'+' | b'-') => Num::ESign,
            (Num::E | Num::ESign | Num::Exp, b'0'..=b'9') => Num::Exp,
            (Num::Zero | Num::Int | Num::Frac | Num::Exp, _) => return Ok(false),
            _ => return Err(JsonErrorKind::Syntax),
        };
        self.token = Token::Number(next);
        Ok(true)
    }

    fn end_number<V: Visitor + ?Sized>(&mut self, v: &mut V) -> Result<(), JsonErrorKind> {
        let Token::Number(n) = self.token else {
            return Ok(());
        };
        self.token = Token::None;
        if self.depth == 1 && self.deliver == Deliver::Int {
            if self.int_overflow || !matches!(n, Num::Zero | Num::Int) {
                return Err(JsonErrorKind::NumberOutOfRange);
            }
            v.int(self.int);
        }
        self.value_done();
        Ok(())
    }

    fn string_byte<V: Visitor + ?Sized>(
        &mut self,
        b: u8,
        is_key: bool,
        v: &mut V,
    ) -> Result<(), JsonErrorKind> {
        if self.utf8_need > 0 {
            if b & 0xc0 != 0x80 {
                return Err(JsonErrorKind::InvalidUtf8);
            }
            self.utf8_cp = (self.utf8_cp << 6) | u32::from(b & 0x3f);
            self.utf8_need -= 1;
            if self.utf8_need == 0 {
                if self.utf8_cp < self.utf8_min {
                    return Err(JsonErrorKind::InvalidUtf8); // overlong
                }
                let c = char::from_u32(self.utf8_cp).ok_or(JsonErrorKind::InvalidUtf8)?;
                self.emit(c, is_key, v)?;
            }
            return Ok(());
        }
        match self.escape {
            Escape::Backslash => {
                let c = match b {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        self.escape = Escape::Unicode(0, 0);
                        return Ok(());
                    }
                    _ => return Err(JsonErrorKind::InvalidEscape),
                };
                self.escape = Escape::None;
                if self.high_surrogate.take().is_some() {
                    self.lone_surrogate(is_key, v)?;
                }
                return self.emit(c, is_key, v);
            }
            Escape::Unicode(n, acc) => {
                let digit = (b as char)
                    .to_digit(16)
                    .ok_or(JsonErrorKind::InvalidEscape)?;
                let acc = (acc << 4) | digit as u16;
                if n < 3 {
                    self.escape = Escape::Unicode(n + 1, acc);
                    return Ok(());
                }
                self.escape = Escape::None;
                return self.code_unit(acc, is_key, v);
            }
            Escape::None => {}
        }
        if let Some(high) = self.high_surrogate.take() {
            // A high surrogate not followed by `\u` + low surrogate: keep the text readable.
            if b == b'\\' {
                self.high_surrogate = Some(high);
                self.escape = Escape::Backslash;
                return Ok(());
            }
            self.lone_surrogate(is_key, v)?;
        }
        match b {
            b'"' => {
                self.token = Token::None;
                if is_key {
                    self.end_key(v)?;
                } else {
                    if self.deliver != Deliver::No && self.depth <= 2 {
                        v.str_end();
                    }
                    self.value_done();
                }
                Ok(())
            }
            b'\\' => {
                self.escape = Escape::Backslash;
                Ok(())
            }
            0x00..=0x1f => Err(JsonErrorKind::InvalidEscape),
            0x20..=0x7f => self.emit(b as char, is_key, v),
            0xc2..=0xdf => self.utf8_start(1, u32::from(b & 0x1f), 0x80),
            0xe0..=0xef => self.utf8_start(2, u32::from(b & 0x0f), 0x800),
            0xf0..=0xf4 => self.utf8_start(3, u32::from(b & 0x07), 0x1_0000),
            _ => Err(JsonErrorKind::InvalidUtf8),
        }
    }

    fn utf8_start(&mut self, need: u8, bits: u32, min: u32) -> Result<(), JsonErrorKind> {
        self.utf8_need = need;
        self.utf8_cp = bits;
        self.utf8_min = min;
        Ok(())
    }

    /// Handles one UTF-16 code unit from a `\u` escape (RFC 8259 §7).
    fn code_unit<V: Visitor + ?Sized>(
        &mut self,
        unit: u16,
        is_key: bool,
        v: &mut V,
    ) -> Result<(), JsonErrorKind> {
        match (self.high_surrogate.take(), unit) {
            (Some(high), 0xdc00..=0xdfff) => {
                let cp = 0x1_0000 + ((u32::from(high) - 0xd800) << 10) + (u32::from(unit) - 0xdc00);
                self.emit(
                    char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER),
                    is_key,
                    v,
                )
            }
            (previous, 0xd800..=0xdbff) => {
                if previous.is_some() {
                    self.lone_surrogate(is_key, v)?;
                }
                self.high_surrogate = Some(unit);
                Ok(())
            }
            (previous, _) => {
                if previous.is_some() {
                    self.lone_surrogate(is_key, v)?;
                }
                match char::from_u32(u32::from(unit)) {
                    Some(c) => self.emit(c, is_key, v),
                    // A low surrogate with no high one before it.
                    None => self.lone_surrogate(is_key, v),
                }
            }
        }
    }

    /// An unpaired surrogate: an error for a strict reader, U+FFFD otherwise.
    fn lone_surrogate<V: Visitor + ?Sized>(
        &mut self,
        is_key: bool,
        v: &mut V,
    ) -> Result<(), JsonErrorKind> {
        if self.strict {
            return Err(JsonErrorKind::InvalidEscape);
        }
        self.emit(char::REPLACEMENT_CHARACTER, is_key, v)
    }

    fn emit<V: Visitor + ?Sized>(
        &mut self,
        c: char,
        is_key: bool,
        v: &mut V,
    ) -> Result<(), JsonErrorKind> {
        if is_key {
            if self.depth == 1 {
                let mut utf8 = [0u8; 4];
                let bytes = c.encode_utf8(&mut utf8).as_bytes();
                match self.key.get_mut(self.key_len..self.key_len + bytes.len()) {
                    Some(dst) => {
                        dst.copy_from_slice(bytes);
                        self.key_len += bytes.len();
                    }
                    None => self.key_overflow = true,
                }
            }
        } else if self.deliver != Deliver::No && self.depth <= 2 {
            v.char(c);
        }
        Ok(())
    }

    fn end_key<V: Visitor + ?Sized>(&mut self, v: &mut V) -> Result<(), JsonErrorKind> {
        if self.depth == 1 {
            self.want = if self.key_overflow {
                Want::Skip
            } else {
                v.key(&self.key[..self.key_len])
            };
            if self.want == Want::Duplicate {
                return Err(JsonErrorKind::DuplicateKey);
            }
        }
        self.expect = Expect::Colon;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::{ERR_MSG_CAP, UploadFields};
    use std::string::{String, ToString};
    use std::vec::Vec;

    fn parse(body: &[u8], chunk: usize) -> Result<UploadFields, JsonError> {
        let mut fields = UploadFields::default();
        let mut reader = JsonReader::new();
        for piece in body.chunks(chunk.max(1)) {
            reader.feed(piece, &mut fields)?;
        }
        reader.finish()?;
        Ok(fields)
    }

    fn summary(
        r: Result<UploadFields, JsonError>,
    ) -> Result<(Option<i64>, String, Option<i64>), JsonError> {
        r.map(|f| (f.ret_code, String::from(f.err_msg.as_str()), f.upload_id))
    }

    /// Every chunking must give the same result.
    fn all_chunkings(body: &[u8]) -> Result<(Option<i64>, String, Option<i64>), JsonError> {
        let whole = summary(parse(body, body.len()));
        for chunk in 1..body.len() {
            assert_eq!(summary(parse(body, chunk)), whole, "chunk {chunk}");
        }
        whole
    }

    #[test]
    fn picks_fields_in_any_order_and_skips_the_rest() {
        let body = br#" { "extra": {"a":[1,2,{"b":null}],"retCode":5}, "uploadId" : 123 ,
            "list":[true,false,null,-1.5e+3,"x\"y"], "errMsg":"", "retCode":0 } "#;
        assert_eq!(all_chunkings(body), Ok((Some(0), String::new(), Some(123))));
    }

    #[test]
    fn decodes_escapes_and_surrogates() {
        let body = br#"{"retCode":1008007,"errMsg":"a\"b\\c\/d\n\t\u00e9\u4e2d\ud83d\ude00 \u6587\u4ef6 ok"}"#;
        assert_eq!(
            all_chunkings(body),
            Ok((
                Some(1_008_007),
                String::from("a\"b\\c/d\n\té中😀 文件 ok"),
                None
            ))
        );
        // Raw UTF-8 passes through; a lone surrogate becomes U+FFFD.
        let body = "{\"errMsg\":\"参数错误 \\ud800x\"}".as_bytes();
        assert_eq!(
            all_chunkings(body),
            Ok((None, String::from("参数错误 \u{fffd}x"), None))
        );
    }

    #[test]
    fn truncates_on_a_char_boundary() {
        let long: String = core::iter::repeat_n('中', 100).collect();
        let body = std::format!(r#"{{"retCode":1,"errMsg":"{long}"}}"#);
        let f = parse(body.as_bytes(), 7).unwrap();
        assert!(f.err_msg.is_truncated());
        assert_eq!(f.err_msg.as_str().len(), ERR_MSG_CAP / 3 * 3);
        assert!(f.err_msg.as_str().chars().all(|c| c == '中'));
    }

    #[test]
    fn null_is_absent() {
        assert_eq!(
            all_chunkings(br#"{"retCode":null,"errMsg":null,"uploadId":null}"#),
            Ok((None, String::new(), None))
        );
    }

    #[test]
    fn rejects_malformed_json() {
        use JsonErrorKind::*;
        let cases: &[(&[u8], JsonErrorKind)] = &[
            (b"", UnexpectedEnd),
            (b"[1]", NotAnObject),
            (b"{", UnexpectedEnd),
            (b"{\"a\":1", UnexpectedEnd),
            (b"{\"a\":1,}", Syntax),
            (b"{\"a\" 1}", Syntax),
            (b"{\"a\":01}", Syntax),
            (b"{\"a\":-}", Syntax),
            (b"{\"a\":1.}", Syntax),
            (b"{\"a\":tru}", Syntax),
            (b"{\"a\":[1,]}", Syntax),
            (b"{\"a\":1]", Syntax),
            (b"{} {}", Syntax),
            (b"{\"a\":\"\\x\"}", InvalidEscape),
            (b"{\"a\":\"\\u12g4\"}", InvalidEscape),
            (b"{\"a\":\"tab\there\"}", InvalidEscape),
            (b"{\"a\":\"\xff\"}", InvalidUtf8),
            (b"{\"a\":\"\xc0\x80\"}", InvalidUtf8),
            (b"{\"a\":\"\xed\xa0\x80\"}", InvalidUtf8),
            (b"{\"retCode\":\"0\"}", TypeMismatch),
            (b"{\"errMsg\":5}", TypeMismatch),
            (b"{\"uploadId\":{}}", TypeMismatch),
            (b"{\"uploadId\":1.5}", NumberOutOfRange),
            (b"{\"uploadId\":99999999999999999999}", NumberOutOfRange),
        ];
        for (body, kind) in cases {
            let got = all_chunkings(body);
            assert_eq!(
                got.map_err(|e| e.kind),
                Err(*kind),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let deep: Vec<u8> = b"{\"a\":"
            .iter()
            .copied()
            .chain(core::iter::repeat_n(b'[', 40))
            .collect();
        assert_eq!(parse(&deep, 3).map(|_| ()).unwrap_err().kind, TooDeep);
    }

    #[test]
    fn a_wanted_field_given_twice_is_refused() {
        let body = br#"{"retCode":1008003,"errMsg":"x","retCode":0,"uploadId":42}"#;
        let err = all_chunkings(body).unwrap_err();
        assert_eq!(err.kind, JsonErrorKind::DuplicateKey);
        // At the second key's closing quote, before its value is read.
        assert_eq!(err.offset, 40);
        assert_eq!(body[usize::try_from(err.offset).unwrap()], b'"');
        assert_eq!(err.to_string(), "JSON field given twice (at byte 40)");
        for body in [
            &br#"{"retCode":0,"ret_code":0,"uploadId":1}"#[..],
            br#"{"uploadId":1,"retCode":0,"upload_id":1}"#,
            br#"{"uploadId":1,"uploadId":2,"retCode":0}"#,
            br#"{"errMsg":"a","err_msg":"b","retCode":0}"#,
            br#"{"retCode":null,"retCode":0}"#,
            br#"{"retCode":1,"retCode":0}"#,
        ] {
            assert_eq!(
                all_chunkings(body).map_err(|e| e.kind),
                Err(JsonErrorKind::DuplicateKey),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // Other keys, and wanted names inside nested values, may repeat.
        let body = br#"{"x":1,"x":[2],"a":{"retCode":1,"retCode":2},"retCode":0,"uploadId":3}"#;
        assert_eq!(all_chunkings(body), Ok((Some(0), String::new(), Some(3))));
    }

    #[test]
    fn long_keys_are_skipped() {
        let key: String = core::iter::repeat_n('k', KEY_CAP + 1).collect();
        let body = std::format!(r#"{{"{key}":"x","retCode":0}}"#);
        assert_eq!(
            all_chunkings(body.as_bytes()),
            Ok((Some(0), String::new(), None))
        );
    }

    #[derive(Default)]
    struct Ids(Vec<String>, String);
    impl Visitor for Ids {
        fn key(&mut self, key: &[u8]) -> Want {
            if key == b"push_id" {
                Want::Strs
            } else {
                Want::Skip
            }
        }
        fn char(&mut self, c: char) {
            self.1.push(c);
        }
        fn str_end(&mut self) {
            self.0.push(core::mem::take(&mut self.1));
        }
    }

    #[test]
    fn string_or_array_of_strings() {
        for (body, ids) in [
            (&br#"{"push_id":"123","x":["no"]}"#[..], &["123"][..]),
            (br#"{"push_id":["1","22"],"y":"z"}"#, &["1", "22"]),
            (br#"{"push_id":[]}"#, &[]),
        ] {
            let mut v = Ids::default();
            let mut r = JsonReader::new();
            r.feed(body, &mut v).unwrap();
            r.finish().unwrap();
            assert_eq!(v.0, ids);
        }
        let mut r = JsonReader::new();
        let err = r
            .feed(br#"{"push_id":[1]}"#, &mut Ids::default())
            .unwrap_err();
        assert_eq!(err.kind, JsonErrorKind::TypeMismatch);
    }
}
