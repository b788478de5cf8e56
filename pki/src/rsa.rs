//! RSA signature verification with no heap: RSASSA-PKCS1-v1_5 and RSASSA-PSS (RFC 8017 §8),
//! for 2048- to 4096-bit keys, on crypto-bigint's fixed-size `U4096` with Montgomery arithmetic.
//!
//! Every key is computed at 4096-bit width: one instantiation (one copy in flash) serves every
//! size, and a 2048-bit check costs a few milliseconds more on a Cortex-M4 than at its own width.
//! The public exponent is applied by square-and-multiply over its bits: no window table, so the
//! stack holds a few 512-byte integers and the Montgomery parameters, nothing more.
//!
//! Only public values are involved, so nothing here needs to be constant-time.

use crypto_bigint::modular::montgomery_reduction;
use crypto_bigint::{Encoding, Limb, U4096, Word};
use sha2::Sha256;
use sha2::digest::{Digest, FixedOutputReset};
#[cfg(feature = "sha512")]
use sha2::{Sha384, Sha512};

use crate::der::{self, Reader, tag};

/// Smallest modulus accepted, in bits: smaller keys are refused outright.
pub const MIN_BITS: usize = 2048;
/// Largest modulus accepted, in bits (the width of the fixed-size integers).
pub const MAX_BITS: usize = 4096;
const MAX_BYTES: usize = MAX_BITS / 8;

/// The hash of an RSA signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    #[cfg(feature = "sha512")]
    Sha384,
    #[cfg(feature = "sha512")]
    Sha512,
}

/// A parsed RSAPublicKey (RFC 8017 §A.1.1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PublicKey<'a> {
    /// The modulus, big-endian, no leading zero byte.
    n: &'a [u8],
    e: u64,
}

/// Why an RSA public key is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// Not a well-formed RSAPublicKey.
    Malformed,
    /// A modulus outside 2048..=4096 bits (the size is given).
    Size(usize),
}

