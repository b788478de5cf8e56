//! Incremental, bounded reading of an HTTP/1.1 response (RFC 9112).
//!
//! [`ResponseReader`] is a byte-level state machine: it keeps no copy of the input, so it works
//! with a caller buffer of any size (even one byte) and never re-reads a byte. Feed it whatever
//! the transport returned; it reports how much it consumed and one [`Event`]:
//! [`Event::NeedMore`] is a normal result, not an error.
//!
//! Why not `httparse`: httparse needs the whole head in one contiguous buffer, but the upload
//! path runs with one caller buffer that may be 64 bytes on a device. The state machine here
//! needs none; its tests check it against httparse on every head in the table.
//!
//! What it understands: the status line; `Content-Length` (repeated identical values are
//! accepted, differing ones are an error, RFC 9110 §8.6); `Transfer-Encoding: chunked` with
//! chunk extensions and trailers (RFC 9112 §7.1); close-delimited bodies (RFC 9112 §6.3);
//! interim 1xx responses, skipped with an [`Event::Interim`]; no body for 204 and 304. Bare LF
//! line ends are accepted (RFC 9112 §2.2); obsolete line folding is refused (§5.2). Every
//! other header is checked for syntax and ignored.

use core::fmt;

/// Bounds on what a response may make the reader consume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in the head (status line and headers, 1xx heads included) and, separately,
    /// in the trailer section of a chunked body.
    pub max_head: u32,
    /// Most bytes of body content (after removing the chunked framing).
    pub max_body: u64,
}

impl Default for Limits {
    /// 16 KiB of head, 64 KiB of body: far more than TPNS sends, far less than a device has.
    fn default() -> Self {
        Limits {
            max_head: 16 * 1024,
            max_body: 64 * 1024,
        }
    }
}

/// Longest chunk-size line (size, extensions, line end) accepted.
pub const MAX_CHUNK_LINE: u32 = 1024;

/// What the head of a final response said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// The minor HTTP version: `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// How the body is delimited.
    pub framing: Framing,
}

/// How the end of the body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Framing {
    /// Exactly this many bytes (`Content-Length`, or 0 for 204/304).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    Close,
}

/// One step of progress through a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// All input was consumed; feed more.
    NeedMore,
    /// An interim (1xx) response ended; the final response follows.
    Interim {
        /// The interim status, such as 100.
        status: u16,
    },
    /// The final response's head ended.
    Head(Head),
    /// Body content, a slice of the input.
    Body(&'a [u8]),
    /// The response is complete.
    End,
}

/// A response that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ResponseError {
    /// The status line is not `HTTP/1.x NNN reason`.
    InvalidStatusLine,
    /// A header line is malformed (bad name, control character, obsolete folding).
    InvalidHeader,
    /// The head is longer than [`Limits::max_head`].
    HeadTooLarge,
    /// `Content-Length` is not a decimal number that fits in 64 bits.
    InvalidContentLength,
    /// Several `Content-Length` headers disagree.
    ConflictingContentLength,
    /// A transfer coding other than a single `chunked` (such as `gzip`) is in use.
    UnsupportedTransferEncoding,
    /// The status is 101 Switching Protocols, which a POST must not get.
    UnexpectedSwitchingProtocols,
    /// A chunk-size line or the framing around chunk data is malformed.
    InvalidChunk,
    /// A chunk-size line is longer than [`MAX_CHUNK_LINE`].
    ChunkLineTooLong,
    /// The body is longer than [`Limits::max_body`].
    BodyTooLarge,
    /// The connection ended before the head was complete.
    IncompleteHead,
    /// The connection ended before the body was complete.
    IncompleteBody,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidStatusLine => "malformed HTTP status line",
            Self::InvalidHeader => "malformed HTTP header line",
            Self::HeadTooLarge => "HTTP response head too large",
            Self::InvalidContentLength => "invalid Content-Length",
            Self::ConflictingContentLength => "conflicting Content-Length headers",
            Self::UnsupportedTransferEncoding => "unsupported Transfer-Encoding",
            Self::UnexpectedSwitchingProtocols => "unexpected 101 Switching Protocols",
            Self::InvalidChunk => "malformed chunked body",
            Self::ChunkLineTooLong => "chunk-size line too long",
            Self::BodyTooLarge => "HTTP response body too large",
            Self::IncompleteHead => "connection closed before the response head was complete",
            Self::IncompleteBody => "connection closed before the response body was complete",
        })
    }
}

