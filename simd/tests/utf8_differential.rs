//! `tpns_simd::is_utf8` against `core::str::from_utf8`, hard: every short sequence at every
//! 64/256-byte boundary behind ASCII (the 256-byte group skip) and behind non-ASCII text (no
//! skip), every tail length 0..=300, a lead byte as the very last byte, stray continuation
//! bytes right after an all-ASCII group, and a few hundred thousand random mutated texts.
//! On a CPU with AVX-512 BW + VBMI this runs the crate's own validator.

use tpns_simd::is_utf8;

/// The full sweep in release builds (`cargo test --release -p tpns-simd`, about 30 s); a
/// sample of it in debug builds, where each call is some 50 times slower.
const FULL: bool = !cfg!(debug_assertions);

fn agree(bytes: &[u8]) {
    let expect = core::str::from_utf8(bytes).is_ok();
    if is_utf8(bytes) != expect {
        panic!(
            "is_utf8 says {}, from_utf8 says {expect}: len {}, {:02x?}",
            !expect,
            bytes.len(),
            bytes
        );
    }
}

/// `p` bytes of filler: ASCII (skippable 256-byte groups), or two-byte characters (never
/// skipped), with one ASCII byte to make an odd length.
fn prefix(p: usize, ascii: bool) -> Vec<u8> {
    if ascii {
        vec![b'a'; p]
    } else {
        let mut v = "é".repeat(p / 2).into_bytes();
        if p % 2 == 1 {
            v.push(b'a');
        }
        v
    }
}

const EDGES: &[u8] = &[
    0x00, 0x41, 0x7F, 0x80, 0x81, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
    0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFF,
];

const POSITIONS: &[usize] = &[
    0, 1, 2, 3, 60, 61, 62, 63, 64, 65, 125, 126, 127, 128, 189, 190, 191, 192, 252, 253, 254, 255,
    256, 257, 258, 259, 317, 318, 319, 320, 509, 510, 511, 512, 513,
];

#[test]
fn every_two_byte_sequence_at_every_boundary() {
    let all: Vec<u8> = (0..=255).collect();
    let bytes = if FULL { &all[..] } else { EDGES };
    let positions: &[usize] = if FULL {
        &[0, 62, 63, 254, 255, 256, 319]
    } else {
        &[63, 255, 256]
    };
    for &a in bytes {
        for &b in bytes {
            for &at in positions {
                for ascii in [true, false] {
                    let mut v = prefix(at, ascii);
                    v.extend_from_slice(&[a, b]);
                    agree(&v);
                    v.push(b'z');
                    agree(&v);
                }
            }
        }
    }
}

#[test]
fn edge_sequences_up_to_four_bytes_at_every_boundary() {
    let mut seqs: Vec<Vec<u8>> = vec![vec![]];
    for len in 0..4 {
        let longer: Vec<Vec<u8>> = seqs
            .iter()
            // In debug builds, four-byte sequences only after four-byte lead bytes and their
            // neighbours (the others are decided by their first three bytes).
            .filter(|s| s.len() == len && (FULL || len < 3 || s[0] >= 0xEF))
            .flat_map(|s| {
                EDGES.iter().map(move |&b| {
                    let mut t = s.clone();
                    t.push(b);
                    t
                })
            })
            .collect();
        seqs.extend(longer);
    }
    for seq in &seqs {
        for &at in POSITIONS {
            let edge = (61..=64).contains(&(at % 64));
            let sample = [62, 63, 64, 255, 256].contains(&at);
            if seq.len() == 4 && at % 3 != 0 && !edge || !FULL && seq.len() >= 3 && !sample {
                continue;
            }
            for ascii in [true, false] {
                let mut v = prefix(at, ascii);
                v.extend_from_slice(seq);
                for tail in [0usize, 1, 3, 64]
                    .into_iter()
                    .take(if FULL { 4 } else { 2 })
                {
                    let mut w = v.clone();
                    w.resize(w.len() + tail, b'z');
                    agree(&w);
                }
            }
        }
    }
}

#[test]
fn every_tail_length_and_a_lead_byte_last() {
    for n in 0..=300usize {
        for ascii in [true, false] {
            let mut v = prefix(n, ascii);
            agree(&v);
            for lead in [
                0x80u8, 0xBF, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF,
            ] {
                v.push(lead);
                agree(&v);
                v.pop();
            }
            // A complete 4-byte character ending exactly at the end, and cut by one.
            v.extend_from_slice("😀".as_bytes());
            agree(&v);
            v.pop();
            agree(&v);
        }
    }
}

#[test]
fn stray_continuations_after_an_ascii_group() {
    for groups in 1..=3usize {
        for c in 0x80..=0xBFu8 {
            for after in [0usize, 1, 63, 64, 65] {
                let mut v = vec![b'a'; 256 * groups];
                v.extend(std::iter::repeat_n(b'b', after));
                v.push(c);
                agree(&v);
                v.extend_from_slice(&[b'x'; 300]);
                agree(&v);
            }
        }
        // A cut sequence right before an all-ASCII group.
        for seq in [
            &[0xC3u8][..],
            &[0xE6, 0x97],
            &[0xF0, 0x9F, 0x98],
            &[0xE6],
            &[0xF0],
        ] {
            for pad in [0usize, 1, 2] {
                let mut v = "é".repeat(128).into_bytes();
                v.truncate(256 - seq.len() - pad);
                v.extend(std::iter::repeat_n(b'a', pad));
                v.extend_from_slice(seq);
                v.extend_from_slice(&[b'a'; 256 * 2]);
                agree(&v);
            }
        }
    }
}

/// xorshift64*, for reproducible random inputs without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_mutated_text() {
    let chars: Vec<char> = [
        'a',
        'z',
        '\n',
        '\u{7F}',
        '\u{80}',
        '\u{7FF}',
        '\u{800}',
        '\u{FFF}',
        '\u{1000}',
        '\u{D7FF}',
        '\u{E000}',
        '\u{FEFF}',
        '\u{FFFF}',
        '\u{10000}',
        '\u{3FFFF}',
        '\u{40000}',
        '\u{FFFFF}',
        '\u{100000}',
        '\u{10FFFF}',
        'é',
        '王',
        '😀',
    ]
    .into();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..if FULL { 150_000 } else { 3_000 } {
        let len = rng.below(700);
        let ascii_run = rng.below(4) == 0;
        let mut s = String::new();
        while s.len() < len {
            if ascii_run && rng.below(10) != 0 {
                s.push('a');
            } else {
                s.push(chars[rng.below(chars.len())]);
            }
        }
        let mut v = s.into_bytes();
        agree(&v);
        if v.is_empty() {
            continue;
        }
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(v.len());
            v[i] = match rng.below(3) {
                0 => EDGES[rng.below(EDGES.len())],
                1 => 0x80 | rng.below(64) as u8,
                _ => rng.next() as u8,
            };
        }
        agree(&v);
        let cut = rng.below(v.len() + 1);
        agree(&v[..cut]);
    }
}
