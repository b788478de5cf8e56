//! Byte sinks that the encoders write into.
//!
//! Every encoder in this crate is a function `emit(&self, sink)` that produces its bytes in
//! order through [`Sink::put`]. One emitter then serves three purposes, so they can never
//! disagree:
//!
//! - [`Counter`] runs it dry to learn the exact length (the `Content-Length` of a request);
//! - [`Window`] copies out any byte range of its output, which turns an emitter into a
//!   resumable pull source that works with output buffers of any size;
//! - [`SliceSink`] writes it into one caller buffer and reports the size needed when the
//!   buffer is too small.

use core::convert::Infallible;

/// A destination for encoded bytes.
pub trait Sink {
    /// The error a write can fail with ([`Infallible`] for in-memory sinks).
    type Error;

    /// Appends `bytes` to the output.
    ///
    /// # Errors
    ///
    /// Whatever the underlying destination reports.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}

/// Counts the bytes an emitter produces without storing them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// Bytes seen so far.
    pub len: u64,
}

impl Sink for Counter {
    type Error = Infallible;

    fn put(&mut self, bytes: &[u8]) -> Result<(), Infallible> {
        self.len += bytes.len() as u64;
        Ok(())
    }
}

/// Runs `emit` into a [`Counter`] and returns the number of bytes it produces.
pub fn count(emit: impl FnOnce(&mut Counter) -> Result<(), Infallible>) -> u64 {
    let mut counter = Counter::default();
    match emit(&mut counter) {
        Ok(()) => counter.len,
        Err(never) => match never {},
    }
}

/// Copies the byte range `[skip, skip + out.len())` of an emitter's output into `out`.
///
/// Bytes before `skip` are dropped and bytes beyond the end of `out` are ignored, so calling
/// an emitter with a window at increasing offsets reads its output piece by piece.
#[derive(Debug)]
pub struct Window<'a> {
    skip: u64,
    out: &'a mut [u8],
    filled: usize,
}

impl<'a> Window<'a> {
    /// A window that starts `skip` bytes into the output and fills `out`.
    pub fn new(skip: u64, out: &'a mut [u8]) -> Self {
        Window {
            skip,
            out,
            filled: 0,
        }
    }

    /// How many bytes of `out` were filled.
    pub fn filled(&self) -> usize {
        self.filled
    }
}

impl Sink for Window<'_> {
    type Error = Infallible;

    fn put(&mut self, mut bytes: &[u8]) -> Result<(), Infallible> {
        if self.skip > 0 {
            let dropped = usize::try_from(self.skip).map_or(bytes.len(), |s| s.min(bytes.len()));
            self.skip -= dropped as u64;
            bytes = &bytes[dropped..];
        }
        let room = self.out.len() - self.filled;
        let n = room.min(bytes.len());
        self.out[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
        self.filled += n;
        Ok(())
    }
}

/// Writes into one caller buffer, counting on past its end so that an undersized buffer can
/// report the size it needs.
#[derive(Debug)]
pub struct SliceSink<'a> {
    out: &'a mut [u8],
    len: usize,
}

/// The buffer given to a [`SliceSink`] was too small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferTooSmall {
    /// The size the output needs.
    pub needed: usize,
}

impl core::fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "buffer too small: {} bytes needed", self.needed)
    }
}

impl core::error::Error for BufferTooSmall {}

impl<'a> SliceSink<'a> {
    /// A sink that writes from the start of `out`.
    pub fn new(out: &'a mut [u8]) -> Self {
        SliceSink { out, len: 0 }
    }

    /// The number of bytes written, or the size needed if `out` was too small.
    ///
    /// # Errors
    ///
    /// [`BufferTooSmall`] with the full output length when it did not fit.
    pub fn finish(self) -> Result<usize, BufferTooSmall> {
        if self.len <= self.out.len() {
            Ok(self.len)
        } else {
            Err(BufferTooSmall { needed: self.len })
        }
    }
}

impl Sink for SliceSink<'_> {
    type Error = Infallible;

    fn put(&mut self, bytes: &[u8]) -> Result<(), Infallible> {
        if let Some(dst) = self.out.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.len += bytes.len();
        Ok(())
    }
}

