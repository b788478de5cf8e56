//! The `multipart/form-data` body of an upload (RFC 7578), as a streamed pull source.
//!
//! The body is: the part head, then exactly `len` bytes of the package, then the closing
//! delimiter. [`Form`] emits the head and tail; [`Form::body_len`] counts them with the very
//! same emitters, so the `Content-Length` always matches the bytes sent. [`Body`] yields the
//! whole body through [`embedded_io::Read`], reading the package from any source as it goes;
//! a source that ends early or holds more than declared is an error, never a malformed request.

use core::convert::Infallible;
use core::fmt;

use embedded_io::{ErrorKind, ErrorType, Read};

use crate::sink::{Sink, Window, count};

/// A multipart boundary: `tpns-` followed by 32 hex digits of caller-supplied randomness.
///
/// 128 random bits make a collision with the package's content practically impossible
/// (RFC 2046 §5.1.1 requires the boundary not to occur in the body).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Boundary {
    text: [u8; Boundary::LEN],
}

impl Boundary {
    /// Length of the boundary in bytes.
    pub const LEN: usize = 5 + 32;

    /// Builds a boundary from 16 random bytes (at least 128 bits of entropy: use a CSPRNG or the
    /// device's TRNG).
    pub fn from_random(random: [u8; 16]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; Self::LEN];
        text[..5].copy_from_slice(b"tpns-");
        for (i, byte) in random.iter().enumerate() {
            text[5 + 2 * i] = HEX[usize::from(byte >> 4)];
            text[6 + 2 * i] = HEX[usize::from(byte & 0xf)];
        }
        Boundary { text }
    }

    /// The boundary's bytes (ASCII letters, digits and `-`).
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    /// The boundary as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters, digits and '-' are ever written into `text`.
        core::str::from_utf8(&self.text).unwrap_or("tpns-boundary")
    }
}

impl fmt::Debug for Boundary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Boundary").field(&self.as_str()).finish()
    }
}

/// The form's framing around the package bytes: one part, field name `file`.
#[derive(Debug, Clone, Copy)]
pub struct Form<'a> {
    /// The boundary, also named in the request's `Content-Type`.
    pub boundary: &'a Boundary,
    /// The package's file name, sent in the part's `Content-Disposition`.
    pub file_name: &'a str,
}

impl Form<'_> {
    /// Emits the part head: delimiter, `Content-Disposition`, `Content-Type`, blank line.
    ///
    /// In the file name, `"` becomes `%22`, CR `%0D` and LF `%0A`, as browsers do (HTML's
    /// form-data encoding); other control characters are escaped the same way. So no file name
    /// can end the header or start a new one. Everything else is sent as UTF-8.
    pub fn emit_head<S: Sink>(&self, s: &mut S) -> Result<(), S::Error> {
        s.put(b"--")?;
        s.put(self.boundary.as_bytes())?;
        s.put(b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"")?;
        emit_escaped_file_name(s, self.file_name)?;
        s.put(b"\"\r\nContent-Type: ")?;
        s.put(media_type(self.file_name).as_bytes())?;
        s.put(b"\r\n\r\n")
    }

    /// Emits the closing delimiter that follows the package bytes.
    pub fn emit_tail<S: Sink>(&self, s: &mut S) -> Result<(), S::Error> {
        s.put(b"\r\n--")?;
        s.put(self.boundary.as_bytes())?;
        s.put(b"--\r\n")
    }

    /// Length of the part head.
    pub fn head_len(&self) -> u64 {
        count(|c| self.emit_head(c))
    }

    /// Length of the closing delimiter.
    pub fn tail_len(&self) -> u64 {
        count(|c| self.emit_tail(c))
    }

    /// The exact body length for a package of `file_len` bytes: the `Content-Length`.
    pub fn body_len(&self, file_len: u64) -> u64 {
        self.head_len() + file_len + self.tail_len()
    }
}

fn emit_escaped_file_name<S: Sink>(s: &mut S, name: &str) -> Result<(), S::Error> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = name.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'"' || b < 0x20 || b == 0x7f {
            s.put(&bytes[start..i])?;
            s.put(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])?;
            start = i + 1;
        }
    }
    s.put(&bytes[start..])
}

