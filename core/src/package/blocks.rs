//! Bit masks of 64-byte blocks for the row validator's fast path: one bit per byte, bit `i`
//! for byte `i`.
//!
//! With the `simd` feature they come from vector compares and a move-mask (SSE2 on x86-64,
//! NEON on aarch64, through the `wide` crate: the core forbids `unsafe`), about half an
//! instruction per byte. Without it (a device), from the eight-bytes-at-a-time SWAR helpers of
//! [`utf8`](super::utf8), which give the same masks.

/// What one 64-byte block holds that the fast path cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Masks {
    /// Its line feeds (0x0A).
    pub lf: u64,
    /// Its carriage returns (0x0D).
    pub cr: u64,
    /// Whether it holds a `"` or a `,` (only looked for when asked: CSV).
    pub quote_or_comma: bool,
}

/// The masks of `block`; `quote_or_comma` is `false` unless `CSV`.
#[inline(always)]
pub(super) fn masks<const CSV: bool>(block: &[u8; 64]) -> Masks {
    imp::masks::<CSV>(block)
}

/// The characters in `bytes[range]`, which is valid UTF-8: the bytes that are not
/// continuation bytes (`0b10xxxxxx`).
#[inline]
pub(super) fn chars(bytes: &[u8], range: core::ops::Range<usize>) -> usize {
    imp::chars(bytes, range)
}

#[cfg(feature = "simd")]
mod imp {
    use super::Masks;
    use crate::package::utf8;
    use wide::u8x64;

    #[inline(always)]
    pub(super) fn masks<const CSV: bool>(block: &[u8; 64]) -> Masks {
        let v = u8x64::new(*block);
        let lf = v.simd_eq(u8x64::splat(b'\n')).to_bitmask();
        let cr = v.simd_eq(u8x64::splat(b'\r'));
        if CSV {
            let quote_or_comma = v.simd_eq(u8x64::splat(b'"')) | v.simd_eq(u8x64::splat(b','));
            // Most blocks hold none of the three: one test, no more masks.
            if !(cr | quote_or_comma).any() {
                return Masks {
                    lf,
                    cr: 0,
                    quote_or_comma: false,
                };
            }
            Masks {
                lf,
                cr: cr.to_bitmask(),
                quote_or_comma: quote_or_comma.any(),
            }
        } else {
            Masks {
                lf,
                cr: if cr.any() { cr.to_bitmask() } else { 0 },
                quote_or_comma: false,
            }
        }
    }

    /// The continuation bytes of `block`.
    #[inline(always)]
    fn continuation(block: &[u8; 64]) -> u64 {
        let v = u8x64::new(*block);
        (v & u8x64::splat(0xC0))
            .simd_eq(u8x64::splat(0x80))
            .to_bitmask()
    }

    /// A range's last bytes short of a whole block are read as the 64-byte block that ends
    /// with the range, its bits before the range dropped: one mask and one popcount for a
    /// row, however it lies across blocks, when 64 bytes precede its end.
    #[inline]
    pub(super) fn chars(bytes: &[u8], range: core::ops::Range<usize>) -> usize {
        let (start, end) = (range.start, range.end);
        let (blocks, rest) = bytes[range].as_chunks::<64>();
        let mut continuation = 0;
        for block in blocks {
            continuation += self::continuation(block).count_ones() as usize;
        }
        if let Some(back) = end.checked_sub(64)
            && !rest.is_empty()
        {
            let block: &[u8; 64] = bytes[back..end].first_chunk().unwrap_or(&[0; 64]);
            continuation += (self::continuation(block) >> (64 - rest.len())).count_ones() as usize;
        } else {
            continuation += utf8::continuation_bytes(rest);
        }
        end - start - continuation
    }
}

#[cfg(not(feature = "simd"))]
mod imp {
    use super::Masks;
    use crate::package::utf8;

    #[inline(always)]
    pub(super) fn masks<const CSV: bool>(block: &[u8; 64]) -> Masks {
        let (lf, cr, quote_or_comma) = utf8::masks::<CSV>(block);
        Masks {
            lf,
            cr,
            quote_or_comma,
        }
    }

    /// A word at a time: the smallest code for a device's flash.
    #[inline]
    pub(super) fn chars(bytes: &[u8], range: core::ops::Range<usize>) -> usize {
        range.len() - utf8::continuation_bytes(&bytes[range])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The masks, built one byte at a time.
    fn bytewise(block: &[u8; 64], csv: bool) -> Masks {
        let bits = |f: &dyn Fn(u8) -> bool| {
            block
                .iter()
                .enumerate()
                .fold(0u64, |m, (i, &b)| m | u64::from(f(b)) << i)
        };
        Masks {
            lf: bits(&|b| b == b'\n'),
            cr: bits(&|b| b == b'\r'),
            quote_or_comma: csv && block.iter().any(|&b| b == b'"' || b == b','),
        }
    }

    /// Bytes near the ones the masks look for (each value xor'ed with 1, a borrow away).
    fn byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            Just(b'\n'),
            Just(0x0B),
            Just(b'\r'),
            Just(0x0C),
            Just(b'"'),
            Just(b','),
            Just(b'-'),
            0x80u8..=0xBF,
            0xC0u8..=0xFF,
            any::<u8>(),
        ]
    }

    proptest! {
        #[test]
        fn masks_are_those_of_each_byte(bytes in proptest::collection::vec(byte(), 64)) {
            let block: &[u8; 64] = bytes.first_chunk().unwrap();
            prop_assert_eq!(masks::<false>(block), bytewise(block, false));
            prop_assert_eq!(masks::<true>(block), bytewise(block, true));
        }

        /// Any range on character boundaries: short or long, near the start (no whole block
        /// before its end) or not.
        #[test]
        fn chars_counts_what_str_counts(
            text in ".{0,300}",
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
        ) {
            let bounds: std::vec::Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            let (a, b) = (a.get(&bounds), b.get(&bounds));
            let range = *a.min(b)..*a.max(b);
            prop_assert_eq!(chars(text.as_bytes(), range.clone()), text[range].chars().count());
            prop_assert_eq!(chars(text.as_bytes(), 0..text.len()), text.chars().count());
        }
    }
}