impl core::error::Error for ResponseError {}

/// Where the head parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadPos {
    /// Matching `HTTP/1.` at this index.
    Version(u8),
    Minor,
    SpaceAfterVersion,
    Code(u8),
    AfterCode,
    Reason,
    StatusCr,
    LineStart,
    Name,
    Ows,
    Value,
    ValueCr,
    EndCr,
}

/// Which header the current line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    ContentLength,
    TransferEncoding,
    Other,
}

const NAME_CAP: usize = 17; // "transfer-encoding"
const TOKEN_CAP: usize = 8; // "chunked" and one more byte to tell it apart from longer tokens

#[derive(Debug, Clone, Copy)]
struct HeadParser {
    pos: HeadPos,
    minor: u8,
    status: u16,
    name: [u8; NAME_CAP],
    name_len: usize,
    field: Field,
    /// Value of the current Content-Length line, and whether a trailing space was seen.
    cl_line: Option<u64>,
    cl_space: bool,
    content_length: Option<u64>,
    /// Current Transfer-Encoding token (lower-cased), its length (may exceed TOKEN_CAP).
    token: [u8; TOKEN_CAP],
    token_len: usize,
    chunked_count: u8,
    last_is_chunked: bool,
    other_coding: bool,
    has_te: bool,
}

impl HeadParser {
    const fn new() -> Self {
        HeadParser {
            pos: HeadPos::Version(0),
            minor: 0,
            status: 0,
            name: [0; NAME_CAP],
            name_len: 0,
            field: Field::Other,
            cl_line: None,
            cl_space: false,
            content_length: None,
            token: [0; TOKEN_CAP],
            token_len: 0,
            chunked_count: 0,
            last_is_chunked: false,
            other_coding: false,
            has_te: false,
        }
    }

