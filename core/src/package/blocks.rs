//! Bit masks of 64-byte blocks for the row validator's fast path: one bit per byte, bit `i`
//! for byte `i`.
//!
//! With the `simd` feature on x86-64 the line ends come from `tpns-simd`'s kernel, which runs
//! AVX-512BW, AVX2 or SSE2, whichever the CPU has (asked at run time; the core itself forbids
//! the `unsafe` that takes). On other targets with the `simd` feature they come from vector
//! compares and a move-mask through the `wide` crate (NEON on aarch64), and without it (a
//! device) from the eight-bytes-at-a-time SWAR helpers of [`utf8`](super::utf8). All give the
//! same masks.

/// The most blocks [`line_ends`] is asked for at once: 4 KiB with the `simd` feature (the
/// kernel's run-time choice is made once per call), one block on a device (no stack for a
/// batch, and nothing to amortise).
#[cfg(feature = "simd")]
pub(super) const BATCH: usize = 64;
#[cfg(not(feature = "simd"))]
pub(super) const BATCH: usize = 1;

/// The line ends of one 64-byte block.
#[cfg(feature = "simd")]
pub(super) use tpns_simd::LineEnds;

/// The line ends of one 64-byte block.
#[cfg(not(feature = "simd"))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct LineEnds {
    /// Its line feeds (0x0A).
    pub lf: u64,
    /// Its carriage returns (0x0D).
    pub cr: u64,
    /// How many line feeds it holds.
    pub lines: u32,
}

/// Fills `out` with the line ends of `blocks`, in order, and returns how many it filled: as
/// many as both hold, unless (if `CSV`) a block holds a `"` or a `,`; then it stops before
/// that block.
#[cfg(all(feature = "simd", target_arch = "x86_64"))]
#[inline(always)]
pub(super) fn line_ends<const CSV: bool>(blocks: &[[u8; 64]], out: &mut [LineEnds]) -> usize {
    tpns_simd::line_ends::<CSV>(blocks, out)
}

/// Fills `out` with the line ends of `blocks`, in order, and returns how many it filled: as
/// many as both hold, unless (if `CSV`) a block holds a `"` or a `,`; then it stops before
/// that block.
#[cfg(not(all(feature = "simd", target_arch = "x86_64")))]
#[inline(always)]
pub(super) fn line_ends<const CSV: bool>(blocks: &[[u8; 64]], out: &mut [LineEnds]) -> usize {
    let n = blocks.len().min(out.len());
    for (k, (block, out)) in blocks.iter().zip(out).enumerate() {
        let m = masks::<CSV>(block);
        if m.quote_or_comma {
            return k;
        }
        *out = LineEnds {
            lf: m.lf,
            cr: m.cr,
            lines: m.lf.count_ones(),
        };
    }
    n
}

/// What one 64-byte block holds that the fast path cares about.
#[cfg(any(test, not(all(feature = "simd", target_arch = "x86_64"))))]
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
#[cfg(any(test, not(all(feature = "simd", target_arch = "x86_64"))))]
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
    #[cfg(any(test, not(target_arch = "x86_64")))]
    use super::Masks;
    use crate::package::utf8;
    use wide::u8x64;

    #[cfg(any(test, not(target_arch = "x86_64")))]
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

        /// The batch stops before the first block with a quote or a comma (CSV), and gives
        /// each block before it the masks of that block.
        #[test]
        fn line_ends_are_the_masks_of_each_block(
            bytes in proptest::collection::vec(byte(), 0..300),
            room in 0usize..6,
        ) {
            let (blocks, _) = bytes.as_chunks::<64>();
            let room = room.min(BATCH);
            for csv in [false, true] {
                let mut out = [LineEnds::default(); BATCH];
                let n = if csv {
                    line_ends::<true>(blocks, &mut out[..room])
                } else {
                    line_ends::<false>(blocks, &mut out[..room])
                };
                let stop = blocks
                    .iter()
                    .take(room)
                    .position(|b| csv && bytewise(b, true).quote_or_comma)
                    .unwrap_or(blocks.len().min(room));
                prop_assert_eq!(n, stop);
                for (block, got) in blocks.iter().zip(&out[..n]) {
                    let m = bytewise(block, false);
                    prop_assert_eq!((got.lf, got.cr, got.lines), (m.lf, m.cr, m.lf.count_ones()));
                }
            }
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
