//! UTF-8 validation with AVX-512 (BW and VBMI), and `simdutf8` (AVX2, SSE4.2, NEON, or
//! scalar) where the CPU has no AVX-512.
//!
//! The AVX-512 path is the lookup algorithm of Keiser and Lemire ("Validating UTF-8 in less
//! than one instruction per byte", 2021), 64 bytes at a time: each byte is judged with the
//! one, two and three bytes before it. Three table lookups on nibbles (the high nibble of
//! the byte before, its low nibble, the high nibble of this byte) give the errors a pair of
//! bytes can show: a continuation byte missing or one too many, an overlong form, a
//! surrogate, a code point above U+10FFFF. Their bitwise AND keeps the errors all three
//! agree on. A continuation byte two or three places after a lead byte of a three- or
//! four-byte sequence is expected, and cancels the "two continuations" bit there.
//!
//! The blocks are checked without branching on what they hold (one branch a block would be
//! mispredicted on text that mixes scripts), except that 256 bytes of ASCII only are skipped
//! at once, as long as the block before did not end in the middle of a sequence.

/// Whether `bytes` is valid UTF-8, as `core::str::from_utf8(bytes).is_ok()`.
///
/// ```
/// assert!(tpns_simd::is_utf8("ana.μαρία\n王华\n".as_bytes()));
/// assert!(!tpns_simd::is_utf8(b"ana.\xCE"));
/// assert!(!tpns_simd::is_utf8(b"\xED\xA0\x80")); // a surrogate
/// ```
#[inline]
pub fn is_utf8(bytes: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        return avx512::is_utf8(bytes);
    }
    simdutf8::basic::from_utf8(bytes).is_ok()
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use core::arch::x86_64::*;

    /// Whether the CPU has what [`is_utf8`] needs (the standard library caches the answer).
    #[inline]
    pub(crate) fn available() -> bool {
        // AVX2 too: `avx512f` implies it for the compiler, not in the CPU's report.
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vbmi")
    }

    /// `is_utf8` on the AVX-512 path; panics if the CPU lacks it.
    pub(crate) fn is_utf8(bytes: &[u8]) -> bool {
        assert!(available(), "the CPU has no AVX-512 BW and VBMI");
        // SAFETY: the CPU has AVX-512F, AVX-512BW and AVX-512VBMI (asserted above).
        #[allow(unsafe_code)]
        unsafe {
            validate(bytes)
        }
    }

    // The error bits of the lookup tables.
    const TOO_SHORT: u8 = 1 << 0;
    const TOO_LONG: u8 = 1 << 1;
    const OVERLONG_3: u8 = 1 << 2;
    const TOO_LARGE: u8 = 1 << 3;
    const SURROGATE: u8 = 1 << 4;
    const OVERLONG_2: u8 = 1 << 5;
    const TOO_LARGE_1000: u8 = 1 << 6;
    const OVERLONG_4: u8 = 1 << 6;
    const TWO_CONTS: u8 = 1 << 7;
    const CARRY: u8 = TOO_SHORT | TOO_LONG | TWO_CONTS;

    /// By the high nibble of the byte before.
    const BYTE_1_HIGH: [u8; 16] = [
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TOO_LONG,
        TWO_CONTS,
        TWO_CONTS,
        TWO_CONTS,
        TWO_CONTS,
        TOO_SHORT | OVERLONG_2,
        TOO_SHORT,
        TOO_SHORT | OVERLONG_3 | SURROGATE,
        TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
    ];

    /// By the low nibble of the byte before.
    const BYTE_1_LOW: [u8; 16] = [
        CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
        CARRY | OVERLONG_2,
        CARRY,
        CARRY,
        CARRY | TOO_LARGE,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000,
    ];

    /// By the high nibble of the byte itself.
    const BYTE_2_HIGH: [u8; 16] = [
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
        TOO_SHORT,
    ];

    /// The 64 bytes of `bytes` as a vector.
    #[target_feature(enable = "avx512f")]
    fn load(bytes: &[u8; 64]) -> __m512i {
        // SAFETY: `bytes` is 64 readable bytes, the size of the unaligned load.
        #[allow(unsafe_code)]
        unsafe {
            _mm512_loadu_si512(bytes.as_ptr().cast())
        }
    }

    /// A 16-byte table in each of the four 128-bit lanes (byte shuffles look up within a lane).
    #[target_feature(enable = "avx512f")]
    fn table(t: [u8; 16]) -> __m512i {
        let mut all = [0; 64];
        for lane in all.chunks_exact_mut(16) {
            lane.copy_from_slice(&t);
        }
        load(&all)
    }

    /// The indices that shift a block `k` bytes later, the last `k` bytes of the block before
    /// first (`vpermt2b` over the 128 bytes `before ++ block`).
    #[target_feature(enable = "avx512f")]
    fn shift_by(k: u8) -> __m512i {
        load(&core::array::from_fn(|i| 64 - k + i as u8))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn validate(bytes: &[u8]) -> bool {
        let (t1h, t1l, t2h) = (table(BYTE_1_HIGH), table(BYTE_1_LOW), table(BYTE_2_HIGH));
        let (by1, by2, by3) = (shift_by(1), shift_by(2), shift_by(3));
        let low_nibble = _mm512_set1_epi8(0x0F);
        let (third, fourth) = (
            _mm512_set1_epi8(0xE0_u8 as i8),
            _mm512_set1_epi8(0xF0_u8 as i8),
        );
        let high = _mm512_set1_epi8(0x80_u8 as i8);
        // A block ends inside a sequence if its last byte is a lead byte, its second last one
        // of a three- or four-byte sequence, or its third last one of a four-byte sequence:
        // the bytes a saturating subtraction of these leaves non-zero.
        let mut ends = [0xFF; 64];
        ends[61..].copy_from_slice(&[0xF0 - 1, 0xE0 - 1, 0xC0 - 1]);
        let ends = load(&ends);
        // The blocks are checked without a branch on their contents; the errors of all of
        // them gather in `error`, and the last block's cut sequence is one at the end.

        // The errors of `block` with the block `before` it.
        let errors = |before: __m512i, block: __m512i| {
            let prev1 = _mm512_permutex2var_epi8(before, by1, block);
            let prev2 = _mm512_permutex2var_epi8(before, by2, block);
            let prev3 = _mm512_permutex2var_epi8(before, by3, block);
            let high_nibble = |v: __m512i| _mm512_and_si512(_mm512_srli_epi16(v, 4), low_nibble);
            let special = _mm512_and_si512(
                _mm512_and_si512(
                    _mm512_shuffle_epi8(t1h, high_nibble(prev1)),
                    _mm512_shuffle_epi8(t1l, _mm512_and_si512(prev1, low_nibble)),
                ),
                _mm512_shuffle_epi8(t2h, high_nibble(block)),
            );
            let must_continue =
                _mm512_cmpge_epu8_mask(prev2, third) | _mm512_cmpge_epu8_mask(prev3, fourth);
            let expected = _mm512_maskz_mov_epi8(must_continue, high);
            _mm512_xor_si512(expected, special)
        };
        let mut before = _mm512_setzero_si512();
        let mut error = _mm512_setzero_si512();
        let mut check = |block: __m512i| {
            error = _mm512_or_si512(error, errors(before, block));
            before = block;
        };
        let (groups, blocks) = bytes.as_chunks::<256>();
        for group in groups {
            let (quarters, _) = group.as_chunks::<64>();
            let v: [__m512i; 4] = core::array::from_fn(|i| load(&quarters[i]));
            let any = _mm512_or_si512(_mm512_or_si512(v[0], v[1]), _mm512_or_si512(v[2], v[3]));
            // ASCII only (a branch taken the same way for long stretches of real text, where
            // one per block would be mispredicted): it must not follow a cut sequence, which
            // a block of NULs checks; and for the block after it, NULs are as good as any
            // ASCII (every table treats the nibbles 0 to 7 alike).
            if _mm512_movepi8_mask(any) == 0 {
                check(_mm512_setzero_si512());
            } else {
                v.into_iter().for_each(&mut check);
            }
        }
        let (blocks, rest) = blocks.as_chunks::<64>();
        for block in blocks {
            check(load(block));
        }
        if !rest.is_empty() {
            // The last bytes, padded with ASCII NULs.
            let mut last = [0; 64];
            last[..rest.len()].copy_from_slice(rest);
            check(load(&last));
        }
        let error = _mm512_or_si512(error, _mm512_subs_epu8(before, ends));
        _mm512_test_epi8_mask(error, error) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Both paths this CPU has, against the standard library.
    fn agree(bytes: &[u8]) -> Result<(), TestCaseError> {
        let expect = core::str::from_utf8(bytes).is_ok();
        prop_assert_eq!(is_utf8(bytes), expect, "{:02x?}", bytes);
        prop_assert_eq!(simdutf8::basic::from_utf8(bytes).is_ok(), expect);
        #[cfg(target_arch = "x86_64")]
        if avx512::available() {
            prop_assert_eq!(avx512::is_utf8(bytes), expect, "{:02x?}", bytes);
        }
        Ok(())
    }

    /// Bytes at the edges of the UTF-8 ranges.
    fn edge() -> impl Strategy<Value = u8> {
        prop_oneof![
            0x00u8..=0x7F,
            prop::sample::select(vec![
                0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC,
                0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF,
            ]),
            0x80u8..=0xBF,
        ]
    }

    proptest! {
        // Many cases natively; under Miri (which runs the SSE2 and simdutf8 paths) a few.
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 2000 }))]

        #[test]
        fn edge_bytes(bytes in proptest::collection::vec(edge(), 0..300)) {
            agree(&bytes)?;
        }

        /// Valid text with one byte changed, at any place relative to the 64-byte blocks.
        #[test]
        fn valid_text_with_one_byte_changed(
            text in "[a-z\u{80}-\u{7FF}\u{800}-\u{FFFF}\u{10000}-\u{10FFFF}]{0,150}",
            at in any::<prop::sample::Index>(),
            to in edge(),
        ) {
            agree(text.as_bytes())?;
            let mut bytes = text.into_bytes();
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = to;
                agree(&bytes)?;
                // And cut short there.
                agree(&bytes[..i])?;
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx512_path_is_refused_without_avx512() {
        if !avx512::available() {
            assert!(std::panic::catch_unwind(|| avx512::is_utf8(b"a")).is_err());
        }
    }
}