fn media_type(file_name: &str) -> &'static str {
    // The last four bytes, lower-cased: one comparison per type instead of three
    // case-insensitive string compares (this runs on microcontrollers; code size counts).
    let bytes = file_name.as_bytes();
    let mut ext = [0u8; 4];
    if let Some(tail) = bytes.len().checked_sub(4).map(|at| &bytes[at..]) {
        for (dst, b) in ext.iter_mut().zip(tail) {
            *dst = b.to_ascii_lowercase();
        }
    }
    match &ext {
        b".txt" => "text/plain",
        b".csv" => "text/csv",
        b".zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Why the body could not be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum BodyError<E> {
    /// Reading the package source failed after `offset` bytes.
    Source {
        /// Package bytes read before the failure.
        offset: u64,
        /// The source's own error.
        error: E,
    },
    /// The source ended after `got` bytes, before the declared length.
    SourceTooShort {
        /// The declared length.
        expected: u64,
        /// Bytes the source held.
        got: u64,
    },
    /// The source holds more than the declared `expected` bytes.
    SourceTooLong {
        /// The declared length.
        expected: u64,
    },
}

impl<E> BodyError<E> {
    /// The same error with the source's error mapped by `f` (for a push, whose source cannot
    /// fail, `|never| match never {}`).
    pub fn map_source<F>(self, f: impl FnOnce(E) -> F) -> BodyError<F> {
        match self {
            Self::Source { offset, error } => BodyError::Source {
                offset,
                error: f(error),
            },
            Self::SourceTooShort { expected, got } => BodyError::SourceTooShort { expected, got },
            Self::SourceTooLong { expected } => BodyError::SourceTooLong { expected },
        }
    }
}

impl<E: fmt::Display> fmt::Display for BodyError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Source { offset, error } => {
                write!(f, "reading the package failed at byte {offset}: {error}")
            }
            Self::SourceTooShort { expected, got } => write!(
                f,
                "the package ended after {got} bytes, {expected} were declared (file changed?)"
            ),
            Self::SourceTooLong { expected } => write!(
                f,
                "the package holds more than the {expected} bytes declared (file changed?)"
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for BodyError<E> {}

impl<E: embedded_io::Error> embedded_io::Error for BodyError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Source { error, .. } => error.kind(),
            Self::SourceTooShort { .. } => ErrorKind::InvalidData,
            Self::SourceTooLong { .. } => ErrorKind::InvalidData,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Head(u64),
    File(u64),
    Tail(u64),
    Done,
}

/// The whole multipart body as a pull source: part head, exactly `file_len` package bytes read
/// from `source`, closing delimiter.
///
/// # Examples
///
/// ```
/// use embedded_io::Read;
/// use tpns_core::multipart::{Body, Boundary, Form};
///
/// let boundary = Boundary::from_random([7; 16]);
/// let form = Form { boundary: &boundary, file_name: "list.txt" };
/// let package: &[u8] = b"alice\nbob\n";
/// let mut body = Body::new(form, package, package.len() as u64);
/// let mut out = [0u8; 512];
/// let mut len = 0;
/// loop {
///     let n = body.read(&mut out[len..]).unwrap();
///     if n == 0 { break; }
///     len += n;
/// }
/// assert_eq!(len as u64, form.body_len(package.len() as u64));
/// ```
#[derive(Debug)]
pub struct Body<'a, R> {
    form: Form<'a>,
    source: R,
    file_len: u64,
    head_len: u64,
    tail_len: u64,
    stage: Stage,
}

impl<'a, R: Read> Body<'a, R> {
    /// A body that sends `file_len` bytes from `source`.
    pub fn new(form: Form<'a>, source: R, file_len: u64) -> Self {
        Body {
            head_len: form.head_len(),
            tail_len: form.tail_len(),
            form,
            source,
            file_len,
            stage: Stage::Head(0),
        }
    }

    /// The total body length (the `Content-Length`).
    pub fn len(&self) -> u64 {
        self.head_len + self.file_len + self.tail_len
    }

    /// Whether the body is empty (never: the framing alone has bytes).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Length of the part head, i.e. the body offset where the package bytes start.
    pub fn head_len(&self) -> u64 {
        self.head_len
    }