    /// Consumes one byte; returns `true` when the blank line ending the head was read.
    fn byte(&mut self, b: u8) -> Result<bool, ResponseError> {
        use HeadPos::*;
        use ResponseError::{InvalidHeader, InvalidStatusLine};
        match self.pos {
            Version(i) => {
                if b != b"HTTP/1."[usize::from(i)] {
                    return Err(InvalidStatusLine);
                }
                self.pos = if i == 6 { Minor } else { Version(i + 1) };
            }
            Minor => {
                if !b.is_ascii_digit() {
                    return Err(InvalidStatusLine);
                }
                self.minor = b - b'0';
                self.pos = SpaceAfterVersion;
            }
            SpaceAfterVersion => {
                if b != b' ' {
                    return Err(InvalidStatusLine);
                }
                self.pos = Code(0);
            }
            Code(i) => {
                if !b.is_ascii_digit() || (i == 0 && b == b'0') {
                    return Err(InvalidStatusLine);
                }
                self.status = self.status * 10 + u16::from(b - b'0');
                self.pos = if i == 2 { AfterCode } else { Code(i + 1) };
            }
            // RFC 9112 §4 requires the space before an empty reason; tolerate its absence.
            AfterCode => match b {
                b' ' => self.pos = Reason,
                b'\r' => self.pos = StatusCr,
                b'\n' => self.pos = LineStart,
                _ => return Err(InvalidStatusLine),
            },
            Reason => match b {
                b'\r' => self.pos = StatusCr,
                b'\n' => self.pos = LineStart,
                b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                _ => return Err(InvalidStatusLine),
            },
            StatusCr => {
                if b != b'\n' {
                    return Err(InvalidStatusLine);
                }
                self.pos = LineStart;
            }
            LineStart => match b {
                b'\r' => self.pos = EndCr,
                b'\n' => return Ok(true),
                _ if is_tchar(b) => {
                    self.name_len = 0;
                    self.push_name(b);
                    self.pos = Name;
                }
                // Whitespace here is obsolete line folding (RFC 9112 §5.2): refused.
                _ => return Err(InvalidHeader),
            },
            Name => match b {
                b':' => {
                    self.start_value();
                    self.pos = Ows;
                }
                _ if is_tchar(b) => self.push_name(b),
                _ => return Err(InvalidHeader),
            },
            Ows => match b {
                b' ' | b'\t' => {}
                b'\r' => self.pos = ValueCr,
                b'\n' => self.end_line()?,
                _ => {
                    self.value_byte(b)?;
                    self.pos = Value;
                }
            },
            Value => match b {
                b'\r' => self.pos = ValueCr,
                b'\n' => self.end_line()?,
                _ => self.value_byte(b)?,
            },
            ValueCr => {
                if b != b'\n' {
                    return Err(InvalidHeader);
                }
                self.end_line()?;
            }
            EndCr => {
                if b != b'\n' {
                    return Err(InvalidHeader);
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn push_name(&mut self, b: u8) {
        if self.name_len < NAME_CAP {
            self.name[self.name_len] = b.to_ascii_lowercase();
        }
        self.name_len += 1;
    }

    fn start_value(&mut self) {
        let name = &self.name[..self.name_len.min(NAME_CAP)];
        self.field = match (self.name_len, name) {
            (14, b"content-length") => Field::ContentLength,
            (17, b"transfer-encoding") => Field::TransferEncoding,
            _ => Field::Other,
        };
        self.cl_line = None;
        self.cl_space = false;
        if self.field == Field::TransferEncoding {
            self.has_te = true;
            self.token_len = 0;
        }
    }

    fn value_byte(&mut self, b: u8) -> Result<(), ResponseError> {
        // field-value = *( VCHAR / obs-text / SP / HTAB ) (RFC 9110 §5.5)
        if !(b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80) {
            return Err(ResponseError::InvalidHeader);
        }
        match self.field {
            Field::ContentLength => match b {
                b'0'..=b'9' if !self.cl_space => {
                    let digit = u64::from(b - b'0');
                    let value = self.cl_line.unwrap_or(0);
                    let next = value.checked_mul(10).and_then(|v| v.checked_add(digit));
                    self.cl_line = Some(next.ok_or(ResponseError::InvalidContentLength)?);
                }
                b' ' | b'\t' if self.cl_line.is_some() => self.cl_space = true,
                _ => return Err(ResponseError::InvalidContentLength),
            },
            Field::TransferEncoding => match b {
                b',' => self.end_token(),
                b' ' | b'\t' => {}
                _ => {
                    if self.token_len < TOKEN_CAP {
                        self.token[self.token_len] = b.to_ascii_lowercase();
                    }
                    self.token_len += 1;
                }
            },
            Field::Other => {}
        }
        Ok(())
    }

    fn end_token(&mut self) {
        if self.token_len == 0 {
            return; // empty list elements are allowed (RFC 9110 §5.6.1)
        }
        self.last_is_chunked = self.token_len == 7 && &self.token[..7] == b"chunked";
        if self.last_is_chunked {
            self.chunked_count = self.chunked_count.saturating_add(1);
        } else {
            self.other_coding = true;
        }
        self.token_len = 0;
    }

    fn end_line(&mut self) -> Result<(), ResponseError> {
        match self.field {
            Field::ContentLength => {
                let value = self.cl_line.ok_or(ResponseError::InvalidContentLength)?;
                match self.content_length {
                    Some(seen) if seen != value => {
                        return Err(ResponseError::ConflictingContentLength);
                    }
                    _ => self.content_length = Some(value),
                }
            }
            Field::TransferEncoding => self.end_token(),
            Field::Other => {}
        }
        self.field = Field::Other;
        self.pos = HeadPos::LineStart;
        Ok(())
    }

    fn framing(&self, limits: &Limits) -> Result<Framing, ResponseError> {
        // 204 and 304 never have a body, whatever their framing headers say (RFC 9112 §6.3).
        if self.status == 204 || self.status == 304 {
            return Ok(Framing::Length(0));
        }
        if self.has_te {
            // A response may only be chunked last; other codings would need decoding.
            if self.other_coding || self.chunked_count != 1 || !self.last_is_chunked {
                return Err(ResponseError::UnsupportedTransferEncoding);
            }
            return Ok(Framing::Chunked);
        }
        match self.content_length {
            Some(len) if len > limits.max_body => Err(ResponseError::BodyTooLarge),
            Some(len) => Ok(Framing::Length(len)),
            None => Ok(Framing::Close),
        }
    }
}

/// tchar (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'!' | b'#' | b'$' | b'%' | b'&'
        | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading hex digits of the size.
    Size {
        value: u64,
        digits: u8,
    },
    /// After the size: optional whitespace, then `;` extensions or the line end.
    AfterSize {
        value: u64,
    },
    /// Skipping a chunk extension.
    Extension {
        value: u64,
    },
    SizeLf {
        value: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Length { remaining: u64 },
    Chunked(Chunk),
    Close,
    Done,
}

/// The incremental response reader.
///
/// # Examples
///
/// ```
/// use tpns_core::response::{Event, ResponseReader};
///
/// let mut reader = ResponseReader::default();
/// let input = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
/// let mut at = 0;
/// let mut body = Vec::new();
/// loop {
///     let (used, event) = reader.parse(&input[at..]).unwrap();
///     at += used;
///     match event {
///         Event::Body(bytes) => body.extend_from_slice(bytes),
///         Event::End => break,
///         _ => {}
///     }
/// }
/// assert_eq!(body, b"{}");
/// ```
#[derive(Debug, Clone)]
pub struct ResponseReader {
    limits: Limits,
    state: State,
    head: HeadParser,
    head_bytes: u32,
    line_bytes: u32,
    body_bytes: u64,
}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader::new(Limits::default())
    }
}

impl ResponseReader {
    /// A reader with these limits.
    pub const fn new(limits: Limits) -> Self {
        ResponseReader {
            limits,
            state: State::Head,
            head: HeadParser::new(),
            head_bytes: 0,
            line_bytes: 0,
            body_bytes: 0,
        }
    }

    /// Whether the whole response has been read.
    pub fn is_complete(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the final head has been read.
    pub fn has_head(&self) -> bool {
        self.state != State::Head
    }

    /// Consumes a prefix of `input` and returns its length with the next event.
    ///
    /// Call again with the rest of the input after anything but [`Event::NeedMore`]; after
    /// [`Event::End`], further input is not consumed (it is not part of this response).
    ///
    /// # Errors
    ///
    /// [`ResponseError`] for malformed or oversize responses; the reader is then unusable.
    #[inline(never)]
    pub fn parse<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Event<'a>), ResponseError> {
        match self.state {
            State::Head => self.parse_head(input),
            State::Length { remaining } => {
                if remaining == 0 {
                    self.state = State::Done;
                    return Ok((0, Event::End));
                }
                let take = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                if take == 0 {
                    return Ok((0, Event::NeedMore));
                }
                self.count_body(take)?;
                self.state = State::Length {
                    remaining: remaining - take as u64,
                };
                Ok((take, Event::Body(&input[..take])))
            }
            State::Close => {
                if input.is_empty() {
                    return Ok((0, Event::NeedMore));
                }
                self.count_body(input.len())?;
                Ok((input.len(), Event::Body(input)))
            }
            State::Chunked(chunk) => self.parse_chunked(chunk, input),
            State::Done => Ok((0, Event::End)),
        }
    }

    /// Tells the reader that the connection was closed; returns [`Event::End`] if that
    /// completes the response.
    ///
    /// # Errors
    ///
    /// [`ResponseError::IncompleteHead`] or [`ResponseError::IncompleteBody`] when the close
    /// came too early.
    pub fn finish(&mut self) -> Result<Event<'static>, ResponseError> {
        match self.state {
            State::Done => Ok(Event::End),
            State::Close => {
                self.state = State::Done;
                Ok(Event::End)
            }
            State::Head => Err(ResponseError::IncompleteHead),
            State::Length { remaining: 0 } => {
                self.state = State::Done;
                Ok(Event::End)
            }
            State::Length { .. } | State::Chunked(_) => Err(ResponseError::IncompleteBody),
        }
    }

    fn count_body(&mut self, n: usize) -> Result<(), ResponseError> {
        self.body_bytes += n as u64;
        if self.body_bytes > self.limits.max_body {
            return Err(ResponseError::BodyTooLarge);
        }
        Ok(())
    }

    fn parse_head<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Event<'a>), ResponseError> {
        for (i, &b) in input.iter().enumerate() {
            self.head_bytes += 1;
            if self.head_bytes > self.limits.max_head {
                return Err(ResponseError::HeadTooLarge);
            }
            if !self.head.byte(b)? {
                continue;
            }
            let status = self.head.status;
            if (100..200).contains(&status) {
                if status == 101 {
                    return Err(ResponseError::UnexpectedSwitchingProtocols);
                }
                // An interim response: the final one follows on the same connection.
                self.head = HeadParser::new();
                return Ok((i + 1, Event::Interim { status }));
            }
            let framing = self.head.framing(&self.limits)?;
            self.state = match framing {
                Framing::Length(len) => State::Length { remaining: len },
                Framing::Chunked => State::Chunked(Chunk::Size {
                    value: 0,
                    digits: 0,
                }),
                Framing::Close => State::Close,
            };
            let head = Head {
                status,
                minor_version: self.head.minor,
                framing,
            };
            return Ok((i + 1, Event::Head(head)));
        }
        Ok((input.len(), Event::NeedMore))
    }