impl<'a> PublicKey<'a> {
    /// Parses the subjectPublicKey of an rsaEncryption key: `SEQUENCE { n INTEGER, e INTEGER }`.
    pub(crate) fn parse(der_key: &'a [u8]) -> Result<Self, KeyError> {
        let mut outer = Reader::new(der_key);
        let body = outer.expect(tag::SEQUENCE).ok_or(KeyError::Malformed)?;
        if !outer.is_empty() {
            return Err(KeyError::Malformed);
        }
        let mut fields = Reader::new(body);
        let n = fields.expect(tag::INTEGER).and_then(der::positive_integer);
        let e = fields.expect(tag::INTEGER).and_then(der::positive_integer);
        let (Some(n), Some(e)) = (n, e) else {
            return Err(KeyError::Malformed);
        };
        if !fields.is_empty() {
            return Err(KeyError::Malformed);
        }
        let bits = bit_len(n);
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(KeyError::Size(bits));
        }
        // An even modulus has no Montgomery form (and is no RSA modulus). The exponent bounds
        // are ring's: odd, at least 3, below 2^33.
        if n[n.len() - 1] & 1 == 0 || e.len() > 5 {
            return Err(KeyError::Malformed);
        }
        let e = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if e < 3 || e & 1 == 0 || e >= 1 << 33 {
            return Err(KeyError::Malformed);
        }
        Ok(PublicKey { n, e })
    }

    /// The modulus size in bits.
    pub(crate) fn bits(&self) -> usize {
        bit_len(self.n)
    }

    /// `signature^e mod n` as `k` big-endian bytes (`k` = the modulus length in bytes), into
    /// `out`; `None` when the signature is not `k` bytes or not below the modulus (RFC 8017
    /// §8.2.2 step 1, §5.2.2 step 1).
    fn public_op<'o>(&self, signature: &[u8], out: &'o mut [u8; MAX_BYTES]) -> Option<&'o [u8]> {
        let k = self.n.len();
        if signature.len() != k {
            return None;
        }
        let n = widen(self.n);
        let s = widen(signature);
        if s >= n {
            return None;
        }
        // Montgomery arithmetic with R = 2^4096 and reductions only: the stack holds the
        // modulus, R^2 mod n, the base, the accumulator and one double-width product.
        let n_inv = neg_inverse(n.as_limbs()[0]);
        let mul = |a: &U4096, b: &U4096| montgomery_reduction(&a.mul_wide(b), &n, n_inv);
        let r2 = r_squared(&n, self.bits(), &mul);
        let base = mul(&s, &r2); // s·R mod n
        let mut acc = base;
        let top = 63 - self.e.leading_zeros();
        for bit in (0..top).rev() {
            acc = montgomery_reduction(&acc.square_wide(), &n, n_inv);
            if self.e >> bit & 1 == 1 {
                acc = mul(&acc, &base);
            }
        }
        // Out of Montgomery form: multiply by 1, i.e. reduce (acc, 0).
        let plain = montgomery_reduction(&(acc, U4096::ZERO), &n, n_inv);
        *out = plain.to_be_bytes();
        Some(&out[MAX_BYTES - k..])
    }

    /// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) of `signature` over `message`.
    pub(crate) fn verify_pkcs1(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        let mut buf = [0u8; MAX_BYTES];
        let Some(em) = self.public_op(signature, &mut buf) else {
            return false;
        };
        let mut digest = [0u8; 64];
        let digest = digest_into(hash, &[message], &mut digest);
        let prefix = digest_info_prefix(hash);
        let t_len = prefix.len() + digest.len();
        // EM = 0x00 || 0x01 || PS (0xff, at least 8) || 0x00 || DigestInfo
        if em.len() < t_len + 11 {
            return false;
        }
        let ps_end = em.len() - t_len - 1;
        em[0] == 0
            && em[1] == 1
            && em[2..ps_end].iter().all(|&b| b == 0xff)
            && em[ps_end] == 0
            && &em[ps_end + 1..ps_end + 1 + prefix.len()] == prefix
            && &em[ps_end + 1 + prefix.len()..] == digest
    }

    /// RSASSA-PSS verification (RFC 8017 §8.1.2, EMSA-PSS-VERIFY §9.1.2) with MGF1 over the
    /// same hash and a salt as long as the hash, as TLS 1.3 (RFC 8446 §4.2.3) and the X.509
    /// RSASSA-PSS identifiers accepted here require.
    pub(crate) fn verify_pss(&self, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        let mut buf = [0u8; MAX_BYTES];
        let Some(m) = self.public_op(signature, &mut buf) else {
            return false;
        };
        let em_bits = self.bits() - 1;
        let em_len = em_bits.div_ceil(8);
        // EM is the low em_len bytes of the k-byte integer; any byte above must be zero.
        let (high, em) = m.split_at(m.len() - em_len);
        if high.iter().any(|&b| b != 0) {
            return false;
        }
        let h_len = hash_len(hash);
        let s_len = h_len;
        if em_len < h_len + s_len + 2 || em[em_len - 1] != 0xbc {
            return false;
        }
        let (masked_db, rest) = em.split_at(em_len - h_len - 1);
        let h = &rest[..h_len];
        let unused_bits = 8 * em_len - em_bits;
        let top_mask = 0xffu8 >> unused_bits;
        if masked_db[0] & !top_mask != 0 {
            return false;
        }
        let mut db_buf = [0u8; MAX_BYTES];
        let db = &mut db_buf[..masked_db.len()];
        db.copy_from_slice(masked_db);
        mgf1_xor(hash, h, db);
        db[0] &= top_mask;
        let pad_len = em_len - h_len - s_len - 2;
        if db[..pad_len].iter().any(|&b| b != 0) || db[pad_len] != 1 {
            return false;
        }
        let salt = &db[pad_len + 1..];
        let mut m_hash = [0u8; 64];
        let m_hash = digest_into(hash, &[message], &mut m_hash);
        let mut h2 = [0u8; 64];
        let h2 = digest_into(hash, &[&[0u8; 8], m_hash, salt], &mut h2);
        h2 == h
    }
}

/// R² mod n for R = 2^4096, the constant that takes a number into Montgomery form, where `n`
/// has `bits` significant bits and `mul` is Montgomery multiplication modulo `n`.
///
/// R mod n comes from doubling 2^(bits-1) (below n) up to 2^4096, a modular addition each
/// step; one more doubling gives 2·R, the Montgomery form of 2; twelve Montgomery squarings
/// then give the form of 2^(2^12) = R, which is R·R mod n. This costs a few thousand additions
/// and twelve products, where a division of the 8192-bit R² by n (what crypto-bigint's
/// `DynResidueParams` does) costs ten times as much for a 2048-bit key.
fn r_squared(n: &U4096, bits: usize, mul: &impl Fn(&U4096, &U4096) -> U4096) -> U4096 {
    let mut x = U4096::ONE.shl_vartime(bits - 1);
    for _ in 0..(U4096::BITS - (bits - 1)) + 1 {
        x = x.add_mod(&x, n);
    }
    for _ in 0..12 {
        x = mul(&x, &x);
    }
    x
}

