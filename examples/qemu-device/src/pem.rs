//! A streaming PEM → DER decoder for the CA certificate, so the device needs no buffer for
//! the PEM text: the file is read in small chunks and only the DER bytes are kept.
//!
//! Only what a certificate file needs: the base64 body between `-----BEGIN …-----` and
//! `-----END …-----` lines (RFC 7468 §2), line breaks and spaces ignored, padding at the end.
//! A file that starts with a DER `SEQUENCE` (0x30) is taken as DER as it is.

use core::fmt;

/// Why the certificate file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemError {
    /// No `-----BEGIN` line.
    NoBegin,
    /// The base64 body ended without an `-----END` line.
    NoEnd,
    /// A byte that is not base64 inside the body.
    BadCharacter,
    /// The DER does not fit the caller's buffer.
    TooLong,
    /// The body decodes to nothing.
    Empty,
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoBegin => "no -----BEGIN line: not a PEM file",
            Self::NoEnd => "no -----END line: the PEM file is cut short",
            Self::BadCharacter => "a byte that is not base64 in the PEM body",
            Self::TooLong => "the certificate does not fit its buffer",
            Self::Empty => "the PEM body is empty",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the BEGIN line: looking for `-----BEGIN`.
    Preamble,
    /// On the BEGIN line, after `-----BEGIN`: skipping to its end.
    BeginLine,
    /// In the base64 body.
    Body,
    /// After a `-` in the body: the END line has started.
    Done,
    /// The input started with 0x30: raw DER, copied.
    Der,
}

/// Decodes a PEM certificate fed in chunks of any size into `out`.
#[derive(Debug)]
pub struct PemDecoder<'o> {
    out: &'o mut [u8],
    len: usize,
    state: State,
    /// How much of `-----BEGIN` matched so far (in [`State::Preamble`]).
    matched: usize,
    /// Bits not yet written, and how many.
    acc: u32,
    bits: u32,
    started: bool,
    padding: bool,
}

const BEGIN: &[u8] = b"-----BEGIN";

impl<'o> PemDecoder<'o> {
    /// A decoder writing the DER into `out`.
    pub fn new(out: &'o mut [u8]) -> Self {
        PemDecoder {
            out,
            len: 0,
            state: State::Preamble,
            matched: 0,
            acc: 0,
            bits: 0,
            started: false,
            padding: false,
        }
    }

    /// Feeds the next bytes of the file.
    ///
    /// # Errors
    ///
    /// [`PemError`] for a byte that cannot be there, or a DER longer than `out`.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), PemError> {
        for &b in input {
            if !self.started {
                self.started = true;
                if b == 0x30 {
                    self.state = State::Der;
                }
            }
            match self.state {
                State::Der => self.push(b)?,
                State::Preamble => {
                    if b == BEGIN[self.matched] {
                        self.matched += 1;
                        if self.matched == BEGIN.len() {
                            self.state = State::BeginLine;
                        }
                    } else {
                        self.matched = usize::from(b == BEGIN[0]);
                    }
                }
                State::BeginLine => {
                    if b == b'\n' {
                        self.state = State::Body;
                    }
                }
                State::Body => self.body(b)?,
                State::Done => {}
            }
        }
        Ok(())
    }

    fn body(&mut self, b: u8) -> Result<(), PemError> {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                self.padding = true;
                return Ok(());
            }
            b'\r' | b'\n' | b' ' | b'\t' => return Ok(()),
            b'-' => {
                self.state = State::Done;
                return Ok(());
            }
            _ => return Err(PemError::BadCharacter),
        };
        if self.padding {
            return Err(PemError::BadCharacter);
        }
        self.acc = (self.acc << 6) | u32::from(value);
        self.bits += 6;
        if self.bits >= 8 {
            self.bits -= 8;
            let byte = (self.acc >> self.bits) as u8;
            self.acc &= (1 << self.bits) - 1;
            self.push(byte)?;
        }
        Ok(())
    }

    fn push(&mut self, b: u8) -> Result<(), PemError> {
        let slot = self.out.get_mut(self.len).ok_or(PemError::TooLong)?;
        *slot = b;
        self.len += 1;
        Ok(())
    }

    /// The DER, once the whole file was fed.
    ///
    /// # Errors
    ///
    /// [`PemError`] when the file ended too early or held nothing.
    pub fn finish(self) -> Result<&'o [u8], PemError> {
        match self.state {
            State::Der | State::Done => {}
            State::Preamble | State::BeginLine => return Err(PemError::NoBegin),
            State::Body => return Err(PemError::NoEnd),
        }
        if self.len == 0 {
            return Err(PemError::Empty);
        }
        let out: &'o [u8] = self.out;
        Ok(&out[..self.len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // "hello world!!" in base64 is aGVsbG8gd29ybGQhIQ== (RFC 4648 alphabet, padded).
    const PEM: &[u8] = b"junk\n-----BEGIN CERTIFICATE-----\r\naGVsbG8g\r\nd29ybGQh\nIQ==\n-----END CERTIFICATE-----\n";

    #[test]
    fn decodes_in_every_split() {
        for split in 0..=PEM.len() {
            let mut out = [0u8; 32];
            let mut d = PemDecoder::new(&mut out);
            d.feed(&PEM[..split]).unwrap();
            d.feed(&PEM[split..]).unwrap();
            assert_eq!(d.finish().unwrap(), b"hello world!!", "split at {split}");
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let mut out = [0u8; 32];
        let mut d = PemDecoder::new(&mut out);
        for b in PEM {
            d.feed(core::slice::from_ref(b)).unwrap();
        }
        assert_eq!(d.finish().unwrap(), b"hello world!!");
    }

    #[test]
    fn der_passes_through() {
        let mut out = [0u8; 8];
        let mut d = PemDecoder::new(&mut out);
        d.feed(&[0x30, 0x03, 0x02, 0x01, 0x05]).unwrap();
        assert_eq!(d.finish().unwrap(), &[0x30, 0x03, 0x02, 0x01, 0x05]);
    }

    #[test]
    fn refuses_what_is_not_a_certificate() {
        let mut out = [0u8; 8];
        let mut d = PemDecoder::new(&mut out);
        d.feed(b"hello").unwrap();
        assert_eq!(d.finish().unwrap_err(), PemError::NoBegin);

        let mut out = [0u8; 8];
        let mut d = PemDecoder::new(&mut out);
        d.feed(b"-----BEGIN X-----\naGVs").unwrap();
        assert_eq!(d.finish().unwrap_err(), PemError::NoEnd);

        let mut out = [0u8; 8];
        let mut d = PemDecoder::new(&mut out);
        assert_eq!(
            d.feed(b"-----BEGIN X-----\naG*s").unwrap_err(),
            PemError::BadCharacter
        );

        let mut out = [0u8; 4];
        let mut d = PemDecoder::new(&mut out);
        assert_eq!(d.feed(&PEM[5..]).unwrap_err(), PemError::TooLong);

        let mut out = [0u8; 4];
        let mut d = PemDecoder::new(&mut out);
        d.feed(b"-----BEGIN X-----\n-----END X-----\n").unwrap();
        assert_eq!(d.finish().unwrap_err(), PemError::Empty);
    }
}