    fn parse_chunked<'a>(
        &mut self,
        mut chunk: Chunk,
        input: &'a [u8],
    ) -> Result<(usize, Event<'a>), ResponseError> {
        use ResponseError::InvalidChunk;
        let mut i = 0;
        loop {
            if let Chunk::Data { remaining } = chunk {
                let take =
                    usize::try_from(remaining).map_or(input.len() - i, |r| r.min(input.len() - i));
                if take == 0 {
                    self.state = State::Chunked(chunk);
                    return Ok((i, Event::NeedMore));
                }
                self.count_body(take)?;
                let rest = remaining - take as u64;
                self.state = State::Chunked(if rest == 0 {
                    Chunk::DataCr
                } else {
                    Chunk::Data { remaining: rest }
                });
                return Ok((i + take, Event::Body(&input[i..i + take])));
            }
            let Some(&b) = input.get(i) else {
                self.state = State::Chunked(chunk);
                return Ok((i, Event::NeedMore));
            };
            i += 1;
            match chunk {
                Chunk::Size { .. } | Chunk::AfterSize { .. } | Chunk::Extension { .. } => {
                    self.line_bytes += 1;
                    if self.line_bytes > MAX_CHUNK_LINE {
                        return Err(ResponseError::ChunkLineTooLong);
                    }
                }
                Chunk::TrailerStart | Chunk::Trailer | Chunk::TrailerLf | Chunk::EndLf => {
                    self.head_bytes += 1;
                    if self.head_bytes > self.limits.max_head {
                        return Err(ResponseError::HeadTooLarge);
                    }
                }
                _ => {}
            }
            chunk = match chunk {
                Chunk::Size { value, digits } => match b {
                    _ if b.is_ascii_hexdigit() => {
                        if digits >= 16 {
                            return Err(InvalidChunk);
                        }
                        let nibble = u64::from((b as char).to_digit(16).unwrap_or(0));
                        Chunk::Size {
                            value: (value << 4) | nibble,
                            digits: digits + 1,
                        }
                    }
                    _ if digits == 0 => return Err(InvalidChunk),
                    b' ' | b'\t' => Chunk::AfterSize { value },
                    b';' => Chunk::Extension { value },
                    b'\r' => Chunk::SizeLf { value },
                    b'\n' => self.size_line_done(value),
                    _ => return Err(InvalidChunk),
                },
                // BWS before a chunk extension (RFC 9112 §7.1.1).
                Chunk::AfterSize { value } => match b {
                    b' ' | b'\t' => Chunk::AfterSize { value },
                    b';' => Chunk::Extension { value },
                    b'\r' => Chunk::SizeLf { value },
                    b'\n' => self.size_line_done(value),
                    _ => return Err(InvalidChunk),
                },
                Chunk::Extension { value } => match b {
                    b'\r' => Chunk::SizeLf { value },
                    b'\n' => self.size_line_done(value),
                    b'\t' | b' '..=b'~' | 0x80..=0xff => Chunk::Extension { value },
                    _ => return Err(InvalidChunk),
                },
                Chunk::SizeLf { value } => match b {
                    b'\n' => self.size_line_done(value),
                    _ => return Err(InvalidChunk),
                },
                Chunk::DataCr => match b {
                    b'\r' => Chunk::DataLf,
                    b'\n' => self.next_size(),
                    _ => return Err(InvalidChunk),
                },
                Chunk::DataLf => match b {
                    b'\n' => self.next_size(),
                    _ => return Err(InvalidChunk),
                },
                Chunk::TrailerStart => match b {
                    b'\r' => Chunk::EndLf,
                    b'\n' => return self.chunked_done(i),
                    _ => Chunk::Trailer,
                },
                Chunk::Trailer => match b {
                    b'\r' => Chunk::TrailerLf,
                    b'\n' => Chunk::TrailerStart,
                    _ => Chunk::Trailer,
                },
                Chunk::TrailerLf | Chunk::EndLf => {
                    if b != b'\n' {
                        return Err(InvalidChunk);
                    }
                    if chunk == Chunk::EndLf {
                        return self.chunked_done(i);
                    }
                    Chunk::TrailerStart
                }
                Chunk::Data { .. } => unreachable!("handled above"),
            };
        }
    }

    fn size_line_done(&mut self, value: u64) -> Chunk {
        self.line_bytes = 0;
        if value == 0 {
            Chunk::TrailerStart
        } else {
            Chunk::Data { remaining: value }
        }
    }

    fn next_size(&mut self) -> Chunk {
        self.line_bytes = 0;
        Chunk::Size {
            value: 0,
            digits: 0,
        }
    }

    fn chunked_done<'a>(&mut self, used: usize) -> Result<(usize, Event<'a>), ResponseError> {
        self.state = State::Done;
        Ok((used, Event::End))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        interims: Vec<u16>,
        head: Option<Head>,
        body: Vec<u8>,
    }

    /// Feeds `input` in pieces of `chunk` bytes, as a transport would, then closes.
    fn run(input: &[u8], chunk: usize, limits: Limits) -> Result<Outcome, ResponseError> {
        run_pieces(input.chunks(chunk.max(1)), limits)
    }

    /// Feeds `pieces` one after the other, then closes.
    fn run_pieces<'a>(
        pieces: impl IntoIterator<Item = &'a [u8]>,
        limits: Limits,
    ) -> Result<Outcome, ResponseError> {
        let mut reader = ResponseReader::new(limits);
        let mut out = Outcome {
            interims: Vec::new(),
            head: None,
            body: Vec::new(),
        };
        for piece in pieces {
            let mut at = 0;
            loop {
                let (used, event) = reader.parse(&piece[at..])?;
                at += used;
                match event {
                    Event::NeedMore => break,
                    Event::Interim { status } => out.interims.push(status),
                    Event::Head(h) => out.head = Some(h),
                    Event::Body(b) => out.body.extend_from_slice(b),
                    Event::End => return Ok(out),
                }
            }
            assert_eq!(
                at,
                piece.len(),
                "NeedMore must mean everything was consumed"
            );
        }
        reader.finish()?;
        Ok(out)
    }

    /// Runs the input whole, split at every byte, and one byte at a time; all must agree.
    fn all_splits(input: &[u8]) -> Result<Outcome, ResponseError> {
        let whole = run(input, input.len(), Limits::default());
        for chunk in 1..input.len() {
            assert_eq!(
                run(input, chunk, Limits::default()),
                whole,
                "chunk size {chunk}"
            );
        }
        for split in 1..input.len() {
            let (first, second) = input.split_at(split);
            let got = run_pieces([first, second], Limits::default());
            assert_eq!(got, whole, "split at {split}");
        }
        whole
    }

    const JSON: &[u8] = br#"{"retCode":0,"errMsg":"","uploadId":123}"#;

    fn ok(status: u16, framing: Framing, body: &[u8], interims: &[u16]) -> Outcome {
        Outcome {
            interims: interims.to_vec(),
            head: Some(Head {
                status,
                minor_version: 1,
                framing,
            }),
            body: body.to_vec(),
        }
    }

    #[test]
    fn content_length() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"retCode\":0,\"errMsg\":\"\",\"uploadId\":123}";
        assert_eq!(
            all_splits(input),
            Ok(ok(200, Framing::Length(40), JSON, &[]))
        );
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
            a;name=value\r\n{\"retCode\"\r\n\
            1E ; x=\"y\"\r\n:0,\"errMsg\":\"\",\"uploadId\":123}\r\n\
            0\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n";
        assert_eq!(all_splits(input), Ok(ok(200, Framing::Chunked, JSON, &[])));
    }

    #[test]
    fn close_delimited_http10() {
        let mut input = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n".to_vec();
        input.extend_from_slice(JSON);
        let got = all_splits(&input).unwrap();
        assert_eq!(got.body, JSON);
        assert_eq!(got.head.unwrap().framing, Framing::Close);
        assert_eq!(got.head.unwrap().minor_version, 0);
    }

    #[test]
    fn interim_continue_is_skipped() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(
            all_splits(input),
            Ok(ok(200, Framing::Length(2), b"{}", &[100, 102]))
        );
    }

    #[test]
    fn unknown_headers_bare_lf_and_odd_spacing() {
        let input = b"HTTP/1.1 503\nX-Long-Unknown-Header-Name-Here:\tsome value\t\nCONTENT-LENGTH:2  \nContent-Length: 2\n\nok";
        assert_eq!(
            all_splits(input),
            Ok(ok(503, Framing::Length(2), b"ok", &[]))
        );
    }

    #[test]
    fn no_body_for_204_or_304_whatever_the_framing_headers() {
        for input in [
            &b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"[..],
            b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let status = if input.starts_with(b"HTTP/1.1 204") {
                204
            } else {
                304
            };
            assert_eq!(
                all_splits(input),
                Ok(ok(status, Framing::Length(0), b"", &[]))
            );
        }
    }

    #[test]
    fn errors() {
        use ResponseError::*;
        let cases: &[(&[u8], ResponseError)] = &[
            (b"HTTP/2 200 OK\r\n\r\n", InvalidStatusLine),
            (b"HTTX/1.1 200 OK\r\n\r\n", InvalidStatusLine),
            (b"HTTP/1.1 20 OK\r\n\r\n", InvalidStatusLine),
            (b"HTTP/1.1 099 OK\r\n\r\n", InvalidStatusLine),
            (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", InvalidHeader),
            (b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n", InvalidHeader),
            (b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n", InvalidHeader),
            (b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", InvalidHeader),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
                InvalidContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                InvalidContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
                InvalidContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
                InvalidContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                InvalidContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                ConflictingContentLength,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                UnsupportedTransferEncoding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                UnsupportedTransferEncoding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedx\r\n\r\n",
                UnsupportedTransferEncoding,
            ),
            (
                b"HTTP/1.1 101 Switching\r\n\r\n",
                UnexpectedSwitchingProtocols,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                InvalidChunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
                InvalidChunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX",
                InvalidChunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
                InvalidChunk,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
                IncompleteBody,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                IncompleteBody,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Le", IncompleteHead),
            (b"", IncompleteHead),
        ];
        for (input, err) in cases {
            let got = if input.is_empty() {
                run(input, 1, Limits::default())
            } else {
                all_splits(input)
            };
            assert_eq!(
                got,
                Err(*err),
                "{}",
                std::string::String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn limits() {
        let limits = Limits {
            max_head: 64,
            max_body: 8,
        };
        let long_head =
            b"HTTP/1.1 200 OK\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        assert_eq!(run(long_head, 3, limits), Err(ResponseError::HeadTooLarge));
        let declared = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n123456789";
        assert_eq!(run(declared, 3, limits), Err(ResponseError::BodyTooLarge));
        let close = b"HTTP/1.1 200 OK\r\n\r\n123456789";
        assert_eq!(run(close, 3, limits), Err(ResponseError::BodyTooLarge));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n0\r\n\r\n";
        assert_eq!(run(chunked, 3, limits), Err(ResponseError::BodyTooLarge));
        let mut ext = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
        ext.extend(core::iter::repeat_n(b'x', MAX_CHUNK_LINE as usize));
        assert_eq!(
            run(&ext, 100, Limits::default()),
            Err(ResponseError::ChunkLineTooLong)
        );
        let mut trailers = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
        trailers.extend(core::iter::repeat_n(b'x', 100));
        assert_eq!(run(&trailers, 7, limits), Err(ResponseError::HeadTooLarge));
    }

    #[test]
    fn bytes_after_the_end_are_not_consumed() {
        let mut reader = ResponseReader::default();
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK";
        let (used, ev) = reader.parse(input).unwrap();
        assert!(matches!(ev, Event::Head(_)));
        assert_eq!(reader.parse(&input[used..]).unwrap(), (0, Event::End));
        assert!(reader.is_complete());
    }

    #[test]
    fn agrees_with_httparse_on_heads() {
        let heads: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\nContent-Type: application/json\r\n\r\n",
            b"HTTP/1.0 503 Service Unavailable\r\nServer: nginx\r\nRetry-After: 1\r\n\r\n",
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"tpns\"\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\nX-Empty:\r\n\r\n",
        ];
        for head in heads {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut theirs = httparse::Response::new(&mut headers);
            let status = theirs.parse(head).unwrap();
            assert!(status.is_complete());
            let mut reader = ResponseReader::default();
            let (used, event) = reader.parse(head).unwrap();
            assert_eq!(used, status.unwrap(), "head length");
            let Event::Head(ours) = event else {
                panic!("no head: {event:?}")
            };
            assert_eq!(Some(ours.status), theirs.code);
            assert_eq!(Some(ours.minor_version), theirs.version);
            let cl = theirs
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| {
                    core::str::from_utf8(h.value)
                        .unwrap()
                        .trim()
                        .parse::<u64>()
                        .unwrap()
                });
            let chunked = theirs
                .headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding"));
            let expected = match (chunked, cl) {
                (true, _) => Framing::Chunked,
                (false, Some(n)) => Framing::Length(n),
                (false, None) => Framing::Close,
            };
            assert_eq!(ours.framing, expected);
        }
    }
}
