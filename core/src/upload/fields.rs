//! The fields of an upload's answer, picked out by the JSON reader.

use crate::json::{Visitor, Want};
use crate::text::Text;

/// Capacity of an `errMsg` kept from a response, in bytes.
pub const ERR_MSG_CAP: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UploadField {
    RetCode,
    ErrMsg,
    UploadId,
    Other,
}

/// Marks `bit` in `seen` and says what to do with a wanted key: `want`, or
/// [`Want::Duplicate`] when `bit` was already marked. A `bit` of 0 is a key nobody wants.
/// The one place the duplicate rule is written, for every visitor of an API answer.
pub(crate) fn first_time(seen: &mut u8, bit: u8, want: Want) -> Want {
    if *seen & bit != 0 {
        return Want::Duplicate;
    }
    *seen |= bit;
    want
}

/// The fields of an upload response: `{"retCode":0,"errMsg":"","uploadId":123}`.
///
/// `ret_code`/`err_msg` in snake_case are accepted too, since error bodies of the push API use
/// that spelling and the upload's error bodies are not documented. Each field may appear once,
/// under either spelling: a second `retCode`, `errMsg` or `uploadId` (`ret_code`, `err_msg`,
/// `upload_id`) is [`JsonErrorKind::DuplicateKey`](crate::json::JsonErrorKind::DuplicateKey).
#[derive(Debug, Clone, Copy)]
pub struct UploadFields {
    /// `retCode`, if present.
    pub ret_code: Option<i64>,
    /// `errMsg`, truncated to [`ERR_MSG_CAP`] bytes.
    pub err_msg: Text<ERR_MSG_CAP>,
    /// `uploadId`, if present.
    pub upload_id: Option<i64>,
    current: UploadField,
    /// One bit per wanted field already read.
    seen: u8,
}

impl Default for UploadFields {
    fn default() -> Self {
        UploadFields {
            ret_code: None,
            err_msg: Text::default(),
            upload_id: None,
            current: UploadField::Other,
            seen: 0,
        }
    }
}

impl Visitor for UploadFields {
    fn key(&mut self, key: &[u8]) -> Want {
        let (field, want) = match key {
            b"retCode" | b"ret_code" => (UploadField::RetCode, Want::Int),
            b"errMsg" | b"err_msg" => (UploadField::ErrMsg, Want::Str),
            b"uploadId" | b"upload_id" => (UploadField::UploadId, Want::Int),
            _ => (UploadField::Other, Want::Skip),
        };
        self.current = field;
        let bit = match field {
            UploadField::RetCode => 1,
            UploadField::ErrMsg => 2,
            UploadField::UploadId => 4,
            UploadField::Other => return want,
        };
        first_time(&mut self.seen, bit, want)
    }

    fn int(&mut self, value: i64) {
        match self.current {
            UploadField::RetCode => self.ret_code = Some(value),
            UploadField::UploadId => self.upload_id = Some(value),
            UploadField::ErrMsg | UploadField::Other => {}
        }
    }

    fn char(&mut self, c: char) {
        if self.current == UploadField::ErrMsg {
            self.err_msg.push(c);
        }
    }
}
