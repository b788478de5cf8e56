//! The row check's vector kernel: where the line ends of 64-byte blocks are, as bit masks,
//! with the widest vector instructions the CPU has.
//!
//! `tpns-core` forbids `unsafe` code, and a build for baseline x86-64 has only SSE2. Using
//! AVX2 or AVX-512 on a CPU that has them takes two things safe code cannot do: calling a
//! `#[target_feature]` function after the CPU was asked (the caller vouches for the CPU),
//! and loading a vector from a slice (a raw pointer read). This crate holds exactly those,
//! each with its safety argument, behind one safe function: [`line_ends`].
//!
//! | target | instructions | per 64-byte block |
//! |---|---|---|
//! | x86-64 with AVX-512BW | one 512-bit load, compares into mask registers | one load, two or four compares |
//! | x86-64 with AVX2 | two 256-bit halves, `vpmovmskb` | two loads, four to eight compares |
//! | x86-64 (SSE2, every x86-64 CPU) | four 128-bit quarters, `pmovmskb` | four loads, eight to sixteen compares |
//! | any other target | a byte at a time (`tpns-core` uses its own NEON masks on aarch64) | |
//!
//! The choice is made on each call (a cached lookup: `std::is_x86_feature_detected!`), so a
//! caller hands over as many blocks at once as it can use.
//!
//! The results are the same on every path; the tests check each path the CPU running them
//! has against a byte-at-a-time reference.

mod utf8;

pub use utf8::is_utf8;

/// The line ends of one 64-byte block: bit `i` stands for byte `i`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineEnds {
    /// The line feeds (0x0A).
    pub lf: u64,
    /// The carriage returns (0x0D).
    pub cr: u64,
    /// How many line feeds: `lf.count_ones()`, counted with the CPU's `popcnt` on the AVX2
    /// and AVX-512 paths (baseline x86-64 lacks it, and its emulation costs a dozen
    /// instructions a block).
    pub lines: u32,
}

/// Fills `out` with the [`LineEnds`] of `blocks`, in order, and returns how many it filled:
/// as many as both hold, unless a block holds a `"` or a `,` and `CSV` is set. Then it stops
/// before that block, which the caller must read some other way (a CSV row with a quote or a
/// comma needs the state machine).
///
/// ```
/// let mut text = [b'a'; 128];
/// text[10] = b'\n';
/// text[70] = b'\r';
/// text[71] = b'\n';
/// let (blocks, _) = text.as_chunks::<64>();
/// let mut out = [tpns_simd::LineEnds::default(); 2];
/// assert_eq!(tpns_simd::line_ends::<false>(blocks, &mut out), 2);
/// assert_eq!(out[0].lf, 1 << 10);
/// assert_eq!((out[1].cr, out[1].lf), (1 << 6, 1 << 7));
///
/// text[100] = b',';
/// let (blocks, _) = text.as_chunks::<64>();
/// assert_eq!(tpns_simd::line_ends::<true>(blocks, &mut out), 1);
/// ```
#[inline]
pub fn line_ends<const CSV: bool>(blocks: &[[u8; 64]], out: &mut [LineEnds]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        x86::line_ends::<CSV>(blocks, out)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        portable::line_ends::<CSV>(blocks, out)
    }
}

/// Which path [`line_ends`] takes on this CPU: `"avx512bw"`, `"avx2"`, `"sse2"` or
/// `"portable"` (for benchmarks and reports).
pub fn path() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        x86::Level::detect().name()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "portable"
    }
}

/// A byte at a time: the reference of the tests, and the path of targets other than x86-64.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
mod portable {
    use super::LineEnds;

    pub(crate) fn line_ends<const CSV: bool>(blocks: &[[u8; 64]], out: &mut [LineEnds]) -> usize {
        let n = blocks.len().min(out.len());
        for (k, (block, out)) in blocks.iter().zip(out).enumerate() {
            let mut m = LineEnds::default();
            for (i, &b) in block.iter().enumerate() {
                if CSV && (b == b'"' || b == b',') {
                    return k;
                }
                m.lf |= u64::from(b == b'\n') << i;
                m.cr |= u64::from(b == b'\r') << i;
            }
            m.lines = m.lf.count_ones();
            *out = m;
        }
        n
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::LineEnds;
    use core::arch::x86_64::*;

    /// The widest instructions this CPU has that the kernel uses.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Level {
        Sse2,
        Avx2,
        Avx512,
    }

