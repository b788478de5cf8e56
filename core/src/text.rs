//! Bounded text: what the answers keep of the service's strings, with no heap.

use core::fmt;

/// Text of bounded capacity, truncated on a character boundary when it does not fit.
///
/// Not `heapless::String<N>`, the usual bounded string of embedded Rust, for three reasons
/// that the public API relies on:
/// - it remembers that characters were dropped ([`is_truncated`](Self::is_truncated)): a
///   `push_id` cut short is refused rather than returned wrong, and a cut message ends in `…`
///   when shown; with `heapless::String` every holder would carry a second field;
/// - it is `Copy`, as are the answers and errors that hold it ([`UploadResponse`],
///   [`PushResponse`]); `heapless::String` is not;
/// - its one push routine serves every capacity (one copy of the code in the firmware), where
///   `heapless::String<N>::push` is generic over `N`.
///
/// [`as_str`](Self::as_str) hands the text to anything that takes a `&str`, and
/// `heapless::String::try_from(text.as_str())` makes one when a caller needs that type.
///
/// [`UploadResponse`]: crate::upload::UploadResponse
/// [`PushResponse`]: crate::push::PushResponse
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> Default for Text<N> {
    fn default() -> Self {
        Text {
            buf: [0; N],
            len: 0,
            truncated: false,
        }
    }
}

impl<const N: usize> Text<N> {
    /// Appends a character, or marks the text truncated if it does not fit.
    pub fn push(&mut self, c: char) {
        push_char(&mut self.buf, &mut self.len, &mut self.truncated, c);
    }

    /// Appends a string, as far as it fits.
    pub fn push_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.push(c));
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only whole UTF-8 encoded chars are ever copied in.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether characters were dropped because the capacity was reached.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The same text in a `Text` of another capacity (truncated if it does not fit).
    pub fn resized<const M: usize>(&self) -> Text<M> {
        // The bytes are UTF-8 by construction (only whole characters are pushed), so a byte
        // copy cut back to a character boundary is what pushing them one by one would give,
        // without a UTF-8 decoder in device firmware.
        let mut n = self.len.min(M);
        while n > 0 && n < self.len && self.buf[n] & 0xC0 == 0x80 {
            n -= 1;
        }
        let mut out = Text::default();
        out.buf[..n].copy_from_slice(&self.buf[..n]);
        out.len = n;
        out.truncated = self.truncated || n < self.len;
        out
    }

    /// Empties the text.
    pub fn clear(&mut self) {
        self.len = 0;
        self.truncated = false;
    }
}

/// [`Text::push`] for any capacity: one copy of the code for every `Text<N>`.
fn push_char(buf: &mut [u8], len: &mut usize, truncated: &mut bool, c: char) {
    let mut utf8 = [0u8; 4];
    let bytes = c.encode_utf8(&mut utf8).as_bytes();
    match buf.get_mut(*len..*len + bytes.len()) {
        Some(dst) if !*truncated => {
            dst.copy_from_slice(bytes);
            *len += bytes.len();
        }
        _ => *truncated = true,
    }
}

impl<const N: usize> fmt::Debug for Text<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(feature = "defmt")]
impl<const N: usize> defmt::Format for Text<N> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str());
    }
}

impl<const N: usize> fmt::Display for Text<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Text;

    /// `resized` gives what pushing the characters one by one into the new capacity gives:
    /// whole characters only, and the truncation mark when any was dropped.
    #[test]
    fn resizing_cuts_at_a_character_boundary() {
        let texts = ["", "abc", "aé", "é", "日本語", "a😀b", "ééé"];
        for text in texts {
            let mut from = Text::<16>::default();
            from.push_str(text);
            let mut truncated_from = from;
            truncated_from.truncated = true;
            for source in [from, truncated_from] {
                let by_chars = |cap: usize| {
                    let mut out = Text::<16>::default();
                    let mut len = 0;
                    for c in source.as_str().chars() {
                        if len + c.len_utf8() > cap {
                            out.truncated = true;
                            break;
                        }
                        len += c.len_utf8();
                        out.push(c);
                    }
                    out.truncated |= source.truncated;
                    (std::string::String::from(out.as_str()), out.truncated)
                };
                let r2: Text<2> = source.resized();
                let r3: Text<3> = source.resized();
                let r16: Text<16> = source.resized();
                for (cap, got) in [
                    (2, (r2.as_str(), r2.is_truncated())),
                    (3, (r3.as_str(), r3.is_truncated())),
                    (16, (r16.as_str(), r16.is_truncated())),
                ] {
                    let (want, cut) = by_chars(cap);
                    assert_eq!(got, (want.as_str(), cut), "{text:?} into {cap}");
                }
            }
        }
    }
}
