//! Reproducible pseudo-random numbers for the mutation tests: xorshift64, which needs no crate
//! and gives the same sequence on every machine, so a failing mutation can be replayed.

/// The xorshift64 sequence from `seed` (which must not be 0).
pub fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