/// A growing vector as a sink (feature `std`): for hosts that keep what an emitter writes.
#[cfg(feature = "std")]
impl Sink for std::vec::Vec<u8> {
    type Error = Infallible;

    fn put(&mut self, bytes: &[u8]) -> Result<(), Infallible> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// Emits a decimal number without allocating.
///
/// It divides by nothing: each digit is found by subtracting its power of ten at most nine
/// times. On 32-bit microcontrollers a `u64` division would link ~0.9 KiB of compiler
/// builtins for the one `Content-Length` in a request.
pub fn put_decimal<S: Sink>(sink: &mut S, value: u64) -> Result<(), S::Error> {
    let (digits, len) = decimal(value);
    sink.put(&digits[..len])
}

/// The decimal digits of `value` and how many there are; not generic, so one copy of the code
/// serves every sink.
fn decimal(mut value: u64) -> ([u8; 20], usize) {
    const POWERS: [u64; 20] = {
        let mut table = [1u64; 20];
        let mut i = 19;
        while i > 0 {
            i -= 1;
            table[i] = table[i + 1] * 10;
        }
        table
    };
    let mut digits = [0u8; 20];
    let mut len = 0;
    for (i, &power) in POWERS.iter().enumerate() {
        let mut digit = b'0';
        while value >= power {
            value -= power;
            digit += 1;
        }
        if len > 0 || digit != b'0' || i == POWERS.len() - 1 {
            digits[len] = digit;
            len += 1;
        }
    }
    (digits, len)
}

/// Test support: the text that `emit` writes, through a [`SliceSink`] over 4 KiB.
#[cfg(test)]
pub(crate) fn emitted(
    emit: impl FnOnce(&mut SliceSink<'_>) -> Result<(), Infallible>,
) -> std::string::String {
    let mut buf = [0u8; 4096];
    let mut sink = SliceSink::new(&mut buf);
    let Ok(()) = emit(&mut sink);
    let n = sink.finish().expect("the output fits 4 KiB");
    std::string::String::from_utf8(buf[..n].to_vec()).expect("UTF-8 output")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emit_sample<S: Sink>(s: &mut S) -> Result<(), S::Error> {
        s.put(b"hello, ")?;
        put_decimal(s, 1_234_567)?;
        s.put(b"")?;
        s.put(b" world")
    }

    const SAMPLE: &[u8] = b"hello, 1234567 world";

    #[test]
    fn counter_counts_what_the_emitter_writes() {
        assert_eq!(count(emit_sample), SAMPLE.len() as u64);
    }

    #[test]
    fn windows_of_every_size_reassemble_the_output() {
        for size in 1..=SAMPLE.len() + 2 {
            let mut out = std::vec::Vec::new();
            let mut offset = 0u64;
            loop {
                let mut buf = std::vec![0u8; size];
                let mut w = Window::new(offset, &mut buf);
                emit_sample(&mut w).unwrap();
                let n = w.filled();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
                offset += n as u64;
            }
            assert_eq!(out, SAMPLE, "window size {size}");
        }
    }

    #[test]
    fn slice_sink_reports_the_size_it_needs() {
        let mut small = [0u8; 5];
        let mut s = SliceSink::new(&mut small);
        emit_sample(&mut s).unwrap();
        assert_eq!(
            s.finish(),
            Err(BufferTooSmall {
                needed: SAMPLE.len()
            })
        );

        let mut big = [0u8; 64];
        let mut s = SliceSink::new(&mut big);
        emit_sample(&mut s).unwrap();
        assert_eq!(s.finish(), Ok(SAMPLE.len()));
        assert_eq!(&big[..SAMPLE.len()], SAMPLE);
    }

    #[test]
    fn decimals() {
        for (v, s) in [
            (0u64, "0"),
            (7, "7"),
            (10, "10"),
            (u64::MAX, "18446744073709551615"),
        ] {
            let mut buf = [0u8; 20];
            let mut sink = SliceSink::new(&mut buf);
            put_decimal(&mut sink, v).unwrap();
            let n = sink.finish().unwrap();
            assert_eq!(&buf[..n], s.as_bytes());
        }
    }
}
