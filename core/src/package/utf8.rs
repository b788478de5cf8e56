//! The word-at-a-time helpers of the row validator's fast path: where valid UTF-8 ends, and
//! exact byte masks and counts over 8-byte words (SWAR), the portable path of a device (and
//! of the last bytes of a chunk on every target).
//!
//! With the `simd` feature, UTF-8 validation goes through `tpns_simd::is_utf8` (AVX-512 where
//! the CPU has it, else `simdutf8`: AVX2/SSE4.2 picked at run time on x86, NEON on aarch64),
//! and `simdutf8` finds where an invalid text goes wrong; without it, through
//! `core::str::from_utf8`, which reads ASCII a word at a time and needs no `std`.

/// `0x01` in every byte.
pub(super) const ONES: u64 = 0x0101_0101_0101_0101;
/// The low seven bits of every byte.
pub(super) const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
/// The high bit of every byte.
pub(super) const HIGH: u64 = 0x8080_8080_8080_8080;

/// The length of the longest prefix of `bytes` that is valid UTF-8 (it ends on a character
/// boundary; a sequence cut by the end of `bytes` is left out).
#[inline]
pub(super) fn valid_prefix(bytes: &[u8]) -> usize {
    // The yes-or-no check is the faster one; only a text that fails it is read again to find
    // where. A character cut by the end of `bytes` (as a chunk's last one often is) is left
    // out first, so that it does not cost that second reading.
    #[cfg(feature = "simd")]
    {
        let whole = whole_chars(bytes);
        if tpns_simd::is_utf8(&bytes[..whole]) {
            return whole;
        }
    }
    #[cfg(feature = "simd")]
    let checked = simdutf8::compat::from_utf8(bytes);
    #[cfg(not(feature = "simd"))]
    let checked = core::str::from_utf8(bytes);
    match checked {
        Ok(_) => bytes.len(),
        Err(e) => e.valid_up_to(),
    }
}

/// `bytes.len()`, or where the last character starts if the end of `bytes` cuts it short (a
/// lead byte followed by fewer continuation bytes than it announces). If `bytes[..n]` is valid
/// UTF-8, it is the longest valid prefix: no character starting at `n` can be complete.
#[cfg(feature = "simd")]
fn whole_chars(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=n.min(4) {
        let b = bytes[n - back];
        if b & 0xC0 != 0x80 {
            let len = match b {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF7 => 4,
                _ => 1,
            };
            return if back < len { n - back } else { n };
        }
    }
    n
}

/// The high bit of each byte of `x` that equals `b`, exact for any byte values (no carry
/// crosses a byte: each byte of `(t & LOW7) + LOW7` is at most 0xFE).
#[inline(always)]
pub(super) const fn eq(x: u64, b: u8) -> u64 {
    let t = x ^ (b as u64 * ONES);
    !(((t & LOW7) + LOW7) | t) & HIGH
}

/// Bit masks of `block` (8 or 64 bytes), one bit per byte, bit `i` for byte `i`: its LFs and
/// its CRs; and (if `CSV`) whether it holds a `"` or a `,`. (The `simd` feature builds those
/// of 64-byte blocks with vector compares instead: [`blocks`](super::blocks).)
///
/// Most blocks hold no CR (LF line ends) and, in CSV, no quote or comma: for those only a
/// cheap test runs (is there such a byte at all?), and the exact CR mask is built only for a
/// block that has one.
#[inline(always)]
pub(super) fn masks<const CSV: bool>(block: &[u8]) -> (u64, u64, bool) {
    let (mut lf, mut cr_seen, mut special) = (0, 0, 0);
    let (words, _) = block.as_chunks::<8>();
    for &w in words {
        let x = u64::from_le_bytes(w);
        // A serial chain (shift in from the top) rather than `<< 8 * k`: it keeps LLVM from
        // vectorising the loop into SSE2 without a 64-bit multiply, which is slower.
        lf = (lf >> 8) | (pack(eq(x, b'\n')) << 56);
        cr_seen |= has(x, b'\r');
        if CSV {
            special |= has(x, b'"') | has(x, b',');
        }
    }
    let unused = 64 - 8 * words.len() as u32;
    let mut cr = 0;
    if cr_seen != 0 {
        for &w in words {
            cr = (cr >> 8) | (pack(eq(u64::from_le_bytes(w), b'\r')) << 56);
        }
    }
    (lf >> unused, cr >> unused, special != 0)
}

/// Non-zero if some byte of `x` equals `b`. Which bytes: exact but for a byte just above a
/// matching one whose value is `b ^ 1`, which is flagged too (the borrow of `t - 1`).
#[inline(always)]
const fn has(x: u64, b: u8) -> u64 {
    let t = x ^ (b as u64 * ONES);
    t.wrapping_sub(ONES) & !t & HIGH
}

/// The high bits of the bytes of `m` (a mask from [`eq`]) as the low 8 bits: byte `i` to
/// bit `i`. The multiplication moves each bit to its place in the top byte, with no carries
/// (each partial product lands on a distinct bit).
#[inline(always)]
const fn pack(m: u64) -> u64 {
    (m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// The high bit of each continuation byte (`0b10xxxxxx`) of `x`: bit 7 set and bit 6 clear
/// (the shift moves bit 6 of each byte onto its bit 7).
#[inline(always)]
const fn continuation(x: u64) -> u64 {
    x & !(x << 1) & HIGH
}

/// The continuation bytes in `bytes` (any length; the fast path hands it less than 64).
#[inline]
pub(super) fn continuation_bytes(bytes: &[u8]) -> usize {
    let (words, rest) = bytes.as_chunks::<8>();
    let mut n = 0;
    for &w in words {
        // One bit per byte, summed into the top byte by the multiply (at most 8: no overflow).
        n += ((continuation(u64::from_le_bytes(w)) >> 7).wrapping_mul(ONES) >> 56) as usize;
    }
    n + rest.iter().filter(|&&b| b & 0xC0 == 0x80).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn masks_and_counts_are_exact(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            for w in bytes.chunks_exact(8) {
                let x = u64::from_le_bytes(w.try_into().unwrap());
                for b in [b'\n', b'\r', b'"', b',', 0x80, 0xFF, 0] {
                    let expect = w.iter().enumerate()
                        .fold(0u64, |m, (i, &c)| if c == b { m | 0x80 << (8 * i) } else { m });
                    prop_assert_eq!(eq(x, b), expect);
                }
            }
            if bytes.len() >= 8 {
                let block = &bytes[..if bytes.len() >= 64 { 64 } else { 8 }];
                let (lf, cr, special) = masks::<true>(block);
                for (i, &c) in block.iter().enumerate() {
                    prop_assert_eq!(lf >> i & 1 == 1, c == b'\n');
                    prop_assert_eq!(cr >> i & 1 == 1, c == b'\r');
                }
                prop_assert_eq!(special, block.iter().any(|&c| c == b'"' || c == b','));
                let len = block.len() as u32;
                let beyond = |m: u64| m.checked_shr(len).unwrap_or(0);
                prop_assert_eq!(beyond(lf) | beyond(cr), 0);
            }
            prop_assert_eq!(
                continuation_bytes(&bytes),
                bytes.iter().filter(|&&b| (0x80..=0xBF).contains(&b)).count()
            );
            let valid = valid_prefix(&bytes);
            prop_assert_eq!(valid, match core::str::from_utf8(&bytes) {
                Ok(_) => bytes.len(),
                Err(e) => e.valid_up_to(),
            });
        }
    }
}