/// `-n0^-1 mod 2^w` for the odd low limb `n0` of a modulus (w = the limb width): the constant of
/// Montgomery reduction. Newton's iteration doubles the correct low bits each step: 1 (mod 2)
/// at the start, 64 after six steps.
fn neg_inverse(n0: Limb) -> Limb {
    let n0: Word = n0.0;
    let mut inv: Word = 1;
    for _ in 0..6 {
        inv = inv.wrapping_mul((2 as Word).wrapping_sub(n0.wrapping_mul(inv)));
    }
    Limb(inv.wrapping_neg())
}

/// The number of significant bits of a big-endian magnitude with no leading zero byte.
fn bit_len(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
    }
}

/// A big-endian magnitude of at most 512 bytes as a `U4096`.
fn widen(bytes: &[u8]) -> U4096 {
    let mut buf = [0u8; MAX_BYTES];
    buf[MAX_BYTES - bytes.len()..].copy_from_slice(bytes);
    U4096::from_be_slice(&buf)
}

fn hash_len(hash: Hash) -> usize {
    match hash {
        Hash::Sha256 => 32,
        #[cfg(feature = "sha512")]
        Hash::Sha384 => 48,
        #[cfg(feature = "sha512")]
        Hash::Sha512 => 64,
    }
}

/// The DER of DigestInfo up to the digest itself (RFC 8017 §9.2, note 1).
fn digest_info_prefix(hash: Hash) -> &'static [u8] {
    match hash {
        Hash::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        #[cfg(feature = "sha512")]
        Hash::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        #[cfg(feature = "sha512")]
        Hash::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// The hash of the concatenated `parts`, written into `out`; the digest's slice of it.
pub(crate) fn digest_into<'o>(hash: Hash, parts: &[&[u8]], out: &'o mut [u8; 64]) -> &'o [u8] {
    fn run<D: Digest>(parts: &[&[u8]], out: &mut [u8]) {
        let mut d = D::new();
        for p in parts {
            d.update(p);
        }
        out.copy_from_slice(&d.finalize());
    }
    let len = hash_len(hash);
    match hash {
        Hash::Sha256 => run::<Sha256>(parts, &mut out[..len]),
        #[cfg(feature = "sha512")]
        Hash::Sha384 => run::<Sha384>(parts, &mut out[..len]),
        #[cfg(feature = "sha512")]
        Hash::Sha512 => run::<Sha512>(parts, &mut out[..len]),
    }
    &out[..len]
}

/// XORs MGF1(`seed`) (RFC 8017 §B.2.1) into `db`.
fn mgf1_xor(hash: Hash, seed: &[u8], db: &mut [u8]) {
    fn run<D: Digest + FixedOutputReset>(seed: &[u8], db: &mut [u8]) {
        let mut d = D::new();
        for (counter, chunk) in db.chunks_mut(<D as Digest>::output_size()).enumerate() {
            Digest::update(&mut d, seed);
            Digest::update(&mut d, (counter as u32).to_be_bytes());
            let block = d.finalize_reset();
            for (b, m) in chunk.iter_mut().zip(block.iter()) {
                *b ^= m;
            }
        }
    }
    match hash {
        Hash::Sha256 => run::<Sha256>(seed, db),
        #[cfg(feature = "sha512")]
        Hash::Sha384 => run::<Sha384>(seed, db),
        #[cfg(feature = "sha512")]
        Hash::Sha512 => run::<Sha512>(seed, db),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_outside_the_size_range_or_malformed_are_refused() {
        // SEQUENCE { INTEGER (1024-bit odd), INTEGER 65537 }
        let mut key = [0u8; 7 + 128 + 5];
        let mut at = 0;
        for b in [0x30, 0x81, 0x89 + 2, 0x02, 0x81, 0x81, 0x00] {
            key[at] = b;
            at += 1;
        }
        key[at] = 0xc1;
        key[at + 127] = 0x01;
        at += 128;
        key[at..at + 5].copy_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
        // Length bytes: fix the outer SEQUENCE to the real content length.
        let content = key.len() - 3;
        key[2] = content as u8;
        assert_eq!(PublicKey::parse(&key).unwrap_err(), KeyError::Size(1024));
        for n in 0..key.len() {
            assert!(PublicKey::parse(&key[..n]).is_err());
        }
    }
}