    impl Level {
        /// Asks the CPU (the answer is cached by the standard library).
        #[inline]
        pub(crate) fn detect() -> Level {
            let popcnt = std::is_x86_feature_detected!("popcnt");
            // AVX2 for AVX-512 too: the compiler takes `avx512f` to imply `avx2` (and may
            // emit AVX2 in `avx512`), `at_level` lets a CPU at this level run `avx2`, and the
            // standard library does not check that a CPU reporting AVX-512F reports AVX2.
            let avx2 = std::is_x86_feature_detected!("avx2");
            if popcnt
                && avx2
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512f")
            {
                Level::Avx512
            } else if popcnt && avx2 {
                Level::Avx2
            } else {
                Level::Sse2
            }
        }

        pub(crate) fn name(self) -> &'static str {
            match self {
                Level::Sse2 => "sse2",
                Level::Avx2 => "avx2",
                Level::Avx512 => "avx512bw",
            }
        }
    }

    #[inline]
    pub(crate) fn line_ends<const CSV: bool>(blocks: &[[u8; 64]], out: &mut [LineEnds]) -> usize {
        at_level::<CSV>(Level::detect(), blocks, out)
    }

    /// [`line_ends`] on the path of `level`, which must not be above what the CPU has
    /// ([`Level::detect`]; a panic otherwise): the tests run each level up to it.
    #[inline]
    pub(crate) fn at_level<const CSV: bool>(
        level: Level,
        blocks: &[[u8; 64]],
        out: &mut [LineEnds],
    ) -> usize {
        assert!(
            level as u8 <= Level::detect() as u8,
            "{level:?} is not on this CPU"
        );
        // The kernels take as many blocks as they have room for.
        let n = blocks.len().min(out.len());
        let (blocks, out) = (&blocks[..n], &mut out[..n]);
        match level {
            // SAFETY: the CPU has AVX-512F, AVX-512BW and POPCNT: `level` is not above what
            // `Level::detect` found (asserted above).
            #[allow(unsafe_code)]
            Level::Avx512 => unsafe { avx512::<CSV>(blocks, out) },
            // SAFETY: the CPU has AVX2 and POPCNT, as above.
            #[allow(unsafe_code)]
            Level::Avx2 => unsafe { avx2::<CSV>(blocks, out) },
            // SAFETY: every x86-64 CPU has SSE2 (the build for the target assumes it too).
            #[allow(unsafe_code)]
            Level::Sse2 => unsafe { sse2::<CSV>(blocks, out) },
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,popcnt")]
    fn avx512<const CSV: bool>(blocks: &[[u8; 64]], out: &mut [LineEnds]) -> usize {
        let (lf, cr) = (_mm512_set1_epi8(b'\n' as i8), _mm512_set1_epi8(b'\r' as i8));
        let (quote, comma) = (_mm512_set1_epi8(b'"' as i8), _mm512_set1_epi8(b',' as i8));
        for (k, (block, out)) in blocks.iter().zip(out).enumerate() {
            // SAFETY: `block` is 64 readable bytes, the size of the unaligned load.
            #[allow(unsafe_code)]
            let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
            if CSV && (_mm512_cmpeq_epi8_mask(v, quote) | _mm512_cmpeq_epi8_mask(v, comma)) != 0 {
                return k;
            }
            let lf = _mm512_cmpeq_epi8_mask(v, lf);
            *out = LineEnds {
                lf,
                cr: _mm512_cmpeq_epi8_mask(v, cr),
                lines: lf.count_ones(),
            };
        }
        blocks.len()
    }

    #[target_feature(enable = "avx2,popcnt")]
    fn avx2<const CSV: bool>(blocks: &[[u8; 64]], out: &mut [LineEnds]) -> usize {
        let (lf, cr) = (_mm256_set1_epi8(b'\n' as i8), _mm256_set1_epi8(b'\r' as i8));
        let (quote, comma) = (_mm256_set1_epi8(b'"' as i8), _mm256_set1_epi8(b',' as i8));
        // The 32 bits of a move-mask, as the low or high half of a block's mask.
        let bits = |v: __m256i| u64::from(_mm256_movemask_epi8(v).cast_unsigned());
        for (k, (block, out)) in blocks.iter().zip(out).enumerate() {
            let (lo, hi) = block.split_at(32);
            // SAFETY: each half is 32 readable bytes, the size of the unaligned load.
            #[allow(unsafe_code)]
            let (a, b) = unsafe {
                (
                    _mm256_loadu_si256(lo.as_ptr().cast()),
                    _mm256_loadu_si256(hi.as_ptr().cast()),
                )
            };
            if CSV {
                let special = _mm256_or_si256(
                    _mm256_or_si256(_mm256_cmpeq_epi8(a, quote), _mm256_cmpeq_epi8(a, comma)),
                    _mm256_or_si256(_mm256_cmpeq_epi8(b, quote), _mm256_cmpeq_epi8(b, comma)),
                );
                if _mm256_movemask_epi8(special) != 0 {
                    return k;
                }
            }
            let mask =
                |c: __m256i| bits(_mm256_cmpeq_epi8(a, c)) | bits(_mm256_cmpeq_epi8(b, c)) << 32;
            let lf = mask(lf);
            *out = LineEnds {
                lf,
                cr: mask(cr),
                lines: lf.count_ones(),
            };
        }
        blocks.len()
    }

    /// Baseline x86-64: every x86-64 CPU has SSE2.
    #[target_feature(enable = "sse2")]
    fn sse2<const CSV: bool>(blocks: &[[u8; 64]], out: &mut [LineEnds]) -> usize {
        let (lf, cr) = (_mm_set1_epi8(b'\n' as i8), _mm_set1_epi8(b'\r' as i8));
        let (quote, comma) = (_mm_set1_epi8(b'"' as i8), _mm_set1_epi8(b',' as i8));
        for (k, (block, out)) in blocks.iter().zip(out).enumerate() {
            // SAFETY: each quarter `16 * j..` (j < 4) starts 16 or more readable bytes
            // before the block's end, the size of the unaligned load.
            #[allow(unsafe_code)]
            let v: [__m128i; 4] = core::array::from_fn(|j| unsafe {
                _mm_loadu_si128(block[16 * j..].as_ptr().cast())
            });
            let mask = |c: __m128i| {
                v.iter().rev().fold(0u64, |m, &q| {
                    m << 16 | u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(q, c)).cast_unsigned())
                })
            };
            if CSV && (mask(quote) | mask(comma)) != 0 {
                return k;
            }
            let lf = mask(lf);
            *out = LineEnds {
                lf,
                cr: mask(cr),
                lines: lf.count_ones(),
            };
        }
        blocks.len()
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::portable;
        use proptest::prelude::*;

        /// Bytes near the ones the kernel looks for, and any others.
        fn byte() -> impl Strategy<Value = u8> {
            prop_oneof![
                Just(b'\n'),
                Just(b'\r'),
                Just(b'"'),
                Just(b','),
                Just(0x0B),
                Just(0x8A),
                Just(0x8D),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
            ]
        }

        fn levels() -> impl Iterator<Item = Level> {
            let top = Level::detect() as u8;
            [Level::Sse2, Level::Avx2, Level::Avx512]
                .into_iter()
                .filter(move |&l| l as u8 <= top)
        }

        /// A few blocks with every byte the kernel looks for, on each level: what Miri runs
        /// (the property test below takes it too long).
        #[test]
        fn every_level_agrees_on_a_few_blocks() {
            let mut bytes = [b'a'; 64 * 4];
            for (i, &b) in [b'\n', b'\r', b'\n', 0x8A, b'\r', b'"', b',']
                .iter()
                .enumerate()
            {
                bytes[i * 37] = b;
            }
            bytes[63] = b'\r';
            bytes[64] = b'\n';
            let (blocks, _) = bytes.as_chunks::<64>();
            for level in levels() {
                for csv in [false, true] {
                    let mut expect = [LineEnds::default(); 4];
                    let mut got = [LineEnds::default(); 4];
                    let (e, g) = if csv {
                        (
                            portable::line_ends::<true>(blocks, &mut expect),
                            at_level::<true>(level, blocks, &mut got),
                        )
                    } else {
                        (
                            portable::line_ends::<false>(blocks, &mut expect),
                            at_level::<false>(level, blocks, &mut got),
                        )
                    };
                    assert_eq!((g, &got[..g]), (e, &expect[..e]), "{level:?} csv {csv}");
                }
            }
        }

        proptest! {
            #[test]
            #[cfg_attr(miri, ignore)]
            fn every_level_agrees_with_the_bytes(
                bytes in proptest::collection::vec(byte(), 0..700),
                room in 0usize..12,
            ) {
                let (blocks, _) = bytes.as_chunks::<64>();
                for csv in [false, true] {
                    let mut expect = [LineEnds::default(); 12];
                    let n = blocks.len().min(room);
                    let filled = if csv {
                        portable::line_ends::<true>(&blocks[..n], &mut expect[..n])
                    } else {
                        portable::line_ends::<false>(&blocks[..n], &mut expect[..n])
                    };
                    for level in levels() {
                        let mut got = [LineEnds { lf: 7, cr: 7, lines: 7 }; 12];
                        let got_n = if csv {
                            at_level::<true>(level, blocks, &mut got[..room])
                        } else {
                            at_level::<false>(level, blocks, &mut got[..room])
                        };
                        prop_assert_eq!(got_n, filled, "{:?}", level);
                        prop_assert_eq!(&got[..filled], &expect[..filled], "{:?}", level);
                        // Nothing written past what it reports.
                        let untouched = LineEnds { lf: 7, cr: 7, lines: 7 };
                        prop_assert!(got[filled..room].iter().all(|m| *m == untouched));
                    }
                }
            }
        }

        #[test]
        fn a_level_above_the_cpu_is_refused() {
            if Level::detect() != Level::Avx512 {
                let r = std::panic::catch_unwind(|| {
                    at_level::<false>(Level::Avx512, &[[0; 64]], &mut [LineEnds::default()])
                });
                assert!(r.is_err());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each byte value at each position of a block, on the path this CPU takes. (Natively
    /// only: under Miri it would take an hour.)
    #[test]
    #[cfg_attr(miri, ignore)]
    fn every_byte_at_every_position() {
        for b in 0..=255u8 {
            for i in 0..64 {
                let mut blocks = [[b'a'; 64]; 2];
                blocks[1][i] = b;
                let mut out = [LineEnds::default(); 2];
                let csv = line_ends::<true>(&blocks, &mut out);
                assert_eq!(csv, if b == b'"' || b == b',' { 1 } else { 2 });
                assert_eq!(line_ends::<false>(&blocks, &mut out), 2);
                assert_eq!(out[0], LineEnds::default());
                assert_eq!(out[1].lf, u64::from(b == b'\n') << i, "{b:#x} at {i}");
                assert_eq!(out[1].cr, u64::from(b == b'\r') << i, "{b:#x} at {i}");
                assert_eq!(out[1].lines, u32::from(b == b'\n'), "{b:#x} at {i}");
            }
        }
    }

    #[test]
    fn the_shorter_of_blocks_and_out() {
        let blocks = [[b'\n'; 64]; 3];
        let mut out = [LineEnds::default(); 2];
        assert_eq!(line_ends::<false>(&blocks, &mut out), 2);
        assert_eq!(line_ends::<false>(&blocks[..1], &mut out), 1);
        assert_eq!(line_ends::<false>(&[], &mut out), 0);
        assert!(["avx512bw", "avx2", "sse2", "portable"].contains(&path()));
    }
}