    /// Whether every byte of the body has been produced.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Fills `buf` with as many body bytes as are available, and returns how many. `0` means
    /// the body is complete (or `buf` is empty).
    ///
    /// # Errors
    ///
    /// [`BodyError`] when the source fails or holds a different number of bytes than declared.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<usize, BodyError<R::Error>> {
        let mut n = 0;
        while n < buf.len() {
            match self.stage {
                Stage::Head(at) => {
                    let (k, at) = emit_from(at, &mut buf[n..], |w| self.form.emit_head(w));
                    n += k;
                    self.stage = if at == self.head_len {
                        Stage::File(0)
                    } else {
                        Stage::Head(at)
                    };
                }
                Stage::File(sent) if sent == self.file_len => {
                    self.ensure_source_ended()?;
                    self.stage = Stage::Tail(0);
                }
                Stage::File(sent) => {
                    let want = usize::try_from(self.file_len - sent)
                        .map_or(buf.len() - n, |rest| rest.min(buf.len() - n));
                    let k = self.source.read(&mut buf[n..n + want]).map_err(|error| {
                        BodyError::Source {
                            offset: sent,
                            error,
                        }
                    })?;
                    if k == 0 {
                        return Err(BodyError::SourceTooShort {
                            expected: self.file_len,
                            got: sent,
                        });
                    }
                    n += k;
                    self.stage = Stage::File(sent + k as u64);
                    // Hand the bytes over rather than blocking on the source again: a slow
                    // source (an SD card) then overlaps with the transport.
                    if n > 0 && k < want {
                        break;
                    }
                }
                Stage::Tail(at) => {
                    let (k, at) = emit_from(at, &mut buf[n..], |w| self.form.emit_tail(w));
                    n += k;
                    self.stage = if at == self.tail_len {
                        Stage::Done
                    } else {
                        Stage::Tail(at)
                    };
                }
                Stage::Done => break,
            }
        }
        Ok(n)
    }

    fn ensure_source_ended(&mut self) -> Result<(), BodyError<R::Error>> {
        let mut probe = [0u8; 1];
        match self.source.read(&mut probe) {
            Ok(0) => Ok(()),
            Ok(_) => Err(BodyError::SourceTooLong {
                expected: self.file_len,
            }),
            Err(error) => Err(BodyError::Source {
                offset: self.file_len,
                error,
            }),
        }
    }

    /// Gives the source back.
    pub fn into_source(self) -> R {
        self.source
    }
}

impl<R: Read> ErrorType for Body<'_, R> {
    type Error = BodyError<R::Error>;
}

impl<R: Read> Read for Body<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.fill(buf)
    }
}

/// Fills `out` with what `emit` writes from byte `at` on; returns how many bytes it filled
/// and the position after them.
fn emit_from(
    at: u64,
    out: &mut [u8],
    emit: impl FnOnce(&mut Window<'_>) -> Result<(), Infallible>,
) -> (usize, u64) {
    let mut window = Window::new(at, out);
    let Ok(()) = emit(&mut window);
    let k = window.filled();
    (k, at + k as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form<'a>(boundary: &'a Boundary, file_name: &'a str) -> Form<'a> {
        Form {
            boundary,
            file_name,
        }
    }
    use std::vec::Vec;

    fn drain<R: Read>(
        body: &mut Body<'_, R>,
        chunk: usize,
    ) -> Result<Vec<u8>, BodyError<R::Error>> {
        let mut out = Vec::new();
        let mut buf = std::vec![0u8; chunk];
        loop {
            let n = body.fill(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn golden_body() {
        let boundary = Boundary::from_random([0x01; 16]);
        let form = form(&boundary, "a\"b\r\nc.txt");
        let package: &[u8] = b"alice\nbob\n";
        let mut body = Body::new(form, package, 10);
        let out = drain(&mut body, 7).unwrap();
        let expected = "--tpns-01010101010101010101010101010101\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"a%22b%0D%0Ac.txt\"\r\n\
             Content-Type: text/plain\r\n\r\n\
             alice\nbob\n\
             \r\n--tpns-01010101010101010101010101010101--\r\n";
        assert_eq!(std::str::from_utf8(&out).unwrap(), expected);
        assert_eq!(out.len() as u64, form.body_len(10));
        assert!(body.is_done());
    }

    #[test]
    fn every_buffer_size_gives_the_same_bytes() {
        let boundary = Boundary::from_random([0xfe; 16]);
        let form = form(&boundary, "名单.csv");
        let package: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
        let reference = drain(&mut Body::new(form, &package[..], 300), 4096).unwrap();
        assert_eq!(reference.len() as u64, form.body_len(300));
        for size in 1..=reference.len() + 1 {
            let out = drain(&mut Body::new(form, &package[..], 300), size).unwrap();
            assert_eq!(out, reference, "buffer size {size}");
        }
    }

    #[test]
    fn short_and_long_sources_are_errors() {
        let boundary = Boundary::from_random([0; 16]);
        let form = form(&boundary, "x.txt");
        let package: &[u8] = b"0123456789";
        let err = drain(&mut Body::new(form, package, 11), 64).unwrap_err();
        assert_eq!(
            err,
            BodyError::SourceTooShort {
                expected: 11,
                got: 10
            }
        );
        let err = drain(&mut Body::new(form, package, 9), 64).unwrap_err();
        assert_eq!(err, BodyError::SourceTooLong { expected: 9 });
    }

    #[test]
    fn the_boundary_carries_128_bits() {
        let b = Boundary::from_random(
            *b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff",
        );
        assert_eq!(b.as_str(), "tpns-00112233445566778899aabbccddeeff");
        assert!(b.as_str().len() <= 70, "RFC 2046 limit");
    }
}
